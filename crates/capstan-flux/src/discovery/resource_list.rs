//! A renderer that follows kustomization files' `resources:` and `components:` and applies their
//! `namespace:`, without running kustomize's transformers: enough to find every Flux object and
//! its namespace in the common repository layouts. Discovery's interim renderer until the
//! kustomize engine renders through the same trait.

use std::path::{Path, PathBuf};

use capstan_core::yaml::parse_documents;
use capstan_core::{Fs, Value};

use super::render::{
    RenderError, RenderedObject, Renderer, generated_resources, kustomization_file,
};

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ResourceListRenderer;

impl Renderer for ResourceListRenderer {
    fn render(&self, fs: &dyn Fs, dir: &Path) -> Result<Vec<RenderedObject>, RenderError> {
        let mut stack = Vec::new();
        render_dir(fs, dir, &mut stack)
    }
}

fn render_dir(
    fs: &dyn Fs,
    dir: &Path,
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<RenderedObject>, RenderError> {
    let key = fs
        .canonicalize(dir)
        .unwrap_or_else(|_| capstan_core::fs::normalize(dir));
    if stack.contains(&key) {
        return Err(RenderError::new(format!(
            "{}: cycle in kustomization resources",
            dir.display()
        )));
    }
    if !fs.is_dir(dir) {
        return Err(RenderError::new(format!(
            "{}: no such directory",
            dir.display()
        )));
    }
    stack.push(key);
    let result = match kustomization_file(fs, dir) {
        Some(file) => render_kustomization(fs, dir, &file, stack),
        None => {
            let entries = generated_resources(fs, dir)
                .map_err(|e| RenderError::new(format!("{}: {e}", dir.display())))?;
            let mut out = Vec::new();
            for entry in entries {
                out.extend(render_entry(fs, &dir.join(entry), stack)?);
            }
            Ok(out)
        }
    };
    stack.pop();
    result
}

fn render_entry(
    fs: &dyn Fs,
    path: &Path,
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<RenderedObject>, RenderError> {
    if fs.is_dir(path) {
        render_dir(fs, path, stack)
    } else {
        read_manifests(fs, path)
    }
}

fn render_kustomization(
    fs: &dyn Fs,
    dir: &Path,
    file: &Path,
    stack: &mut Vec<PathBuf>,
) -> Result<Vec<RenderedObject>, RenderError> {
    let text = fs
        .read_to_string(file)
        .map_err(|e| RenderError::new(e.to_string()).in_file(file))?;
    let document = capstan_core::yaml::parse_document(&text).map_err(|e| RenderError {
        message: e.message.clone(),
        file: Some(file.to_path_buf()),
        line: e.line,
    })?;
    let list = |field: &str| -> Vec<String> {
        document
            .get(field)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for entry in list("resources").into_iter().chain(list("components")) {
        if entry.contains("://") || entry.starts_with("github.com/") {
            // Remote bases are not part of the repository.
            continue;
        }
        let path = capstan_core::fs::normalize(&dir.join(&entry));
        if !fs.exists(&path) {
            return Err(
                RenderError::new(format!("resource {entry}: no such file or directory"))
                    .in_file(file),
            );
        }
        out.extend(render_entry(fs, &path, stack)?);
    }
    if let Some(namespace) = document
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
    {
        for object in &mut out {
            set_namespace(&mut object.value, namespace);
        }
    }
    Ok(out)
}

/// Sets `metadata.namespace`, as kustomize's namespace transformer does for namespaced kinds
/// (it leaves a handful of cluster-scoped core kinds alone).
fn set_namespace(object: &mut Value, namespace: &str) {
    const CLUSTER_SCOPED: &[&str] = &[
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "PersistentVolume",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "APIService",
        "IngressClass",
        "RuntimeClass",
        "CSIDriver",
        "VolumeSnapshotClass",
    ];
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    if CLUSTER_SCOPED.contains(&kind) {
        return;
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
    }
}

/// Reads the objects of one manifest file; empty documents are skipped.
pub fn read_manifests(fs: &dyn Fs, file: &Path) -> Result<Vec<RenderedObject>, RenderError> {
    let text = fs
        .read_to_string(file)
        .map_err(|e| RenderError::new(e.to_string()).in_file(file))?;
    let documents = parse_documents(&text).map_err(|e| RenderError {
        message: e.message.clone(),
        file: Some(file.to_path_buf()),
        line: e.line,
    })?;
    Ok(documents
        .into_iter()
        .enumerate()
        .filter(|(_, value)| value.is_object())
        .map(|(index, value)| RenderedObject {
            value,
            file: Some(file.to_path_buf()),
            document: Some(index),
        })
        .collect())
}
