//! Rendering an app's Flux Kustomization into the objects it applies, for the prune preview:
//! `spec.path` built by discovery's [`KustomizeRenderer`] (capstan's kustomize engine run as
//! kustomize-controller runs it), then `spec.targetNamespace` applied.

use std::path::Path;

use capstan_core::{Fs, Value};
use capstan_flux::discovery::KustomizeRenderer;
use capstan_flux::discovery::render::Renderer;

/// The objects the Flux Kustomization `ks` (a raw manifest) applies from `dir` (relative to
/// `root`).
pub fn render(fs: &dyn Fs, root: &Path, dir: &Path, ks: &Value) -> anyhow::Result<Vec<Value>> {
    let rendered = KustomizeRenderer::default()
        .render(fs, &root.join(dir))
        .map_err(|e| match &e.file {
            Some(file) => anyhow::anyhow!("{}: {}", file.display(), e.message),
            None => anyhow::anyhow!("{}", e.message),
        })?;
    let mut objects: Vec<Value> = rendered.into_iter().map(|r| r.value).collect();
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
