//! Change analyses: what the cluster will do with a change, read from the typed diff the way the
//! API server and Flux's controllers will read it — one analysis per file, each opening with its
//! `//!` paragraph and carrying its own fixture and snapshot test.
//!
//! Five families ([`Category`]): changes that **wedge the apply** (fields the API server refuses
//! to update), that **lose data** (claims, namespaces, CRDs deleted by prune), that **widen
//! privileges**, that **take something down**, and **what Flux will do** on merge (deleted or
//! orphaned, suspended, dependency order, timing, every image that changes).
//!
//! An analysis reports [`Hit`]s over the [`Context`] (the diff and the [`ChangeFacts`] of both
//! sides); [`run`] places each hit at its repository file and line, applies the repository's
//! settings ([`AnalysisSettings`], `plan.analyses` in `.capstan.yaml`) and returns [`Finding`]s,
//! which `plan` folds into its items, verdict and procedure. Objects of kinds capstan has no
//! schema for are judged only by field names every kind shares, and their findings say so.

mod dependency_order;
mod flux_prune;
mod image_changes;
mod immutable_fields;
mod locate;
mod pdb_blocks_eviction;
mod pod_privileges;
mod pruned_crd;
mod pruned_namespace;
mod pruned_volume;
mod rbac_widened;
mod reconcile_timing;
mod replicas_zero;
mod rollout_with_probes;
mod route_exposure;
mod service_selector;
mod suspended;
#[cfg(test)]
mod testing;
mod unrendered_chart;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use capstan_core::{ResourceId, Value};

use crate::diff::{
    DiffReport, GroupDiff, ObjectChange, ObjectDiff, Producer, ProducerKind, Side, Which,
};
use crate::plan::{ChangedFile, Risk};

pub use locate::locate_line;
pub(crate) use unrendered_chart::{chart_source_users, release_unrendered};

/// The family a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// The API server will refuse the update: the Kustomization stays failed until someone acts.
    WedgesApply,
    /// Deleting it deletes data.
    LosesData,
    /// Pods or subjects get more power than before.
    WidensPrivileges,
    /// Something stops serving.
    TakesDown,
    /// What Flux does on merge that the file diff does not show.
    Flux,
}

impl Category {
    /// The kebab-case name `--fail-on` and `.capstan.yaml` use.
    pub fn name(self) -> &'static str {
        match self {
            Category::WedgesApply => "wedges-apply",
            Category::LosesData => "loses-data",
            Category::WidensPrivileges => "widens-privileges",
            Category::TakesDown => "takes-down",
            Category::Flux => "flux",
        }
    }

    /// The heading people read.
    pub fn title(self) -> &'static str {
        match self {
            Category::WedgesApply => "wedges the apply",
            Category::LosesData => "loses data",
            Category::WidensPrivileges => "widens privileges",
            Category::TakesDown => "takes something down",
            Category::Flux => "what Flux will do",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When a procedure step is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    BeforeMerge,
    AfterMerge,
}

/// One step a finding adds to the procedure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Step {
    pub when: When,
    pub text: String,
}

impl Step {
    pub fn before(text: impl Into<String>) -> Step {
        Step {
            when: When::BeforeMerge,
            text: text.into(),
        }
    }

    pub fn after(text: impl Into<String>) -> Step {
        Step {
            when: When::AfterMerge,
            text: text.into(),
        }
    }
}

/// An analysis's identity and documentation.
#[derive(Debug)]
pub struct AnalysisMeta {
    /// Kebab-case id (`immutable-field`).
    pub id: &'static str,
    pub category: Category,
    /// The risk of its findings unless a hit or the repository's settings say otherwise.
    pub risk: Risk,
    /// One line: what it finds.
    pub summary: &'static str,
}

/// One analysis.
pub trait Analysis: Sync {
    fn meta(&self) -> &'static AnalysisMeta;
    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>);
}

/// Every analysis, in report order.
pub fn all() -> Vec<&'static dyn Analysis> {
    vec![
        &immutable_fields::ImmutableFields,
        &pruned_volume::PrunedVolume,
        &pruned_namespace::PrunedNamespace,
        &pruned_crd::PrunedCrd,
        &pod_privileges::PodPrivileges,
        &rbac_widened::RbacWidened,
        &replicas_zero::ReplicasZero,
        &pdb_blocks_eviction::PdbBlocksEviction,
        &service_selector::ServiceSelector,
        &rollout_with_probes::RolloutWithProbes,
        &route_exposure::RouteExposure,
        &flux_prune::FluxPrune,
        &suspended::Suspended,
        &dependency_order::DependencyOrder,
        &reconcile_timing::ReconcileTiming,
        &image_changes::ImageChanges,
        &unrendered_chart::UnrenderedChart,
    ]
}

