//! What an app's Flux Kustomization applies, for the prune preview: the repository built as
//! `capstan build all` builds it (kustomize as kustomize-controller runs it, post-build
//! substitution, HelmReleases rendered with their charts where the chart is at hand offline and
//! a `helm` binary is found), keeping the Kustomization's objects and the chart objects of the
//! HelmReleases among them.

use std::path::Path;
use std::sync::Arc;

use anyhow::bail;
use capstan_core::{Fs, ResourceId, Value};
use capstan_flux::build::{BuildOptions, Status, build_all};
use capstan_flux::helm::{HelmBinary, HelmRenderer};

/// The render of one Kustomization.
pub struct Rendered {
    pub objects: Vec<Value>,
    /// Each rendered HelmRelease among `objects`, with its chart's objects.
    pub charts: Vec<(ResourceId, Vec<Value>)>,
    /// HelmReleases whose chart objects could not be shown, and why.
    pub unrendered: Vec<String>,
}

/// Builds the repository at `root` and returns what Kustomization `namespace/name` applies, or
/// `None` when Flux does not reach it from the cluster's entry point.
pub fn render(
    fs: &dyn Fs,
    root: &Path,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Option<Rendered>> {
    let options = BuildOptions {
        helm: HelmBinary::find(None).map(|h| Arc::new(h) as Arc<dyn HelmRenderer>),
        ..BuildOptions::default()
    };
    let report = build_all(fs, root, &options)?;
    let Some(result) = report
        .kustomizations
        .iter()
        .find(|r| r.key.name == name && r.key.namespace == namespace)
    else {
        return Ok(None);
    };
    if result.status == Status::Failed {
        bail!("{}", result.errors.join("; "));
    }
    let objects: Vec<Value> = result.objects.iter().map(|b| b.object.clone()).collect();
    let mut charts = Vec::new();
    let mut unrendered = Vec::new();
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
                charts.push((id, r.objects.iter().map(|b| b.object.clone()).collect()));
            }
            Some(r) => unrendered.push(format!(
                "HelmRelease {ns}/{}: {}",
                id.name,
                if r.errors.is_empty() {
                    format!("{:?}", r.status).to_lowercase()
                } else {
                    r.errors.join("; ")
                }
            )),
            None => unrendered.push(format!("HelmRelease {ns}/{}: not built", id.name)),
        }
    }
    Ok(Some(Rendered {
        objects,
        charts,
        unrendered,
    }))
}
