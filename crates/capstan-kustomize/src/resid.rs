//! Resource identity as kustomize sees it: group/version/kind plus name and namespace, where an
//! empty namespace of a namespaced kind means `default`, and cluster-scoped kinds have none.

use std::fmt;

use capstan_core::Value;

/// Group, version and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(
        group: impl Into<String>,
        version: impl Into<String>,
        kind: impl Into<String>,
    ) -> Gvk {
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// Reads `apiVersion` and `kind` of an object.
    pub fn of(object: &Value) -> Gvk {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = split_api_version(api_version);
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        Gvk::new(group, version, kind)
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// True when every non-empty part of `selector` equals this one's.
    pub fn is_selected(&self, selector: &Gvk) -> bool {
        (selector.group.is_empty() || selector.group == self.group)
            && (selector.version.is_empty() || selector.version == self.version)
            && (selector.kind.is_empty() || selector.kind == self.kind)
    }

    /// True for the kinds kustomize's embedded OpenAPI (Kubernetes v1.21) knows to be cluster
    /// scoped. Unknown kinds are namespaced, as in kustomize.
    pub fn is_cluster_scoped(&self) -> bool {
        CLUSTER_SCOPED.iter().any(|(v, k)| {
            *k == self.kind
                && match v.split_once('/') {
                    Some((group, version)) => group == self.group && version == self.version,
                    None => self.group.is_empty() && *v == self.version,
                }
        })
    }

    /// kustomize's sort key for a kind without a fixed position: `group_version_kind` with
    /// `~G`, `~V`, `~K` for empty parts.
    fn stable_sort_string(&self) -> String {
        let or = |s: &str, d: &str| {
            if s.is_empty() {
                d.to_owned()
            } else {
                s.to_owned()
            }
        };
        format!(
            "{}_{}_{}",
            or(&self.group, "~G"),
            or(&self.version, "~V"),
            or(&self.kind, "~K")
        )
    }

    /// kustomize's legacy kind order: the fixed first kinds, then the rest by
    /// `group_version_kind`, then the fixed last kinds.
    pub fn legacy_cmp(&self, other: &Gvk) -> std::cmp::Ordering {
        let rank = |kind: &str| -> i64 {
            if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
                return i as i64 - ORDER_FIRST.len() as i64;
            }
            if let Some(i) = ORDER_LAST.iter().position(|k| *k == kind) {
                return 1 + i as i64;
            }
            0
        };
        rank(&self.kind)
            .cmp(&rank(&other.kind))
            .then_with(|| self.stable_sort_string().cmp(&other.stable_sort_string()))
    }
}

impl fmt::Display for Gvk {
    /// `Kind.version.group` with `[noKind]`, `[noVer]`, `[noGrp]` for empty parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or = |s: &str, d: &'static str| {
            if s.is_empty() {
                d.to_owned()
            } else {
                s.to_owned()
            }
        };
        write!(
            f,
            "{}.{}.{}",
            or(&self.kind, "[noKind]"),
            or(&self.version, "[noVer]"),
            or(&self.group, "[noGrp]")
        )
    }
}

/// Kinds placed first by the legacy order, in this order.
pub const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds placed last by the legacy order, in this order.
pub const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// `(apiVersion, kind)` pairs that kustomize's built-in schema marks cluster scoped.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
    ),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
];

/// Splits `apiVersion` at its first `/` into `(group, version)`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// The identity of a resource: kind, name and namespace as written (empty when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResId {
    pub gvk: Gvk,
    pub name: String,
    pub namespace: String,
}

/// The namespace kustomize assigns to cluster-scoped ids when comparing.
pub const NOT_A_NAMESPACE: &str = "_non_namespaceable_";

impl ResId {
    pub fn new(gvk: Gvk, name: impl Into<String>, namespace: impl Into<String>) -> ResId {
        ResId {
            gvk,
            name: name.into(),
            namespace: namespace.into(),
        }
    }

    /// The current id of an object.
    pub fn of(object: &Value) -> ResId {
        let metadata = object.get("metadata");
        let field = |name: &str| {
            metadata
                .and_then(|m| m.get(name))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        ResId {
            gvk: Gvk::of(object),
            name: field("name"),
            namespace: field("namespace"),
        }
    }

    /// The namespace used for comparison: `default` for an empty namespace of a namespaced
    /// kind, a marker for cluster-scoped kinds.
    pub fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            NOT_A_NAMESPACE
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// kustomize's `ResId.Equals`: same gvk and name, same effective namespace.
    pub fn equals(&self, other: &ResId) -> bool {
        self.gvkn_equals(other) && self.effective_namespace() == other.effective_namespace()
    }

    /// Same gvk and name, namespace ignored.
    pub fn gvkn_equals(&self, other: &ResId) -> bool {
        self.name == other.name && self.gvk == other.gvk
    }

    /// kustomize's `IsSelectedBy`: every non-empty part of `selector` matches.
    pub fn is_selected_by(&self, selector: &ResId) -> bool {
        (selector.name.is_empty() || selector.name == self.name)
            && (selector.namespace.is_empty()
                || selector.effective_namespace() == self.effective_namespace())
            && self.gvk.is_selected(&selector.gvk)
    }

    /// The core crate's identity type.
    pub fn to_resource_id(&self) -> capstan_core::ResourceId {
        capstan_core::ResourceId {
            group: self.gvk.group.clone(),
            version: self.gvk.version.clone(),
            kind: self.gvk.kind.clone(),
            namespace: (!self.namespace.is_empty()).then(|| self.namespace.clone()),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for ResId {
    /// `Kind.version.group/name.namespace`, as kustomize prints ids in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            "[noName]"
        } else {
            &self.name
        };
        let ns = if self.namespace.is_empty() {
            "[noNs]"
        } else {
            &self.namespace
        };
        write!(f, "{}/{}.{}", self.gvk, name, ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_kustomize() {
        let id = ResId::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
        );
        assert_eq!(id.to_string(), "Deployment.v1.apps/d.[noNs]");
        let ns =
            ResId::of(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}));
        assert_eq!(ns.effective_namespace(), NOT_A_NAMESPACE);
    }

    #[test]
    fn default_namespace_is_equal_to_empty() {
        let a = ResId::new(Gvk::new("", "v1", "ConfigMap"), "c", "");
        let b = ResId::new(Gvk::new("", "v1", "ConfigMap"), "c", "default");
        assert!(a.equals(&b));
    }

    #[test]
    fn legacy_order() {
        let ns = Gvk::new("", "v1", "Namespace");
        let dep = Gvk::new("apps", "v1", "Deployment");
        let other = Gvk::new("x", "v1", "Foo");
        let hook = Gvk::new(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingWebhookConfiguration",
        );
        assert!(ns.legacy_cmp(&dep).is_lt());
        assert!(dep.legacy_cmp(&other).is_lt());
        assert!(other.legacy_cmp(&hook).is_lt());
    }
}
