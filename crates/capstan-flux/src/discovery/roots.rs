//! Finding the entry points: where the repository root is, which Kustomizations start each
//! cluster, and which source is the repository itself.
//!
//! - A Kustomization named `flux-system` (what `flux bootstrap` writes to
//!   `clusters/<name>/flux-system/gotk-sync.yaml`) starts a cluster of its own.
//! - A Flux Operator `FluxInstance` with `spec.sync` starts a cluster through the Kustomization
//!   the operator creates for it (named after the sync, `flux-system` by default).
//! - Without either, the Kustomizations found in the tree that no other Kustomization's build
//!   reads start one cluster together.
//!
//! The repository root is where the entry point's `spec.path` leads back to its own file; else
//! the nearest ancestor of `--path` under which the Kustomizations' paths exist; else `--path`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use capstan_core::{Diagnostic, Fs, Location, Severity, Value};
use serde_json::json;

use super::scan::{ScannedDocument, entry_documents, yaml_files};
use super::{Options, RenderCache, relative, spec_path, within};
use crate::model::{FluxKind, FluxObject, Kustomization, ObjectKey};
use crate::operator::fluxinstance::Instance;
use crate::operator::version::{self, SubstitutionPolicy};

/// An entry-point Kustomization as read from the tree.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub ks: Kustomization,
    pub raw: Value,
    /// Absolute or fs-relative path of the file it was read from.
    pub file: PathBuf,
    pub document: usize,
    /// True when synthesised from a FluxInstance.
    pub synthesized: bool,
    /// The source the Flux Operator creates beside the Kustomization (FluxInstance sync).
    pub source: Option<Value>,
    /// How this entry's Flux substitutes undefined variables, when the repository tells.
    pub policy: Option<SubstitutionPolicy>,
}

/// The Kustomizations a cluster starts from, and the sources that are this repository.
#[derive(Debug, Clone)]
pub(crate) struct ClusterEntry {
    pub name: String,
    pub roots: Vec<Candidate>,
    pub bootstrap: BTreeSet<ObjectKey>,
    /// How the cluster's kustomize-controller substitutes undefined variables.
    pub policy: SubstitutionPolicy,
}

pub(crate) struct Plan {
    pub root: PathBuf,
    /// The files declaring Flux Kustomizations (or FluxInstances), as `fs` names them.
    pub entry_files: BTreeSet<PathBuf>,
    pub clusters: Vec<ClusterEntry>,
    pub diagnostics: Vec<Diagnostic>,
}

pub(crate) fn plan(
    fs: &dyn Fs,
    path: &Path,
    cache: &mut RenderCache<'_>,
    options: &Options,
) -> Plan {
    let mut diagnostics = Vec::new();
    let files = yaml_files(fs, path);
    let candidates = read_candidates(fs, &files, options, &mut diagnostics);
    let mut candidates = candidates;
    let bootstrap_roots: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.synthesized || c.ks.metadata.name == "flux-system")
        .collect();
    let root = infer_root(fs, path, &candidates, &bootstrap_roots);
    if bootstrap_roots.is_empty() {
        candidates.extend(bootstrap_dirs(&files, &root, options));
    }
    let bootstrap_roots: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.synthesized || c.ks.metadata.name == "flux-system")
        .collect();
    for diagnostic in &mut diagnostics {
        if let Some(file) = diagnostic.location.file.take() {
            diagnostic.location.file = Some(relative(&root, &file));
        }
        if root != Path::new(".") {
            diagnostic.message = diagnostic
                .message
                .replace(&format!("{}/", root.display()), "");
        }
    }
    let default_bootstrap = ObjectKey::new(FluxKind::GitRepository, "flux-system", "flux-system");
    let clusters = if bootstrap_roots.is_empty() {
        let roots = uncovered(&root, &candidates, cache);
        // An entry point found in the repository applies from it: its source is this repository.
        let mut bootstrap = BTreeSet::from([default_bootstrap]);
        for candidate in &roots {
            let namespace = candidate.ks.metadata.namespace.clone().unwrap_or_default();
            if let Some(key) = candidate
                .ks
                .spec
                .source_ref
                .key(&namespace)
                .filter(|k| k.kind.is_source())
            {
                bootstrap.insert(key);
            }
        }
        if roots.is_empty() {
            Vec::new()
        } else {
            let policy = roots
                .iter()
                .find_map(|c| c.policy.clone())
                .or_else(|| components_policy(fs, &files))
                .unwrap_or_default();
            vec![ClusterEntry {
                name: ".".to_owned(),
                roots,
                bootstrap,
                policy,
            }]
        }
    } else {
        bootstrap_roots
            .into_iter()
            .map(|candidate| {
                let namespace = candidate.ks.metadata.namespace.clone().unwrap_or_default();
                let mut bootstrap = BTreeSet::from([default_bootstrap.clone()]);
                bootstrap.extend(candidate.ks.spec.source_ref.key(&namespace));
                let name = match spec_path(&candidate.ks) {
                    Some(p) => p.display().to_string(),
                    None => relative(&root, candidate.file.parent().unwrap_or(Path::new(".")))
                        .display()
                        .to_string(),
                };
                let policy = candidate
                    .policy
                    .clone()
                    .or_else(|| sibling_components_policy(fs, &candidate.file))
                    .unwrap_or_default();
                ClusterEntry {
                    name,
                    roots: vec![candidate.clone()],
                    bootstrap,
                    policy,
                }
            })
            .collect()
    };
    let entry_files = candidates
        .iter()
        .map(|c| capstan_core::fs::normalize(&c.file))
        .collect();
    Plan {
        root,
        entry_files,
        clusters,
        diagnostics,
    }
}

