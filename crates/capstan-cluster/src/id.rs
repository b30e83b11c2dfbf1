//! Object references and Flux's inventory ids: `<namespace>_<name>_<group>_<kind>`, with the
//! core group and cluster scope written as empty strings and `:` in names written `__`
//! (RBAC names). Parsing follows cli-utils: the first `_` ends the namespace, the last two give
//! group and kind, and what is left between is the name.

use std::fmt;

use serde_json::Value;

/// One object in the cluster: group, version, kind, namespace (empty when cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ObjectRef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    /// The reference of a manifest; `None` when apiVersion, kind or metadata.name is missing.
    pub fn of(object: &Value) -> Option<ObjectRef> {
        let api_version = object.get("apiVersion")?.as_str()?;
        let kind = object.get("kind")?.as_str()?;
        let metadata = object.get("metadata")?;
        let name = metadata.get("name")?.as_str()?;
        let namespace = metadata
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = split_api_version(api_version);
        Some(ObjectRef {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Flux's inventory id.
    pub fn inventory_id(&self) -> String {
        format!(
            "{}_{}_{}_{}",
            self.namespace,
            self.name.replace(':', "__"),
            self.group,
            self.kind
        )
    }

    /// The reference an inventory entry names.
    pub fn from_inventory(id: &str, version: &str) -> Option<ObjectRef> {
        let (namespace, rest) = id.split_once('_')?;
        let (rest, kind) = rest.rsplit_once('_')?;
        let (name, group) = rest.rsplit_once('_')?;
        if name.is_empty() || kind.is_empty() {
            return None;
        }
        Some(ObjectRef {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.replace("__", ":"),
        })
    }

    /// Same object whatever the version.
    pub fn same_object(&self, other: &ObjectRef) -> bool {
        self.group == other.group
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind/namespace/name` or `Kind/name`, as Flux prints objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_round_trip_as_flux_writes_them() {
        let cases = [
            (
                json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"}}),
                "_team-a__Namespace",
            ),
            (
                json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"apps"}}),
                "apps_web_apps_Deployment",
            ),
            (
                json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"system:foo_bar"}}),
                "_system__foo_bar_rbac.authorization.k8s.io_ClusterRole",
            ),
            (
                json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a_b","namespace":"x"}}),
                "x_a_b__ConfigMap",
            ),
        ];
        for (object, id) in cases {
            let r = ObjectRef::of(&object).expect("ref");
            assert_eq!(r.inventory_id(), id);
            let back = ObjectRef::from_inventory(id, &r.version).expect("parse");
            assert_eq!(back, r, "{id}");
        }
        assert_eq!(ObjectRef::from_inventory("nounderscore", "v1"), None);
    }
}
