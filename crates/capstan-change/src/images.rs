//! Container images: the images a rendered object runs, and which images a change adds, removes
//! or bumps (`capstan get images`, `capstan diff images`).
//!
//! An object's images are the `image` of every entry of a `containers`, `initContainers` or
//! `ephemeralContainers` list anywhere in it (Pods, every workload's pod template, and custom
//! resources that embed pod specs), an image volume's `image.reference`, and the `image` /
//! `imageName` string at the top of a custom resource's `spec` (operators such as CloudNativePG or
//! rook name their image there). ConfigMaps, Secrets and CustomResourceDefinitions hold none.
//! A bump is the same repository with another tag or digest in the same object.

use std::collections::{BTreeMap, BTreeSet};

use capstan_core::Value;
use serde::Serialize;

use crate::diff::{DiffReport, ObjectChange, Producer};

/// The images `object` runs, sorted and without repeats.
pub fn images_of(object: &Value) -> BTreeSet<String> {
    let mut images = BTreeSet::new();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    if matches!(kind, "ConfigMap" | "Secret" | "CustomResourceDefinition") {
        return images;
    }
    walk(object, &mut images, 0);
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    // a custom resource's own image field (built-in kinds have none at spec level)
    if api_version.contains('.')
        && let Some(spec) = object.get("spec")
    {
        for key in ["image", "imageName"] {
            if let Some(image) = spec.get(key).and_then(Value::as_str)
                && looks_like_image(image)
            {
                images.insert(image.to_owned());
            }
        }
    }
    images
}

fn walk(value: &Value, images: &mut BTreeSet<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if matches!(
                    key.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) && let Value::Array(list) = child
                {
                    for container in list {
                        if let Some(image) = container.get("image").and_then(Value::as_str)
                            && looks_like_image(image)
                        {
                            images.insert(image.to_owned());
                        }
                    }
                }
                if key == "volumes"
                    && let Value::Array(list) = child
                {
                    for volume in list {
                        if let Some(image) =
                            volume.pointer("/image/reference").and_then(Value::as_str)
                            && looks_like_image(image)
                        {
                            images.insert(image.to_owned());
                        }
                    }
                }
                walk(child, images, depth + 1);
            }
        }
        Value::Array(list) => {
            for item in list {
                walk(item, images, depth + 1);
            }
        }
        _ => {}
    }
}

fn looks_like_image(text: &str) -> bool {
    !text.is_empty() && !text.contains(char::is_whitespace) && !text.contains("${")
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
