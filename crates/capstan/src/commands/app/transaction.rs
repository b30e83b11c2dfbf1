//! Applying a [`ChangeSet`] all or nothing.
//!
//! First every change is checked against the disk (a file to create must not exist, a file to
//! modify or delete must still hold what was planned from); then every new content is written to
//! a temporary file next to its target; only then are the targets swapped in by rename, each
//! replaced or deleted file first renamed aside as a backup. If any step fails, what was done is
//! undone in reverse (backups renamed back, new files and the directories created for them
//! removed), so the repository is left as it was.

use std::fs;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use capstan_flux::scaffold::{ChangeSet, FileChange};

/// Applies every change under `root`, or none.
pub fn apply(root: &Path, changes: &ChangeSet) -> anyhow::Result<()> {
    apply_with(root, changes, None)
}

enum Undo {
    /// A file that did not exist before.
    Remove(PathBuf),
    /// A file renamed aside to `backup`.
    Restore { backup: PathBuf, target: PathBuf },
}

struct Staging {
    created_dirs: Vec<PathBuf>,
    temps: Vec<Option<PathBuf>>,
}

impl Staging {
    fn discard(&self) {
        for temp in self.temps.iter().flatten() {
            let _ = fs::remove_file(temp);
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn side_path(target: &Path, tag: &str, n: usize) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.capstan-{}-{n}.{tag}", std::process::id()))
}

/// `fail_at` injects a failure before the change at that index is committed (tests only).
pub(crate) fn apply_with(
    root: &Path,
    changes: &ChangeSet,
    fail_at: Option<usize>,
) -> anyhow::Result<()> {
    // 1. Check every change against the disk before touching anything.
    for change in changes.iter() {
        let rel = change.path();
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            bail!("{}: refusing a path outside the repository", rel.display());
        }
        let target = root.join(rel);
        match change {
            FileChange::Create { .. } => {
                if fs::symlink_metadata(&target).is_ok() {
                    bail!("{}: already exists", rel.display());
                }
            }
            FileChange::Modify { before, .. } | FileChange::Delete { before, .. } => {
                let bytes =
                    fs::read(&target).with_context(|| format!("{}: cannot read", rel.display()))?;
                if String::from_utf8_lossy(&bytes) != before.as_str() {
                    bail!(
                        "{}: changed on disk since the change was planned; run the command again",
                        rel.display()
                    );
                }
            }
        }
    }

    // 2. Stage new contents in temporary files beside their targets.
    let mut staging = Staging {
        created_dirs: Vec::new(),
        temps: Vec::new(),
    };
    let staged = (|| -> anyhow::Result<()> {
        for (n, change) in changes.iter().enumerate() {
            let target = root.join(change.path());
            let contents = match change {
                FileChange::Create { contents, .. } => contents,
                FileChange::Modify { after, .. } => after,
                FileChange::Delete { .. } => {
                    staging.temps.push(None);
                    continue;
                }
            };
            let parent = target.parent().unwrap_or(root);
            let mut missing = Vec::new();
            let mut dir = parent;
            while !dir.exists() {
                missing.push(dir.to_path_buf());
                dir = dir.parent().unwrap_or(root);
            }
            for dir in missing.into_iter().rev() {
                fs::create_dir(&dir)
                    .with_context(|| format!("{}: cannot create directory", dir.display()))?;
                staging.created_dirs.push(dir);
            }
            let temp = side_path(&target, "new", n);
            let mut file = fs::File::create_new(&temp)
                .with_context(|| format!("{}: cannot write", temp.display()))?;
            staging.temps.push(Some(temp.clone()));
            file.write_all(contents.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("{}: cannot write", temp.display()))?;
        }
        Ok(())
    })();
    if let Err(error) = staged {
        staging.discard();
        return Err(error.context("nothing was changed"));
    }

    // 3. Swap the targets in, remembering how to undo each step.
    let mut done: Vec<Undo> = Vec::new();
    let committed = (|| -> anyhow::Result<()> {
        for (n, change) in changes.iter().enumerate() {
            if fail_at == Some(n) {
                bail!("injected failure before {}", change.path().display());
            }
            let target = root.join(change.path());
            if !matches!(change, FileChange::Create { .. }) {
                let backup = side_path(&target, "old", n);
                fs::rename(&target, &backup)
                    .with_context(|| format!("{}: cannot move aside", change.path().display()))?;
                done.push(Undo::Restore {
                    backup,
                    target: target.clone(),
                });
            }
            if let Some(temp) = &staging.temps[n] {
                fs::rename(temp, &target)
                    .with_context(|| format!("{}: cannot write", change.path().display()))?;
                if matches!(change, FileChange::Create { .. }) {
                    done.push(Undo::Remove(target));
                }
            }
        }
        Ok(())
    })();
    if let Err(error) = committed {
        for undo in done.iter().rev() {
            match undo {
                Undo::Remove(path) => {
                    let _ = fs::remove_file(path);
                }
                Undo::Restore { backup, target } => {
                    let _ = fs::remove_file(target);
                    let _ = fs::rename(backup, target);
                }
            }
        }
        staging.discard();
        return Err(error.context("every change was rolled back"));
    }

    // 4. Drop the backups, and directories emptied by deletions.
    for undo in &done {
        if let Undo::Restore { backup, .. } = undo {
            let _ = fs::remove_file(backup);
        }
    }
    for change in changes.iter() {
        if let FileChange::Delete { path, .. } = change {
            let mut dir = path.parent();
            while let Some(d) = dir {
                if d.as_os_str().is_empty() || fs::remove_dir(root.join(d)).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    out.push((
                        path.strip_prefix(root).unwrap().to_path_buf(),
                        "<dir>".into(),
                    ));
                    stack.push(path);
                } else {
                    out.push((
                        path.strip_prefix(root).unwrap().to_path_buf(),
                        fs::read_to_string(&path).unwrap(),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    fn fixture() -> (tempfile::TempDir, ChangeSet) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("list.yaml"), "a: 1\n").unwrap();
        fs::create_dir_all(dir.path().join("old/sub")).unwrap();
        fs::write(dir.path().join("old/sub/x.yaml"), "x\n").unwrap();
        let changes = ChangeSet {
            changes: vec![
                FileChange::Create {
                    path: "new/app/a.yaml".into(),
                    contents: "a\n".into(),
                },
                FileChange::Modify {
                    path: "list.yaml".into(),
                    before: "a: 1\n".into(),
                    after: "a: 1\n---\nb: 2\n".into(),
                },
                FileChange::Delete {
                    path: "old/sub/x.yaml".into(),
                    before: "x\n".into(),
                },
                FileChange::Create {
                    path: "new/app/b.yaml".into(),
                    contents: "b\n".into(),
                },
            ],
        };
        (dir, changes)
    }

    #[test]
    fn applies_everything() {
        let (dir, changes) = fixture();
        apply(dir.path(), &changes).unwrap();
        let files = snapshot(dir.path());
        let names: Vec<String> = files
            .iter()
            .map(|(p, c)| format!("{}={}", p.display(), c.trim()))
            .collect();
        assert_eq!(
            names,
            [
                "list.yaml=a: 1\n---\nb: 2",
                "new=<dir>",
                "new/app=<dir>",
                "new/app/a.yaml=a",
                "new/app/b.yaml=b",
            ]
        );
    }

    #[test]
    fn rolls_back_at_every_step() {
        for fail_at in 0..4 {
            let (dir, changes) = fixture();
            let before = snapshot(dir.path());
            let error = apply_with(dir.path(), &changes, Some(fail_at)).unwrap_err();
            assert!(format!("{error:#}").contains("rolled back"), "{error:#}");
            assert_eq!(snapshot(dir.path()), before, "failing at {fail_at}");
        }
    }

    #[test]
    fn refuses_stale_plans_and_existing_files() {
        let (dir, changes) = fixture();
        fs::write(dir.path().join("list.yaml"), "a: 2\n").unwrap();
        let before = snapshot(dir.path());
        let error = apply(dir.path(), &changes).unwrap_err();
        assert!(error.to_string().contains("changed on disk"), "{error}");
        assert_eq!(snapshot(dir.path()), before);

        let (dir, changes) = fixture();
        fs::create_dir_all(dir.path().join("new/app")).unwrap();
        fs::write(dir.path().join("new/app/b.yaml"), "mine\n").unwrap();
        let before = snapshot(dir.path());
        assert!(apply(dir.path(), &changes).is_err());
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn staging_failure_leaves_nothing() {
        let (dir, mut changes) = fixture();
        // A file where a directory is needed: staging fails after creating other files.
        fs::write(dir.path().join("blocker"), "").unwrap();
        changes.push(FileChange::Create {
            path: "blocker/inside.yaml".into(),
            contents: "c\n".into(),
        });
        let before = snapshot(dir.path());
        let error = apply(dir.path(), &changes).unwrap_err();
        assert!(
            format!("{error:#}").contains("nothing was changed"),
            "{error:#}"
        );
        assert_eq!(snapshot(dir.path()), before);
    }
}
