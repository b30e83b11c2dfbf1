//! `capstan bootstrap plan` output: the steps in run order with their state, as text, a graph
//! (Graphviz dot or Mermaid) or JSON.

use std::fmt::Write as _;

use super::{ResolvedPlan, StepState, StepStatus};

/// The steps as a table: order, name, kind, state, needs and the reasons.
pub fn text(plan: &ResolvedPlan, status: &[StepStatus]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "bootstrap plan {} ({}): {} steps",
        plan.plan.name,
        plan.plan.file.display(),
        status.len()
    );
    let width = status
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    for (i, s) in status.iter().enumerate() {
        let needs = if s.needs.is_empty() {
            String::new()
        } else {
            format!("  needs {}", s.needs.join(", "))
        };
        let _ = writeln!(
            out,
            "{:>3}. {:<width$}  {:<9}  {:<7}{needs}",
            i + 1,
            s.name,
            s.kind,
            s.state.as_str(),
        );
        for reason in &s.reasons {
            let _ = writeln!(out, "       - {reason}");
        }
    }
    let count = |state: StepState| status.iter().filter(|s| s.state == state).count();
    let _ = writeln!(
        out,
        "{} done, {} changed, {} pending",
        count(StepState::Done),
        count(StepState::Changed),
        count(StepState::Pending)
    );
    out
}

/// A Graphviz graph: one node per step labelled with its kind and state, an edge per need.
pub fn dot(status: &[StepStatus]) -> String {
    let mut out = String::from("digraph bootstrap {\n  rankdir=LR;\n");
    for s in status {
        let color = match s.state {
            StepState::Done => "green",
            StepState::Changed => "orange",
            StepState::Pending => "gray",
        };
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{} · {}\", color={color}];",
            s.name,
            s.name,
            s.kind,
            s.state.as_str()
        );
    }
    for s in status {
        for need in &s.needs {
            let _ = writeln!(out, "  \"{need}\" -> \"{}\";", s.name);
        }
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart.
pub fn mermaid(status: &[StepStatus]) -> String {
    let mut out = String::from("flowchart LR\n");
    let id = |name: &str| name.replace('-', "_");
    for s in status {
        let _ = writeln!(
            out,
            "  {}[\"{}<br/>{} · {}\"]",
            id(&s.name),
            s.name,
            s.kind,
            s.state.as_str()
        );
    }
    for s in status {
        for need in &s.needs {
            let _ = writeln!(out, "  {} --> {}", id(need), id(&s.name));
        }
    }
    out
}

/// JSON: `{plan, file, steps: [...]}`.
pub fn json(plan: &ResolvedPlan, status: &[StepStatus]) -> String {
    let value = serde_json::json!({
        "plan": plan.plan.name,
        "file": plan.plan.file,
        "steps": status,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}
