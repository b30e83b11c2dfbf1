//! `capstan build`: every Flux Kustomization and HelmRelease of a repository rendered offline,
//! object for object as kustomize-controller and helm-controller would apply them.
//!
//! [`build_all`] discovers the clusters ([`crate::discovery`]), then per cluster:
//! 1. builds each Kustomization's manifests in parallel ([`kustomization::build_manifests`]:
//!    Flux's kustomization file, kustomize, SOPS) — the part that needs only the repository;
//! 2. finishes them in rounds ([`kustomization::post_build`]): a Kustomization waits for its
//!    parent (whose substitution may change its spec: then its manifests are rebuilt with the
//!    substituted spec) and for the Kustomizations that render the ConfigMaps and Secrets its
//!    `substituteFrom` names (they are taken from what the repository renders, after their own
//!    substitution); a cycle between them is broken by reading the objects before substitution;
//! 3. renders each HelmRelease (as its Kustomization emits it) through a
//!    [`crate::helm::HelmRenderer`], in parallel.
//!
//! Each failure is recorded on its Kustomization or HelmRelease and the rest goes on. Suspended
//! objects are reported, not rendered; Kustomizations whose source is not this repository are
//! reported as skipped. Charts from HelmRepositories are fetched through
//! [`BuildOptions::charts`] (once per chart and version, however many releases share it); one
//! that cannot be fetched fails its release only, and one missing from the cache in offline mode
//! (or with no fetcher) is reported as skipped. Results come in dependency order.

pub mod decrypt_sources;
pub mod helmrelease;
pub mod kustomization;
pub mod layered_fs;
pub mod network;
pub mod outcome;
pub mod overlay;
mod runtime;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_core::{Diagnostic, Fs, ResourceId, Value};
use rayon::prelude::*;

use crate::charts::Charts;
use crate::discovery::{self, Cluster};
use crate::graph::DependencyGraph;
use crate::helm::HelmRenderer;
use crate::model::{FluxKind, FluxObject, ObjectKey};
use crate::operator::copy::Copied;
use crate::sops::Keys;
use crate::source::SourceStatus;
use crate::source::artifact::ArtifactFs;
use crate::source::ignore::{IgnoringFs, SourceIgnore, parse_rules};
use crate::substitute::{PostBuild, SubstituteOptions};

pub use layered_fs::LayeredFs;
pub use network::NetworkOutage;
pub use outcome::{Effective, Reason, inventory_id};

/// A callback told about each finished Kustomization or HelmRelease.
pub type Progress = Arc<dyn Fn(&ObjectKey) + Send + Sync>;

/// Settings of a build.
pub struct BuildOptions {
    /// An undefined `${var}` without default fails the Kustomization (`--no-strict-substitute`
    /// turns it off).
    pub strict_substitute: bool,
    /// age identities for SOPS; empty keys mask encrypted values.
    pub keys: Keys,
    /// How charts are rendered; `None` reports every HelmRelease as "helm not found".
    pub helm: Option<Arc<dyn HelmRenderer>>,
    /// Render HelmReleases at all.
    pub render_helm_releases: bool,
    /// Fetches HelmRepository (and OCI) charts, through the chart cache; `None` reports every
    /// remote chart as not available offline.
    pub charts: Option<Arc<Charts>>,
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
    pub discovery: discovery::Options,
    /// Called after each Kustomization or HelmRelease finishes (for progress bars).
    pub progress: Option<Progress>,
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions {
            strict_substitute: true,
            keys: Keys::none(),
            helm: None,
            render_helm_releases: true,
            charts: None,
            kube_version: None,
            api_versions: Vec::new(),
            discovery: discovery::Options::default(),
            progress: None,
        }
    }
}

/// What happened to one Kustomization or HelmRelease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Rendered,
    Failed,
    Suspended,
    Skipped,
    /// Left out by a changed-only build: none of its inputs changed.
    Unchanged,
}

/// One rendered object and where it came from: the file (relative to the repository root), the
/// index of its YAML document there and the line that document begins on, when known (a chart's
/// objects and a generator's have no document), and whether its source document is
/// SOPS-encrypted in Git.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BuiltObject {
    pub object: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip)]
    pub document: Option<usize>,
    #[serde(skip)]
    pub line: Option<usize>,
    /// True when the source document carries SOPS metadata (before decryption or masking).
    #[serde(skip)]
    pub encrypted: bool,
}

impl BuiltObject {
    /// An object with no known file.
    pub fn new(object: Value) -> BuiltObject {
        BuiltObject {
            object,
            file: None,
            document: None,
            line: None,
            encrypted: false,
        }
    }

    /// Where it is declared: file, document and line, as far as known.
    pub fn location(&self) -> capstan_core::Location {
        capstan_core::Location {
            file: self.file.clone(),
            document: self.document,
            line: self.line,
            field: None,
        }
    }

    /// Its Flux inventory id (`<ns>_<name>_<group>_<kind>`).
    pub fn inventory_id(&self) -> String {
        inventory_id(&self.object)
    }
}

/// The result for one Flux Kustomization or HelmRelease.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BuildResult {
    pub key: ObjectKey,
    /// The cluster (entry point) it belongs to.
    pub cluster: String,
    /// The Kustomization that applies it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ObjectKey>,
    /// The built directory (Kustomizations) relative to the repository root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub status: Status,
    /// Why it failed or was skipped, for people.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Why it failed or was skipped, typed: what commands decide from.
    #[serde(skip)]
    pub reasons: Vec<Reason>,
    /// The spec the controller acts on (as the parent applies it; an entry point's own).
    #[serde(skip)]
    pub effective: Effective,
    /// Where the object itself is declared (file and document, relative to the repository root).
    #[serde(skip)]
    pub declared: capstan_core::Location,
    pub objects: Vec<BuiltObject>,
    /// Objects whose SOPS values were masked for want of a key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_decrypted: Vec<ResourceId>,
    /// The merged values (HelmReleases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Value>,
    /// Repository paths it read besides its objects' files: a HelmRelease's chart directory
    /// (a chart in this repository) and `valuesFiles`.
    #[serde(skip)]
    pub reads: Vec<PathBuf>,
}

impl BuildResult {
    fn new(key: ObjectKey, cluster: &str, parent: Option<ObjectKey>) -> BuildResult {
        BuildResult {
            key,
            cluster: cluster.to_owned(),
            parent,
            path: None,
            status: Status::Rendered,
            errors: Vec::new(),
            reasons: Vec::new(),
            effective: Effective::default(),
            declared: capstan_core::Location::default(),
            objects: Vec::new(),
            not_decrypted: Vec::new(),
            values: None,
            reads: Vec::new(),
        }
    }

