//! The cluster's built-in controllers, played after a short delay so `apply --wait` works out of
//! the box: Deployments, StatefulSets, DaemonSets and ReplicaSets roll out and report ready
//! replicas (the fields and conditions kstatus reads), Jobs complete, PVCs bind, Pods run, CRDs
//! become NamesAccepted and Established (their kinds then served), terminating Namespaces are
//! emptied and finalized, and the garbage collector follows ownerReferences (Background,
//! Foreground via `foregroundDeletion`, Orphan via `orphan`). Side-door overrides make a workload
//! never ready, a Job or rollout fail, or a Pod crash-loop.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::delete::DeleteOpts;
use crate::meta;
use crate::registry::ResourceType;
use crate::store::{EventKind, Store};

/// Runs the controllers every `every` until the task is dropped.
pub async fn run(store: Arc<Mutex<Store>>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let mut state = Progress::default();
    loop {
        ticker.tick().await;
        let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
        tick(&mut s, &mut state);
    }
}

/// What the controllers have seen: they act on the objects changed since (a full pass when the
/// history no longer reaches back, or the side door changed an override).
#[derive(Debug, Default)]
pub struct Progress {
    seen_rv: u64,
}

/// The objects to look at, and whether deletions or owners call for the namespace controller
/// and the garbage collector.
fn changed(s: &mut Store, p: &Progress) -> (Vec<(Arc<ResourceType>, Value)>, bool) {
    let full = p.seen_rv == 0
        || s.history_floor > p.seen_rv
        || std::mem::take(&mut s.side.overrides_changed);
    if full {
        return (s.all_objects(), true);
    }
    let mut keys = BTreeSet::new();
    let mut collect = false;
    for ev in s.history.iter().filter(|e| e.rv > p.seen_rv) {
        keys.insert((
            ev.group.clone(),
            ev.plural.clone(),
            ev.namespace.clone(),
            meta::name(&ev.object).to_string(),
        ));
        collect |= ev.kind == EventKind::Deleted
            || meta::is_deleting(&ev.object)
            || ev.object.pointer("/metadata/ownerReferences").is_some()
            || (ev.group.is_empty() && ev.plural == "namespaces");
    }
    let mut out = Vec::new();
    for (g, plural, ns, name) in keys {
        let Some(rt) = s.storage_type(&g, &plural) else {
            continue;
        };
        if let Some(o) = s.objects.get(&(g, plural, ns, name)) {
            out.push((rt, o.clone()));
        }
    }
    (out, collect)
}

/// One pass of every controller over what changed.
pub fn tick(s: &mut Store, progress: &mut Progress) {
    let start = s.rv;
    let (objects, collect) = changed(s, progress);
    progress.seen_rv = start;
    for (rt, obj) in objects {
        if meta::is_deleting(&obj) {
            continue;
        }
        let ov = s
            .side
            .override_for(&rt.group, &rt.kind, meta::namespace(&obj), meta::name(&obj));
        let status = match (rt.group.as_str(), rt.kind.as_str()) {
            ("apiextensions.k8s.io", "CustomResourceDefinition") => crd_status(&obj),
            ("apps", "Deployment") => Some(deployment_status(&obj, ov.never_ready, ov.fail)),
            ("apps", "StatefulSet") => Some(statefulset_status(&obj, ov.never_ready)),
            ("apps", "DaemonSet") => Some(daemonset_status(&obj, ov.never_ready)),
            ("apps", "ReplicaSet") => Some(replicaset_status(&obj, ov.never_ready)),
            ("batch", "Job") => job_status(&obj, ov.fail),
            ("", "PersistentVolumeClaim") => pvc_status(&obj),
            ("", "Pod") => Some(pod_status(&obj, ov.crash_loop)),
            _ => None,
        };
        if let Some(status) = status {
            set_status(s, &rt, obj, status);
        }
    }
    if collect {
        namespaces(s);
        garbage_collect(s);
    }
}

