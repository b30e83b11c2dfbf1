//! A rendered chart split as Helm splits it: `helm template` prints each document under `---`
//! and `# Source: PATH`; documents annotated `helm.sh/hook` are hooks, the rest form the
//! release's manifest, written back as Helm writes it (`---\n# Source: PATH\nDOC\n` each), so a
//! release capstan stores carries the same manifest `helm install` would. Kinds are ordered by
//! Helm's install order (stable, so `helm template`'s own order is kept).
//!
//! Also the ownership Helm stamps on every object it applies (`app.kubernetes.io/managed-by:
//! Helm`, `meta.helm.sh/release-name`, `meta.helm.sh/release-namespace`) and the check it makes
//! before adopting an object that already exists.

use capstan_core::Value;

use super::hooks::{self, Hook};

/// One manifest document: its template path and text (as Helm stores it).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub path: String,
    pub content: String,
    pub object: Value,
}

/// A chart rendered for a release.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The non-hook documents, in install order.
    pub documents: Vec<Document>,
    /// The hooks, in install order of their kinds.
    pub hooks: Vec<Hook>,
}

/// A document that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ManifestError {
    pub path: String,
    pub reason: String,
}

/// Helm's install order of kinds (`releaseutil.InstallOrder`).
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Sort key of a kind in install order: known kinds by position, unknown ones after them,
/// alphabetically.
pub fn install_rank(kind: &str) -> (usize, String) {
    match INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => (i, String::new()),
        None => (INSTALL_ORDER.len(), kind.to_owned()),
    }
}

/// The reverse: Helm's uninstall order sorts the same kinds the other way round (webhooks
/// first, namespaces last).
pub fn uninstall_rank(kind: &str) -> (usize, String) {
    match INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => (INSTALL_ORDER.len() - 1 - i, String::new()),
        None => (INSTALL_ORDER.len(), kind.to_owned()),
    }
}

/// The (path, content) sections of `helm template` output or of a stored manifest.
pub fn sections(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    let flush = |lines: Vec<&str>, out: &mut Vec<(String, String)>| {
        let mut path = String::new();
        let mut body: &[&str] = &lines;
        if let Some(first) = lines.first()
            && let Some(p) = first.strip_prefix("# Source: ")
        {
            path = p.to_owned();
            body = &lines[1..];
        }
        let content = body.join("\n").trim().to_owned();
        if !content.is_empty() || !path.is_empty() {
            out.push((path, content));
        }
    };
    for line in text.lines() {
        if line.trim_end() == "---" {
            if let Some(lines) = current.take() {
                flush(lines, &mut out);
            }
            current = Some(Vec::new());
        } else {
            current.get_or_insert_with(Vec::new).push(line);
        }
    }
    if let Some(lines) = current {
        flush(lines, &mut out);
    }
    out
}

/// Splits a rendered chart into manifest documents and hooks.
pub fn split(text: &str) -> Result<Rendered, ManifestError> {
    let mut documents = Vec::new();
    let mut found = Vec::new();
    for (path, content) in sections(text) {
        let object = if content.is_empty() {
            Value::Null
        } else {
            capstan_core::yaml::parse_document(&content).map_err(|e| ManifestError {
                path: path.clone(),
                reason: format!("YAML parse error: {}", e.message),
            })?
        };
        match hooks::from_document(&path, &content, &object) {
            Some(Some(hook)) => found.push(hook),
            // An unknown hook event: Helm skips the document.
            Some(None) => {}
            None => documents.push(Document {
                path,
                content,
                object,
            }),
        }
    }
    documents.sort_by_key(|d| install_rank(kind(&d.object)));
    found.sort_by_key(|h| install_rank(&h.kind));
    Ok(Rendered {
        documents,
        hooks: found,
    })
}

