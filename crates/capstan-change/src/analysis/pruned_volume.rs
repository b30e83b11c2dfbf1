//! `pruned-volume`: a PersistentVolumeClaim or PersistentVolume deleted by prune, or a
//! StatefulSet deleted whose claim retention policy deletes its claims. The volume's data goes
//! with it when the reclaim policy is `Delete` — read from the claim's StorageClass when the
//! repository renders it, otherwise said to be unknown.

use capstan_core::Value;

use super::{
    Analysis, AnalysisMeta, Category, Context, Hit, Step, deleted_by, keep_annotation, kubectl_ref,
};
use crate::diff::{ObjectChange, Which};
use crate::plan::Risk;

pub struct PrunedVolume;

static META: AnalysisMeta = AnalysisMeta {
    id: "pruned-volume",
    category: Category::LosesData,
    risk: Risk::Critical,
    summary: "A volume claim (or a StatefulSet's claims) is deleted by prune: its data may go with it.",
};

/// The reclaim policy of a storage class as the base side renders it.
fn reclaim_policy(cx: &Context<'_>, class: &str) -> Option<String> {
    cx.facts.side(Which::Base).objects().find_map(|(_, o)| {
        (super::kind_of(o) == "StorageClass"
            && o.pointer("/metadata/name").and_then(Value::as_str) == Some(class))
        .then(|| {
            o.get("reclaimPolicy")
                .and_then(Value::as_str)
                .unwrap_or("Delete")
                .to_owned()
        })
    })
}

impl Analysis for PrunedVolume {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if object.change != ObjectChange::Deleted
                || !object.id.group.is_empty() && object.id.group != "apps"
            {
                continue;
            }
            let Some(before) = &object.before else {
                continue;
            };
            let keep = Step::before(format!(
                "To keep the data: {} and merge that first, or back the volume up",
                keep_annotation(&group.producer, &object.id.to_string())
            ));
            match (object.id.group.as_str(), object.id.kind.as_str()) {
                ("", "PersistentVolumeClaim") => {
                    let class = before
                        .pointer("/spec/storageClassName")
                        .and_then(Value::as_str);
                    let (policy, risk) = match class.map(|c| (c, reclaim_policy(cx, c))) {
                        Some((c, Some(p))) if p == "Delete" => (
                            format!("storage class {c} has reclaimPolicy: Delete, so the volume and its data are deleted with the claim"),
                            Risk::Critical,
                        ),
                        Some((c, Some(p))) => (
                            format!("storage class {c} has reclaimPolicy: {p}: the volume stays, released, and must be re-bound by hand"),
                            Risk::High,
                        ),
                        Some((c, None)) => (
                            format!("storage class {c} is not rendered here: its reclaim policy (Delete by default) decides whether the data goes"),
                            Risk::Critical,
                        ),
                        None => (
                            "the claim names no storage class: the cluster's default class's reclaim policy (Delete by default) decides whether the data goes".into(),
                            Risk::Critical,
                        ),
                    };
                    out.push(
                        Hit::on(group, object, "metadata.name")
                            .reason(format!("{}: {policy}", deleted_by(&group.producer)))
                            .risk(risk)
                            .step(Step::before(format!(
                                "Check the volume's reclaim policy: kubectl get pv $(kubectl get {} -o jsonpath='{{.spec.volumeName}}')",
                                kubectl_ref(&super::live_id(cx, &group.producer, &object.id))
                            )))
                            .step(keep),
                    );
                }
                ("", "PersistentVolume") => {
                    let policy = before
                        .pointer("/spec/persistentVolumeReclaimPolicy")
                        .and_then(Value::as_str)
                        .unwrap_or("Retain");
                    let risk = if policy == "Delete" {
                        Risk::Critical
                    } else {
                        Risk::High
                    };
                    out.push(
                        Hit::on(group, object, "spec.persistentVolumeReclaimPolicy")
                            .reason(format!(
                                "{} with persistentVolumeReclaimPolicy: {policy}{}",
                                deleted_by(&group.producer),
                                if policy == "Delete" {
                                    ": the storage behind it is deleted"
                                } else {
                                    ""
                                }
                            ))
                            .risk(risk)
                            .step(keep),
                    );
                }
                ("apps", "StatefulSet") => {
                    let templates = before
                        .pointer("/spec/volumeClaimTemplates")
                        .and_then(Value::as_array)
                        .map(Vec::len)
                        .unwrap_or(0);
                    if templates == 0 {
                        continue;
                    }
                    let deletes = before
                        .pointer("/spec/persistentVolumeClaimRetentionPolicy/whenDeleted")
                        .and_then(Value::as_str)
                        == Some("Delete");
                    let hit = Hit::on(group, object, "spec.volumeClaimTemplates");
                    out.push(if deletes {
                        hit.reason(format!(
                            "{} with persistentVolumeClaimRetentionPolicy.whenDeleted: Delete: the claims of its {templates} volume claim template(s) and their data are deleted",
                            deleted_by(&group.producer)
                        ))
                        .step(keep)
                    } else {
                        hit.reason(format!(
                            "{}: the claims of its {templates} volume claim template(s) stay in the cluster, untracked by Flux",
                            deleted_by(&group.producer)
                        ))
                        .risk(Risk::Medium)
                    });
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::PrunedVolume, "pruned-volume");