fn read_candidates(
    fs: &dyn Fs,
    files: &[PathBuf],
    options: &Options,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for ScannedDocument {
        value,
        file,
        document,
    } in entry_documents(fs, files)
    {
        let location = Location::file(&file).with_document(document);
        let instance = match value.get("kind").and_then(Value::as_str) {
            Some("FluxInstance") => Some(Instance::declared(
                &value,
                &file,
                document,
                &options.default_namespace,
            )),
            Some("HelmRelease") => {
                Instance::from_helm_release(&value, &file, document, &options.default_namespace)
            }
            _ => None,
        };
        if let Some(instance) = instance {
            match flux_instance_root(&instance) {
                Ok(Some(candidate)) => out.push(candidate),
                Ok(None) => {}
                Err(error) => diagnostics.push(
                    Diagnostic::new("flux/invalid-object", Severity::Error, error.to_string()).at(
                        location.with_field(match instance.helm_release {
                            Some(_) => format!("spec.values.instance.{}", error.field()),
                            None => format!("spec.{}", error.field()),
                        }),
                    ),
                ),
            }
            continue;
        }
        if value.get("kind").and_then(Value::as_str) == Some("HelmRelease") {
            continue;
        }
        match FluxObject::from_value(&value) {
            Ok(Some(FluxObject::Kustomization(mut ks))) => {
                let mut raw = value;
                if ks.metadata.namespace.as_deref().unwrap_or("").is_empty() {
                    ks.metadata.namespace = Some(options.default_namespace.clone());
                }
                set_raw_namespace(
                    &mut raw,
                    ks.metadata.namespace.as_deref().unwrap_or_default(),
                );
                out.push(Candidate {
                    ks,
                    raw,
                    file,
                    document,
                    synthesized: false,
                    source: None,
                    policy: None,
                });
            }
            Ok(_) => {}
            Err(error) => diagnostics.push(
                Diagnostic::new("flux/invalid-object", Severity::Error, error.to_string())
                    .at(location),
            ),
        }
    }
    out
}

/// The `flux-system` Kustomizations `flux bootstrap --path=DIR` would create for each
/// `DIR/flux-system/` holding its manifests (`gotk-components.yaml`, `gotk-sync.yaml`), when the
/// repository does not declare them (a placeholder gotk-sync.yaml, as in Flux's own examples).
fn bootstrap_dirs(files: &[PathBuf], root: &Path, options: &Options) -> Vec<Candidate> {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter(|file| {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let parent = file
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str());
            matches!(name, "gotk-components.yaml" | "gotk-sync.yaml")
                && parent == Some("flux-system")
        })
        .filter_map(|file| file.parent().map(Path::to_path_buf))
        .collect();
    dirs.dedup();
    dirs.into_iter()
        .filter_map(|flux_dir| {
            let cluster_dir = flux_dir.parent()?;
            let spec_path = format!("./{}", relative(root, cluster_dir).display());
            let namespace = options.default_namespace.clone();
            let raw = json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "flux-system", "namespace": namespace},
                "spec": {"interval": "10m", "path": spec_path, "prune": true,
                         "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
            });
            let ks: Kustomization = serde_json::from_value(raw.clone()).ok()?;
            let file = flux_dir.join("gotk-sync.yaml");
            Some(Candidate {
                ks,
                raw,
                file,
                document: 0,
                synthesized: true,
                source: None,
                policy: None,
            })
        })
        .collect()
}

/// The Kustomization (and source) the Flux Operator creates for a FluxInstance's `spec.sync`.
fn flux_instance_root(
    instance: &Instance,
) -> Result<Option<Candidate>, crate::operator::fluxinstance::FluxInstanceError> {
    let Some(sync) = instance.sync()? else {
        return Ok(None);
    };
    let what = match &instance.helm_release {
        Some(release) => format!(
            "FluxInstance {}/{} (HelmRelease {release})",
            instance.namespace, instance.name
        ),
        None => format!("FluxInstance {}/{}", instance.namespace, instance.name),
    };
    let policy = version::from_instance(&instance.spec, &what);
    let Ok(ks) = serde_json::from_value::<Kustomization>(sync.kustomization.clone()) else {
        return Ok(None);
    };
    Ok(Some(Candidate {
        ks,
        raw: sync.kustomization,
        file: instance.file.clone(),
        document: instance.document,
        synthesized: true,
        source: Some(sync.source),
        policy: Some(policy),
    }))
}

