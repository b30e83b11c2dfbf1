//! An in-memory [`Cluster`] for the engine's unit tests: objects in a map, server-side apply as a
//! deep merge that removes what the manager stopped sending, managedFields for the applying
//! manager (lists keyed by `name` when their items have one), CRDs established at once and their
//! kinds served after a discovery refresh, a request counter per verb, and fault injection
//! (the n-th request fails). It stands in for a cluster where the engine's logic is under test;
//! the wire behaviour is held to `kube-fake` and real clusters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use crate::cluster::{Cluster, ClusterError, FIELD_MANAGER, Reason, Verb};
use crate::fields;
use crate::id::ObjectRef;

type Key = (String, String, String, String);

fn key(r: &ObjectRef) -> Key {
    (
        r.group.clone(),
        r.kind.clone(),
        r.namespace.clone(),
        r.name.clone(),
    )
}

#[derive(Default)]
struct State {
    served: HashMap<(String, String), bool>,
    pending: HashMap<(String, String), bool>,
    objects: BTreeMap<Key, Value>,
    version: u64,
    requests: BTreeMap<String, u64>,
    total: u64,
    fail_at: Option<u64>,
    ready: bool,
}

/// The in-memory cluster.
pub struct MemCluster {
    state: Mutex<State>,
}

impl Default for MemCluster {
    fn default() -> Self {
        MemCluster::new()
    }
}

