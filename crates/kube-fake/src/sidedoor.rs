//! The side door tests use to steer the server: request counters by verb, fault injection (error
//! responses, delays, conflicts, dropped watches — by verb, path and count), per-object overrides
//! of the built-in controllers (a Deployment that never becomes ready, a Job that fails, a Pod
//! that crash-loops), and direct writes of any object's status (a Flux object as Flux's
//! controllers would report it), and the text of pod logs ([`crate::logs`]). The same operations
//! are served over HTTP under [`PREFIX`], guarded by the server's token.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::meta;
use crate::status::ApiError;
use crate::store::{EventKind, Store};

/// The side door's HTTP path prefix.
pub const PREFIX: &str = "/__kube-fake";

/// Requests counted so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counters {
    /// By verb: get, list, watch, create, update, patch, apply, delete, deletecollection,
    /// discovery. Dry-run requests count under `dryRun` instead.
    pub verbs: BTreeMap<String, u64>,
    /// Dry-run requests by verb.
    #[serde(rename = "dryRun")]
    pub dry_run: BTreeMap<String, u64>,
    /// By `verb resource` (resource as `deployments.apps`).
    #[serde(rename = "byResource")]
    pub by_resource: BTreeMap<String, u64>,
}

impl Counters {
    pub fn verb(&self, verb: &str) -> u64 {
        self.verbs.get(verb).copied().unwrap_or(0)
    }

    /// Requests that changed or could change state (dry runs excluded).
    pub fn writes(&self) -> u64 {
        [
            "create",
            "update",
            "patch",
            "apply",
            "delete",
            "deletecollection",
        ]
        .iter()
        .map(|v| self.verb(v))
        .sum()
    }
}

/// What a fault does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum FaultAction {
    /// Answer with this status code (500 by default) and message.
    Error {
        #[serde(default = "default_code")]
        code: u16,
        #[serde(default)]
        message: String,
    },
    /// Wait this long before handling the request.
    Delay { millis: u64 },
    /// A 409 Conflict, as for a stale resourceVersion.
    Conflict,
    /// For watches: end the stream after this many events.
    DropWatch {
        #[serde(default)]
        after: u32,
    },
}

fn default_code() -> u16 {
    500
}

/// A fault rule: requests matching the verb and path fragment, after letting `skip` of them
/// through, the next `count` times (always when absent). `skip: n-1, count: 1` with no verb or
/// path fails exactly the n-th API request (discovery documents are not counted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fault {
    #[serde(default)]
    pub verb: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<u32>,
    #[serde(default)]
    pub count: Option<u32>,
    pub action: FaultAction,
}

/// An override of how the built-in controllers treat one object.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Override {
    /// Workloads: roll out but never report ready replicas.
    #[serde(default)]
    pub never_ready: bool,
    /// Jobs: fail (`Failed=True`, reason BackoffLimitExceeded). Workloads: `ProgressDeadlineExceeded`.
    #[serde(default)]
    pub fail: bool,
    /// Pods: a container in CrashLoopBackOff.
    #[serde(default)]
    pub crash_loop: bool,
}

/// Names one object: apiVersion, kind, namespace ("" for cluster scope), name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(api_version: &str, kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// Lines for a container's log, as the side door's `POST /logs` takes them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogWrite {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The previous (terminated) instance's log instead of the running one.
    #[serde(default)]
    pub previous: bool,
    /// Lines, newline-separated; each is stamped with the time it is written.
    pub text: String,
}

/// The side door's part of the state.
#[derive(Debug, Default)]
pub struct SideState {
    pub counters: Counters,
    pub faults: Vec<Fault>,
    pub overrides: BTreeMap<(String, String, String, String), Override>,
    /// Set when an override changes, so the controllers look at everything again.
    pub overrides_changed: bool,
    /// Pod logs by namespace, pod and container.
    pub logs: BTreeMap<crate::logs::LogKey, crate::logs::ContainerLogs>,
}

impl SideState {
    /// Counts a request.
    pub fn count(&mut self, verb: &str, resource: &str, dry_run: bool) {
        if dry_run {
            *self.counters.dry_run.entry(verb.to_string()).or_default() += 1;
        } else {
            *self.counters.verbs.entry(verb.to_string()).or_default() += 1;
        }
        if !resource.is_empty() {
            *self
                .counters
                .by_resource
                .entry(format!("{verb} {resource}"))
                .or_default() += 1;
        }
    }

