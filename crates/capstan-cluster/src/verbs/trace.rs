//! `capstan trace KIND/NAME`: which Flux object manages an object, up to the source and the
//! revision it came from. Follows `ownerReferences` to the top owner (a Pod to its ReplicaSet to
//! its Deployment), then the `helm.toolkit.fluxcd.io/*` labels to a HelmRelease, the
//! `kustomize.toolkit.fluxcd.io/*` labels to the Kustomization that applied it, and each Flux
//! object's source reference to the source's artifact.

use serde_json::Value;

use super::get::Row;
use super::kinds::FluxKind;
use super::reconcile::source_of;
use crate::cluster::{Cluster, ClusterError};
use crate::id::ObjectRef;

/// One link of the chain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Link {
    pub object: ObjectRef,
    /// How this link was reached from the one before.
    pub via: String,
    /// For Flux objects: revision, Ready and its message.
    pub flux: Option<Row>,
    /// A source's URL.
    pub url: Option<String>,
    /// Whether the object exists.
    pub found: bool,
}

/// The `apiVersion` of the kinds users trace most, for `KIND/NAME` without `--api-version`.
pub fn api_version_of(kind: &str) -> Option<(&'static str, &'static str)> {
    let k = kind.to_ascii_lowercase();
    let k = k.strip_suffix('s').unwrap_or(&k);
    Some(match k {
        "deployment" | "deploy" => ("apps/v1", "Deployment"),
        "statefulset" | "sts" => ("apps/v1", "StatefulSet"),
        "daemonset" | "d" => ("apps/v1", "DaemonSet"),
        "replicaset" | "r" => ("apps/v1", "ReplicaSet"),
        "pod" | "po" => ("v1", "Pod"),
        "service" | "svc" => ("v1", "Service"),
        "configmap" | "cm" => ("v1", "ConfigMap"),
        "secret" => ("v1", "Secret"),
        "serviceaccount" | "sa" => ("v1", "ServiceAccount"),
        "persistentvolumeclaim" | "pvc" => ("v1", "PersistentVolumeClaim"),
        "namespace" | "n" => ("v1", "Namespace"),
        "job" => ("batch/v1", "Job"),
        "cronjob" | "cj" => ("batch/v1", "CronJob"),
        "ingress" | "ing" | "ingresse" => ("networking.k8s.io/v1", "Ingress"),
        "networkpolicy" | "networkpolicie" => ("networking.k8s.io/v1", "NetworkPolicy"),
        "role" => ("rbac.authorization.k8s.io/v1", "Role"),
        "rolebinding" => ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        "clusterrole" => ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        "clusterrolebinding" => ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        "customresourcedefinition" | "crd" => {
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        }
        "httproute" => ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        _ => {
            let flux = FluxKind::parse(kind)?;
            return Some((
                match flux {
                    FluxKind::Kustomization => "kustomize.toolkit.fluxcd.io/v1",
                    FluxKind::HelmRelease => "helm.toolkit.fluxcd.io/v2",
                    _ => "source.toolkit.fluxcd.io/v1",
                },
                flux.kind(),
            ));
        }
    })
}

/// Every hop is bounded: a chain longer than this is cut (a cycle of owners).
const MAX_LINKS: usize = 24;

/// The chain from `start` to its source.
pub async fn trace(cluster: &impl Cluster, start: ObjectRef) -> Result<Vec<Link>, ClusterError> {
    let mut chain = Vec::new();
    let mut next = Some((start, "the object".to_owned()));
    while let Some((r, via)) = next.take() {
        if chain.len() >= MAX_LINKS {
            break;
        }
        let object = cluster.get(&r).await?;
        let flux = FluxKind::of_kind(&r.kind).filter(|k| k.group() == r.group);
        let link = Link {
            object: r.clone(),
            via,
            flux: match (flux, &object) {
                (Some(k), Some(o)) => Some(Row::of(k, o)),
                _ => None,
            },
            url: object
                .as_ref()
                .and_then(|o| o.pointer("/spec/url"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            found: object.is_some(),
        };
        chain.push(link);
        let Some(object) = object else { break };
        next = step(flux, &r, &object);
    }
    Ok(chain)
}

/// The next hop from one object: a Flux object goes to its source (a source ends the chain);
/// any other object to its controller owner, else to the HelmRelease or Kustomization whose
/// labels it carries.
fn step(flux: Option<FluxKind>, r: &ObjectRef, object: &Value) -> Option<(ObjectRef, String)> {
    if let Some(k) = flux {
        let src = source_of(k, object)?;
        let via = match k {
            FluxKind::HelmRelease if object.pointer("/spec/chartRef").is_some() => "spec.chartRef",
            FluxKind::HelmRelease => "the HelmChart of spec.chart",
            _ => "spec.sourceRef",
        };
        return Some((src, via.into()));
    }
    if let Some(owner) = object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
                .or_else(|| refs.first())
        })
    {
        let api_version = owner
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        return Some((
            ObjectRef {
                group: group.into(),
                version: version.into(),
                kind: owner
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                namespace: r.namespace.clone(),
                name: owner
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
            },
            "ownerReferences".into(),
        ));
    }
    let label = |k: &str| {
        object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    for (kind, prefix) in [
        (FluxKind::HelmRelease, "helm.toolkit.fluxcd.io"),
        (FluxKind::Kustomization, "kustomize.toolkit.fluxcd.io"),
    ] {
        if let (Some(name), Some(ns)) = (
            label(&format!("{prefix}/name")),
            label(&format!("{prefix}/namespace")),
        ) {
            return Some((kind.object(ns, name), format!("{prefix} labels")));
        }
    }
    None
}

/// Whether a link is healthy: found, and Ready unless it is not a Flux object.
pub fn healthy(link: &Link) -> bool {
    link.found && link.flux.as_ref().is_none_or(|r| r.is_ready())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_follow_owners_then_labels_then_sources() {
        let pod = json!({"metadata": {"name": "web-1", "namespace": "apps",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d", "controller": true}]}});
        let r = ObjectRef::of(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "apps"}})).expect("ref");
        let (next, via) = step(None, &r, &pod).expect("owner");
        assert_eq!(
            (next.kind.as_str(), next.group.as_str(), via.as_str()),
            ("ReplicaSet", "apps", "ownerReferences")
        );
        let deploy = json!({"metadata": {"name": "web", "namespace": "apps", "labels": {
            "kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}}});
        let (next, _) = step(None, &r, &deploy).expect("labels");
        assert_eq!(
            (next.kind.as_str(), next.name.as_str()),
            ("Kustomization", "apps")
        );
        let ks = json!({"metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "flux-system"}}});
        let kr = FluxKind::Kustomization.object("flux-system", "apps");
        let (next, via) = step(Some(FluxKind::Kustomization), &kr, &ks).expect("source");
        assert_eq!(
            (next.kind.as_str(), via.as_str()),
            ("GitRepository", "spec.sourceRef")
        );
        assert!(
            step(
                Some(FluxKind::GitRepository),
                &next,
                &json!({"metadata": {"name": "x"}, "spec": {"url": "https://x"}})
            )
            .is_none()
        );
    }

    #[test]
    fn common_kinds_have_api_versions() {
        assert_eq!(api_version_of("deploy"), Some(("apps/v1", "Deployment")));
        assert_eq!(
            api_version_of("ks"),
            Some(("kustomize.toolkit.fluxcd.io/v1", "Kustomization"))
        );
        assert_eq!(api_version_of("widget"), None);
    }
}
