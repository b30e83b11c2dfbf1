//! kstatus: whether a live object is Current, InProgress, Failed or Terminating, by the rules of
//! cli-utils' `kstatus` with Flux's override for Jobs (a running Job is InProgress).
//! Generic rules first (deletion, observedGeneration, Reconciling/Stalled), then per-kind rules,
//! then a `Ready` condition, else Current.

use serde_json::Value;

/// An object's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Health {
    Current,
    InProgress,
    Failed,
    Terminating,
    NotFound,
}

/// The health and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub health: Health,
    pub message: String,
}

impl Status {
    fn new(health: Health, message: impl Into<String>) -> Status {
        Status {
            health,
            message: message.into(),
        }
    }
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

/// The condition of this type: (status, reason, message).
pub fn condition<'a>(object: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .map(|c| {
            let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
            (text("status"), text("reason"), text("message"))
        })
}

/// kstatus of a live object.
pub fn compute(object: &Value) -> Status {
    use Health::*;
    if object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return Status::new(Terminating, "deletion in progress");
    }
    if let (Some(observed), Some(generation)) = (
        int(object, "/status/observedGeneration"),
        int(object, "/metadata/generation"),
    ) && observed != generation
    {
        return Status::new(
            InProgress,
            format!("observedGeneration {observed} is not generation {generation}"),
        );
    }
    if let Some(("True", reason, message)) = condition(object, "Stalled") {
        return Status::new(
            Failed,
            format!("Stalled: {reason} {message}").trim_end().to_owned(),
        );
    }
    if let Some(("True", reason, message)) = condition(object, "Reconciling") {
        return Status::new(
            InProgress,
            format!("Reconciling: {reason} {message}")
                .trim_end()
                .to_owned(),
        );
    }
    let group_kind = (
        object
            .get("apiVersion")
            .and_then(Value::as_str)
            .map(|v| crate::id::split_api_version(v).0)
            .unwrap_or(""),
        object.get("kind").and_then(Value::as_str).unwrap_or(""),
    );
    let by_kind = match group_kind {
        ("apps", "Deployment") => Some(deployment(object)),
        ("apps", "StatefulSet") => Some(stateful_set(object)),
        ("apps", "DaemonSet") => Some(daemon_set(object)),
        ("batch", "Job") => Some(job(object)),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Some(crd(object)),
        ("", "PersistentVolumeClaim") => Some(pvc(object)),
        ("", "Service") => Some(service(object)),
        ("", "Pod") => Some(pod(object)),
        ("", "ConfigMap")
        | ("", "Secret")
        | ("policy", "PodDisruptionBudget")
        | ("batch", "CronJob") => Some(Status::new(Current, "always current")),
        _ => None,
    };
    if let Some(status) = by_kind {
        return status;
    }
    match condition(object, "Ready") {
        Some(("True", _, _)) => Status::new(Current, "Ready"),
        Some((_, reason, message)) => Status::new(
            InProgress,
            format!("not Ready: {reason} {message}")
                .trim_end()
                .to_owned(),
        ),
        None => Status::new(Current, "no readiness to wait for"),
    }
}

