//! The helm step: the chart resolved — a folder of the repository, or fetched from an HTTP(S)
//! Helm repository or an OCI registry through capstan-flux's chart fetcher and its cache — its
//! values merged (values files in order, then `values`), and installed or upgraded as a Helm
//! release by the release engine ([`crate::release::engine`]), which writes Helm's own storage
//! so `helm` and helm-controller recognise it. Its gate is the release's latest version
//! `deployed`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_core::{Fs, Map, OsFs, Value};
use capstan_flux::bootstrap::{ChartRef, HelmInstall};
use capstan_flux::build::helmrelease::{ChartContext, ChartLocation, locate_chart};
use capstan_flux::charts::{Charts, LoadedChart};
use capstan_flux::helm::HelmRenderer;
use capstan_flux::helm::values::merge_maps;
use serde_json::json;
use std::time::Duration;

use super::StepError;
use super::wait::Gate;
use crate::cluster::Cluster;
use crate::id::ObjectRef;
use crate::release::Status;
use crate::release::engine::{InstallRequest, ReleaseAction, history, unlock, upgrade_install};
use crate::release::history::latest;

/// A chart ready to render.
pub enum Chart {
    /// A folder of the repository (on disk).
    Local(PathBuf),
    /// Fetched (or read from the chart cache) and unpacked in memory.
    Fetched(Arc<LoadedChart>),
}

impl Chart {
    /// The file system the chart is read through.
    pub fn fs(&self) -> &dyn Fs {
        match self {
            Chart::Local(_) => &OsFs,
            Chart::Fetched(loaded) => &loaded.fs,
        }
    }

    /// The chart's folder in [`Chart::fs`].
    pub fn dir(&self) -> &Path {
        match self {
            Chart::Local(dir) => dir,
            Chart::Fetched(loaded) => &loaded.dir,
        }
    }
}

/// How a chart is named in messages.
pub fn chart_name(chart: &ChartRef) -> String {
    match chart {
        ChartRef::Path(path) => path.display().to_string(),
        ChartRef::Repository { url, name } => format!("{name} from {url}"),
        ChartRef::Oci(url) => url.clone(),
    }
}

/// Finds the chart: a repository folder, or fetched through `charts` (blocking: run it off the
/// async threads).
pub fn resolve_chart(
    root: &Path,
    install: &HelmInstall,
    charts: &Charts,
) -> Result<Chart, StepError> {
    let error = |message: String| StepError::Chart {
        chart: chart_name(&install.chart),
        message,
    };
    let version = install.version.clone().unwrap_or_else(|| "*".into());
    let (release, source) = match &install.chart {
        ChartRef::Path(path) => {
            let dir = root.join(path);
            if !dir.join("Chart.yaml").is_file() {
                return Err(error("no Chart.yaml in the folder".into()));
            }
            return Ok(Chart::Local(dir));
        }
        ChartRef::Repository { url, name } => (
            json!({"metadata": {"name": install.release, "namespace": install.namespace},
                "spec": {"chart": {"spec": {"chart": name, "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": "bootstrap"}}}}}),
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                "metadata": {"name": "bootstrap", "namespace": install.namespace},
                "spec": {"url": url}}),
        ),
        ChartRef::Oci(url) => {
            let mut reference = json!({});
            if let Some(v) = &install.version {
                reference = json!({"tag": v});
            }
            (
                json!({"metadata": {"name": install.release, "namespace": install.namespace},
                    "spec": {"chartRef": {"kind": "OCIRepository", "name": "bootstrap"}}}),
                json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                    "metadata": {"name": "bootstrap", "namespace": install.namespace},
                    "spec": {"url": url, "ref": reference}}),
            )
        }
    };
    let context = ChartContext {
        fs: &OsFs,
        root,
        source_is_local: false,
        source: Some(&source),
        secret: &|_, _| None,
        charts: Some(charts),
    };
    match locate_chart(&context, &release).map_err(|e| error(e.to_string()))? {
        ChartLocation::Fetched(loaded) => Ok(Chart::Fetched(loaded)),
        ChartLocation::Local(dir) => Ok(Chart::Local(dir)),
        ChartLocation::Remote(what) => Err(error(format!("{what}: not fetched"))),
    }
}

