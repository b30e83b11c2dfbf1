//! The inventory: which objects a Kustomization applied, in Flux's format
//! (`entries[] = {id: "<ns>_<name>_<group>_<kind>", v: "<version>"}`), stored in the cluster.
//!
//! Where: a Kustomization applied from the CLI has no controller to keep its status, so capstan
//! keeps the inventory in a ConfigMap `inventory.<namespace>.<name>` in the namespace
//! `capstan-system` (key `inventory`, the JSON of `{"entries": [...]}`; labelled `capstan.io/inventory-of-name|namespace`
//! and `app.kubernetes.io/managed-by: capstan`). A namespace holds no dots, so the name is
//! unambiguous. When no such ConfigMap exists, the live Kustomization's `status.inventory`
//! (written by Flux) is read instead, so a cluster Flux ran moves to capstan with its inventory.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::id::ObjectRef;
use crate::normalize::Owner;

/// Labels naming the Kustomization an inventory belongs to (not Flux's owner labels: the
/// ConfigMap is not one of the objects the Kustomization applies).
pub const OWNER_NAME_LABEL: &str = "capstan.io/inventory-of-name";
pub const OWNER_NAMESPACE_LABEL: &str = "capstan.io/inventory-of-namespace";

/// The namespace holding capstan's inventories.
pub const NAMESPACE: &str = "capstan-system";
/// The ConfigMap key holding the inventory JSON.
pub const KEY: &str = "inventory";

/// One inventory entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub id: String,
    pub v: String,
}

/// A Kustomization's inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Inventory {
    #[serde(default)]
    pub entries: Vec<Entry>,
}

impl Inventory {
    /// The inventory of these objects, sorted by id.
    pub fn of<'a>(refs: impl IntoIterator<Item = &'a ObjectRef>) -> Inventory {
        let set: BTreeSet<Entry> = refs
            .into_iter()
            .map(|r| Entry {
                id: r.inventory_id(),
                v: r.version.clone(),
            })
            .collect();
        Inventory {
            entries: set.into_iter().collect(),
        }
    }

    /// The objects it names (entries that do not parse are left out).
    pub fn refs(&self) -> Vec<ObjectRef> {
        self.entries
            .iter()
            .filter_map(|e| ObjectRef::from_inventory(&e.id, &e.v))
            .collect()
    }

    /// This inventory plus the entries of `other` it lacks (by id).
    pub fn union(&self, other: &Inventory) -> Inventory {
        let mut entries = self.entries.clone();
        for e in &other.entries {
            if !entries.iter().any(|x| x.id == e.id) {
                entries.push(e.clone());
            }
        }
        entries.sort();
        Inventory { entries }
    }

    /// Objects in `self` (the previous inventory) that `next` does not hold.
    pub fn stale(&self, next: &Inventory) -> Vec<ObjectRef> {
        self.refs()
            .into_iter()
            .filter(|r| !next.entries.iter().any(|e| e.id == r.inventory_id()))
            .collect()
    }
}

/// The ConfigMap that stores `owner`'s inventory.
pub fn storage_ref(owner: &Owner) -> ObjectRef {
    ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: NAMESPACE.into(),
        name: format!("inventory.{}.{}", owner.namespace, owner.name),
    }
}

/// The Namespace the inventories live in.
pub fn namespace_object() -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE,
        "labels": {"app.kubernetes.io/managed-by": "capstan"}}})
}

/// The annotation recording the Kustomization's `spec.prune` (what to do with its objects once
/// the repository no longer declares the Kustomization).
pub const PRUNE_ANNOTATION: &str = "capstan.io/prune";

/// The annotations recording the Kustomization's source (`Kind/namespace/name`) and the revision
/// of it last applied without failure (what `dependsOn`'s same-source rule compares).
pub const SOURCE_ANNOTATION: &str = "capstan.io/source";
pub const REVISION_ANNOTATION: &str = "capstan.io/revision";

/// The source and applied revision a stored inventory records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub source: Option<String>,
    pub revision: Option<String>,
}

impl Origin {
    pub fn of(object: &Value) -> Origin {
        let get = |key: &str| {
            object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Origin {
            source: get(SOURCE_ANNOTATION),
            revision: get(REVISION_ANNOTATION),
        }
    }
}

/// The ConfigMap to apply.
pub fn to_object(owner: &Owner, inventory: &Inventory, prune: bool, origin: &Origin) -> Value {
    let r = storage_ref(owner);
    let text = serde_json::to_string(inventory).unwrap_or_default();
    let mut annotations = serde_json::Map::new();
    annotations.insert(PRUNE_ANNOTATION.into(), Value::String(prune.to_string()));
    for (key, value) in [
        (SOURCE_ANNOTATION, &origin.source),
        (REVISION_ANNOTATION, &origin.revision),
    ] {
        if let Some(v) = value {
            annotations.insert(key.into(), Value::String(v.clone()));
        }
    }
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": r.name, "namespace": r.namespace,
        "annotations": annotations,
        "labels": {
            OWNER_NAME_LABEL: owner.name, OWNER_NAMESPACE_LABEL: owner.namespace,
            "app.kubernetes.io/managed-by": "capstan"}},
        "data": {KEY: text}})
}

/// The owner and `spec.prune` a stored inventory ConfigMap records.
pub fn owner_of(object: &Value) -> Option<(Owner, bool)> {
    let labels = object.pointer("/metadata/labels")?;
    let name = labels.get(OWNER_NAME_LABEL)?.as_str()?;
    let namespace = labels.get(OWNER_NAMESPACE_LABEL)?.as_str()?;
    let prune = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(PRUNE_ANNOTATION))
        .and_then(Value::as_str)
        == Some("true");
    Some((
        Owner {
            name: name.into(),
            namespace: namespace.into(),
        },
        prune,
    ))
}

/// The inventory in a stored ConfigMap.
pub fn from_object(object: &Value) -> Option<Inventory> {
    let text = object.pointer("/data/inventory")?.as_str()?;
    serde_json::from_str(text).ok()
}

/// The inventory Flux wrote in a live Kustomization's status.
pub fn from_kustomization(object: &Value) -> Option<Inventory> {
    serde_json::from_value(object.pointer("/status/inventory")?.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: &str, ns: &str, name: &str) -> ObjectRef {
        ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn stale_and_union() {
        let old = Inventory::of(&[r("ConfigMap", "a", "x"), r("ConfigMap", "a", "y")]);
        let new = Inventory::of(&[r("ConfigMap", "a", "y"), r("Secret", "a", "z")]);
        assert_eq!(old.stale(&new), vec![r("ConfigMap", "a", "x")]);
        assert_eq!(old.union(&new).entries.len(), 3);
        let owner = Owner {
            name: "apps".into(),
            namespace: "flux-system".into(),
        };
        let origin = Origin {
            source: Some("GitRepository/flux-system/flux-system".into()),
            revision: Some("main@sha1:abc".into()),
        };
        let stored = to_object(&owner, &new, true, &origin);
        assert_eq!(Origin::of(&stored), origin);
        assert_eq!(owner_of(&stored), Some((owner.clone(), true)));
        assert_eq!(stored["metadata"]["name"], "inventory.flux-system.apps");
        assert_eq!(from_object(&stored), Some(new.clone()));
        let ks = json!({"status":{"inventory":{"entries":[{"id":"a_y__ConfigMap","v":"v1"}]}}});
        assert_eq!(
            from_kustomization(&ks).map(|i| i.refs()),
            Some(vec![r("ConfigMap", "a", "y")])
        );
    }
}
