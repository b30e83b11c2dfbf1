//! Reading rendered objects by their kind: the `kind` and API group of a manifest, and where a
//! built-in workload keeps its pod spec. Shared by the checker's rules and the change analyses.

use serde_json::Value;

/// The object's `kind` (empty when absent).
pub fn kind_of(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// The API group of the object's `apiVersion` (empty for the core group).
pub fn group_of(object: &Value) -> &str {
    let api = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    crate::resource::split_api_version(api).0
}

/// The pod spec of a built-in workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
/// Job, ReplicationController, CronJob) and its field path (`spec.template.spec`).
pub fn pod_spec(object: &Value) -> Option<(&Value, &'static str)> {
    if !matches!(group_of(object), "" | "apps" | "batch") {
        return None;
    }
    let (pointer, path) = match kind_of(object) {
        "Pod" => ("/spec", "spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => ("/spec/template/spec", "spec.template.spec"),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/spec",
            "spec.jobTemplate.spec.template.spec",
        ),
        _ => return None,
    };
    object.pointer(pointer).map(|spec| (spec, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_specs_of_built_in_workloads() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {"containers": []}}}});
        assert_eq!(
            pod_spec(&deploy).map(|(_, p)| p),
            Some("spec.template.spec")
        );
        let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {}}}}}});
        assert_eq!(
            pod_spec(&cron).map(|(_, p)| p),
            Some("spec.jobTemplate.spec.template.spec")
        );
        let custom = json!({"apiVersion": "example.com/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {}}}});
        assert!(pod_spec(&custom).is_none());
        assert_eq!(
            (kind_of(&deploy), group_of(&deploy)),
            ("Deployment", "apps")
        );
    }
}
