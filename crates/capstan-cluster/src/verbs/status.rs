//! `capstan status`: the cluster at a glance — nodes, every Flux object that is not Ready (with
//! its reason), suspended objects and open overrides (with their age), failed Helm releases,
//! Namespaces stuck Terminating, PVCs not Bound, and drift when the repository was compared.
//! Each section says when it could not be read; nothing unread is reported as fine.

use serde_json::Value;

use super::get::{self, Row};
use super::kinds::{FluxKind, condition};
use super::suspend::{OpenOverride, open_override};
use crate::cluster::{Cluster, ClusterError};

/// A node and whether it is Ready.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeRow {
    pub name: String,
    pub ready: bool,
    pub message: String,
}

/// A suspended Flux object, with the override recorded on it if any.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SuspendedRow {
    pub row: Row,
    pub over: Option<OpenOverride>,
}

/// A Helm release whose latest revision failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedRelease {
    pub namespace: String,
    pub name: String,
    pub version: i64,
    pub status: String,
}

/// A section that could not be read, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unread {
    pub section: &'static str,
    pub error: String,
}

/// Drift, as the caller measured it against the repository.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum DriftState {
    /// Compared: the objects that drifted (`Kind ns/name`), and those not compared.
    Compared {
        drifted: Vec<String>,
        not_compared: usize,
    },
    /// Not compared, and why (no repository given, it did not render…).
    NotChecked { why: String },
}

/// The whole screen.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub nodes: Vec<NodeRow>,
    pub not_ready: Vec<Row>,
    pub suspended: Vec<SuspendedRow>,
    pub failed_releases: Vec<FailedRelease>,
    pub terminating_namespaces: Vec<String>,
    pub unbound_claims: Vec<String>,
    pub drift: DriftState,
    pub unread: Vec<Unread>,
    /// Flux kinds the cluster does not serve.
    pub not_served: Vec<FluxKind>,
}

impl Status {
    /// Whether something needs attention (exit 1): anything listed, or a section unread.
    pub fn needs_attention(&self) -> bool {
        self.nodes.is_empty()
            || self.nodes.iter().any(|n| !n.ready)
            || !self.not_ready.is_empty()
            || !self.suspended.is_empty()
            || !self.failed_releases.is_empty()
            || !self.terminating_namespaces.is_empty()
            || !self.unbound_claims.is_empty()
            || matches!(&self.drift, DriftState::Compared { drifted, not_compared } if !drifted.is_empty() || *not_compared > 0)
            || !self.unread.is_empty()
    }
}

/// Reads the cluster's state.
pub async fn status(cluster: &impl Cluster, drift: DriftState) -> Status {
    let mut out = Status {
        nodes: Vec::new(),
        not_ready: Vec::new(),
        suspended: Vec::new(),
        failed_releases: Vec::new(),
        terminating_namespaces: Vec::new(),
        unbound_claims: Vec::new(),
        drift,
        unread: Vec::new(),
        not_served: Vec::new(),
    };
    let unread = |section: &'static str, e: ClusterError| Unread {
        section,
        error: e.to_string(),
    };
    match cluster.list("", "v1", "Node").await {
        Ok(nodes) => out.nodes = nodes.iter().map(node_row).collect(),
        Err(e) => out.unread.push(unread("nodes", e)),
    }
    match get::list(cluster, &FluxKind::ALL, &get::Query::default()).await {
        Ok(listing) => {
            out.not_served = listing.not_served;
            for row in listing.rows {
                if row.suspended {
                    let over = open_override(&row.object);
                    out.suspended.push(SuspendedRow { row, over });
                } else if !row.is_ready() {
                    out.not_ready.push(row);
                }
            }
        }
        Err(e) => out.unread.push(unread("Flux objects", e)),
    }
    match cluster.list("", "v1", "Secret").await {
        Ok(secrets) => out.failed_releases = failed_releases(&secrets),
        Err(e) => out.unread.push(unread("Helm releases", e)),
    }
    match cluster.list("", "v1", "Namespace").await {
        Ok(namespaces) => {
            out.terminating_namespaces = namespaces
                .iter()
                .filter(|n| {
                    n.pointer("/metadata/deletionTimestamp")
                        .is_some_and(|t| !t.is_null())
                })
                .filter_map(|n| n.pointer("/metadata/name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        }
        Err(e) => out.unread.push(unread("namespaces", e)),
    }
    match cluster.list("", "v1", "PersistentVolumeClaim").await {
        Ok(claims) => {
            out.unbound_claims = claims
                .iter()
                .filter(|c| c.pointer("/status/phase").and_then(Value::as_str) != Some("Bound"))
                .map(|c| {
                    let s = |p: &str| c.pointer(p).and_then(Value::as_str).unwrap_or("");
                    let phase = c
                        .pointer("/status/phase")
                        .and_then(Value::as_str)
                        .unwrap_or("no phase");
                    format!(
                        "{}/{} ({phase})",
                        s("/metadata/namespace"),
                        s("/metadata/name")
                    )
                })
                .collect()
        }
        Err(e) => out.unread.push(unread("PersistentVolumeClaims", e)),
    }
    out
}

fn node_row(node: &Value) -> NodeRow {
    let ready = condition(node, "Ready");
    NodeRow {
        name: node
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        ready: ready.as_ref().is_some_and(|c| c.status == "True"),
        message: ready
            .map(|c| c.message)
            .unwrap_or_else(|| "no Ready condition".into()),
    }
}

/// The Helm releases whose latest revision is `failed`, from the storage Secrets' labels only
/// (their data is never read here).
pub fn failed_releases(secrets: &[Value]) -> Vec<FailedRelease> {
    let mut latest: std::collections::BTreeMap<(String, String), (i64, String)> =
        Default::default();
    for s in secrets {
        if s.get("type").and_then(Value::as_str) != Some("helm.sh/release.v1") {
            continue;
        }
        let label = |k: &str| {
            s.pointer("/metadata/labels")
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let ns = s
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Ok(version) = label("version").parse::<i64>() else {
            continue;
        };
        let entry = latest
            .entry((ns, label("name")))
            .or_insert((0, String::new()));
        if version > entry.0 {
            *entry = (version, label("status"));
        }
    }
    latest
        .into_iter()
        .filter(|(_, (_, status))| status == "failed")
        .map(|((namespace, name), (version, status))| FailedRelease {
            namespace,
            name,
            version,
            status,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn release(ns: &str, name: &str, version: i64, status: &str) -> Value {
        json!({"type": "helm.sh/release.v1", "metadata": {"namespace": ns, "name": format!("sh.helm.release.v1.{name}.v{version}"),
            "labels": {"owner": "helm", "name": name, "version": version.to_string(), "status": status}}})
    }

    #[test]
    fn only_the_latest_revision_counts() {
        let secrets = [
            release("apps", "web", 1, "superseded"),
            release("apps", "web", 2, "failed"),
            release("apps", "db", 1, "failed"),
            release("apps", "db", 2, "deployed"),
        ];
        let failed = failed_releases(&secrets);
        assert_eq!(failed.len(), 1);
        assert_eq!((failed[0].name.as_str(), failed[0].version), ("web", 2));
    }
}
