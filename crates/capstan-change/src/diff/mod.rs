//! The object diff: what a change does to the objects a repository renders.
//!
//! Input is two [`Side`]s, each the rendered output of every Flux Kustomization and HelmRelease
//! (its objects, or the error it failed with). Objects are matched by group, kind, namespace and
//! name across the whole side, then reported under the Kustomization or HelmRelease that produces
//! them on the new side (the old one for removals): added, removed — deleted from the cluster when
//! the producer prunes, left in place when it does not — or changed, with a structural,
//! Kubernetes-aware list of field changes ([`structural`]). Chart-bump noise is stripped
//! ([`attrs`]) and Secret data masked ([`mask`]) before anything is returned. A producer that fails
//! to render on either side is reported as failed and its objects are left out, never shown as
//! everything added or removed.
//!
//! Rendering the result as text, markdown, JSON, a unified diff or an html page is [`render`].

pub mod attrs;
pub mod mask;
pub mod render;
pub mod structural;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use capstan_core::{ResourceId, Value};

pub use attrs::AttrFilter;
pub use structural::{FieldChange, FieldChangeKind, diff_values};

/// The kind of Flux object that produces rendered objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ProducerKind {
    Kustomization,
    HelmRelease,
}

impl ProducerKind {
    /// The short name the CLI uses: `ks` or `hr`.
    pub fn short(self) -> &'static str {
        match self {
            ProducerKind::Kustomization => "ks",
            ProducerKind::HelmRelease => "hr",
        }
    }
}

/// A Flux Kustomization or HelmRelease, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Producer {
    pub kind: ProducerKind,
    pub namespace: String,
    pub name: String,
}

impl Producer {
    pub fn new(
        kind: ProducerKind,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Producer {
        Producer {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for Producer {
    /// `Kustomization/flux-system/apps`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// The render of one producer on one side.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub producer: Producer,
    /// True when objects it stops producing are deleted from the cluster (Kustomization
    /// `prune: true`; always for a HelmRelease).
    pub prune: bool,
    /// The objects it renders, or why it could not be rendered.
    pub outcome: Result<Vec<Value>, String>,
}

/// Everything rendered from one revision of the repository.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub rendered: Vec<Rendered>,
    /// Set when the side could not be rendered at all (discovery failed, revision unreadable).
    pub error: Option<String>,
    /// Producers not rendered because they are suspended: Flux leaves their objects as they are,
    /// so objects they own on the other side are neither added nor removed.
    pub suspended: Vec<Producer>,
}

/// Which side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Which {
    Base,
    Head,
}

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Which::Base => "base",
            Which::Head => "head",
        })
    }
}

/// What happens to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectChange {
    Added,
    /// Gone from the render and deleted from the cluster by prune.
    Deleted,
    /// Gone from the render but left in the cluster (prune off, or `prune: disabled`).
    Orphaned,
    Changed,
}

/// One object that differs.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDiff {
    pub id: ResourceId,
    pub change: ObjectChange,
    /// Set when the object is produced by another Kustomization or HelmRelease than before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<Producer>,
    /// The field changes (empty for added and removed objects).
    pub fields: Vec<FieldChange>,
    /// The old object, stripped and masked.
    pub before: Option<Value>,
    /// The new object, stripped and masked.
    pub after: Option<Value>,
}

/// A producer that failed to render on one side.
#[derive(Debug, Clone, Serialize)]
pub struct RenderFailure {
    pub side: Which,
    pub error: String,
}

/// The differences under one Kustomization or HelmRelease.
#[derive(Debug, Clone, Serialize)]
pub struct GroupDiff {
    pub producer: Producer,
    /// Present on the old side / the new side.
    pub in_base: bool,
    pub in_head: bool,
    pub failures: Vec<RenderFailure>,
    pub objects: Vec<ObjectDiff>,
}

impl GroupDiff {
    /// The namespace `object` lives in: its own, else the producer's (a chart's objects are
    /// rendered without one and land in the release's namespace).
    pub fn namespace_of(&self, object: &ObjectDiff) -> String {
        object
            .id
            .namespace
            .clone()
            .unwrap_or_else(|| self.producer.namespace.clone())
    }
}

/// A producer that fails on both sides with the same error: the change did not cause it.
#[derive(Debug, Clone, Serialize)]
pub struct UnchangedFailure {
    pub producer: Producer,
    pub error: String,
}

