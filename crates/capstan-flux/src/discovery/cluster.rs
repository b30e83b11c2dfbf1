//! The fixed point for one cluster: render each Kustomization's path, collect the Flux objects,
//! queue the new Kustomizations, until nothing new turns up. ResourceSets are expanded once no
//! Kustomization is left to render, each as its applier applies it: after that Kustomization's
//! post-build substitution, with the ConfigMaps and Secrets the renders so far apply.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_core::{Diagnostic, Fs, Location, Severity, Value};

use super::GeneratedBy;
use super::roots::{Candidate, ClusterEntry, set_raw_namespace};
use super::{
    Cluster, Discovered, DiscoveredHelmRelease, DiscoveredKustomization, DiscoveredSource, Options,
    Origin, RenderCache, relative, spec_path, within,
};
use crate::model::SourceRef;
use crate::model::{
    FluxKind, FluxObject, GitRepository, GitRepositorySpec, Kustomization, ObjectKey, ObjectMeta,
};
use crate::operator::copy::{Copied, CopiedObject};
use crate::operator::inputs::Provider;
use crate::operator::resourceset;
use crate::operator::runtime::RuntimeObject;
use crate::scope::{Closure, Decision, RealDirs, Scope, Wanted};
use crate::source::artifact::{ArtifactFs, CopyRule, GeneratedArtifact, generated_artifacts};
use crate::source::ignore::{IgnoringFs, SourceIgnore, parse_rules};
use crate::source::{SourceIndex, SourceStatus};

/// A Kustomization waiting to be added.
struct Pending {
    ks: Kustomization,
    raw: Value,
    origin: Origin,
}

/// The trees a walk reads: the repository as its default artifact (`.sourceignore` rules and
/// default exclusions applied), and the raw checkout a source with its own `spec.ignore` is
/// filtered from.
pub(crate) struct Views<'w> {
    pub artifact: &'w dyn Fs,
    pub checkout: &'w dyn Fs,
    pub ignore: &'w SourceIgnore,
}

struct Walk<'w, 'c> {
    fs: &'w dyn Fs,
    checkout: &'w dyn Fs,
    ignore: &'w SourceIgnore,
    root: &'w Path,
    cache: &'w mut RenderCache<'c>,
    sources: SourceIndex,
    cluster: Cluster,
    kustomization_index: HashMap<ObjectKey, usize>,
    helm_release_index: HashMap<ObjectKey, usize>,
    source_index: HashMap<ObjectKey, usize>,
    expanded: Vec<bool>,
    queue: VecDeque<Pending>,
    /// ExternalArtifacts declared by ArtifactGenerators, by (namespace, name).
    artifacts: HashMap<(String, String), GeneratedArtifact>,
    /// Changed-only mode, with the files declaring Flux Kustomizations.
    scope: Option<&'w Scope>,
    entry_files: &'w BTreeSet<PathBuf>,
    /// The scope's decision per Kustomization, once made.
    wanted: Vec<Option<Wanted>>,
    real_dirs: RealDirs,
    /// ResourceSets met so far (manifest with its namespace set, origin); the first
    /// `resource_sets_done` are expanded or deferred.
    resource_sets: Vec<(Value, Origin)>,
    resource_sets_done: usize,
    /// ResourceSets whose applier's `substituteFrom` names an object not rendered yet: expanded
    /// once it turns up, or as written when nothing else is left to expand.
    deferred: Vec<(Value, Origin)>,
    /// The ResourceSetInputProviders met so far.
    providers: Vec<Provider>,
    /// The ConfigMaps and Secrets the renders apply, by (kind, namespace, name): what a
    /// parent's `substituteFrom` reads before its ResourceSets are expanded.
    configs: HashMap<(String, String, String), Value>,
    /// Variables the user supplies for what the repository cannot tell.
    user_vars: &'w std::collections::BTreeMap<String, String>,
}

