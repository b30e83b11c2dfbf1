//! The release engine: install, upgrade, roll back and uninstall Helm releases as Helm 4 does,
//! through the [`Cluster`] seam, so the `helm` CLI and helm-controller carry on from what
//! capstan did (and the other way round).
//!
//! - **upgrade_install**: renders the chart with `helm template` (the [`HelmRenderer`]; with
//!   `.Release.IsUpgrade` when a release exists), splits manifest and hooks, and compares with the
//!   latest release: the same chart, values, manifest and hooks over a deployed release whose
//!   objects all exist is `Unchanged` and writes nothing. Otherwise:
//!   - objects that would be adopted are checked for Helm's ownership metadata;
//!   - on install the chart's `crds/` are created;
//!   - `maxHistory` deletes the oldest versions;
//!   - the new version is stored `pending-install`/`pending-upgrade`;
//!   - pre hooks run;
//!   - every object is applied server-side as the field manager `helm` (Helm 4's), without
//!     forcing conflicts, stamped with Helm's ownership label and annotations;
//!   - objects the previous release had and this one does not are deleted unless
//!     `helm.sh/resource-policy: keep`;
//!   - with `wait`, objects are awaited until kstatus Current;
//!   - post hooks run;
//!   - the release upgraded from becomes `superseded` and the new one `deployed`.
//!
//!   A failure after the new version is stored marks it `failed` (with Helm's description) and
//!   returns [`ReleaseError::Failed`].
//! - **rollback**: a new version carrying the target version's chart, values, manifest and
//!   hooks ("Rollback to N"), applied the same way with the rollback hooks.
//! - **uninstall**: `uninstalling`, delete hooks, objects deleted in uninstall order (kept ones
//!   spared), then the history purged (or kept, `uninstalled`).

use std::time::Duration;

use capstan_core::{Fs, Map, Value};
use capstan_flux::helm::{HelmError, HelmRenderer, RenderRequest};

use super::chart::{self, ChartError};
use super::history::{self, HistoryError};
use super::hooks::{self, Hook, HookError, HookEvent, HookOptions};
use super::manifest::{self, ManifestError};
use super::objects::{apply_all, delete_removed, install_crds, prepared, refs_of, wait_current};
use super::records::{create_record, delete_versions, now, supersede, update_record};
pub use super::records::{current, history, unlock};
use super::storage::StorageError;
use super::{NewRelease, Release, Status};
use crate::cluster::{Cluster, ClusterError};
use crate::id::ObjectRef;

/// The field manager Helm 4's CLI applies with (`kube.ManagedFieldsManager = "helm"`), so a
/// later `helm upgrade` owns the same fields.
pub const HELM_FIELD_MANAGER: &str = "helm";
/// helm-controller's default history limit.
pub const DEFAULT_MAX_HISTORY: i64 = 5;
/// How often the engine polls while it waits.
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// An install or upgrade of one release.
#[derive(Clone, Copy)]
pub struct InstallRequest<'a> {
    pub release: &'a str,
    /// Where the chart's namespaced objects go (the release's namespace).
    pub namespace: &'a str,
    /// Where the `sh.helm.release.v1.*` Secrets live (usually `namespace`).
    pub storage_namespace: &'a str,
    /// An unpacked chart directory, read through `fs`.
    pub chart_dir: &'a std::path::Path,
    pub fs: &'a dyn Fs,
    /// The user-supplied values (stored as the release's `config`).
    pub values: &'a Map,
    /// Versions kept; `None` is helm-controller's 5, 0 or less keeps all.
    pub max_history: Option<i64>,
    /// Wait until the rendered objects are kstatus Current.
    pub wait: bool,
    /// For hooks, and for the objects when `wait`.
    pub timeout: Duration,
}

/// A rollback.
#[derive(Debug, Clone, Copy)]
pub struct RollbackRequest<'a> {
    pub release: &'a str,
    pub storage_namespace: &'a str,
    /// The version to roll back to; `None` is the one before the latest.
    pub to: Option<u32>,
    pub max_history: Option<i64>,
    pub wait: bool,
    pub timeout: Duration,
}

/// An uninstall.
#[derive(Debug, Clone, Copy)]
pub struct UninstallRequest<'a> {
    pub release: &'a str,
    pub storage_namespace: &'a str,
    /// Keep the history, the latest version marked `uninstalled` (`helm uninstall
    /// --keep-history`); else every version's Secret is deleted.
    pub keep_history: bool,
    pub timeout: Duration,
}

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ReleaseAction {
    Installed,
    Upgraded {
        from: u32,
    },
    /// The deployed release already has this chart, these values and this manifest: nothing
    /// was written.
    Unchanged,
    RolledBack {
        to: u32,
    },
}

