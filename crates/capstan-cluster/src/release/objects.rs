//! A release's objects through the [`Cluster`] seam, as Helm's kube client handles them:
//! namespaces filled in for namespaced kinds, Helm's ownership stamped, server-side apply as
//! the field manager `helm` without forcing conflicts, objects the previous version had and
//! this one does not deleted (unless kept), kstatus waits, and a chart's `crds/` created once.

use std::time::{Duration, Instant};

use capstan_core::{Fs, Value};

use super::chart::ChartError;
use super::engine::{Failure, HELM_FIELD_MANAGER, POLL, ReleaseError, cluster_error};
use super::manifest;
use crate::cluster::{Cluster, ClusterError, Reason, Verb};
use crate::id::ObjectRef;
use crate::kstatus::{self, Health};

const CRD: &str = "CustomResourceDefinition";

/// Fills in `namespace` on a namespaced object that names none (as Helm's builder does).
pub(crate) async fn default_namespace<C: Cluster>(
    cluster: &C,
    object: &mut Value,
    namespace: &str,
) -> Result<(), ClusterError> {
    let Some(r) = ObjectRef::of(object) else {
        return Ok(());
    };
    if !r.namespace.is_empty() {
        return Ok(());
    }
    let mut scope = cluster.scope(&r).await?;
    if scope.is_none() {
        cluster.refresh().await?;
        scope = cluster.scope(&r).await?;
    }
    if scope == Some(true)
        && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.insert("namespace".into(), namespace.into());
    }
    Ok(())
}

/// The manifest's objects with namespaces filled in and Helm's ownership stamped.
pub(crate) async fn prepared<C: Cluster>(
    cluster: &C,
    objects: Vec<Value>,
    release: &str,
    namespace: &str,
) -> Result<Vec<(ObjectRef, Value)>, ClusterError> {
    let mut out = Vec::new();
    for mut object in objects {
        default_namespace(cluster, &mut object, namespace).await?;
        manifest::set_ownership(&mut object, release, namespace);
        let r = crate::cluster::manifest_ref(&object, Verb::Apply)?;
        out.push((r, object));
    }
    Ok(out)
}

/// References of a stored manifest's objects, namespaces filled in (no ownership needed).
pub(crate) async fn refs_of<C: Cluster>(
    cluster: &C,
    manifest_text: &str,
    release: &str,
    namespace: &str,
) -> Result<Vec<ObjectRef>, ReleaseError> {
    let objects = manifest::objects(manifest_text).map_err(|source| ReleaseError::Manifest {
        release: release.to_owned(),
        source,
    })?;
    let prepared = prepared(cluster, objects, release, namespace)
        .await
        .map_err(cluster_error(release))?;
    Ok(prepared.into_iter().map(|(r, _)| r).collect())
}

pub(crate) async fn apply_all<C: Cluster>(
    cluster: &C,
    objects: &[(ObjectRef, Value)],
) -> Result<(), ClusterError> {
    for (_, object) in objects {
        cluster.apply_as(object, HELM_FIELD_MANAGER, false).await?;
    }
    Ok(())
}

/// Deletes what `old` has and `new` does not, sparing kept objects: (deleted, kept).
pub(crate) async fn delete_removed<C: Cluster>(
    cluster: &C,
    old: &[ObjectRef],
    new: &[ObjectRef],
) -> Result<(Vec<ObjectRef>, Vec<ObjectRef>), ClusterError> {
    let mut deleted = Vec::new();
    let mut kept = Vec::new();
    for r in old {
        if new.iter().any(|n| n.same_object(r)) {
            continue;
        }
        let Some(live) = cluster.get(r).await? else {
            continue;
        };
        if manifest::keep(&live) {
            kept.push(r.clone());
            continue;
        }
        if cluster.delete(r).await? {
            deleted.push(r.clone());
        }
    }
    Ok((deleted, kept))
}

/// Waits until every object is kstatus Current.
pub(crate) async fn wait_current<C: Cluster>(
    cluster: &C,
    objects: &[ObjectRef],
    timeout: Duration,
) -> Result<(), Failure> {
    let start = Instant::now();
    loop {
        let mut pending = Vec::new();
        for r in objects {
            let status = match cluster.get(r).await? {
                Some(live) => kstatus::compute(&live),
                None => kstatus::Status {
                    health: Health::NotFound,
                    message: "not found".into(),
                },
            };
            match status.health {
                Health::Current => {}
                Health::Failed => {
                    return Err(Failure::Unhealthy {
                        object: r.to_string(),
                        message: status.message,
                    });
                }
                _ => pending.push(r.to_string()),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(Failure::Timeout {
                after: timeout,
                pending,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Creates the chart's `crds/` objects that do not exist yet and waits until they are
/// established (Helm installs them once, on install, and never upgrades them).
pub(crate) async fn install_crds<C: Cluster>(
    cluster: &C,
    fs: &dyn Fs,
    chart_dir: &std::path::Path,
    release: &str,
    timeout: Duration,
) -> Result<bool, ReleaseError> {
    let dir = chart_dir.join("crds");
    if !fs.is_dir(&dir) {
        return Ok(false);
    }
    let mut created = false;
    let mut pending: Vec<ObjectRef> = Vec::new();
    let entries = fs.read_dir(&dir).map_err(|e| ReleaseError::Chart {
        release: release.to_owned(),
        source: ChartError {
            path: dir.display().to_string(),
            reason: e.to_string(),
        },
    })?;
    for path in entries {
        let name = path.to_string_lossy();
        if !(name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")) {
            continue;
        }
        let chart_error = |reason: String| ReleaseError::Chart {
            release: release.to_owned(),
            source: ChartError {
                path: path.display().to_string(),
                reason,
            },
        };
        let text = fs
            .read_to_string(&path)
            .map_err(|e| chart_error(e.to_string()))?;
        let docs =
            capstan_core::yaml::parse_documents(&text).map_err(|e| chart_error(e.message))?;
        for doc in docs.into_iter().filter(Value::is_object) {
            match cluster.create(&doc).await {
                Ok(_) => {
                    created = true;
                    if let Some(r) = ObjectRef::of(&doc).filter(|r| r.kind == CRD) {
                        pending.push(r);
                    }
                }
                Err(e) if e.reason == Reason::Conflict => {}
                Err(e) => return Err(cluster_error(release)(e)),
            }
        }
    }
    let start = Instant::now();
    while let Some(r) = pending.first() {
        let live = cluster.get(r).await.map_err(cluster_error(release))?;
        let established = live
            .as_ref()
            .and_then(|l| kstatus::condition(l, "Established"))
            .is_some_and(|c| c.0 == "True");
        if established {
            pending.remove(0);
            continue;
        }
        if start.elapsed() >= timeout {
            return Err(cluster_error(release)(ClusterError::new(
                Verb::Create,
                r,
                Reason::Unavailable,
                format!("not established after {timeout:?}"),
            )));
        }
        tokio::time::sleep(POLL).await;
    }
    if created {
        cluster.refresh().await.map_err(cluster_error(release))?;
    }
    Ok(created)
}