fn kind(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

impl Rendered {
    /// The manifest as Helm stores it.
    pub fn manifest(&self) -> String {
        self.documents
            .iter()
            .map(|d| {
                if d.path.is_empty() {
                    format!("---\n{}\n", d.content)
                } else {
                    format!("---\n# Source: {}\n{}\n", d.path, d.content)
                }
            })
            .collect()
    }

    /// The objects of the manifest (empty documents left out).
    pub fn objects(&self) -> Vec<Value> {
        self.documents
            .iter()
            .flat_map(|d| expand(&d.object))
            .collect()
    }
}

/// The objects of a stored manifest.
pub fn objects(manifest: &str) -> Result<Vec<Value>, ManifestError> {
    Ok(split(manifest)?.objects())
}

/// A document as objects: a `*List` gives its items, an empty document nothing.
fn expand(object: &Value) -> Vec<Value> {
    if !object.is_object() {
        return Vec::new();
    }
    if kind(object).ends_with("List")
        && let Some(items) = object.get("items").and_then(Value::as_array)
    {
        return items.iter().filter(|i| i.is_object()).cloned().collect();
    }
    vec![object.clone()]
}

/// The label Helm puts on every object of a release.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "Helm");
/// The annotations naming the release an object belongs to.
pub const RELEASE_NAME: &str = "meta.helm.sh/release-name";
pub const RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";
/// `helm.sh/resource-policy: keep` keeps an object Helm would delete.
pub const RESOURCE_POLICY: &str = "helm.sh/resource-policy";

/// Stamps the release's ownership on an object (Helm's `setMetadataVisitor`).
pub fn set_ownership(object: &mut Value, release: &str, namespace: &str) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if !labels.is_object() {
        *labels = Value::Object(Default::default());
    }
    if let Some(l) = labels.as_object_mut() {
        l.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    }
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if !annotations.is_object() {
        *annotations = Value::Object(Default::default());
    }
    if let Some(a) = annotations.as_object_mut() {
        a.insert(RELEASE_NAME.into(), release.into());
        a.insert(RELEASE_NAMESPACE.into(), namespace.into());
    }
}

/// Why an existing object cannot be adopted (Helm's `checkOwnership`), or `None` when it
/// belongs to this release.
pub fn ownership_problem(live: &Value, release: &str, namespace: &str) -> Option<String> {
    let label = |k: &str| {
        live.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let annotation = |k: &str| {
        live.pointer("/metadata/annotations")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let mut problems = Vec::new();
    let mut need = |kind: &str, key: &str, have: Option<&str>, want: &str| match have {
        None => problems.push(format!(
            "{kind} validation error: missing key {key:?}: must be set to {want:?}"
        )),
        Some(v) if v != want => problems.push(format!(
            "{kind} validation error: key {key:?} must equal {want:?}: current value is {v:?}"
        )),
        _ => {}
    };
    need("label", MANAGED_BY.0, label(MANAGED_BY.0), MANAGED_BY.1);
    need(
        "annotation",
        RELEASE_NAME,
        annotation(RELEASE_NAME),
        release,
    );
    need(
        "annotation",
        RELEASE_NAMESPACE,
        annotation(RELEASE_NAMESPACE),
        namespace,
    );
    (!problems.is_empty()).then(|| format!("invalid ownership metadata; {}", problems.join("; ")))
}

/// Whether a live object asks to be kept when its release no longer renders it.
pub fn keep(live: &Value) -> bool {
    live.pointer("/metadata/annotations")
        .and_then(|a| a.get(RESOURCE_POLICY))
        .and_then(Value::as_str)
        == Some("keep")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "---
# Source: demo/templates/svc.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
---
# Source: demo/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  a: \"1\"
---
# Source: demo/templates/job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: \"2\"
spec: {}
";

    #[test]
    fn template_output_splits_into_manifest_and_hooks_in_install_order() {
        let rendered = split(TEMPLATE).expect("splits");
        assert_eq!(
            rendered.manifest(),
            "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  a: \"1\"\n---\n# Source: demo/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
        );
        assert_eq!(rendered.hooks.len(), 1);
        let hook = &rendered.hooks[0];
        assert_eq!(
            (hook.name.as_str(), hook.kind.as_str(), hook.weight),
            ("migrate", "Job", 2)
        );
        assert_eq!(hook.path, "demo/templates/job.yaml");
        // The stored manifest splits back to the same documents.
        let again = split(&rendered.manifest()).expect("splits");
        assert_eq!(again.manifest(), rendered.manifest());
        assert_eq!(again.objects().len(), 2);
    }

    #[test]
    fn ownership_is_stamped_and_checked_as_helm_does() {
        let mut cm =
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        let problem = ownership_problem(&cm, "web", "apps").expect("not owned");
        assert!(
            problem.contains("missing key \"app.kubernetes.io/managed-by\""),
            "{problem}"
        );
        set_ownership(&mut cm, "web", "apps");
        assert_eq!(ownership_problem(&cm, "web", "apps"), None);
        assert!(ownership_problem(&cm, "other", "apps").is_some());
        assert!(!keep(&cm));
        cm["metadata"]["annotations"][RESOURCE_POLICY] = "keep".into();
        assert!(keep(&cm));
    }
}
