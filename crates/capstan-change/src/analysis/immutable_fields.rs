//! `immutable-field`: a change to a field the API server refuses to update (StatefulSet
//! `volumeClaimTemplates`/`selector`/`serviceName`/`podManagementPolicy`, a workload's `selector`,
//! a Job's `template`, a Service's `clusterIP`, a claim's class, volume, access modes or a
//! shrinking size, a binding's `roleRef`, a CRD's `scope`, a StorageClass's parameters, the data
//! of an `immutable` ConfigMap or Secret). Flux's dry-run apply fails with "field is immutable"
//! and the Kustomization stays failed — nothing after it applies — unless `spec.force` or the
//! object's `kustomize.toolkit.fluxcd.io/force: enabled` annotation lets Flux delete and recreate
//! it; the finding says which, what recreating deletes, and what to do. A HelmRelease's object is
//! never recreated by Helm (a forced upgrade replaces it in place, which is refused the same
//! way): the upgrade fails until someone deletes it.

use capstan_core::{ResourceId, Value};

use super::{Analysis, AnalysisMeta, Category, Context, Hit, Step, kubectl_ref, show};
use crate::diff::{FieldChange, FieldChangeKind, ProducerKind};
use crate::plan::Risk;

pub struct ImmutableFields;

static META: AnalysisMeta = AnalysisMeta {
    id: "immutable-field",
    category: Category::WedgesApply,
    risk: Risk::High,
    summary: "A field the API server refuses to update changes: the apply fails until the object is recreated.",
};

/// Field path prefixes the API server refuses to change, by (group, kind).
fn immutable(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("apps", "StatefulSet") => &[
            "spec.selector",
            "spec.volumeClaimTemplates",
            "spec.serviceName",
            "spec.podManagementPolicy",
        ],
        ("apps", "Deployment" | "DaemonSet" | "ReplicaSet") => &["spec.selector"],
        ("batch", "Job") => &["spec.selector", "spec.template", "spec.completionMode"],
        ("", "PersistentVolumeClaim") => &[
            "spec.storageClassName",
            "spec.volumeName",
            "spec.accessModes",
            "spec.selector",
            "spec.volumeMode",
            "spec.dataSource",
        ],
        ("", "PersistentVolume") => &["spec.csi", "spec.nfs", "spec.hostPath", "spec.local"],
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => &["roleRef"],
        ("apiextensions.k8s.io", "CustomResourceDefinition") => &["spec.scope"],
        ("storage.k8s.io", "StorageClass") => &[
            "provisioner",
            "parameters",
            "reclaimPolicy",
            "volumeBindingMode",
        ],
        _ => &[],
    }
}

/// What deleting and recreating the object takes with it.
fn recreating_deletes(id: &ResourceId, after: &Value) -> (String, Risk) {
    match id.kind.as_str() {
        "StatefulSet" => {
            let claims_deleted = after
                .pointer("/spec/persistentVolumeClaimRetentionPolicy/whenDeleted")
                .and_then(Value::as_str)
                == Some("Delete");
            if claims_deleted {
                (
                    "its pods and, with persistentVolumeClaimRetentionPolicy.whenDeleted: Delete, its volume claims and their data".into(),
                    Risk::Critical,
                )
            } else {
                (
                    "its pods (the app is down until they are back); its volume claims stay".into(),
                    Risk::High,
                )
            }
        }
        "Deployment" | "DaemonSet" | "ReplicaSet" => (
            "its pods: the app is down until the new ones are Ready".into(),
            Risk::High,
        ),
        "Job" => ("its pods; the Job runs again".into(), Risk::Medium),
        "Service" => (
            "its cluster IP; a LoadBalancer may get another external address".into(),
            Risk::High,
        ),
        "PersistentVolumeClaim" | "PersistentVolume" => (
            "the claim and, with a Delete reclaim policy, the volume's data (a claim in use stays Terminating until its pods stop)".into(),
            Risk::Critical,
        ),
        "RoleBinding" | "ClusterRoleBinding" => (
            "the binding: its subjects lose the role until it is recreated".into(),
            Risk::Medium,
        ),
        "CustomResourceDefinition" => (
            "every custom resource of the kind".into(),
            Risk::Critical,
        ),
        "StorageClass" => (
            "nothing bound to it: existing volumes keep the old settings".into(),
            Risk::Medium,
        ),
        _ => ("the object".into(), Risk::High),
    }
}