pub(crate) fn walk(
    views: &Views<'_>,
    root: &Path,
    cache: &mut RenderCache<'_>,
    entry: ClusterEntry,
    entry_files: &BTreeSet<PathBuf>,
    options: &Options,
) -> Cluster {
    let mut walk = Walk {
        fs: views.artifact,
        checkout: views.checkout,
        ignore: views.ignore,
        root,
        cache,
        sources: SourceIndex::new(entry.bootstrap.iter().cloned())
            .with_local(options.sources.clone()),
        cluster: Cluster {
            name: entry.name,
            ..Cluster::default()
        },
        kustomization_index: HashMap::new(),
        helm_release_index: HashMap::new(),
        source_index: HashMap::new(),
        expanded: Vec::new(),
        queue: VecDeque::new(),
        artifacts: HashMap::new(),
        scope: options.scope.as_deref(),
        entry_files,
        wanted: Vec::new(),
        real_dirs: RealDirs::default(),
        resource_sets: Vec::new(),
        resource_sets_done: 0,
        deferred: Vec::new(),
        providers: Vec::new(),
        configs: HashMap::new(),
        user_vars: &options.vars,
    };
    walk.cluster.substitution = entry.policy.clone();
    for Candidate {
        ks,
        raw,
        file,
        document,
        source,
        ..
    } in entry.roots
    {
        let origin = Origin {
            file: Some(relative(root, &file)),
            document: Some(document),
            parent: None,
            generated_by: None,
        };
        // The source a FluxInstance's sync creates: declared here, as the operator applies it.
        if let Some(source) = source
            && let Ok(Some(object)) = FluxObject::from_value(&source)
        {
            walk.collect(object, source, origin.clone());
        }
        walk.queue.push_back(Pending { ks, raw, origin });
    }
    loop {
        while let Some(pending) = walk.queue.pop_front() {
            walk.add_kustomization(pending);
        }
        walk.prefetch();
        let mut progressed = false;
        for index in 0..walk.cluster.kustomizations.len() {
            if walk.expanded[index] {
                continue;
            }
            let ks = &walk.cluster.kustomizations[index].found;
            if walk
                .resolve_source(&ks.object.spec.source_ref, &ks.key.namespace)
                .is_local()
            {
                walk.expanded[index] = true;
                walk.expand(index);
                progressed = true;
            }
        }
        if !progressed && walk.queue.is_empty() && !walk.expand_resource_sets() {
            break;
        }
    }
    walk.finish()
}

impl Walk<'_, '_> {
    fn add_kustomization(&mut self, pending: Pending) {
        let key = ObjectKey::new(
            FluxKind::Kustomization,
            pending.ks.metadata.namespace.clone().unwrap_or_default(),
            pending.ks.metadata.name.clone(),
        );
        if let Some(&existing) = self.kustomization_index.get(&key) {
            let first = &self.cluster.kustomizations[existing].found;
            report_duplicate(
                &mut self.cluster.diagnostics,
                &key,
                &first.raw,
                &first.origin,
                &pending.raw,
                &pending.origin,
            );
            return;
        }
        self.kustomization_index
            .insert(key.clone(), self.cluster.kustomizations.len());
        self.expanded.push(false);
        self.wanted.push(None);
        self.cluster.kustomizations.push(DiscoveredKustomization {
            found: Discovered {
                key,
                object: pending.ks,
                raw: pending.raw,
                origin: pending.origin,
            },
            source: SourceStatus::Missing {
                source: ObjectKey::new(FluxKind::GitRepository, "", ""),
            },
            dir: None,
            dir_exists: false,
            out_of_scope: false,
        });
    }