fn deployment(o: &Value) -> Status {
    use Health::*;
    if let Some((_, "ProgressDeadlineExceeded", _)) = condition(o, "Progressing") {
        return Status::new(Failed, "progress deadline exceeded");
    }
    let spec = int(o, "/spec/replicas").unwrap_or(1);
    let replicas = int(o, "/status/replicas").unwrap_or(0);
    let updated = int(o, "/status/updatedReplicas").unwrap_or(0);
    let ready = int(o, "/status/readyReplicas").unwrap_or(0);
    let available = int(o, "/status/availableReplicas").unwrap_or(0);
    if spec > updated {
        return Status::new(InProgress, format!("updated: {updated}/{spec}"));
    }
    if replicas > updated {
        return Status::new(
            InProgress,
            format!("pending termination: {}", replicas - updated),
        );
    }
    if updated > available {
        return Status::new(InProgress, format!("available: {available}/{updated}"));
    }
    if spec > ready {
        return Status::new(InProgress, format!("ready: {ready}/{spec}"));
    }
    let deadline = o.pointer("/spec/progressDeadlineSeconds").is_some();
    let progressing = condition(o, "Progressing");
    if deadline
        && !matches!(progressing, Some((_, "NewReplicaSetAvailable", _)))
        && progressing.is_some()
    {
        return Status::new(InProgress, "rollout not complete");
    }
    match condition(o, "Available") {
        Some(("True", _, _)) | None if replicas <= spec => {
            Status::new(Current, format!("{ready}/{spec} ready"))
        }
        _ => Status::new(InProgress, "not available"),
    }
}

fn stateful_set(o: &Value) -> Status {
    use Health::*;
    if o.pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete")
    {
        return Status::new(Current, "OnDelete strategy");
    }
    let spec = int(o, "/spec/replicas").unwrap_or(1);
    let ready = int(o, "/status/readyReplicas").unwrap_or(0);
    let current = int(o, "/status/currentReplicas").unwrap_or(0);
    let replicas = int(o, "/status/replicas").unwrap_or(0);
    if spec > replicas || spec > ready {
        return Status::new(InProgress, format!("ready: {ready}/{spec}"));
    }
    if let Some(partition) = int(o, "/spec/updateStrategy/rollingUpdate/partition") {
        let updated = int(o, "/status/updatedReplicas").unwrap_or(0);
        return if updated >= spec - partition {
            Status::new(Current, "partitioned roll out complete")
        } else {
            Status::new(
                InProgress,
                format!("updated: {updated}/{}", spec - partition),
            )
        };
    }
    if spec > current {
        return Status::new(InProgress, format!("current: {current}/{spec}"));
    }
    let revisions = (
        o.pointer("/status/currentRevision"),
        o.pointer("/status/updateRevision"),
    );
    if revisions.0 != revisions.1 {
        return Status::new(InProgress, "waiting for the update revision");
    }
    Status::new(Current, format!("{ready}/{spec} ready"))
}

fn daemon_set(o: &Value) -> Status {
    use Health::*;
    if int(o, "/metadata/generation").is_none() || int(o, "/status/observedGeneration").is_none() {
        return Status::new(InProgress, "not observed yet");
    }
    let desired = int(o, "/status/desiredNumberScheduled").unwrap_or(0);
    for (field, name) in [
        ("/status/currentNumberScheduled", "scheduled"),
        ("/status/updatedNumberScheduled", "updated"),
        ("/status/numberAvailable", "available"),
        ("/status/numberReady", "ready"),
    ] {
        let have = int(o, field).unwrap_or(0);
        if desired > have {
            return Status::new(InProgress, format!("{name}: {have}/{desired}"));
        }
    }
    Status::new(Current, format!("{desired} ready"))
}

fn job(o: &Value) -> Status {
    use Health::*;
    if o.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Status::new(Current, "suspended");
    }
    if let Some(("True", reason, message)) = condition(o, "Failed") {
        return Status::new(
            Failed,
            format!("failed: {reason} {message}").trim_end().to_owned(),
        );
    }
    match condition(o, "Complete") {
        Some(("True", _, _)) => Status::new(Current, "complete"),
        _ => Status::new(InProgress, "running"),
    }
}

fn crd(o: &Value) -> Status {
    use Health::*;
    if let Some(("False", reason, message)) = condition(o, "NamesAccepted") {
        return Status::new(Failed, format!("names not accepted: {reason} {message}"));
    }
    match condition(o, "Established") {
        Some(("True", _, _)) => Status::new(Current, "established"),
        Some(("False", reason, message)) if reason != "Installing" => {
            Status::new(Failed, format!("not established: {reason} {message}"))
        }
        _ => Status::new(InProgress, "not established yet"),
    }
}

