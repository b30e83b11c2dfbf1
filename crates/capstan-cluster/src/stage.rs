//! Apply stages and the order inside a stage, as fluxcd/pkg `ssa` sorts and stages objects:
//! CRDs, Namespaces and ClusterRoles first (then wait for them), then `*Class` kinds (then wait),
//! then everything else. Inside a stage a fixed list of kinds goes first, other kinds follow by
//! group then kind, webhook configurations last; ties break on namespace, then name.

use crate::id::ObjectRef;

/// The three stages; objects of an earlier stage are applied and waited for before a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Stage {
    /// CRDs, Namespaces, ClusterRoles.
    Cluster,
    /// Kinds whose name ends in `Class`.
    Class,
    /// Everything else.
    Rest,
}

impl Stage {
    pub fn of(r: &ObjectRef) -> Stage {
        let crd = r.kind == "CustomResourceDefinition" && r.group == "apiextensions.k8s.io";
        let namespace = r.kind == "Namespace" && r.group.is_empty();
        let cluster_role = r.kind == "ClusterRole" && r.group == "rbac.authorization.k8s.io";
        if crd || namespace || cluster_role {
            Stage::Cluster
        } else if r.kind.ends_with("Class") {
            Stage::Class
        } else {
            Stage::Rest
        }
    }

    /// Whether the stage's objects are waited for before the next stage goes.
    pub fn waits(self) -> bool {
        self != Stage::Rest
    }
}

const FIRST: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "ClusterRole",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ClusterRoleBinding",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The sort key of an object inside its stage.
pub fn order_key(r: &ObjectRef) -> (usize, String, String, String, String) {
    let rank = if let Some(i) = FIRST.iter().position(|k| *k == r.kind) {
        i
    } else if let Some(i) = LAST.iter().position(|k| *k == r.kind) {
        FIRST.len() + 1 + i
    } else {
        FIRST.len()
    };
    let (group, kind) = if rank == FIRST.len() {
        (r.group.clone(), r.kind.clone())
    } else {
        (String::new(), String::new())
    };
    (rank, group, kind, r.namespace.clone(), r.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(group: &str, kind: &str, ns: &str, name: &str) -> ObjectRef {
        ObjectRef {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn stages() {
        assert_eq!(
            Stage::of(&r(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                "",
                "a"
            )),
            Stage::Cluster
        );
        assert_eq!(Stage::of(&r("", "Namespace", "", "a")), Stage::Cluster);
        assert_eq!(
            Stage::of(&r("rbac.authorization.k8s.io", "ClusterRole", "", "a")),
            Stage::Cluster
        );
        assert_eq!(
            Stage::of(&r("storage.k8s.io", "StorageClass", "", "a")),
            Stage::Class
        );
        assert_eq!(Stage::of(&r("apps", "Deployment", "x", "a")), Stage::Rest);
    }

    #[test]
    fn order_inside_a_stage() {
        let mut objects = vec![
            r(
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
                "",
                "v",
            ),
            r("zeta.io", "Alpha", "b", "x"),
            r("alpha.io", "Zeta", "a", "x"),
            r("apps", "Deployment", "b", "web"),
            r("apps", "Deployment", "a", "web"),
            r("", "ConfigMap", "b", "c"),
            r("", "ServiceAccount", "b", "c"),
        ];
        objects.sort_by_key(order_key);
        let kinds: Vec<_> = objects
            .iter()
            .map(|o| format!("{}/{}", o.kind, o.namespace))
            .collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount/b",
                "ConfigMap/b",
                "Deployment/a",
                "Deployment/b",
                "Zeta/a",
                "Alpha/b",
                "ValidatingWebhookConfiguration/"
            ]
        );
    }
}