    fn fail(&mut self, reason: Reason, message: String) {
        self.status = Status::Failed;
        self.reasons.push(reason);
        self.errors.push(message);
    }

    /// Not rendered: `status` says how, `reason` why; `message` for people when there is one.
    fn leave_out(&mut self, status: Status, reason: Reason, message: Option<String>) {
        self.status = status;
        self.reasons.push(reason);
        self.errors.extend(message);
    }

    /// The files its objects came from, and the directory it builds (Kustomizations), relative
    /// to the repository root.
    pub fn inputs(&self) -> std::collections::BTreeSet<PathBuf> {
        self.objects
            .iter()
            .filter_map(|o| o.file.clone())
            .chain(self.path.clone())
            .chain(self.reads.iter().cloned())
            .collect()
    }

    /// The inventory ids of its objects, in render order.
    pub fn inventory(&self) -> Vec<String> {
        self.objects.iter().map(BuiltObject::inventory_id).collect()
    }

    /// True when it was not rendered for a reason outside the repository or on purpose
    /// (suspended, source or chart out of reach, left out by changed-only mode).
    pub fn is_left_out(&self) -> bool {
        matches!(
            self.status,
            Status::Skipped | Status::Suspended | Status::Unchanged
        )
    }
}

/// A failure on the way, typed, with its message.
#[derive(Debug, Clone)]
struct Failure {
    reason: Reason,
    message: String,
}

impl Failure {
    fn new(reason: Reason, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
        }
    }
}

/// The typed reason of a Kustomization build error.
fn reason_of_ks(error: &kustomization::KsBuildError) -> Reason {
    use kustomization::KsBuildError as E;
    match error {
        E::Kustomize(e) => reason_of_kustomize(e),
        E::Overlay(_) | E::Convention { .. } => Reason::Kustomize { file: None },
        E::Decrypt { id, .. } => Reason::Decryption { object: id.clone() },
        E::Substitute(e) => reason_of_substitute(e),
    }
}

fn reason_of_kustomize(error: &capstan_kustomize::Error) -> Reason {
    use capstan_kustomize::Error as E;
    match error {
        E::Context { source, .. } => reason_of_kustomize(source),
        E::Remote { message } => Reason::RemoteResourceUnavailable {
            url: message.clone(),
        },
        E::InvalidKustomization { file, .. }
        | E::Yaml { file, .. }
        | E::BadObject { file, .. }
        | E::Field { file, .. } => Reason::Kustomize {
            file: Some(file.clone()),
        },
        E::Io { path, .. } => Reason::Kustomize {
            file: Some(path.clone()),
        },
        _ => Reason::Kustomize { file: None },
    }
}

fn reason_of_substitute(error: &crate::substitute::SubstituteError) -> Reason {
    use crate::substitute::ExpandError;
    use crate::substitute::SubstituteError as E;
    match error {
        E::MissingReference {
            kind,
            name,
            namespace,
            ..
        } => Reason::MissingSubstituteFrom {
            kind: kind.clone(),
            name: name.clone(),
            namespace: namespace.clone(),
        },
        E::Expand {
            source: ExpandError::Unset { name, line },
            ..
        } => Reason::MissingVariable {
            variable: name.clone(),
            line: *line,
        },
        _ => Reason::Substitution,
    }
}

/// The typed reason of a HelmRelease build error.
fn reason_of_hr(error: &helmrelease::HrBuildError) -> Reason {
    use crate::charts::ChartError;
    use helmrelease::HrBuildError as E;
    match error {
        E::Chart(ChartError::Offline(miss)) => Reason::ChartUnavailableOffline {
            chart: miss.to_string(),
        },
        E::Chart(
            e @ (ChartError::Network { .. }
            | ChartError::Unreachable { .. }
            | ChartError::Registry {
                unreachable: true, ..
            }),
        ) => Reason::ChartUnreachable {
            chart: e.to_string(),
        },
        _ => Reason::Chart,
    }
}

/// Everything a build produced.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BuildReport {
    /// The folder asked for, relative to the repository root, when `--path` pointed inside a
    /// repository (results are those in or applying that folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focus: Option<PathBuf>,
    /// The repository root discovery read from (the path asked for, or the work tree's root
    /// above it): the root that relative file paths of the results are relative to.
    #[serde(skip)]
    pub root: PathBuf,
    pub kustomizations: Vec<BuildResult>,
    pub helm_releases: Vec<BuildResult>,
    /// Discovery's findings and dependency-graph problems (cycles, missing dependencies).
    pub diagnostics: Vec<Diagnostic>,
    /// True when [`discovery::Options::scope`] held: Kustomizations outside it were not built
    /// (reported as [`Status::Unchanged`]). False when the build had to render everything (see
    /// [`crate::scope`]).
    #[serde(skip)]
    pub changed_only: bool,
    /// The network found unreachable in this run, with the releases it kept from rendering
    /// (said once here, not once per release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkOutage>,
}

impl BuildReport {
    /// True when any Kustomization or HelmRelease failed.
    pub fn has_failures(&self) -> bool {
        self.kustomizations
            .iter()
            .chain(&self.helm_releases)
            .any(|r| r.status == Status::Failed)
    }
}

/// The build could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Discovery(#[from] discovery::DiscoveryError),
}

/// Discovers and builds everything under `path` — or, with a changed-only
/// [`discovery::Options::scope`], what the changed files can reach (building everything instead
/// when something that reaches needs an object only an unrendered Kustomization provides).
pub fn build_all(
    fs: &dyn Fs,
    path: &Path,
    options: &BuildOptions,
) -> Result<BuildReport, BuildError> {
    let mut discovery_options = options.discovery.clone();
    // a changed-only build that misses an object declared outside its scope (a chart's
    // OCIRepository, a `substituteFrom` ConfigMap) first renders the Kustomizations that may
    // declare it; only when that is not enough does it render everything
    for _ in 0..=MAX_WIDENINGS {
        let Some(scope) = discovery_options.scope.clone() else {
            break;
        };
        match build_once(fs, path, options, &discovery_options)? {
            Once::Complete(report) => return Ok(report),
            Once::Incomplete { providers, .. } if !providers.is_empty() => {
                let forced = scope.as_ref().clone().force(providers);
                if forced.forced().len() == scope.forced().len() {
                    break; // nothing new to render: the missing object is elsewhere
                }
                discovery_options.scope = Some(Arc::new(forced));
            }
            Once::Incomplete { .. } => break,
        }
    }
    let everything = discovery::Options {
        scope: None,
        ..options.discovery.clone()
    };
    // without a scope nothing is left out: the build is complete
    match build_once(fs, path, options, &everything)? {
        Once::Complete(report) | Once::Incomplete { report, .. } => Ok(report),
    }
}

