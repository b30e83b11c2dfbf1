//! The plan for people (human, markdown) and machines (json).

use std::fmt::Write as _;

use super::{Plan, PlanItem};
use crate::analysis::Finding;

/// Output formats of `capstan plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Markdown,
    Json,
}

/// Renders a plan.
pub fn render(plan: &Plan, format: Format, title: &str) -> String {
    match format {
        Format::Human => human(plan, title),
        Format::Markdown => markdown(plan, title),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(plan)
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            text.push('\n');
            text
        }
    }
}

/// The verdict, and when units the change touches could not be compared, that the risk is
/// at least the one shown (or unknown when nothing else was compared): never a plain "Low" or
/// "no changes" over what was not seen.
fn verdict_line(plan: &Plan) -> String {
    let unknown = plan.unknown.len();
    match (&plan.verdict, unknown) {
        (Some(v), 0) => format!("{} · risk {} · {}", v.phase, v.risk, v.approval),
        (Some(v), n) => format!(
            "{} · risk {} or higher ({n} unit(s) or file(s) not compared: risk unknown) · {}",
            v.phase, v.risk, v.approval
        ),
        (None, 0) => "no changes".to_owned(),
        (None, n) => {
            format!("risk unknown: {n} unit(s) or file(s) not compared, nothing else changed")
        }
    }
}

fn item_head(item: &PlanItem) -> String {
    format!(
        "{} · {} · {} · {}",
        item.subject, item.phase, item.risk, item.approval
    )
}

/// `object field` and where it comes from.
fn finding_head(finding: &Finding) -> String {
    let mut head = format!("{} {}", finding.object, finding.field);
    if let Some(at) = finding.location() {
        head.push_str(&format!(" ({at})"));
    }
    head
}

fn human(plan: &Plan, title: &str) -> String {
    let mut out = String::new();
    if !title.is_empty() {
        let _ = writeln!(out, "{title}\n");
    }
    let _ = writeln!(out, "Verdict: {}\n", verdict_line(plan));
    if !plan.findings.is_empty() {
        let _ = writeln!(out, "Findings:");
        for finding in &plan.findings {
            let _ = writeln!(
                out,
                "  {} · {} · {}",
                finding.risk,
                finding.category.title(),
                finding_head(finding)
            );
            let _ = writeln!(out, "      {} [{}]", finding.reason, finding.analysis);
            if let Some(note) = &finding.note {
                let _ = writeln!(out, "      note: {note}");
            }
        }
        out.push('\n');
    }
    for item in plan.items.iter().filter(|i| i.counted) {
        let _ = writeln!(out, "{}", item_head(item));
        let _ = writeln!(out, "    why:      {} [rule {}]", item.reason, item.rule);
        let _ = writeln!(out, "    decision: {}", item.decision);
        for escalation in &item.escalations {
            let _ = writeln!(out, "    raised:   {escalation}");
        }
    }
    for unknown in &plan.unknown {
        let _ = writeln!(
            out,
            "{} · risk unknown: not rendered, so not compared",
            unknown.producer
        );
        let _ = writeln!(out, "    why:      {}", unknown.reason);
    }
    let deferred: Vec<&PlanItem> = plan.items.iter().filter(|i| !i.counted).collect();
    if !deferred.is_empty() {
        let _ = writeln!(out, "\nFiles classified through their objects:");
        for item in deferred {
            let _ = writeln!(out, "    {} — {}", item.subject, item.reason);
        }
    }
    if !plan.procedure.is_empty() {
        let _ = writeln!(out, "\nProcedure:");
        for (i, step) in plan.procedure.iter().enumerate() {
            let _ = writeln!(out, "  {}. {step}", i + 1);
        }
    }
    out
}

fn markdown(plan: &Plan, title: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### capstan plan: {}\n", verdict_line(plan));
    if !title.is_empty() {
        let _ = writeln!(out, "{title}\n");
    }
    for unknown in &plan.unknown {
        let _ = writeln!(
            out,
            "> **{}: risk unknown** (not rendered, so not compared): `{}`\n",
            unknown.producer, unknown.reason
        );
    }
    if !plan.findings.is_empty() {
        out.push_str("**Findings**\n\n| risk | finding | object | field | where | why |\n|---|---|---|---|---|---|\n");
        let cell = |s: &str| s.replace('|', "\\|");
        for finding in &plan.findings {
            let mut why = finding.reason.clone();
            if let Some(note) = &finding.note {
                why.push_str(&format!(" ({note})"));
            }
            let _ = writeln!(
                out,
                "| {} | {} `{}` | `{}` | `{}` | {} | {} |",
                finding.risk,
                finding.category.title(),
                finding.analysis,
                cell(&finding.object),
                cell(&finding.field),
                finding
                    .location()
                    .map(|l| format!("`{}`", cell(&l)))
                    .unwrap_or_else(|| "—".to_owned()),
                cell(&why)
            );
        }
        out.push('\n');
    }
    let counted: Vec<&PlanItem> = plan.items.iter().filter(|i| i.counted).collect();
    if !counted.is_empty() {
        out.push_str("| change | phase | risk | approval | why |\n|---|---|---|---|---|\n");
        for item in &counted {
            let mut why = item.reason.clone();
            for e in &item.escalations {
                why.push_str(&format!("; raised by {e}"));
            }
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                item.subject.to_string().replace('|', "\\|"),
                item.phase,
                item.risk,
                item.approval,
                why.replace('|', "\\|")
            );
        }
        out.push('\n');
    }
    if !plan.procedure.is_empty() {
        out.push_str("**Procedure**\n\n");
        for (i, step) in plan.procedure.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, step.replace('|', "\\|"));
        }
        out.push('\n');
    }
    out.push_str("<details><summary>Decision tree per change</summary>\n\n");
    for item in &counted {
        let _ = writeln!(
            out,
            "- `{}`: {} [rule `{}`]",
            item.subject, item.decision, item.rule
        );
    }
    out.push_str("\n</details>\n");
    out
}