/// The release after an operation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReleaseOutcome {
    pub release: String,
    pub namespace: String,
    pub version: u32,
    pub action: ReleaseAction,
    pub status: Status,
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    /// The release's objects (the manifest's), namespaces filled in.
    pub objects: Vec<ObjectRef>,
    /// Objects of the previous version deleted because this one no longer has them.
    pub deleted: Vec<ObjectRef>,
    /// Objects the previous version had that were kept (`helm.sh/resource-policy: keep`).
    pub kept: Vec<ObjectRef>,
}

/// What an uninstall did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UninstallOutcome {
    pub release: String,
    pub version: u32,
    pub deleted: Vec<ObjectRef>,
    pub kept: Vec<ObjectRef>,
    pub history_kept: bool,
}

/// Why a release version that was stored failed (it is now `failed`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{object} failed: {message}")]
    Unhealthy { object: String, message: String },
    #[error("timed out after {after:?} waiting for {}", pending.join(", "))]
    Timeout {
        after: Duration,
        pending: Vec<String>,
    },
}

/// Why an operation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("release name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("release {release}: stored release {source}")]
    Storage {
        release: String,
        #[source]
        source: StorageError,
    },
    #[error("release {release}: chart {source}")]
    Chart {
        release: String,
        #[source]
        source: ChartError,
    },
    #[error("release {release}: rendering {chart}: {source}")]
    Render {
        release: String,
        chart: String,
        #[source]
        source: HelmError,
    },
    #[error("release {release}: manifest {source}")]
    Manifest {
        release: String,
        #[source]
        source: ManifestError,
    },
    #[error(
        "release {release}: {object} exists and cannot be imported into the current release: {reason}"
    )]
    Ownership {
        release: String,
        object: String,
        reason: String,
    },
    #[error("release {release}: {source}")]
    Cluster {
        release: String,
        #[source]
        source: ClusterError,
    },
    #[error("release {release}: not found in namespace {namespace}")]
    NotFound { release: String, namespace: String },
    /// Version `version` did not complete. An install, upgrade or rollback stored it and marked
    /// it `failed`; an unchanged release that was waited on is left as it was.
    #[error(
        "release {release}: version {version} failed: {failure}{}",
        unrecorded_note(.unrecorded.as_deref())
    )]
    Failed {
        release: String,
        version: u32,
        failure: Box<Failure>,
        /// Writing the failure into the stored release failed too: the stored record still shows
        /// the state before it (a pending version keeps the release name locked until fixed).
        unrecorded: Option<Box<ClusterError>>,
    },
}

fn unrecorded_note(unrecorded: Option<&ClusterError>) -> String {
    match unrecorded {
        Some(e) => format!(
            "; the stored release record could not be updated to say so ({e}): it still shows the state before the failure"
        ),
        None => String::new(),
    }
}

pub(crate) fn cluster_error(release: &str) -> impl Fn(ClusterError) -> ReleaseError + '_ {
    move |source| ReleaseError::Cluster {
        release: release.to_owned(),
        source,
    }
}

/// Helm's release name rule: at most 53 characters, lower-case DNS labels separated by dots.
pub fn validate_name(name: &str) -> Result<(), ReleaseError> {
    let invalid = |reason| ReleaseError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > 53 {
        return Err(invalid("it is longer than 53 characters"));
    }
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !name.split('.').all(ok_label) {
        return Err(invalid(
            "it must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
        ));
    }
    Ok(())
}

fn max_history(limit: Option<i64>) -> usize {
    usize::try_from(limit.unwrap_or(DEFAULT_MAX_HISTORY)).unwrap_or(0)
}

pub(crate) fn version_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Release versions.

struct Version<'a> {
    name: &'a str,
    namespace: &'a str,
    version: i64,
    chart: Value,
    config: Map,
    manifest: String,
    hooks: Vec<Hook>,
    notes: String,
    description: String,
    status: Status,
    first_deployed: String,
    last_deployed: String,
}

impl Version<'_> {
    fn release(&self) -> Release {
        Release::new(NewRelease {
            name: self.name,
            namespace: self.namespace,
            version: self.version,
            chart: self.chart.clone(),
            config: self.config.clone(),
            manifest: &self.manifest,
            hooks: self.hooks.iter().map(Hook::to_json).collect(),
            notes: &self.notes,
            description: &self.description,
            status: self.status,
            first_deployed: &self.first_deployed,
            last_deployed: &self.last_deployed,
        })
    }
}