/// Writes a status if it differs, keeping condition times for unchanged conditions.
fn set_status(s: &mut Store, rt: &Arc<ResourceType>, mut obj: Value, mut status: Value) {
    let old = obj.get("status").cloned().unwrap_or(json!({}));
    keep_condition_times(&old, &mut status);
    if status == old {
        return;
    }
    if rt.group.is_empty() && rt.kind == "PersistentVolumeClaim" {
        let volume = format!("pvc-{}", meta::uid(&obj));
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.entry("volumeName").or_insert(json!(volume));
        }
    }
    if let Some(m) = obj.as_object_mut() {
        m.insert("status".into(), status);
    }
    let stored = s.put(rt, obj, EventKind::Modified);
    if rt.group == "apiextensions.k8s.io" {
        s.sync_crd(&stored);
    }
}

fn keep_condition_times(old: &Value, new: &mut Value) {
    let Some(old_conds) = old.get("conditions").and_then(Value::as_array) else {
        return;
    };
    let Some(new_conds) = new.get_mut("conditions").and_then(Value::as_array_mut) else {
        return;
    };
    for c in new_conds.iter_mut() {
        let same = old_conds.iter().find(|o| {
            o.get("type") == c.get("type")
                && o.get("status") == c.get("status")
                && o.get("reason") == c.get("reason")
        });
        if let (Some(o), Some(cm)) = (same, c.as_object_mut()) {
            for f in ["lastTransitionTime", "lastUpdateTime", "lastProbeTime"] {
                if let Some(t) = o.get(f) {
                    cm.insert(f.into(), t.clone());
                }
            }
        }
    }
}

fn cond(ty: &str, status: &str, reason: &str, message: &str) -> Value {
    let now = meta::now_rfc3339();
    json!({"type": ty, "status": status, "reason": reason, "message": message, "lastTransitionTime": now})
}