    /// The fault to inject into a request, if any (consuming one use of it).
    pub fn take_fault(&mut self, verb: &str, path: &str) -> Option<FaultAction> {
        let idx = self.faults.iter().position(|f| {
            f.verb.as_deref().is_none_or(|v| v == verb)
                && f.path.as_deref().is_none_or(|p| path.contains(p))
        })?;
        if let Some(skip) = self.faults[idx].skip.as_mut()
            && *skip > 0
        {
            *skip -= 1;
            return None;
        }
        let action = self.faults[idx].action.clone();
        if let Some(c) = self.faults[idx].count.as_mut() {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.faults.remove(idx);
            }
        }
        Some(action)
    }

    /// The override for an object of a group and kind.
    pub fn override_for(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Override {
        self.overrides
            .get(&(
                group.to_string(),
                kind.to_string(),
                namespace.to_string(),
                name.to_string(),
            ))
            .cloned()
            .unwrap_or_default()
    }
}

/// The side door as a Rust API (cheap to clone).
#[derive(Clone)]
pub struct SideDoor {
    pub(crate) store: Arc<Mutex<Store>>,
}

impl SideDoor {
    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn counters(&self) -> Counters {
        self.lock().side.counters.clone()
    }

    pub fn reset_counters(&self) {
        self.lock().side.counters = Counters::default();
    }

    pub fn inject(&self, fault: Fault) {
        self.lock().side.faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.lock().side.faults.clear();
    }

    pub fn set_override(&self, obj: &ObjectRef, o: Override) {
        let (group, _) = crate::registry::split_api_version(&obj.api_version);
        let key = (
            group.to_string(),
            obj.kind.clone(),
            obj.namespace.clone(),
            obj.name.clone(),
        );
        let mut s = self.lock();
        s.side.overrides.insert(key, o);
        s.side.overrides_changed = true;
    }

    /// Appends lines to a container's log (the running instance's, or with `previous` the last
    /// terminated one's), each stamped now; `GET …/pods/{name}/log` serves them.
    pub fn append_log(&self, write: &LogWrite) {
        self.append_log_at(write, std::time::SystemTime::now());
    }

    /// As [`SideDoor::append_log`], stamped `at` (for `sinceSeconds` and `sinceTime`).
    pub fn append_log_at(&self, write: &LogWrite, at: std::time::SystemTime) {
        let mut s = self.lock();
        let logs = s
            .side
            .logs
            .entry((
                write.namespace.clone(),
                write.pod.clone(),
                write.container.clone(),
            ))
            .or_default();
        let target = if write.previous {
            &mut logs.previous
        } else {
            &mut logs.current
        };
        target.extend(write.text.lines().map(|l| crate::logs::LogLine {
            at,
            text: l.to_owned(),
        }));
    }