/// What the manifest of a Flux Kustomization or HelmRelease says, on one side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnitFacts {
    /// `spec.prune` (a HelmRelease always removes what its chart stops rendering).
    pub prune: bool,
    pub suspend: bool,
    /// Kustomization `spec.force`; HelmRelease `spec.upgrade.force`.
    pub force: bool,
    /// `spec.dependsOn`, as `namespace/name`.
    pub depends_on: Vec<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub wait: bool,
    /// A Kustomization's `spec.path`, normalised (`apps/echo`).
    pub path: Option<String>,
    /// `spec.targetNamespace`.
    pub target_namespace: Option<String>,
    /// The repository file its manifest lives in.
    pub file: Option<String>,
}

impl UnitFacts {
    /// Reads a Flux Kustomization or HelmRelease manifest.
    pub fn of(object: &Value, file: Option<String>) -> UnitFacts {
        let spec = |p: &str| object.pointer(&format!("/spec/{p}"));
        let text = |p: &str| spec(p).and_then(Value::as_str).map(str::to_owned);
        let flag = |p: &str| spec(p).and_then(Value::as_bool).unwrap_or(false);
        let own_namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let depends_on = spec("dependsOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let name = d.get("name").and_then(Value::as_str)?;
                let ns = d
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(own_namespace);
                Some(format!("{ns}/{name}"))
            })
            .collect();
        let is_hr = kind_of(object) == "HelmRelease";
        UnitFacts {
            prune: is_hr || flag("prune"),
            suspend: flag("suspend"),
            force: if is_hr {
                flag("upgrade/force")
            } else {
                flag("force")
            },
            depends_on,
            interval: text("interval"),
            timeout: text("timeout"),
            wait: flag("wait"),
            path: text("path").map(|p| normalize_dir(&p)),
            target_namespace: text("targetNamespace"),
            file,
        }
    }
}

/// What one side knows beyond the diff: the Flux units' manifests, where each rendered object
/// comes from, the text of those files, and every object rendered.
#[derive(Debug, Clone, Default)]
pub struct SideFacts {
    pub units: BTreeMap<Producer, UnitFacts>,
    /// The repository file each object was rendered from (chart objects have none).
    pub object_files: BTreeMap<ResourceId, String>,
    /// The text of the files findings point into, by repository path.
    pub texts: BTreeMap<String, String>,
    /// The side as rendered (objects of producers left out in changed-only mode are absent).
    pub side: Side,
}

impl SideFacts {
    /// The facts of a rendered side, with the file of each object as the build recorded it.
    pub fn new(side: Side, object_files: BTreeMap<ResourceId, String>) -> SideFacts {
        let mut units = BTreeMap::new();
        for rendered in &side.rendered {
            let Ok(objects) = &rendered.outcome else {
                continue;
            };
            for object in objects {
                let kind = match (group_of(object), kind_of(object)) {
                    ("kustomize.toolkit.fluxcd.io", "Kustomization") => ProducerKind::Kustomization,
                    ("helm.toolkit.fluxcd.io", "HelmRelease") => ProducerKind::HelmRelease,
                    _ => continue,
                };
                let id = ResourceId::of(object);
                let namespace = id
                    .namespace
                    .clone()
                    .unwrap_or_else(|| rendered.producer.namespace.clone());
                let producer = Producer::new(kind, namespace, id.name.clone());
                let file = object_files.get(&id).cloned();
                units.insert(producer, UnitFacts::of(object, file));
            }
        }
        SideFacts {
            units,
            object_files,
            texts: BTreeMap::new(),
            side,
        }
    }

    /// Records units the build left unrendered because they are suspended (with a
    /// Kustomization's directory), whether or not their manifests were rendered.
    pub fn suspended(
        mut self,
        units: impl IntoIterator<Item = (Producer, Option<String>)>,
    ) -> SideFacts {
        for (producer, dir) in units {
            let unit = self.units.entry(producer).or_default();
            unit.suspend = true;
            if unit.path.is_none() {
                unit.path = dir.map(|d| normalize_dir(&d)).filter(|d| d != ".");
            }
        }
        self
    }

