//! Discovery: every Flux object a cluster repository declares, found the way Flux finds them.
//!
//! Starting from the cluster's entry points — the `flux-system` Kustomization(s) of a
//! `flux bootstrap` repository (`clusters/*/flux-system/gotk-sync.yaml`), a Flux Operator
//! `FluxInstance`'s sync, or, when there is neither, every Kustomization no other one covers —
//! discovery renders each Kustomization's `spec.path` (relative to its source's root) through a
//! [`Renderer`], collects the Flux objects in the output, and repeats for the Kustomizations it
//! finds until nothing new turns up.
//!
//! Namespaces follow kustomize-controller: `spec.targetNamespace` overrides every object's
//! namespace; an object with none is rejected by the API server ("namespace not specified"), so
//! discovery places it in the applying Kustomization's namespace and says so in a warning.
//! Cycles, missing paths, paths escaping the repository, missing sources, malformed files and
//! duplicates are reported as [`Diagnostic`]s; discovery of the rest goes on.

mod cluster;
pub(crate) mod hint;
pub mod kustomize;
pub mod render;
pub mod resource_list;
mod roots;
pub mod scan;

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use capstan_core::{Diagnostic, Fs, Location, Value};

use crate::model::{FluxKind, FluxObject, HelmRelease, Kustomization, ObjectKey};
use crate::scope::Scope;
use crate::source::SourceStatus;
use crate::source::ignore::{IgnoringFs, SourceIgnore};
pub use hint::nothing_to_discover;
pub use kustomize::KustomizeRenderer;
pub use render::{RecordingFs, RenderError, RenderedObject, Renderer};
pub use resource_list::ResourceListRenderer;

/// Settings that change what discovery finds.
#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace of entry-point objects that have none (Flux installs into `flux-system`).
    pub default_namespace: String,
    /// Changed-only mode: render only the Kustomizations the changed files can reach; the others
    /// are listed with [`DiscoveredKustomization::out_of_scope`] set.
    pub scope: Option<Arc<Scope>>,
    /// Sources from elsewhere whose content is in a local folder (`--source`, `.capstan.yaml`).
    pub sources: crate::source::LocalSources,
    /// Substitution variables the user supplies (`--var`, `--vars-file`) for what the repository
    /// cannot tell: see [`crate::substitute::supply`].
    pub vars: std::collections::BTreeMap<String, String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            default_namespace: "flux-system".to_owned(),
            scope: None,
            sources: crate::source::LocalSources::none(),
            vars: std::collections::BTreeMap::new(),
        }
    }
}

/// Discovery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A `.sourceignore` file could not be read (source-controller fails the artifact too).
    #[error("reading the repository's ignore rules: {0}")]
    SourceIgnore(#[from] crate::source::ignore::IgnoreError),
}

/// Where a discovered object came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    /// The file, relative to the repository root, when the renderer knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The document's index in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// The Kustomization whose build emits the object; `None` for entry points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ObjectKey>,
    /// Set when the Flux Operator generates the object from a ResourceSet (`file` and
    /// `document` are then the ResourceSet's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_by: Option<GeneratedBy>,
}

/// The ResourceSet, template field and input set an object was generated from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GeneratedBy {
    /// `namespace/name` of the ResourceSet.
    pub resource_set: String,
    /// `spec.resources[3]`, `spec.resourcesTemplate`, …
    pub field: String,
    /// `ResourceSet/apps inputs[1]`, or the permutation; `None` without inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

impl std::fmt::Display for GeneratedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResourceSet {} {}", self.resource_set, self.field)?;
        if let Some(input) = &self.input {
            write!(f, " with {input}")?;
        }
        Ok(())
    }
}

impl Origin {
    /// The origin as a diagnostic location.
    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            document: self.document,
            ..Location::default()
        }
    }
}

/// A Flux object as found: typed, as rendered (namespace resolved), and where from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Discovered<T> {
    pub key: ObjectKey,
    #[serde(skip)]
    pub object: T,
    /// The rendered manifest, with `metadata.namespace` set to the resolved namespace.
    #[serde(skip)]
    pub raw: Value,
    pub origin: Origin,
}