fn pvc(o: &Value) -> Status {
    match o.pointer("/status/phase").and_then(Value::as_str) {
        Some("Bound") => Status::new(Health::Current, "bound"),
        phase => Status::new(
            Health::InProgress,
            format!("phase {}", phase.unwrap_or("unknown")),
        ),
    }
}

fn service(o: &Value) -> Status {
    let load_balancer = o.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer");
    let cluster_ip = o
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if load_balancer && !cluster_ip {
        Status::new(Health::InProgress, "no cluster IP yet")
    } else {
        Status::new(Health::Current, "service")
    }
}

fn pod(o: &Value) -> Status {
    let waiting = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str));
    for reason in waiting {
        if reason == "CrashLoopBackOff" {
            return Status::new(Health::Failed, "container crash-looping");
        }
    }
    match o.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => Status::new(Health::Current, "succeeded"),
        Some("Failed") => Status::new(Health::Failed, "pod failed"),
        _ => match condition(o, "Ready") {
            Some(("True", _, _)) => Status::new(Health::Current, "ready"),
            _ => Status::new(Health::InProgress, "pod not ready"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(o: Value) -> Health {
        compute(&o).health
    }

    #[test]
    fn generic_rules() {
        assert_eq!(
            h(json!({"metadata":{"deletionTimestamp":"x"}})),
            Health::Terminating
        );
        assert_eq!(
            h(json!({"metadata":{"generation":2},"status":{"observedGeneration":1}})),
            Health::InProgress
        );
        assert_eq!(
            h(json!({"status":{"conditions":[{"type":"Stalled","status":"True"}]}})),
            Health::Failed
        );
        assert_eq!(
            h(json!({"status":{"conditions":[{"type":"Ready","status":"False"}]}})),
            Health::InProgress
        );
        assert_eq!(
            h(json!({"status":{"conditions":[{"type":"Ready","status":"True"}]}})),
            Health::Current
        );
        assert_eq!(h(json!({"kind":"Whatever"})), Health::Current);
    }

    #[test]
    fn kinds() {
        let deploy = |status: Value| json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":1},"spec":{"replicas":2},"status":status});
        assert_eq!(
            h(deploy(json!({"observedGeneration":1}))),
            Health::InProgress
        );
        assert_eq!(
            h(deploy(
                json!({"observedGeneration":1,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2,
            "conditions":[{"type":"Available","status":"True"}]})
            )),
            Health::Current
        );
        assert_eq!(
            h(deploy(
                json!({"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]})
            )),
            Health::Failed
        );
        let job =
            |c: Value| json!({"apiVersion":"batch/v1","kind":"Job","status":{"conditions":c}});
        assert_eq!(h(job(json!([]))), Health::InProgress);
        assert_eq!(
            h(job(json!([{"type":"Complete","status":"True"}]))),
            Health::Current
        );
        assert_eq!(
            h(job(json!([{"type":"Failed","status":"True"}]))),
            Health::Failed
        );
        let crd = |c: Value| json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","status":{"conditions":c}});
        assert_eq!(
            h(crd(json!([{"type":"Established","status":"True"}]))),
            Health::Current
        );
        assert_eq!(
            h(crd(
                json!([{"type":"Established","status":"False","reason":"Installing"}])
            )),
            Health::InProgress
        );
        assert_eq!(
            h(crd(json!([{"type":"NamesAccepted","status":"False"}]))),
            Health::Failed
        );
        assert_eq!(
            h(
                json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","status":{"phase":"Pending"}})
            ),
            Health::InProgress
        );
        assert_eq!(
            h(json!({"apiVersion":"v1","kind":"ConfigMap"})),
            Health::Current
        );
        assert_eq!(
            h(json!({"apiVersion":"v1","kind":"Service","spec":{"type":"LoadBalancer"}})),
            Health::InProgress
        );
    }
}