    /// Forgets the watch history (watches from older resourceVersions get 410 Gone).
    pub fn compact(&self) {
        self.lock().compact();
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Reads an object.
    pub fn get(&self, obj: &ObjectRef) -> Option<Value> {
        let s = self.lock();
        let rt = s.registry.by_kind(&obj.api_version, &obj.kind)?;
        s.get(&rt, &obj.namespace, &obj.name)
    }

    /// Creates or replaces an object as a fixture (no managed fields, no admission checks beyond
    /// the type being served).
    pub fn put(&self, object: Value) -> Result<Value, ApiError> {
        let mut s = self.lock();
        let av = meta::str_at(&object, "/apiVersion").to_string();
        let kind = meta::str_at(&object, "/kind").to_string();
        let rt = s
            .registry
            .by_kind(&av, &kind)
            .ok_or_else(|| ApiError::not_found("kinds", "", &format!("{av}/{kind}")))?;
        let ns = meta::namespace(&object).to_string();
        let name = meta::name(&object).to_string();
        let ctx = crate::write::WriteCtx {
            namespace: ns.clone(),
            name: name.clone(),
            ..Default::default()
        };
        match s.get(&rt, &ns, &name) {
            None => s.create(&rt, object, &ctx),
            Some(old) => {
                let mut o = object;
                meta::metadata_mut(&mut o).insert(
                    "resourceVersion".into(),
                    old["metadata"]["resourceVersion"].clone(),
                );
                s.update(&rt, o, &ctx)
            }
        }
    }

    /// Writes an object's `status` as its controller would (a new resourceVersion, a MODIFIED
    /// event, `generation` unchanged).
    pub fn write_status(&self, obj: &ObjectRef, status: Value) -> Result<Value, ApiError> {
        let mut s = self.lock();
        write_status(&mut s, obj, status)
    }

    /// Writes a Flux-style Ready status: `observedGeneration` = generation, `Ready=True`
    /// (or False with `reason`), as the toolkit's controllers report it.
    pub fn flux_ready(
        &self,
        obj: &ObjectRef,
        ready: bool,
        reason: &str,
        message: &str,
    ) -> Result<Value, ApiError> {
        let mut s = self.lock();
        let rt = s
            .registry
            .by_kind(&obj.api_version, &obj.kind)
            .ok_or_else(|| ApiError::not_found("kinds", "", &obj.kind))?;
        let cur = s.get_or_404(&rt, &obj.namespace, &obj.name)?;
        let generation = cur
            .pointer("/metadata/generation")
            .cloned()
            .unwrap_or(json!(1));
        let mut status = cur.get("status").cloned().unwrap_or(json!({}));
        let now = meta::now_rfc3339();
        let cond = json!({
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "reason": reason,
            "message": message,
            "observedGeneration": generation,
            "lastTransitionTime": now,
        });
        status["observedGeneration"] = generation;
        status["conditions"] = json!([cond]);
        write_status(&mut s, obj, status)
    }
}

pub(crate) fn write_status(
    s: &mut Store,
    obj: &ObjectRef,
    status: Value,
) -> Result<Value, ApiError> {
    let rt = s
        .registry
        .by_kind(&obj.api_version, &obj.kind)
        .ok_or_else(|| ApiError::not_found("kinds", "", &obj.kind))?;
    let mut cur = s.get_or_404(&rt, &obj.namespace, &obj.name)?;
    if cur.get("status") == Some(&status) {
        return Ok(cur);
    }
    if let Some(m) = cur.as_object_mut() {
        m.insert("status".into(), status);
    }
    let out = s.put(&rt, cur, EventKind::Modified);
    if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
        s.sync_crd(&out);
    }
    Ok(out)
}

/// Serves the side door's HTTP endpoints. `path` is below [`PREFIX`].
pub fn serve(door: &SideDoor, method: &str, path: &str, body: &Value) -> Result<Value, ApiError> {
    let bad = |e: serde_json::Error| ApiError::bad_request(format!("side door: {e}"));
    match (method, path) {
        ("GET", "/counters") => {
            serde_json::to_value(door.counters()).map_err(|e| ApiError::internal(e.to_string()))
        }
        ("POST", "/counters/reset") | ("DELETE", "/counters") => {
            door.reset_counters();
            Ok(json!({}))
        }
        ("POST", "/faults") => {
            let f: Fault = serde_json::from_value(body.clone()).map_err(bad)?;
            door.inject(f);
            Ok(json!({}))
        }
        ("DELETE", "/faults") => {
            door.clear_faults();
            Ok(json!({}))
        }
        ("POST", "/overrides") => {
            let r: ObjectRef = serde_json::from_value(body.clone()).map_err(bad)?;
            let o: Override = serde_json::from_value(body.clone()).map_err(bad)?;
            door.set_override(&r, o);
            Ok(json!({}))
        }
        ("POST", "/status") => {
            let r: ObjectRef = serde_json::from_value(body.clone()).map_err(bad)?;
            door.write_status(&r, body.get("status").cloned().unwrap_or(json!({})))
        }
        ("POST", "/objects") => door.put(body.clone()),
        ("POST", "/logs") => {
            let w: LogWrite = serde_json::from_value(body.clone()).map_err(bad)?;
            door.append_log(&w);
            Ok(json!({}))
        }
        ("POST", "/compact") => {
            door.compact();
            Ok(json!({}))
        }
        _ => Err(ApiError::not_found("sidedoor", "", path)),
    }
}