    /// Renders the Kustomization's directory and collects what it applies.
    fn expand(&mut self, index: usize) {
        let (parent_key, parent_origin, ks) = {
            let found = &self.cluster.kustomizations[index].found;
            (
                found.key.clone(),
                found.origin.clone(),
                found.object.clone(),
            )
        };
        let path_location = parent_origin.location().with_field("spec.path");
        // The tree the path is resolved in: the repository, or an artifact's view of it.
        let artifact = self.artifact_of(&ks, &parent_key.namespace);
        let view = artifact
            .as_ref()
            .map(|(root, rules)| ArtifactFs::new(self.fs, root.clone(), rules));
        let own_ignore = match artifact {
            None => self.own_ignore(&ks, &parent_key.namespace),
            Some(_) => None,
        };
        let filtered = own_ignore.as_ref().map(|text| {
            IgnoringFs::new(
                self.checkout,
                self.root,
                Arc::new(self.ignore.rules_for(Some(text))),
            )
        });
        // A source mapped to a local folder: its paths are followed from that folder.
        let mapped = match self.resolve_source(&ks.spec.source_ref, &parent_key.namespace) {
            SourceStatus::Mapped { source, path } => Some((source, path)),
            _ => None,
        };
        let (fs, base): (&dyn Fs, PathBuf) = match (&view, &artifact, &filtered, &mapped) {
            (Some(view), Some((root, _)), _, _) => (view, root.clone()),
            (_, _, _, Some((_, path))) => (self.fs, path.clone()),
            (_, _, Some(filtered), _) => (filtered, self.root.to_path_buf()),
            _ => (self.fs, self.root.to_path_buf()),
        };
        let to_repository = |path: &Path| -> PathBuf {
            let real = view
                .as_ref()
                .and_then(|v| v.real_path(path))
                .unwrap_or_else(|| path.to_path_buf());
            relative(self.root, &real)
        };
        let dir = match spec_path(&ks) {
            Some(spec) => capstan_core::fs::normalize(&base.join(spec)),
            None => base.clone(),
        };
        let shown = to_repository(&dir);
        self.cluster.kustomizations[index].dir = Some(shown.clone());
        if !within(&base, &dir) {
            self.cluster.diagnostics.push(
                Diagnostic::new(
                    "flux/path-escapes-repository",
                    Severity::Error,
                    format!(
                        "{parent_key}: spec.path {} leads outside the repository",
                        ks.spec.path_or_root()
                    ),
                )
                .at(path_location),
            );
            return;
        }
        if !fs.is_dir(&dir) {
            let why = if let Some((source, path)) = &mapped {
                format!(
                    "does not exist in {}, the folder {source} is mapped to",
                    path.display()
                )
            } else if artifact.is_none() && self.checkout.is_dir(&dir) {
                "is in the repository but not in the source artifact (excluded by .sourceignore, the source's spec.ignore or a default exclusion)".to_owned()
            } else {
                let mut why = "does not exist in the repository".to_owned();
                if let SourceStatus::Local { source, .. } =
                    self.resolve_source(&ks.spec.source_ref, &parent_key.namespace)
                    && let Some(spec) = spec_path(&ks)
                    && let Some(folder) =
                        super::hint::folder_holding(self.checkout, self.root, &spec)
                {
                    why.push_str(&format!(
                        ", but it does under {shown}/: when {source}'s content is that folder \
                         (an artifact pushed from it), pass --source {source}={path}",
                        shown = relative(self.root, &folder).display(),
                        path = folder.display(),
                    ));
                }
                why
            };
            self.cluster.diagnostics.push(
                Diagnostic::new(
                    "flux/missing-path",
                    Severity::Error,
                    format!("{parent_key}: spec.path {} {why}", ks.spec.path_or_root()),
                )
                .at(path_location),
            );
            return;
        }
        self.cluster.kustomizations[index].dir_exists = true;
        if view.is_none() && mapped.is_none() && !self.in_scope(index, fs, &dir) {
            self.cluster.kustomizations[index].out_of_scope = true;
            return;
        }
        let view = own_ignore.as_deref().unwrap_or("");
        let rendered = match components_kustomization(fs, &dir, &ks) {
            // `spec.components` are part of the build: what they hold (HelmReleases, sources…)
            // is applied with the directory's objects.
            Some((file, text)) => {
                let overlay = super::kustomize::OverlayFs::new(fs, file, text.into_bytes());
                let view = format!("{view}\0components:{}", ks.spec.components.join("\0"));
                self.cache.render_view(&view, &overlay, &dir).clone()
            }
            None => self.cache.render_view(view, fs, &dir).clone(),
        };
        if let Some(error) = &rendered.error {
            let mut location = Location {
                file: error.file.as_ref().map(|f| to_repository(f)),
                line: error.line,
                ..Location::default()
            };
            if location.is_empty() {
                location = path_location;
            }
            self.cluster.diagnostics.push(
                Diagnostic::new(
                    "flux/build-failed",
                    Severity::Error,
                    format!(
                        "{parent_key}: building {}: {} (Flux objects below are read without kustomize)",
                        shown.display(),
                        repository_text(
                            &error.message,
                            self.root,
                            self.artifacts.keys().map(|(ns, name)| (ns.as_str(), name.as_str()))
                        )
                    ),
                )
                .at(location),
            );
        }
        let objects = rendered.objects;
        let parent_namespace = parent_key.namespace.clone();
        // The ConfigMaps and Secrets first: a child Kustomization's substitution may read one
        // rendered after it.
        for rendered in &objects {
            let namespace = applied_namespace(&rendered.value, &ks, &parent_namespace);
            self.record_config(&rendered.value, &namespace);
        }
        for rendered in objects {
            let origin = Origin {
                file: rendered.file.as_ref().map(|f| to_repository(f)),
                document: rendered.document,
                parent: Some(parent_key.clone()),
                generated_by: None,
            };
            if is_artifact_generator(&rendered.value) {
                self.declare_generator(rendered.value, &ks, &parent_namespace, &origin);
                continue;
            }
            let namespace = applied_namespace(&rendered.value, &ks, &parent_namespace);
            if self.operator_object(&rendered.value, &namespace, &origin) {
                continue;
            }
            let value = if is_kustomization(&rendered.value) {
                // Applied after this Kustomization's post-build substitution: a child's
                // `spec.path: ./apps/${CLUSTER}` leads where Flux goes. As written when the
                // substitution cannot run (it fails, or reads an object not rendered).
                self.substituted(rendered.value, &origin)
                    .unwrap_or_else(|raw| raw)
            } else {
                rendered.value
            };
            let object = match FluxObject::from_value(&value) {
                Ok(Some(object)) => object,
                Ok(None) => continue,
                Err(error) => {
                    self.cluster.diagnostics.push(
                        Diagnostic::new("flux/invalid-object", Severity::Error, error.to_string())
                            .at(origin.location()),
                    );
                    continue;
                }
            };
            let (object, raw) = self.place(object, value, &ks, &parent_namespace, &origin);
            self.collect(object, raw, origin);
        }
    }

