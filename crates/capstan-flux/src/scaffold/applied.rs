//! What an app's Flux Kustomization applies, for the prune preview of `app remove` and the build
//! check of `app add`: the repository built as `capstan build all` builds it, keeping the
//! Kustomization's objects (as its build outcome has them: the namespace it really has, from
//! its parent's kustomization if that sets one) and the chart objects of its HelmReleases.

use std::path::Path;

use capstan_core::{Fs, ResourceId, Value};

use crate::build::{BuildError, BuildOptions, BuildReport, BuildResult, Status, build_all};

/// The render of one Kustomization.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub objects: Vec<Value>,
    /// `spec.prune` as the controller sees it (after the parent's substitution).
    pub prune: bool,
    /// Each rendered HelmRelease among `objects`, with its chart's objects.
    pub charts: Vec<(ResourceId, Vec<Value>)>,
    /// HelmReleases whose chart objects could not be shown, and why.
    pub unrendered: Vec<String>,
}

/// Why the Kustomization could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum AppliedError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("{0}")]
    Failed(String),
}

/// The build result of Kustomization `name`: the one in `namespace` when given, else the one
/// declared in `file` (its namespace may come from the parent's kustomization), else the only
/// one of that name.
pub fn find<'r>(
    report: &'r BuildReport,
    name: &str,
    namespace: Option<&str>,
    file: Option<&Path>,
) -> Option<&'r BuildResult> {
    let named: Vec<&BuildResult> = report
        .kustomizations
        .iter()
        .filter(|r| r.key.name == name)
        .collect();
    if let Some(namespace) = namespace {
        return named.into_iter().find(|r| r.key.namespace == namespace);
    }
    named
        .iter()
        .find(|r| file.is_some() && r.declared.file.as_deref() == file)
        .copied()
        .or_else(|| (named.len() == 1).then(|| named[0]))
}

/// Builds the repository at `root` and returns what Kustomization `name` (see [`find`]) applies,
/// or `None` when Flux does not reach it from the cluster's entry point.
pub fn applied(
    fs: &dyn Fs,
    root: &Path,
    name: &str,
    namespace: Option<&str>,
    file: Option<&Path>,
    options: &BuildOptions,
) -> Result<Option<Applied>, AppliedError> {
    let report = build_all(fs, root, options)?;
    let Some(result) = find(&report, name, namespace, file) else {
        return Ok(None);
    };
    if result.status == Status::Failed {
        return Err(AppliedError::Failed(result.errors.join("; ")));
    }
    let objects: Vec<Value> = result.objects.iter().map(|b| b.object.clone()).collect();
    let mut out = Applied {
        prune: result.effective.prune,
        ..Applied::default()
    };
    for object in &objects {
        let id = ResourceId::of(object);
        if !(id.group == "helm.toolkit.fluxcd.io" && id.kind == "HelmRelease") {
            continue;
        }
        let ns = id.namespace.clone().unwrap_or_default();
        let release = report
            .helm_releases
            .iter()
            .find(|r| r.key.name == id.name && r.key.namespace == ns);
        match release {
            Some(r) if r.status == Status::Rendered => {
                out.charts
                    .push((id, r.objects.iter().map(|b| b.object.clone()).collect()));
            }
            Some(r) => out.unrendered.push(format!(
                "HelmRelease {ns}/{}: {}",
                id.name,
                if r.errors.is_empty() {
                    format!("{:?}", r.status).to_lowercase()
                } else {
                    r.errors.join("; ")
                }
            )),
            None => out
                .unrendered
                .push(format!("HelmRelease {ns}/{}: not built", id.name)),
        }
    }
    out.objects = objects;
    Ok(Some(out))
}
