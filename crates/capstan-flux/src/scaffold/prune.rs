//! What Flux deletes from the cluster when an app's Kustomization leaves the repository.
//!
//! kustomize-controller garbage-collects a deleted Kustomization's inventory when `spec.prune` is
//! true, skipping objects annotated `kustomize.toolkit.fluxcd.io/prune: disabled`; with prune
//! false it deletes nothing and the objects stay, unmanaged. A HelmRelease that is deleted makes
//! helm-controller uninstall the release, which deletes the chart's objects except those Helm
//! keeps (`helm.sh/resource-policy: keep`). Deleting a Namespace deletes everything in it, objects
//! created at runtime included. This module turns a render into that list, calling out the
//! Namespaces and PersistentVolumeClaims, where data is lost.

use capstan_core::{ResourceId, Value};

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Flux (or Helm) deletes it.
    Deleted,
    /// Annotated `kustomize.toolkit.fluxcd.io/prune: disabled`: Flux leaves it.
    KeptPruneDisabled,
    /// A chart object Helm keeps on uninstall (`helm.sh/resource-policy: keep`).
    KeptByHelm,
    /// The Kustomization has `prune: false`: nothing is deleted, the object stays unmanaged.
    Orphaned,
}

impl Fate {
    pub fn is_deleted(self) -> bool {
        self == Fate::Deleted
    }
}

/// One object of the render and its fate.
#[derive(Debug, Clone, PartialEq)]
pub struct PruneEntry {
    pub id: ResourceId,
    pub fate: Fate,
    /// `HelmRelease NAMESPACE/NAME` when the object comes from a chart the release installs.
    pub via: Option<String>,
}

impl PruneEntry {
    pub fn is_namespace(&self) -> bool {
        self.id.group.is_empty() && self.id.kind == "Namespace"
    }

    pub fn is_pvc(&self) -> bool {
        self.id.group.is_empty() && self.id.kind == "PersistentVolumeClaim"
    }

    /// Objects whose deletion takes data with it beyond their own manifest: PVCs, and database
    /// clusters whose operator deletes their volumes with them.
    pub fn holds_data(&self) -> bool {
        self.is_pvc() || (self.id.group == "postgresql.cnpg.io" && self.id.kind == "Cluster")
    }
}

/// The prune preview of one Kustomization.
#[derive(Debug, Clone, PartialEq)]
pub struct PrunePreview {
    pub prune_enabled: bool,
    pub entries: Vec<PruneEntry>,
}

impl PrunePreview {
    pub fn namespaces(&self) -> impl Iterator<Item = &PruneEntry> {
        self.entries.iter().filter(|e| e.is_namespace())
    }

    pub fn data(&self) -> impl Iterator<Item = &PruneEntry> {
        self.entries.iter().filter(|e| e.holds_data())
    }

    pub fn deleted(&self) -> usize {
        self.entries.iter().filter(|e| e.fate.is_deleted()).count()
    }
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn prune_disabled(object: &Value) -> bool {
    annotation(object, "kustomize.toolkit.fluxcd.io/prune")
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

/// Builds the preview from the Kustomization's rendered objects and, for each HelmRelease among
/// them that could be rendered, the chart's objects (`(release id, objects)`).
pub fn preview_prune(
    prune_enabled: bool,
    objects: &[Value],
    charts: &[(ResourceId, Vec<Value>)],
) -> PrunePreview {
    let mut entries = Vec::new();
    for object in objects {
        let id = ResourceId::of(object);
        let fate = if !prune_enabled {
            Fate::Orphaned
        } else if prune_disabled(object) {
            Fate::KeptPruneDisabled
        } else {
            Fate::Deleted
        };
        let release = (id.group == "helm.toolkit.fluxcd.io" && id.kind == "HelmRelease")
            .then(|| {
                charts
                    .iter()
                    .find(|(r, _)| r.name == id.name && r.namespace == id.namespace)
            })
            .flatten();
        entries.push(PruneEntry {
            id: id.clone(),
            fate,
            via: None,
        });
        if let Some((release, chart_objects)) = release {
            let via = format!(
                "HelmRelease {}/{}",
                release.namespace.as_deref().unwrap_or("default"),
                release.name
            );
            for object in chart_objects {
                let mut chart_id = ResourceId::of(object);
                if chart_id.namespace.is_none() && !cluster_scoped(&chart_id) {
                    chart_id.namespace = release.namespace.clone();
                }
                let chart_fate = match fate {
                    Fate::Deleted
                        if annotation(object, "helm.sh/resource-policy") == Some("keep") =>
                    {
                        Fate::KeptByHelm
                    }
                    Fate::Deleted => Fate::Deleted,
                    // The release is not uninstalled, so its objects stay.
                    _ => Fate::Orphaned,
                };
                entries.push(PruneEntry {
                    id: chart_id,
                    fate: chart_fate,
                    via: Some(via.clone()),
                });
            }
        }
    }
    PrunePreview {
        prune_enabled,
        entries,
    }
}

fn cluster_scoped(id: &ResourceId) -> bool {
    matches!(
        id.kind.as_str(),
        "Namespace"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "StorageClass"
            | "PersistentVolume"
            | "PriorityClass"
            | "IngressClass"
            | "ClusterIssuer"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects() -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a",
                "annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"}}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "namespace": "a"}}),
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "r", "namespace": "a"}}),
        ]
    }

    #[test]
    fn prune_respects_annotations_and_helm_keep() {
        let chart = vec![
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "cfg", "annotations": {"helm.sh/resource-policy": "keep"}}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "r"}}),
        ];
        let release = ResourceId::of(&objects()[2]);
        let preview = preview_prune(true, &objects(), &[(release, chart)]);
        let fates: Vec<(String, Fate)> = preview
            .entries
            .iter()
            .map(|e| (e.id.name.clone(), e.fate))
            .collect();
        assert_eq!(
            fates,
            [
                ("a".to_owned(), Fate::KeptPruneDisabled),
                ("data".to_owned(), Fate::Deleted),
                ("r".to_owned(), Fate::Deleted),
                ("cfg".to_owned(), Fate::KeptByHelm),
                ("r".to_owned(), Fate::Deleted),
            ]
        );
        assert_eq!(preview.entries[3].id.namespace.as_deref(), Some("a"));
        assert_eq!(preview.namespaces().count(), 1);
        assert_eq!(preview.data().count(), 2);
        assert_eq!(preview.deleted(), 3);
    }

    #[test]
    fn prune_false_orphans_everything() {
        let preview = preview_prune(false, &objects(), &[]);
        assert!(preview.entries.iter().all(|e| e.fate == Fate::Orphaned));
        assert_eq!(preview.deleted(), 0);
    }
}
