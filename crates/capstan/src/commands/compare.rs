//! What `diff` and `plan` share: opening the two revisions (the working tree against `--base REV`
//! read from git's object database, or against `--path-orig DIR`), listing the files that differ,
//! rendering each side into per-Kustomization/HelmRelease objects, and working out which
//! Kustomizations and HelmReleases a changed file feeds (changed-only mode).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use capstan_change::diff::{Producer, ProducerKind, Rendered, Side};
use capstan_change::plan::{ChangedFile, FileChange, ProducerPlace};
use capstan_core::Value;
use capstan_core::git::{
    GitTreeFs, WorktreeChange, default_base, resolve_revision, toplevel, worktree_changes,
};
use capstan_core::{Fs, OsFs};
use capstan_flux::ObjectKey;
use capstan_flux::build::{BuildOptions, BuildReport, Status, build_all};
use capstan_flux::charts::Charts;
use capstan_flux::helm::{HelmBinary, HelmRenderer};
use capstan_flux::scope::Scope;
use capstan_flux::sops::Keys;

/// Where the two sides come from, as the user gave it.
pub struct Revisions<'a> {
    pub path: &'a Path,
    pub base: Option<&'a str>,
    pub path_orig: Option<&'a Path>,
}

/// One opened side: its filesystem and the repository root in it.
pub struct Opened {
    pub fs: Box<dyn Fs>,
    pub root: PathBuf,
    /// How to name it: `working tree`, `base 1a2b3c4 (HEAD)`, `DIR`.
    pub label: String,
}

/// The files that differ between the sides, relative to the repository root.
pub type ChangedFiles = Vec<(PathBuf, FileChange)>;

/// Opens both sides, (base, head), and lists the files that differ between them (relative to the
/// repository root). Against a git revision, the listing is git's (`git diff` plus untracked
/// files), and the revision reads every file git reports unchanged from the working tree.
pub fn open(revisions: &Revisions<'_>) -> anyhow::Result<(Opened, Opened, ChangedFiles)> {
    let root = std::fs::canonicalize(revisions.path)
        .with_context(|| format!("{}: cannot open the repository", revisions.path.display()))?;
    let head = Opened {
        fs: Box::new(OsFs),
        root: root.clone(),
        label: format!("working tree {}", revisions.path.display()),
    };
    if let Some(orig) = revisions.path_orig {
        if revisions.base.is_some() {
            bail!("--base and --path-orig cannot be used together");
        }
        let orig_root = std::fs::canonicalize(orig)
            .with_context(|| format!("{}: cannot open --path-orig", orig.display()))?;
        let label = orig.display().to_string();
        let base = Opened {
            fs: Box::new(OsFs),
            root: orig_root,
            label,
        };
        let files = walked_changes(&base, &head);
        return Ok((base, head, files));
    }
    let (revision, how) = match revisions.base {
        Some(rev) => (rev.to_owned(), rev.to_owned()),
        None => default_base(&root).with_context(|| {
            format!(
                "{}: not in a git repository (give --path-orig DIR to compare two directories)",
                root.display()
            )
        })?,
    };
    let mount =
        toplevel(&root).with_context(|| format!("{}: not in a git repository", root.display()))?;
    let commit = resolve_revision(&mount, &revision)
        .with_context(|| format!("cannot read revision {revision}"))?;
    // the tree listing and the change listing are two git processes: run them side by side
    let (tree, changes) = std::thread::scope(|threads| {
        let changes = threads.spawn(|| worktree_changes(&mount, &commit));
        let tree = GitTreeFs::open_commit(mount.clone(), commit.clone());
        (tree, changes.join())
    });
    let mut tree = tree.with_context(|| format!("cannot read revision {revision}"))?;
    let changes = changes
        .map_err(|_| anyhow::anyhow!("listing the changes since {revision} panicked"))?
        .with_context(|| format!("cannot list the changes since {revision}"))?;
    let below = root
        .strip_prefix(tree.mount())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let files = changes
        .iter()
        .filter_map(|(path, change)| {
            let rel = path.strip_prefix(&below).ok()?;
            let change = match change {
                WorktreeChange::Added => FileChange::Added,
                WorktreeChange::Deleted => FileChange::Deleted,
                WorktreeChange::Modified => FileChange::Changed,
            };
            Some((rel.to_path_buf(), change))
        })
        .collect();
    tree.read_unchanged_from_worktree(changes.into_iter().map(|(path, _)| path));
    let short: String = tree.commit().chars().take(12).collect();
    let label = format!("base {short} ({how})");
    let base = Opened {
        fs: Box::new(tree),
        root,
        label,
    };
    Ok((base, head, files))
}