    /// Every object rendered on this side with its producer.
    pub fn objects(&self) -> impl Iterator<Item = (&Producer, &Value)> {
        self.side.rendered.iter().flat_map(|r| {
            r.outcome
                .as_ref()
                .map(|list| list.iter().map(move |o| (&r.producer, o)))
                .into_iter()
                .flatten()
        })
    }

    /// True when the producer was rendered on this side (not failed, suspended or left out).
    pub fn rendered(&self, producer: &Producer) -> bool {
        self.side
            .rendered
            .iter()
            .any(|r| &r.producer == producer && r.outcome.is_ok())
    }
}

/// Both sides' facts.
#[derive(Debug, Clone, Default)]
pub struct ChangeFacts {
    pub base: SideFacts,
    pub head: SideFacts,
}

impl ChangeFacts {
    pub fn side(&self, which: Which) -> &SideFacts {
        match which {
            Which::Base => &self.base,
            Which::Head => &self.head,
        }
    }

    /// The repository files findings over this diff may point into, per side: the changed
    /// files, the files of the objects of every producer with a difference, and of the Flux
    /// units' manifests. Read them into [`SideFacts::texts`].
    pub fn files_to_read(
        &self,
        diff: &DiffReport,
        changed: &[ChangedFile],
    ) -> BTreeSet<(Which, String)> {
        let mut out = BTreeSet::new();
        // a changed file may set a field of an object declared elsewhere (a patch)
        for file in changed {
            let which = match file.change {
                crate::plan::FileChange::Deleted => Which::Base,
                _ => Which::Head,
            };
            out.insert((which, file.path.clone()));
        }
        for group in &diff.groups {
            for which in [Which::Base, Which::Head] {
                let side = self.side(which);
                if let Some(file) = side.units.get(&group.producer).and_then(|u| u.file.clone()) {
                    out.insert((which, file));
                }
                for object in &group.objects {
                    if let Some(file) = side.object_files.get(&object.id) {
                        out.insert((which, file.clone()));
                    }
                }
                // unchanged objects of the same producer (a Service whose pods changed)
                for (producer, object) in side.objects() {
                    if producer == &group.producer
                        && let Some(file) = side.object_files.get(&ResourceId::of(object))
                    {
                        out.insert((which, file.clone()));
                    }
                }
            }
        }
        for which in [Which::Base, Which::Head] {
            for unit in self.side(which).units.values() {
                if let Some(file) = &unit.file {
                    out.insert((which, file.clone()));
                }
            }
        }
        out
    }
}

/// Everything an analysis reads.
pub struct Context<'a> {
    pub diff: &'a DiffReport,
    pub facts: &'a ChangeFacts,
    pub files: &'a [ChangedFile],
}

impl<'a> Context<'a> {
    /// Every changed, added or removed object with its group.
    pub fn objects(&self) -> impl Iterator<Item = (&'a GroupDiff, &'a ObjectDiff)> {
        self.diff
            .groups
            .iter()
            .flat_map(|g| g.objects.iter().map(move |o| (g, o)))
    }

    /// Changed objects of a kind (and group), with their old and new values.
    pub fn changed(
        &self,
        group: &'a str,
        kinds: &'a [&'a str],
    ) -> impl Iterator<Item = (&'a GroupDiff, &'a ObjectDiff, &'a Value, &'a Value)> {
        self.objects().filter_map(move |(g, o)| {
            if o.change != ObjectChange::Changed
                || o.id.group != group
                || !kinds.contains(&o.id.kind.as_str())
            {
                return None;
            }
            Some((g, o, o.before.as_ref()?, o.after.as_ref()?))
        })
    }

    /// The unit facts of a producer on the side its object comes from (head, else base).
    pub fn unit(&self, producer: &Producer) -> Option<&'a UnitFacts> {
        self.facts
            .head
            .units
            .get(producer)
            .or_else(|| self.facts.base.units.get(producer))
    }
}