/// A unit the change touches that could not be compared: skipped on a side (suspended, its
/// source or chart out of reach, …) or failing the same way on both. Nothing is known about what
/// the change does to it.
#[derive(Debug, Clone, Serialize)]
pub struct NotCompared {
    pub producer: Producer,
    /// Why, per side where the sides differ.
    pub reason: String,
}

/// The whole comparison.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    /// Sides that could not be rendered at all.
    pub side_failures: Vec<RenderFailure>,
    /// Producers with differences or failures, sorted.
    pub groups: Vec<GroupDiff>,
    /// Producers failing on both sides with the same error: warnings, not differences (and
    /// unseen in changed-only mode when the change does not reach them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchanged_failures: Vec<UnchangedFailure>,
    /// Units the change touches that could not be compared: never a clean verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_compared: Vec<NotCompared>,
    /// Changed files outside the compared folder that nothing compared reads (`--path` inside
    /// the repository compares only what is declared in or applies it): their effect is not
    /// compared, and never a clean verdict either. Relative to the compared folder (`../x`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unseen_files: Vec<String>,
    /// Changed objects left out of the report because their kind is skipped
    /// (`--skip-secrets`, `--skip-crds`, `--skip-kinds`): the change still differs.
    #[serde(skip_serializing_if = "is_zero")]
    pub hidden: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl DiffReport {
    /// True when nothing differs and nothing failed (see [`DiffReport::not_compared`] for what
    /// could not be looked at).
    pub fn is_empty(&self) -> bool {
        self.side_failures.is_empty() && self.groups.is_empty()
    }

    /// True when a side or a producer failed to render.
    pub fn has_failures(&self) -> bool {
        !self.side_failures.is_empty() || self.groups.iter().any(|g| !g.failures.is_empty())
    }

    /// Counts of added, removed (deleted or orphaned) and changed objects.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for object in self.groups.iter().flat_map(|g| &g.objects) {
            match object.change {
                ObjectChange::Added => counts.0 += 1,
                ObjectChange::Deleted | ObjectChange::Orphaned => counts.1 += 1,
                ObjectChange::Changed => counts.2 += 1,
            }
        }
        counts
    }
}

/// Behaviour switches of the comparison.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    pub attrs: AttrFilter,
}

/// Objects are matched without their version: a `v1beta1` → `v1` move is a change of `apiVersion`.
type MatchKey = (String, String, Option<String>, String);

fn match_key(id: &ResourceId) -> MatchKey {
    (
        id.group.clone(),
        id.kind.clone(),
        id.namespace.clone(),
        id.name.clone(),
    )
}

struct Placed<'a> {
    producer: &'a Producer,
    prune: bool,
    object: &'a Value,
}

fn index(side: &Side) -> (BTreeMap<MatchKey, Placed<'_>>, BTreeMap<&Producer, &str>) {
    let mut objects = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for rendered in &side.rendered {
        match &rendered.outcome {
            Ok(list) => {
                for object in list {
                    let placed = Placed {
                        producer: &rendered.producer,
                        prune: rendered.prune,
                        object,
                    };
                    // the first producer to render an object owns it, as the first apply would
                    objects
                        .entry(match_key(&ResourceId::of(object)))
                        .or_insert(placed);
                }
            }
            Err(error) => {
                failed.insert(&rendered.producer, error.as_str());
            }
        }
    }
    (objects, failed)
}

/// True when the producer leaves the object in the cluster even though it prunes: for a
/// Kustomization, `kustomize.toolkit.fluxcd.io/prune: disabled`; for a HelmRelease, Helm's
/// `helm.sh/resource-policy: keep` (helm-controller does not read Flux's annotation).
fn prune_disabled(producer: &Producer, object: &Value) -> bool {
    let annotation = |key: &str| {
        object
            .pointer(&format!("/metadata/annotations/{}", key.replace('/', "~1")))
            .and_then(Value::as_str)
    };
    match producer.kind {
        ProducerKind::Kustomization => annotation("kustomize.toolkit.fluxcd.io/prune")
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled")),
        ProducerKind::HelmRelease => {
            annotation("helm.sh/resource-policy").is_some_and(|v| v.trim() == "keep")
        }
    }
}

