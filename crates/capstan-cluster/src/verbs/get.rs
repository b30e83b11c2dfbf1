//! `capstan get --live`: the Flux objects in the cluster with the columns `flux get` shows —
//! namespace, name, revision, suspended, ready and the Ready condition's message.

use serde_json::Value;

use super::kinds::{FluxKind, condition, namespace_name, revision, suspended};
use crate::cluster::{Cluster, ClusterError, Reason};

/// One object as `flux get` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    pub kind: FluxKind,
    pub namespace: String,
    pub name: String,
    pub revision: String,
    pub suspended: bool,
    /// `True`, `False` or `Unknown` (no Ready condition yet).
    pub ready: String,
    pub reason: String,
    pub message: String,
    /// The object as the server returned it (for `-o yaml|json`).
    #[serde(skip)]
    pub object: Value,
}

impl Row {
    pub fn of(kind: FluxKind, object: &Value) -> Row {
        let (namespace, name) = namespace_name(object);
        let ready = condition(object, "Ready");
        Row {
            kind,
            namespace,
            name,
            revision: revision(kind, object),
            suspended: suspended(object),
            ready: ready
                .as_ref()
                .map_or_else(|| "Unknown".to_owned(), |c| c.status.clone()),
            reason: ready.as_ref().map(|c| c.reason.clone()).unwrap_or_default(),
            message: ready.map(|c| c.message).unwrap_or_default(),
            object: object.clone(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready == "True"
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only this namespace (`None`: every namespace).
    pub namespace: Option<String>,
    /// Only this name.
    pub name: Option<String>,
    /// Only objects whose labels match every `key=value` (or `key` present).
    pub selector: Vec<(String, Option<String>)>,
}

impl Query {
    fn matches(&self, row: &Row) -> bool {
        self.namespace.as_ref().is_none_or(|n| *n == row.namespace)
            && self.name.as_ref().is_none_or(|n| *n == row.name)
            && self.selector.iter().all(|(k, v)| {
                let label = row
                    .object
                    .pointer("/metadata/labels")
                    .and_then(|l| l.get(k));
                match (label.and_then(Value::as_str), v) {
                    (Some(have), Some(want)) => have == want,
                    (Some(_), None) => true,
                    (None, _) => false,
                }
            })
    }
}

/// The result of a listing: the rows, and the kinds the cluster does not serve (Flux's CRDs not
/// installed), which are reported rather than shown as empty.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Listing {
    pub rows: Vec<Row>,
    pub not_served: Vec<FluxKind>,
}

/// Lists `kinds` in the cluster.
pub async fn list(
    cluster: &impl Cluster,
    kinds: &[FluxKind],
    query: &Query,
) -> Result<Listing, ClusterError> {
    let mut out = Listing::default();
    for &kind in kinds {
        let objects = match cluster
            .list(kind.group(), kind.version(), kind.kind())
            .await
        {
            Ok(o) => o,
            Err(e) if e.reason == Reason::NotFound => {
                out.not_served.push(kind);
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut rows: Vec<Row> = objects
            .iter()
            .map(|o| Row::of(kind, o))
            .filter(|r| query.matches(r))
            .collect();
        rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        out.rows.extend(rows);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_row_reads_the_ready_condition_and_suspend() {
        let ks = json!({"metadata": {"namespace": "flux-system", "name": "apps", "labels": {"team": "a"}},
            "spec": {"suspend": true},
            "status": {"lastAppliedRevision": "main@sha1:1",
                "conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "kustomize build failed"}]}});
        let row = Row::of(FluxKind::Kustomization, &ks);
        assert!(row.suspended);
        assert_eq!(row.ready, "False");
        assert_eq!(row.message, "kustomize build failed");
        let q = Query {
            selector: vec![("team".into(), Some("a".into()))],
            ..Query::default()
        };
        assert!(q.matches(&row));
        let q = Query {
            selector: vec![("team".into(), Some("b".into()))],
            ..Query::default()
        };
        assert!(!q.matches(&row));
    }

    #[test]
    fn no_ready_condition_is_unknown() {
        let row = Row::of(FluxKind::GitRepository, &json!({"metadata": {"name": "x"}}));
        assert_eq!(row.ready, "Unknown");
    }
}
