//! The live objects the engine compares against, read once per kind: one LIST per kind the
//! desired objects and inventories name, instead of a GET per object (Flux's controller makes a
//! GET and a dry-run per object). Writes the engine makes update the cache. Kinds the server
//! does not serve yet (a CRD in the same apply) are re-read after discovery is refreshed; kinds
//! whose list failed fall back to a GET per object.
//! In a long-lived process the lists come from watches ([`crate::kube_api::KubeApi::watching`]),
//! so each run starts from a cache other managers' changes have reached, at no request.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::cluster::{Cluster, ClusterError};
use crate::id::ObjectRef;

type Kind = (String, String);
type Key = (String, String, String, String);

fn key(r: &ObjectRef) -> Key {
    (
        r.group.clone(),
        r.kind.clone(),
        r.namespace.clone(),
        r.name.clone(),
    )
}

/// What the cache knows about one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known<'a> {
    Present(&'a Value),
    Absent,
    /// Its kind was not listed: ask the server.
    Unknown,
}

/// Live objects by kind.
#[derive(Debug, Default)]
pub struct LiveCache {
    objects: HashMap<Key, Value>,
    loaded: HashSet<Kind>,
    scopes: HashMap<Kind, Option<bool>>,
}

impl LiveCache {
    /// Lists every kind of `refs` not listed yet. A kind the server does not serve is remembered
    /// as such (and holds nothing); a failed list leaves the kind unknown.
    pub async fn load<C: Cluster>(&mut self, cluster: &C, refs: &[ObjectRef]) -> Vec<ClusterError> {
        let mut errors = Vec::new();
        let mut seen = HashSet::new();
        for r in refs {
            let kind = (r.group.clone(), r.kind.clone());
            if self.loaded.contains(&kind) || !seen.insert(kind.clone()) {
                continue;
            }
            let scope = match self.scopes.get(&kind) {
                Some(s) => *s,
                None => match cluster.scope(r).await {
                    Ok(s) => {
                        self.scopes.insert(kind.clone(), s);
                        s
                    }
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                },
            };
            if scope.is_none() {
                self.loaded.insert(kind);
                continue;
            }
            match cluster.list(&r.group, &r.version, &r.kind).await {
                Ok(items) => {
                    for item in items {
                        if let Some(mut ir) = ObjectRef::of(&item) {
                            ir.kind = r.kind.clone();
                            self.objects.insert(key(&ir), item);
                        }
                    }
                    self.loaded.insert(kind);
                }
                Err(e) => errors.push(e),
            }
        }
        errors
    }

    /// The kind's scope per the last discovery: `Some(true)` namespaced, `None` not served or
    /// not looked up.
    pub fn scope(&self, r: &ObjectRef) -> Option<bool> {
        self.scopes
            .get(&(r.group.clone(), r.kind.clone()))
            .copied()
            .flatten()
    }

    pub fn get(&self, r: &ObjectRef) -> Known<'_> {
        match self.objects.get(&key(r)) {
            Some(v) => Known::Present(v),
            None if self.loaded.contains(&(r.group.clone(), r.kind.clone())) => Known::Absent,
            None => Known::Unknown,
        }
    }

    /// Every cached object of a kind in a namespace.
    pub fn objects_in(&self, group: &str, kind: &str, namespace: &str) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|((g, k, ns, _), _)| g == group && k == kind && ns == namespace)
            .map(|(_, v)| v)
            .collect()
    }

    pub fn put(&mut self, r: &ObjectRef, object: Value) {
        self.objects.insert(key(r), object);
    }

    pub fn remove(&mut self, r: &ObjectRef) {
        self.objects.remove(&key(r));
    }

    /// Forgets kinds that were not served, so they are listed again (after new CRDs).
    pub fn forget_unserved(&mut self) {
        let unserved: Vec<Kind> = self
            .scopes
            .iter()
            .filter(|(_, s)| s.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for kind in unserved {
            self.scopes.remove(&kind);
            self.loaded.remove(&kind);
        }
    }
}