impl MemCluster {
    /// A cluster serving the built-in kinds capstan's tests use.
    pub fn new() -> MemCluster {
        let mut state = State::default();
        for (group, kind, namespaced) in [
            ("", "Namespace", false),
            ("", "ConfigMap", true),
            ("", "Secret", true),
            ("", "Service", true),
            ("", "ServiceAccount", true),
            ("", "PersistentVolumeClaim", true),
            ("apps", "Deployment", true),
            ("apps", "StatefulSet", true),
            ("apps", "DaemonSet", true),
            ("batch", "Job", true),
            ("batch", "CronJob", true),
            ("networking.k8s.io", "Ingress", true),
            ("policy", "PodDisruptionBudget", true),
            ("rbac.authorization.k8s.io", "Role", true),
            ("rbac.authorization.k8s.io", "RoleBinding", true),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding", false),
            ("rbac.authorization.k8s.io", "ClusterRole", false),
            ("storage.k8s.io", "StorageClass", false),
            ("apiextensions.k8s.io", "CustomResourceDefinition", false),
        ] {
            state.served.insert((group.into(), kind.into()), namespaced);
        }
        for name in ["default", "kube-system", "kube-public"] {
            let key = (
                String::new(),
                "Namespace".to_owned(),
                String::new(),
                name.to_owned(),
            );
            let object =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            state.objects.insert(key, object);
        }
        MemCluster {
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Plays the built-in controllers at once: applied Deployments, StatefulSets and DaemonSets
    /// report ready, PVCs bound, Jobs complete.
    pub fn with_ready_workloads(self) -> MemCluster {
        self.lock().ready = true;
        self
    }

    /// Stores an object as a fixture (no request counted).
    pub fn put(&self, object: Value) {
        if let Some(r) = ObjectRef::of(&object) {
            self.lock().objects.insert(key(&r), object);
        }
    }

    /// Requests made so far, by verb.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.lock().requests.clone()
    }

    /// Requests that write (apply, patch, delete).
    pub fn writes(&self) -> u64 {
        let r = self.requests();
        ["apply", "patch", "delete"]
            .iter()
            .map(|v| r.get(*v).copied().unwrap_or(0))
            .sum()
    }

    pub fn total_requests(&self) -> u64 {
        self.lock().total
    }

    /// Makes request number `n` (counted from the start, 1-based) fail with a 500.
    pub fn fail_request(&self, n: u64) {
        self.lock().fail_at = Some(n);
    }

    /// The stored object.
    pub fn object(&self, r: &ObjectRef) -> Option<Value> {
        self.lock().objects.get(&key(r)).cloned()
    }

    pub fn objects(&self) -> Vec<Value> {
        self.lock().objects.values().cloned().collect()
    }

    /// Changes an object as another manager would (an Update by `manager`).
    pub fn edit(&self, r: &ObjectRef, manager: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.lock();
        state.version += 1;
        let version = state.version;
        if let Some(object) = state.objects.get_mut(&key(r)) {
            change(object);
            let before = object.clone();
            let owned = field_set(&before);
            if let Some(Value::Array(entries)) = object.pointer_mut("/metadata/managedFields") {
                entries.push(json!({"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": owned}));
            }
            object["metadata"]["resourceVersion"] = json!(version.to_string());
        }
    }

    /// Sets the status of an object (as a controller would).
    pub fn set_status(&self, r: &ObjectRef, status: Value) {
        if let Some(object) = self.lock().objects.get_mut(&key(r)) {
            object["status"] = status;
        }
    }

    fn count(&self, verb: &str, what: &dyn std::fmt::Display, v: Verb) -> Result<(), ClusterError> {
        let mut state = self.lock();
        state.total += 1;
        *state.requests.entry(verb.to_owned()).or_default() += 1;
        if state.fail_at == Some(state.total) {
            return Err(ClusterError::new(
                v,
                what,
                Reason::Unavailable,
                "injected fault",
            ));
        }
        Ok(())
    }
}

/// The fieldsV1 tree of every field in a value (lists keyed by `name` when they have one).
pub fn field_set(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if k == "status" || (k == "metadata") {
                    continue;
                }
                out.insert(format!("f:{k}"), field_set(v));
            }
            if let Some(Value::Object(meta)) = map.get("metadata") {
                let mut m = Map::new();
                for section in ["labels", "annotations"] {
                    if let Some(Value::Object(entries)) = meta.get(section) {
                        let inner: Map<String, Value> = entries
                            .keys()
                            .map(|k| (format!("f:{k}"), json!({})))
                            .collect();
                        m.insert(format!("f:{section}"), Value::Object(inner));
                    }
                }
                if !m.is_empty() {
                    out.insert("f:metadata".into(), Value::Object(m));
                }
            }
            Value::Object(out)
        }
        Value::Array(items)
            if items
                .iter()
                .all(|i| i.get("name").is_some_and(Value::is_string))
                && !items.is_empty() =>
        {
            let mut out = Map::new();
            for item in items {
                let name = item.get("name").cloned().unwrap_or(Value::Null);
                let mut sub = field_set(item);
                if let Some(sub) = sub.as_object_mut() {
                    sub.insert(".".into(), json!({}));
                }
                out.insert(format!("k:{}", json!({"name": name})), sub);
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

/// Removes from `live` the fields in `owned` that `desired` does not declare.
fn remove_dropped(live: &mut Value, owned: &Value, desired: &Value) {
    let (Some(live_map), Some(owned)) = (live.as_object_mut(), owned.as_object()) else {
        return;
    };
    for (k, sub) in owned {
        let Some(field) = k.strip_prefix("f:") else {
            continue;
        };
        match desired.get(field) {
            None => {
                live_map.remove(field);
            }
            Some(d) => {
                if let Some(l) = live_map.get_mut(field) {
                    remove_dropped(l, sub, d);
                }
            }
        }
    }
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, from) => *into = from.clone(),
    }
}