/// Every file below `root`, relative to it, `.git` left out.
fn walk(fs: &dyn Fs, root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    let mut seen = BTreeSet::new();
    while let Some(dir) = stack.pop() {
        let real = fs.canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if !seen.insert(real) {
            continue;
        }
        for entry in fs.read_dir(&dir).unwrap_or_default() {
            if entry.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if fs.is_dir(&entry) {
                stack.push(entry);
            } else if let Ok(rel) = entry.strip_prefix(root) {
                out.insert(rel.to_path_buf());
            }
        }
    }
    out
}

/// The files that differ between two directories, found by reading both.
fn walked_changes(base: &Opened, head: &Opened) -> ChangedFiles {
    let before = walk(base.fs.as_ref(), &base.root);
    let after = walk(head.fs.as_ref(), &head.root);
    let mut out = Vec::new();
    for path in before.union(&after) {
        let change = match (before.contains(path), after.contains(path)) {
            (true, false) => FileChange::Deleted,
            (false, true) => FileChange::Added,
            _ => {
                let a = base.fs.read(&base.root.join(path)).ok();
                let b = head.fs.read(&head.root.join(path)).ok();
                if a == b {
                    continue;
                }
                FileChange::Changed
            }
        };
        out.push((path.clone(), change));
    }
    out
}

/// The changed field paths of a YAML file present on both sides (documents matched by index).
pub fn changed_fields(base: &Opened, head: &Opened, path: &Path) -> Vec<String> {
    let read = |o: &Opened| {
        o.fs.read_to_string(&o.root.join(path))
            .ok()
            .and_then(|t| capstan_core::yaml::parse_documents(&t).ok())
    };
    let (Some(before), Some(after)) = (read(base), read(head)) else {
        return Vec::new();
    };
    let null = capstan_core::Value::Null;
    let mut fields = Vec::new();
    for i in 0..before.len().max(after.len()) {
        let (b, a) = (
            before.get(i).unwrap_or(&null),
            after.get(i).unwrap_or(&null),
        );
        fields.extend(
            capstan_change::diff::diff_values(b, a)
                .into_iter()
                .map(|c| c.path),
        );
    }
    fields
}

/// One side rendered, with what classification and changed-only mode need to know about it.
#[derive(Default)]
pub struct Rendering {
    pub side: Side,
    pub places: BTreeMap<Producer, ProducerPlace>,
    /// Kustomization names, dependencies first.
    pub order: Vec<String>,
    /// The files each producer's output came from (and a Kustomization's directory), relative to
    /// the repository root.
    pub inputs: BTreeMap<Producer, BTreeSet<PathBuf>>,
    /// Changed-only mode held: only what the changed files reach was rendered.
    pub changed_only: bool,
    /// Kustomizations changed-only mode left unrendered.
    pub left_out: BTreeSet<ObjectKey>,
    /// Suspended Kustomizations and HelmReleases (not rendered), with a Kustomization's directory.
    pub suspended: BTreeMap<Producer, Option<String>>,
    /// The repository file each rendered object came from (chart objects have none).
    pub object_files: BTreeMap<capstan_core::ResourceId, String>,
}

