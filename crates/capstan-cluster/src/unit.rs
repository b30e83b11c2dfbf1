//! What the engine applies: one [`Unit`] per Flux Kustomization — its rendered objects with the
//! file each came from, and the parts of its spec apply, prune and health need. [`from_build`]
//! is the one place that reads capstan-flux's build result, so a change of that shape is one
//! edit here. The spec is read from the Kustomization object as the repository renders it (a
//! Kustomization is itself an object some other Kustomization applies); one not found there gets
//! Flux's defaults.

use std::path::PathBuf;
use std::time::Duration;

use capstan_flux::FluxKind;
use capstan_flux::build::{BuildReport, Status};
use capstan_flux::model::{IgnoreRule, KustomizationSpec};
use serde_json::Value;

use crate::id::ObjectRef;
use crate::normalize::Owner;

/// One object to apply and where the repository declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub object: Value,
    pub file: Option<PathBuf>,
}

/// One Kustomization, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub owner: Owner,
    pub objects: Vec<Desired>,
    pub prune: bool,
    pub wait: bool,
    pub force: bool,
    pub suspend: bool,
    /// `spec.timeout`, else `interval − 30s`, at least 30 s.
    pub timeout: Duration,
    pub health_checks: Vec<ObjectRef>,
    pub health_check_exprs: Vec<Value>,
    pub depends_on: Vec<Owner>,
    /// `spec.ignore`: fields left out of drift detection and apply.
    pub ignore: Vec<IgnoreRule>,
    /// `spec.sourceRef` as `Kind/namespace/name` (the namespace defaulting to the owner's).
    pub source: Option<String>,
    /// The `readyExpr` of `dependsOn` entries that have one.
    pub ready_exprs: Vec<(Owner, String)>,
    /// The Kustomization object as the repository renders it (`self` in a `readyExpr`).
    pub kustomization: Option<Value>,
    /// Why the build failed; a unit with errors is not applied.
    pub errors: Vec<String>,
}

impl Unit {
    /// A unit with Flux's defaults.
    pub fn new(owner: Owner, objects: Vec<Desired>) -> Unit {
        Unit {
            owner,
            objects,
            prune: false,
            wait: false,
            force: false,
            suspend: false,
            timeout: Duration::from_secs(300),
            health_checks: Vec::new(),
            health_check_exprs: Vec::new(),
            depends_on: Vec::new(),
            ignore: Vec::new(),
            source: None,
            ready_exprs: Vec::new(),
            kustomization: None,
            errors: Vec::new(),
        }
    }

    /// Applies a Kustomization spec's settings.
    pub fn with_spec(mut self, spec: &KustomizationSpec) -> Unit {
        self.prune = spec.prune;
        self.wait = spec.wait;
        self.force = spec.force;
        self.suspend = spec.suspend;
        let interval = spec.interval.as_ref().and_then(|d| d.parse());
        let timeout = spec
            .timeout
            .as_ref()
            .and_then(|d| d.parse())
            .or_else(|| interval.map(|i| i.saturating_sub(Duration::from_secs(30))));
        self.timeout = timeout
            .unwrap_or(Duration::from_secs(300))
            .max(Duration::from_secs(30));
        self.health_checks = spec
            .health_checks
            .iter()
            .map(|h| {
                let api_version = h.api_version.clone().unwrap_or_else(|| "apps/v1".into());
                let (group, version) = crate::id::split_api_version(&api_version);
                ObjectRef {
                    group: group.into(),
                    version: version.into(),
                    kind: h.kind.clone(),
                    namespace: h
                        .namespace
                        .clone()
                        .unwrap_or_else(|| self.owner.namespace.clone()),
                    name: h.name.clone(),
                }
            })
            .collect();
        self.health_check_exprs = spec.health_check_exprs.clone();
        self.ignore = spec.ignore.clone();
        self.source = Some(format!(
            "{}/{}/{}",
            spec.source_ref.kind,
            spec.source_ref.namespace_or(&self.owner.namespace),
            spec.source_ref.name
        ));
        self.ready_exprs = spec
            .depends_on
            .iter()
            .filter_map(|d| {
                let expr = d.ready_expr.as_deref().filter(|e| !e.trim().is_empty())?;
                let owner = Owner {
                    name: d.name.clone(),
                    namespace: d.namespace_or(&self.owner.namespace).to_owned(),
                };
                Some((owner, expr.to_owned()))
            })
            .collect();
        self.depends_on = spec
            .depends_on
            .iter()
            .filter(|d| d.kind.as_deref().is_none_or(|k| k == "Kustomization"))
            .map(|d| Owner {
                name: d.name.clone(),
                namespace: d.namespace_or(&self.owner.namespace).to_owned(),
            })
            .collect();
        self
    }
}