/// A Kustomization with its source and directory resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiscoveredKustomization {
    #[serde(flatten)]
    pub found: Discovered<Kustomization>,
    pub source: SourceStatus,
    /// `spec.path` resolved against the source root, relative to the repository root (only for
    /// sources that are this repository).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// False when `dir` does not exist or escapes the repository.
    pub dir_exists: bool,
    /// Not rendered: outside the changed-only [`Scope`] (its inputs did not change).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub out_of_scope: bool,
}

/// A HelmRelease with its chart source resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiscoveredHelmRelease {
    #[serde(flatten)]
    pub found: Discovered<HelmRelease>,
    /// `chart.spec.sourceRef` or `chartRef`; `None` when the release names neither.
    pub source: Option<SourceStatus>,
}

impl DiscoveredHelmRelease {
    /// The chart version a `spec.chartRef` release installs, as its source declares it: an
    /// OCIRepository's `spec.ref` (digest, else semver range, else tag, as the source-controller
    /// picks; `latest` when unset, Flux's default). `None` for a `spec.chart` release, a source
    /// not declared in `sources` or a HelmChart (capstan does not read HelmChart objects).
    pub fn chart_ref_version(&self, sources: &[DiscoveredSource]) -> Option<String> {
        let reference = self.found.object.spec.chart_ref.as_ref()?;
        let key = reference.key(&self.found.key.namespace)?;
        let source = sources.iter().find(|s| s.found.key == key)?;
        let text = |pointer: &str| {
            source
                .found
                .raw
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        match key.kind {
            FluxKind::OciRepository => Some(
                text("/spec/ref/digest")
                    .or_else(|| text("/spec/ref/semver"))
                    .or_else(|| text("/spec/ref/tag"))
                    .unwrap_or_else(|| "latest".to_owned()),
            ),
            _ => None,
        }
    }
}

/// A source, declared or implied.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiscoveredSource {
    #[serde(flatten)]
    pub found: Discovered<FluxObject>,
    /// True for the bootstrap source when no manifest declares it (it is this repository).
    pub implied: bool,
}

/// One cluster: an entry point and everything reachable from it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Cluster {
    /// The entry point's directory relative to the repository root (`clusters/production`), or
    /// `.` when the repository has no bootstrap entry point.
    pub name: String,
    pub kustomizations: Vec<DiscoveredKustomization>,
    pub helm_releases: Vec<DiscoveredHelmRelease>,
    pub sources: Vec<DiscoveredSource>,
    pub diagnostics: Vec<Diagnostic>,
    /// How the cluster's kustomize-controller treats an undefined `${var}`, and why capstan
    /// thinks so (its Flux version, feature gates).
    pub substitution: crate::operator::version::SubstitutionPolicy,
    /// Secrets and ConfigMaps that exist only at runtime (ExternalSecret targets, …).
    #[serde(skip)]
    pub runtime_objects: Vec<crate::operator::runtime::RuntimeObject>,
    /// Generated ConfigMaps and Secrets whose data the operator copies from another object
    /// (`fluxcd.controlplane.io/copyFrom`).
    #[serde(skip)]
    pub copied_objects: Vec<crate::operator::copy::CopiedObject>,
    /// The ExternalArtifacts the cluster's ArtifactGenerators assemble from this repository.
    #[serde(skip)]
    pub artifacts: Vec<crate::source::artifact::GeneratedArtifact>,
}

/// Everything discovery found under a path.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Discovery {
    /// The repository root every relative path is relative to.
    pub root: PathBuf,
    pub clusters: Vec<Cluster>,
    /// Findings that belong to no cluster (e.g. an entry point that does not read).
    pub diagnostics: Vec<Diagnostic>,
    /// The repository's `.sourceignore` rules (builds read the same artifact discovery did).
    #[serde(skip)]
    pub ignore: SourceIgnore,
    /// The folder asked for, relative to `root`, when it is a folder inside a repository whose
    /// entry point is above it: the repository is discovered from its root, and what lies in
    /// that folder is what the commands show ([`Discovery::in_focus`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focus: Option<PathBuf>,
}