/// How many times a changed-only build widens its scope before rendering everything.
const MAX_WIDENINGS: usize = 2;

/// One build attempt: complete, or (changed-only) missing objects that `providers` — the
/// Kustomizations left out whose files may declare them — may render.
enum Once {
    Complete(BuildReport),
    Incomplete {
        report: BuildReport,
        providers: Vec<ObjectKey>,
    },
}

fn build_once(
    fs: &dyn Fs,
    path: &Path,
    options: &BuildOptions,
    discovery_options: &discovery::Options,
) -> Result<Once, BuildError> {
    let renderer = discovery::default_renderer();
    let discovery = discovery::discover(fs, path, renderer.as_ref(), discovery_options)?;
    let scoped = discovery_options.scope.is_some();
    // Builds read the repository as source-controller archives it.
    let ignore = &discovery.ignore;
    let artifact = IgnoringFs::new(fs, &discovery.root, Arc::new(ignore.rules_for(None)));
    let views = ArtifactViews {
        artifact: &artifact,
        checkout: fs,
        ignore,
    };
    let fs: &dyn Fs = &artifact;
    let focused = discovery.focused_keys();
    let mut report = BuildReport {
        diagnostics: discovery.diagnostics.clone(),
        changed_only: scoped,
        focus: discovery.focus.clone(),
        root: discovery.root.clone(),
        ..BuildReport::default()
    };
    for cluster in &discovery.clusters {
        report
            .diagnostics
            .extend(cluster.diagnostics.iter().cloned());
        let graph = DependencyGraph::of(cluster);
        report.diagnostics.extend(graph.diagnostics());
        let waves: HashMap<ObjectKey, usize> = graph
            .nodes
            .iter()
            .map(|n| (n.key.clone(), n.wave.unwrap_or(usize::MAX)))
            .collect();
        let (mut kustomizations, finals) = build_cluster_kustomizations(
            &views,
            &discovery.root,
            cluster,
            options,
            &mut report.diagnostics,
        );
        let missing = if scoped {
            scope_gaps(cluster, &kustomizations, &finals)
        } else {
            Vec::new()
        };
        if !missing.is_empty() {
            report.changed_only = false;
            let providers = providers_of(fs, &discovery.root, cluster, &missing);
            return Ok(Once::Incomplete { report, providers });
        }
        let mut releases = build_cluster_releases(
            fs,
            &discovery.root,
            cluster,
            &kustomizations,
            &finals,
            options,
        );
        // `--path` inside a repository: what is declared in or applies that folder, and what
        // those apply
        if let Some(kept) = &focused {
            kustomizations.retain(|r| kept.contains(&r.key));
            releases.retain(|r| kept.contains(&r.key));
        }
        let wave = |r: &BuildResult| waves.get(&r.key).copied().unwrap_or(usize::MAX);
        kustomizations.sort_by_key(wave);
        releases.sort_by_key(wave);
        report.kustomizations.extend(kustomizations);
        report.helm_releases.extend(releases);
    }
    let cause = options
        .charts
        .as_deref()
        .and_then(|c| c.network().unreachable());
    network::summarize(&mut report, cause);
    Ok(Once::Complete(report))
}

/// What a changed-only build of `cluster` lacks, as (kind, name): the source of a rendered
/// Kustomization or HelmRelease that no rendered Kustomization declares, and the ConfigMaps and
/// Secrets its `substituteFrom` or `valuesFrom` names that none renders. Empty when nothing was
/// left out, or nothing is missing.
fn scope_gaps(
    cluster: &Cluster,
    results: &[BuildResult],
    index: &ObjectIndex,
) -> Vec<(String, String)> {
    let mut missing = Vec::new();
    if !cluster.kustomizations.iter().any(|k| k.out_of_scope) {
        return missing;
    }
    let has = |kind: &str, namespace: &str, name: &str| {
        index.contains_key(&(kind.to_owned(), namespace.to_owned(), name.to_owned()))
    };
    let built: std::collections::HashSet<&ObjectKey> = results
        .iter()
        .filter(|r| r.status == Status::Rendered || r.status == Status::Failed)
        .map(|r| &r.key)
        .collect();
    for k in cluster.kustomizations.iter().filter(|k| !k.out_of_scope) {
        let namespace = &k.found.key.namespace;
        if let SourceStatus::Missing { source } = &k.source {
            missing.push((source.kind.as_str().to_owned(), source.name.clone()));
        }
        if built.contains(&k.found.key)
            && let Some(post) = &k.found.object.spec.post_build
        {
            for r in &post.substitute_from {
                if !has(&r.kind, namespace, &r.name) {
                    missing.push((r.kind.clone(), r.name.clone()));
                }
            }
        }
    }
    for release in &cluster.helm_releases {
        let namespace = &release.found.key.namespace;
        if let Some(SourceStatus::Missing { source }) = &release.source {
            missing.push((source.kind.as_str().to_owned(), source.name.clone()));
        }
        for r in &release.found.object.spec.values_from {
            if !has(&r.kind, namespace, &r.name) {
                missing.push((r.kind.clone(), r.name.clone()));
            }
        }
    }
    missing.sort();
    missing.dedup();
    missing
}

/// The Kustomizations a changed-only build left out whose directory holds a YAML file that
/// declares one of `missing` (a document of that kind and name; kustomize may still rename it,
/// or the Kustomization may read it from elsewhere). A guess that only saves time: the widened build is checked again ([`scope_gaps`]), and renders everything when the
/// guess was not enough.
fn providers_of(
    fs: &dyn Fs,
    root: &Path,
    cluster: &Cluster,
    missing: &[(String, String)],
) -> Vec<ObjectKey> {
    let declares = |text: &str| {
        let named = missing
            .iter()
            .any(|(kind, name)| text.contains(kind.as_str()) && text.contains(name.as_str()));
        named
            && capstan_core::yaml::parse_documents(text).is_ok_and(|documents| {
                documents.iter().any(|document| {
                    let id = ResourceId::of(document);
                    missing
                        .iter()
                        .any(|(kind, name)| &id.kind == kind && &id.name == name)
                })
            })
    };
    cluster
        .kustomizations
        .iter()
        .filter(|k| k.out_of_scope)
        .filter(|k| {
            k.dir
                .as_ref()
                .is_some_and(|dir| yaml_files_declare(fs, &root.join(dir), &declares))
        })
        .map(|k| k.found.key.clone())
        .collect()
}