/// One thing an analysis found, before it is placed and configured.
#[derive(Debug, Clone)]
pub struct Hit {
    pub producer: Option<Producer>,
    pub object: Option<ResourceId>,
    /// Where the object is read from to locate the line (the side it exists on).
    pub side: Which,
    pub field: String,
    pub reason: String,
    /// Overrides the analysis's default risk for this hit.
    pub risk: Option<Risk>,
    pub procedure: Vec<Step>,
    /// Set when the kind has no schema in capstan and the hit rests on field names alone.
    pub note: Option<String>,
    /// A repository file to name when the object has none (a changed file under a suspended
    /// Kustomization).
    pub file: Option<String>,
}

impl Hit {
    /// A hit on a changed or removed object.
    pub fn on(group: &GroupDiff, object: &ObjectDiff, field: impl Into<String>) -> Hit {
        let side = if object.after.is_some() {
            Which::Head
        } else {
            Which::Base
        };
        Hit {
            producer: Some(group.producer.clone()),
            object: Some(object.id.clone()),
            side,
            field: field.into(),
            reason: String::new(),
            risk: None,
            procedure: Vec::new(),
            note: None,
            file: None,
        }
    }

    /// A hit on a rendered object the diff does not list (unchanged itself).
    pub fn at(producer: &Producer, id: ResourceId, side: Which, field: impl Into<String>) -> Hit {
        Hit {
            producer: Some(producer.clone()),
            object: Some(id),
            side,
            field: field.into(),
            reason: String::new(),
            risk: None,
            procedure: Vec::new(),
            note: None,
            file: None,
        }
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Hit {
        self.reason = reason.into();
        self
    }

    pub fn risk(mut self, risk: Risk) -> Hit {
        self.risk = Some(risk);
        self
    }

    pub fn step(mut self, step: Step) -> Hit {
        self.procedure.push(step);
        self
    }

    /// Marks hits on kinds capstan has no schema for.
    pub fn unschematized(mut self, id: &ResourceId) -> Hit {
        if !has_schema(&id.group) {
            self.note = Some(format!(
                "{} has no schema in capstan: judged by field names only",
                id.kind
            ));
        }
        self
    }
}

/// One finding as `plan` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub analysis: String,
    pub category: Category,
    pub risk: Risk,
    /// The object (`Kind/namespace/name`), or the Flux unit when the finding is about it.
    pub object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub procedure: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The Flux Kustomization that applies it, when known.
    #[serde(skip)]
    pub kustomization: Option<String>,
    #[serde(skip)]
    pub key: Option<(Producer, ResourceId)>,
}

impl Finding {
    /// `file:line`, `file`, or nothing.
    pub fn location(&self) -> Option<String> {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => Some(format!("{file}:{line}")),
            (Some(file), None) => Some(file.clone()),
            _ => None,
        }
    }

    /// True when `pattern` names this finding: its analysis id, its category, or `*`.
    pub fn matches(&self, pattern: &str) -> bool {
        crate::diff::attrs::glob_match(pattern, &self.analysis) || pattern == self.category.name()
    }
}

/// The repository's settings for one analysis (`plan.analyses.<id>` in `.capstan.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisSetting {
    /// `false` turns the analysis off.
    pub enabled: Option<bool>,
    /// The risk of its findings.
    pub risk: Option<Risk>,
}

/// Settings by analysis id.
pub type AnalysisSettings = BTreeMap<String, AnalysisSetting>;

/// Ids every analysis answers to, for validating settings.
pub fn ids() -> Vec<&'static str> {
    all().iter().map(|a| a.meta().id).collect()
}

/// Runs every enabled analysis and returns its findings, placed at their file and line, most
/// severe first.
pub fn run(
    cx: &Context<'_>,
    places: &BTreeMap<Producer, String>,
    settings: &AnalysisSettings,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for analysis in all() {
        let meta = analysis.meta();
        let setting = settings.get(meta.id).cloned().unwrap_or_default();
        if setting.enabled == Some(false) {
            continue;
        }
        let mut hits = Vec::new();
        analysis.run(cx, &mut hits);
        for hit in hits {
            let risk = setting.risk.or(hit.risk).unwrap_or(meta.risk);
            findings.push(place(cx, meta, hit, risk, places));
        }
    }
    findings.sort_by(|a, b| {
        b.risk
            .cmp(&a.risk)
            .then(a.category.cmp(&b.category))
            .then(a.object.cmp(&b.object))
            .then(a.field.cmp(&b.field))
    });
    findings.dedup();
    findings
}