impl Discovery {
    /// True when a Kustomization or HelmRelease declared in `file` (or, for a Kustomization,
    /// building `dir`) lies in the folder asked for; always true without a focus.
    pub fn in_focus(&self, file: Option<&Path>, dir: Option<&Path>) -> bool {
        let Some(focus) = &self.focus else {
            return true;
        };
        file.into_iter()
            .chain(dir)
            .any(|p| p.starts_with(focus) || self.root.join(p).starts_with(self.root.join(focus)))
    }

    /// The Kustomizations, HelmReleases and sources shown with a focus: those [`Self::in_focus`]
    /// and everything they apply, transitively — the folder of a cluster's Kustomizations (as
    /// `flux-local --path clusters/prod` users give it) shows that cluster, an app's folder
    /// shows that app. `None` without a focus.
    pub fn focused_keys(&self) -> Option<std::collections::BTreeSet<ObjectKey>> {
        self.focus.as_ref()?;
        let mut kept = std::collections::BTreeSet::new();
        let mut applied: Vec<(&ObjectKey, Option<&ObjectKey>)> = Vec::new();
        for cluster in &self.clusters {
            for k in &cluster.kustomizations {
                if self.in_focus(k.found.origin.file.as_deref(), k.dir.as_deref()) {
                    kept.insert(k.found.key.clone());
                }
                applied.push((&k.found.key, k.found.origin.parent.as_ref()));
            }
            for h in &cluster.helm_releases {
                if self.in_focus(h.found.origin.file.as_deref(), None) {
                    kept.insert(h.found.key.clone());
                }
                applied.push((&h.found.key, h.found.origin.parent.as_ref()));
            }
            for s in &cluster.sources {
                if self.in_focus(s.found.origin.file.as_deref(), None) {
                    kept.insert(s.found.key.clone());
                }
                applied.push((&s.found.key, s.found.origin.parent.as_ref()));
            }
        }
        loop {
            let before = kept.len();
            for (key, parent) in &applied {
                if parent.is_some_and(|p| kept.contains(p)) {
                    kept.insert((*key).clone());
                }
            }
            if kept.len() == before {
                return Some(kept);
            }
        }
    }

    /// Every diagnostic, the repository's and each cluster's.
    pub fn all_diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .chain(self.clusters.iter().flat_map(|c| c.diagnostics.iter()))
    }
}

/// A render of one directory, shared by every Kustomization that points at it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RenderResult {
    pub objects: Vec<RenderedObject>,
    /// The files the render read.
    pub files: BTreeSet<PathBuf>,
    /// Why the renderer failed; `objects` then come from [`ResourceListRenderer`], so discovery
    /// of what the directory holds goes on.
    pub error: Option<RenderError>,
}

/// Renders directories once.
pub(crate) struct RenderCache<'a> {
    fs: &'a dyn Fs,
    renderer: &'a dyn Renderer,
    /// Results by (view, directory): the view is `""` for the repository's default artifact
    /// (and for artifact views whose directories are unique to them), or the `spec.ignore` of
    /// the source whose artifact differs.
    done: HashMap<(String, PathBuf), RenderResult>,
}

impl<'a> RenderCache<'a> {
    pub(crate) fn new(fs: &'a dyn Fs, renderer: &'a dyn Renderer) -> RenderCache<'a> {
        RenderCache {
            fs,
            renderer,
            done: HashMap::new(),
        }
    }

    pub(crate) fn render(&mut self, dir: &Path) -> &RenderResult {
        let fs = self.fs;
        self.render_with(fs, dir)
    }

    /// Renders `dir` as seen through `fs` (an artifact's view); `dir` must be unique to that view.
    pub(crate) fn render_with(&mut self, fs: &dyn Fs, dir: &Path) -> &RenderResult {
        self.render_view("", fs, dir)
    }

    /// Renders `dir` as seen through `fs`, the view named `view`.
    pub(crate) fn render_view(&mut self, view: &str, fs: &dyn Fs, dir: &Path) -> &RenderResult {
        let renderer = self.renderer;
        self.done
            .entry((view.to_owned(), dir.to_path_buf()))
            .or_insert_with(|| render_one(fs, renderer, dir))
    }

    /// Renders the directories not rendered yet, in parallel.
    pub(crate) fn prefetch(&mut self, dirs: Vec<PathBuf>) {
        use rayon::prelude::*;
        let fs = self.fs;
        let renderer = self.renderer;
        let mut missing: Vec<PathBuf> = dirs
            .into_iter()
            .filter(|d| !self.done.contains_key(&(String::new(), d.clone())) && fs.is_dir(d))
            .collect();
        missing.sort();
        missing.dedup();
        let results: Vec<(PathBuf, RenderResult)> = missing
            .into_par_iter()
            .map(|dir| {
                let result = render_one(fs, renderer, &dir);
                (dir, result)
            })
            .collect();
        self.done.extend(
            results
                .into_iter()
                .map(|(dir, result)| ((String::new(), dir), result)),
        );
    }
}

