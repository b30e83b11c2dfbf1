//! The kustomization file kustomize-controller builds a Flux Kustomization's path with.
//!
//! The controller (fluxcd/pkg `kustomize.Generator`) does not wrap the directory in an overlay:
//! it rewrites the directory's own kustomization file, or generates one when there is none, and
//! builds that. Generated: `resources:` lists every `.yaml`/`.yml` file below the path,
//! recursively and in lexical order, with a sub-directory holding a kustomization file listed as a
//! directory and not descended into; no files at all gives `namespace: _placeholder`. Then the
//! Flux spec is written over it:
//! - `targetNamespace` → `namespace`, `namePrefix` / `nameSuffix` replace the file's own;
//! - `patches` (and v1beta2's `patchesStrategicMerge` / `patchesJson6902`) are appended;
//! - `components` are appended; each must be a local relative path, and with
//!   `ignoreMissingComponents` one that does not exist is dropped;
//! - `images` merge into entries of the same name (`newName` replaced when set; `newTag` and
//!   `digest` replaced together when either is set) or are appended;
//! - an existing file without `resources` gets `buildMetadata: [originAnnotations]` (the
//!   controller's guard against an "empty" kustomization), and `spec.buildMetadata` wins.

use std::path::{Component, Path, PathBuf};

use capstan_core::{Fs, Map, Value};

use crate::discovery::render::{generated_resources, kustomization_file};

/// Why the kustomization could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverlayError {
    #[error("{}: {message}", .file.display())]
    File { file: PathBuf, message: String },
    #[error("spec.{field}: {message}")]
    Spec { field: String, message: String },
}

