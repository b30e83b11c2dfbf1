//! The repository's bootstrap plan (`bootstrap.yaml`) in classification: a changed file or
//! object that is an input of a bootstrap step (a Talos patch, Cilium's values) is applied by
//! that step — `capstan bootstrap apply --only STEP` — so it is Bootstrap, or Hybrid when the
//! step installs a HelmRelease the GitOps phase then owns; a Bootstrap change's risk is at least
//! High (lead approval), as the seeds rate Bootstrap changes.

use serde::Serialize;

use super::{Branch, Phase, PlanItem, Risk};
use crate::diff::{Producer, ProducerKind};

/// One step of the bootstrap plan, as classification needs it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BootstrapStep {
    pub name: String,
    /// Repository paths (files or folders, `/`-separated) the step reads.
    pub paths: Vec<String>,
    /// The HelmRelease (`namespace`, `name`) GitOps adopts the step's release through.
    pub helm_release: Option<(String, String)>,
    /// The command that applies it (`capstan bootstrap apply --only NAME`); with `--dry-run`
    /// it previews.
    pub command: String,
}

/// The step a file or object at `path` (or rendered by `producer`) belongs to.
pub(super) fn step_for<'a>(
    steps: &'a [BootstrapStep],
    path: Option<&str>,
    producer: Option<&Producer>,
) -> Option<&'a BootstrapStep> {
    steps.iter().find(|step| {
        let by_release = producer.is_some_and(|p| {
            p.kind == ProducerKind::HelmRelease
                && step
                    .helm_release
                    .as_ref()
                    .is_some_and(|(ns, name)| &p.namespace == ns && &p.name == name)
        });
        let by_path = path.is_some_and(|path| {
            step.paths.iter().any(|input| {
                input == "."
                    || path == input
                    || path
                        .strip_prefix(input.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        });
        by_release || by_path
    })
}

/// Marks `item` as applied by `step`.
pub(super) fn mark(item: &mut PlanItem, step: &BootstrapStep) {
    let (phase, branch) = if step.helm_release.is_some() {
        (Phase::Hybrid, Branch::Split)
    } else {
        (Phase::Bootstrap, Branch::NotViaApi)
    };
    if item.phase != phase {
        item.phase = phase;
        item.branch = branch;
        item.decision = branch.path().to_owned();
    }
    // A Bootstrap change is at least High (lead approval), as the seeds rate the phase; a Hybrid
    // one keeps the risk its rules give it (the seeds' Cilium-values example is Medium).
    if phase == Phase::Bootstrap && item.risk < Risk::High {
        item.risk = Risk::High;
        item.approval = item.risk.approval();
    }
    item.reason = format!(
        "{}; an input of bootstrap step {:?}{}",
        item.reason,
        step.name,
        if step.helm_release.is_some() {
            ", whose release the GitOps phase adopts"
        } else {
            ""
        }
    );
    // A rule's own bootstrap procedure (e.g. rebuilding the cluster for a new pod CIDR) says
    // more than the step does; the step's command (and its preview) is added to it.
    let command = format!("{}; preview: {} --dry-run", step.command, step.command);
    item.bootstrap = Some(match item.bootstrap.take() {
        Some(rule) => format!(
            "{rule}; bootstrap step {:?} applies it: {command}",
            step.name
        ),
        None => format!("Apply bootstrap step {:?}: {command}", step.name),
    });
    item.counted = true;
}
