//! What `diff` and `plan` share: opening the two revisions (the working tree against `--base REV`
//! read from git's object database, or against `--path-orig DIR`), listing the files that differ,
//! rendering each side into per-Kustomization/HelmRelease objects, and working out which
//! Kustomizations and HelmReleases a changed file feeds (changed-only mode).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use capstan_check::diff::{Producer, ProducerKind, Rendered, Side};
use capstan_check::plan::{ChangedFile, FileChange, ProducerPlace};
use capstan_core::git::{GitTreeFs, default_base};
use capstan_core::{Fs, OsFs};
use capstan_flux::discovery::{self, RecordingFs, Renderer};

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

/// Opens both sides: (base, head).
pub fn open(revisions: &Revisions<'_>) -> anyhow::Result<(Opened, Opened)> {
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
        return Ok((
            Opened {
                fs: Box::new(OsFs),
                root: orig_root,
                label,
            },
            head,
        ));
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
    let tree = GitTreeFs::open(&root, &revision)
        .with_context(|| format!("cannot read revision {revision}"))?;
    let short: String = tree.commit().chars().take(12).collect();
    let label = format!("base {short} ({how})");
    Ok((
        Opened {
            fs: Box::new(tree),
            root,
            label,
        },
        head,
    ))
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

/// The files that differ between the sides, relative to the repository root.
pub fn changed_files(base: &Opened, head: &Opened) -> Vec<(PathBuf, FileChange)> {
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
            capstan_check::diff::diff_values(b, a)
                .into_iter()
                .map(|c| c.path),
        );
    }
    fields
}

/// One directory's render and the files it read (relative to the repository root).
#[derive(Clone)]
pub struct CachedRender {
    result: Result<Vec<discovery::RenderedObject>, discovery::RenderError>,
    files: BTreeSet<PathBuf>,
}

/// One side rendered, with what classification and changed-only mode need to know about it.
#[derive(Default)]
pub struct Rendering {
    pub side: Side,
    pub places: BTreeMap<Producer, ProducerPlace>,
    /// Kustomization names, dependencies first.
    pub order: Vec<String>,
    /// The files each producer's render read, relative to the repository root.
    pub inputs: BTreeMap<Producer, BTreeSet<PathBuf>>,
    /// Every directory rendered, by its path relative to the repository root.
    pub renders: BTreeMap<PathBuf, CachedRender>,
    /// How many directories were rendered (not taken from the other side).
    pub rendered_dirs: usize,
}

/// The other side's renders and the files that changed between the sides.
type Reuse<'a> = (
    &'a BTreeMap<PathBuf, CachedRender>,
    &'a [(PathBuf, FileChange)],
);

/// A renderer that renders each directory once, records the files it read, and in changed-only
/// mode takes the other side's render of a directory none of whose inputs changed: identical
/// inputs give identical output, so only what a change touches is rendered twice.
struct CachingRenderer<'a> {
    inner: Box<dyn Renderer>,
    root: &'a Path,
    reuse: Option<Reuse<'a>>,
    done: Mutex<BTreeMap<PathBuf, CachedRender>>,
    rendered: Mutex<usize>,
}

impl CachingRenderer<'_> {
    fn key(&self, dir: &Path) -> PathBuf {
        relative_to(self.root, &capstan_core::fs::normalize(dir))
    }

    fn get(&self, fs: &dyn Fs, dir: &Path) -> CachedRender {
        let key = self.key(dir);
        if let Some(hit) = self.done.lock().expect("render cache lock").get(&key) {
            return hit.clone();
        }
        let reused = self.reuse.and_then(|(other, changed)| {
            let cached = other.get(&key)?;
            let touched = changed.iter().any(|(file, _)| {
                cached.files.contains(file) || (key != Path::new(".") && file.starts_with(&key))
            });
            (!touched).then(|| cached.clone())
        });
        let entry = reused.unwrap_or_else(|| {
            *self.rendered.lock().expect("counter lock") += 1;
            let recording = RecordingFs::new(fs);
            let result = self.inner.render(&recording, dir);
            let files = recording
                .files_read()
                .iter()
                .map(|f| relative_to(self.root, f))
                .collect();
            CachedRender { result, files }
        });
        self.done
            .lock()
            .expect("render cache lock")
            .insert(key, entry.clone());
        entry
    }
}