    /// Records a Flux object found in a render (or generated): a Kustomization to walk, a
    /// HelmRelease, or a source; a second one with the same key is reported.
    fn collect(&mut self, object: FluxObject, raw: Value, origin: Origin) {
        match object {
            FluxObject::Kustomization(child) => self.queue.push_back(Pending {
                ks: child,
                raw,
                origin,
            }),
            FluxObject::HelmRelease(release) => {
                let key = ObjectKey::new(
                    FluxKind::HelmRelease,
                    release.metadata.namespace.clone().unwrap_or_default(),
                    release.metadata.name.clone(),
                );
                if let Some(&existing) = self.helm_release_index.get(&key) {
                    let first = &self.cluster.helm_releases[existing].found;
                    report_duplicate(
                        &mut self.cluster.diagnostics,
                        &key,
                        &first.raw,
                        &first.origin,
                        &raw,
                        &origin,
                    );
                    return;
                }
                self.helm_release_index
                    .insert(key.clone(), self.cluster.helm_releases.len());
                self.cluster.helm_releases.push(DiscoveredHelmRelease {
                    found: Discovered {
                        key,
                        object: release,
                        raw,
                        origin,
                    },
                    source: None,
                });
            }
            source => {
                let key = source.key();
                if let Some(&existing) = self.source_index.get(&key) {
                    let first = &self.cluster.sources[existing].found;
                    report_duplicate(
                        &mut self.cluster.diagnostics,
                        &key,
                        &first.raw,
                        &first.origin,
                        &raw,
                        &origin,
                    );
                    return;
                }
                self.sources.declare(&source);
                self.source_index
                    .insert(key.clone(), self.cluster.sources.len());
                self.cluster.sources.push(DiscoveredSource {
                    found: Discovered {
                        key,
                        object: source,
                        raw,
                        origin,
                    },
                    implied: false,
                });
            }
        }
    }

    /// Takes in a Flux Operator object or a runtime-only Secret's producer; true for
    /// ResourceSets and ResourceSetInputProviders (held for [`Walk::expand_resource_sets`]).
    fn operator_object(&mut self, value: &Value, namespace: &str, origin: &Origin) -> bool {
        if let Some(runtime) = RuntimeObject::of(value, namespace)
            && !self.cluster.runtime_objects.contains(&runtime)
        {
            self.cluster.runtime_objects.push(runtime);
        }
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !api_version.starts_with("fluxcd.controlplane.io/") {
            return false;
        }
        match value.get("kind").and_then(Value::as_str) {
            Some("ResourceSet") => {
                let mut raw = value.clone();
                set_raw_namespace(&mut raw, namespace);
                self.resource_sets.push((raw, origin.clone()));
                true
            }
            Some("ResourceSetInputProvider") => {
                self.providers.push(Provider::from_value(value, namespace));
                true
            }
            _ => false,
        }
    }