fn generation(obj: &Value) -> i64 {
    obj.pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// Inserts `n` unless it is zero (the API omits zero counts).
fn count(m: &mut serde_json::Map<String, Value>, k: &str, n: i64) {
    if n != 0 {
        m.insert(k.into(), json!(n));
    }
}

fn crd_status(crd: &Value) -> Option<Value> {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage") == Some(&json!(true)))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let mut status = crd.get("status").cloned().unwrap_or(json!({}));
    let mut prev: Vec<Value> = status
        .get("storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for v in stored {
        if !prev.contains(&v) {
            prev.push(v);
        }
    }
    status["acceptedNames"] = names;
    status["storedVersions"] = json!(prev);
    status["conditions"] = json!([
        cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
        cond(
            "Established",
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted"
        ),
    ]);
    Some(status)
}

fn deployment_status(obj: &Value, never_ready: bool, fail: bool) -> Value {
    let n = replicas(obj);
    let ready = if never_ready || fail { 0 } else { n };
    let mut m = serde_json::Map::new();
    m.insert("observedGeneration".into(), json!(generation(obj)));
    count(&mut m, "replicas", n);
    count(&mut m, "updatedReplicas", n);
    count(&mut m, "readyReplicas", ready);
    count(&mut m, "availableReplicas", ready);
    count(&mut m, "unavailableReplicas", n - ready);
    let name = meta::name(obj);
    let available = if ready >= n {
        cond(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        cond(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let progressing = if fail {
        cond(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            &format!("ReplicaSet \"{name}-0\" has timed out progressing."),
        )
    } else if ready >= n {
        cond(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{name}-0\" has successfully progressed."),
        )
    } else {
        cond(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{name}-0\" is progressing."),
        )
    };
    let mut a = available;
    let mut p = progressing;
    let now = meta::now_rfc3339();
    a["lastUpdateTime"] = json!(now);
    p["lastUpdateTime"] = json!(now);
    m.insert("conditions".into(), json!([a, p]));
    Value::Object(m)
}

fn revision(obj: &Value) -> String {
    use sha2::{Digest, Sha256};
    let spec = obj.pointer("/spec/template").cloned().unwrap_or_default();
    let d = Sha256::digest(spec.to_string().as_bytes());
    let h: String = d.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}", meta::name(obj), &h[..10])
}

fn statefulset_status(obj: &Value, never_ready: bool) -> Value {
    let n = replicas(obj);
    let ready = if never_ready { 0 } else { n };
    let rev = revision(obj);
    let mut m = serde_json::Map::new();
    m.insert("observedGeneration".into(), json!(generation(obj)));
    m.insert("replicas".into(), json!(n));
    count(&mut m, "readyReplicas", ready);
    count(&mut m, "currentReplicas", n);
    count(&mut m, "updatedReplicas", n);
    count(&mut m, "availableReplicas", ready);
    m.insert("currentRevision".into(), json!(rev));
    m.insert("updateRevision".into(), json!(rev));
    m.insert("collisionCount".into(), json!(0));
    Value::Object(m)
}

fn daemonset_status(obj: &Value, never_ready: bool) -> Value {
    let ready = if never_ready { 0 } else { 1 };
    json!({
        "observedGeneration": generation(obj),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": 1,
        "updatedNumberScheduled": 1,
        "numberReady": ready,
        "numberAvailable": ready,
        "numberMisscheduled": 0,
    })
}

fn replicaset_status(obj: &Value, never_ready: bool) -> Value {
    let n = replicas(obj);
    let ready = if never_ready { 0 } else { n };
    let mut m = serde_json::Map::new();
    m.insert("observedGeneration".into(), json!(generation(obj)));
    m.insert("replicas".into(), json!(n));
    count(&mut m, "fullyLabeledReplicas", n);
    count(&mut m, "readyReplicas", ready);
    count(&mut m, "availableReplicas", ready);
    Value::Object(m)
}

fn job_status(obj: &Value, fail: bool) -> Option<Value> {
    if obj.pointer("/spec/suspend") == Some(&json!(true)) {
        return None;
    }
    let status = obj.get("status").cloned().unwrap_or(json!({}));
    let done = status
        .get("conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                matches!(
                    c.get("type").and_then(Value::as_str),
                    Some("Complete") | Some("Failed")
                )
            })
        });
    if done {
        return Some(status);
    }
    let now = meta::now_rfc3339();
    let mut s =
        json!({"startTime": now, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}});
    if fail {
        let backoff = obj
            .pointer("/spec/backoffLimit")
            .and_then(Value::as_i64)
            .unwrap_or(6);
        s["failed"] = json!(backoff + 1);
        s["conditions"] = json!([
            cond(
                "FailureTarget",
                "True",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit"
            ),
            cond(
                "Failed",
                "True",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit"
            ),
        ]);
    } else {
        let completions = obj
            .pointer("/spec/completions")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        s["succeeded"] = json!(completions);
        s["completionTime"] = json!(now);
        s["conditions"] = json!([
            cond(
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods"
            ),
            cond(
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods"
            ),
        ]);
    }
    Some(s)
}

fn pvc_status(obj: &Value) -> Option<Value> {
    let mut status = json!({"phase": "Bound"});
    if let Some(modes) = obj.pointer("/spec/accessModes") {
        status["accessModes"] = modes.clone();
    }
    if let Some(size) = obj.pointer("/spec/resources/requests/storage") {
        status["capacity"] = json!({"storage": size});
    }
    Some(status)
}

fn pod_status(obj: &Value, crash_loop: bool) -> Value {
    let containers: Vec<String> = obj
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let now = meta::str_at(obj, "/metadata/creationTimestamp").to_string();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            if crash_loop {
                json!({"name": c, "ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}})
            } else {
                json!({"name": c, "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": now}}})
            }
        })
        .collect();
    let ready = if crash_loop { "False" } else { "True" };
    json!({
        "phase": "Running",
        "conditions": [cond("PodScheduled", "True", "", ""), cond("Ready", ready, "", ""), cond("ContainersReady", ready, "", "")],
        "containerStatuses": statuses,
    })
}