fn same_hooks(stored: &Release, hooks: &[Hook]) -> bool {
    let stored: Vec<(String, String)> = stored
        .hooks()
        .iter()
        .map(Hook::from_json)
        .map(|h| (h.path, h.manifest))
        .collect();
    let new: Vec<(String, String)> = hooks
        .iter()
        .map(|h| (h.path.clone(), h.manifest.clone()))
        .collect();
    stored == new
}

async fn all_exist<C: Cluster>(cluster: &C, refs: &[ObjectRef]) -> Result<bool, ClusterError> {
    for r in refs {
        if cluster.get(r).await?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn go(value: &Value) -> String {
    capstan_core::go_json::to_string(value, capstan_core::go_json::Keys::Sorted)
}

/// Runs the hooks of `event`; `Err` is the failure to record.
async fn run_hooks<C: Cluster>(
    cluster: &C,
    hooks: &mut [Hook],
    event: HookEvent,
    namespace: &str,
    timeout: Duration,
) -> Result<(), Failure> {
    let options = HookOptions {
        namespace,
        manager: HELM_FIELD_MANAGER,
        timeout,
        poll: POLL,
    };
    hooks::run(cluster, hooks, event, &options, &now)
        .await
        .map_err(Failure::Hook)
}

/// Marks `v` failed with `description`, records it, and returns the error.
async fn fail<C: Cluster>(
    cluster: &C,
    v: &mut Version<'_>,
    storage_namespace: &str,
    description: String,
    failure: Failure,
) -> ReleaseError {
    v.status = Status::Failed;
    v.description = description;
    // The failure comes first; a record that could not be written is said alongside it.
    let unrecorded = update_record(cluster, &v.release(), storage_namespace)
        .await
        .err()
        .map(Box::new);
    ReleaseError::Failed {
        release: v.name.to_owned(),
        version: version_u32(v.version),
        failure: Box::new(failure),
        unrecorded,
    }
}

fn outcome(
    release: &Release,
    action: ReleaseAction,
    objects: Vec<ObjectRef>,
    deleted: Vec<ObjectRef>,
    kept: Vec<ObjectRef>,
) -> ReleaseOutcome {
    let (chart, chart_version) = release.chart();
    ReleaseOutcome {
        release: release.name().to_owned(),
        namespace: release.namespace().to_owned(),
        version: version_u32(release.version()),
        action,
        status: release.status(),
        chart: chart.to_owned(),
        chart_version: chart_version.to_owned(),
        app_version: release.app_version().to_owned(),
        objects,
        deleted,
        kept,
    }
}

/// Installs the release, or upgrades it when it exists (`helm upgrade --install`).
pub async fn upgrade_install<C: Cluster>(
    cluster: &C,
    renderer: &dyn HelmRenderer,
    req: &InstallRequest<'_>,
) -> Result<ReleaseOutcome, ReleaseError> {
    let name = req.release;
    validate_name(name)?;
    let all = history(cluster, name, req.storage_namespace).await?;
    let latest = history::latest(&all).cloned();
    if let Some(last) = &latest
        && last.status().is_pending()
    {
        return Err(HistoryError::Locked {
            name: name.to_owned(),
            status: last.status().as_str(),
        }
        .into());
    }
    // An uninstalled release (history kept) is installed again, as `helm install --replace`.
    let previous = latest
        .as_ref()
        .filter(|l| l.status() != Status::Uninstalled)
        .map(|l| history::deployed(&all).unwrap_or(l).clone());
    let is_upgrade = previous.is_some();

    let chart_json =
        chart::chart_json(req.fs, req.chart_dir).map_err(|source| ReleaseError::Chart {
            release: name.to_owned(),
            source,
        })?;
    let request = RenderRequest {
        release_name: name,
        namespace: req.namespace,
        chart_dir: req.chart_dir,
        fs: req.fs,
        values: req.values,
        include_crds: false,
        kube_version: None,
        api_versions: &[],
    };
    let text = renderer
        .render_text(&request, is_upgrade)
        .map_err(|source| ReleaseError::Render {
            release: name.to_owned(),
            chart: req.chart_dir.display().to_string(),
            source,
        })?;
    let rendered = manifest::split(&text).map_err(|source| ReleaseError::Manifest {
        release: name.to_owned(),
        source,
    })?;
    let manifest_text = rendered.manifest();
    let config = match chart::sorted(&Value::Object(req.values.clone())) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut objects = prepared(cluster, rendered.objects(), name, req.namespace)
        .await
        .map_err(cluster_error(name))?;
    let mut refs: Vec<ObjectRef> = objects.iter().map(|(r, _)| r.clone()).collect();

    // Unchanged: the latest is deployed with this chart, these values, manifest and hooks, and
    // every object of it exists (a deleted one is put back by a new version).
    if let Some(last) = &latest
        && last.status() == Status::Deployed
        && last.chart_json().get("metadata") == chart_json.get("metadata")
        && go(&Value::Object(last.config())) == go(&Value::Object(config.clone()))
        && last.manifest() == manifest_text
        && same_hooks(last, &rendered.hooks)
        && all_exist(cluster, &refs)
            .await
            .map_err(cluster_error(name))?
    {
        if req.wait {
            wait_current(cluster, &refs, req.timeout)
                .await
                .map_err(|failure| ReleaseError::Failed {
                    release: name.to_owned(),
                    version: version_u32(last.version()),
                    failure: Box::new(failure),
                    unrecorded: None,
                })?;
        }
        return Ok(outcome(
            last,
            ReleaseAction::Unchanged,
            refs,
            Vec::new(),
            Vec::new(),
        ));
    }

    let old_refs = match &previous {
        Some(p) => refs_of(cluster, p.manifest(), name, req.namespace).await?,
        None => Vec::new(),
    };
    // Objects this release would adopt must carry its ownership metadata.
    for (r, _) in &objects {
        if old_refs.iter().any(|o| o.same_object(r)) {
            continue;
        }
        if let Some(live) = cluster.get(r).await.map_err(cluster_error(name))?
            && let Some(reason) = manifest::ownership_problem(&live, name, req.namespace)
        {
            return Err(ReleaseError::Ownership {
                release: name.to_owned(),
                object: r.to_string(),
                reason,
            });
        }
    }

    if !is_upgrade && install_crds(cluster, req.fs, req.chart_dir, name, req.timeout).await? {
        // Objects of the chart's own kinds learn their scope now.
        objects = prepared(cluster, rendered.objects(), name, req.namespace)
            .await
            .map_err(cluster_error(name))?;
        refs = objects.iter().map(|(r, _)| r.clone()).collect();
    }
    // Helm stores the rendered NOTES.txt; notes that do not render are left out rather than
    // failing the release (they are only shown by `helm status`).
    let notes = renderer
        .render_notes(&request, is_upgrade)
        .ok()
        .flatten()
        .unwrap_or_default();
    let next = history::next(name, &all, max_history(req.max_history))?;
    delete_versions(cluster, name, req.storage_namespace, &next.delete).await?;
    // Installing over an uninstalled release (history kept) supersedes it, as `helm install
    // --replace` does.
    if let Some(last) = latest
        .as_ref()
        .filter(|l| l.status() == Status::Uninstalled && !next.delete.contains(&l.version()))
    {
        let mut last = last.clone();
        last.set_status(Status::Superseded, Some("superseded by new release"));
        update_record(cluster, &last, req.storage_namespace)
            .await
            .map_err(cluster_error(name))?;
    }
    let stamp = now();
    let mut v = Version {
        name,
        namespace: req.namespace,
        version: next.version,
        chart: chart_json,
        config,
        manifest: manifest_text,
        hooks: rendered.hooks,
        notes,
        description: if is_upgrade {
            "Preparing upgrade".into()
        } else {
            "Initial install underway".into()
        },
        status: if is_upgrade {
            Status::PendingUpgrade
        } else {
            Status::PendingInstall
        },
        first_deployed: previous
            .as_ref()
            .map(|p| p.first_deployed().to_owned())
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| stamp.clone()),
        last_deployed: stamp,
    };
    create_record(cluster, &v.release(), req.storage_namespace)
        .await
        .map_err(cluster_error(name))?;

    let (pre, post) = if is_upgrade {
        (HookEvent::PreUpgrade, HookEvent::PostUpgrade)
    } else {
        (HookEvent::PreInstall, HookEvent::PostInstall)
    };
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        if is_upgrade {
            format!("Upgrade {name:?} failed: {what}{e}")
        } else {
            format!("Release {name:?} failed: {what}{e}")
        }
    };
    if let Err(f) = run_hooks(cluster, &mut v.hooks, pre, req.namespace, req.timeout).await {
        let what = if is_upgrade {
            "pre-upgrade hooks failed: "
        } else {
            "failed pre-install: "
        };
        let d = failed(what, &f);
        return Err(fail(cluster, &mut v, req.storage_namespace, d, f).await);
    }
    if let Err(e) = apply_all(cluster, &objects).await {
        let d = failed("", &e);
        return Err(fail(cluster, &mut v, req.storage_namespace, d, e.into()).await);
    }
    let (deleted, kept) = match delete_removed(cluster, &old_refs, &refs).await {
        Ok(found) => found,
        Err(e) => {
            let d = failed("", &e);
            return Err(fail(cluster, &mut v, req.storage_namespace, d, e.into()).await);
        }
    };
    if req.wait
        && let Err(f) = wait_current(cluster, &refs, req.timeout).await
    {
        let d = failed("", &f);
        return Err(fail(cluster, &mut v, req.storage_namespace, d, f).await);
    }
    if let Err(f) = run_hooks(cluster, &mut v.hooks, post, req.namespace, req.timeout).await {
        let what = if is_upgrade {
            "post-upgrade hooks failed: "
        } else {
            "failed post-install: "
        };
        let d = failed(what, &f);
        return Err(fail(cluster, &mut v, req.storage_namespace, d, f).await);
    }
    // The versions maxHistory trimmed above are gone: only the ones kept are superseded. A
    // failure to write them marks the new version failed rather than leaving it pending (a
    // pending version locks the release name).
    let kept_versions: Vec<Release> = all
        .iter()
        .filter(|r| !next.delete.contains(&r.version()))
        .cloned()
        .collect();
    let mut superseded = supersede(cluster, &kept_versions, req.storage_namespace, name).await;
    // Helm supersedes the release it upgraded from, a failed one included.
    if superseded.is_ok()
        && let Some(p) = previous
            .as_ref()
            .filter(|p| p.status() == Status::Failed && !next.delete.contains(&p.version()))
    {
        let mut p = p.clone();
        p.set_status(Status::Superseded, None);
        superseded = update_record(cluster, &p, req.storage_namespace)
            .await
            .map_err(cluster_error(name));
    }
    if let Err(ReleaseError::Cluster { source, .. }) = superseded {
        let d = failed("", &source);
        return Err(fail(cluster, &mut v, req.storage_namespace, d, source.into()).await);
    }
    superseded?;
    v.status = Status::Deployed;
    v.description = if is_upgrade {
        "Upgrade complete".into()
    } else {
        "Install complete".into()
    };
    let release = v.release();
    update_record(cluster, &release, req.storage_namespace)
        .await
        .map_err(cluster_error(name))?;
    let action = match &previous {
        Some(p) => ReleaseAction::Upgraded {
            from: version_u32(p.version()),
        },
        None => ReleaseAction::Installed,
    };
    Ok(outcome(&release, action, refs, deleted, kept))
}

