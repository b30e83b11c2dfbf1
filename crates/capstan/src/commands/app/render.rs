//! Rendering an app's Flux Kustomization into the objects it applies, for the prune preview.
//!
//! Interim: until the kustomize engine and Flux build land on main, this follows a folder's
//! `kustomization.yaml` `resources` (files and folders, recursively) and, for a folder without
//! one, takes every YAML file in it the way kustomize-controller generates a kustomization. It
//! applies no transformers; the objects' identities are what the preview needs.

use std::path::Path;

use anyhow::{Context, bail};
use capstan_core::{Fs, Value, yaml::parse_documents};

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The objects the Kustomization at `dir` (relative to `root`) applies.
pub fn render(fs: &dyn Fs, root: &Path, dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    render_dir(fs, root, &root.join(dir), 0, &mut out)?;
    Ok(out)
}

fn render_dir(
    fs: &dyn Fs,
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<Value>,
) -> anyhow::Result<()> {
    if depth > 32 {
        bail!("{}: kustomizations nest too deep (a cycle?)", dir.display());
    }
    if !fs.is_dir(dir) {
        bail!("{}: no such directory", rel(root, dir));
    }
    let kustomization = KUSTOMIZATION_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| fs.is_file(p));
    let Some(file) = kustomization else {
        for entry in fs.read_dir(dir)? {
            if fs.is_dir(&entry) {
                let has_kustomization = KUSTOMIZATION_FILES
                    .iter()
                    .any(|name| fs.is_file(&entry.join(name)));
                if has_kustomization {
                    render_dir(fs, root, &entry, depth + 1, out)?;
                }
            } else if entry.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                read_objects(fs, root, &entry, out)?;
            }
        }
        return Ok(());
    };
    let text = fs
        .read_to_string(&file)
        .with_context(|| format!("{}: cannot read", rel(root, &file)))?;
    let docs = parse_documents(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", rel(root, &file), e.message))?;
    let kustomization = docs.into_iter().next().unwrap_or(Value::Null);
    let namespace = kustomization.get("namespace").and_then(Value::as_str);
    let start = out.len();
    for entry in kustomization
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(entry) = entry.as_str() else {
            continue;
        };
        let path = capstan_core::fs::normalize(&dir.join(entry));
        if fs.is_dir(&path) {
            render_dir(fs, root, &path, depth + 1, out)?;
        } else {
            read_objects(fs, root, &path, out)?;
        }
    }
    if let Some(namespace) = namespace {
        for object in &mut out[start..] {
            let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind != "Namespace"
                && let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut)
            {
                metadata.insert("namespace".into(), Value::from(namespace));
            }
        }
    }
    Ok(())
}

fn read_objects(fs: &dyn Fs, root: &Path, file: &Path, out: &mut Vec<Value>) -> anyhow::Result<()> {
    let text = fs
        .read_to_string(file)
        .with_context(|| format!("{}: cannot read", rel(root, file)))?;
    let docs = parse_documents(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", rel(root, file), e.message))?;
    out.extend(docs.into_iter().filter(Value::is_object));
    Ok(())
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