/// Whether a YAML file in `dir`, at any depth, has text `declares` accepts.
fn yaml_files_declare(fs: &dyn Fs, dir: &Path, declares: &dyn Fn(&str) -> bool) -> bool {
    let Ok(entries) = fs.read_dir(dir) else {
        return false;
    };
    entries.iter().any(|entry| {
        if fs.is_dir(entry) {
            yaml_files_declare(fs, entry, declares)
        } else {
            entry.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && fs.read_to_string(entry).is_ok_and(|text| declares(&text))
        }
    })
}

/// An index of the ConfigMaps and Secrets a cluster renders: (kind, namespace, name) → object.
type ObjectIndex = HashMap<(String, String, String), Value>;

fn index_key(object: &Value) -> Option<(String, String, String)> {
    let kind = object.get("kind").and_then(Value::as_str)?;
    if kind != "ConfigMap" && kind != "Secret" {
        return None;
    }
    let meta = object.get("metadata")?;
    Some((
        kind.to_owned(),
        meta.get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        meta.get("name").and_then(Value::as_str)?.to_owned(),
    ))
}

struct KsState {
    spec: Value,
    parent: Option<usize>,
    manifests: Option<Result<kustomization::Manifests, Failure>>,
    done: Option<Result<Vec<BuiltObject>, Failure>>,
    broke_cycle: bool,
}

/// The repository as the default artifact, the raw checkout, and its `.sourceignore` rules.
struct ArtifactViews<'a> {
    artifact: &'a dyn Fs,
    checkout: &'a dyn Fs,
    ignore: &'a SourceIgnore,
}

impl<'a> ArtifactViews<'a> {
    /// The artifact of a Kustomization's source when that source (a GitRepository of this
    /// repository) has a `spec.ignore` of its own; `None` when the default artifact applies.
    fn own_view(
        &self,
        root: &Path,
        cluster: &Cluster,
        source: &SourceStatus,
    ) -> Option<IgnoringFs<'a>> {
        let SourceStatus::Local { source, .. } = source else {
            return None;
        };
        let declared = cluster.sources.iter().find(|s| &s.found.key == source)?;
        let FluxObject::GitRepository(repo) = &declared.found.object else {
            return None;
        };
        let text = repo.spec.ignore.as_deref()?;
        if parse_rules(text, &[]).is_empty() {
            return None;
        }
        Some(IgnoringFs::new(
            self.checkout,
            root,
            Arc::new(self.ignore.rules_for(Some(text))),
        ))
    }
}

