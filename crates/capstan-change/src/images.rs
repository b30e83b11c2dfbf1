//! Container images: the images a rendered object runs, and which images a change adds, removes
//! or bumps (`capstan get images`, `capstan diff images`).
//!
//! An object's images are the `image` of every entry of a `containers`, `initContainers` or
//! `ephemeralContainers` list anywhere in it (Pods, every workload's pod template, a CronJob's
//! job template, and custom resources that embed pod specs) and an image volume's
//! `image.reference`. A custom resource (an API group with a dot, not `*.k8s.io`) also runs
//! every `image` / `imageName` it holds at any depth, as operators name them: a string, an
//! `{reference}` or a `{repository, tag}` (rook's `cephVersion.image`, CloudNativePG's
//! `imageName` and extension images, Envoy Gateway's `envoyDeployment.container.image`, the
//! system-upgrade controller's `upgrade.image`). ConfigMaps, Secrets and
//! CustomResourceDefinitions hold none, and neither do Flux's own kinds: an ImageRepository's
//! `image` is a repository it scans, and a HelmRelease's values feed a chart whose rendered
//! objects carry the images.
//! A bump is the same repository with another tag or digest in the same object.

use std::collections::{BTreeMap, BTreeSet};

use capstan_core::Value;
use serde::Serialize;

use crate::diff::{DiffReport, ObjectChange, Producer};

/// The images `object` runs, sorted and without repeats.
pub fn images_of(object: &Value) -> BTreeSet<String> {
    image_fields(object).into_values().collect()
}

/// The images `object` runs, by the field that names each, in the diff's notation
/// (`spec.template.spec.containers[name=app].image`).
pub fn image_fields(object: &Value) -> BTreeMap<String, String> {
    let mut images = BTreeMap::new();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    if matches!(kind, "ConfigMap" | "Secret" | "CustomResourceDefinition")
        || group.ends_with(".fluxcd.io")
        || group == "fluxcd.controlplane.io"
    {
        return images;
    }
    let custom = group.contains('.') && !group.ends_with(".k8s.io");
    walk(object, "", &mut images, custom, 0);
    images
}

/// `path.key`, or `key` at the top.
fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A list entry: `[name=NAME]` when it has a name, else `[INDEX]`.
fn entry(path: &str, index: usize, item: &Value) -> String {
    match item.get("name").and_then(Value::as_str) {
        Some(name) => format!("{path}[name={name}]"),
        None => format!("{path}[{index}]"),
    }
}

fn walk(
    value: &Value,
    path: &str,
    images: &mut BTreeMap<String, String>,
    custom: bool,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = field(path, key);
                if matches!(
                    key.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) && let Value::Array(list) = child
                {
                    for (i, container) in list.iter().enumerate() {
                        if let Some(image) = container.get("image").and_then(Value::as_str)
                            && looks_like_image(image)
                        {
                            images.insert(
                                format!("{}.image", entry(&here, i, container)),
                                image.to_owned(),
                            );
                        }
                    }
                }
                if key == "volumes"
                    && let Value::Array(list) = child
                {
                    for (i, volume) in list.iter().enumerate() {
                        if let Some(image) =
                            volume.pointer("/image/reference").and_then(Value::as_str)
                            && looks_like_image(image)
                        {
                            images.insert(
                                format!("{}.image.reference", entry(&here, i, volume)),
                                image.to_owned(),
                            );
                        }
                    }
                }
                if custom
                    && matches!(key.as_str(), "image" | "imageName")
                    && let Some(image) = operator_image(child)
                {
                    // a container's image is already in under the same field
                    images.entry(here.clone()).or_insert(image);
                }
                walk(child, &here, images, custom, depth + 1);
            }
        }
        Value::Array(list) => {
            for (i, item) in list.iter().enumerate() {
                walk(item, &entry(path, i, item), images, custom, depth + 1);
            }
        }
        _ => {}
    }
}

/// An operator's image field: `ref`, `{reference: ref}` or `{repository: repo, tag: t}`.
fn operator_image(value: &Value) -> Option<String> {
    let image = match value {
        Value::String(image) => image.clone(),
        Value::Object(_) => {
            if let Some(reference) = value.get("reference").and_then(Value::as_str) {
                reference.to_owned()
            } else {
                let repository = value.get("repository").and_then(Value::as_str)?;
                match value.get("tag").and_then(Value::as_str) {
                    Some(tag) if !tag.is_empty() => format!("{repository}:{tag}"),
                    _ => repository.to_owned(),
                }
            }
        }
        _ => return None,
    };
    looks_like_image(&image).then_some(image)
}

