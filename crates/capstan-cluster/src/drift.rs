//! Drift: the repository against the cluster, read-only. Each rendered object is in sync,
//! missing, drifted (with the fields that differ and both values; Secret values masked), or
//! could not be compared (and says why); each object the inventory holds that the repository no
//! longer renders is stale. Decided like apply: from the cache where it can, by a server-side
//! dry-run where it cannot, so drift made by any manager shows.

use std::path::PathBuf;

use serde_json::Value;

use crate::cache::Known;
use crate::cluster::{Cluster, ClusterError, FIELD_MANAGER};
use crate::engine::Engine;
use crate::fields;
use crate::id::ObjectRef;
use crate::ignore::IgnoreRules;
use crate::inventory::{self, Inventory};
use crate::normalize::{self, Owner};
use crate::plan::{self, Decision, SkipReason};
use crate::policy::{self, Policy};
use crate::unit::Unit;

/// What a Secret value shows as.
pub const MASK: &str = "(secret value)";

/// One field that differs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldDrift {
    /// `spec.replicas`, `spec.template.spec.containers[0].image`.
    pub path: String,
    /// The same as a JSON pointer.
    pub pointer: String,
    /// What the repository declares (null: capstan would remove the field).
    pub desired: Value,
    /// What is live (`None`: absent).
    pub live: Option<Value>,
}

/// The state of one object.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum State {
    InSync,
    Missing,
    Drifted {
        fields: Vec<FieldDrift>,
    },
    /// In the inventory, no longer rendered, still live and owned: apply --prune deletes it.
    Stale,
    Skipped {
        reason: SkipReason,
    },
    /// Not compared.
    Unknown {
        error: ClusterError,
    },
}

/// One object's drift.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ObjectDrift {
    pub object: ObjectRef,
    pub file: Option<PathBuf>,
    #[serde(flatten)]
    pub state: State,
}

/// One Kustomization's drift.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnitDrift {
    pub owner: Owner,
    pub objects: Vec<ObjectDrift>,
    /// Why (part of) it was not compared.
    pub errors: Vec<String>,
}

/// Drift of every unit.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DriftReport {
    pub units: Vec<UnitDrift>,
}

impl DriftReport {
    /// Anything missing, drifted or stale.
    pub fn has_drift(&self) -> bool {
        self.objects().any(|o| {
            matches!(
                o.state,
                State::Missing | State::Drifted { .. } | State::Stale
            )
        })
    }

    /// Something was not compared.
    pub fn incomplete(&self) -> bool {
        self.units.iter().any(|u| !u.errors.is_empty())
            || self
                .objects()
                .any(|o| matches!(o.state, State::Unknown { .. }))
    }

    pub fn objects(&self) -> impl Iterator<Item = &ObjectDrift> {
        self.units.iter().flat_map(|u| &u.objects)
    }
}

/// The pointer is an ignored path or lies under one.
fn ignored(pointer: &str, ignore: &[String]) -> bool {
    ignore
        .iter()
        .any(|p| pointer == p || pointer.starts_with(&format!("{p}/")))
}

fn masked(r: &ObjectRef, path: &str, value: Value) -> Value {
    let secret = r.group.is_empty() && r.kind == "Secret";
    if secret && (path.starts_with("data") || path.starts_with("stringData")) && !value.is_null() {
        Value::String(MASK.into())
    } else {
        value
    }
}

