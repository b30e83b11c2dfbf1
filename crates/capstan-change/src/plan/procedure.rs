//! The procedure that applies a change, in order: for GitOps, review, merge, reconcile the
//! Kustomization with its source, watch; for Bootstrap, the bootstrap step and its checks first,
//! then Git brought in line; for Hybrid, both, bootstrap first (seed 001's change procedures).
//! The analyses' findings add their steps: what to settle before the merge, and what to do
//! right after it, before the Kustomizations are reconciled. The commands named are capstan's live
//! verbs (`capstan reconcile ks NAME --with-source`, `capstan get ks NAME --live --watch`), which
//! work whether Flux's controllers or capstan reconcile the cluster.

use super::{Phase, PlanItem, Verdict};
use crate::analysis::{Finding, When};

fn reconcile(ks: &str) -> String {
    format!("capstan reconcile ks {ks} --with-source")
}

/// Watching Kustomizations until they are Ready: one by name, several with `-A`.
fn watch(names: &[&str]) -> String {
    match names {
        [one] => format!("Watch until Ready: capstan get ks {one} --live --watch"),
        _ => format!(
            "Watch until Ready ({}): capstan get ks -A --live --watch",
            names.join(", ")
        ),
    }
}

/// The steps for one item on its own.
pub(super) fn for_item(item: &PlanItem) -> Vec<String> {
    let mut steps = Vec::new();
    if !item.counted {
        return steps;
    }
    if matches!(item.phase, Phase::Bootstrap | Phase::Hybrid)
        && let Some(step) = &item.bootstrap
    {
        steps.push(format!("Bootstrap: {step}"));
        if let Some(watch) = &item.watch {
            steps.push(format!("Verify: {watch}"));
        }
    }
    steps.push(format!("Review: {}", item.approval));
    steps.push("Merge".to_owned());
    if let Some(ks) = &item.kustomization {
        steps.push(reconcile(ks));
        let mut watch = watch(&[ks.as_str()]);
        if item.phase == Phase::GitOps
            && let Some(extra) = &item.watch
        {
            watch.push_str(&format!("; {extra}"));
        }
        steps.push(watch);
    }
    steps
}

/// The steps for the whole change: every bootstrap step (in rule order, once), the strictest
/// review, the merge, each affected Kustomization reconciled in dependency order, what to watch.
pub(super) fn overall(
    items: &[PlanItem],
    findings: &[Finding],
    verdict: &Verdict,
    order: &[String],
) -> Vec<String> {
    let counted: Vec<&PlanItem> = items.iter().filter(|i| i.counted).collect();
    let mut steps: Vec<String> = Vec::new();
    let push = |steps: &mut Vec<String>, step: String| {
        if !steps.contains(&step) {
            steps.push(step);
        }
    };
    for item in counted
        .iter()
        .filter(|i| matches!(i.phase, Phase::Bootstrap | Phase::Hybrid))
    {
        if let Some(step) = &item.bootstrap {
            push(&mut steps, format!("Bootstrap: {step}"));
            if let Some(watch) = &item.watch {
                push(&mut steps, format!("Verify: {watch}"));
            }
        }
    }
    let label = match verdict.phase {
        Phase::Bootstrap => "then commit the change so Git matches the cluster",
        Phase::Hybrid => "bootstrap part first (above), then the GitOps part",
        Phase::GitOps => "through a pull request",
    };
    push(
        &mut steps,
        format!("Review: {} ({label})", verdict.approval),
    );
    let finding_steps = |when: When| {
        findings
            .iter()
            .flat_map(|f| &f.procedure)
            .filter(move |s| s.when == when)
            .map(|s| s.text.clone())
    };
    for step in finding_steps(When::BeforeMerge) {
        push(&mut steps, format!("Before merging: {step}"));
    }
    push(&mut steps, "Merge".to_owned());
    for step in finding_steps(When::AfterMerge) {
        push(&mut steps, format!("After merging: {step}"));
    }
    let mut kustomizations: Vec<&String> = counted
        .iter()
        .filter_map(|i| i.kustomization.as_ref())
        .chain(findings.iter().filter_map(|f| f.kustomization.as_ref()))
        .filter(|ks| !ks.is_empty())
        .collect();
    kustomizations.sort_by_key(|ks| {
        (
            order.iter().position(|o| o == *ks).unwrap_or(usize::MAX),
            ks.to_string(),
        )
    });
    kustomizations.dedup();
    for ks in &kustomizations {
        push(&mut steps, reconcile(ks));
    }
    if !kustomizations.is_empty() {
        let names: Vec<&str> = kustomizations.iter().map(|s| s.as_str()).collect();
        push(&mut steps, watch(&names));
    }
    for item in counted.iter().filter(|i| i.phase == Phase::GitOps) {
        if let Some(watch) = &item.watch {
            push(&mut steps, format!("Watch: {watch}"));
        }
    }
    steps
}