/// Not a template left unrendered (`${VAR}`, `{{ .x }}`, `<< inputs.x >>`) nor prose.
fn looks_like_image(text: &str) -> bool {
    !text.is_empty()
        && !text.contains(char::is_whitespace)
        && !["${", "{{", "<<"].iter().any(|t| text.contains(t))
}

/// An image reference split into repository and version (`tag`, `@digest` or both).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageRef {
    pub repository: String,
    /// `1.2.3`, `1.2.3@sha256:…`, `@sha256:…`, or empty (no tag: `latest` to a runtime).
    pub version: String,
}

impl ImageRef {
    pub fn parse(image: &str) -> ImageRef {
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (image, None),
        };
        // a tag follows the last ':' after the last '/' (a registry port is before a '/')
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[slash..].rfind(':') {
            Some(i) => (&name[..slash + i], &name[slash + i + 1..]),
            None => (name, ""),
        };
        let version = match digest {
            Some(d) if tag.is_empty() => format!("@{d}"),
            Some(d) => format!("{tag}@{d}"),
            None => tag.to_owned(),
        };
        ImageRef {
            repository: repository.to_owned(),
            version,
        }
    }
}

/// What a change does to one image in one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageChangeKind {
    Added,
    Removed,
    Bumped,
}

/// One image added, removed or bumped in one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageChange {
    pub change: ImageChangeKind,
    pub repository: String,
    /// The old image (removed, bumped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The new image (added, bumped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The Kustomization or HelmRelease rendering the object.
    pub producer: Producer,
    /// The object, `group/version/Kind/namespace/name` as the diff names it.
    pub object: String,
}

