//! The two revisions a comparison reads: the working tree against `--base REV` (read from git's
//! object database, no checkout) or against another directory, and the files that differ between
//! them — every changed file of the repository, those outside the compared folder included (a
//! Kustomization under it may read them).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use capstan_core::git::{
    GitError, GitTreeFs, WorktreeChange, default_base, resolve_revision, toplevel,
    worktree_changes, worktree_files,
};
use capstan_core::{Fs, OsFs};

use crate::plan::FileChange;

/// Why the two sides could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{}: cannot open {what}: {source}", .path.display())]
    Path {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("--base and --path-orig cannot be used together")]
    BothBases,
    #[error("{}: not in a git repository (give --path-orig DIR to compare two directories)", .path.display())]
    NotGit {
        path: PathBuf,
        #[source]
        source: GitError,
    },
    #[error("cannot read revision {revision}: {source}")]
    Revision {
        revision: String,
        #[source]
        source: GitError,
    },
    #[error("cannot list the changes since {revision}: {message}")]
    Changes { revision: String, message: String },
}

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
pub fn open(revisions: &Revisions<'_>) -> Result<(Opened, Opened, ChangedFiles), OpenError> {
    let root = std::fs::canonicalize(revisions.path).map_err(|source| OpenError::Path {
        path: revisions.path.to_path_buf(),
        what: "the repository",
        source,
    })?;
    let head = Opened {
        fs: Box::new(OsFs),
        root: root.clone(),
        label: format!("working tree {}", revisions.path.display()),
    };
    if let Some(orig) = revisions.path_orig {
        if revisions.base.is_some() {
            return Err(OpenError::BothBases);
        }
        let orig_root = std::fs::canonicalize(orig).map_err(|source| OpenError::Path {
            path: orig.to_path_buf(),
            what: "--path-orig",
            source,
        })?;
        let label = orig.display().to_string();
        // the same folder of two checkouts (flux-local's `--path pull/clusters/prod
        // --path-orig main/clusters/prod`): the Kustomizations read the whole checkout, so the
        // whole checkouts are compared, files named from the folder (`../x`) as with --base
        // (the files git lists in each: not what .gitignore leaves out, such as build output)
        let checkouts = match (checkout_of(&orig_root), checkout_of(&root)) {
            (Some((base_top, base_below)), Some((head_top, head_below)))
                if base_below == head_below
                    && !head_below.as_os_str().is_empty()
                    && base_top != head_top =>
            {
                // git could not list a checkout's files (a "dubious ownership" refusal in a
                // CI container): every file under each checkout is compared instead, slower
                // but never a narrower comparison than the one asked for
                let listed = |top: &Path| {
                    worktree_files(top)
                        .map(|files| files.into_iter().collect::<BTreeSet<PathBuf>>())
                        .unwrap_or_else(|_| walk(&OsFs, top))
                };
                let (before, after) = (listed(&base_top), listed(&head_top));
                Some((base_top, before, head_top, after, head_below))
            }
            _ => None,
        };
        let files = match checkouts {
            Some((base_top, before, head_top, after, below)) => {
                changes_between((&OsFs, &base_top, before), (&OsFs, &head_top, after))
                    .into_iter()
                    .map(|(path, change)| (from_folder(&below, &path), change))
                    .collect()
            }
            None => walked_changes(&orig_root, &root),
        };
        let base = Opened {
            fs: Box::new(OsFs),
            root: orig_root,
            label,
        };
        return Ok((base, head, files));
    }
    let (revision, how) = match revisions.base {
        Some(rev) => (rev.to_owned(), rev.to_owned()),
        None => default_base(&root).map_err(|source| OpenError::NotGit {
            path: root.clone(),
            source,
        })?,
    };
    let mount = toplevel(&root).map_err(|source| OpenError::NotGit {
        path: root.clone(),
        source,
    })?;
    let revision_error = |source| OpenError::Revision {
        revision: revision.clone(),
        source,
    };
    let commit = resolve_revision(&mount, &revision).map_err(revision_error)?;
    // the tree listing and the change listing are two git processes: run them side by side
    let (tree, changes) = std::thread::scope(|threads| {
        let changes = threads.spawn(|| worktree_changes(&mount, &commit));
        let tree = GitTreeFs::open_commit(mount.clone(), commit.clone());
        (tree, changes.join())
    });
    let mut tree = tree.map_err(revision_error)?;
    let changes = changes
        .map_err(|_| OpenError::Changes {
            revision: revision.clone(),
            message: "the listing panicked".to_owned(),
        })?
        .map_err(|e| OpenError::Changes {
            revision: revision.clone(),
            message: e.to_string(),
        })?;
    let below = root
        .strip_prefix(tree.mount())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // every changed file of the repository: one outside the compared folder is named from it
    // (`../x`), as a Kustomization under it that reads the file names it
    let files = changes
        .iter()
        .map(|(path, change)| {
            let change = match change {
                WorktreeChange::Added => FileChange::Added,
                WorktreeChange::Deleted => FileChange::Deleted,
                WorktreeChange::Modified => FileChange::Changed,
            };
            (from_folder(&below, path), change)
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

/// `path` (relative to the top of the repository) as seen from `folder` (also relative to it):
/// the shortest way, `../../apps/x` from `kubernetes/flux` to `kubernetes/apps/x`, as the
/// renders name the files they read.
fn from_folder(folder: &Path, path: &Path) -> PathBuf {
    if let Ok(inside) = path.strip_prefix(folder) {
        return inside.to_path_buf();
    }
    let common = folder
        .components()
        .zip(path.components())
        .take_while(|(a, b)| a == b)
        .count();
    let depth = folder
        .components()
        .skip(common)
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    let mut out = PathBuf::new();
    for _ in 0..depth {
        out.push("..");
    }
    out.join(path.components().skip(common).collect::<PathBuf>())
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

/// The Git checkout `folder` (canonical) is in, and where in it: (its top, the folder below it).
fn checkout_of(folder: &Path) -> Option<(PathBuf, PathBuf)> {
    let top = folder.ancestors().find(|d| d.join(".git").exists())?;
    let below = folder.strip_prefix(top).ok()?.to_path_buf();
    Some((top.to_path_buf(), below))
}

/// The files that differ between two directories, found by reading both; named relative to them.
fn walked_changes(base: &Path, head: &Path) -> ChangedFiles {
    changes_between(
        (&OsFs, base, walk(&OsFs, base)),
        (&OsFs, head, walk(&OsFs, head)),
    )
}

/// The files that differ between two listings (each a filesystem, a root and the files under it,
/// relative to it), found by reading both.
fn changes_between(
    base: (&dyn Fs, &Path, BTreeSet<PathBuf>),
    head: (&dyn Fs, &Path, BTreeSet<PathBuf>),
) -> ChangedFiles {
    let (before, after) = (&base.2, &head.2);
    let mut out = Vec::new();
    for path in before.union(after) {
        let change = match (before.contains(path), after.contains(path)) {
            (true, false) => FileChange::Deleted,
            (false, true) => FileChange::Added,
            _ => {
                let a = base.0.read(&base.1.join(path)).ok();
                let b = head.0.read(&head.1.join(path)).ok();
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
        fields.extend(crate::diff::diff_values(b, a).into_iter().map(|c| c.path));
    }
    fields
}