    /// Keeps a rendered ConfigMap or Secret (applied in `namespace`) for `substituteFrom`.
    fn record_config(&mut self, value: &Value, namespace: &str) {
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "ConfigMap" | "Secret")
            || value.get("apiVersion").and_then(Value::as_str) != Some("v1")
            || value.get("sops").is_some()
        {
            return;
        }
        let Some(name) = value.pointer("/metadata/name").and_then(Value::as_str) else {
            return;
        };
        self.configs
            .entry((kind.to_owned(), namespace.to_owned(), name.to_owned()))
            .or_insert_with(|| value.clone());
    }

    /// A ResourceSet (or a child Kustomization) as the Kustomization that applies it applies it: after that
    /// Kustomization's post-build substitution (its `substitute` and the `substituteFrom`
    /// objects the repository renders or arranges to exist at runtime), undefined variables
    /// handled as the cluster's Flux handles them. Unchanged when the applier substitutes
    /// nothing; when the substitution fails, the build of the applier reports why and the
    /// ResourceSet is expanded as written. `Err(raw)` when a `substituteFrom` object is not
    /// rendered (yet).
    fn substituted(&self, raw: Value, origin: &Origin) -> Result<Value, Value> {
        let Some(parent) = origin
            .parent
            .as_ref()
            .and_then(|p| self.kustomization_index.get(p))
            .map(|&i| &self.cluster.kustomizations[i].found)
        else {
            return Ok(raw);
        };
        let Ok(Some(post_build)) = crate::substitute::PostBuild::from_kustomization(&parent.raw)
        else {
            return Ok(raw);
        };
        let namespace = parent.key.namespace.as_str();
        let runtime = |kind: &str, namespace: &str, name: &str| {
            self.cluster
                .runtime_objects
                .iter()
                .find(|r| r.kind == kind && r.namespace == namespace && r.name == name)
        };
        let lookup = |kind: &str, name: &str| -> Option<Value> {
            let key = (kind.to_owned(), namespace.to_owned(), name.to_owned());
            self.configs.get(&key).cloned().or_else(|| {
                if let Some(copied) = self
                    .cluster
                    .copied_objects
                    .iter()
                    .find(|c| c.kind == kind && c.namespace == namespace && c.name == name)
                {
                    let (from_namespace, from_name) = &copied.from;
                    let source_key = (kind.to_owned(), from_namespace.clone(), from_name.clone());
                    return match copied.resolve(
                        self.configs.get(&source_key),
                        runtime(kind, from_namespace, from_name),
                    ) {
                        Ok(Copied::Rendered(v) | Copied::Runtime(v, _)) => Some(v),
                        Err(_) => None,
                    };
                }
                runtime(kind, namespace, name).map(RuntimeObject::placeholder)
            })
        };
        let mut vars = match post_build.variables(namespace, &lookup) {
            Ok(vars) => vars,
            Err(crate::substitute::SubstituteError::MissingReference { .. }) => return Err(raw),
            Err(_) => return Ok(raw),
        };
        crate::substitute::supply(&mut vars, self.user_vars, post_build.strategy);
        let options = crate::substitute::SubstituteOptions {
            strict: self.cluster.substitution.strict,
        };
        match crate::substitute::substitute_object(&raw, &vars, post_build.strategy, options) {
            Ok(Some(substituted)) => Ok(substituted),
            _ => Ok(raw),
        }
    }

    /// Expands the ResourceSets not expanded yet into the objects the operator would apply, and
    /// takes those in like rendered ones. False when there was nothing to expand.
    fn expand_resource_sets(&mut self) -> bool {
        let mut pending: Vec<(Value, Origin)> = std::mem::take(&mut self.deferred);
        pending.extend_from_slice(&self.resource_sets[self.resource_sets_done..]);
        self.resource_sets_done = self.resource_sets.len();
        if pending.is_empty() {
            return false;
        }
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        for (raw, origin) in pending {
            match self.substituted(raw, &origin) {
                Ok(raw) => ready.push((raw, origin)),
                Err(raw) => waiting.push((raw, origin)),
            }
        }
        if ready.is_empty() {
            // Nothing left can render the objects they wait for: as written.
            ready = std::mem::take(&mut waiting);
        }
        self.deferred = waiting;
        for (raw, origin) in ready {
            let namespace = raw
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let name = raw
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let expansion = match resourceset::expand(&raw, &namespace, &self.providers) {
                Ok(expansion) => expansion,
                Err(error) => {
                    self.cluster.diagnostics.push(
                        Diagnostic::new(
                            "flux/resourceset-invalid",
                            Severity::Error,
                            format!("ResourceSet {namespace}/{name}: {error}; its resources are not generated"),
                        )
                        .at(origin.location()),
                    );
                    continue;
                }
            };
            for why in &expansion.unknown {
                self.cluster.diagnostics.push(
                    Diagnostic::new(
                        "flux/resourceset-inputs-unknown",
                        Severity::Info,
                        format!(
                            "ResourceSet {namespace}/{name}: {why}; the objects those inputs make are not generated"
                        ),
                    )
                    .at(origin.location().with_field("spec.inputsFrom")),
                );
            }
            for generated in expansion.objects {
                let object_origin = Origin {
                    generated_by: Some(GeneratedBy {
                        resource_set: format!("{namespace}/{name}"),
                        field: generated.field,
                        input: generated.input,
                    }),
                    ..origin.clone()
                };
                let own = generated
                    .object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned);
                let object_namespace = own.clone().unwrap_or_else(|| namespace.clone());
                if let Some(copied) = CopiedObject::of(&generated.object, &object_namespace)
                    && !self.cluster.copied_objects.contains(&copied)
                {
                    self.cluster.copied_objects.push(copied);
                }
                if self.operator_object(&generated.object, &object_namespace, &object_origin) {
                    continue;
                }
                let object = match FluxObject::from_value(&generated.object) {
                    Ok(Some(object)) => object,
                    Ok(None) => continue,
                    Err(error) => {
                        self.cluster.diagnostics.push(
                            Diagnostic::new(
                                "flux/invalid-object",
                                Severity::Error,
                                format!(
                                    "generated by {}: {error}",
                                    object_origin
                                        .generated_by
                                        .as_ref()
                                        .map(ToString::to_string)
                                        .unwrap_or_default()
                                ),
                            )
                            .at(object_origin.location()),
                        );
                        continue;
                    }
                };
                let mut object = object;
                let mut raw = generated.object;
                if own.is_none() {
                    object.metadata_mut().namespace = Some(object_namespace.clone());
                    set_raw_namespace(&mut raw, &object_namespace);
                }
                self.collect(object, raw, object_origin);
            }
        }
        true
    }

    /// Applies the applying Kustomization's namespace rules and name affixes.
    fn place(
        &mut self,
        mut object: FluxObject,
        mut raw: Value,
        parent: &Kustomization,
        parent_namespace: &str,
        origin: &Origin,
    ) -> (FluxObject, Value) {
        let target = parent
            .spec
            .target_namespace
            .as_deref()
            .filter(|ns| !ns.is_empty());
        let own = object
            .metadata()
            .namespace
            .clone()
            .filter(|ns| !ns.is_empty());
        let namespace = match (target, own) {
            (Some(target), _) => target.to_owned(),
            (None, Some(own)) => own,
            (None, None) => {
                self.cluster.diagnostics.push(
                    Diagnostic::new(
                        "flux/namespace-not-specified",
                        Severity::Warning,
                        format!(
                            "{} {} has no namespace and Kustomization {parent_namespace}/{} sets no targetNamespace; \
                             kustomize-controller rejects it (assumed {parent_namespace})",
                            object.kind(),
                            object.metadata().name,
                            parent.metadata.name
                        ),
                    )
                    .at(origin.location().with_field("metadata.namespace")),
                );
                parent_namespace.to_owned()
            }
        };
        set_raw_namespace(&mut raw, &namespace);
        let prefix = parent.spec.name_prefix.as_deref().unwrap_or("");
        let suffix = parent.spec.name_suffix.as_deref().unwrap_or("");
        let meta = object.metadata_mut();
        meta.namespace = Some(namespace);
        if !prefix.is_empty() || !suffix.is_empty() {
            meta.name = format!("{prefix}{}{suffix}", meta.name);
            if let Some(metadata) = raw.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert("name".to_owned(), Value::String(meta.name.clone()));
            }
        }
        (object, raw)
    }

    /// Whether changed-only mode renders the Kustomization at `index`, whose directory is `dir`
    /// in `fs` (always true outside changed-only mode). Decided once.
    fn in_scope(&mut self, index: usize, fs: &dyn Fs, dir: &Path) -> bool {
        let Some(scope) = self.scope else {
            return true;
        };
        if let Some(wanted) = self.wanted[index] {
            return wanted.render;
        }
        let found = &self.cluster.kustomizations[index].found;
        if !fs.is_dir(dir) {
            return true; // reported as missing by expand
        }
        let declared_in = found
            .origin
            .file
            .as_ref()
            .map(|file| capstan_core::fs::normalize(&self.root.join(file)));
        let closure = Closure::of_cached(
            fs,
            self.root,
            dir,
            &found.object.spec.components,
            &mut self.real_dirs,
        );
        let parent_broad = found
            .origin
            .parent
            .as_ref()
            .and_then(|p| self.kustomization_index.get(p))
            // a parent rendered without a decision (an artifact's view) counts as changed
            .is_some_and(|&p| self.wanted[p].is_none_or(|w| w.broad));
        let wanted = scope.wants(&Decision {
            closure: &closure,
            declared_in: declared_in.as_deref(),
            parent_broad,
            entry: found.origin.parent.is_none(),
            forced: scope.is_forced(&found.key),
            entry_files: self.entry_files,
        });
        self.wanted[index] = Some(wanted);
        wanted.render
    }

    /// Renders, in parallel, the repository directories of the Kustomizations about to expand.
    fn prefetch(&mut self) {
        let mut candidates = Vec::new();
        let mut mapped = Vec::new();
        for (index, ks) in self.cluster.kustomizations.iter().enumerate() {
            let found = &ks.found;
            if self.expanded[index] {
                continue;
            }
            let status = self.resolve_source(&found.object.spec.source_ref, &found.key.namespace);
            if let SourceStatus::Mapped { path, .. } = &status {
                let dir = match spec_path(&found.object) {
                    Some(spec) => capstan_core::fs::normalize(&path.join(spec)),
                    None => path.clone(),
                };
                if within(path, &dir) {
                    mapped.push(dir);
                }
                continue;
            }
            if matches!(status, SourceStatus::Local { .. })
                && found.object.spec.components.is_empty()
                && self
                    .own_ignore(&found.object, &found.key.namespace)
                    .is_none()
            {
                let dir = match spec_path(&found.object) {
                    Some(spec) => capstan_core::fs::normalize(&self.root.join(spec)),
                    None => self.root.to_path_buf(),
                };
                if within(self.root, &dir) {
                    candidates.push((index, dir));
                }
            }
        }
        let fs = self.fs;
        let dirs = candidates
            .into_iter()
            .filter(|(index, dir)| self.in_scope(*index, fs, dir))
            .map(|(_, dir)| dir)
            .chain(mapped)
            .collect();
        self.cache.prefetch(dirs);
    }

    /// The `spec.ignore` of a Kustomization's source when it is this repository and the source
    /// has ignore rules of its own (its artifact then differs from the default one).
    fn own_ignore(&self, ks: &Kustomization, namespace: &str) -> Option<String> {
        let SourceStatus::Local { source, .. } =
            self.resolve_source(&ks.spec.source_ref, namespace)
        else {
            return None;
        };
        let text = match self.sources.declared().get(&source)? {
            FluxObject::GitRepository(repo) => repo.spec.ignore.clone()?,
            _ => return None,
        };
        (!parse_rules(&text, &[]).is_empty()).then_some(text)
    }

    /// A Kustomization's source, with ExternalArtifacts resolved through their generators.
    fn resolve_source(&self, reference: &SourceRef, namespace: &str) -> SourceStatus {
        if reference.kind != "ExternalArtifact" {
            return self.sources.resolve(reference, namespace);
        }
        let key = (
            reference.namespace_or(namespace).to_owned(),
            reference.name.clone(),
        );
        match self.artifacts.get(&key) {
            Some(artifact) if self.artifact_is_local(artifact) => SourceStatus::Generated {
                namespace: key.0,
                name: key.1,
                generator: artifact.generator.clone(),
            },
            _ => self.sources.resolve(reference, namespace),
        }
    }

    fn artifact_is_local(&self, artifact: &GeneratedArtifact) -> bool {
        artifact.copy.iter().all(|rule| {
            artifact
                .sources
                .iter()
                .find(|(alias, _)| *alias == rule.alias)
                .is_some_and(|(_, reference)| {
                    self.sources
                        .resolve(reference, &artifact.namespace)
                        .is_local()
                })
        })
    }

    /// The artifact view (root and rules) a Kustomization's path is resolved in, when its source
    /// is a generated ExternalArtifact.
    fn artifact_of(
        &self,
        ks: &Kustomization,
        namespace: &str,
    ) -> Option<(PathBuf, Vec<(CopyRule, PathBuf)>)> {
        let SourceStatus::Generated {
            namespace, name, ..
        } = self.resolve_source(&ks.spec.source_ref, namespace)
        else {
            return None;
        };
        let artifact = self.artifacts.get(&(namespace.clone(), name.clone()))?;
        let root =
            capstan_core::fs::normalize(&self.root.join("@artifact").join(&namespace).join(&name));
        let rules = artifact
            .copy
            .iter()
            .map(|rule| (rule.clone(), self.root.to_path_buf()))
            .collect();
        Some((root, rules))
    }

    fn declare_generator(
        &mut self,
        mut raw: Value,
        parent: &Kustomization,
        parent_namespace: &str,
        origin: &Origin,
    ) {
        let namespace = parent
            .spec
            .target_namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .or_else(|| {
                raw.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| parent_namespace.to_owned());
        set_raw_namespace(&mut raw, &namespace);
        match generated_artifacts(&raw, &namespace) {
            Ok(artifacts) => {
                for artifact in artifacts {
                    self.artifacts.insert(
                        (artifact.namespace.clone(), artifact.name.clone()),
                        artifact,
                    );
                }
            }
            Err(message) => self.cluster.diagnostics.push(
                Diagnostic::new(
                    "flux/invalid-object",
                    Severity::Error,
                    format!(
                        "ArtifactGenerator {}: {message}",
                        raw.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("<unnamed>")
                    ),
                )
                .at(origin.location()),
            ),
        }
    }

    fn finish(mut self) -> Cluster {
        let mut artifacts: Vec<GeneratedArtifact> = self.artifacts.values().cloned().collect();
        artifacts.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        self.cluster.artifacts = artifacts;
        // The bootstrap sources nobody declares are this repository, implied.
        let implied: Vec<ObjectKey> = self
            .sources
            .bootstrap()
            .filter(|key| self.sources.is_implied(key))
            .filter(|key| {
                self.cluster.kustomizations.iter().any(|ks| {
                    ks.found
                        .object
                        .spec
                        .source_ref
                        .key(&ks.found.key.namespace)
                        .as_ref()
                        == Some(*key)
                })
            })
            .cloned()
            .collect();
        for key in implied {
            self.cluster.sources.push(implied_source(&key));
        }
        for index in 0..self.cluster.kustomizations.len() {
            let ks = &self.cluster.kustomizations[index];
            let status =
                self.resolve_source(&ks.found.object.spec.source_ref, &ks.found.key.namespace);
            let location = ks.found.origin.location().with_field("spec.sourceRef");
            match &status {
                SourceStatus::Missing { source } => self.cluster.diagnostics.push(
                    Diagnostic::new(
                        "flux/missing-source",
                        Severity::Error,
                        format!("{}: source {source} is not declared in this repository", ks.found.key),
                    )
                    .at(location),
                ),
                SourceStatus::Unsupported { kind, namespace, name } => self.cluster.diagnostics.push(
                    Diagnostic::new(
                        "flux/unsupported-source",
                        Severity::Info,
                        format!("{}: source {kind}/{namespace}/{name} is not a kind capstan reads; path not followed", ks.found.key),
                    )
                    .at(location),
                ),
                _ => {}
            }
            self.cluster.kustomizations[index].source = status;
        }
        for index in 0..self.cluster.helm_releases.len() {
            let release = &self.cluster.helm_releases[index];
            let Some(reference) = release.found.object.spec.chart_source() else {
                self.cluster.diagnostics.push(
                    Diagnostic::new(
                        "flux/missing-chart",
                        Severity::Error,
                        format!(
                            "{}: neither spec.chart nor spec.chartRef is set",
                            release.found.key
                        ),
                    )
                    .at(release
                        .found
                        .origin
                        .location()
                        .with_field("spec.chart")),
                );
                continue;
            };
            let status = self
                .sources
                .resolve(reference, &release.found.key.namespace);
            if let SourceStatus::Missing { source } = &status {
                self.cluster.diagnostics.push(
                    Diagnostic::new(
                        "flux/missing-source",
                        Severity::Error,
                        format!(
                            "{}: chart source {source} is not declared in this repository",
                            release.found.key
                        ),
                    )
                    .at(release
                        .found
                        .origin
                        .location()
                        .with_field("spec.chart.spec.sourceRef")),
                );
            }
            self.cluster.helm_releases[index].source = Some(status);
        }
        self.cluster
    }
}

