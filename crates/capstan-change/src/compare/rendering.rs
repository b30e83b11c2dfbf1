//! One side of a comparison rendered: `capstan-flux`'s build outcome taken as it is into the
//! diff's [`Side`] (objects per Kustomization and HelmRelease, `prune` from the effective spec —
//! an entry point's own included), with the facts plan and the live engine need per unit
//! ([`UnitFacts`]: status and typed reasons, effective spec, inventory ids, inputs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_flux::ObjectKey;
use capstan_flux::build::{BuildOptions, BuildResult, Effective, Reason, Status, build_all};
use capstan_flux::scope::Scope;

use super::revisions::Opened;
use crate::diff::{Producer, ProducerKind, Rendered, Side};
use crate::plan::ProducerPlace;

/// What one Kustomization or HelmRelease's build says, without its objects.
#[derive(Debug, Clone)]
pub struct UnitFacts {
    pub status: Status,
    /// Why it failed or was not rendered, typed.
    pub reasons: Vec<Reason>,
    /// The same, for people (paths relative to the side's root).
    pub errors: Vec<String>,
    /// prune, wait, force, suspend, interval, timeout, targetNamespace, dependsOn…
    pub effective: Effective,
    /// The Flux inventory ids of its objects, in render order.
    pub inventory: Vec<String>,
    /// The files its output came from and the directory it builds, relative to the side's root.
    pub inputs: BTreeSet<PathBuf>,
    /// The file that declares it (in its parent's output or an entry point's folder).
    pub declared: Option<PathBuf>,
    /// The Kustomization that applies it.
    pub parent: Option<Producer>,
}

/// One side rendered, with what classification and changed-only mode need to know about it.
#[derive(Default)]
pub struct Rendering {
    pub side: Side,
    pub places: BTreeMap<Producer, ProducerPlace>,
    /// Kustomization names, dependencies first.
    pub order: Vec<String>,
    /// Every Kustomization and HelmRelease the build met, rendered or not.
    pub units: BTreeMap<Producer, UnitFacts>,
    /// Changed-only mode held: only what the changed files reach was rendered.
    pub changed_only: bool,
    /// `--path` inside the repository: the folder (from the repository's root) whose units are
    /// the only ones kept.
    pub focus: Option<PathBuf>,
    /// Kustomizations changed-only mode left unrendered.
    pub left_out: BTreeSet<ObjectKey>,
    /// Suspended Kustomizations and HelmReleases (not rendered), with a Kustomization's directory.
    pub suspended: BTreeMap<Producer, Option<String>>,
    /// The repository file each rendered object came from (chart objects have none).
    pub object_files: BTreeMap<capstan_core::ResourceId, String>,
}

impl Rendering {
    /// The files each producer's output came from (and its directory), for [`super::affected`].
    pub fn inputs(&self) -> impl Iterator<Item = (&Producer, &BTreeSet<PathBuf>)> {
        self.units.iter().map(|(p, u)| (p, &u.inputs))
    }
}

/// Makes the build settings of one render (keys, helm, chart fetcher); called once per render.
pub type OptionsFactory<'a> = &'a (dyn Fn() -> BuildOptions + Sync);

fn producer_of(kind: ProducerKind, key: &ObjectKey) -> Producer {
    Producer::new(kind, key.namespace.clone(), key.name.clone())
}

