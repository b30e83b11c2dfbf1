//! `bootstrap-phase`: bootstrap-phase components (the CNI core, flux-system, the secret
//! foundation) are not owned by a GitOps-phase Kustomization and are never pruned.
//!
//! The phase boundary of the seeds: what GitOps needs in order to run must not be something a
//! GitOps reconciliation can delete.

use capstan_core::{ResourceId, Severity};

use super::{Hit, Rule, RuleMeta, each_object, prune_disabled};
use crate::config::{RuleConfig, glob_match};
use crate::input::{CheckInput, UnitKind};

pub struct BootstrapPhase;

/// Objects that belong to the bootstrap phase unless `.capstan.yaml` says otherwise.
pub const DEFAULT_OBJECTS: &[&str] = &[
    "HelmRelease/kube-system/cilium",
    "DaemonSet/kube-system/cilium",
    "Namespace/flux-system",
    "Deployment/flux-system/*-controller",
    "HelmRelease/*/onepassword-connect",
    "HelmRelease/*/external-secrets",
    "Deployment/*/onepassword-connect",
];

/// Kustomizations (as `namespace/name`) that are part of the bootstrap phase themselves.
pub const DEFAULT_KUSTOMIZATIONS: &[&str] = &["flux-system/flux-system"];

static META: RuleMeta = RuleMeta {
    id: "bootstrap-phase",
    severity: Severity::Warning,
    summary: "Bootstrap-phase components (CNI core, flux-system, secret foundation) are not pruned nor owned by a GitOps-phase Kustomization.",
    why: "GitOps depends on them: if a GitOps reconciliation prunes or rewrites the CNI, Flux itself or the \
          secret store, the cluster loses the means to repair itself. They are applied in the bootstrap phase, \
          in order and gated on health, and Flux at most adopts them with pruning disabled.",
    example: "# in apps/kube-system/cilium, applied by Kustomization flux-system/cilium with prune: true\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: cilium\n  namespace: kube-system\n",
    fix: "Apply the component in the bootstrap phase; if Flux adopts it, annotate it with \
          `kustomize.toolkit.fluxcd.io/prune: disabled` and list its Kustomization under `kustomizations`.",
    options: "`objects: [globs]` over `Kind/namespace/name` (default: cilium, flux-system, onepassword-connect, \
              external-secrets); `kustomizations: [globs]` over `namespace/name` of the Kustomizations that belong \
              to the bootstrap phase (default: `flux-system/flux-system`).",
};

fn display(id: &ResourceId) -> String {
    match &id.namespace {
        Some(ns) => format!("{}/{}/{}", id.kind, ns, id.name),
        None => format!("{}/{}", id.kind, id.name),
    }
}

impl Rule for BootstrapPhase {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, config: &RuleConfig, out: &mut Vec<Hit>) {
        let objects = config
            .list("objects")
            .unwrap_or_else(|| DEFAULT_OBJECTS.iter().map(|s| s.to_string()).collect());
        let kustomizations = config.list("kustomizations").unwrap_or_else(|| {
            DEFAULT_KUSTOMIZATIONS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        each_object(input, |u, o, unit, rendered| {
            if unit.kind != UnitKind::Kustomization {
                return;
            }
            let id = ResourceId::of(&rendered.object);
            let name = display(&id);
            if !objects.iter().any(|g| glob_match(g, &name)) {
                return;
            }
            let owner = format!(
                "{}/{}",
                unit.id.namespace.as_deref().unwrap_or("flux-system"),
                unit.id.name
            );
            let bootstrap_owner = kustomizations.iter().any(|g| glob_match(g, &owner));
            if !bootstrap_owner {
                out.push(Hit::object(u, o, format!("bootstrap-phase component {name} is owned by GitOps-phase Kustomization {owner}")));
            } else if unit.prunes() && !prune_disabled(&rendered.object) {
                out.push(
                    Hit::object(u, o, format!("bootstrap-phase component {name} would be pruned by Kustomization {owner}"))
                        .field("metadata.annotations"),
                );
            }
        });
    }
}
