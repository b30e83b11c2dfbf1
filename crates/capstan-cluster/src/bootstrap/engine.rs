//! The engine step: the GitOps engine itself. `fluxManifests` is the staged apply of the
//! repository's `flux-system` folder (gotk-components, then gotk-sync), health-gated;
//! `fluxOperator` installs the Flux Operator's chart as a Helm release, then applies the
//! FluxInstance file and waits until it is Current.

use std::path::Path;
use std::time::Duration;

use capstan_flux::bootstrap::{EngineStep, HelmInstall};
use capstan_flux::sops::Keys;

use super::wait::Gate;
use super::{Settings, StepError, helm, manifests};
use crate::cluster::Cluster;

/// The objects the step applies (the flux-system folder, or the FluxInstance file).
pub fn render(
    root: &Path,
    step: &str,
    engine: &EngineStep,
    keys: &Keys,
) -> Result<Vec<crate::unit::Desired>, StepError> {
    let path = match engine {
        EngineStep::FluxManifests { path } => path,
        EngineStep::FluxOperator { instance, .. } => instance,
    };
    manifests::render(
        &capstan_core::OsFs,
        root,
        step,
        std::slice::from_ref(path),
        keys,
    )
}

/// Runs the step.
#[allow(clippy::too_many_arguments)]
pub async fn run<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    step: &str,
    engine: &EngineStep,
    operator: Option<&HelmInstall>,
    namespace: &str,
    timeout: Duration,
    resumed: bool,
) -> Result<String, StepError> {
    let mut summary = Vec::new();
    if let (EngineStep::FluxOperator { .. }, Some(install)) = (engine, operator) {
        summary.push(
            helm::install(
                cluster,
                &settings.root,
                install,
                settings.charts.clone(),
                settings.helm.clone(),
                timeout,
                resumed,
            )
            .await?,
        );
    }
    let objects = render(&settings.root, step, engine, &settings.keys)?;
    let unit = manifests::unit(step, namespace, objects, timeout);
    summary.push(manifests::apply(cluster, &unit, true, settings.poll).await?);
    Ok(summary.join("; "))
}

/// The gate: the operator's release deployed, and every object Current.
pub async fn gates<C: Cluster>(
    cluster: &C,
    root: &Path,
    step: &str,
    engine: &EngineStep,
    operator: Option<&HelmInstall>,
    keys: &Keys,
) -> Vec<Gate> {
    let mut out = Vec::new();
    if let Some(install) = operator {
        out.push(helm::gate(cluster, install).await);
    }
    match render(root, step, engine, keys) {
        Ok(objects) => {
            out.extend(manifests::gates(cluster, &manifests::refs(&objects), true).await)
        }
        Err(e) => out.push(Gate::failing(step, e.to_string())),
    }
    out
}