/// The kustomization file kustomize-controller builds `dir` with when the Kustomization names
/// `spec.components` (its other spec fields are applied by discovery itself); `None` without
/// components, or when the file cannot be prepared (the build reports why).
fn components_kustomization(
    fs: &dyn Fs,
    dir: &Path,
    ks: &Kustomization,
) -> Option<(PathBuf, String)> {
    if ks.spec.components.is_empty() {
        return None;
    }
    let spec = serde_json::json!({"spec": {
        "components": ks.spec.components,
        "ignoreMissingComponents": ks.spec.ignore_missing_components,
    }});
    crate::build::overlay::flux_kustomization(fs, dir, &spec).ok()
}

/// A Flux Kustomization (`kustomize.toolkit.fluxcd.io`) that holds a `${` to substitute.
fn is_kustomization(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("Kustomization")
        && value
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
        && value.to_string().contains("${")
}

fn is_artifact_generator(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("ArtifactGenerator")
        && value
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("source.extensions.fluxcd.io/"))
}

/// The bootstrap source as Flux would have it: this repository, declared nowhere.
fn implied_source(key: &ObjectKey) -> DiscoveredSource {
    let metadata = ObjectMeta {
        name: key.name.clone(),
        namespace: Some(key.namespace.clone()),
        ..ObjectMeta::default()
    };
    let object = FluxObject::GitRepository(GitRepository {
        api_version: "source.toolkit.fluxcd.io/v1".to_owned(),
        kind: key.kind.as_str().to_owned(),
        metadata,
        spec: GitRepositorySpec::default(),
    });
    let raw = serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": key.kind.as_str(),
        "metadata": {"name": key.name, "namespace": key.namespace},
    });
    DiscoveredSource {
        found: Discovered {
            key: key.clone(),
            object,
            raw,
            origin: Origin::default(),
        },
        implied: true,
    }
}

