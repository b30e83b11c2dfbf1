//! `capstan tree KIND/NAME`: what a Kustomization manages, from its inventory (capstan's stored
//! inventory, else Flux's `status.inventory`), descending into the Kustomizations and
//! HelmReleases it applies; a HelmRelease's objects are read from the manifest of its latest
//! Helm release (`sh.helm.release.v1.<release>.v<version>` in its storage namespace).

use serde_json::Value;

use super::kinds::FluxKind;
use super::reconcile::source_of;
use super::{VerbError, fetch};
use crate::cluster::Cluster;
use crate::id::ObjectRef;
use crate::inventory;
use crate::normalize::Owner;

/// One node of the tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Node {
    pub object: ObjectRef,
    /// Where the children were read from (`inventory`, `status.inventory`, `helm release x.v3`),
    /// or why they could not be.
    pub note: Option<String>,
    pub children: Vec<Node>,
}

/// How deep to go at most (a cycle of Kustomizations applying each other stops here).
const MAX_DEPTH: usize = 16;

/// The tree under a Kustomization or HelmRelease.
pub async fn tree(
    cluster: &impl Cluster,
    kind: FluxKind,
    namespace: &str,
    name: &str,
) -> Result<Node, VerbError> {
    let object = fetch(cluster, kind, namespace, name).await?;
    Ok(Box::pin(expand(
        cluster,
        kind.object(namespace, name),
        Some(object),
        0,
    ))
    .await)
}

/// What a source feeds: the Kustomizations, HelmCharts and HelmReleases whose source it is (a
/// HelmChart in turn feeds HelmReleases), each with the tree under it.
pub async fn feeds(
    cluster: &impl Cluster,
    kind: FluxKind,
    namespace: &str,
    name: &str,
) -> Result<Node, VerbError> {
    fetch(cluster, kind, namespace, name).await?;
    Ok(Box::pin(fed_by(cluster, kind.object(namespace, name), 0)).await)
}

async fn fed_by(cluster: &impl Cluster, source: ObjectRef, depth: usize) -> Node {
    let mut node = Node {
        object: source.clone(),
        note: None,
        children: Vec::new(),
    };
    if depth >= MAX_DEPTH {
        node.note = Some("not expanded: too deep (a cycle?)".into());
        return node;
    }
    let mut unread = Vec::new();
    for k in [
        FluxKind::Kustomization,
        FluxKind::HelmChart,
        FluxKind::HelmRelease,
    ] {
        let objects = match cluster.list(k.group(), k.version(), k.kind()).await {
            Ok(objects) => objects,
            // Not served: nothing of that kind can use the source.
            Err(e) if e.reason == crate::cluster::Reason::NotFound => continue,
            Err(e) => {
                unread.push(format!("{} not listed: {}", k.kind(), e.message));
                continue;
            }
        };
        for o in objects {
            let fed = source_of(k, &o).is_some_and(|s| {
                (
                    s.group.as_str(),
                    s.kind.as_str(),
                    s.namespace.as_str(),
                    s.name.as_str(),
                ) == (
                    source.group.as_str(),
                    source.kind.as_str(),
                    source.namespace.as_str(),
                    source.name.as_str(),
                )
            });
            if !fed {
                continue;
            }
            let (ns, name) = super::kinds::namespace_name(&o);
            let r = k.object(&ns, &name);
            let child = if k == FluxKind::HelmChart {
                Box::pin(fed_by(cluster, r, depth + 1)).await
            } else {
                Box::pin(expand(cluster, r, Some(o), depth + 1)).await
            };
            node.children.push(child);
        }
    }
    node.note = if !unread.is_empty() {
        Some(unread.join("; "))
    } else if node.children.is_empty() {
        Some("feeds nothing".into())
    } else {
        Some("source of".into())
    };
    node
}

async fn expand(cluster: &impl Cluster, r: ObjectRef, object: Option<Value>, depth: usize) -> Node {
    let kind = FluxKind::of_kind(&r.kind).filter(|k| k.group() == r.group);
    let mut node = Node {
        object: r.clone(),
        note: None,
        children: Vec::new(),
    };
    if depth >= MAX_DEPTH {
        node.note = Some("not expanded: too deep (a cycle?)".into());
        return node;
    }
    let object = match object {
        Some(o) => Some(o),
        None if kind.is_some() => cluster.get(&r).await.ok().flatten(),
        None => None,
    };
    let children = match (kind, &object) {
        (Some(FluxKind::Kustomization), Some(o)) => {
            let owner = Owner {
                name: r.name.clone(),
                namespace: r.namespace.clone(),
            };
            let stored = cluster
                .get(&inventory::storage_ref(&owner))
                .await
                .ok()
                .flatten()
                .and_then(|cm| inventory::from_object(&cm));
            match stored {
                Some(inv) => {
                    node.note = Some("inventory".into());
                    Some(inv.refs())
                }
                None => match inventory::from_kustomization(o) {
                    Some(inv) => {
                        node.note = Some("status.inventory".into());
                        Some(inv.refs())
                    }
                    None => {
                        node.note = Some("no inventory (never applied?)".into());
                        None
                    }
                },
            }
        }
        (Some(FluxKind::HelmRelease), Some(o)) => match release_objects(cluster, o).await {
            Ok((release, refs)) => {
                node.note = Some(format!("helm release {release}"));
                Some(refs)
            }
            Err(why) => {
                node.note = Some(why);
                None
            }
        },
        _ => None,
    };
    for child in children.unwrap_or_default() {
        node.children
            .push(Box::pin(expand(cluster, child, None, depth + 1)).await);
    }
    node
}