/// Empties terminating namespaces, then finalizes them.
fn namespaces(s: &mut Store) {
    let Some(ns_rt) = s.registry.by_resource("", "v1", "namespaces") else {
        return;
    };
    let terminating: Vec<Value> = s
        .list(&ns_rt, None, &Default::default(), &Default::default())
        .into_iter()
        .filter(meta::is_deleting)
        .collect();
    for ns in terminating {
        let name = meta::name(&ns).to_string();
        let contents: Vec<(Arc<ResourceType>, Value)> = s
            .all_objects()
            .into_iter()
            .filter(|(rt, o)| rt.namespaced && meta::namespace(o) == name)
            .collect();
        for (rt, o) in &contents {
            if !meta::is_deleting(o) {
                let _ = s.delete(rt, &name, meta::name(o), &DeleteOpts::default());
            }
        }
        let left = s
            .all_objects()
            .into_iter()
            .any(|(rt, o)| rt.namespaced && meta::namespace(&o) == name);
        if left {
            continue;
        }
        let mut cur = ns.clone();
        if let Some(spec) = cur.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("finalizers".into(), json!([]));
        }
        if meta::finalizers(&cur).is_empty() {
            s.remove(&ns_rt, "", &name);
        } else if cur != ns {
            s.put(&ns_rt, cur, EventKind::Modified);
        }
    }
}

/// The garbage collector: orphaning, foreground deletion, and dependents of vanished owners.
fn garbage_collect(s: &mut Store) {
    let all = s.all_objects();
    let by_uid: BTreeMap<String, (Arc<ResourceType>, Value)> = all
        .iter()
        .map(|(rt, o)| (meta::uid(o).to_string(), (rt.clone(), o.clone())))
        .collect();
    let dependents_of = |uid: &str| -> Vec<(Arc<ResourceType>, Value)> {
        all.iter()
            .filter(|(_, o)| owner_uids(o).contains(uid))
            .cloned()
            .collect()
    };
    for (rt, owner) in &all {
        if !meta::is_deleting(owner) {
            continue;
        }
        let fins = meta::finalizers(owner);
        let uid = meta::uid(owner).to_string();
        if fins.iter().any(|f| f == "orphan") {
            for (drt, mut d) in dependents_of(&uid) {
                strip_owner(&mut d, &uid);
                s.put(&drt, d, EventKind::Modified);
            }
            remove_finalizer(s, rt, owner, "orphan");
        } else if fins.iter().any(|f| f == "foregroundDeletion") {
            let deps = dependents_of(&uid);
            for (drt, d) in &deps {
                if !meta::is_deleting(d) {
                    let opts = DeleteOpts {
                        propagation: Some("Foreground".into()),
                        ..DeleteOpts::default()
                    };
                    let _ = s.delete(drt, meta::namespace(d), meta::name(d), &opts);
                }
            }
            if deps.is_empty() {
                remove_finalizer(s, rt, owner, "foregroundDeletion");
            }
        }
    }
    // Dependents whose owners are all gone.
    for (rt, o) in &all {
        let owners = owner_uids(o);
        if owners.is_empty() || meta::is_deleting(o) {
            continue;
        }
        if owners.iter().all(|u| !by_uid.contains_key(u)) {
            let _ = s.delete(
                rt,
                meta::namespace(o),
                meta::name(o),
                &DeleteOpts::default(),
            );
        }
    }
}

fn owner_uids(o: &Value) -> BTreeSet<String> {
    o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn strip_owner(o: &mut Value, uid: &str) {
    let md = meta::metadata_mut(o);
    if let Some(Value::Array(refs)) = md.get_mut("ownerReferences") {
        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
        if refs.is_empty() {
            md.remove("ownerReferences");
        }
    }
}

fn remove_finalizer(s: &mut Store, rt: &Arc<ResourceType>, obj: &Value, finalizer: &str) {
    let Some(mut cur) = s.get(rt, meta::namespace(obj), meta::name(obj)) else {
        return;
    };
    let fins: Vec<String> = meta::finalizers(&cur)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    meta::set_finalizers(&mut cur, &fins);
    if fins.is_empty() {
        s.put(rt, cur, EventKind::Modified);
        if let Some(gone) = s.remove(rt, meta::namespace(obj), meta::name(obj)) {
            s.after_delete(rt, &gone);
        }
    } else {
        s.put(rt, cur, EventKind::Modified);
    }
}