/// The image changes of a diff, in report order (producer, object), then by repository.
pub fn image_changes(report: &DiffReport) -> Vec<ImageChange> {
    let mut changes = Vec::new();
    for group in &report.groups {
        for object in &group.objects {
            let before = match object.change {
                ObjectChange::Added => BTreeSet::new(),
                _ => object.before.as_ref().map(images_of).unwrap_or_default(),
            };
            let after = match object.change {
                ObjectChange::Deleted | ObjectChange::Orphaned => BTreeSet::new(),
                _ => object.after.as_ref().map(images_of).unwrap_or_default(),
            };
            let by_repo = |set: &BTreeSet<String>| {
                let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for image in set {
                    map.entry(ImageRef::parse(image).repository)
                        .or_default()
                        .push(image.clone());
                }
                map
            };
            let (old, new) = (by_repo(&before), by_repo(&after));
            let repositories: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for repository in repositories {
                let gone: Vec<&String> = old
                    .get(repository)
                    .into_iter()
                    .flatten()
                    .filter(|i| !after.contains(*i))
                    .collect();
                let came: Vec<&String> = new
                    .get(repository)
                    .into_iter()
                    .flatten()
                    .filter(|i| !before.contains(*i))
                    .collect();
                let change = |change, from: Option<&String>, to: Option<&String>| ImageChange {
                    change,
                    repository: repository.clone(),
                    from: from.cloned(),
                    to: to.cloned(),
                    producer: group.producer.clone(),
                    object: object.id.to_string(),
                };
                let pairs = gone.len().min(came.len());
                for i in 0..pairs {
                    changes.push(change(
                        ImageChangeKind::Bumped,
                        Some(gone[i]),
                        Some(came[i]),
                    ));
                }
                for from in &gone[pairs..] {
                    changes.push(change(ImageChangeKind::Removed, Some(*from), None));
                }
                for to in &came[pairs..] {
                    changes.push(change(ImageChangeKind::Added, None, Some(*to)));
                }
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn workload_images_and_init_containers() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {
                "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                "containers": [{"name": "app", "image": "ghcr.io/example/app:1.2.3"},
                               {"name": "side", "image": "ghcr.io/example/app:1.2.3"}],
                "volumes": [{"name": "data", "image": {"reference": "quay.io/x/data:v1"}}]
            }}}
        });
        let images: Vec<String> = images_of(&deployment).into_iter().collect();
        assert_eq!(
            images,
            [
                "busybox:1.36",
                "ghcr.io/example/app:1.2.3",
                "quay.io/x/data:v1"
            ]
        );
    }

    #[test]
    fn custom_resource_spec_image_and_no_images_in_crds_or_config() {
        let cluster = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "spec": {"imageName": "ghcr.io/cloudnative-pg/postgresql:16.4"}});
        assert_eq!(images_of(&cluster).len(), 1);
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "data": {"containers": "x"}});
        assert!(images_of(&config).is_empty());
        let service = json!({"apiVersion": "v1", "kind": "Service", "spec": {"image": "no"}});
        assert!(images_of(&service).is_empty());
    }

    #[test]
    fn cron_job_template_and_ephemeral_containers() {
        let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "c", "image": "alpine:3.20"}],
                "ephemeralContainers": [{"name": "debug", "image": "busybox:1.36"}]}}}}}});
        let images: Vec<String> = images_of(&cron).into_iter().collect();
        assert_eq!(images, ["alpine:3.20", "busybox:1.36"]);
    }

    #[test]
    fn operator_images_at_any_depth_of_a_custom_resource() {
        let ceph = json!({"apiVersion": "ceph.rook.io/v1", "kind": "CephCluster",
            "spec": {"cephVersion": {"image": "quay.io/ceph/ceph:v19.2.0"}}});
        let envoy = json!({"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyProxy",
            "spec": {"provider": {"kubernetes": {"envoyDeployment": {
                "container": {"image": "envoyproxy/envoy:v1.32.0"}}}}}});
        let cnpg = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "spec": {"imageName": "ghcr.io/cloudnative-pg/postgresql:17",
                     "postgresql": {"extensions": [{"name": "vector",
                        "image": {"reference": "ghcr.io/cloudnative-pg/pgvector:0.8"}}]}}});
        let split = json!({"apiVersion": "operator.victoriametrics.com/v1beta1",
            "kind": "VMSingle", "spec": {"image": {"repository": "victoriametrics/vm", "tag": "v1.2"}}});
        let all: Vec<String> = [ceph, envoy, cnpg, split]
            .iter()
            .flat_map(images_of)
            .collect();
        assert_eq!(
            all,
            [
                "quay.io/ceph/ceph:v19.2.0",
                "envoyproxy/envoy:v1.32.0",
                "ghcr.io/cloudnative-pg/pgvector:0.8",
                "ghcr.io/cloudnative-pg/postgresql:17",
                "victoriametrics/vm:v1.2"
            ]
        );
    }

    #[test]
    fn flux_kinds_and_templates_run_no_image() {
        let scan = json!({"apiVersion": "image.toolkit.fluxcd.io/v1beta2", "kind": "ImageRepository",
            "spec": {"image": "ghcr.io/example/app"}});
        let release = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "spec": {"values": {"image": "ghcr.io/example/app:1.0",
                "containers": [{"image": "ghcr.io/example/app:1.0"}]}}});
        let templated = json!({"apiVersion": "example.com/v1", "kind": "Thing",
            "spec": {"image": "ghcr.io/example/app:<< inputs.tag >>"}});
        assert!(images_of(&scan).is_empty());
        assert!(images_of(&release).is_empty());
        assert!(images_of(&templated).is_empty());
        // a built-in kind's `image` outside a container is no image
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"annotations": {"image": "x:1"}},
            "spec": {"containers": [{"name": "a", "image": "nginx:1.27"}]}});
        assert_eq!(
            images_of(&pod).into_iter().collect::<Vec<_>>(),
            ["nginx:1.27"]
        );
    }

    #[test]
    fn references_split_at_tag_and_digest_not_at_a_port() {
        let r = ImageRef::parse("registry:5000/team/app:1.0@sha256:abc");
        assert_eq!(r.repository, "registry:5000/team/app");
        assert_eq!(r.version, "1.0@sha256:abc");
        let r = ImageRef::parse("registry:5000/team/app");
        assert_eq!(
            (r.repository.as_str(), r.version.as_str()),
            ("registry:5000/team/app", "")
        );
        let r = ImageRef::parse("nginx@sha256:def");
        assert_eq!(
            (r.repository.as_str(), r.version.as_str()),
            ("nginx", "@sha256:def")
        );
    }
}