fn relative_to(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

/// The build settings diff and plan render with: SOPS keys from the environment (values stay
/// masked without them), the helm binary when there is one, charts through `charts`.
fn build_options(charts: &Arc<Charts>) -> BuildOptions {
    let keys = Keys::from_process_env_and_file(None, &OsFs).unwrap_or_else(|_| Keys::none());
    let helm = HelmBinary::find(None).map(|h| Arc::new(h) as Arc<dyn HelmRenderer>);
    BuildOptions {
        keys,
        helm,
        charts: Some(charts.clone()),
        ..BuildOptions::default()
    }
}

/// The `spec.prune` of every Flux Kustomization some build rendered, by (namespace, name).
fn prune_flags(report: &BuildReport) -> BTreeMap<(String, String), bool> {
    let mut flags = BTreeMap::new();
    for result in report.kustomizations.iter().chain(&report.helm_releases) {
        for built in &result.objects {
            let object = &built.object;
            let is_ks = object.get("kind").and_then(Value::as_str) == Some("Kustomization")
                && object
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"));
            if !is_ks {
                continue;
            }
            let meta = |f: &str| {
                object
                    .pointer(&format!("/metadata/{f}"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let namespace = if meta("namespace").is_empty() {
                result.key.namespace.clone()
            } else {
                meta("namespace")
            };
            let prune = object
                .pointer("/spec/prune")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            flags.insert((namespace, meta("name")), prune);
        }
    }
    flags
}

/// Renders one side with `build all` (Flux's build: generated kustomization, substitution, SOPS,
/// HelmReleases). With a [`Scope`], only what the changed files reach is rendered (changed-only
/// mode; see [`capstan_flux::scope`]).
pub fn render(opened: &Opened, scope: Option<Arc<Scope>>, charts: &Arc<Charts>) -> Rendering {
    let fs = opened.fs.as_ref();
    let mut options = build_options(charts);
    options.discovery.scope = scope;
    let report = match build_all(fs, &opened.root, &options) {
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
    let prune = prune_flags(&report);
    let root_prefix = format!("{}/", opened.root.display());
    let mut rendering = Rendering {
        changed_only: report.changed_only,
        ..Rendering::default()
    };
    let producer_of = |kind: ProducerKind, key: &capstan_flux::ObjectKey| {
        Producer::new(kind, key.namespace.clone(), key.name.clone())
    };
    for result in &report.kustomizations {
        let producer = producer_of(ProducerKind::Kustomization, &result.key);
        let dir = result.path.clone().unwrap_or_else(|| PathBuf::from("."));
        rendering.places.insert(
            producer.clone(),
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
            let outcome = match result.status {
                Status::Rendered => Ok(result.objects.iter().map(|o| o.object.clone()).collect()),
                // paths relative to the side's root: the same failure reads the same on both
                Status::Failed => Err(result.errors.join("; ").replace(&root_prefix, "")),
                // suspended, a source/chart out of reach offline, or left out by changed-only
                // mode: nothing to compare
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
                    let rel = relative_to(&opened.root, file);
                    rendering.object_files.insert(
                        capstan_core::ResourceId::of(&built.object),
                        rel.to_string_lossy().replace('\\', "/"),
                    );
                }
            }
            let mut inputs: BTreeSet<PathBuf> = result
                .objects
                .iter()
                .filter_map(|o| o.file.as_ref())
                .map(|f| relative_to(&opened.root, f))
                .collect();
            let dir = rendering
                .places
                .get(&producer)
                .map(|p| PathBuf::from(&p.dir));
            if kind == ProducerKind::Kustomization
                && let Some(dir) = &dir
            {
                inputs.insert(dir.clone());
            }
            rendering.inputs.insert(producer.clone(), inputs);
            let prune = match kind {
                ProducerKind::HelmRelease => true,
                ProducerKind::Kustomization => prune
                    .get(&(result.key.namespace.clone(), result.key.name.clone()))
                    .copied()
                    .unwrap_or(false),
            };
            rendering.side.rendered.push(Rendered {
                producer,
                prune,
                outcome,
            });
        }
    }
    rendering.side.suspended = rendering.suspended.keys().cloned().collect();
    rendering
}

/// The producers a set of changed files feeds, on either side: every producer whose recorded
/// inputs include a changed file, or whose directory holds one.
pub fn affected(files: &[(PathBuf, FileChange)], sides: &[&Rendering]) -> BTreeSet<Producer> {
    let mut out = BTreeSet::new();
    for rendering in sides {
        for (producer, inputs) in &rendering.inputs {
            let hit = files.iter().any(|(file, _)| {
                inputs.contains(file)
                    || inputs
                        .iter()
                        .any(|input| input != Path::new(".") && file.starts_with(input))
            });
            if hit {
                out.insert(producer.clone());
            }
        }
    }
    out
}

/// The changed files as plan input: with their changed fields and the Kustomizations they feed.
pub fn plan_files(
    base: &Opened,
    head: &Opened,
    files: &[(PathBuf, FileChange)],
    sides: &[&Rendering],
) -> Vec<ChangedFile> {
    files
        .iter()
        .map(|(path, change)| {
            let single = [(path.clone(), *change)];
            let kustomizations: Vec<String> = affected(&single, sides)
                .into_iter()
                .filter(|p| p.kind == ProducerKind::Kustomization)
                .map(|p| p.name)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let fields = if *change == FileChange::Changed {
                changed_fields(base, head, path)
            } else {
                Vec::new()
            };
            ChangedFile {
                path: path.to_string_lossy().replace('\\', "/"),
                change: *change,
                fields,
                kustomizations,
            }
        })
        .collect()
}
