//! Resource identity: the group/version/kind/namespace/name five-tuple objects are matched by.

use std::fmt;

use crate::Value;

/// The identity of a Kubernetes object.
///
/// `namespace` is `None` for cluster-scoped objects and for namespaced objects that have not been
/// given one yet; callers that know the scope decide what an absent namespace means.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ResourceId {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ResourceId {
    /// Reads the identity of an object from its `apiVersion`, `kind` and `metadata`.
    /// Missing fields become empty strings; use [`ResourceId::is_complete`] to reject them.
    pub fn of(object: &Value) -> ResourceId {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = split_api_version(api_version);
        let metadata = object.get("metadata");
        let field = |name: &str| {
            metadata
                .and_then(|m| m.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        ResourceId {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: object
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            namespace: field("namespace").filter(|ns| !ns.is_empty()),
            name: field("name").unwrap_or_default(),
        }
    }

    /// True when kind, version and name are all present.
    pub fn is_complete(&self) -> bool {
        !self.kind.is_empty() && !self.version.is_empty() && !self.name.is_empty()
    }

    /// `apiVersion` as written in a manifest: `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The identity without the version, as objects are matched across API versions.
    pub fn group_kind(&self) -> (&str, &str) {
        (&self.group, &self.kind)
    }
}

/// Splits `apiVersion` into `(group, version)`; the core group is the empty string.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

impl fmt::Display for ResourceId {
    /// `Kind/namespace/name` (or `Kind/name` for cluster-scoped), with the group when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.kind)?;
        } else {
            write!(f, "{}.{}", self.kind, self.group)?;
        }
        match &self.namespace {
            Some(ns) => write!(f, "/{}/{}", ns, self.name),
            None => write!(f, "/{}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_identity() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "web", "namespace": "default"}});
        let id = ResourceId::of(&obj);
        assert_eq!(id.group, "apps");
        assert_eq!(id.version, "v1");
        assert_eq!(id.to_string(), "Deployment.apps/default/web");
        assert!(id.is_complete());
    }

    #[test]
    fn core_group_and_cluster_scope() {
        let id = ResourceId::of(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}),
        );
        assert_eq!(id.api_version(), "v1");
        assert_eq!(id.to_string(), "Namespace/x");
        assert!(!ResourceId::of(&json!({"kind": "X"})).is_complete());
    }
}