/// The kustomization file to build `dir` with: its path and its YAML text.
pub fn flux_kustomization(
    fs: &dyn Fs,
    dir: &Path,
    ks: &Value,
) -> Result<(PathBuf, String), OverlayError> {
    let (file, mut kus, existed) = match kustomization_file(fs, dir) {
        Some(file) => {
            let text = fs.read_to_string(&file).map_err(|e| OverlayError::File {
                file: file.clone(),
                message: e.to_string(),
            })?;
            let value =
                capstan_core::yaml::parse_document(&text).map_err(|e| OverlayError::File {
                    file: file.clone(),
                    message: match e.line {
                        Some(line) => format!("line {line}: {}", e.message),
                        None => e.message,
                    },
                })?;
            let map = match value {
                Value::Object(map) => map,
                Value::Null => Map::new(),
                _ => {
                    return Err(OverlayError::File {
                        file,
                        message: "a kustomization must be a mapping".into(),
                    });
                }
            };
            (file, map, true)
        }
        None => {
            let entries = generated_resources(fs, dir).map_err(|e| OverlayError::File {
                file: dir.to_path_buf(),
                message: e.to_string(),
            })?;
            let mut map = Map::new();
            map.insert(
                "apiVersion".into(),
                "kustomize.config.k8s.io/v1beta1".into(),
            );
            map.insert("kind".into(), "Kustomization".into());
            if entries.is_empty() {
                map.insert("namespace".into(), "_placeholder".into());
            } else {
                let resources = entries
                    .iter()
                    .map(|p| Value::String(format!("./{}", p.to_string_lossy())))
                    .collect();
                map.insert("resources".into(), Value::Array(resources));
            }
            (dir.join("kustomization.yaml"), map, false)
        }
    };
    let has_resources = kus
        .get("resources")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    if existed && !has_resources {
        kus.insert(
            "buildMetadata".into(),
            Value::Array(vec!["originAnnotations".into()]),
        );
    }
    let spec = ks.get("spec").cloned().unwrap_or(Value::Null);
    let string = |field: &str| -> Result<Option<String>, OverlayError> {
        match spec.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(OverlayError::Spec {
                field: field.into(),
                message: "must be a string".into(),
            }),
        }
    };
    let list = |field: &str| -> Result<Vec<Value>, OverlayError> {
        match spec.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(OverlayError::Spec {
                field: field.into(),
                message: "must be a list".into(),
            }),
        }
    };
    if let Some(ns) = string("targetNamespace")? {
        kus.insert("namespace".into(), ns.into());
    }
    if let Some(prefix) = string("namePrefix")? {
        kus.insert("namePrefix".into(), prefix.into());
    }
    if let Some(suffix) = string("nameSuffix")? {
        kus.insert("nameSuffix".into(), suffix.into());
    }
    for (i, patch) in list("patches")?.into_iter().enumerate() {
        let Value::Object(patch) = patch else {
            return Err(OverlayError::Spec {
                field: format!("patches[{i}]"),
                message: "must be a mapping".into(),
            });
        };
        let mut out = Map::new();
        if let Some(text) = patch.get("patch") {
            out.insert("patch".into(), text.clone());
        }
        if let Some(target) = patch.get("target").filter(|t| !t.is_null()) {
            out.insert("target".into(), target.clone());
        }
        append(&mut kus, "patches", Value::Object(out));
    }
    let ignore_missing = spec
        .get("ignoreMissingComponents")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for (i, component) in list("components")?.into_iter().enumerate() {
        let Value::String(component) = component else {
            return Err(OverlayError::Spec {
                field: format!("components[{i}]"),
                message: "must be a string".into(),
            });
        };
        if !is_local_relative(&component) {
            return Err(OverlayError::Spec {
                field: format!("components[{i}]"),
                message: format!("component path '{component}' must be local and relative"),
            });
        }
        if ignore_missing && !fs.exists(&capstan_core::fs::normalize(&dir.join(&component))) {
            continue;
        }
        append(&mut kus, "components", Value::String(component));
    }
    for patch in list("patchesStrategicMerge")? {
        append(
            &mut kus,
            "patchesStrategicMerge",
            Value::String(capstan_core::yaml::to_yaml(&patch)),
        );
    }
    for (i, patch) in list("patchesJson6902")?.into_iter().enumerate() {
        let ops = patch
            .get("patch")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        let text = serde_json::to_string(&ops).map_err(|e| OverlayError::Spec {
            field: format!("patchesJson6902[{i}]"),
            message: e.to_string(),
        })?;
        let mut out = Map::new();
        out.insert("patch".into(), text.into());
        if let Some(target) = patch.get("target") {
            out.insert("target".into(), target.clone());
        }
        append(&mut kus, "patchesJson6902", Value::Object(out));
    }
    for (i, image) in list("images")?.into_iter().enumerate() {
        merge_image(&mut kus, &image).map_err(|message| OverlayError::Spec {
            field: format!("images[{i}]"),
            message,
        })?;
    }
    let build_metadata = list("buildMetadata")?;
    if !build_metadata.is_empty() {
        kus.insert("buildMetadata".into(), Value::Array(build_metadata));
    }
    Ok((file, capstan_core::yaml::to_yaml(&Value::Object(kus))))
}

fn append(kus: &mut Map, field: &str, item: Value) {
    match kus.get_mut(field) {
        Some(Value::Array(items)) => items.push(item),
        _ => {
            kus.insert(field.into(), Value::Array(vec![item]));
        }
    }
}