impl MemCluster {
    /// Server-side apply as `manager` (conflicts between managers are not modelled).
    fn apply_managed(
        &self,
        object: &Value,
        dry_run: bool,
        manager: &str,
    ) -> Result<Value, ClusterError> {
        let verb = if dry_run { Verb::DryRun } else { Verb::Apply };
        let r = crate::cluster::manifest_ref(object, verb)?;
        self.count(if dry_run { "dry-run" } else { "apply" }, &r, verb)?;
        let mut state = self.lock();
        let Some(namespaced) = state
            .served
            .get(&(r.group.clone(), r.kind.clone()))
            .copied()
        else {
            return Err(ClusterError::new(
                verb,
                &r,
                Reason::NotFound,
                format!(
                    "the server could not find the requested resource (kind {})",
                    r.kind
                ),
            ));
        };
        if namespaced && r.namespace.is_empty() {
            return Err(ClusterError::new(
                verb,
                &r,
                Reason::Invalid,
                "namespace required",
            ));
        }
        if namespaced
            && !state.objects.contains_key(&(
                String::new(),
                "Namespace".into(),
                String::new(),
                r.namespace.clone(),
            ))
        {
            return Err(ClusterError::new(
                verb,
                &r,
                Reason::NotFound,
                format!("namespaces \"{}\" not found", r.namespace),
            ));
        }
        let existing = state.objects.get(&key(&r)).cloned();
        if let (Some(live), true) = (&existing, r.kind == "Job") {
            let (a, b) = (
                live.pointer("/spec/template"),
                object.pointer("/spec/template"),
            );
            if a.is_some()
                && b.is_some()
                && !fields::subset(b.unwrap_or(&Value::Null), a.unwrap_or(&Value::Null))
            {
                let mut e = ClusterError::new(
                    verb,
                    &r,
                    Reason::Invalid,
                    "Job.batch is invalid: spec.template: Invalid value: field is immutable",
                );
                e.fields.push("spec.template".into());
                return Err(e);
            }
        }
        let mut next = existing.clone().unwrap_or_else(|| json!({}));
        if let Some(live) = &existing {
            let owned = fields::applied_fields(live, manager)
                .cloned()
                .unwrap_or(json!({}));
            remove_dropped(&mut next, &owned, object);
        }
        merge(&mut next, object);
        let mut entries: Vec<Value> = existing
            .as_ref()
            .and_then(|l| l.pointer("/metadata/managedFields"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| {
                !(e.get("manager").and_then(Value::as_str) == Some(manager)
                    && e.get("operation").and_then(Value::as_str) == Some("Apply"))
            })
            .collect();
        entries.insert(0, json!({"manager": manager, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": field_set(object)}));
        let changed = existing.as_ref().is_none_or(|live| {
            let strip = |v: &Value| {
                let mut v = v.clone();
                if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                    for k in ["managedFields", "resourceVersion", "generation", "uid"] {
                        m.remove(k);
                    }
                }
                v
            };
            strip(live) != strip(&next)
        });
        next["metadata"]["managedFields"] = Value::Array(entries);
        if dry_run {
            if existing.is_none() {
                next["metadata"]["resourceVersion"] = json!("");
            }
            return Ok(next);
        }
        if changed {
            state.version += 1;
            next["metadata"]["resourceVersion"] = json!(state.version.to_string());
            let generation = existing
                .as_ref()
                .and_then(|l| l.pointer("/metadata/generation"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            next["metadata"]["generation"] = json!(generation);
        }
        if existing.is_none() {
            next["metadata"]["uid"] = json!(format!("uid-{}", state.version));
        }
        if state.ready {
            let generation = next
                .pointer("/metadata/generation")
                .cloned()
                .unwrap_or(json!(1));
            let replicas = next
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let status = match (r.group.as_str(), r.kind.as_str()) {
                ("apps", "Deployment") => Some(
                    json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                    "readyReplicas": replicas, "availableReplicas": replicas, "conditions": [{"type": "Available", "status": "True"}]}),
                ),
                ("apps", "StatefulSet") => Some(
                    json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
                    "currentReplicas": replicas, "updatedReplicas": replicas, "currentRevision": "r1", "updateRevision": "r1"}),
                ),
                ("apps", "DaemonSet") => Some(
                    json!({"observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                    "updatedNumberScheduled": 1, "numberAvailable": 1, "numberReady": 1}),
                ),
                ("", "PersistentVolumeClaim") => Some(json!({"phase": "Bound"})),
                ("batch", "Job") => {
                    Some(json!({"conditions": [{"type": "Complete", "status": "True"}]}))
                }
                _ => None,
            };
            if let Some(status) = status {
                next["status"] = status;
            }
        }
        if r.kind == "CustomResourceDefinition" {
            next["status"] = json!({"conditions":[{"type":"NamesAccepted","status":"True"},{"type":"Established","status":"True"}]});
            let group = next
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let kind = next
                .pointer("/spec/names/kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let namespaced = next.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster");
            if !state.served.contains_key(&(group.clone(), kind.clone())) {
                state.pending.insert((group, kind), namespaced);
            }
        }
        state.objects.insert(key(&r), next.clone());
        Ok(next)
    }
}

impl Cluster for MemCluster {
    async fn scope(&self, r: &ObjectRef) -> Result<Option<bool>, ClusterError> {
        Ok(self
            .lock()
            .served
            .get(&(r.group.clone(), r.kind.clone()))
            .copied())
    }

    async fn refresh(&self) -> Result<(), ClusterError> {
        self.count("discovery", &"discovery", Verb::Discover)?;
        let mut state = self.lock();
        let pending = std::mem::take(&mut state.pending);
        state.served.extend(pending);
        Ok(())
    }

    async fn list(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        self.count("list", &kind, Verb::List)?;
        let state = self.lock();
        if !state
            .served
            .contains_key(&(group.to_owned(), kind.to_owned()))
        {
            return Err(ClusterError::new(
                Verb::List,
                format!("{kind}.{version}.{group}"),
                Reason::NotFound,
                "kind not served",
            ));
        }
        Ok(state
            .objects
            .iter()
            .filter(|((g, k, _, _), _)| g == group && k == kind)
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn get(&self, r: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        self.count("get", r, Verb::Get)?;
        Ok(self.lock().objects.get(&key(r)).cloned())
    }

    async fn apply(&self, object: &Value, dry_run: bool) -> Result<Value, ClusterError> {
        self.apply_managed(object, dry_run, FIELD_MANAGER)
    }

    async fn apply_as(
        &self,
        object: &Value,
        manager: &str,
        _force: bool,
    ) -> Result<Value, ClusterError> {
        self.apply_managed(object, false, manager)
    }

    async fn list_labelled(
        &self,
        group: &str,
        _version: &str,
        kind: &str,
        namespace: &str,
        selector: &[(&str, &str)],
    ) -> Result<Vec<Value>, ClusterError> {
        self.count("list", &kind, Verb::List)?;
        let state = self.lock();
        Ok(state
            .objects
            .iter()
            .filter(|((g, k, ns, _), _)| g == group && k == kind && ns == namespace)
            .map(|(_, v)| v.clone())
            .filter(|v| crate::cluster::labels_match(v, selector))
            .collect())
    }

    async fn patch_json(&self, r: &ObjectRef, patch: &Value) -> Result<Value, ClusterError> {
        self.count("patch", r, Verb::Patch)?;
        let mut state = self.lock();
        let Some(object) = state.objects.get_mut(&key(r)) else {
            return Err(ClusterError::new(
                Verb::Patch,
                r,
                Reason::NotFound,
                "not found",
            ));
        };
        for op in patch.as_array().into_iter().flatten() {
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
            let last = last.replace("~1", "/").replace("~0", "~");
            let Some(Value::Object(parent)) = object.pointer_mut(parent) else {
                continue;
            };
            match op.get("op").and_then(Value::as_str) {
                Some("remove") => {
                    parent.remove(&last);
                }
                Some("replace") | Some("add") => {
                    parent.insert(last, op.get("value").cloned().unwrap_or(Value::Null));
                }
                _ => {}
            }
        }
        Ok(object.clone())
    }

    async fn create(&self, object: &Value) -> Result<Value, ClusterError> {
        let r = crate::cluster::manifest_ref(object, Verb::Create)?;
        self.count("create", &r, Verb::Create)?;
        let mut state = self.lock();
        if state.objects.contains_key(&key(&r)) {
            return Err(ClusterError::new(
                Verb::Create,
                &r,
                Reason::Conflict,
                "already exists",
            ));
        }
        state.version += 1;
        let mut created = object.clone();
        created["metadata"]["resourceVersion"] = json!(state.version.to_string());
        state.objects.insert(key(&r), created.clone());
        Ok(created)
    }

    async fn delete(&self, r: &ObjectRef) -> Result<bool, ClusterError> {
        self.count("delete", r, Verb::Delete)?;
        Ok(self.lock().objects.remove(&key(r)).is_some())
    }
}