/// A second object with the same key: silent when it is the same manifest met again (the
/// bootstrap Kustomization re-applies its own gotk-sync.yaml), a warning otherwise.
fn report_duplicate(
    diagnostics: &mut Vec<Diagnostic>,
    key: &ObjectKey,
    first_raw: &Value,
    first: &Origin,
    raw: &Value,
    origin: &Origin,
) {
    let same_place =
        first.file.is_some() && first.file == origin.file && first.document == origin.document;
    if same_place || first_raw == raw {
        return;
    }
    let place = |o: &Origin| -> String {
        let mut text = o
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "<rendered>".to_owned());
        if let Some(parent) = &o.parent {
            text.push_str(&format!(" (applied by {parent})"));
        }
        text
    };
    diagnostics.push(
        Diagnostic::new(
            "flux/duplicate-object",
            Severity::Warning,
            format!(
                "{key} is declared twice: {} and {}; the first is kept",
                place(first),
                place(origin)
            ),
        )
        .at(origin.location()),
    );
}

/// The namespace an object rendered by `parent` lands in: its `targetNamespace`, else the
/// object's own, else the parent's namespace.
fn applied_namespace(value: &Value, parent: &Kustomization, parent_namespace: &str) -> String {
    parent
        .spec
        .target_namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .or_else(|| {
            value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| parent_namespace.to_owned())
}

/// A renderer's message with the paths it names as the user knows them: relative to the
/// repository, and a path inside a generated ExternalArtifact (which discovery roots at an
/// internal `ROOT/@artifact/NAMESPACE/NAME`) as `ExternalArtifact/NAMESPACE/NAME:PATH`.
pub(crate) fn repository_text<'a>(
    text: &str,
    root: &Path,
    artifacts: impl Iterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut text = text.to_owned();
    for (namespace, name) in artifacts {
        let internal = root.join("@artifact").join(namespace).join(name);
        let shown = format!("ExternalArtifact/{namespace}/{name}:");
        text = text
            .replace(&format!("{}/", internal.display()), &shown)
            .replace(&format!("@artifact/{namespace}/{name}/"), &shown);
    }
    text.replace(&format!("{}/", root.display()), "")
}

#[cfg(test)]
mod repository_text_tests {
    use super::*;

    #[test]
    fn artifact_paths_name_the_external_artifact() {
        let message = "accumulating resources from './x.yaml': /repo/@artifact/flux-system/infra/controllers/x.yaml: not in the artifact; see /repo/apps/a.yaml";
        let shown = repository_text(
            message,
            Path::new("/repo"),
            [("flux-system", "infra")].into_iter(),
        );
        assert!(!shown.contains("@artifact"), "{shown}");
        assert!(
            shown.contains("ExternalArtifact/flux-system/infra:controllers/x.yaml"),
            "{shown}"
        );
        assert!(shown.contains("see apps/a.yaml"), "{shown}");
    }
}