fn merge_image(kus: &mut Map, image: &Value) -> Result<(), String> {
    let field = |name: &str| {
        image
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let name = field("name");
    if name.is_empty() {
        return Err("an image needs a name".into());
    }
    let (new_name, new_tag, digest) = (field("newName"), field("newTag"), field("digest"));
    if let Some(Value::Array(images)) = kus.get_mut("images")
        && let Some(Value::Object(existing)) = images
            .iter_mut()
            .find(|i| i.get("name").and_then(Value::as_str) == Some(name.as_str()))
    {
        if !new_name.is_empty() {
            existing.insert("newName".into(), new_name.into());
        }
        if !new_tag.is_empty() || !digest.is_empty() {
            set_or_remove(existing, "newTag", new_tag);
            set_or_remove(existing, "digest", digest);
        }
        return Ok(());
    }
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    for (key, value) in [
        ("newName", new_name),
        ("newTag", new_tag),
        ("digest", digest),
    ] {
        if !value.is_empty() {
            out.insert(key.into(), value.into());
        }
    }
    append(kus, "images", Value::Object(out));
    Ok(())
}

fn set_or_remove(map: &mut Map, key: &str, value: String) {
    if value.is_empty() {
        map.shift_remove(key);
    } else {
        map.insert(key.into(), value.into());
    }
}

/// fluxcd/pkg `IsLocalRelativePath`: not absolute, not a URL.
fn is_local_relative(path: &str) -> bool {
    if path.contains("://") || path.starts_with("git@") || path.starts_with("github.com/") {
        return false;
    }
    !Path::new(path)
        .components()
        .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use capstan_core::MemFs;

    fn overlay(fs: &MemFs, ks: Value) -> Value {
        let (_, text) = flux_kustomization(fs, Path::new("app"), &ks).unwrap();
        capstan_core::yaml::parse_document(&text).unwrap()
    }

    #[test]
    fn generated_lists_files_recursively_and_stops_at_kustomizations() {
        let fs = MemFs::from_files([
            ("app/b.yaml", "x"),
            ("app/a.yml", "x"),
            ("app/notes.txt", "x"),
            ("app/sub/c.yaml", "x"),
            ("app/base/kustomization.yaml", "resources: []"),
            ("app/base/d.yaml", "x"),
        ]);
        let kus = overlay(&fs, json!({"spec": {}}));
        assert_eq!(
            kus["resources"],
            json!(["./a.yml", "./b.yaml", "./base", "./sub/c.yaml"])
        );
        let empty = MemFs::new();
        empty.add_dir("app");
        assert_eq!(overlay(&empty, json!({}))["namespace"], "_placeholder");
    }

    #[test]
    fn spec_is_written_over_the_existing_file() {
        let fs = MemFs::from_files([
            (
                "app/kustomization.yaml",
                "resources: [cm.yaml]\nnamespace: old\nnamePrefix: p-\npatches: [{path: a.yaml}]\nimages: [{name: nginx, newTag: '1', digest: sha256:x}]\n",
            ),
            ("app/comp/kustomization.yaml", "kind: Component"),
        ]);
        let kus = overlay(
            &fs,
            json!({"spec": {
                "targetNamespace": "apps", "namePrefix": "x-", "nameSuffix": "-y",
                "patches": [{"patch": "- op: remove\n  path: /a", "target": {"kind": "ConfigMap"}}],
                "components": ["comp", "missing"], "ignoreMissingComponents": true,
                "images": [{"name": "nginx", "newTag": "2"}, {"name": "redis", "newName": "r"}]
            }}),
        );
        assert_eq!(kus["namespace"], "apps");
        assert_eq!(kus["namePrefix"], "x-");
        assert_eq!(kus["nameSuffix"], "-y");
        assert_eq!(kus["patches"].as_array().unwrap().len(), 2);
        assert_eq!(kus["components"], json!(["comp"]));
        assert_eq!(
            kus["images"],
            json!([{"name": "nginx", "newTag": "2"}, {"name": "redis", "newName": "r"}])
        );
        assert!(kus.get("buildMetadata").is_none());
    }

    #[test]
    fn bad_components_and_files() {
        let fs = MemFs::from_files([("app/kustomization.yaml", "resources: [a]")]);
        let err = flux_kustomization(
            &fs,
            Path::new("app"),
            &json!({"spec": {"components": ["/abs"]}}),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("must be local and relative"),
            "{err}"
        );
        let fs = MemFs::from_files([("app/kustomization.yaml", "resources: [")]);
        assert!(flux_kustomization(&fs, Path::new("app"), &json!({})).is_err());
        let fs = MemFs::from_files([("app/kustomization.yaml", "components: [c]")]);
        assert_eq!(
            overlay(&fs, json!({}))["buildMetadata"],
            json!(["originAnnotations"])
        );
    }
}