/// The group of a producer, created on first use.
fn group<'g>(
    groups: &'g mut BTreeMap<Producer, GroupDiff>,
    producer: &Producer,
    base: &Side,
    head: &Side,
) -> &'g mut GroupDiff {
    let present = |side: &Side| side.rendered.iter().any(|r| &r.producer == producer);
    groups.entry(producer.clone()).or_insert_with(|| GroupDiff {
        producer: producer.clone(),
        in_base: present(base),
        in_head: present(head),
        failures: Vec::new(),
        objects: Vec::new(),
    })
}

/// Compares two sides.
pub fn diff(base: &Side, head: &Side, options: &DiffOptions) -> DiffReport {
    let mut report = DiffReport::default();
    for (which, side) in [(Which::Base, base), (Which::Head, head)] {
        if let Some(error) = &side.error {
            report.side_failures.push(RenderFailure {
                side: which,
                error: error.clone(),
            });
        }
    }
    if !report.side_failures.is_empty() {
        return report;
    }
    let (base_objects, base_failed) = index(base);
    let (head_objects, head_failed) = index(head);
    let mut groups: BTreeMap<Producer, GroupDiff> = BTreeMap::new();
    for (producer, error) in &head_failed {
        if base_failed.get(producer) == Some(error) {
            report.unchanged_failures.push(UnchangedFailure {
                producer: (*producer).clone(),
                error: error.to_string(),
            });
        }
    }
    let unchanged = |p: &Producer| report.unchanged_failures.iter().any(|u| &u.producer == p);
    for (failed, which) in [(&base_failed, Which::Base), (&head_failed, Which::Head)] {
        for (producer, error) in failed {
            if unchanged(producer) {
                continue;
            }
            group(&mut groups, producer, base, head)
                .failures
                .push(RenderFailure {
                    side: which,
                    error: error.to_string(),
                });
        }
    }
    let is_failed = |p: &Producer| {
        base_failed.contains_key(p)
            || head_failed.contains_key(p)
            || base.suspended.contains(p)
            || head.suspended.contains(p)
    };

    let keys: std::collections::BTreeSet<&MatchKey> =
        base_objects.keys().chain(head_objects.keys()).collect();
    for key in keys {
        let (b, h) = (base_objects.get(key), head_objects.get(key));
        // an object whose producer failed (or is suspended) on the other side cannot be said to
        // come or go
        let owner_failed = [b, h].iter().flatten().any(|p| is_failed(p.producer));
        if owner_failed {
            continue;
        }
        let prepared = |p: &Placed<'_>| {
            let mut object = p.object.clone();
            options.attrs.apply(&mut object);
            object
        };
        let (before, after) = (b.map(prepared), h.map(prepared));
        let (producer, change, moved_from) = match (b, h) {
            (None, Some(h)) => (h.producer, ObjectChange::Added, None),
            (Some(b), None) => {
                let gone = if b.prune && !prune_disabled(b.producer, b.object) {
                    ObjectChange::Deleted
                } else {
                    ObjectChange::Orphaned
                };
                (b.producer, gone, None)
            }
            (Some(b), Some(h)) => {
                let moved = (b.producer != h.producer).then(|| b.producer.clone());
                if before == after && moved.is_none() {
                    continue;
                }
                (h.producer, ObjectChange::Changed, moved)
            }
            (None, None) => continue,
        };
        let id = ResourceId::of(h.or(b).map(|p| p.object).expect("one side has the object"));
        let mut fields = match (&before, &after) {
            (Some(before), Some(after)) => diff_values(before, after),
            _ => Vec::new(),
        };
        mask::mask_changes(&id, &mut fields);
        let (before, after) = mask::mask_objects(&id, before.as_ref(), after.as_ref());
        group(&mut groups, producer, base, head)
            .objects
            .push(ObjectDiff {
                id,
                change,
                moved_from,
                fields,
                before,
                after,
            });
    }
    for group in groups.values_mut() {
        group.objects.sort_by_cached_key(|o| {
            (
                o.id.kind.clone(),
                o.id.namespace.clone(),
                o.id.name.clone(),
                o.id.group.clone(),
            )
        });
    }
    report.groups = groups
        .into_values()
        .filter(|g| !g.objects.is_empty() || !g.failures.is_empty())
        .collect();
    report
}

#[cfg(test)]
mod tests;
