//! Checking a planned change before anything is written: the repository as it would be after
//! the change ([`OverlayFs`]) is discovered and its dependency graph built, and every error that
//! appears which was not there before refuses the change. For `app add`, the new folder must
//! also be reached from the entry point and build as Flux builds it (`capstan build`).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::bail;
use capstan_core::{Fs, OsFs, Severity};
use capstan_flux::discovery::{Options, discover};
use capstan_flux::graph::DependencyGraph;
use capstan_flux::scaffold::{ChangeSet, OverlayFs};

use capstan_flux::discovery::KustomizeRenderer;

use super::render::render;

/// Error diagnostics of discovery and the dependency graph, as comparable lines.
fn errors(fs: &dyn Fs, root: &Path) -> anyhow::Result<BTreeSet<String>> {
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

/// Refuses `changes` when they would break the repository at `root`. `added` names the new
/// Kustomization (in `namespace`) and its folder, which must be discovered and must build.
pub fn verify(
    root: &Path,
    changes: &ChangeSet,
    added: Option<(&str, &Path)>,
    namespace: &str,
) -> anyhow::Result<()> {
    let overlay = OverlayFs::new(&OsFs, root, changes);
    if let Some((name, dir)) = added {
        let rendered = render(&overlay, root, namespace, name).map_err(|e| {
            anyhow::anyhow!(
                "{} would not build as Flux builds it, so nothing was written: {e:#}",
                dir.display()
            )
        })?;
        if rendered.is_none() {
            bail!(
                "Flux would not find Kustomization {name} from the cluster's entry point (is the \
                 apps file applied by the cluster's Kustomizations?); nothing was written"
            );
        }
    }
    let before = errors(&OsFs, root)?;
    let after = errors(&overlay, root)?;
    let new: Vec<&String> = after.difference(&before).collect();
    if !new.is_empty() {
        let lines: Vec<String> = new.iter().map(|e| format!("  - {e}")).collect();
        bail!(
            "the change would break the repository, so nothing was written:\n{}",
            lines.join("\n")
        );
    }
    Ok(())
}
