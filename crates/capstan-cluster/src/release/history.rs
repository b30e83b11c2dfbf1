//! A release's history and what each operation writes, as Helm's `action` and `storage`
//! packages decide it:
//!
//! - the latest release is the highest version; a `pending-*` latest locks the name;
//! - install writes v1 `pending-install`, then `deployed` (or `failed`);
//! - upgrade writes v+1 `pending-upgrade`, then `deployed` with the deployed one `superseded`
//!   (or the new one `failed`);
//! - rollback to N writes v+1 `pending-rollback` with N's chart, values and manifest
//!   ("Rollback to N"), then `deployed`, the one before `superseded`;
//! - before a new version is created with `maxHistory` M > 0, the oldest versions are deleted
//!   until M-1 remain, never the deployed one (storage `removeLeastRecent`).

use super::{Release, Status};

/// Why an operation cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "release {name}: another operation (install/upgrade/rollback) is in progress ({status})"
    )]
    Locked { name: String, status: &'static str },
    #[error("release {name}: has no deployed releases")]
    NotDeployed { name: String },
    #[error("release {name}: revision {version} not found")]
    NoRevision { name: String, version: i64 },
}

/// The latest version (the highest).
pub fn latest(history: &[Release]) -> Option<&Release> {
    history.iter().max_by_key(|r| r.version())
}

/// The newest `deployed` version.
pub fn deployed(history: &[Release]) -> Option<&Release> {
    history
        .iter()
        .filter(|r| r.status() == Status::Deployed)
        .max_by_key(|r| r.version())
}

/// What an operation needs to know before it writes: the version to write and the one it
/// supersedes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    pub version: i64,
    /// The deployed version the new one supersedes once it is deployed.
    pub supersedes: Option<i64>,
    /// Versions to delete first (the history limit).
    pub delete: Vec<i64>,
}

/// Plans the next version of `name`: an install when the history is empty (or holds only
/// uninstalled/failed installs), else an upgrade. `max_history` 0 keeps everything.
pub fn next(name: &str, history: &[Release], max_history: usize) -> Result<Next, HistoryError> {
    if let Some(last) = latest(history)
        && last.status().is_pending()
    {
        return Err(HistoryError::Locked {
            name: name.to_owned(),
            status: last.status().as_str(),
        });
    }
    let version = latest(history).map_or(1, |r| r.version() + 1);
    Ok(Next {
        version,
        supersedes: deployed(history).map(Release::version),
        delete: to_delete(history, max_history),
    })
}

/// Plans a rollback to `target` (0: the version before the latest).
pub fn rollback(
    name: &str,
    history: &[Release],
    target: i64,
    max_history: usize,
) -> Result<(Next, Release), HistoryError> {
    let next = next(name, history, max_history)?;
    let target = if target == 0 {
        latest(history).map_or(0, |r| r.version() - 1)
    } else {
        target
    };
    let Some(source) = history.iter().find(|r| r.version() == target) else {
        return Err(HistoryError::NoRevision {
            name: name.to_owned(),
            version: target,
        });
    };
    Ok((next, source.clone()))
}

/// The versions `removeLeastRecent(max-1)` deletes before a new version is created.
pub fn to_delete(history: &[Release], max_history: usize) -> Vec<i64> {
    if max_history == 0 {
        return Vec::new();
    }
    let keep = max_history - 1;
    if history.len() <= keep {
        return Vec::new();
    }
    let mut versions: Vec<&Release> = history.iter().collect();
    versions.sort_by_key(|r| r.version());
    let deployed = deployed(history).map(Release::version);
    let mut delete = Vec::new();
    for r in versions {
        if history.len() - delete.len() == keep {
            break;
        }
        if Some(r.version()) != deployed {
            delete.push(r.version());
        }
    }
    delete
}