/// Rolls a release back to an earlier version (`helm rollback`).
pub async fn rollback<C: Cluster>(
    cluster: &C,
    req: &RollbackRequest<'_>,
) -> Result<ReleaseOutcome, ReleaseError> {
    let name = req.release;
    validate_name(name)?;
    let all = history(cluster, name, req.storage_namespace).await?;
    let Some(latest) = history::latest(&all).cloned() else {
        return Err(ReleaseError::NotFound {
            release: name.to_owned(),
            namespace: req.storage_namespace.to_owned(),
        });
    };
    let (next, target) = history::rollback(
        name,
        &all,
        i64::from(req.to.unwrap_or(0)),
        max_history(req.max_history),
    )?;
    let namespace = latest.namespace().to_owned();
    let old_refs = refs_of(cluster, latest.manifest(), name, &namespace).await?;
    let objects =
        manifest::objects(target.manifest()).map_err(|source| ReleaseError::Manifest {
            release: name.to_owned(),
            source,
        })?;
    let objects = prepared(cluster, objects, name, &namespace)
        .await
        .map_err(cluster_error(name))?;
    let refs: Vec<ObjectRef> = objects.iter().map(|(r, _)| r.clone()).collect();

    delete_versions(cluster, name, req.storage_namespace, &next.delete).await?;
    let mut v = Version {
        name,
        namespace: &namespace,
        version: next.version,
        chart: target.chart_json(),
        config: target.config(),
        manifest: target.manifest().to_owned(),
        hooks: target.hooks().iter().map(Hook::from_json).collect(),
        notes: target.notes().to_owned(),
        description: format!("Rollback to {}", target.version()),
        status: Status::PendingRollback,
        first_deployed: latest.first_deployed().to_owned(),
        last_deployed: now(),
    };
    create_record(cluster, &v.release(), req.storage_namespace)
        .await
        .map_err(cluster_error(name))?;
    if let Err(f) = run_hooks(
        cluster,
        &mut v.hooks,
        HookEvent::PreRollback,
        &namespace,
        req.timeout,
    )
    .await
    {
        let d = format!("Rollback {name:?} failed: {f}");
        return Err(fail(cluster, &mut v, req.storage_namespace, d, f).await);
    }
    let applied = match apply_all(cluster, &objects).await {
        Ok(()) => delete_removed(cluster, &old_refs, &refs).await,
        Err(e) => Err(e),
    };
    let (deleted, kept) = match applied {
        Ok(found) => found,
        Err(e) => {
            // Helm marks the latest superseded and the rollback failed.
            let mut last = latest.clone();
            last.set_status(Status::Superseded, None);
            let superseded = update_record(cluster, &last, req.storage_namespace).await;
            let d = format!("Rollback {name:?} failed: {e}");
            let mut err = fail(cluster, &mut v, req.storage_namespace, d, e.into()).await;
            if let (Err(write), ReleaseError::Failed { unrecorded, .. }) = (superseded, &mut err) {
                unrecorded.get_or_insert(Box::new(write));
            }
            return Err(err);
        }
    };
    if req.wait
        && let Err(f) = wait_current(cluster, &refs, req.timeout).await
    {
        let d = format!("Release {name:?} failed: {f}");
        return Err(fail(cluster, &mut v, req.storage_namespace, d, f).await);
    }
    if let Err(f) = run_hooks(
        cluster,
        &mut v.hooks,
        HookEvent::PostRollback,
        &namespace,
        req.timeout,
    )
    .await
    {
        let d = format!("Rollback {name:?} failed: {f}");
        return Err(fail(cluster, &mut v, req.storage_namespace, d, f).await);
    }
    supersede(cluster, &all, req.storage_namespace, name).await?;
    v.status = Status::Deployed;
    let release = v.release();
    update_record(cluster, &release, req.storage_namespace)
        .await
        .map_err(cluster_error(name))?;
    Ok(outcome(
        &release,
        ReleaseAction::RolledBack {
            to: version_u32(target.version()),
        },
        refs,
        deleted,
        kept,
    ))
}

