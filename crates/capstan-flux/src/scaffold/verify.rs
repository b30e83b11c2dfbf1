//! Does a planned change break the repository? The repository as it would be after the change
//! ([`OverlayFs`]) is discovered and its dependency graph built, and every error that appears
//! which was not there before refuses the change. For `app add`, the new folder must also be
//! reached from the entry point and build as Flux builds it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use capstan_core::{Fs, Severity};

use super::applied::{AppliedError, applied};
use super::changes::{ChangeSet, OverlayFs};
use crate::build::BuildOptions;
use crate::discovery::{DiscoveryError, KustomizeRenderer, Options, discover};
use crate::graph::DependencyGraph;

/// Why a change is refused (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(
        "{} would not build as Flux builds it, so nothing was written: {source}",
        .dir.display()
    )]
    DoesNotBuild {
        dir: PathBuf,
        #[source]
        source: AppliedError,
    },
    #[error(
        "Flux would not find Kustomization {name} from the cluster's entry point (is the apps \
         file applied by the cluster's Kustomizations?); nothing was written"
    )]
    NotReached { name: String },
    #[error("the change would break the repository, so nothing was written:\n{}", .errors.join("\n"))]
    Breaks { errors: Vec<String> },
}

/// Error diagnostics of discovery and the dependency graph, as comparable lines.
fn errors(fs: &dyn Fs, root: &Path) -> Result<BTreeSet<String>, DiscoveryError> {
    let discovery = discover(fs, root, &KustomizeRenderer::default(), &Options::default())?;
    let mut errors = BTreeSet::new();
    for diagnostic in discovery.all_diagnostics() {
        if diagnostic.severity == Severity::Error {
            errors.insert(format!("{}: {}", diagnostic.location, diagnostic.message));
        }
    }
    for cluster in &discovery.clusters {
        for diagnostic in DependencyGraph::of(cluster).diagnostics() {
            if diagnostic.severity == Severity::Error {
                errors.insert(format!("{}: {}", diagnostic.location, diagnostic.message));
            }
        }
    }
    Ok(errors)
}

/// Refuses `changes` when they would break the repository at `root` (read through `fs`).
/// `added` names the new Kustomization (in `namespace`) and its folder, which must be
/// discovered and must build.
pub fn verify(
    fs: &dyn Fs,
    root: &Path,
    changes: &ChangeSet,
    added: Option<(&str, &Path)>,
    namespace: &str,
    options: &BuildOptions,
) -> Result<(), VerifyError> {
    let overlay = OverlayFs::new(fs, root, changes);
    if let Some((name, dir)) = added {
        let rendered =
            applied(&overlay, root, name, Some(namespace), None, options).map_err(|source| {
                VerifyError::DoesNotBuild {
                    dir: dir.to_path_buf(),
                    source,
                }
            })?;
        if rendered.is_none() {
            return Err(VerifyError::NotReached {
                name: name.to_owned(),
            });
        }
    }
    let before = errors(fs, root)?;
    let after = errors(&overlay, root)?;
    let new: Vec<String> = after
        .difference(&before)
        .map(|e| format!("  - {e}"))
        .collect();
    if !new.is_empty() {
        return Err(VerifyError::Breaks { errors: new });
    }
    Ok(())
}