/// The units of a build: every Kustomization that rendered (or failed), with its spec.
pub fn from_build(report: &BuildReport) -> Vec<Unit> {
    let rendered_specs: Vec<(Owner, KustomizationSpec, &Value)> = report
        .kustomizations
        .iter()
        .flat_map(|r| &r.objects)
        .filter(|o| {
            o.object.get("kind").and_then(Value::as_str) == Some("Kustomization")
                && o.object
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
        })
        .filter_map(|o| {
            let r = ObjectRef::of(&o.object)?;
            let spec = serde_json::from_value(o.object.get("spec")?.clone()).ok()?;
            Some((
                Owner {
                    name: r.name,
                    namespace: r.namespace,
                },
                spec,
                &o.object,
            ))
        })
        .collect();
    report
        .kustomizations
        .iter()
        .filter(|r| r.key.kind == FluxKind::Kustomization && r.status != Status::Unchanged)
        .map(|r| {
            let owner = Owner {
                name: r.key.name.clone(),
                namespace: r.key.namespace.clone(),
            };
            let objects = r
                .objects
                .iter()
                .map(|o| Desired {
                    object: o.object.clone(),
                    file: o.file.clone(),
                })
                .collect();
            let mut unit = Unit::new(owner.clone(), objects);
            if let Some((_, spec, object)) = rendered_specs.iter().find(|(o, _, _)| *o == owner) {
                unit = unit.with_spec(spec);
                unit.kustomization = Some((*object).clone());
            }
            unit.suspend |= r.status == Status::Suspended;
            if r.status == Status::Failed {
                unit.errors = r.errors.clone();
            }
            // Masked SOPS values must never reach the cluster (Flux fails such a build too).
            for id in &r.not_decrypted {
                unit.errors.push(format!(
                    "{id}: SOPS-encrypted values could not be decrypted (no age key); not applied"
                ));
            }
            unit
        })
        .collect()
}

/// Dependency waves: 0 for units without dependencies among `units`, else one more than the
/// highest dependency's. `None` for units in (or depending on) a cycle.
pub fn waves(units: &[Unit]) -> Vec<Option<usize>> {
    fn wave(
        i: usize,
        units: &[Unit],
        memo: &mut Vec<Option<Option<usize>>>,
        depth: usize,
    ) -> Option<usize> {
        if let Some(known) = memo[i] {
            return known;
        }
        if depth > units.len() {
            return None;
        }
        let mut w = 0;
        for dep in &units[i].depends_on {
            if let Some(j) = units.iter().position(|u| u.owner == *dep) {
                w = w.max(wave(j, units, memo, depth + 1)? + 1);
            }
        }
        memo[i] = Some(Some(w));
        Some(w)
    }
    let mut memo = vec![None; units.len()];
    (0..units.len())
        .map(|i| wave(i, units, &mut memo, 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, deps: &[&str]) -> Unit {
        let mut u = Unit::new(
            Owner {
                name: name.into(),
                namespace: "flux-system".into(),
            },
            Vec::new(),
        );
        u.depends_on = deps
            .iter()
            .map(|d| Owner {
                name: (*d).into(),
                namespace: "flux-system".into(),
            })
            .collect();
        u
    }

    #[test]
    fn waves_follow_dependencies_and_stop_at_cycles() {
        let units = [
            unit("a", &[]),
            unit("b", &["a"]),
            unit("c", &["b", "a"]),
            unit("x", &["y"]),
            unit("y", &["x"]),
            unit("d", &["missing"]),
        ];
        assert_eq!(
            waves(&units),
            [Some(0), Some(1), Some(2), None, None, Some(0)]
        );
    }
}