/// Parses a Kubernetes quantity (`10Gi`, `500M`, `1.5Ti`, `1e9`) into bytes.
pub(crate) fn quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "m" => 0.001,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        _ => return None,
    };
    Some(number * scale)
}

fn describe(kind: &FieldChangeKind) -> String {
    match kind {
        FieldChangeKind::Added { value } => format!("(unset) → {}", show(value)),
        FieldChangeKind::Removed { value } => format!("{} → (unset)", show(value)),
        FieldChangeKind::Modified { before, after } => {
            format!("{} → {}", show(before), show(after))
        }
        FieldChangeKind::OrderChanged { .. } => "order changed".to_owned(),
        FieldChangeKind::EncryptedChanged => "encrypted value changed".to_owned(),
    }
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The refused changes of one object: (field, what changed).
fn refused(
    id: &ResourceId,
    before: &Value,
    after: &Value,
    fields: &[FieldChange],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let prefixes = immutable(&id.group, &id.kind);
    for prefix in prefixes {
        let changed: Vec<&FieldChange> = fields.iter().filter(|f| under(&f.path, prefix)).collect();
        // a claim's class may be set once when it had none (retroactive default class)
        let only_added = changed
            .iter()
            .all(|f| matches!(f.kind, FieldChangeKind::Added { .. }));
        if changed.is_empty() || (*prefix == "spec.storageClassName" && only_added) {
            continue;
        }
        let (field, what) = match changed.as_slice() {
            [one] => (one.path.clone(), describe(&one.kind)),
            many => (
                (*prefix).to_owned(),
                format!("{} changes under {prefix}", many.len()),
            ),
        };
        out.push((field, what));
    }
    match (id.group.as_str(), id.kind.as_str()) {
        ("", "PersistentVolumeClaim") => {
            let size = |v: &Value| {
                v.pointer("/spec/resources/requests/storage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            if let (Some(b), Some(a)) = (size(before), size(after))
                && let (Some(bq), Some(aq)) = (quantity(&b), quantity(&a))
                && aq < bq
            {
                out.push((
                    "spec.resources.requests.storage".into(),
                    format!("{b} → {a} (a claim can grow, never shrink)"),
                ));
            }
        }
        ("", "Service") => {
            let ip = |v: &Value| {
                v.pointer("/spec/clusterIP")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let ty = |v: &Value| {
                v.pointer("/spec/type")
                    .and_then(Value::as_str)
                    .unwrap_or("ClusterIP")
                    .to_owned()
            };
            match (ip(before), ip(after)) {
                (b, Some(a)) if b.as_deref() != Some(a.as_str()) => out.push((
                    "spec.clusterIP".into(),
                    format!(
                        "{} → {a} (a Service keeps the cluster IP it was given)",
                        b.unwrap_or_else(|| "allocated".into())
                    ),
                )),
                (Some(b), None) if b == "None" && ty(after) != "ExternalName" => out.push((
                    "spec.clusterIP".into(),
                    "None → allocated (a headless Service cannot get a cluster IP)".into(),
                )),
                _ => {}
            }
            if ty(before) != ty(after)
                && ty(after) == "ExternalName"
                && ip(after).is_some_and(|i| i != "None")
            {
                out.push((
                    "spec.type".into(),
                    format!("{} → ExternalName with a cluster IP set", ty(before)),
                ));
            }
        }
        ("", "ConfigMap" | "Secret") => {
            let locked = before.get("immutable").and_then(Value::as_bool) == Some(true);
            if locked
                && let Some(f) = fields.iter().find(|f| {
                    ["data", "stringData", "binaryData"]
                        .iter()
                        .any(|p| under(&f.path, p))
                })
            {
                out.push((f.path.clone(), "the data of an immutable object".into()));
            }
        }
        _ => {}
    }
    out
}

fn force_annotation(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations/kustomize.toolkit.fluxcd.io~1force")
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("enabled"))
}

impl Analysis for ImmutableFields {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<super::Hit>) {
        for (group, object) in cx.objects() {
            if object.change != crate::diff::ObjectChange::Changed {
                continue;
            }
            let (Some(before), Some(after)) = (&object.before, &object.after) else {
                continue;
            };
            let refusals = refused(&object.id, before, after, &object.fields);
            if refusals.is_empty() {
                continue;
            }
            let unit = cx.unit(&group.producer);
            let producer = &group.producer;
            let (deletes, forced_risk) = recreating_deletes(&object.id, after);
            let is_hr = producer.kind == ProducerKind::HelmRelease;
            // Helm never recreates: a forced upgrade replaces the object in place (a PUT the API
            // server refuses the same way), and helm-controller ignores Flux's force annotation
            let forced = !is_hr && (force_annotation(after) || unit.is_some_and(|u| u.force));
            let how_forced = if force_annotation(after) {
                "its kustomize.toolkit.fluxcd.io/force: enabled annotation"
            } else {
                "the Kustomization's spec.force"
            };
            // a chart's objects carry no namespace: Helm installs them in the release's
            let target = super::live_id(cx, producer, &object.id);
            let delete = match object.id.kind.as_str() {
                // the pods keep running and are adopted by the new object when its selector matches
                "StatefulSet" | "Deployment" | "DaemonSet" | "ReplicaSet"
                    if !refusals.iter().any(|(f, _)| f.starts_with("spec.selector")) =>
                {
                    format!("kubectl delete {} --cascade=orphan", kubectl_ref(&target))
                }
                _ => format!("kubectl delete {}", kubectl_ref(&target)),
            };
            for (field, what) in refusals {
                let hit = Hit::on(group, object, field);
                let hit = if forced {
                    hit.reason(format!(
                        "{what}: the API server refuses the update; {how_forced} makes Flux delete and recreate it, which deletes {deletes}"
                    ))
                    .risk(forced_risk.max(Risk::High))
                    .step(Step::before(format!(
                        "Accept that recreating {} deletes {deletes}, or drop the force for this change and recreate it by hand",
                        object.id
                    )))
                } else if is_hr {
                    let helm_force = if unit.is_some_and(|u| u.force) {
                        "its spec.upgrade.force does not help: "
                    } else {
                        ""
                    };
                    hit.reason(format!(
                        "{what}: the API server refuses the update, and Helm cannot recreate it ({helm_force}a forced upgrade replaces the object in place, refused the same way), so the upgrade of {producer} fails and is remediated as its spec.upgrade says"
                    ))
                    .step(Step::before(format!(
                        "Plan to recreate {} by hand: {}; once it is gone, the next upgrade creates it anew",
                        object.id,
                        if delete.ends_with("--cascade=orphan") {
                            "deleting it with --cascade=orphan leaves its pods running for the new one to adopt".to_owned()
                        } else {
                            format!("deleting it deletes {deletes}")
                        }
                    )))
                    .step(Step::after(format!("When the upgrade has failed: {delete}")))
                    .step(Step::after(format!(
                        "Retry the upgrade: capstan reconcile hr {} -n {} --force",
                        producer.name, producer.namespace
                    )))
                } else if unit.is_none() {
                    hit.reason(format!(
                        "{what}: the API server refuses the update; whether {producer} forces recreation is not known (its manifest was not rendered), so the apply may fail"
                    ))
                    .step(Step::after(format!("If the apply fails with \"field is immutable\": {delete}")))
                } else {
                    hit.reason(format!(
                        "{what}: the API server refuses the update; nothing forces recreation, so {producer} stays failed and applies nothing until the object is recreated"
                    ))
                    .step(Step::before(format!(
                        "Choose how {} is recreated: annotate it kustomize.toolkit.fluxcd.io/force: enabled for this change (Flux then deletes {deletes}), or delete it by hand after merging",
                        object.id
                    )))
                    .step(Step::after(delete.clone()))
                };
                out.push(hit);
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::ImmutableFields, "immutable-field");

#[cfg(test)]
mod tests {
    use super::quantity;

    #[test]
    fn quantities() {
        assert_eq!(quantity("1Gi"), Some(1024f64.powi(3)));
        assert_eq!(quantity("500M"), Some(5e8));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert!(quantity("10Gi").unwrap() > quantity("9Gi").unwrap());
        assert_eq!(quantity("ten"), None);
    }
}