/// One render, falling back to reading the resources when the renderer fails.
fn render_one(fs: &dyn Fs, renderer: &dyn Renderer, dir: &Path) -> RenderResult {
    let recording = RecordingFs::new(fs);
    match renderer.render(&recording, dir) {
        Ok(objects) => RenderResult {
            objects,
            files: recording.files_read(),
            error: None,
        },
        Err(error) => {
            let fallback = RecordingFs::new(fs);
            let objects = ResourceListRenderer
                .render(&fallback, dir)
                .unwrap_or_default();
            RenderResult {
                objects,
                files: fallback.files_read(),
                error: Some(error),
            }
        }
    }
}

/// The renderer commands use: kustomize-controller's build of a directory.
pub fn default_renderer() -> Box<dyn Renderer> {
    Box::new(KustomizeRenderer::default())
}

/// Discovers the Flux objects of the repository at `path`, rendering through `renderer`.
pub fn discover(
    fs: &dyn Fs,
    path: &Path,
    renderer: &dyn Renderer,
    options: &Options,
) -> Result<Discovery, DiscoveryError> {
    if !fs.is_dir(path) {
        return Err(DiscoveryError::NotADirectory(path.to_path_buf()));
    }
    let path = capstan_core::fs::normalize(path);
    let mut discovery = discover_from(fs, &path, renderer, options)?;
    discovery
        .diagnostics
        .extend(unused_mappings(&discovery, options));
    // No entry point of its own: a folder inside a repository whose entry point is above it,
    // discovered from the repository's root.
    let own_entry = discovery.clusters.iter().any(|c| c.name != ".");
    if !own_entry
        && let Some(entry) = roots::entry_above(fs, &path)
        && let Ok(absolute) = fs.canonicalize(&path)
    {
        let mut above = discover_from(fs, &entry, renderer, options)?;
        let root = fs
            .canonicalize(&above.root)
            .unwrap_or_else(|_| above.root.clone());
        // the entry point must reach the folder: a Kustomization builds it, or something in it
        let reaches = above.clusters.iter().any(|c| {
            c.kustomizations.iter().any(|k| {
                k.dir.as_ref().is_some_and(|d| {
                    let dir = capstan_core::fs::normalize(&root.join(d));
                    absolute.starts_with(&dir) || dir.starts_with(&absolute)
                })
            })
        });
        if reaches
            && let Ok(focus) = absolute.strip_prefix(&root)
            && !focus.as_os_str().is_empty()
        {
            above.focus = Some(focus.to_path_buf());
            above.diagnostics.extend(unused_mappings(&above, options));
            return Ok(above);
        }
    }
    Ok(discovery)
}

/// The code of the warning [`unused_mappings`] gives.
pub const UNUSED_SOURCE_MAPPING: &str = "flux/unused-source-mapping";

