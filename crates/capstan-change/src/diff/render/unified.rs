//! A unified diff of every differing object's YAML (masked), one file header per object named
//! by its producer and identity, for `patch`-style tools and for reading in a pager.

use std::fmt::Write as _;

use super::{RenderOptions, limit, yaml_sides};
use crate::diff::DiffReport;

/// The report as a unified diff, three lines of context, nothing cut.
pub fn unified(report: &DiffReport) -> String {
    unified_with(report, &RenderOptions::default())
}

/// The report as a unified diff with the options' context lines and per-object byte limit.
pub fn unified_with(report: &DiffReport, options: &RenderOptions) -> String {
    let mut out = String::new();
    for failure in &report.side_failures {
        let _ = writeln!(
            out,
            "# the {} side could not be rendered: {}",
            failure.side, failure.error
        );
    }
    for failure in &report.unchanged_failures {
        let _ = writeln!(
            out,
            "# warning: {} fails to render on both sides, unchanged: {}",
            failure.producer, failure.error
        );
    }
    for unit in &report.not_compared {
        let _ = writeln!(out, "# {} not compared: {}", unit.producer, unit.reason);
    }
    for file in &report.unseen_files {
        let _ = writeln!(
            out,
            "# {file} not compared: outside the compared folder, and nothing compared reads it"
        );
    }
    for group in &report.groups {
        let producer = format!(
            "{}/{}/{}",
            group.producer.kind.short(),
            group.producer.namespace,
            group.producer.name
        );
        for failure in &group.failures {
            let _ = writeln!(
                out,
                "# {producer} fails to render on the {} side: {}",
                failure.side, failure.error
            );
        }
        for object in &group.objects {
            let (before, after) = yaml_sides(object);
            let name = format!("{producer}/{}", object.id);
            let old = if object.before.is_some() {
                format!("a/{name}")
            } else {
                "/dev/null".to_owned()
            };
            let new = if object.after.is_some() {
                format!("b/{name}")
            } else {
                "/dev/null".to_owned()
            };
            let diff = similar::TextDiff::from_lines(&before, &after);
            let text = diff
                .unified_diff()
                .context_radius(options.context)
                .header(&old, &new)
                .to_string();
            out.push_str(&limit(text, options.limit_bytes));
        }
    }
    out
}
