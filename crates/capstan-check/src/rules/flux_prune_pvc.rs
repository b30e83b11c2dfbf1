//! `flux/prune-pvc`: a PersistentVolumeClaim applied by a Kustomization with `prune: true` carries
//! `kustomize.toolkit.fluxcd.io/prune: disabled`, so its volume survives a refactor of the repository.
//!
//! A claim whose volume is kept anyway is not flagged: one bound (`spec.volumeName`) to a
//! PersistentVolume the same cluster renders with `persistentVolumeReclaimPolicy: Retain`, or
//! provisioned from a StorageClass it renders with `reclaimPolicy: Retain`. Pruning such a claim
//! releases the volume; the data stays.

use std::collections::HashSet;

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta, each_object, group_of, kind_of, prune_disabled};
use crate::config::RuleConfig;
use crate::input::CheckInput;

pub struct FluxPrunePvc;

static META: RuleMeta = RuleMeta {
    id: "flux/prune-pvc",
    severity: Severity::Error,
    summary: "A Kustomization with `prune: true` does not own PersistentVolumeClaims without `kustomize.toolkit.fluxcd.io/prune: disabled`.",
    why: "Flux garbage-collects what leaves its inventory. Renaming a Kustomization, moving a file or a failed \
          render would delete the claim and, with a Delete reclaim policy, its data.",
    example: "# applied by a Kustomization with spec.prune: true\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    fix: "Annotate the claim with `kustomize.toolkit.fluxcd.io/prune: disabled`.",
    options: "",
};

impl Rule for FluxPrunePvc {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        let retained = Retained::of(input);
        each_object(input, |u, o, unit, rendered| {
            let object = &rendered.object;
            if kind_of(object) == "PersistentVolumeClaim"
                && group_of(object).is_empty()
                && unit.prunes()
                && !prune_disabled(object)
                && !retained.keeps(unit.cluster.as_deref(), object)
            {
                out.push(
                    Hit::object(u, o, format!("PersistentVolumeClaim would be pruned by Kustomization {} (prune: true)", unit.id.name))
                        .field("metadata.annotations"),
                );
            }
        });
    }
}

/// The PersistentVolumes and StorageClasses each cluster renders with a `Retain` policy.
#[derive(Default)]
struct Retained {
    /// (cluster, PersistentVolume name)
    volumes: HashSet<(Option<String>, String)>,
    /// (cluster, StorageClass name)
    classes: HashSet<(Option<String>, String)>,
}

impl Retained {
    fn of(input: &CheckInput) -> Retained {
        let mut retained = Retained::default();
        each_object(input, |_, _, unit, rendered| {
            let object = &rendered.object;
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let policy = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
            match (group_of(object), kind_of(object)) {
                ("", "PersistentVolume")
                    if policy("/spec/persistentVolumeReclaimPolicy") == Some("Retain") =>
                {
                    retained.volumes.insert((unit.cluster.clone(), name));
                }
                ("storage.k8s.io", "StorageClass")
                    if policy("/reclaimPolicy") == Some("Retain") =>
                {
                    retained.classes.insert((unit.cluster.clone(), name));
                }
                _ => {}
            }
        });
        retained
    }

    /// True when the claim's volume outlives the claim.
    fn keeps(&self, cluster: Option<&str>, claim: &Value) -> bool {
        let cluster = cluster.map(str::to_owned);
        let field = |name: &str| {
            claim
                .pointer(&format!("/spec/{name}"))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        field("volumeName").is_some_and(|v| self.volumes.contains(&(cluster.clone(), v.to_owned())))
            || field("storageClassName")
                .is_some_and(|c| self.classes.contains(&(cluster.clone(), c.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Rendered, Unit, UnitKind};
    use serde_json::json;

    fn unit(objects: Vec<Value>) -> CheckInput {
        let mut unit = Unit::new(
            UnitKind::Kustomization,
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                   "metadata": {"name": "apps", "namespace": "flux-system"},
                   "spec": {"prune": true}}),
        );
        unit.objects = objects.into_iter().map(Rendered::new).collect();
        CheckInput {
            units: vec![unit],
            ..CheckInput::default()
        }
    }

    fn claim(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "data", "namespace": "apps"}, "spec": spec})
    }

    fn hits(input: &CheckInput) -> usize {
        let mut out = Vec::new();
        FluxPrunePvc.check(input, &RuleConfig::default(), &mut out);
        out.len()
    }

    #[test]
    fn a_claim_with_a_deleting_volume_is_flagged() {
        let input = unit(vec![claim(json!({"storageClassName": "fast"}))]);
        assert_eq!(hits(&input), 1);
        let default_class = unit(vec![
            claim(json!({"storageClassName": "fast"})),
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": "fast"}, "provisioner": "x"}),
        ]);
        assert_eq!(hits(&default_class), 1, "reclaimPolicy defaults to Delete");
    }

    #[test]
    fn a_claim_bound_to_a_retained_volume_is_not() {
        let input = unit(vec![
            claim(json!({"volumeName": "games", "storageClassName": ""})),
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "games"},
                   "spec": {"persistentVolumeReclaimPolicy": "Retain"}}),
        ]);
        assert_eq!(hits(&input), 0);
    }

    #[test]
    fn a_claim_from_a_retaining_class_is_not() {
        let input = unit(vec![
            claim(json!({"storageClassName": "keep"})),
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": "keep"}, "provisioner": "x", "reclaimPolicy": "Retain"}),
        ]);
        assert_eq!(hits(&input), 0);
    }
}
