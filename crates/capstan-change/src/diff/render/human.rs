//! Human output: one block per Kustomization/HelmRelease, one line per object, the field changes
//! under each changed object, coloured when writing to a terminal.

use std::fmt::Write as _;

use capstan_core::Value;
use capstan_core::yaml::to_yaml;

use super::{RenderOptions, change_word, group_title, inline_value, summary};
use crate::diff::structural::FieldChangeKind;
use crate::diff::{DiffReport, ObjectChange};

struct Paint {
    on: bool,
}

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// Indents every line of a block.
fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

/// A value shown under a field: inline when short, as YAML when structured or multi-line.
fn block(value: &Value) -> Option<String> {
    match value {
        Value::Object(_) | Value::Array(_) => Some(to_yaml(value)),
        Value::String(s) if s.contains('\n') => Some(s.clone()),
        _ => None,
    }
}

/// The report for a terminal.
pub fn human(report: &DiffReport, options: &RenderOptions) -> String {
    let p = Paint { on: options.color };
    let mut out = String::new();
    if !options.title.is_empty() {
        let _ = writeln!(out, "{}\n", p.dim(&options.title));
    }
    for failure in &report.side_failures {
        let _ = writeln!(
            out,
            "{} the {} side could not be rendered: {}",
            p.red("!"),
            failure.side,
            failure.error
        );
    }
    for failure in &report.unchanged_failures {
        let _ = writeln!(
            out,
            "{} {} fails to render on both sides, unchanged: {}",
            p.yellow("warning:"),
            failure.producer,
            failure.error
        );
    }
    for unit in &report.not_compared {
        let _ = writeln!(
            out,
            "{} {} not compared: {}",
            p.red("!"),
            unit.producer,
            unit.reason
        );
    }
    for file in &report.unseen_files {
        let _ = writeln!(
            out,
            "{} {file} not compared: outside the compared folder, and nothing compared reads it \
             (compare from the repository's root to see its effect)",
            p.red("!"),
        );
    }
    if !report.unchanged_failures.is_empty()
        || !report.not_compared.is_empty()
        || !report.unseen_files.is_empty()
    {
        out.push('\n');
    }
    for group in &report.groups {
        let _ = writeln!(out, "{}", p.bold(&group_title(group)));
        for failure in &group.failures {
            let _ = writeln!(
                out,
                "  {} fails to render on the {} side: {}",
                p.red("!"),
                failure.side,
                failure.error
            );
        }
        for object in &group.objects {
            let (mark, id) = match object.change {
                ObjectChange::Added => (p.green("+"), p.green(&object.id.to_string())),
                ObjectChange::Deleted | ObjectChange::Orphaned => {
                    (p.red("-"), p.red(&object.id.to_string()))
                }
                ObjectChange::Changed => (p.yellow("~"), p.yellow(&object.id.to_string())),
            };
            let word = change_word(object);
            let _ = writeln!(out, "  {mark} {id} {}", p.dim(&format!("({word})")));
            for field in &object.fields {
                let path = &field.path;
                match &field.kind {
                    FieldChangeKind::Added { value } => match block(value) {
                        Some(text) => {
                            let _ = write!(
                                out,
                                "      {} {path}:\n{}",
                                p.green("+"),
                                p.green(&indent(&text, 10))
                            );
                        }
                        None => {
                            let _ = writeln!(
                                out,
                                "      {} {path}: {}",
                                p.green("+"),
                                p.green(&inline_value(value))
                            );
                        }
                    },
                    FieldChangeKind::Removed { value } => match block(value) {
                        Some(text) => {
                            let _ = write!(
                                out,
                                "      {} {path}:\n{}",
                                p.red("-"),
                                p.red(&indent(&text, 10))
                            );
                        }
                        None => {
                            let _ = writeln!(
                                out,
                                "      {} {path}: {}",
                                p.red("-"),
                                p.red(&inline_value(value))
                            );
                        }
                    },
                    FieldChangeKind::Modified { before, after } => {
                        match (block(before), block(after)) {
                            (None, None) => {
                                let _ = writeln!(
                                    out,
                                    "      {} {path}: {} → {}",
                                    p.yellow("~"),
                                    p.red(&inline_value(before)),
                                    p.green(&inline_value(after))
                                );
                            }
                            (b, a) => {
                                let b = b.unwrap_or_else(|| inline_value(before));
                                let a = a.unwrap_or_else(|| inline_value(after));
                                let _ = writeln!(out, "      {} {path}:", p.yellow("~"));
                                let diff = similar::TextDiff::from_lines(&b, &a);
                                for (i, group) in diff.grouped_ops(3).iter().enumerate() {
                                    if i > 0 {
                                        let _ = writeln!(out, "          {}", p.dim("…"));
                                    }
                                    for op in group {
                                        for change in diff.iter_changes(op) {
                                            let line = change.value().trim_end_matches('\n');
                                            let text = match change.tag() {
                                                similar::ChangeTag::Delete => {
                                                    p.red(&format!("- {line}"))
                                                }
                                                similar::ChangeTag::Insert => {
                                                    p.green(&format!("+ {line}"))
                                                }
                                                similar::ChangeTag::Equal => {
                                                    p.dim(&format!("  {line}"))
                                                }
                                            };
                                            let _ = writeln!(out, "          {text}");
                                        }
                                    }
                                }
                            }
                        }
                    }
                    FieldChangeKind::OrderChanged { before, after } => {
                        let _ = writeln!(
                            out,
                            "      {} {path}: order changed ({} → {})",
                            p.yellow("↕"),
                            before.join(", "),
                            after.join(", ")
                        );
                    }
                    FieldChangeKind::EncryptedChanged => {
                        let _ = writeln!(
                            out,
                            "      {} {path}: encrypted value changed",
                            p.yellow("~")
                        );
                    }
                }
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary(report));
    out
}
