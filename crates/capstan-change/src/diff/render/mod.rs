//! Turning a [`DiffReport`] into text for people and machines: human (coloured on a terminal),
//! markdown for a pull-request comment, JSON, a unified diff, and one self-contained html page.
//! Every renderer returns a `String`; the command decides where it goes.

mod html;
mod human;
mod markdown;
mod unified;

use capstan_core::Value;
use capstan_core::yaml::to_yaml;

use super::structural::{FieldChange, FieldChangeKind};
use super::{DiffReport, GroupDiff, ObjectChange, ObjectDiff};

pub use html::html;
pub use human::human;
pub use markdown::markdown;
pub use unified::unified;

/// Output formats of `capstan diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Markdown,
    Json,
    Unified,
    Html,
}

/// Presentation switches.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// ANSI colours (human output only).
    pub color: bool,
    /// The most characters markdown output may take (a pull-request comment holds 65,536).
    pub markdown_limit: usize,
    /// What was compared, e.g. `base 1a2b3c4 (merge-base of HEAD and origin/main) → working tree`.
    pub title: String,
    /// Lines of context around each change in unified diffs (`diff -U N`).
    pub context: usize,
    /// The most bytes one object's unified diff may take; 0 is no limit. A longer diff is cut
    /// at a line boundary and says how much was left out.
    pub limit_bytes: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            markdown_limit: 60_000,
            title: String::new(),
            context: 3,
            limit_bytes: 0,
        }
    }
}

/// Renders a report in the given format.
pub fn render(report: &DiffReport, format: Format, options: &RenderOptions) -> String {
    match format {
        Format::Human => human(report, options),
        Format::Markdown => markdown(report, options),
        Format::Json => json(report),
        Format::Unified => unified::unified_with(report, options),
        Format::Html => html(report, options),
    }
}

/// The report as pretty JSON (stable field names; masked values only).
pub fn json(report: &DiffReport) -> String {
    let mut text =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// `1 added, 2 removed, 3 changed`.
pub(crate) fn counts_text(objects: &[&ObjectDiff]) -> String {
    let count = |f: &dyn Fn(ObjectChange) -> bool| objects.iter().filter(|o| f(o.change)).count();
    let added = count(&|c| c == ObjectChange::Added);
    let removed = count(&|c| matches!(c, ObjectChange::Deleted | ObjectChange::Orphaned));
    let changed = count(&|c| c == ObjectChange::Changed);
    format!("{added} added, {removed} removed, {changed} changed")
}

/// The summary line of a whole report.
pub(crate) fn summary(report: &DiffReport) -> String {
    let not_compared = report.not_compared.len() + report.unseen_files.len();
    let hidden = match report.hidden {
        0 => String::new(),
        n => format!("; {n} changed object(s) of skipped kinds not shown"),
    };
    if report.is_empty() && not_compared > 0 {
        return format!(
            "no differences among what was compared; {not_compared} not compared{hidden}"
        );
    }
    if report.is_empty() && report.hidden > 0 {
        return format!("no differences shown{hidden}");
    }
    if report.is_empty() {
        return "no differences".to_owned();
    }
    let objects: Vec<&ObjectDiff> = report.groups.iter().flat_map(|g| &g.objects).collect();
    let failures = report.side_failures.len()
        + report
            .groups
            .iter()
            .map(|g| g.failures.len())
            .sum::<usize>();
    let mut text = format!(
        "{} in {} Kustomization{}/HelmRelease{}",
        counts_text(&objects),
        report.groups.len(),
        if report.groups.len() == 1 { "" } else { "s" },
        if report.groups.len() == 1 { "" } else { "s" },
    );
    if not_compared > 0 {
        text.push_str(&format!(", {not_compared} not compared"));
    }
    if failures > 0 {
        text.push_str(&format!(", {failures} failed to render"));
    }
    text.push_str(&hidden);
    text
}

/// How a group is introduced: `Kustomization flux-system/apps (new)`.
pub(crate) fn group_title(group: &GroupDiff) -> String {
    let state = match (group.in_base, group.in_head) {
        (false, true) => " (new)",
        (true, false) => " (removed)",
        _ => "",
    };
    format!(
        "{:?} {}/{}{state}",
        group.producer.kind, group.producer.namespace, group.producer.name
    )
}

/// What happens to an object, in words.
pub(crate) fn change_word(object: &ObjectDiff) -> String {
    let base = match object.change {
        ObjectChange::Added => "added".to_owned(),
        ObjectChange::Deleted => "deleted from the cluster by prune".to_owned(),
        ObjectChange::Orphaned => "removed from Git, left in the cluster (not pruned)".to_owned(),
        ObjectChange::Changed => "changed".to_owned(),
    };
    match &object.moved_from {
        Some(from) => format!("{base}, moved from {from}"),
        None => base,
    }
}

/// One object's unified diff body (no file header) with the options' context, cut to
/// `limit_bytes`.
pub(crate) fn object_diff_text(before: &str, after: &str, options: &RenderOptions) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let text = diff
        .unified_diff()
        .context_radius(options.context)
        .to_string();
    limit(text, options.limit_bytes)
}

/// Cuts `text` to at most `limit` bytes at a line boundary (0: no limit), saying what was cut.
pub(crate) fn limit(text: String, limit: usize) -> String {
    if limit == 0 || text.len() <= limit {
        return text;
    }
    let mut boundary = limit;
    while !text.is_char_boundary(boundary) {
        boundary -= 1;
    }
    let mut cut = text[..boundary].rfind('\n').map_or(0, |i| i + 1);
    if cut == 0 {
        cut = boundary;
    }
    let mut out = text[..cut].to_owned();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "# … {} more bytes not shown (--limit-bytes {limit})\n",
        text.len() - cut
    ));
    out
}

/// The two sides of an object as YAML ("" for a missing side).
pub(crate) fn yaml_sides(object: &ObjectDiff) -> (String, String) {
    let text = |v: &Option<Value>| v.as_ref().map(to_yaml).unwrap_or_default();
    (text(&object.before), text(&object.after))
}

/// A value on one line: strings as they are (quoted when empty or padded), others as JSON.
pub(crate) fn inline_value(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() || s.trim() != s => format!("{s:?}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One field change on one line: `~ spec.replicas: 1 → 2`.
pub(crate) fn field_line(field: &FieldChange) -> String {
    match &field.kind {
        FieldChangeKind::Added { value } => format!("+ {}: {}", field.path, inline_value(value)),
        FieldChangeKind::Removed { value } => format!("- {}: {}", field.path, inline_value(value)),
        FieldChangeKind::Modified { before, after } => {
            format!(
                "~ {}: {} → {}",
                field.path,
                inline_value(before),
                inline_value(after)
            )
        }
        FieldChangeKind::OrderChanged { before, after } => {
            format!(
                "↕ {}: order changed ({} → {})",
                field.path,
                before.join(", "),
                after.join(", ")
            )
        }
        FieldChangeKind::EncryptedChanged => format!("~ {}: encrypted value changed", field.path),
    }
}
