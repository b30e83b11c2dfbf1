//! A release's records in the cluster, as Helm's Secret driver keeps them: every version of a
//! release listed by its labels (`owner=helm,name=NAME`) in the storage namespace, created
//! (`createdAt`), updated with labels and data replaced (`modifiedAt`), deleted; the deployed
//! version; superseding; and unlocking a version an interrupted operation left `pending-*`.
//! Times are written as Go writes them (RFC 3339 with nanoseconds, UTC).

use std::time::SystemTime;

use capstan_core::{Map, Value};

use super::engine::{ReleaseError, cluster_error, version_u32};
use super::history;
use super::storage::{self, SecretWrite};
use super::{Release, Status};
use crate::cluster::{Cluster, ClusterError};
use crate::id::ObjectRef;

/// `t` as Go's RFC 3339 with nanoseconds (trailing zeros trimmed), in UTC.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let nanos = d.subsec_nanos();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

pub(crate) fn now() -> String {
    rfc3339_nano(SystemTime::now())
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

const SECRET: (&str, &str, &str) = ("", "v1", "Secret");

fn secret_ref(release: &str, version: i64, storage_namespace: &str) -> ObjectRef {
    ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Secret".into(),
        namespace: storage_namespace.to_owned(),
        name: storage::secret_name(release, version),
    }
}

/// Every stored version of a release, oldest first.
pub async fn history<C: Cluster>(
    cluster: &C,
    release: &str,
    storage_namespace: &str,
) -> Result<Vec<Release>, ReleaseError> {
    let secrets = cluster
        .list_labelled(
            SECRET.0,
            SECRET.1,
            SECRET.2,
            storage_namespace,
            &[("owner", storage::OWNER), ("name", release)],
        )
        .await
        .map_err(cluster_error(release))?;
    let mut out = Vec::new();
    for secret in &secrets {
        if secret.get("type").and_then(Value::as_str) != Some(storage::SECRET_TYPE) {
            continue;
        }
        let r = storage::release_from_secret(secret).map_err(|source| ReleaseError::Storage {
            release: release.to_owned(),
            source,
        })?;
        if r.name() == release {
            out.push(r);
        }
    }
    out.sort_by_key(Release::version);
    Ok(out)
}

/// The deployed version of a release, if any.
pub async fn current<C: Cluster>(
    cluster: &C,
    release: &str,
    storage_namespace: &str,
) -> Result<Option<Release>, ReleaseError> {
    let all = history(cluster, release, storage_namespace).await?;
    Ok(history::deployed(&all).cloned())
}

fn secret_for(release: &Release, storage_namespace: &str, write: SecretWrite) -> Value {
    let mut secret = storage::release_secret(release, &Map::new(), write);
    secret["metadata"]["namespace"] = storage_namespace.into();
    secret
}

pub(crate) async fn create_record<C: Cluster>(
    cluster: &C,
    release: &Release,
    storage_namespace: &str,
) -> Result<(), ClusterError> {
    let secret = secret_for(
        release,
        storage_namespace,
        SecretWrite::Create {
            unix_seconds: unix_now(),
        },
    );
    cluster.create(&secret).await.map(|_| ())
}

/// Helm's `Update`: the Secret's labels and data replaced.
pub(crate) async fn update_record<C: Cluster>(
    cluster: &C,
    release: &Release,
    storage_namespace: &str,
) -> Result<(), ClusterError> {
    let secret = secret_for(
        release,
        storage_namespace,
        SecretWrite::Update {
            unix_seconds: unix_now(),
        },
    );
    let patch = serde_json::json!([
        {"op": "add", "path": "/metadata/labels", "value": secret["metadata"]["labels"]},
        {"op": "add", "path": "/data", "value": secret["data"]},
    ]);
    let r = secret_ref(release.name(), release.version(), storage_namespace);
    cluster.patch_json(&r, &patch).await.map(|_| ())
}

pub(crate) async fn delete_versions<C: Cluster>(
    cluster: &C,
    release: &str,
    storage_namespace: &str,
    versions: &[i64],
) -> Result<(), ReleaseError> {
    for v in versions {
        cluster
            .delete(&secret_ref(release, *v, storage_namespace))
            .await
            .map_err(cluster_error(release))?;
    }
    Ok(())
}

/// Unlocks a release left `pending-*` (an operation was interrupted) as helm-controller does:
/// the pending version becomes `failed` ("Release unlocked from stale 'STATUS' state"). Returns
/// the version unlocked, or `None` when nothing was pending (nothing is written then).
pub async fn unlock<C: Cluster>(
    cluster: &C,
    release: &str,
    storage_namespace: &str,
) -> Result<Option<u32>, ReleaseError> {
    let all = history(cluster, release, storage_namespace).await?;
    let Some(latest) = history::latest(&all).filter(|l| l.status().is_pending()) else {
        return Ok(None);
    };
    let mut latest = latest.clone();
    let description = format!(
        "Release unlocked from stale '{}' state",
        latest.status().as_str()
    );
    latest.set_status(Status::Failed, Some(&description));
    update_record(cluster, &latest, storage_namespace)
        .await
        .map_err(cluster_error(release))?;
    Ok(Some(version_u32(latest.version())))
}

/// Marks every deployed version superseded.
pub(crate) async fn supersede<C: Cluster>(
    cluster: &C,
    all: &[Release],
    storage_namespace: &str,
    name: &str,
) -> Result<(), ReleaseError> {
    for old in all.iter().filter(|r| r.status() == Status::Deployed) {
        let mut old = old.clone();
        old.set_status(Status::Superseded, None);
        update_record(cluster, &old, storage_namespace)
            .await
            .map_err(cluster_error(name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_written_as_go_writes_rfc3339_nano() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_764_873_301, 8_256_100);
        assert_eq!(rfc3339_nano(t), "2025-12-04T18:35:01.0082561Z");
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339_nano(whole), "2000-02-29T00:00:00Z");
    }
}