impl<C: Cluster> Engine<'_, C> {
    /// Compares every unit with the cluster; writes nothing.
    pub async fn drift(&mut self, units: &[Unit]) -> DriftReport {
        let mut report = DriftReport::default();
        for unit in units {
            report.units.push(self.unit_drift(unit).await);
        }
        report
    }

    async fn unit_drift(&mut self, unit: &Unit) -> UnitDrift {
        let mut out = UnitDrift {
            owner: unit.owner.clone(),
            objects: Vec::new(),
            errors: Vec::new(),
        };
        if unit.suspend {
            out.errors.push("suspended: not compared".into());
            return out;
        }
        if !unit.errors.is_empty() {
            out.errors.extend(
                unit.errors
                    .iter()
                    .map(|e| format!("build failed, not compared: {e}")),
            );
            return out;
        }
        let ignore = match IgnoreRules::compile(&unit.ignore) {
            Ok(rules) => rules,
            Err(e) => {
                out.errors.push(format!("not compared: {e}"));
                return out;
            }
        };
        let mut prepared = Vec::new();
        for d in &unit.objects {
            let object = normalize::prepare(&d.object, &unit.owner);
            match ObjectRef::of(&object) {
                Some(r) => prepared.push((r, object, d.file.clone())),
                None => out.errors.push(
                    "an object without apiVersion, kind or metadata.name was not compared".into(),
                ),
            }
        }
        let storage = inventory::storage_ref(&unit.owner);
        let mut refs: Vec<ObjectRef> = prepared.iter().map(|(r, _, _)| r.clone()).collect();
        refs.push(storage.clone());
        let cluster = self.cluster();
        for e in self.cache().load(cluster, &refs).await {
            out.errors.push(e.to_string());
        }
        for (r, object, _) in &mut prepared {
            if r.namespace.is_empty() && self.cache().scope(r) == Some(true) {
                r.namespace = "default".into();
                object["metadata"]["namespace"] = Value::String("default".into());
            }
        }
        for (r, object, file) in &prepared {
            let paths = ignore.paths_for(object);
            let state = self.object_drift(r, object, &paths).await;
            out.objects.push(ObjectDrift {
                object: r.clone(),
                file: file.clone(),
                state,
            });
        }
        // Stale objects.
        let stored = match self.cache().get(&storage) {
            Known::Present(v) => inventory::from_object(v),
            _ => None,
        };
        if let Some(previous) = stored {
            let next = Inventory::of(prepared.iter().map(|(r, _, _)| r));
            let stale = previous.stale(&next);
            let _ = self.cache().load(cluster, &stale).await;
            for r in stale {
                let live = match self.cache().get(&r) {
                    Known::Present(v) => Some(v.clone()),
                    Known::Absent => None,
                    Known::Unknown => self.cluster().get(&r).await.ok().flatten(),
                };
                if let Some(live) = live
                    && policy::owned_by(&live, &unit.owner.name, &unit.owner.namespace)
                {
                    out.objects.push(ObjectDrift {
                        object: r,
                        file: None,
                        state: State::Stale,
                    });
                }
            }
        }
        out
    }

    async fn object_drift(&mut self, r: &ObjectRef, desired: &Value, ignore: &[String]) -> State {
        let live = match self.cache().get(r) {
            Known::Present(v) => Some(v.clone()),
            Known::Absent => None,
            Known::Unknown => match self.cluster().get(r).await {
                Ok(v) => v,
                Err(error) => return State::Unknown { error },
            },
        };
        let policy = Policy::of(desired);
        let overrides = self.options().override_managers.clone();
        let rules = plan::Rules {
            override_managers: &overrides,
            ignore,
        };
        match plan::decide(desired, live.as_ref(), &policy, &rules) {
            Decision::Skip(reason) => State::Skipped { reason },
            Decision::Create => State::Missing,
            Decision::Unchanged => State::InSync,
            Decision::Cleanup(patch) => {
                let Some(live) = live else {
                    return State::Missing;
                };
                // The fields the cleanup hands to capstan that Git does not declare: the next
                // apply removes them, so they are drift (the dry-run alone keeps them, as
                // their old manager still owns them).
                let mut cleaned = live.clone();
                let removed = match serde_json::from_value::<json_patch::Patch>(patch) {
                    Ok(ops) if json_patch::patch(&mut cleaned, &ops).is_ok() => {
                        fields::applied_fields(&cleaned, FIELD_MANAGER)
                            .map(|owned| fields::uncovered(owned, desired, &cleaned))
                            .unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                let removed: Vec<FieldDrift> = removed
                    .into_iter()
                    .filter(|p| !p.starts_with("/metadata/") && !p.starts_with("/status"))
                    .filter(|p| !ignored(p, ignore))
                    .map(|pointer| {
                        let path = pointer
                            .trim_start_matches('/')
                            .replace('/', ".")
                            .replace("~1", "/")
                            .replace("~0", "~");
                        FieldDrift {
                            desired: Value::Null,
                            live: live.pointer(&pointer).map(|l| masked(r, &path, l.clone())),
                            path,
                            pointer,
                        }
                    })
                    .collect();
                match self.compare(r, desired, live, ignore).await {
                    State::InSync if !removed.is_empty() => State::Drifted { fields: removed },
                    State::Drifted { mut fields } => {
                        for f in removed {
                            if !fields.iter().any(|g| g.pointer == f.pointer) {
                                fields.push(f);
                            }
                        }
                        State::Drifted { fields }
                    }
                    other => other,
                }
            }
            Decision::DryRun => {
                let Some(live) = live else {
                    return State::Missing;
                };
                self.compare(r, desired, live, ignore).await
            }
        }
    }

    /// Asks the server (a dry-run apply) and compares its answer with the live object.
    async fn compare(
        &mut self,
        r: &ObjectRef,
        desired: &Value,
        live: Value,
        ignore: &[String],
    ) -> State {
        match self.cluster().apply(desired, true).await {
            Ok(dry) if !plan::drifted(&dry, &live, ignore) => State::InSync,
            Ok(dry) => {
                let mut fields: Vec<FieldDrift> = plan::differences(desired, &live)
                    .into_iter()
                    .filter(|d| !ignored(&d.pointer, ignore))
                    .map(|d| FieldDrift {
                        desired: masked(r, &d.path, d.desired),
                        live: d.live.map(|l| masked(r, &d.path, l)),
                        path: d.path,
                        pointer: d.pointer,
                    })
                    .collect();
                if fields.is_empty() {
                    // Nothing declared differs: the dry-run removes or changes fields
                    // the repository no longer declares.
                    fields = plan::differences(&live, &dry)
                        .into_iter()
                        .filter(|d| !d.path.starts_with("metadata"))
                        .filter(|d| !ignored(&d.pointer, ignore))
                        .map(|d| FieldDrift {
                            desired: masked(r, &d.path, d.live.unwrap_or(Value::Null)),
                            live: Some(masked(r, &d.path, d.desired)),
                            path: d.path,
                            pointer: d.pointer,
                        })
                        .collect();
                }
                State::Drifted { fields }
            }
            Err(error) => State::Unknown { error },
        }
    }
}