/// The root of the Git work tree `path` lies in, when `path` is a folder below it, declares no
/// cluster entry point of its own, and the work tree declares one (a `flux-system` Kustomization,
/// a FluxInstance): `--path` then points inside a repository, which is discovered from its root.
pub(crate) fn entry_above(fs: &dyn Fs, path: &Path) -> Option<PathBuf> {
    let absolute = fs.canonicalize(path).ok()?;
    let work_tree = absolute.ancestors().find(|d| fs.exists(&d.join(".git")))?;
    if work_tree == absolute {
        return None;
    }
    let has_entry = entry_documents(fs, &yaml_files(fs, work_tree))
        .iter()
        .any(|doc| match doc.value.get("kind").and_then(Value::as_str) {
            // a FluxInstance, declared or as a flux-instance chart release
            Some("FluxInstance" | "HelmRelease") => true,
            _ => doc.value.pointer("/metadata/name").and_then(Value::as_str) == Some("flux-system"),
        });
    has_entry.then(|| work_tree.to_path_buf())
}

/// The policy a `gotk-components.yaml` beside an entry point's file tells.
fn sibling_components_policy(fs: &dyn Fs, file: &Path) -> Option<SubstitutionPolicy> {
    let path = file.parent()?.join("gotk-components.yaml");
    let text = fs.read_to_string(&path).ok()?;
    version::from_components(&text, &path.display().to_string())
}

/// The policy of the first `gotk-components.yaml` among `files`.
fn components_policy(fs: &dyn Fs, files: &[PathBuf]) -> Option<SubstitutionPolicy> {
    files
        .iter()
        .filter(|f| f.file_name().and_then(|n| n.to_str()) == Some("gotk-components.yaml"))
        .find_map(|f| {
            let text = fs.read_to_string(f).ok()?;
            version::from_components(&text, &f.display().to_string())
        })
}

pub(crate) fn set_raw_namespace(raw: &mut Value, namespace: &str) {
    if let Some(metadata) = raw.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
    }
}

/// The ancestors of `path`, nearest first, with `.` for the empty relative path.
fn ancestors(path: &Path) -> Vec<PathBuf> {
    path.ancestors()
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(Vec::new(), |mut acc, p| {
            if acc.last() != Some(&p) {
                acc.push(p);
            }
            acc
        })
}

fn infer_root(
    fs: &dyn Fs,
    path: &Path,
    candidates: &[Candidate],
    bootstrap_roots: &[&Candidate],
) -> PathBuf {
    // The entry point's path leads back to a directory holding its own file.
    for candidate in bootstrap_roots.iter().filter(|c| !c.synthesized) {
        let Some(spec) = spec_path(&candidate.ks) else {
            continue;
        };
        let dir = candidate.file.parent().unwrap_or(Path::new("."));
        for ancestor in ancestors(dir) {
            if ancestor.ends_with(&spec) {
                let mut root = ancestor.clone();
                for _ in spec.components() {
                    root = root.parent().map(Path::to_path_buf).unwrap_or_default();
                }
                return if root.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    root
                };
            }
        }
    }
    // Else the nearest ancestor of `path` under which some Kustomization's path exists.
    let specs: Vec<PathBuf> = candidates.iter().filter_map(|c| spec_path(&c.ks)).collect();
    for ancestor in ancestors(path) {
        if specs.iter().any(|spec| fs.is_dir(&ancestor.join(spec))) {
            return ancestor;
        }
    }
    path.to_path_buf()
}

/// The candidates whose file no other candidate's build reads. A file inside another
/// candidate's directory counts as read without rendering (the common layout); the candidates
/// left are rendered to see whether one reads another's file through a kustomization.
fn uncovered(root: &Path, candidates: &[Candidate], cache: &mut RenderCache<'_>) -> Vec<Candidate> {
    let dirs: Vec<Option<PathBuf>> = candidates
        .iter()
        .map(|candidate| {
            let dir = match spec_path(&candidate.ks) {
                Some(spec) => capstan_core::fs::normalize(&root.join(spec)),
                None => root.to_path_buf(),
            };
            within(root, &dir).then_some(dir)
        })
        .collect();
    let files: Vec<PathBuf> = candidates
        .iter()
        .map(|c| capstan_core::fs::normalize(&c.file))
        .collect();
    let contained = |index: usize| {
        dirs.iter().enumerate().any(|(other, dir)| {
            other != index && dir.as_ref().is_some_and(|d| files[index].starts_with(d))
        })
    };
    let remaining: Vec<usize> = (0..candidates.len()).filter(|&i| !contained(i)).collect();
    let reads: Vec<(usize, BTreeSet<PathBuf>)> = remaining
        .iter()
        .filter_map(|&i| {
            dirs[i]
                .as_ref()
                .map(|dir| (i, cache.render(dir).files.clone()))
        })
        .collect();
    let roots: Vec<Candidate> = remaining
        .iter()
        .filter(|&&index| {
            !reads
                .iter()
                .any(|(other, read)| *other != index && read.contains(&files[index]))
        })
        .map(|&index| candidates[index].clone())
        .collect();
    if roots.is_empty() {
        candidates.to_vec()
    } else {
        roots
    }
}
