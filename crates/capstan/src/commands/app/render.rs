//! Rendering an app's Flux Kustomization into the objects it applies, for the prune preview:
//! `spec.path` built with capstan's kustomize engine the way kustomize-controller builds it (with
//! the folder's kustomization file, or the one the controller generates for a folder without
//! one; loads outside the folder allowed, as the controller allows them within the source),
//! then `spec.targetNamespace` applied.

use std::path::Path;

use anyhow::Context;
use capstan_core::{Fs, Value, yaml::parse_documents};
use capstan_flux::discovery::render::{
    RenderError, RenderedObject, Renderer, generated_resources, kustomization_file,
};
use capstan_kustomize::{LoadRestrictor, Options};

/// The objects the Flux Kustomization `ks` (a raw manifest) applies from `dir` (relative to
/// `root`).
pub fn render(fs: &dyn Fs, root: &Path, dir: &Path, ks: &Value) -> anyhow::Result<Vec<Value>> {
    let dir = root.join(dir);
    let options = Options {
        load_restrictor: LoadRestrictor::None,
        ..Options::default()
    };
    let build = |dir: &Path| -> anyhow::Result<Vec<Value>> {
        let resmap = capstan_kustomize::build(fs, dir, &options)
            .with_context(|| format!("kustomize build {}", rel(root, dir)))?;
        Ok(resmap.objects().cloned().collect())
    };
    let mut objects = if kustomization_file(fs, &dir).is_some() {
        build(&dir)?
    } else {
        let mut objects = Vec::new();
        let entries = generated_resources(fs, &dir)
            .with_context(|| format!("{}: cannot list", rel(root, &dir)))?;
        for entry in entries {
            let path = dir.join(&entry);
            if fs.is_dir(&path) {
                objects.extend(build(&path)?);
            } else {
                let text = fs
                    .read_to_string(&path)
                    .with_context(|| format!("{}: cannot read", rel(root, &path)))?;
                let docs = parse_documents(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {}", rel(root, &path), e.message))?;
                objects.extend(docs.into_iter().filter(Value::is_object));
            }
        }
        objects
    };
    if let Some(namespace) = ks.pointer("/spec/targetNamespace").and_then(Value::as_str) {
        for object in &mut objects {
            let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind != "Namespace"
                && let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut)
            {
                metadata.insert("namespace".into(), Value::from(namespace));
            }
        }
    }
    Ok(objects)
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Discovery's [`Renderer`] over the same build, so verification sees what Flux would see.
pub struct KustomizeRenderer;

impl Renderer for KustomizeRenderer {
    fn render(&self, fs: &dyn Fs, dir: &Path) -> Result<Vec<RenderedObject>, RenderError> {
        let objects = render(fs, Path::new(""), dir, &Value::Null)
            .map_err(|e| RenderError::new(format!("{e:#}")))?;
        Ok(objects
            .into_iter()
            .map(|value| RenderedObject {
                value,
                file: None,
                document: None,
            })
            .collect())
    }
}
