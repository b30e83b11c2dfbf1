//! Defaulting, as the real server's registry strategies and defaulters do it for the fields
//! capstan's drift check and kstatus read: Namespace phase and finalizer, Service cluster IPs and
//! port protocols, workload strategies and replica counts, pod template container defaults,
//! Secret `stringData` folded into `data`, Job selectors and counts, PVC phase, CRD conversion.
//! Also the immutable fields that need more than a pointer comparison (Service `clusterIP`).

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::registry::ResourceType;

fn obj(v: &mut Value) -> Option<&mut Map<String, Value>> {
    v.as_object_mut()
}

fn child<'a>(m: &'a mut Map<String, Value>, k: &str) -> &'a mut Map<String, Value> {
    let e = m.entry(k.to_string()).or_insert_with(|| json!({}));
    if !e.is_object() {
        *e = json!({});
    }
    e.as_object_mut().expect("made an object above")
}

fn default(m: &mut Map<String, Value>, k: &str, v: Value) {
    if m.get(k).is_none_or(Value::is_null) {
        m.insert(k.to_string(), v);
    }
}

/// Applies the defaults of `rt` to `new` (`old`: the object before the write, if any).
pub fn apply(rt: &ResourceType, new: &mut Value, old: Option<&Value>) {
    let Some(m) = obj(new) else { return };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            let name = m
                .get("metadata")
                .and_then(|md| md.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let md = child(m, "metadata");
            let labels = child(md, "labels");
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
            let spec = child(m, "spec");
            default(spec, "finalizers", json!(["kubernetes"]));
            let status = child(m, "status");
            default(status, "phase", json!("Active"));
        }
        ("", "Service") => {
            let old_spec = old.and_then(|o| o.get("spec")).cloned();
            let spec = child(m, "spec");
            default(spec, "type", json!("ClusterIP"));
            default(spec, "sessionAffinity", json!("None"));
            let ty = spec
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if ty != "ExternalName" {
                let ip = old_spec
                    .as_ref()
                    .and_then(|s| s.get("clusterIP"))
                    .cloned()
                    .unwrap_or_else(|| {
                        json!(cluster_ip(
                            &spec.get("selector").cloned().unwrap_or_default()
                        ))
                    });
                default(spec, "clusterIP", ip.clone());
                let ip = spec.get("clusterIP").cloned().unwrap_or(ip);
                default(spec, "clusterIPs", json!([ip]));
                default(spec, "ipFamilies", json!(["IPv4"]));
                default(spec, "ipFamilyPolicy", json!("SingleStack"));
                default(spec, "internalTrafficPolicy", json!("Cluster"));
            }
            if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    default(p, "protocol", json!("TCP"));
                    if let Some(port) = p.get("port").cloned() {
                        default(p, "targetPort", port);
                    }
                }
            }
            let status = child(m, "status");
            default(status, "loadBalancer", json!({}));
        }
        ("", "Secret") => {
            default(m, "type", json!("Opaque"));
            if let Some(Value::Object(sd)) = m.remove("stringData") {
                let data = child(m, "data");
                for (k, v) in sd {
                    let s = v.as_str().unwrap_or_default();
                    data.insert(
                        k,
                        json!(base64::engine::general_purpose::STANDARD.encode(s)),
                    );
                }
            }
        }
        ("", "PersistentVolumeClaim") => {
            let spec = child(m, "spec");
            default(spec, "volumeMode", json!("Filesystem"));
            let status = child(m, "status");
            default(status, "phase", json!("Pending"));
        }
        ("", "Pod") => {
            if let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut) {
                pod_spec(spec);
            }
            let status = child(m, "status");
            default(status, "phase", json!("Pending"));
        }
        ("", "ServiceAccount") | ("", "ConfigMap") => {}
        ("apps", "Deployment") => {
            let spec = child(m, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            let strategy = child(spec, "strategy");
            default(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                let ru = child(strategy, "rollingUpdate");
                default(ru, "maxUnavailable", json!("25%"));
                default(ru, "maxSurge", json!("25%"));
            }
            template(spec);
        }
        ("apps", "StatefulSet") => {
            let spec = child(m, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "podManagementPolicy", json!("OrderedReady"));
            let us = child(spec, "updateStrategy");
            default(us, "type", json!("RollingUpdate"));
            if us.get("type") == Some(&json!("RollingUpdate")) {
                let ru = child(us, "rollingUpdate");
                default(ru, "partition", json!(0));
            }
            let pr = child(spec, "persistentVolumeClaimRetentionPolicy");
            default(pr, "whenDeleted", json!("Retain"));
            default(pr, "whenScaled", json!("Retain"));
            template(spec);
        }
        ("apps", "DaemonSet") => {
            let spec = child(m, "spec");
            default(spec, "revisionHistoryLimit", json!(10));
            let us = child(spec, "updateStrategy");
            default(us, "type", json!("RollingUpdate"));
            if us.get("type") == Some(&json!("RollingUpdate")) {
                let ru = child(us, "rollingUpdate");
                default(ru, "maxUnavailable", json!(1));
                default(ru, "maxSurge", json!(0));
            }
            template(spec);
        }
        ("apps", "ReplicaSet") => {
            let spec = child(m, "spec");
            default(spec, "replicas", json!(1));
            template(spec);
        }
        ("batch", "Job") => {
            let uid = m
                .get("metadata")
                .and_then(|md| md.get("uid"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let name = m
                .get("metadata")
                .and_then(|md| md.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let spec = child(m, "spec");
            default(spec, "parallelism", json!(1));
            default(spec, "completions", json!(1));
            default(spec, "backoffLimit", json!(6));
            default(spec, "completionMode", json!("NonIndexed"));
            default(spec, "suspend", json!(false));
            default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
            let manual = spec.get("manualSelector") == Some(&json!(true));
            if !manual && old.is_none() {
                default(
                    spec,
                    "selector",
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
                );
                let t = child(spec, "template");
                let md = child(t, "metadata");
                let labels = child(md, "labels");
                labels.insert("batch.kubernetes.io/controller-uid".into(), json!(uid));
                labels.insert("batch.kubernetes.io/job-name".into(), json!(name));
                labels.insert("controller-uid".into(), json!(uid));
                labels.insert("job-name".into(), json!(name));
            }
            if let Some(t) = spec.get_mut("template").and_then(Value::as_object_mut)
                && let Some(ps) = t.get_mut("spec").and_then(Value::as_object_mut)
            {
                pod_spec(ps);
            }
        }
        ("batch", "CronJob") => {
            let spec = child(m, "spec");
            default(spec, "concurrencyPolicy", json!("Allow"));
            default(spec, "suspend", json!(false));
            default(spec, "successfulJobsHistoryLimit", json!(3));
            default(spec, "failedJobsHistoryLimit", json!(1));
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let spec = child(m, "spec");
            let conv = child(spec, "conversion");
            default(conv, "strategy", json!("None"));
            let names = spec.get("names").cloned().unwrap_or_default();
            if let Some(n) = spec.get_mut("names").and_then(Value::as_object_mut)
                && let Some(kind) = names.get("kind").and_then(Value::as_str)
            {
                default(n, "singular", json!(kind.to_lowercase()));
                default(n, "listKind", json!(format!("{kind}List")));
            }
        }
        _ => {}
    }
}

fn template(spec: &mut Map<String, Value>) {
    if let Some(t) = spec.get_mut("template").and_then(Value::as_object_mut)
        && let Some(ps) = t.get_mut("spec").and_then(Value::as_object_mut)
    {
        pod_spec(ps);
    }
}

fn pod_spec(spec: &mut Map<String, Value>) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(list) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                default(c, "terminationMessagePath", json!("/dev/termination-log"));
                default(c, "terminationMessagePolicy", json!("File"));
                let image = c
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let latest = !image.contains(':') || image.ends_with(":latest");
                default(
                    c,
                    "imagePullPolicy",
                    json!(if latest { "Always" } else { "IfNotPresent" }),
                );
                default(c, "resources", json!({}));
                if let Some(Value::Array(ports)) = c.get_mut("ports") {
                    for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                        default(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
}

/// A stable cluster IP from the selector text (10.96.x.y).
fn cluster_ip(seed: &Value) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(seed.to_string().as_bytes());
    format!("10.96.{}.{}", d[0], d[1].max(1))
}

/// An immutable-field violation that a pointer comparison cannot express.
pub fn immutable_message(
    rt: &ResourceType,
    old: &Value,
    new: &Value,
) -> Option<(String, String, String)> {
    if rt.group.is_empty() && rt.kind == "Service" {
        let o = old.pointer("/spec/clusterIP");
        let n = new.pointer("/spec/clusterIP");
        if o.is_some() && n.is_some() && o != n {
            return Some((
                "FieldValueInvalid".into(),
                "spec.clusterIPs[0]".into(),
                format!(
                    "Invalid value: {}: may not change once set",
                    n.cloned().unwrap_or_default()
                ),
            ));
        }
    }
    None
}
