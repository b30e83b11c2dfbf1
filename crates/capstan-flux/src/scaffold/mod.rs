//! Scaffolding: the seeds' "adding a new application" and "removing an application" workflows
//! as pure functions that return the exact file changes to make.
//!
//! [`plan_add`] learns the repository's conventions ([`conventions`]) — where the apps file and
//! folder are, the domain, how namespaces are protected, Kustomization intervals and naming —
//! validates everything the user asked for, and returns a [`ChangeSet`]: new files under the
//! apps folder plus one document appended to the apps file ([`documents`] keeps every other
//! byte of it). [`plan_remove`] finds an app's Kustomization, refuses when others depend on it,
//! and returns the edit that takes it out; [`prune`] turns a render of what it applied into the
//! list of objects Flux will delete ([`applied`] renders it); [`verify`] refuses a change that
//! would break the repository. Nothing here writes: the binary applies a `ChangeSet`
//! atomically. All reads go through [`capstan_core::Fs`].

pub mod add;
pub mod applied;
pub mod changes;
pub mod conventions;
pub mod documents;
pub mod index;
pub mod names;
pub mod nested;
pub mod prune;
pub mod remove;
pub mod templates;
pub mod verify;

use std::path::PathBuf;

pub use add::{AddPlan, AddRequest, plan_add};
pub use applied::{Applied, AppliedError, applied};
pub use changes::{ChangeSet, FileChange, OverlayFs};
pub use conventions::{Conventions, Locate};
pub use index::{FluxKustomization, RepoIndex};
pub use prune::{Fate, PruneEntry, PrunePreview, preview_prune};
pub use remove::{RemovePlan, RemoveRequest, plan_remove};
pub use verify::{VerifyError, verify};

/// Why an `app add` or `app remove` was refused or could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("invalid app name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },

    #[error("invalid {flag} {value:?}: {reason}")]
    InvalidFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },

    #[error("image {image:?} is not pinned: {reason}")]
    UnpinnedImage { image: String, reason: String },

    #[error("app {name:?} already exists: {what}")]
    AppExists { name: String, what: String },

    #[error("--depends-on {name:?}: no Flux Kustomization of that name in the repository{known}")]
    UnknownDependency { name: String, known: String },

    #[error("cannot find the apps file{searched}: {reason}; point at it with --apps-file PATH")]
    AppsFileNotFound { searched: String, reason: String },

    #[error("{0}")]
    Cluster(String),

    #[error("{}: not a directory; pass the repository with --path", .0.display())]
    NotARepository(PathBuf),

    #[error("no app {name:?} in {apps_file}{known}")]
    AppNotFound {
        name: String,
        apps_file: PathBuf,
        known: String,
    },

    #[error(
        "cannot remove {name:?}: it is in the dependsOn of {dependents}, which would never \
         become ready again; change or remove them first"
    )]
    HasDependents { name: String, dependents: String },

    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}:{line}: document {document} is not valid YAML: {message}")]
    Yaml {
        path: PathBuf,
        document: usize,
        line: usize,
        message: String,
    },
}

/// Formats a list of names for a message: `a, b and c`, with the first `limit` shown.
pub(crate) fn list_names(names: &[String], limit: usize) -> String {
    let shown: Vec<&str> = names.iter().take(limit).map(String::as_str).collect();
    let mut out = match shown.len() {
        0 => String::new(),
        1 => shown[0].to_owned(),
        n => format!("{} and {}", shown[..n - 1].join(", "), shown[n - 1]),
    };
    if names.len() > limit {
        out.push_str(&format!(" (and {} more)", names.len() - limit));
    }
    out
}

#[cfg(test)]
mod tests;