/// Uninstalls a release (`helm uninstall`): delete hooks, objects in uninstall order (kept
/// ones spared), then the history purged unless kept.
pub async fn uninstall<C: Cluster>(
    cluster: &C,
    req: &UninstallRequest<'_>,
) -> Result<UninstallOutcome, ReleaseError> {
    let name = req.release;
    validate_name(name)?;
    let all = history(cluster, name, req.storage_namespace).await?;
    let not_found = || ReleaseError::NotFound {
        release: name.to_owned(),
        namespace: req.storage_namespace.to_owned(),
    };
    let Some(mut latest) = history::latest(&all).cloned() else {
        return Err(not_found());
    };
    if latest.status() == Status::Uninstalled {
        if !req.keep_history {
            let versions: Vec<i64> = all.iter().map(Release::version).collect();
            delete_versions(cluster, name, req.storage_namespace, &versions).await?;
        }
        return Ok(UninstallOutcome {
            release: name.to_owned(),
            version: version_u32(latest.version()),
            deleted: Vec::new(),
            kept: Vec::new(),
            history_kept: req.keep_history,
        });
    }
    let namespace = latest.namespace().to_owned();
    latest.set_status(
        Status::Uninstalling,
        Some("Deletion in progress (or silently ignored)"),
    );
    update_record(cluster, &latest, req.storage_namespace)
        .await
        .map_err(cluster_error(name))?;
    let mut hooks_list: Vec<Hook> = latest.hooks().iter().map(Hook::from_json).collect();
    // Helm leaves a release whose uninstall failed `uninstalling`: uninstalling it again resumes.
    let failed = |failure: Failure| ReleaseError::Failed {
        release: name.to_owned(),
        version: version_u32(latest.version()),
        failure: Box::new(failure),
        unrecorded: None,
    };
    run_hooks(
        cluster,
        &mut hooks_list,
        HookEvent::PreDelete,
        &namespace,
        req.timeout,
    )
    .await
    .map_err(failed)?;
    let mut refs = refs_of(cluster, latest.manifest(), name, &namespace).await?;
    refs.sort_by_key(|r| manifest::uninstall_rank(&r.kind));
    let mut deleted = Vec::new();
    let mut kept = Vec::new();
    for r in refs {
        match cluster.get(&r).await {
            Ok(Some(live)) if manifest::keep(&live) => kept.push(r),
            Ok(Some(_)) => {
                if cluster.delete(&r).await.map_err(|e| failed(e.into()))? {
                    deleted.push(r);
                }
            }
            Ok(None) => {}
            Err(e) => return Err(failed(e.into())),
        }
    }
    run_hooks(
        cluster,
        &mut hooks_list,
        HookEvent::PostDelete,
        &namespace,
        req.timeout,
    )
    .await
    .map_err(failed)?;
    if req.keep_history {
        latest.set_status(Status::Uninstalled, Some("Uninstall complete"));
        latest.set_deleted(&now());
        update_record(cluster, &latest, req.storage_namespace)
            .await
            .map_err(cluster_error(name))?;
    } else {
        let versions: Vec<i64> = all.iter().map(Release::version).collect();
        delete_versions(cluster, name, req.storage_namespace, &versions).await?;
    }
    Ok(UninstallOutcome {
        release: name.to_owned(),
        version: version_u32(latest.version()),
        deleted,
        kept,
        history_kept: req.keep_history,
    })
}

