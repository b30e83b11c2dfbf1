//! `flux/object-owned-twice`: the same object (group, kind, namespace, name) is produced by two
//! Kustomizations; both would apply it and fight over its fields, and either may prune it.

use std::collections::HashMap;

use capstan_core::{ResourceId, Severity};

use super::{Hit, Rule, RuleMeta, each_object};
use crate::config::RuleConfig;
use crate::input::{CheckInput, UnitKind};

pub struct FluxObjectOwnedTwice;

/// Cluster, group, kind, namespace, name: what makes two rendered objects the same object.
type ObjectKey = (Option<String>, String, String, Option<String>, String);

static META: RuleMeta = RuleMeta {
    id: "flux/object-owned-twice",
    severity: Severity::Error,
    summary: "No object is produced by two Kustomizations.",
    why: "Two Kustomizations applying one object overwrite each other's fields on every reconciliation, and \
          when one of them stops producing it, its prune deletes an object the other still wants.",
    example: "# apps/a/ks.yaml and apps/b/ks.yaml both include ../common/configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\n",
    fix: "Keep the object in exactly one Kustomization's path; share it through a kustomize component only \
          when each Kustomization gives it a different name or namespace.",
    options: "",
};

impl Rule for FluxObjectOwnedTwice {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        let mut first: HashMap<ObjectKey, usize> = HashMap::new();
        each_object(input, |u, o, unit, rendered| {
            if unit.kind != UnitKind::Kustomization {
                return;
            }
            let id = ResourceId::of(&rendered.object);
            if !id.is_complete() {
                return;
            }
            let namespace = id.namespace.clone().or_else(|| {
                unit.spec("targetNamespace")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            });
            let key = (
                unit.cluster.clone(),
                id.group.clone(),
                id.kind.clone(),
                namespace,
                id.name.clone(),
            );
            match first.get(&key) {
                Some(&owner) if owner != u => {
                    let other = &input.units[owner].id;
                    out.push(Hit::object(
                        u,
                        o,
                        format!(
                            "{id} is also produced by Kustomization {}/{}",
                            other.namespace.as_deref().unwrap_or(""),
                            other.name
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    first.insert(key, u);
                }
            }
        });
    }
}
