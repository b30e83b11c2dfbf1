//! Markdown for a pull-request comment: a summary line, then one collapsible `<details>` block
//! per Kustomization/HelmRelease holding a ```diff of each object's YAML. Past the size limit the
//! remaining groups are left out and a note says how many, so the comment is always accepted.

use std::fmt::Write as _;

use super::{
    RenderOptions, change_word, counts_text, field_line, group_title, object_diff_text, summary,
    yaml_sides,
};
use crate::diff::{DiffReport, ObjectDiff};

/// The report as a pull-request comment.
pub fn markdown(report: &DiffReport, options: &RenderOptions) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "### capstan diff: {}\n", summary(report));
    if !options.title.is_empty() {
        let _ = writeln!(head, "{}\n", options.title);
    }
    for failure in &report.side_failures {
        let _ = writeln!(
            head,
            "> **The {} side could not be rendered:** `{}`\n",
            failure.side, failure.error
        );
    }
    for failure in &report.unchanged_failures {
        let _ = writeln!(
            head,
            "> Warning: {} fails to render on both sides, unchanged: `{}`\n",
            failure.producer, failure.error
        );
    }
    for unit in &report.not_compared {
        let _ = writeln!(
            head,
            "> **{} not compared:** `{}`\n",
            unit.producer, unit.reason
        );
    }
    for file in &report.unseen_files {
        let _ = writeln!(
            head,
            "> **`{file}` not compared:** outside the compared folder, and nothing compared reads it\n"
        );
    }
    let mut body = String::new();
    let mut left_out = 0;
    // room for the truncation note
    let limit = options.markdown_limit.saturating_sub(head.len() + 300);
    for group in &report.groups {
        let objects: Vec<&ObjectDiff> = group.objects.iter().collect();
        let mut section = String::new();
        let _ = writeln!(
            section,
            "<details><summary><b>{}</b>: {}{}</summary>\n",
            escape(&group_title(group)),
            counts_text(&objects),
            if group.failures.is_empty() {
                ""
            } else {
                ", failed to render"
            }
        );
        for failure in &group.failures {
            let _ = writeln!(
                section,
                "> **Fails to render on the {} side:** `{}`\n",
                failure.side, failure.error
            );
        }
        for object in &group.objects {
            let (before, after) = yaml_sides(object);
            let _ = writeln!(section, "`{}` ({})\n", object.id, change_word(object));
            for field in &object.fields {
                let line = field_line(field);
                let line: String = if line.len() > 300 {
                    line.chars().take(300).chain("…".chars()).collect()
                } else {
                    line
                };
                let _ = writeln!(section, "- `{}`", line.replace('`', "'"));
            }
            if !object.fields.is_empty() {
                section.push('\n');
            }
            let text = object_diff_text(&before, &after, options);
            let _ = writeln!(section, "```diff\n{}```\n", text.replace("```", "` ` `"));
        }
        section.push_str("</details>\n\n");
        if body.len() + section.len() > limit {
            left_out += 1;
            continue;
        }
        body.push_str(&section);
    }
    let mut out = head + &body;
    if left_out > 0 {
        let _ = writeln!(
            out,
            "> **Truncated:** {left_out} more Kustomization(s)/HelmRelease(s) left out to stay under {} characters. \
             Run `capstan diff all` locally (or `-o html`) for the whole diff.",
            options.markdown_limit
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