#[cfg(test)]
mod tests {
    use super::super::storage;
    use super::*;
    use crate::mem::MemCluster;
    use capstan_core::MemFs;
    use serde_json::json;

    /// Renders one ConfigMap from `greeting` and a pre-upgrade hook ConfigMap.
    struct Fake;

    impl HelmRenderer for Fake {
        fn render(&self, request: &RenderRequest<'_>) -> Result<Vec<Value>, HelmError> {
            let greeting = request
                .values
                .get("greeting")
                .cloned()
                .unwrap_or("hello".into());
            Ok(vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": format!("{}-config", request.release_name)},
                       "data": {"greeting": greeting}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "hook", "annotations": {"helm.sh/hook": "pre-upgrade"}}}),
            ])
        }
    }

    fn secrets(cluster: &MemCluster) -> Vec<(i64, String)> {
        let mut out: Vec<(i64, String)> = cluster
            .objects()
            .iter()
            .filter(|o| o["type"] == storage::SECRET_TYPE)
            .map(|o| {
                let l = &o["metadata"]["labels"];
                (
                    l["version"]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    l["status"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn writes(cluster: &MemCluster) -> Vec<(String, u64)> {
        cluster
            .requests()
            .into_iter()
            .filter(|(verb, _)| ["apply", "patch", "delete", "create"].contains(&verb.as_str()))
            .collect()
    }

    #[tokio::test]
    async fn which_secrets_each_operation_writes() {
        let cluster = MemCluster::new();
        cluster.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}));
        let fs = MemFs::new();
        fs.add_file("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n");
        let chart_dir = std::path::Path::new("c");
        let install = |values: &'static str| {
            let values: Map = serde_json::from_str(values).unwrap_or_default();
            let cluster = &cluster;
            let fs = &fs;
            async move {
                let req = InstallRequest {
                    release: "web",
                    namespace: "apps",
                    storage_namespace: "apps",
                    chart_dir,
                    fs,
                    values: &values,
                    max_history: Some(2),
                    wait: false,
                    timeout: Duration::from_secs(5),
                };
                upgrade_install(cluster, &Fake, &req).await
            }
        };
        // Install: v1 created pending-install, then updated deployed; no hook runs.
        let out = install("{}").await.expect("installs");
        assert_eq!((out.version, out.action), (1, ReleaseAction::Installed));
        assert_eq!(secrets(&cluster), [(1, "deployed".to_owned())]);
        assert_eq!(
            writes(&cluster),
            [
                ("apply".to_owned(), 1),
                ("create".to_owned(), 1),
                ("patch".to_owned(), 1)
            ]
        );
        // Upgrade: v2 created, the hook's earlier object deleted (before-hook-creation) and the
        // hook applied, the object applied, v1 superseded, v2 deployed.
        let out = install(r#"{"greeting": "hi"}"#).await.expect("upgrades");
        assert_eq!(
            (out.version, out.action),
            (2, ReleaseAction::Upgraded { from: 1 })
        );
        assert_eq!(
            secrets(&cluster),
            [(1, "superseded".to_owned()), (2, "deployed".to_owned())]
        );
        assert_eq!(
            writes(&cluster),
            [
                ("apply".to_owned(), 3),
                ("create".to_owned(), 2),
                ("delete".to_owned(), 1),
                ("patch".to_owned(), 3)
            ]
        );
        // Unchanged: nothing written.
        let out = install(r#"{"greeting": "hi"}"#).await.expect("unchanged");
        assert_eq!((out.version, out.action), (2, ReleaseAction::Unchanged));
        assert_eq!(
            writes(&cluster),
            [
                ("apply".to_owned(), 3),
                ("create".to_owned(), 2),
                ("delete".to_owned(), 1),
                ("patch".to_owned(), 3)
            ]
        );
        // maxHistory 2: v1 goes before v3 is created.
        let out = install(r#"{"greeting": "yo"}"#).await.expect("upgrades");
        assert_eq!(out.version, 3);
        assert_eq!(
            secrets(&cluster),
            [(2, "superseded".to_owned()), (3, "deployed".to_owned())]
        );
        // A pending release locks the name.
        let mut pending = current(&cluster, "web", "apps")
            .await
            .expect("reads")
            .expect("v3");
        pending.set_status(Status::PendingUpgrade, None);
        update_record(&cluster, &pending, "apps")
            .await
            .expect("writes");
        let locked = install(r#"{"greeting": "again"}"#)
            .await
            .expect_err("locked");
        assert!(
            matches!(locked, ReleaseError::History(HistoryError::Locked { .. })),
            "{locked}"
        );
        // Unlocked as helm-controller does, the next run upgrades over it.
        assert_eq!(
            unlock(&cluster, "web", "apps").await.expect("unlocks"),
            Some(3)
        );
        assert_eq!(unlock(&cluster, "web", "apps").await.expect("reads"), None);
        let out = install(r#"{"greeting": "again"}"#).await.expect("upgrades");
        assert_eq!(
            (out.version, out.action),
            (4, ReleaseAction::Upgraded { from: 3 })
        );
        // Uninstalled with its history kept: the latest is `uninstalled`, the objects gone; an
        // install then starts a new version after it.
        let gone = uninstall(
            &cluster,
            &UninstallRequest {
                release: "web",
                storage_namespace: "apps",
                keep_history: true,
                timeout: Duration::from_secs(5),
            },
        )
        .await
        .expect("uninstalls");
        assert_eq!(gone.deleted.len(), 1);
        let all = history(&cluster, "web", "apps").await.expect("reads");
        let last = all.last().expect("kept");
        assert_eq!(last.status(), Status::Uninstalled);
        assert!(last.json().pointer("/info/deleted").is_some());
        let out = install(r#"{"greeting": "back"}"#).await.expect("installs");
        assert_eq!((out.version, out.action), (5, ReleaseAction::Installed));
        assert_eq!(
            secrets(&cluster),
            [(4, "superseded".to_owned()), (5, "deployed".to_owned())]
        );
    }

    #[test]
    fn release_names_follow_helm() {
        assert!(validate_name("cilium").is_ok());
        assert!(validate_name("a.b-c1").is_ok());
        for bad in ["", "Web", "-a", "a_b", &"a".repeat(54)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    /// `maxHistory: 1` trims before each upgrade but keeps the deployed version (as Helm's
    /// `removeLeastRecent` does): every upgrade ends deployed, nothing patches a deleted Secret.
    #[tokio::test]
    async fn a_history_of_one_upgrades_over_what_it_trims() {
        let cluster = MemCluster::new();
        cluster.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}));
        let fs = MemFs::new();
        fs.add_file("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n");
        let chart_dir = std::path::Path::new("c");
        for (values, version) in [
            ("{}", 1),
            (r#"{"greeting": "hi"}"#, 2),
            (r#"{"greeting": "ho"}"#, 3),
        ] {
            let values: Map = serde_json::from_str(values).unwrap_or_default();
            let req = InstallRequest {
                release: "web",
                namespace: "apps",
                storage_namespace: "apps",
                chart_dir,
                fs: &fs,
                values: &values,
                max_history: Some(1),
                wait: false,
                timeout: Duration::from_secs(5),
            };
            let out = upgrade_install(&cluster, &Fake, &req)
                .await
                .expect("upgrades");
            assert_eq!(out.version, version);
            // Helm's trimming keeps the deployed version, so the one superseded stays beside
            // the new one; anything older is gone.
            let mut expected = vec![(i64::from(version), "deployed".to_owned())];
            if version > 1 {
                expected.insert(0, (i64::from(version) - 1, "superseded".to_owned()));
            }
            assert_eq!(secrets(&cluster), expected);
        }
    }
}