/// The release's values: the values files (repository paths) merged in order, then `values`.
pub fn values(root: &Path, install: &HelmInstall) -> Result<Map, StepError> {
    let mut merged = Map::new();
    for file in &install.values_files {
        let error = |message: String| StepError::Render {
            path: file.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(root.join(file)).map_err(|e| error(e.to_string()))?;
        match capstan_core::yaml::parse_document(&text).map_err(|e| error(e.message))? {
            Value::Object(map) => merged = merge_maps(merged, &map),
            Value::Null => {}
            _ => return Err(error("not a map of values".into())),
        }
    }
    Ok(merge_maps(merged, &install.values))
}

/// The gate: the release's latest version is `deployed`.
pub async fn gate<C: Cluster>(cluster: &C, install: &HelmInstall) -> Gate {
    let shown = format!(
        "Helm release {}/{}",
        install.storage_namespace, install.release
    );
    match history(cluster, &install.release, &install.storage_namespace).await {
        Ok(versions) => match latest(&versions) {
            Some(r) if r.status() == Status::Deployed => {
                Gate::ok(shown, format!("v{} deployed", r.version()))
            }
            Some(r) => Gate::failing(shown, format!("v{} {}", r.version(), r.status().as_str())),
            None => Gate::failing(shown, "not installed"),
        },
        Err(e) => Gate::failing(shown, e.to_string()),
    }
}

/// Installs or upgrades the release (the chart fetched off the async threads); the release's
/// namespace is created when missing, as `helm install --create-namespace` does. `resumed`: this
/// step was interrupted in an earlier run, so a release it left `pending-*` is unlocked first (as
/// helm-controller does); a pending release without that is another operation's and stays
/// locked.
#[allow(clippy::too_many_arguments)]
pub async fn install<C: Cluster>(
    cluster: &C,
    root: &Path,
    install: &HelmInstall,
    charts: Arc<Charts>,
    renderer: Option<Arc<dyn HelmRenderer>>,
    timeout: Duration,
    resumed: bool,
) -> Result<String, StepError> {
    let release = format!("{}/{}", install.namespace, install.release);
    let Some(renderer) = renderer else {
        return Err(StepError::Release {
            release,
            message: capstan_flux::helm::HelmError::NotFound.to_string(),
        });
    };
    let values = values(root, install)?;
    let (root_owned, install_owned) = (root.to_path_buf(), install.clone());
    let chart =
        tokio::task::spawn_blocking(move || resolve_chart(&root_owned, &install_owned, &charts))
            .await
            .map_err(|e| StepError::Chart {
                chart: chart_name(&install.chart),
                message: e.to_string(),
            })??;
    for namespace in [&install.namespace, &install.storage_namespace] {
        let r = ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            namespace: String::new(),
            name: namespace.clone(),
        };
        if cluster.get(&r).await?.is_none() {
            cluster
                .apply(
                    &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
                    false,
                )
                .await?;
        }
    }
    let mut unlocked = String::new();
    if resumed
        && let Some(version) = unlock(cluster, &install.release, &install.storage_namespace)
            .await
            .map_err(|e| StepError::Release {
                release: release.clone(),
                message: e.to_string(),
            })?
    {
        unlocked = format!(" (v{version}, left pending by the interrupted run, marked failed)");
    }
    let request = InstallRequest {
        release: &install.release,
        namespace: &install.namespace,
        storage_namespace: &install.storage_namespace,
        chart_dir: chart.dir(),
        fs: chart.fs(),
        values: &values,
        max_history: install.max_history,
        wait: true,
        timeout,
    };
    let outcome = upgrade_install(cluster, renderer.as_ref(), &request)
        .await
        .map_err(|e| StepError::Release {
            release: release.clone(),
            message: e.to_string(),
        })?;
    let action = match outcome.action {
        ReleaseAction::Installed => "installed".to_owned(),
        ReleaseAction::Upgraded { from } => format!("upgraded from v{from}"),
        ReleaseAction::Unchanged => "unchanged".to_owned(),
        ReleaseAction::RolledBack { to } => format!("rolled back to v{to}"),
    };
    Ok(format!(
        "release {release} {action}: {} {} v{} {}{unlocked}",
        outcome.chart,
        outcome.chart_version,
        outcome.version,
        outcome.status.as_str()
    ))
}
