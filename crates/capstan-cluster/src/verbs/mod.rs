//! Flux's verbs against a live cluster — `get`, `reconcile`, `suspend` / `resume` with an audit
//! trail, `events`, `tree`, `trace` — and capstan's own `status` (the cluster at a glance) and
//! `why` (the troubleshooting workflow as one walk). They work whether Flux's controllers or
//! capstan reconcile the cluster: they read and write only what Flux's API defines, plus
//! `capstan.io/` annotations for overrides.

pub mod events;
pub mod get;
pub mod kinds;
pub mod logs;
pub mod reconcile;
pub mod status;
pub mod suspend;
pub mod trace;
pub mod tree;
pub mod why;

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::cluster::{Cluster, ClusterError, Reason};
use get::Row;
use kinds::FluxKind;

/// Why a verb could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum VerbError {
    #[error("{} {namespace}/{name} not found", kind.kind())]
    NotFound {
        kind: FluxKind,
        namespace: String,
        name: String,
    },
    #[error("the cluster does not serve {} (are Flux's CRDs installed?)", kind.kind())]
    NotServed { kind: FluxKind },
    #[error("{} {namespace}/{name} is suspended; resume it first: capstan resume {} {name} -n {namespace}", kind.kind(), kind.short())]
    Suspended {
        kind: FluxKind,
        namespace: String,
        name: String,
    },
    #[error("{} {}/{} is not ready: {}{}", row.kind.kind(), row.namespace, row.name, row.reason, if row.message.is_empty() { String::new() } else { format!(": {}", row.message) })]
    Failed { row: Box<Row> },
    #[error("timed out after {waited:?} waiting for {} {}/{}; last seen: {}", row.kind.kind(), row.namespace, row.name, last_seen(row, handled))]
    TimedOut {
        row: Box<Row>,
        waited: Duration,
        /// Whether the controller had handled the request (and was still working).
        handled: bool,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

fn last_seen(row: &Row, handled: &bool) -> String {
    let handled = if *handled {
        "the request was handled"
    } else {
        "the request was not handled yet (is the controller running?)"
    };
    format!(
        "{handled}; Ready={} {}{}",
        row.ready,
        row.reason,
        if row.message.is_empty() {
            String::new()
        } else {
            format!(": {}", row.message)
        }
    )
}

pub use k8s_openapi::jiff::Timestamp;

/// The current time as Flux's request tokens and Events write it (RFC 3339 with nanoseconds).
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// GETs a Flux object; NotFound and not-served become typed errors.
pub async fn fetch(
    cluster: &impl Cluster,
    kind: FluxKind,
    namespace: &str,
    name: &str,
) -> Result<Value, VerbError> {
    if cluster
        .scope(&kind.object(namespace, name))
        .await?
        .is_none()
    {
        return Err(VerbError::NotServed { kind });
    }
    match cluster.get(&kind.object(namespace, name)).await {
        Ok(Some(o)) => Ok(o),
        Ok(None) => Err(VerbError::NotFound {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }),
        Err(e) if e.reason == Reason::NotFound => Err(VerbError::NotFound {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// A JSON patch that sets `set` and removes `remove` among the object's annotations (creating the
/// annotations map when the object has none), guarded by the object's resourceVersion where it
/// has one.
pub fn annotation_patch(object: &Value, set: &[(&str, &str)], remove: &[&str]) -> Value {
    let existing = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object);
    let mut ops = Vec::new();
    match existing {
        None => {
            let map: Map<String, Value> = set
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                .collect();
            if !map.is_empty() {
                ops.push(json!({"op": "add", "path": "/metadata/annotations", "value": map}));
            }
        }
        Some(have) => {
            for (k, v) in set {
                ops.push(json!({"op": "add", "path": format!("/metadata/annotations/{}", escape(k)), "value": v}));
            }
            for k in remove {
                if have.contains_key(*k) {
                    ops.push(json!({"op": "remove", "path": format!("/metadata/annotations/{}", escape(k))}));
                }
            }
        }
    }
    Value::Array(ops)
}

/// A JSON pointer segment.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// An Event about `object`, as `kubectl get events` lists it, from the component `capstan`.
pub fn event(
    object: &Value,
    kind: FluxKind,
    reason: &str,
    message: &str,
    now: &str,
    suffix: &str,
) -> Value {
    let (namespace, name) = kinds::namespace_name(object);
    let uid = object
        .pointer("/metadata/uid")
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{suffix}"), "namespace": namespace},
        "involvedObject": {
            "apiVersion": format!("{}/{}", kind.group(), kind.version()),
            "kind": kind.kind(),
            "name": name,
            "namespace": namespace,
            "uid": uid,
        },
        "reason": reason,
        "message": message,
        "type": "Normal",
        "source": {"component": "capstan"},
        "reportingComponent": "capstan",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_patches_create_the_map_or_add_keys() {
        let bare = json!({"metadata": {"name": "x"}});
        let p = annotation_patch(&bare, &[("a/b", "1")], &["c"]);
        assert_eq!(
            p,
            json!([{"op": "add", "path": "/metadata/annotations", "value": {"a/b": "1"}}])
        );
        let annotated = json!({"metadata": {"name": "x", "annotations": {"c": "x"}}});
        let p = annotation_patch(&annotated, &[("a/b", "1")], &["c", "d"]);
        assert_eq!(
            p,
            json!([
            {"op": "add", "path": "/metadata/annotations/a~1b", "value": "1"},
            {"op": "remove", "path": "/metadata/annotations/c"}])
        );
    }
}