impl Renderer for CachingRenderer<'_> {
    fn render(
        &self,
        fs: &dyn Fs,
        dir: &Path,
    ) -> Result<Vec<discovery::RenderedObject>, discovery::RenderError> {
        self.get(fs, dir).result
    }
}

fn relative_to(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

/// What changed-only mode renders: the producers already known to be affected, and any whose
/// directory holds a changed file.
pub struct Selection<'a> {
    pub producers: &'a BTreeSet<Producer>,
    pub files: &'a [(PathBuf, FileChange)],
}

impl Selection<'_> {
    fn wants(&self, producer: &Producer, dir: &Path) -> bool {
        self.producers.contains(producer)
            || self
                .files
                .iter()
                .any(|(file, _)| dir == Path::new(".") || file.starts_with(dir))
    }
}

/// Renders one side. With a [`Selection`], only the selected producers are kept, and `reuse`
/// (the other side's rendering) supplies every directory whose inputs did not change.
pub fn render(
    opened: &Opened,
    only: Option<&Selection<'_>>,
    reuse: Option<&Rendering>,
) -> Rendering {
    let fs = opened.fs.as_ref();
    let renderer = CachingRenderer {
        inner: discovery::default_renderer(),
        root: &opened.root,
        reuse: reuse.zip(only).map(|(r, sel)| (&r.renders, sel.files)),
        done: Mutex::new(BTreeMap::new()),
        rendered: Mutex::new(0),
    };
    let found =
        match discovery::discover(fs, &opened.root, &renderer, &discovery::Options::default()) {
            Ok(found) => found,
            Err(error) => {
                return Rendering {
                    side: Side {
                        rendered: Vec::new(),
                        error: Some(error.to_string()),
                    },
                    ..Rendering::default()
                };
            }
        };
    let mut rendering = Rendering::default();
    for cluster in &found.clusters {
        for ks in &cluster.kustomizations {
            let key = &ks.found.key;
            let producer = Producer::new(
                ProducerKind::Kustomization,
                key.namespace.clone(),
                key.name.clone(),
            );
            let dir = ks.dir.clone().unwrap_or_else(|| PathBuf::from("."));
            rendering.places.insert(
                producer.clone(),
                ProducerPlace {
                    dir: dir.to_string_lossy().into_owned(),
                    kustomization: key.name.clone(),
                },
            );
            rendering.order.push(key.name.clone());
            if only.is_some_and(|sel| !sel.wants(&producer, &dir))
                || !ks.source.is_local()
                || ks.found.object.spec.suspend
            {
                continue;
            }
            let (outcome, mut inputs) = if ks.dir_exists {
                let cached = renderer.get(fs, &opened.root.join(&dir));
                let outcome = cached
                    .result
                    .map(|objects| objects.into_iter().map(|o| o.value).collect())
                    .map_err(|e| e.to_string());
                (outcome, cached.files)
            } else {
                (
                    Err(format!("kustomization path not found: {}", dir.display())),
                    BTreeSet::new(),
                )
            };
            inputs.insert(dir.clone());
            rendering.inputs.insert(producer.clone(), inputs);
            rendering.side.rendered.push(Rendered {
                producer,
                prune: ks.found.object.spec.prune,
                outcome,
            });
        }
        for hr in &cluster.helm_releases {
            let key = &hr.found.key;
            let producer = Producer::new(
                ProducerKind::HelmRelease,
                key.namespace.clone(),
                key.name.clone(),
            );
            if let Some(parent) = &hr.found.origin.parent {
                let parent_producer = Producer::new(
                    ProducerKind::Kustomization,
                    parent.namespace.clone(),
                    parent.name.clone(),
                );
                let dir = rendering
                    .places
                    .get(&parent_producer)
                    .map(|p| p.dir.clone())
                    .unwrap_or_else(|| ".".into());
                rendering.places.insert(
                    producer,
                    ProducerPlace {
                        dir,
                        kustomization: parent.name.clone(),
                    },
                );
            }
        }
    }
    rendering.renders = renderer.done.into_inner().expect("render cache lock");
    rendering.rendered_dirs = renderer.rendered.into_inner().expect("counter lock");
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
