//! The result of planning a scaffold: file creations, modifications and deletions, each with
//! the exact bytes before and after, relative to the repository root.

use std::path::{Path, PathBuf};

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
