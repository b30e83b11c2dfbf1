//! The resource types the server serves: the built-in kinds capstan, kubectl and helm touch, and
//! the kinds of Established CustomResourceDefinitions (each served version). A type knows its
//! REST names, scope, subresources, whether the server tracks `metadata.generation` for it, and
//! its merge schema.

use std::sync::Arc;

use serde_json::Value;

use crate::ssa::schema::{self, TypeRef};

/// One served group/version/resource.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub status: bool,
    pub scale: bool,
    pub generation: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub schema: TypeRef,
    /// The CRD that defines it (custom resources only).
    pub crd: Option<String>,
    /// Whether this version is the storage version (custom resources; built-ins always are).
    pub storage: bool,
    /// The CRD version's `openAPIV3Schema`, as written (custom resources only).
    pub openapi: Option<Arc<Value>>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, `pods`: how messages name the resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

struct B {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    status: bool,
    generation: bool,
    short: &'static [&'static str],
}

/// Namespaced.
const NS: u8 = 1;
/// Has a status subresource.
const ST: u8 = 2;
/// The server tracks `metadata.generation`.
const GEN: u8 = 4;

const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    flags: u8,
    short: &'static [&'static str],
) -> B {
    B {
        group,
        version,
        kind,
        plural,
        namespaced: flags & NS != 0,
        status: flags & ST != 0,
        generation: flags & GEN != 0,
        short,
    }
}

const BUILTINS: &[B] = &[
    b("", "v1", "Namespace", "namespaces", ST, &["ns"]),
    b("", "v1", "Pod", "pods", NS | ST, &["po"]),
    b("", "v1", "Service", "services", NS | ST, &["svc"]),
    b("", "v1", "ConfigMap", "configmaps", NS, &["cm"]),
    b("", "v1", "Secret", "secrets", NS, &[]),
    b("", "v1", "ServiceAccount", "serviceaccounts", NS, &["sa"]),
    b(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        NS | ST,
        &["pvc"],
    ),
    b(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        ST,
        &["pv"],
    ),
    b("", "v1", "Event", "events", NS, &["ev"]),
    b("", "v1", "Endpoints", "endpoints", NS, &["ep"]),
    b("", "v1", "Node", "nodes", ST, &["no"]),
    b("", "v1", "LimitRange", "limitranges", NS, &["limits"]),
    b(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        NS | ST,
        &["quota"],
    ),
    b(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        NS | ST | GEN,
        &["rc"],
    ),
    b("", "v1", "PodTemplate", "podtemplates", NS, &[]),
    b(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        NS | ST | GEN,
        &["deploy"],
    ),
    b(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        NS | ST | GEN,
        &["sts"],
    ),
    b(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        NS | ST | GEN,
        &["ds"],
    ),
    b(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        NS | ST | GEN,
        &["rs"],
    ),
    b(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        NS,
        &[],
    ),
    b("batch", "v1", "Job", "jobs", NS | ST | GEN, &[]),
    b("batch", "v1", "CronJob", "cronjobs", NS | ST | GEN, &["cj"]),
    b("rbac.authorization.k8s.io", "v1", "Role", "roles", NS, &[]),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        NS,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        0,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        0,
        &[],
    ),
    b(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        ST | GEN,
        &["crd", "crds"],
    ),
    b(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        NS | ST | GEN,
        &["ing"],
    ),
    b(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        0,
        &[],
    ),
    b(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        NS | GEN,
        &["netpol"],
    ),
    b(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        NS | ST | GEN,
        &["pdb"],
    ),
    b(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        0,
        &["sc"],
    ),
    b("storage.k8s.io", "v1", "CSIDriver", "csidrivers", 0, &[]),
    b("coordination.k8s.io", "v1", "Lease", "leases", NS, &[]),
    b("events.k8s.io", "v1", "Event", "events", NS, &["ev"]),
    b(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        GEN,
        &[],
    ),
    b(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        GEN,
        &[],
    ),
    b(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        NS | ST,
        &["hpa"],
    ),
    b(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        0,
        &["pc"],
    ),
    b(
        "node.k8s.io",
        "v1",
        "RuntimeClass",
        "runtimeclasses",
        0,
        &[],
    ),
    b(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        ST,
        &[],
    ),
    b(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        NS,
        &[],
    ),
];

/// Every type currently served.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
}

impl Registry {
    /// The built-in types.
    pub fn builtin() -> Self {
        let types = BUILTINS
            .iter()
            .map(|t| {
                let schema =
                    schema::builtin_kind(t.group, t.version, t.kind).unwrap_or(TypeRef::Untyped);
                Arc::new(ResourceType {
                    group: t.group.into(),
                    version: t.version.into(),
                    kind: t.kind.into(),
                    plural: t.plural.into(),
                    singular: t.kind.to_lowercase(),
                    namespaced: t.namespaced,
                    status: t.status,
                    scale: matches!(t.kind, "Deployment" | "StatefulSet" | "ReplicaSet"),
                    generation: t.generation,
                    short_names: t.short.iter().map(|s| s.to_string()).collect(),
                    categories: Vec::new(),
                    schema,
                    crd: None,
                    storage: true,
                    openapi: None,
                })
            })
            .collect();
        Registry { types }
    }

    pub fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// The type served at group/version/plural.
    pub fn by_resource(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The type of an apiVersion and kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let (group, version) = split_api_version(api_version);
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .cloned()
    }

    /// Any served version of a group and kind (for owner references and garbage collection).
    pub fn by_group_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.kind == kind)
            .cloned()
    }

    /// The groups, in a stable order (core first, then as registered), with their versions.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.types {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) => {
                    if !vs.contains(&t.version) {
                        vs.push(t.version.clone());
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        out
    }

    /// Replaces the types a CRD serves (none when it is gone or not Established).
    pub fn set_crd(&mut self, crd_name: &str, types: Vec<ResourceType>) {
        self.types.retain(|t| t.crd.as_deref() != Some(crd_name));
        self.types.extend(types.into_iter().map(Arc::new));
    }
}

/// `apps/v1` → ("apps", "v1"); `v1` → ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The types a CRD object defines: one per served version.
pub fn crd_types(crd: &Value) -> Vec<ResourceType> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
    let s = |p: &str| {
        spec.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let group = s("/group");
    let kind = s("/names/kind");
    let plural = s("/names/plural");
    let mut singular = s("/names/singular");
    if singular.is_empty() {
        singular = kind.to_lowercase();
    }
    let namespaced = s("/scope") != "Cluster";
    let strings = |p: &str| -> Vec<String> {
        spec.pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let short_names = strings("/names/shortNames");
    let categories = strings("/names/categories");
    let mut out = Vec::new();
    for v in spec
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let version = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let schema = v
            .pointer("/schema/openAPIV3Schema")
            .map(schema::from_openapi_v3)
            .unwrap_or(TypeRef::Untyped);
        out.push(ResourceType {
            group: group.clone(),
            version,
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced,
            status: v.pointer("/subresources/status").is_some(),
            scale: v.pointer("/subresources/scale").is_some(),
            generation: true,
            short_names: short_names.clone(),
            categories: categories.clone(),
            schema,
            crd: Some(name.to_string()),
            storage: v.get("storage").and_then(Value::as_bool).unwrap_or(false),
            openapi: v
                .pointer("/schema/openAPIV3Schema")
                .map(|s| Arc::new(s.clone())),
        });
    }
    out
}