fn place(
    cx: &Context<'_>,
    meta: &AnalysisMeta,
    hit: Hit,
    risk: Risk,
    places: &BTreeMap<Producer, String>,
) -> Finding {
    let side = cx.facts.side(hit.side);
    let unit_file = hit
        .producer
        .as_ref()
        .and_then(|p| side.units.get(p).or_else(|| cx.unit(p)))
        .and_then(|u| u.file.clone());
    let own_file = hit
        .object
        .as_ref()
        .and_then(|id| side.object_files.get(id).cloned());
    // a field a patch in another changed file sets (a cluster's values patch of a base
    // HelmRelease): that file and line, rather than the base's nearest ancestor
    if hit.file.is_none()
        && let Some(id) = &hit.object
        && let Some((file, line)) = patched_in(cx, &hit, id, own_file.as_deref())
    {
        return finding(meta, hit, risk, places, Some(file), Some(line));
    }
    let file = hit.file.clone().or(own_file.clone()).or(unit_file.clone());
    let line = file.as_ref().and_then(|file| {
        let text = side
            .texts
            .get(file)
            .or_else(|| cx.facts.side(other(hit.side)).texts.get(file))?;
        match (&hit.object, own_file.is_some()) {
            (Some(id), true) => locate_line(text, id, &hit.field),
            _ => {
                // a chart's object: point at the HelmRelease — its chart version, else the
                // chart it names (a chartRef, a local chart's path), else its values
                let producer = hit.producer.as_ref()?;
                let id = producer_id(producer);
                [
                    "spec.chart.spec.version",
                    "spec.chartRef",
                    "spec.chart.spec.chart",
                    "spec.values",
                ]
                .iter()
                .find_map(|f| locate::locate_exact(text, &id, f))
                .or_else(|| locate_line(text, &id, "spec"))
            }
        }
    });
    finding(meta, hit, risk, places, file, line)
}

/// The changed file, other than the object's own, whose changed fields include the hit's field
/// and that holds a document of the object, with the field's line there.
fn patched_in(
    cx: &Context<'_>,
    hit: &Hit,
    id: &ResourceId,
    own_file: Option<&str>,
) -> Option<(String, usize)> {
    let side = cx.facts.side(hit.side);
    cx.files.iter().find_map(|changed| {
        if changed.change == crate::plan::FileChange::Deleted
            || Some(changed.path.as_str()) == own_file
            || !changed
                .fields
                .iter()
                .any(|f| f == &hit.field || hit.field.starts_with(&format!("{f}.")))
        {
            return None;
        }
        let text = side.texts.get(&changed.path)?;
        let line = locate_line(text, id, &hit.field)?;
        Some((changed.path.clone(), line))
    })
}

fn finding(
    meta: &AnalysisMeta,
    hit: Hit,
    risk: Risk,
    places: &BTreeMap<Producer, String>,
    file: Option<String>,
    line: Option<usize>,
) -> Finding {
    let object = match &hit.object {
        Some(id) => id.to_string(),
        None => hit
            .producer
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    };
    Finding {
        analysis: meta.id.to_owned(),
        category: meta.category,
        risk,
        object,
        producer: hit.producer.as_ref().map(|p| p.to_string()),
        field: hit.field,
        file,
        line,
        reason: hit.reason,
        procedure: hit.procedure,
        note: hit.note,
        kustomization: hit.producer.as_ref().and_then(|p| places.get(p).cloned()),
        key: hit.producer.clone().zip(hit.object.clone()),
    }
}

fn other(which: Which) -> Which {
    match which {
        Which::Base => Which::Head,
        Which::Head => Which::Base,
    }
}

/// The resource id of a Flux unit's own manifest.
pub(crate) fn producer_id(producer: &Producer) -> ResourceId {
    let (group, kind) = match producer.kind {
        ProducerKind::Kustomization => ("kustomize.toolkit.fluxcd.io", "Kustomization"),
        ProducerKind::HelmRelease => ("helm.toolkit.fluxcd.io", "HelmRelease"),
    };
    ResourceId {
        group: group.to_owned(),
        version: String::new(),
        kind: kind.to_owned(),
        namespace: Some(producer.namespace.clone()),
        name: producer.name.clone(),
    }
}

// ----- shared helpers ------------------------------------------------------------------------

pub(crate) use capstan_core::workload::{group_of, kind_of, pod_spec};

pub(crate) fn normalize_dir(dir: &str) -> String {
    let d = dir.trim_start_matches("./").trim_end_matches('/');
    if d.is_empty() {
        ".".to_owned()
    } else {
        d.to_owned()
    }
}

