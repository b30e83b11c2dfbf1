//! `capstan events [KIND/NAME]`: core/v1 Events, filtered by `involvedObject.kind` and `.name`
//! as `flux events --for` filters them, oldest first.

use serde_json::Value;

use crate::cluster::{Cluster, ClusterError};

/// One Event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub namespace: String,
    /// `lastTimestamp`, else `eventTime`, else `firstTimestamp`.
    pub last_seen: String,
    /// `Normal` or `Warning`.
    pub kind: String,
    pub reason: String,
    /// `Kind/name` of the object the Event is about.
    pub object: String,
    pub message: String,
    pub count: i64,
}

impl EventRow {
    pub fn of(event: &Value) -> EventRow {
        let s = |p: &str| {
            event
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let last_seen = [
            "/lastTimestamp",
            "/eventTime",
            "/firstTimestamp",
            "/metadata/creationTimestamp",
        ]
        .iter()
        .map(|p| s(p))
        .find(|t| !t.is_empty())
        .unwrap_or_default();
        EventRow {
            namespace: s("/metadata/namespace"),
            last_seen,
            kind: s("/type"),
            reason: s("/reason"),
            object: format!(
                "{}/{}",
                s("/involvedObject/kind"),
                s("/involvedObject/name")
            ),
            message: s("/message"),
            count: event.get("count").and_then(Value::as_i64).unwrap_or(1),
        }
    }

    pub fn is_warning(&self) -> bool {
        self.kind == "Warning"
    }
}

/// Which Events.
#[derive(Debug, Clone, Default)]
pub struct For {
    pub namespace: Option<String>,
    /// `Kind` as the API writes it (`Kustomization`, `Pod`).
    pub kind: Option<String>,
    pub name: Option<String>,
}

impl For {
    fn matches(&self, e: &Value) -> bool {
        let s = |p: &str| e.pointer(p).and_then(Value::as_str).unwrap_or("");
        self.namespace
            .as_deref()
            .is_none_or(|n| s("/metadata/namespace") == n)
            && self
                .kind
                .as_deref()
                .is_none_or(|k| s("/involvedObject/kind").eq_ignore_ascii_case(k))
            && self
                .name
                .as_deref()
                .is_none_or(|n| s("/involvedObject/name") == n)
    }
}

/// The Events that match, oldest first.
pub async fn events(cluster: &impl Cluster, filter: &For) -> Result<Vec<EventRow>, ClusterError> {
    let all = cluster.list("", "v1", "Event").await?;
    let mut rows: Vec<EventRow> = all
        .iter()
        .filter(|e| filter.matches(e))
        .map(EventRow::of)
        .collect();
    rows.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_by_involved_object() {
        let e = json!({"metadata": {"namespace": "apps"}, "type": "Warning", "reason": "BackOff",
            "involvedObject": {"kind": "Pod", "name": "web-1"}, "message": "back-off", "lastTimestamp": "t"});
        let f = For {
            kind: Some("pod".into()),
            name: Some("web-1".into()),
            ..For::default()
        };
        assert!(f.matches(&e));
        let f = For {
            name: Some("web-2".into()),
            ..For::default()
        };
        assert!(!f.matches(&e));
        let row = EventRow::of(&e);
        assert_eq!(row.object, "Pod/web-1");
        assert!(row.is_warning());
    }
}
