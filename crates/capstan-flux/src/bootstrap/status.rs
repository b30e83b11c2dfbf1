//! Each step's state against the journal, in run order:
//!
//! - **done**: its last run succeeded with the same input digest, and every step it needs is
//!   done with the digest it saw;
//! - **pending**: never run, interrupted, failed, or a step it needs is pending;
//! - **changed**: it ran with other inputs (the reasons name them), or a step it needs changed or
//!   was re-applied since — so a change marks the step and everything after it.

use std::collections::{BTreeMap, HashMap};

use super::resolve::digest_value;
use super::{Journal, ResolvedPlan, StepOutcome};

/// A step's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Done,
    Pending,
    Changed,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Done => "done",
            StepState::Pending => "pending",
            StepState::Changed => "changed",
        }
    }
}

/// One step's state and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepStatus {
    pub name: String,
    pub kind: &'static str,
    pub needs: Vec<String>,
    pub state: StepState,
    pub reasons: Vec<String>,
    /// When its last run finished (RFC 3339), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// The state of every step, in run order.
pub fn plan_status(plan: &ResolvedPlan, journal: &Journal) -> Vec<StepStatus> {
    let mut states: HashMap<&str, StepState> = HashMap::new();
    let mut out = Vec::new();
    for step in &plan.steps {
        let name = step.step.name.as_str();
        let entry = journal.steps.get(name);
        let (mut state, mut reasons) = match entry {
            None => (StepState::Pending, vec!["never applied".to_owned()]),
            Some(e) if e.outcome == StepOutcome::Started => (
                StepState::Pending,
                vec![format!("interrupted (started {})", e.started_at)],
            ),
            Some(e) if e.outcome == StepOutcome::Failed => (
                StepState::Pending,
                vec![format!(
                    "last run failed: {}",
                    e.message.as_deref().unwrap_or("(no message)")
                )],
            ),
            Some(e) if e.digest != step.digest => {
                let now: BTreeMap<&String, String> = step
                    .inputs
                    .iter()
                    .map(|(k, v)| (k, digest_value(v)))
                    .collect();
                let mut reasons: Vec<String> = now
                    .iter()
                    .filter(|(k, d)| e.inputs.get(k.as_str()) != Some(*d))
                    .map(|(k, _)| {
                        if e.inputs.contains_key(k.as_str()) {
                            format!("{k} changed")
                        } else {
                            format!("{k} added")
                        }
                    })
                    .collect();
                reasons.extend(
                    e.inputs
                        .keys()
                        .filter(|k| !step.inputs.contains_key(k.as_str()))
                        .map(|k| format!("{k} removed")),
                );
                if reasons.is_empty() {
                    reasons.push("inputs changed".into());
                }
                (StepState::Changed, reasons)
            }
            Some(_) => (StepState::Done, Vec::new()),
        };
        for need in &step.step.needs {
            let need_state = states.get(need.as_str()).copied();
            let current = plan.step(need).map(|s| s.digest.as_str());
            match need_state {
                Some(StepState::Changed) if state != StepState::Pending => {
                    state = StepState::Changed;
                    reasons.push(format!("needs {need}, which changed"));
                }
                Some(StepState::Pending) if state == StepState::Done => {
                    state = StepState::Pending;
                    reasons.push(format!("needs {need}, which is pending"));
                }
                Some(StepState::Done)
                    if state == StepState::Done
                        && entry.and_then(|e| e.needs.get(need)).map(String::as_str) != current =>
                {
                    state = StepState::Changed;
                    reasons.push(format!("{need} was re-applied since this step ran"));
                }
                _ => {}
            }
        }
        states.insert(name, state);
        out.push(StepStatus {
            name: name.to_owned(),
            kind: step.step.kind.name(),
            needs: step.step.needs.clone(),
            state,
            reasons,
            finished_at: entry.and_then(|e| e.finished_at.clone()),
        });
    }
    out
}

/// The digests of the steps `step` needs, as the journal records them when it starts.
pub fn need_digests(plan: &ResolvedPlan, step: &str) -> BTreeMap<String, String> {
    plan.step(step)
        .map(|s| {
            s.step
                .needs
                .iter()
                .filter_map(|n| plan.step(n).map(|d| (n.clone(), d.digest.clone())))
                .collect()
        })
        .unwrap_or_default()
}
