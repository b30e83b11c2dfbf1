//! The cluster's state: every object by group, resource, namespace and name; the one global
//! resourceVersion counter; the event history watches resume from (older resourceVersions are
//! 410 Gone); and the reads — get and list with label and field selectors.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::meta::{self, FieldSelector, LabelSelector};
use crate::registry::{Registry, ResourceType};
use crate::sidedoor::SideState;
use crate::status::ApiError;

/// Where an object lives: group, plural, namespace ("" for cluster scope), name.
pub type Key = (String, String, String, String);

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub rv: u64,
    pub kind: EventKind,
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub object: Value,
}

/// How many events the history keeps for watches to resume from.
pub const HISTORY: usize = 20_000;

/// The whole state, behind one lock.
pub struct Store {
    pub rv: u64,
    pub registry: Registry,
    pub objects: BTreeMap<Key, Value>,
    pub history: VecDeque<Arc<WatchEvent>>,
    /// Watches from a resourceVersion below this are too old (410).
    pub history_floor: u64,
    pub tx: broadcast::Sender<Arc<WatchEvent>>,
    pub seq: u64,
    pub side: SideState,
}

impl Store {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(65_536);
        let mut s = Store {
            rv: 1,
            registry: Registry::builtin(),
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_floor: 1,
            tx,
            seq: 0,
            side: SideState::default(),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            s.bootstrap_namespace(ns);
        }
        s
    }

    fn bootstrap_namespace(&mut self, name: &str) {
        let Some(rt) = self.registry.by_resource("", "v1", "namespaces") else {
            return;
        };
        let uid = self.next_uid();
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": uid,
                "creationTimestamp": meta::now_rfc3339(),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        self.put(&rt, obj, EventKind::Added);
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn next_uid(&mut self) -> String {
        let n = self.next_seq();
        meta::new_uid(n)
    }

    pub fn key(rt: &ResourceType, namespace: &str, name: &str) -> Key {
        let ns = if rt.namespaced { namespace } else { "" };
        (
            rt.group.clone(),
            rt.plural.clone(),
            ns.to_string(),
            name.to_string(),
        )
    }

    /// The stored object, shown at the type's version.
    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .get(&Self::key(rt, namespace, name))
            .map(|o| present(rt, o))
    }

    pub fn get_or_404(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.get(rt, namespace, name)
            .ok_or_else(|| ApiError::not_found(&rt.plural, &rt.group, name))
    }

    /// Objects of a type (in one namespace, or all), filtered by selectors.
    pub fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Vec<Value> {
        let start = (
            rt.group.clone(),
            rt.plural.clone(),
            String::new(),
            String::new(),
        );
        self.objects
            .range(start..)
            .take_while(|(k, _)| k.0 == rt.group && k.1 == rt.plural)
            .filter(|(k, _)| namespace.is_none_or(|ns| !rt.namespaced || k.2 == ns))
            .map(|(_, o)| o)
            .filter(|o| labels.matches(&meta::labels(o)) && fields.matches(o))
            .map(|o| present(rt, o))
            .collect()
    }

    /// The List object for `items`.
    pub fn list_object(&self, rt: &ResourceType, items: Vec<Value>) -> Value {
        json!({
            "apiVersion": rt.api_version(),
            "kind": format!("{}List", rt.kind),
            "metadata": {"resourceVersion": self.rv.to_string()},
            "items": items,
        })
    }

    /// Stores `obj` at a new resourceVersion and tells the watches.
    pub fn put(&mut self, rt: &ResourceType, mut obj: Value, kind: EventKind) -> Value {
        self.rv += 1;
        let rv = self.rv;
        meta::metadata_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let key = Self::key(rt, meta::namespace(&obj), meta::name(&obj));
        self.objects.insert(key.clone(), obj.clone());
        self.emit(rt, &key, kind, obj.clone());
        obj
    }

    /// Removes an object; the DELETED event carries a new resourceVersion.
    pub fn remove(&mut self, rt: &ResourceType, namespace: &str, name: &str) -> Option<Value> {
        let key = Self::key(rt, namespace, name);
        let mut obj = self.objects.remove(&key)?;
        self.rv += 1;
        meta::metadata_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.emit(rt, &key, EventKind::Deleted, obj.clone());
        Some(present(rt, &obj))
    }

    fn emit(&mut self, rt: &ResourceType, key: &Key, kind: EventKind, object: Value) {
        let ev = Arc::new(WatchEvent {
            rv: self.rv,
            kind,
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            namespace: key.2.clone(),
            object,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > HISTORY {
            if let Some(old) = self.history.pop_front() {
                self.history_floor = old.rv;
            }
        }
        let _ = self.tx.send(ev);
    }

    /// Forgets the event history: every watch from an older resourceVersion gets 410.
    pub fn compact(&mut self) {
        self.history.clear();
        self.history_floor = self.rv;
    }

    /// Whether a namespace exists, and whether it is terminating.
    pub fn namespace_state(&self, name: &str) -> Option<bool> {
        let key = (
            String::new(),
            "namespaces".to_string(),
            String::new(),
            name.to_string(),
        );
        self.objects
            .get(&key)
            .map(|ns| meta::is_deleting(ns) || meta::str_at(ns, "/status/phase") == "Terminating")
    }

    /// Every stored object with its type (for controllers and garbage collection).
    pub fn all_objects(&self) -> Vec<(Arc<ResourceType>, Value)> {
        self.objects
            .iter()
            .filter_map(|(k, o)| {
                let rt = self.storage_type(&k.0, &k.1)?;
                Some((rt, o.clone()))
            })
            .collect()
    }

    /// The type objects of a group and resource are stored at.
    pub fn storage_type(&self, group: &str, plural: &str) -> Option<Arc<ResourceType>> {
        let mut found = None;
        for t in self.registry.all() {
            if t.group == group && t.plural == plural {
                if t.storage {
                    return Some(t.clone());
                }
                found.get_or_insert_with(|| t.clone());
            }
        }
        found
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// An object as served at `rt`'s version.
pub fn present(rt: &ResourceType, obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version()));
        m.insert("kind".into(), json!(rt.kind));
    }
    o
}
