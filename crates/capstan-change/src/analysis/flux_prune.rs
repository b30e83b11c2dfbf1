//! `flux-prune`: what leaving the repository does to objects, per Kustomization or HelmRelease —
//! deleted from the cluster by prune, or orphaned (left running, no longer managed) because the
//! producer does not prune or the object opts out with `kustomize.toolkit.fluxcd.io/prune:
//! disabled`. Deleted volumes, namespaces and CRDs have their own analyses.

use super::{Analysis, AnalysisMeta, Category, Context, Hit, Step, kubectl_ref};
use crate::diff::{ObjectChange, ProducerKind};
use crate::plan::Risk;

pub struct FluxPrune;

static META: AnalysisMeta = AnalysisMeta {
    id: "flux-prune",
    category: Category::Flux,
    risk: Risk::Medium,
    summary: "Objects that leave the repository: deleted by prune, or orphaned in the cluster.",
};

/// Kinds whose deletion other analyses judge.
fn judged_elsewhere(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "",
            "PersistentVolumeClaim" | "PersistentVolume" | "Namespace"
        ) | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}

impl Analysis for FluxPrune {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for group in &cx.diff.groups {
            for change in [ObjectChange::Deleted, ObjectChange::Orphaned] {
                let objects: Vec<_> = group
                    .objects
                    .iter()
                    .filter(|o| {
                        o.change == change
                            && !(change == ObjectChange::Deleted
                                && judged_elsewhere(&o.id.group, &o.id.kind))
                    })
                    .collect();
                let Some(first) = objects.first() else {
                    continue;
                };
                let names: Vec<String> = objects.iter().take(5).map(|o| o.id.to_string()).collect();
                let more = if objects.len() > 5 {
                    format!(" and {} more", objects.len() - 5)
                } else {
                    String::new()
                };
                let hit = Hit::on(group, first, "metadata.name");
                out.push(match change {
                    ObjectChange::Deleted => hit.reason(format!(
                        "{} object(s) deleted from the cluster by {}: {}{more}",
                        objects.len(),
                        match group.producer.kind {
                            ProducerKind::Kustomization => format!("{}'s prune", group.producer),
                            ProducerKind::HelmRelease =>
                                format!("Helm when {} upgrades", group.producer),
                        },
                        names.join(", ")
                    )),
                    _ => {
                        let why = if group.producer.kind == ProducerKind::HelmRelease {
                            "they carry helm.sh/resource-policy: keep"
                        } else if cx.unit(&group.producer).is_some_and(|u| u.prune) {
                            "they opt out of prune (kustomize.toolkit.fluxcd.io/prune: disabled)"
                        } else {
                            "it does not prune"
                        };
                        let mut hit = hit
                            .reason(format!(
                                "{} object(s) leave {} but stay running in the cluster, no longer managed ({why}): {}{more}",
                                objects.len(),
                                group.producer,
                                names.join(", ")
                            ))
                            .risk(Risk::Low);
                        for object in objects.iter().take(5) {
                            hit = hit.step(Step::after(format!(
                                "If {} is no longer wanted: kubectl delete {}",
                                object.id,
                                kubectl_ref(&super::live_id(cx, &group.producer, &object.id))
                            )));
                        }
                        hit
                    }
                });
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::FluxPrune, "flux-prune");