/// True for API groups whose kinds capstan knows the schema of (Kubernetes' own).
pub(crate) fn has_schema(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "policy"
            | "rbac.authorization.k8s.io"
            | "networking.k8s.io"
            | "storage.k8s.io"
            | "apiextensions.k8s.io"
            | "autoscaling"
            | "gateway.networking.k8s.io"
            | "kustomize.toolkit.fluxcd.io"
            | "helm.toolkit.fluxcd.io"
            | "source.toolkit.fluxcd.io"
    )
}

/// Who deletes an object its producer stops rendering: `deleted by prune` (a Kustomization) or
/// `deleted by Helm on upgrade` (a HelmRelease).
pub(crate) fn deleted_by(producer: &Producer) -> &'static str {
    match producer.kind {
        ProducerKind::Kustomization => "deleted by prune",
        ProducerKind::HelmRelease => "deleted by Helm on upgrade",
    }
}

/// How to keep an object its producer is about to delete: Flux's prune opt-out for a
/// Kustomization's object; Helm's keep policy for a release's (helm-controller ignores Flux's
/// annotation), set in the chart or by a `postRenderers` patch of the HelmRelease.
pub(crate) fn keep_annotation(producer: &Producer, what: &str) -> String {
    match producer.kind {
        ProducerKind::Kustomization => {
            format!("annotate {what} with kustomize.toolkit.fluxcd.io/prune: disabled")
        }
        ProducerKind::HelmRelease => format!(
            "annotate {what} with helm.sh/resource-policy: keep (in the chart, or with a spec.postRenderers patch of {producer})"
        ),
    }
}

/// Kinds that live outside namespaces (a chart's object of one of them gets no release namespace).
fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "StorageClass"
            | "CSIDriver"
            | "CSINode"
            | "VolumeAttachment"
            | "CustomResourceDefinition"
            | "APIService"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PriorityClass"
            | "RuntimeClass"
            | "IngressClass"
            | "GatewayClass"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "ClusterIssuer"
    )
}

/// The object as it lives in the cluster: a chart renders namespaced objects without
/// `metadata.namespace`, and Helm installs them in the release's namespace (the HelmRelease's
/// `spec.targetNamespace`, else its own), which a kubectl command must name.
pub(crate) fn live_id(cx: &Context<'_>, producer: &Producer, id: &ResourceId) -> ResourceId {
    let mut live = id.clone();
    if live.namespace.is_none()
        && producer.kind == ProducerKind::HelmRelease
        && !cluster_scoped(&id.kind)
    {
        live.namespace = Some(
            cx.unit(producer)
                .and_then(|u| u.target_namespace.clone())
                .unwrap_or_else(|| producer.namespace.clone()),
        );
    }
    live
}

/// `kind` and a namespace-qualified kubectl name: `statefulset/db -n data`.
pub(crate) fn kubectl_ref(id: &ResourceId) -> String {
    let kind = if id.group.is_empty() {
        id.kind.to_ascii_lowercase()
    } else {
        format!("{}.{}", id.kind.to_ascii_lowercase(), id.group)
    };
    match &id.namespace {
        Some(ns) => format!("{kind} {} -n {ns}", id.name),
        None => format!("{kind} {}", id.name),
    }
}

/// The pod template's labels of a workload.
pub(crate) fn pod_labels(object: &Value) -> Option<&capstan_core::Map> {
    let pointer = match kind_of(object) {
        "Pod" => "/metadata/labels",
        "CronJob" => "/spec/jobTemplate/spec/template/metadata/labels",
        _ => "/spec/template/metadata/labels",
    };
    pod_spec(object)?;
    object.pointer(pointer).and_then(Value::as_object)
}

/// Every container of a pod spec (init and ephemeral included), by name, with its field path in
/// the diff's notation (`spec.template.spec.containers[name=app]`).
pub(crate) fn containers<'a>(spec: &'a Value, base: &str) -> Vec<(String, &'a Value, String)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for container in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let path = format!("{base}.{list}[name={name}]");
            out.push((name, container, path));
        }
    }
    out
}