/// Renders one side with `build all` (Flux's build: generated kustomization, substitution, SOPS,
/// HelmReleases). With a [`Scope`], only what the changed files reach is rendered (changed-only
/// mode; see [`capstan_flux::scope`]).
pub fn render(
    opened: &Opened,
    scope: Option<Arc<Scope>>,
    options: OptionsFactory<'_>,
) -> Rendering {
    let fs = opened.fs.as_ref();
    let mut build_options = options();
    build_options.discovery.scope = scope;
    let report = match build_all(fs, &opened.root, &build_options) {
        Ok(report) => report,
        Err(error) => {
            return Rendering {
                side: Side {
                    rendered: Vec::new(),
                    error: Some(error.to_string()),
                    ..Default::default()
                },
                ..Rendering::default()
            };
        }
    };
    let root_prefix = format!("{}/", opened.root.display());
    let mut rendering = Rendering {
        changed_only: report.changed_only,
        focus: report.focus.clone(),
        ..Rendering::default()
    };
    for result in &report.kustomizations {
        let producer = producer_of(ProducerKind::Kustomization, &result.key);
        let dir = result.path.clone().unwrap_or_else(|| PathBuf::from("."));
        rendering.places.insert(
            producer,
            ProducerPlace {
                dir: dir.to_string_lossy().into_owned(),
                kustomization: result.key.name.clone(),
            },
        );
        rendering.order.push(result.key.name.clone());
    }
    for (kind, results) in [
        (ProducerKind::Kustomization, &report.kustomizations),
        (ProducerKind::HelmRelease, &report.helm_releases),
    ] {
        for result in results {
            let producer = producer_of(kind, &result.key);
            let parent = result
                .parent
                .as_ref()
                .map(|p| producer_of(ProducerKind::Kustomization, p));
            if kind == ProducerKind::HelmRelease {
                let dir = parent
                    .as_ref()
                    .and_then(|p| rendering.places.get(p))
                    .map(|p| p.dir.clone())
                    .unwrap_or_else(|| ".".into());
                let ks = result
                    .parent
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                rendering.places.insert(
                    producer.clone(),
                    ProducerPlace {
                        dir,
                        kustomization: ks,
                    },
                );
            }
            // paths relative to the side's root: the same failure reads the same on both sides
            let errors: Vec<String> = result
                .errors
                .iter()
                .map(|e| e.replace(&root_prefix, ""))
                .collect();
            let unit = facts((&opened.root, &report.root), result, errors.clone(), parent);
            match rendering.units.entry(producer.clone()) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(unit);
                }
                // the same name in another cluster of the repository (staging and production
                // both have `apps`): a file either reads is an input, and one not rendered
                // makes the name's status unknown
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    let known = slot.get_mut();
                    known.inputs.extend(unit.inputs);
                    if known.status == Status::Rendered && unit.status != Status::Rendered {
                        known.status = unit.status;
                        known.reasons = unit.reasons;
                        known.errors = unit.errors;
                    }
                }
            }
            // a chart registry out of reach says nothing about the change: not compared, not a
            // render failure (which plan would rate high)
            let out_of_reach =
                !result.reasons.is_empty() && result.reasons.iter().all(Reason::is_skip);
            let outcome = match result.status {
                Status::Rendered => Ok(result.objects.iter().map(|o| o.object.clone()).collect()),
                Status::Failed if out_of_reach => continue,
                Status::Failed => Err(errors.join("; ")),
                // suspended, a source/chart out of reach offline, or left out by changed-only
                // mode: nothing to compare (a change that touches it is reported as not compared)
                Status::Suspended => {
                    let dir = rendering.places.get(&producer).map(|p| p.dir.clone());
                    rendering.suspended.insert(producer, dir);
                    continue;
                }
                Status::Skipped => continue,
                Status::Unchanged => {
                    rendering.left_out.insert(result.key.clone());
                    continue;
                }
            };
            for built in &result.objects {
                if let Some(file) = &built.file {
                    rendering.object_files.insert(
                        capstan_core::ResourceId::of(&built.object),
                        relative_to(&opened.root, &report.root.join(file))
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
            rendering.side.rendered.push(Rendered {
                producer,
                prune: result.effective.prune,
                outcome,
            });
        }
    }
    rendering.side.suspended = rendering.suspended.keys().cloned().collect();
    rendering
}

/// `path` relative to the side's root. A file above it (the compared folder is inside the
/// repository and its Kustomizations read the rest) is named with `..`, as the changed files
/// are ([`super::revisions::open`]), so the two meet.
fn relative_to(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) if path.is_absolute() && root.is_absolute() => {
            let common = root
                .ancestors()
                .find(|a| path.starts_with(a))
                .unwrap_or(Path::new("/"));
            let mut out = PathBuf::new();
            for _ in root
                .strip_prefix(common)
                .into_iter()
                .flat_map(Path::components)
            {
                out.push("..");
            }
            out.join(path.strip_prefix(common).unwrap_or(path))
        }
        Err(_) => path.to_path_buf(),
    }
}

fn facts(
    (root, discovery_root): (&Path, &Path),
    result: &BuildResult,
    errors: Vec<String>,
    parent: Option<Producer>,
) -> UnitFacts {
    let mut inputs: BTreeSet<PathBuf> = result
        .inputs()
        .iter()
        .map(|f| relative_to(root, &discovery_root.join(f)))
        .collect();
    if result.path.is_none() && matches!(result.key.kind, capstan_flux::FluxKind::Kustomization) {
        inputs.insert(PathBuf::from("."));
    }
    UnitFacts {
        declared: result
            .declared
            .file
            .as_deref()
            .map(|f| relative_to(root, &discovery_root.join(f))),
        status: result.status,
        reasons: result.reasons.clone(),
        errors,
        effective: result.effective.clone(),
        inventory: result.inventory(),
        inputs,
        parent,
    }
}