fn build_cluster_kustomizations(
    views: &ArtifactViews<'_>,
    root: &Path,
    cluster: &Cluster,
    options: &BuildOptions,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<BuildResult>, ObjectIndex) {
    let own_views: Vec<Option<IgnoringFs<'_>>> = cluster
        .kustomizations
        .iter()
        .map(|ks| views.own_view(root, cluster, &ks.source))
        .collect();
    let generated: Vec<Option<(PathBuf, ArtifactFs<'_>)>> = cluster
        .kustomizations
        .iter()
        .map(|ks| generated_view(views.artifact, root, cluster, &ks.source))
        .collect();
    let keys: HashMap<&ObjectKey, usize> = cluster
        .kustomizations
        .iter()
        .enumerate()
        .map(|(i, k)| (&k.found.key, i))
        .collect();
    let mut results = Vec::new();
    let mut states = Vec::new();
    for ks in &cluster.kustomizations {
        let mut result = BuildResult::new(
            ks.found.key.clone(),
            &cluster.name,
            ks.found.origin.parent.clone(),
        );
        result.path = ks.dir.clone();
        // A path with `${…}` may exist once the parent's substitution has run.
        let path_awaits_substitution =
            ks.found.origin.parent.is_some() && ks.found.object.spec.path_or_root().contains("${");
        result.effective = Effective::of(&ks.found.raw, &ks.found.key.namespace);
        result.declared = ks.found.origin.location();
        if ks.found.object.spec.suspend {
            result.leave_out(Status::Suspended, Reason::Suspended, None);
        } else if ks.out_of_scope {
            result.leave_out(
                Status::Unchanged,
                Reason::NotInScope,
                Some("not rendered: none of its inputs changed".to_owned()),
            );
        } else if !ks.source.is_local() {
            let (reason, message) = not_local_reason(&ks.source);
            result.leave_out(Status::Skipped, reason, Some(message));
        } else if !(ks.dir_exists || path_awaits_substitution) {
            let shown = ks
                .dir
                .as_deref()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            let excluded = ks
                .dir
                .as_deref()
                .is_some_and(|d| views.checkout.is_dir(&root.join(d)));
            let reason = Reason::Path {
                path: ks.dir.clone().unwrap_or_default(),
            };
            if excluded {
                result.fail(reason, format!(
                    "kustomization path {shown} is excluded from the source artifact (.sourceignore, the source's spec.ignore or a default exclusion)"
                ));
            } else {
                let mut message = format!("kustomization path not found: {shown}");
                if let SourceStatus::Local { source, .. } = &ks.source
                    && let Some(spec) = ks.dir.as_deref()
                    && let Some(folder) =
                        discovery::hint::folder_holding(views.checkout, root, spec)
                {
                    message.push_str(&format!(
                        " (it exists under {}/: when {source}'s content is that folder, as an \
                         artifact pushed from it, pass --source {source}={})",
                        discovery::relative(root, &folder).display(),
                        folder.display()
                    ));
                }
                result.fail(reason, message);
            }
        }
        let parent = ks
            .found
            .origin
            .parent
            .as_ref()
            .and_then(|p| keys.get(p).copied());
        if result.status == Status::Rendered
            && let Some(ancestor) =
                suspended_ancestor(cluster, &keys, ks.found.origin.parent.as_ref())
        {
            let message = format!("applied by suspended {ancestor}; not rendered");
            result.leave_out(
                Status::Skipped,
                Reason::SuspendedAncestor { ancestor },
                Some(message),
            );
        }
        let pending = result.status == Status::Rendered;
        states.push(KsState {
            spec: ks.found.raw.clone(),
            parent,
            manifests: None,
            done: if pending {
                None
            } else {
                Some(Err(Failure::new(Reason::Unscheduled, "")))
            },
            broke_cycle: false,
        });
        results.push(result);
    }
    // The repository's own Flux decides what an undefined variable does (see
    // `operator::version`); `--no-strict-substitute` turns strictness off everywhere.
    let substitute_options = SubstituteOptions {
        strict: options.strict_substitute && cluster.substitution.strict,
    };
    let mut forced = false;
    let remote = remote_fetch(options);
    loop {
        // Stage 1, in parallel: manifests for everything pending without them.
        let todo: Vec<usize> = (0..states.len())
            .filter(|&i| states[i].done.is_none() && states[i].manifests.is_none())
            .collect();
        let built: Vec<(usize, Result<kustomization::Manifests, Failure>)> = todo
            .par_iter()
            .map(|&i| {
                let state = &states[i];
                let mapped = match &cluster.kustomizations[i].source {
                    SourceStatus::Mapped { path, .. } => Some(path.as_path()),
                    _ => None,
                };
                let (fs, base): (&dyn Fs, &Path) = match (&generated[i], own_views.get(i), mapped) {
                    (Some((artifact_root, view)), _, _) => (view, artifact_root),
                    (None, _, Some(path)) => (views.artifact, path),
                    (None, Some(Some(view)), None) => (view, root),
                    _ => (views.artifact, root),
                };
                let out = spec_dir(fs, views.checkout, base, &state.spec).and_then(|dir| {
                    kustomization::build_manifests(
                        fs,
                        root,
                        &dir,
                        &state.spec,
                        &options.keys,
                        &remote,
                    )
                    .map_err(|e| Failure::new(reason_of_ks(&e), e.to_string()))
                });
                // Objects read through a generated ExternalArtifact are declared in the
                // repository file its copy rule maps them from.
                let out = match &generated[i] {
                    Some((_, view)) => out.map(|mut manifests| {
                        for object in &mut manifests.objects {
                            if let Some(real) = object
                                .file
                                .as_ref()
                                .and_then(|file| view.real_path(&root.join(file)))
                            {
                                object.file = Some(crate::discovery::relative(root, &real));
                            }
                        }
                        manifests
                    }),
                    None => out,
                };
                (i, out)
            })
            .collect();
        for (i, out) in built {
            states[i].manifests = Some(out);
        }
        // Stage 2: finish whatever can be finished.
        let mut progress = false;
        for i in 0..states.len() {
            if states[i].done.is_some() {
                continue;
            }
            if states[i].manifests.is_none() {
                continue;
            }
            // The parent's substitution may change this Kustomization's spec.
            if let Some(p) = states[i].parent {
                match &states[p].done {
                    None if !forced => continue,
                    Some(Ok(objects)) => {
                        let key = &results[i].key;
                        let own = objects.iter().find(|o| {
                            FluxKind::of(
                                o.object
                                    .get("apiVersion")
                                    .and_then(Value::as_str)
                                    .unwrap_or(""),
                                o.object.get("kind").and_then(Value::as_str).unwrap_or(""),
                            ) == Some(FluxKind::Kustomization)
                                && names(&o.object, key)
                        });
                        if let Some(own) = own {
                            let mut spec = own.object.clone();
                            if spec.pointer("/metadata/namespace").is_none()
                                && let Some(meta) =
                                    spec.get_mut("metadata").and_then(Value::as_object_mut)
                            {
                                meta.insert("namespace".into(), key.namespace.clone().into());
                            }
                            if spec.get("spec") != states[i].spec.get("spec") {
                                states[i].spec = spec;
                                states[i].manifests = None;
                                progress = true;
                                continue;
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(Err(e)) = &states[i].manifests {
                states[i].done = Some(Err(e.clone()));
                progress = true;
                continue;
            }
            let spec = states[i].spec.clone();
            let post = match PostBuild::from_kustomization(&spec) {
                Ok(post) => post,
                Err(e) => {
                    states[i].done =
                        Some(Err(Failure::new(reason_of_substitute(&e), e.to_string())));
                    progress = true;
                    continue;
                }
            };
            let namespace = results[i].key.namespace.clone();
            let mut vars = BTreeMap::new();
            if let Some(post) = &post {
                // Are the producers of its substituteFrom objects finished?
                let waiting = post.substitute_from.iter().any(|r| {
                    let wanted = (r.kind.clone(), namespace.clone(), r.name.clone());
                    find_final(&states, &wanted).is_none()
                        && states.iter().enumerate().any(|(j, s)| {
                            j != i
                                && s.done.is_none()
                                && match &s.manifests {
                                    None => true,
                                    Some(Ok(m)) => m
                                        .objects
                                        .iter()
                                        .any(|o| index_key(&o.object).as_ref() == Some(&wanted)),
                                    Some(Err(_)) => false,
                                }
                        })
                });
                if waiting && !forced {
                    continue;
                }
                let own_objects: Vec<Value> = match &states[i].manifests {
                    Some(Ok(m)) => m.objects.iter().map(|o| o.object.clone()).collect(),
                    _ => Vec::new(),
                };
                let runtime_used = std::cell::RefCell::new(Vec::new());
                let copy_notes = std::cell::RefCell::new(Vec::new());
                let rendered = |wanted: &(String, String, String)| -> Option<Value> {
                    find_final(&states, wanted).or_else(|| {
                        // A cycle (or the object in its own output): the objects before substitution.
                        own_objects
                            .iter()
                            .chain(
                                states
                                    .iter()
                                    .filter_map(|s| s.manifests.as_ref()?.as_ref().ok())
                                    .flat_map(|m| m.objects.iter().map(|o| &o.object)),
                            )
                            .find(|o| index_key(o).as_ref() == Some(wanted))
                            .cloned()
                    })
                };
                let lookup = |kind: &str, name: &str| -> Option<Value> {
                    let wanted = (kind.to_owned(), namespace.clone(), name.to_owned());
                    if let Some(found) = rendered(&wanted) {
                        return Some(found);
                    }
                    // A ResourceSet's object the operator fills from another (copyFrom).
                    if let Some(copied) = cluster
                        .copied_objects
                        .iter()
                        .find(|c| c.kind == kind && c.namespace == namespace && c.name == name)
                    {
                        let (from_namespace, from_name) = &copied.from;
                        let source =
                            rendered(&(kind.to_owned(), from_namespace.clone(), from_name.clone()));
                        let source_runtime =
                            runtime::find(cluster, kind, from_namespace, from_name);
                        return match copied.resolve(source.as_ref(), source_runtime) {
                            Ok(Copied::Rendered(value)) => Some(value),
                            Ok(Copied::Runtime(value, object)) => {
                                runtime_used.borrow_mut().push(object);
                                Some(value)
                            }
                            Err(error) => {
                                copy_notes.borrow_mut().push(error.to_string());
                                None
                            }
                        };
                    }
                    // An object the repository arranges to exist at runtime: placeholders.
                    let runtime = runtime::find(cluster, kind, &namespace, name)?;
                    runtime_used.borrow_mut().push(runtime.clone());
                    Some(runtime.placeholder())
                };
                match post.variables(&namespace, &lookup) {
                    Ok(v) => {
                        vars = v;
                        let used = runtime_used.take();
                        if let Some(Ok(m)) = &states[i].manifests {
                            runtime::fill_open(&used, &m.objects, &mut vars);
                        }
                        crate::substitute::supply(
                            &mut vars,
                            &options.discovery.vars,
                            post.strategy,
                        );
                        for object in &used {
                            results[i].errors.push(runtime::note(object));
                        }
                    }
                    Err(e) => {
                        let mut message = e.to_string();
                        for note in copy_notes.take() {
                            message.push_str(": ");
                            message.push_str(&note);
                        }
                        states[i].done = Some(Err(Failure::new(reason_of_substitute(&e), message)));
                        progress = true;
                        continue;
                    }
                }
                if waiting {
                    states[i].broke_cycle = true;
                }
            }
            let objects = match states[i].manifests.take() {
                Some(Ok(m)) => {
                    results[i].not_decrypted = m.not_decrypted;
                    m.objects
                }
                _ => Vec::new(),
            };
            if let Some(post) = &post
                && !substitute_options.strict
            {
                diagnostics.extend(runtime::undefined_findings(
                    &results[i].key,
                    post,
                    &vars,
                    &objects,
                    &cluster.substitution,
                ));
            }
            let out = kustomization::post_build(
                &spec,
                objects,
                post.as_ref().map(|p| (p, &vars)),
                substitute_options,
            )
            .map_err(|e| {
                let reason = reason_of_ks(&e);
                Failure::new(reason, runtime::explain_failure(e, &cluster.substitution))
            });
            states[i].manifests = Some(Ok(kustomization::Manifests::default()));
            states[i].done = Some(out);
            progress = true;
            if let Some(report) = &options.progress {
                report(&results[i].key);
            }
        }
        let pending = states.iter().any(|s| s.done.is_none());
        if !pending {
            break;
        }
        if !progress {
            if forced {
                // Cannot happen: forced rounds finish every Kustomization with manifests.
                for (i, s) in states.iter_mut().enumerate() {
                    if s.done.is_none() {
                        s.done = Some(Err(Failure::new(
                            Reason::Unscheduled,
                            format!("{} could not be scheduled", results[i].key),
                        )));
                    }
                }
                break;
            }
            forced = true;
        }
    }
    let mut index = ObjectIndex::new();
    for (i, state) in states.into_iter().enumerate() {
        let result = &mut results[i];
        result.effective = Effective::of(&state.spec, &result.key.namespace);
        match state.done {
            Some(Ok(objects)) => {
                for o in &objects {
                    if let Some(k) = index_key(&o.object) {
                        index.entry(k).or_insert_with(|| o.object.clone());
                    }
                }
                result.objects = objects;
                if state.broke_cycle {
                    result.errors.push(
                        "substituteFrom objects read before their own substitution (cycle)".into(),
                    );
                }
            }
            Some(Err(failure)) if result.status == Status::Rendered => {
                let message = format!("{}: {}", result.key, failure.message);
                result.fail(failure.reason, message);
            }
            _ => {}
        }
    }
    (results, index)
}

/// The nearest suspended Kustomization among `parent` and its ancestors.
fn suspended_ancestor(
    cluster: &Cluster,
    keys: &HashMap<&ObjectKey, usize>,
    parent: Option<&ObjectKey>,
) -> Option<ObjectKey> {
    let mut current = parent;
    for _ in 0..cluster.kustomizations.len() {
        let ks = &cluster.kustomizations[*keys.get(current?)?];
        if ks.found.object.spec.suspend {
            return Some(ks.found.key.clone());
        }
        current = ks.found.origin.parent.as_ref();
    }
    None
}

/// Why a Kustomization whose source is not this repository is reported rather than rendered.
fn not_local_reason(source: &SourceStatus) -> (Reason, String) {
    let reason = match source {
        SourceStatus::Remote { source } => Reason::SourceNotInRepository {
            source: source.clone(),
        },
        SourceStatus::Missing { source } => Reason::SourceNotDeclared {
            source: source.clone(),
        },
        SourceStatus::Unsupported {
            kind,
            namespace,
            name,
        } => Reason::SourceNotInRepository {
            source: ObjectKey::new(
                FluxKind::of("", kind).unwrap_or(FluxKind::GitRepository),
                namespace.clone(),
                name.clone(),
            ),
        },
        SourceStatus::Local { source, .. } | SourceStatus::Mapped { source, .. } => {
            Reason::SourceNotInRepository {
                source: source.clone(),
            }
        }
        SourceStatus::Generated {
            namespace, name, ..
        } => Reason::SourceNotInRepository {
            source: ObjectKey::new(FluxKind::GitRepository, namespace.clone(), name.clone()),
        },
    };
    let message = match source {
        SourceStatus::Remote { source } => {
            let what = match source.kind {
                FluxKind::Bucket => format!(
                    "source {source}: Bucket contents are in remote object storage, not in this repository"
                ),
                FluxKind::OciRepository => format!(
                    "source {source}: an OCI artifact pulled from a registry, not this repository"
                ),
                _ => format!("source {source} is another repository"),
            };
            format!(
                "{what}; not rendered (with its content checked out, --source {source}=PATH renders it)"
            )
        }
        SourceStatus::Missing { source } => {
            format!("source {source} is not declared in this repository; not rendered")
        }
        other => format!("source {other} is not this repository; not rendered"),
    };
    (reason, message)
}

/// The directory a Kustomization spec builds: `spec.path` under the repository root, as the
/// source artifact `fs` holds it (`checkout` is the repository itself, for the message).
/// The ExternalArtifact an ArtifactGenerator assembles from this repository, as a view rooted
/// where discovery roots it (`ROOT/@artifact/NAMESPACE/NAME`), for a Kustomization whose source
/// it is.
fn generated_view<'a>(
    artifact: &'a dyn Fs,
    root: &Path,
    cluster: &Cluster,
    source: &SourceStatus,
) -> Option<(PathBuf, ArtifactFs<'a>)> {
    let SourceStatus::Generated {
        namespace, name, ..
    } = source
    else {
        return None;
    };
    let generated = cluster
        .artifacts
        .iter()
        .find(|a| &a.namespace == namespace && &a.name == name)?;
    let artifact_root =
        capstan_core::fs::normalize(&root.join("@artifact").join(namespace).join(name));
    let rules: Vec<_> = generated
        .copy
        .iter()
        .map(|rule| (rule.clone(), root.to_path_buf()))
        .collect();
    let view = ArtifactFs::new(artifact, artifact_root.clone(), &rules);
    Some((artifact_root, view))
}

fn spec_dir(fs: &dyn Fs, checkout: &dyn Fs, root: &Path, spec: &Value) -> Result<PathBuf, Failure> {
    let raw = spec
        .pointer("/spec/path")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let relative = capstan_core::fs::normalize(Path::new(raw.trim_start_matches('/')));
    let failure = |message: String| {
        Failure::new(
            Reason::Path {
                path: relative.clone(),
            },
            message,
        )
    };
    if relative.starts_with("..") {
        return Err(failure(format!(
            "kustomization path escapes the repository: {raw}"
        )));
    }
    let dir = capstan_core::fs::normalize(&root.join(&relative));
    if !fs.is_dir(&dir) {
        if checkout.is_dir(&dir) {
            return Err(failure(format!(
                "kustomization path {} is excluded from the source artifact (.sourceignore, the source's spec.ignore or a default exclusion)",
                relative.display()
            )));
        }
        return Err(failure(format!(
            "kustomization path not found: {}",
            relative.display()
        )));
    }
    Ok(dir)
}

fn find_final(states: &[KsState], wanted: &(String, String, String)) -> Option<Value> {
    states
        .iter()
        .filter_map(|s| s.done.as_ref()?.as_ref().ok())
        .flat_map(|objects| objects.iter())
        .find(|o| index_key(&o.object).as_ref() == Some(wanted))
        .map(|o| o.object.clone())
}

fn build_cluster_releases(
    fs: &dyn Fs,
    root: &Path,
    cluster: &Cluster,
    kustomizations: &[BuildResult],
    index: &ObjectIndex,
    options: &BuildOptions,
) -> Vec<BuildResult> {
    prefetch_charts(fs, root, cluster, kustomizations, index, options);
    cluster
        .helm_releases
        .par_iter()
        .map(|hr| {
            let key = &hr.found.key;
            let mut result =
                BuildResult::new(key.clone(), &cluster.name, hr.found.origin.parent.clone());
            let release = release_as_applied(hr, kustomizations);
            result.effective = Effective::of(&release, &key.namespace);
            result.declared = hr.found.origin.location();
            let keys: HashMap<&ObjectKey, usize> = cluster
                .kustomizations
                .iter()
                .enumerate()
                .map(|(i, k)| (&k.found.key, i))
                .collect();
            if release.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
                result.leave_out(Status::Suspended, Reason::Suspended, None);
            } else if let Some(ancestor) =
                suspended_ancestor(cluster, &keys, hr.found.origin.parent.as_ref())
            {
                let message = format!("applied by suspended {ancestor}; not rendered");
                result.leave_out(
                    Status::Skipped,
                    Reason::SuspendedAncestor { ancestor },
                    Some(message),
                );
            } else if !options.render_helm_releases {
                result.leave_out(Status::Skipped, Reason::HelmReleasesNotRendered, None);
            } else {
                let source = release_source(hr, cluster, kustomizations);
                // A chart in a source mapped to a local folder is read from that folder.
                let chart_root = match &hr.source {
                    Some(SourceStatus::Mapped { path, .. }) => path.as_path(),
                    _ => root,
                };
                render_one(
                    fs,
                    chart_root,
                    hr.source.as_ref().is_some_and(|s| s.is_local()),
                    source.as_ref(),
                    &release,
                    (index, cluster),
                    options,
                    &mut result,
                );
            }
            if let Some(report) = &options.progress {
                report(key);
            }
            result
        })
        .collect()
}

/// The release as its Kustomization emits it (after substitution), else as discovered.
fn release_as_applied(
    hr: &crate::discovery::DiscoveredHelmRelease,
    kustomizations: &[BuildResult],
) -> Value {
    let key = &hr.found.key;
    hr.found
        .origin
        .parent
        .as_ref()
        .and_then(|p| kustomizations.iter().find(|k| &k.key == p))
        .and_then(|k| {
            k.objects.iter().find(|o| {
                o.object.get("kind").and_then(Value::as_str) == Some("HelmRelease")
                    && names(&o.object, key)
            })
        })
        .map(|o| o.object.clone())
        .unwrap_or_else(|| hr.found.raw.clone())
}

/// The object of the source a release's chart comes from.
fn release_source(
    hr: &crate::discovery::DiscoveredHelmRelease,
    cluster: &Cluster,
    kustomizations: &[BuildResult],
) -> Option<Value> {
    hr.source.as_ref().and_then(|status| match status {
        crate::source::SourceStatus::Remote { source }
        | crate::source::SourceStatus::Local { source, .. } => {
            source_object(cluster, kustomizations, source)
        }
        _ => None,
    })
}

/// At most this many charts are fetched at once.
const PREFETCH_THREADS: usize = 8;

/// Fetching waits on the network, not the CPU: the remote charts of a cluster's releases are
/// fetched ahead of rendering on up to [`PREFETCH_THREADS`] threads (each chart once, however
/// many releases share it), so rendering — as parallel as the CPUs — finds them loaded. Errors
/// are kept by the fetcher and reported when the release renders.
fn prefetch_charts(
    fs: &dyn Fs,
    root: &Path,
    cluster: &Cluster,
    kustomizations: &[BuildResult],
    index: &ObjectIndex,
    options: &BuildOptions,
) {
    let Some(charts) = options.charts.as_deref() else {
        return;
    };
    if charts.is_offline() || !options.render_helm_releases {
        return;
    }
    let keys: HashMap<&ObjectKey, usize> = cluster
        .kustomizations
        .iter()
        .enumerate()
        .map(|(i, k)| (&k.found.key, i))
        .collect();
    let work: Vec<(Value, Option<Value>)> = cluster
        .helm_releases
        .iter()
        .filter(|hr| !hr.source.as_ref().is_some_and(|s| s.is_local()))
        .filter(|hr| suspended_ancestor(cluster, &keys, hr.found.origin.parent.as_ref()).is_none())
        .map(|hr| {
            (
                release_as_applied(hr, kustomizations),
                release_source(hr, cluster, kustomizations),
            )
        })
        .filter(|(release, _)| {
            release.pointer("/spec/suspend").and_then(Value::as_bool) != Some(true)
        })
        .collect();
    if work.len() < 2 {
        return;
    }
    let Ok(pool) = rayon::ThreadPoolBuilder::new()
        .num_threads(PREFETCH_THREADS.min(work.len()))
        .build()
    else {
        return;
    };
    pool.install(|| {
        work.par_iter().for_each(|(release, source)| {
            let secret = secret_lookup(index);
            let context = helmrelease::ChartContext {
                fs,
                root,
                source_is_local: false,
                source: source.as_ref(),
                secret: &secret,
                charts: Some(charts),
            };
            // Only the side effect counts here: the fetcher keeps the chart (or the error).
            let _ = helmrelease::locate_chart(&context, release);
        })
    });
}

/// Remote kustomize resources are read from the cache only when charts are (`--offline`), or
/// when the build fetches nothing at all (no chart fetcher); online, they share the chart
/// fetcher's record of the network's reachability.
fn remote_fetch(options: &BuildOptions) -> kustomization::RemoteFetch {
    kustomization::RemoteFetch {
        offline: options.charts.as_deref().is_none_or(Charts::is_offline),
        network: options
            .charts
            .as_deref()
            .map(|c| c.network().clone())
            .unwrap_or_default(),
    }
}

/// A source object as the cluster's Kustomizations render it (after substitution), else as
/// discovery found it.
fn source_object(
    cluster: &Cluster,
    kustomizations: &[BuildResult],
    key: &ObjectKey,
) -> Option<Value> {
    let matches = |object: &Value| {
        object.get("kind").and_then(Value::as_str) == Some(key.kind.as_str()) && names(object, key)
    };
    kustomizations
        .iter()
        .flat_map(|k| k.objects.iter().map(|o| &o.object))
        .find(|o| matches(o))
        .or_else(|| {
            cluster
                .sources
                .iter()
                .find(|s| &s.found.key == key)
                .map(|s| &s.found.raw)
        })
        .cloned()
}

/// True when a rendered object has `key`'s name, and its namespace (an object without one is in
/// the namespace the key expects: the applying Kustomization placed it there).
fn names(object: &Value, key: &ObjectKey) -> bool {
    object.pointer("/metadata/name").and_then(Value::as_str) == Some(key.name.as_str())
        && object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(&key.namespace)
            == key.namespace
}

/// The Secrets a cluster renders, by (namespace, name), as chart fetching looks them up.
fn secret_lookup(index: &ObjectIndex) -> impl Fn(&str, &str) -> Option<Value> + Sync + '_ {
    |namespace: &str, name: &str| {
        index
            .get(&("Secret".to_owned(), namespace.to_owned(), name.to_owned()))
            .cloned()
    }
}

#[allow(clippy::too_many_arguments)]
fn render_one(
    fs: &dyn Fs,
    root: &Path,
    source_is_local: bool,
    source: Option<&Value>,
    release: &Value,
    (index, cluster): (&ObjectIndex, &Cluster),
    options: &BuildOptions,
    result: &mut BuildResult,
) {
    let key = result.key.clone();
    let secret = secret_lookup(index);
    let context = helmrelease::ChartContext {
        fs,
        root,
        source_is_local,
        source,
        secret: &secret,
        charts: options.charts.as_deref(),
    };
    let location = match helmrelease::locate_chart(&context, release) {
        Ok(location) => location,
        Err(e @ helmrelease::HrBuildError::Chart(crate::charts::ChartError::Offline(_))) => {
            let reason = reason_of_hr(&e);
            result.leave_out(
                Status::Skipped,
                reason,
                Some(format!("chart not available offline: {e}")),
            );
            return;
        }
        Err(e) => return result.fail(reason_of_hr(&e), format!("{key}: {e}")),
    };
    let fetched;
    // `valuesFiles` are relative to the source's root for an in-repository chart, to the chart
    // for a fetched one.
    let (chart_fs, chart_dir, values_root): (&dyn Fs, PathBuf, PathBuf) = match location {
        helmrelease::ChartLocation::Local(dir) => {
            result.reads.push(dir.clone());
            result.reads.extend(
                release
                    .pointer("/spec/chart/spec/valuesFiles")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|f| {
                        capstan_core::fs::normalize(Path::new(f.trim().trim_start_matches('/')))
                    })
                    .filter(|f| f != Path::new("values.yaml"))
                    .map(|f| capstan_core::fs::normalize(&root.join(f))),
            );
            (fs, dir, root.to_path_buf())
        }
        helmrelease::ChartLocation::Fetched(chart) => {
            fetched = chart;
            (&fetched.fs, fetched.dir.clone(), fetched.dir.clone())
        }
        helmrelease::ChartLocation::Remote(what) => {
            let message = format!("chart not available offline: {what}");
            result.leave_out(
                Status::Skipped,
                Reason::ChartUnavailableOffline { chart: what },
                Some(message),
            );
            return;
        }
    };
    let Some(helm) = &options.helm else {
        result.leave_out(
            Status::Skipped,
            Reason::HelmNotFound,
            Some("not rendered: helm not found".into()),
        );
        return;
    };
    let namespace = key.namespace.clone();
    let runtime_used = std::cell::RefCell::new(Vec::new());
    let lookup = |kind: &str, name: &str| {
        index
            .get(&(kind.to_owned(), namespace.clone(), name.to_owned()))
            .cloned()
            .or_else(|| {
                // An object the repository arranges to exist at runtime: placeholders.
                let object = runtime::find(cluster, kind, &namespace, name)?;
                runtime_used.borrow_mut().push(object.clone());
                Some(runtime::values_placeholder(object, release))
            })
    };
    let overlay =
        match helmrelease::values_files_overlay(chart_fs, &chart_dir, &values_root, release) {
            Ok(overlay) => overlay,
            Err(e) => return result.fail(reason_of_hr(&e), format!("{key}: {e}")),
        };
    let chart_fs: &dyn Fs = match &overlay {
        Some(layered) => layered,
        None => chart_fs,
    };
    match helmrelease::render_release(
        helm.as_ref(),
        chart_fs,
        &chart_dir,
        release,
        &lookup,
        options.kube_version.as_deref(),
        &options.api_versions,
    ) {
        Ok((objects, values)) => {
            result.objects = objects.into_iter().map(BuiltObject::new).collect();
            result.values = Some(values);
            let mut used = runtime_used.take();
            used.dedup();
            result.errors.extend(used.iter().map(runtime::note));
        }
        Err(e) => result.fail(reason_of_hr(&e), format!("{key}: {e}")),
    }
}

#[cfg(test)]
mod tests;