/// A `--source` / `.capstan.yaml` mapping that names no source the repository declares: most
/// likely a typo in the kind, namespace or name, which would otherwise leave the units it was
/// meant for unrendered with no word about the mapping. Not judged in changed-only mode, where
/// the folders that declare sources may not have been read.
fn unused_mappings(discovery: &Discovery, options: &Options) -> Vec<Diagnostic> {
    if options.scope.is_some() {
        return Vec::new();
    }
    // Used: a source the repository declares, or one a Kustomization or HelmRelease reads
    // through the mapping (declared in another repository).
    fn mapped(status: &SourceStatus) -> Option<&ObjectKey> {
        match status {
            SourceStatus::Mapped { source, .. } => Some(source),
            _ => None,
        }
    }
    let declared: BTreeSet<&ObjectKey> = discovery
        .clusters
        .iter()
        .flat_map(|c| {
            c.sources
                .iter()
                .map(|s| &s.found.key)
                .chain(c.kustomizations.iter().filter_map(|k| mapped(&k.source)))
                .chain(
                    c.helm_releases
                        .iter()
                        .filter_map(|h| h.source.as_ref().and_then(mapped)),
                )
        })
        .collect();
    options
        .sources
        .iter()
        .filter(|(key, _)| !declared.contains(key))
        .map(|(key, path)| {
            Diagnostic::new(
                UNUSED_SOURCE_MAPPING,
                capstan_core::Severity::Warning,
                format!(
                    "the source mapping {key}={} is not used: nothing discovered in this repository declares or reads a {} named {} in namespace {} (check the kind, namespace and name)",
                    path.display(),
                    key.kind,
                    key.name,
                    key.namespace
                ),
            )
        })
        .collect()
}

fn discover_from(
    fs: &dyn Fs,
    path: &Path,
    renderer: &dyn Renderer,
    options: &Options,
) -> Result<Discovery, DiscoveryError> {
    let path = capstan_core::fs::normalize(path);
    // Folders of the repository itself are mapped relative to the path read.
    let mapped = Options {
        sources: options.sources.under(&path),
        ..options.clone()
    };
    let options = &mapped;
    // The repository is seen as source-controller's artifact of it. The root is usually the
    // path given; when the entry points show it is higher up, the rules are read again from there
    // (and the renders made while finding the entry points are not reused).
    let ignore = SourceIgnore::scan(fs, &path)?;
    let artifact = IgnoringFs::new(fs, &path, Arc::new(ignore.rules_for(None)));
    let mut cache = RenderCache::new(&artifact, renderer);
    let plan = roots::plan(&artifact, &path, &mut cache, options);
    if plan.root == path {
        let views = cluster::Views {
            artifact: &artifact,
            checkout: fs,
            ignore: &ignore,
        };
        return Ok(walk_clusters(&views, plan, &mut cache, options));
    }
    let ignore = SourceIgnore::scan(fs, &plan.root)?;
    let artifact = IgnoringFs::new(fs, &plan.root, Arc::new(ignore.rules_for(None)));
    let mut cache = RenderCache::new(&artifact, renderer);
    let views = cluster::Views {
        artifact: &artifact,
        checkout: fs,
        ignore: &ignore,
    };
    Ok(walk_clusters(&views, plan, &mut cache, options))
}

fn walk_clusters(
    views: &cluster::Views<'_>,
    plan: roots::Plan,
    cache: &mut RenderCache<'_>,
    options: &Options,
) -> Discovery {
    let mut discovery = Discovery {
        root: plan.root.clone(),
        clusters: Vec::new(),
        diagnostics: plan.diagnostics,
        ignore: views.ignore.clone(),
        focus: None,
    };
    for entry in plan.clusters {
        let cluster = cluster::walk(views, &plan.root, cache, entry, &plan.entry_files, options);
        discovery.clusters.push(cluster);
    }
    discovery
}

/// True when `path` (normalised) lies inside `root` (normalised).
pub(crate) fn within(root: &Path, path: &Path) -> bool {
    if root == Path::new(".") {
        return !path.is_absolute() && path.components().next() != Some(Component::ParentDir);
    }
    path.starts_with(root)
}

/// `path` relative to `root`, `.` for the root itself.
pub(crate) fn relative(root: &Path, path: &Path) -> PathBuf {
    let stripped = if root == Path::new(".") {
        Some(path)
    } else {
        path.strip_prefix(root).ok()
    };
    match stripped {
        Some(p) if p.as_os_str().is_empty() || p == Path::new(".") => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        None => path.to_path_buf(),
    }
}

/// A Kustomization's `spec.path` as a relative path without `./`; `None` for the root.
pub(crate) fn spec_path(ks: &Kustomization) -> Option<PathBuf> {
    let raw = ks.spec.path_or_root().trim();
    let normalized = capstan_core::fs::normalize(Path::new(raw.trim_start_matches('/')));
    (normalized != Path::new(".")).then_some(normalized)
}

#[cfg(test)]
mod tests;
