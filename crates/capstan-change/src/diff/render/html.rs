//! One self-contained html page (no external assets): a tree of the changed resources grouped by
//! Kustomization/HelmRelease on the left, and for the selected object its field changes and a
//! side-by-side view of its YAML before and after (masked). A few lines of inline script select
//! objects and filter the tree; without script every object is shown one after the other.

use std::fmt::Write as _;

use super::{RenderOptions, change_word, field_line, group_title, summary, yaml_sides};
use crate::diff::{DiffReport, ObjectChange, ObjectDiff};

const STYLE: &str = r#"
body{font-family:system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:12px 20px;border-bottom:1px solid #d0d7de}
header h1{font-size:18px;margin:0 0 4px}
#layout{display:flex;align-items:flex-start}
nav{width:340px;min-width:260px;padding:10px;border-right:1px solid #d0d7de;font-size:13px;position:sticky;top:0;max-height:100vh;overflow:auto}
nav input{width:95%;margin-bottom:8px}
nav ul{list-style:none;padding-left:12px;margin:2px 0}
nav li.object{cursor:pointer;padding:1px 4px;border-radius:4px}
nav li.object.selected{background:#ddf4ff}
.producer{font-weight:600}
.added{color:#1a7f37}.deleted,.orphaned{color:#cf222e}.changed{color:#9a6700}
main{flex:1;padding:10px 20px;min-width:0}
section.object h2{font-size:15px;margin:8px 0}
.failure{color:#cf222e;font-weight:600}
table.sbs{border-collapse:collapse;width:100%;font:12px ui-monospace,monospace;table-layout:fixed}
table.sbs td{padding:0 6px;white-space:pre-wrap;word-break:break-all;vertical-align:top}
table.sbs td.ln{width:36px;color:#8c959f;text-align:right;user-select:none}
td.del{background:#ffebe9}td.ins{background:#dafbe1}td.empty{background:#f6f8fa}
ul.fields{font:12px ui-monospace,monospace}
"#;

const SCRIPT: &str = r#"
(function(){
  var items=[].slice.call(document.querySelectorAll('nav li.object'));
  var sections=[].slice.call(document.querySelectorAll('section.object'));
  function select(id){
    sections.forEach(function(s){s.hidden=(s.id!==id);});
    items.forEach(function(i){i.classList.toggle('selected',i.dataset.target===id);});
    document.getElementById('selected').textContent=id?document.querySelector('#'+id+' h2').textContent:'';
  }
  items.forEach(function(i){i.addEventListener('click',function(){select(i.dataset.target);});});
  document.getElementById('filter').addEventListener('input',function(e){
    var q=e.target.value.toLowerCase();
    items.forEach(function(i){i.hidden=q!==''&&i.textContent.toLowerCase().indexOf(q)<0;});
  });
  document.getElementById('status').textContent=sections.length+' objects';
  var start=location.hash?location.hash.slice(1):(items[0]&&items[0].dataset.target);
  if(start){select(start);}
  document.body.dataset.ready='true';
})();
"#;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn class(object: &ObjectDiff) -> &'static str {
    match object.change {
        ObjectChange::Added => "added",
        ObjectChange::Deleted => "deleted",
        ObjectChange::Orphaned => "orphaned",
        ObjectChange::Changed => "changed",
    }
}

/// Rows of the side-by-side view: (old line number, old text, new line number, new text).
fn side_by_side(before: &str, after: &str, out: &mut String) {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let diff = similar::TextDiff::from_lines(before, after);
    let cell = |n: Option<usize>, lines: &[&str], kind: &str| match n {
        Some(i) => format!(
            "<td class=\"ln\">{}</td><td class=\"{kind}\">{}</td>",
            i + 1,
            esc(lines.get(i).copied().unwrap_or(""))
        ),
        None => "<td class=\"ln\"></td><td class=\"empty\"></td>".to_owned(),
    };
    for op in diff.ops() {
        let (o, n) = (op.old_range(), op.new_range());
        let rows = o.len().max(n.len());
        let equal = matches!(op.tag(), similar::DiffTag::Equal);
        for r in 0..rows {
            let oi = (r < o.len()).then(|| o.start + r);
            let ni = (r < n.len()).then(|| n.start + r);
            let (ok, nk) = if equal {
                ("same", "same")
            } else {
                ("del", "ins")
            };
            let _ = writeln!(out, "<tr>{}{}</tr>", cell(oi, &old, ok), cell(ni, &new, nk));
        }
    }
}

/// The report as one html page.
pub fn html(report: &DiffReport, options: &RenderOptions) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>capstan diff</title>\
         <style>{STYLE}</style></head>\n<body>\n<header><h1>capstan diff</h1><div id=\"summary\">{}</div>\
         <div class=\"title\">{}</div><div><span id=\"status\"></span> <span id=\"selected\"></span></div>",
        esc(&summary(report)),
        esc(&options.title)
    );
    for failure in &report.side_failures {
        let _ = write!(
            out,
            "<p class=\"failure\">The {} side could not be rendered: {}</p>",
            failure.side,
            esc(&failure.error)
        );
    }
    for failure in &report.unchanged_failures {
        let _ = write!(
            out,
            "<p class=\"warning\">{} fails to render on both sides, unchanged: {}</p>",
            esc(&failure.producer.to_string()),
            esc(&failure.error)
        );
    }
    out.push_str("</header>\n<div id=\"layout\">\n<nav id=\"tree\"><input id=\"filter\" placeholder=\"filter\"><ul>\n");
    let mut n = 0;
    for group in &report.groups {
        let _ = write!(
            out,
            "<li class=\"group\"><span class=\"producer\">{}</span><ul>",
            esc(&group_title(group))
        );
        for failure in &group.failures {
            let _ = write!(
                out,
                "<li class=\"failure\">fails on the {} side</li>",
                failure.side
            );
        }
        for object in &group.objects {
            let _ = write!(
                out,
                "<li class=\"object {}\" data-target=\"obj-{n}\">{}</li>",
                class(object),
                esc(&object.id.to_string())
            );
            n += 1;
        }
        out.push_str("</ul></li>\n");
    }
    out.push_str("</ul></nav>\n<main>\n");
    let mut n = 0;
    for group in &report.groups {
        for failure in &group.failures {
            let _ = writeln!(
                out,
                "<p class=\"failure\">{} fails to render on the {} side: {}</p>",
                esc(&group_title(group)),
                failure.side,
                esc(&failure.error)
            );
        }
        for object in &group.objects {
            let _ = writeln!(
                out,
                "<section class=\"object\" id=\"obj-{n}\" data-change=\"{}\"><h2 class=\"{}\">{}</h2>\
                 <p><span class=\"producer\">{}</span> · {}</p>",
                class(object),
                class(object),
                esc(&object.id.to_string()),
                esc(&group_title(group)),
                esc(&change_word(object))
            );
            if !object.fields.is_empty() {
                out.push_str("<ul class=\"fields\">");
                for field in &object.fields {
                    let text = field_line(field);
                    let _ = write!(out, "<li>{}</li>", esc(&text));
                }
                out.push_str("</ul>\n");
            }
            let (before, after) = yaml_sides(object);
            out.push_str("<table class=\"sbs\"><thead><tr><th colspan=\"2\">before</th><th colspan=\"2\">after</th></tr></thead><tbody>\n");
            side_by_side(&before, &after, &mut out);
            out.push_str("</tbody></table></section>\n");
            n += 1;
        }
    }
    for unit in &report.not_compared {
        let _ = write!(
            out,
            "<p class=\"failure\">{} not compared: {}</p>",
            esc(&unit.producer.to_string()),
            esc(&unit.reason)
        );
    }
    for file in &report.unseen_files {
        let _ = write!(
            out,
            "<p class=\"failure\">{} not compared: outside the compared folder, and nothing compared reads it</p>",
            esc(file)
        );
    }
    if report.is_empty() && report.not_compared.is_empty() && report.unseen_files.is_empty() {
        match report.hidden {
            0 => out.push_str("<p>No differences.</p>\n"),
            n => {
                let _ = writeln!(
                    out,
                    "<p>No differences shown; {n} changed object(s) of skipped kinds not shown.</p>"
                );
            }
        }
    }
    let _ = write!(
        out,
        "</main></div>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    out
}
