//! The result of planning a scaffold: file creations, modifications and deletions, each with
//! the exact bytes before and after, relative to the repository root; and [`OverlayFs`], the
//! repository as it would read once they are applied.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use capstan_core::Fs;
use capstan_core::fs::normalize;

/// One file to write or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// A new file; it must not exist when the change is applied.
    Create { path: PathBuf, contents: String },
    /// An existing file; `before` is what it held when planned, so a concurrent edit is detected.
    Modify {
        path: PathBuf,
        before: String,
        after: String,
    },
    /// A file to delete; `before` is what it held when planned.
    Delete { path: PathBuf, before: String },
}

impl FileChange {
    pub fn path(&self) -> &Path {
        match self {
            FileChange::Create { path, .. }
            | FileChange::Modify { path, .. }
            | FileChange::Delete { path, .. } => path,
        }
    }

    /// `create`, `modify` or `delete`.
    pub fn verb(&self) -> &'static str {
        match self {
            FileChange::Create { .. } => "create",
            FileChange::Modify { .. } => "modify",
            FileChange::Delete { .. } => "delete",
        }
    }
}

/// Every file change of one command, in the order they are shown and applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub changes: Vec<FileChange>,
}

impl ChangeSet {
    pub fn push(&mut self, change: FileChange) {
        self.changes.push(change);
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FileChange> {
        self.changes.iter()
    }
}

/// The repository as it would be after a [`ChangeSet`]: reads of changed files return the new
/// contents, deleted files are gone, new files and their folders appear. Lets the whole
/// repository be discovered, built and checked before anything is written.
pub struct OverlayFs<'a> {
    base: &'a dyn Fs,
    /// Normalised full paths → new contents (`None`: deleted).
    files: BTreeMap<PathBuf, Option<Vec<u8>>>,
}

impl<'a> OverlayFs<'a> {
    pub fn new(base: &'a dyn Fs, root: &Path, changes: &ChangeSet) -> OverlayFs<'a> {
        let files = changes
            .iter()
            .map(|change| {
                let path = normalize(&root.join(change.path()));
                let contents = match change {
                    FileChange::Create { contents, .. } => Some(contents.clone().into_bytes()),
                    FileChange::Modify { after, .. } => Some(after.clone().into_bytes()),
                    FileChange::Delete { .. } => None,
                };
                (path, contents)
            })
            .collect();
        OverlayFs { base, files }
    }

    fn created_under(&self, dir: &Path) -> impl Iterator<Item = &PathBuf> {
        self.files
            .iter()
            .filter(move |(p, c)| c.is_some() && p.starts_with(dir) && p.as_path() != dir)
            .map(|(p, _)| p)
    }
}

impl Fs for OverlayFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.files.get(&normalize(path)) {
            Some(Some(contents)) => Ok(contents.clone()),
            Some(None) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: deleted by the planned change", path.display()),
            )),
            None => self.base.read(path),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        let path = normalize(path);
        self.base.is_dir(&path) || self.created_under(&path).next().is_some()
    }

    fn is_file(&self, path: &Path) -> bool {
        match self.files.get(&normalize(path)) {
            Some(contents) => contents.is_some(),
            None => self.base.is_file(path),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let dir = normalize(path);
        let mut entries: Vec<PathBuf> = match self.base.read_dir(path) {
            Ok(entries) => entries,
            Err(_) if self.created_under(&dir).next().is_some() => Vec::new(),
            Err(error) => return Err(error),
        };
        entries.retain(|e| !matches!(self.files.get(&normalize(e)), Some(None)));
        for created in self.created_under(&dir) {
            let Ok(rest) = created.strip_prefix(&dir) else {
                continue;
            };
            if let Some(first) = rest.components().next() {
                let entry = path.join(first.as_os_str());
                if !entries.iter().any(|e| normalize(e) == normalize(&entry)) {
                    entries.push(entry);
                }
            }
        }
        entries.sort();
        Ok(entries)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        match self.base.canonicalize(path) {
            Ok(real) if !matches!(self.files.get(&normalize(path)), Some(None)) => Ok(real),
            _ if self.is_file(path) || self.is_dir(path) => Ok(normalize(path)),
            Ok(_) | Err(_) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file or directory", path.display()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::MemFs;

    #[test]
    fn overlay_shows_the_repository_after_the_change() {
        let base = MemFs::from_files([("r/a.yaml", "a"), ("r/old/x.yaml", "x")]);
        let changes = ChangeSet {
            changes: vec![
                FileChange::Create {
                    path: "new/app/k.yaml".into(),
                    contents: "k".into(),
                },
                FileChange::Modify {
                    path: "a.yaml".into(),
                    before: "a".into(),
                    after: "b".into(),
                },
                FileChange::Delete {
                    path: "old/x.yaml".into(),
                    before: "x".into(),
                },
            ],
        };
        let fs = OverlayFs::new(&base, Path::new("r"), &changes);
        assert_eq!(fs.read_to_string(Path::new("r/a.yaml")).unwrap(), "b");
        assert_eq!(
            fs.read_to_string(Path::new("r/new/app/k.yaml")).unwrap(),
            "k"
        );
        assert!(fs.read(Path::new("r/old/x.yaml")).is_err());
        assert!(!fs.is_file(Path::new("r/old/x.yaml")));
        assert!(fs.is_dir(Path::new("r/new/app")));
        assert_eq!(
            fs.read_dir(Path::new("r")).unwrap(),
            ["r/a.yaml", "r/new", "r/old"].map(PathBuf::from)
        );
        assert!(fs.read_dir(Path::new("r/old")).unwrap().is_empty());
        assert_eq!(
            fs.read_dir(Path::new("r/new")).unwrap(),
            [PathBuf::from("r/new/app")]
        );
    }
}