/// Renders a value compactly for a reason text.
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "(unset)".to_owned(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FileChange;

    const BASE: &str = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  chart:
    spec:
      chart: podinfo
";

    const PATCH: &str = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  chart:
    spec:
      version: \"6.8.0\"
";

    #[test]
    fn a_field_a_patch_sets_is_placed_in_the_patch() {
        let release = |version: &str| {
            serde_json::json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "podinfo", "namespace": "podinfo"},
                "spec": {"chart": {"spec": {"chart": "podinfo", "version": version}}}})
        };
        let side = |version: &str| {
            let object = release(version);
            let mut files = BTreeMap::new();
            files.insert(ResourceId::of(&object), "apps/base/release.yaml".to_owned());
            let side = Side {
                rendered: vec![crate::diff::Rendered {
                    producer: Producer::new(ProducerKind::Kustomization, "flux-system", "apps"),
                    prune: true,
                    outcome: Ok(vec![object]),
                }],
                ..Default::default()
            };
            let mut facts = SideFacts::new(side, files);
            facts
                .texts
                .insert("apps/base/release.yaml".into(), BASE.into());
            facts
                .texts
                .insert("apps/production/values.yaml".into(), PATCH.into());
            facts
        };
        let facts = ChangeFacts {
            base: side("6.7.0"),
            head: side("6.8.0"),
        };
        let report = crate::diff::diff(&facts.base.side, &facts.head.side, &Default::default());
        let changed = |fields: &[&str]| {
            vec![ChangedFile {
                path: "apps/production/values.yaml".into(),
                change: FileChange::Changed,
                fields: fields.iter().map(|f| f.to_string()).collect(),
                kustomizations: vec!["apps".into()],
            }]
        };
        let placed = |files: &[ChangedFile]| {
            let cx = Context {
                diff: &report,
                facts: &facts,
                files,
            };
            let (group, object) = cx.objects().next().expect("a change");
            let hit = Hit::on(group, object, "spec.chart.spec.version");
            let meta = unrendered_chart::UnrenderedChart.meta();
            let f = place(&cx, meta, hit, Risk::Low, &BTreeMap::new());
            f.location()
        };
        // the patch changed the field: its line there
        assert_eq!(
            placed(&changed(&["spec.chart.spec.version"])).as_deref(),
            Some("apps/production/values.yaml:9")
        );
        // the patch changed something else: the object's own file
        assert_eq!(
            placed(&changed(&["spec.values"])).as_deref(),
            Some("apps/base/release.yaml:8")
        );
    }

    #[test]
    fn a_chart_object_is_placed_at_the_chart_its_release_names() {
        const RELEASE: &str = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: apps
spec:
  interval: 1h
  chartRef:
    kind: OCIRepository
    name: app-template
  values:
    replicas: 1
";
        let release = serde_json::json!({"apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease", "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "app-template"}}});
        let deployment = |replicas: u32| {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "apps"}, "spec": {"replicas": replicas}})
        };
        let side = |replicas: u32| {
            let mut files = BTreeMap::new();
            files.insert(ResourceId::of(&release), "apps/web/release.yaml".to_owned());
            let side = Side {
                rendered: vec![
                    crate::diff::Rendered {
                        producer: Producer::new(ProducerKind::Kustomization, "flux-system", "apps"),
                        prune: true,
                        outcome: Ok(vec![release.clone()]),
                    },
                    crate::diff::Rendered {
                        producer: Producer::new(ProducerKind::HelmRelease, "apps", "web"),
                        prune: true,
                        outcome: Ok(vec![deployment(replicas)]),
                    },
                ],
                ..Default::default()
            };
            let mut facts = SideFacts::new(side, files);
            facts
                .texts
                .insert("apps/web/release.yaml".into(), RELEASE.into());
            facts
        };
        let facts = ChangeFacts {
            base: side(1),
            head: side(0),
        };
        let report = crate::diff::diff(&facts.base.side, &facts.head.side, &Default::default());
        let cx = Context {
            diff: &report,
            facts: &facts,
            files: &[],
        };
        let (group, object) = cx
            .objects()
            .find(|(_, o)| o.id.kind == "Deployment")
            .expect("the deployment changes");
        let hit = Hit::on(group, object, "spec.replicas");
        let meta = replicas_zero::ReplicasZero.meta();
        let finding = place(&cx, meta, hit, Risk::High, &BTreeMap::new());
        // no chart version: the chartRef (not the nearest ancestor of a version it lacks)
        assert_eq!(
            finding.location().as_deref(),
            Some("apps/web/release.yaml:8")
        );
    }
}