/// The latest Helm release of a HelmRelease: its storage Secret's name and the objects of its
/// manifest; the reason when it cannot be read.
pub async fn release_objects(
    cluster: &impl Cluster,
    hr: &Value,
) -> Result<(String, Vec<ObjectRef>), String> {
    let s = |p: &str| hr.pointer(p).and_then(Value::as_str);
    let namespace = s("/metadata/namespace").unwrap_or("default");
    let latest = hr.pointer("/status/history/0");
    let release = latest
        .and_then(|h| h.get("name"))
        .and_then(Value::as_str)
        .or_else(|| s("/spec/releaseName"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let name = s("/metadata/name").unwrap_or("");
            match s("/spec/targetNamespace") {
                Some(t) => format!("{t}-{name}"),
                None => name.to_owned(),
            }
        });
    let storage = s("/status/storageNamespace")
        .or_else(|| s("/spec/storageNamespace"))
        .unwrap_or(namespace);
    let Some(version) = latest
        .and_then(|h| h.get("version"))
        .and_then(Value::as_i64)
    else {
        return Err("no release in status.history (not installed yet?)".into());
    };
    let secret_name = format!("sh.helm.release.v1.{release}.v{version}");
    let r = ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Secret".into(),
        namespace: storage.into(),
        name: secret_name.clone(),
    };
    let secret = match cluster.get(&r).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(format!("release storage {storage}/{secret_name} not found")),
        Err(e) => return Err(format!("reading {storage}/{secret_name}: {e}")),
    };
    let release_ns = latest
        .and_then(|h| h.get("namespace"))
        .and_then(Value::as_str)
        .or_else(|| s("/spec/targetNamespace"))
        .unwrap_or(namespace);
    let manifest = decode_release(&secret).map_err(|e| format!("{storage}/{secret_name}: {e}"))?;
    Ok((secret_name, manifest_objects(&manifest, release_ns)))
}

/// The `manifest` of a Helm release storage Secret (decoded by [`crate::release::storage`]).
pub fn decode_release(secret: &Value) -> Result<String, String> {
    crate::release::storage::release_from_secret(secret)
        .map(|release| release.manifest().to_owned())
        .map_err(|e| e.to_string())
}

/// The objects of a rendered manifest; namespaced objects without a namespace get the release's.
/// (Cluster-scoped kinds are not known offline: an object with no namespace is shown in the
/// release's namespace only when its kind is not a well-known cluster-scoped one.)
pub fn manifest_objects(manifest: &str, namespace: &str) -> Vec<ObjectRef> {
    const CLUSTER_SCOPED: [&str; 8] = [
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ];
    let docs = capstan_core::yaml::parse_documents(manifest).unwrap_or_default();
    docs.iter()
        .filter_map(|d| {
            let mut r = ObjectRef::of(d)?;
            if r.namespace.is_empty() && !CLUSTER_SCOPED.contains(&r.kind.as_str()) {
                r.namespace = namespace.to_owned();
            }
            Some(r)
        })
        .collect()
}

/// Every object in a tree, depth first (the root excluded).
pub fn flatten(node: &Node) -> Vec<&ObjectRef> {
    let mut out = Vec::new();
    for c in &node.children {
        out.push(&c.object);
        out.extend(flatten(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;
    use std::io::Write as _;

    #[test]
    fn release_manifests_decode_and_list_their_objects() {
        let release = json!({"name": "web", "namespace": "apps", "version": 1, "info": {"status": "deployed"}, "manifest": "---\n# Source: web/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: web\n"});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(release.to_string().as_bytes()).expect("gzip");
        let b64 = base64::engine::general_purpose::STANDARD;
        let helm = b64.encode(gz.finish().expect("gzip"));
        let secret = json!({"data": {"release": b64.encode(helm)}});
        let manifest = decode_release(&secret).expect("decodes");
        let objects = manifest_objects(&manifest, "apps");
        assert_eq!(objects.len(), 2);
        assert_eq!(
            (objects[0].kind.as_str(), objects[0].namespace.as_str()),
            ("Service", "apps")
        );
        assert_eq!(
            (objects[1].kind.as_str(), objects[1].namespace.as_str()),
            ("ClusterRole", "")
        );
    }
}
