//! The patch transformers of a kustomization: `patches` (strategic merge or JSON6902, told apart
//! by their body as kustomize does, inline `patch:` or a `path:` file, with an optional
//! `target` selector and `allowNameChange` / `allowKindChange` options), and the deprecated
//! `patchesStrategicMerge` (inline YAML or file paths) and `patchesJson6902`.
//!
//! A strategic-merge patch without a target applies to the one object whose original or current
//! id equals the patch's own id; with a target it applies to every selected object, taking the
//! object's `apiVersion`. After merging, the object keeps its name, namespace and kind unless the
//! options allow changing them. A JSON6902 patch always needs a target.

use std::path::Path;
use std::sync::Arc;

use capstan_core::Value;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::json6902::JsonPatch;
use crate::loader::Loader;
use crate::openapi::CustomSchema;
use crate::resid::ResId;
use crate::resmap::ResMap;
use crate::resource::Resource;
use crate::selector::{self, Selector};
use crate::smp;
use crate::target::read_resources;

/// One `patches` entry (also the config of a `PatchTransformer` in `transformers:`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEntry {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub patch: String,
    #[serde(default)]
    pub target: Option<Selector>,
    #[serde(default)]
    pub options: Options,
}

/// The `options` of a `patches` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub allow_name_change: bool,
    #[serde(default)]
    pub allow_kind_change: bool,
}

/// One `patchesJson6902` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Json6902Entry {
    #[serde(default)]
    pub target: Option<Selector>,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub patch: String,
}

/// A patch body, decoded.
#[derive(Debug, Clone)]
pub enum Body {
    /// Strategic-merge patches, one per YAML document.
    StrategicMerge(Vec<Value>),
    /// A JSON6902 patch, with its text for messages.
    Json6902(JsonPatch, String),
}

/// Reads the patch documents of a strategic-merge body as kustomize reads resources (every
/// document needs a `kind` and, unless it is a `…List`, a `metadata.name`; lists are expanded);
/// `None` when the body is not one.
fn strategic_merge_docs(text: &str) -> Option<Vec<Value>> {
    let resources = read_resources(text.as_bytes(), Path::new("<patch>")).ok()?;
    Some(resources.into_iter().map(|r| r.object).collect())
}

/// Tells a strategic-merge body from a JSON6902 one, as kustomize's `PatchTransformer` does.
pub fn decode_body(text: &str, source: &str) -> Result<Body> {
    let sm = strategic_merge_docs(text);
    let json = JsonPatch::parse(text);
    match (sm, json) {
        (Some(docs), Err(_)) => Ok(Body::StrategicMerge(docs)),
        (None, Ok(patch)) => Ok(Body::Json6902(patch, text.to_owned())),
        (Some(_), Ok(_)) => Err(Error::msg(format!(
            "illegally qualifies as both an SM and JSON patch: {source}"
        ))),
        (None, Err(_)) => Err(Error::msg(format!(
            "unable to parse SM or JSON patch from {source}"
        ))),
    }
}

fn decode<T: for<'de> Deserialize<'de>>(entry: &Value, field: &str) -> Result<T> {
    T::deserialize(entry).map_err(|e| Error::msg(format!("invalid {field} entry {entry}: {e}")))
}

/// Applies the `patches` entries in order.
pub fn apply_patches(resmap: &mut ResMap, entries: &[Value], loader: &Loader<'_>) -> Result<()> {
    for entry in entries {
        let entry: PatchEntry = decode(entry, "patches")?;
        apply_patch_entry(resmap, &entry, loader)?;
    }
    Ok(())
}

/// Applies one `patches` entry (or `PatchTransformer` config).
pub fn apply_patch_entry(
    resmap: &mut ResMap,
    entry: &PatchEntry,
    loader: &Loader<'_>,
) -> Result<()> {
    let inline = entry.patch.trim();
    let (text, source) = match (inline.is_empty(), entry.path.is_empty()) {
        (true, true) => {
            return Err(Error::msg(
                "must specify one of patch and path in\npatches entry",
            ));
        }
        (false, false) => return Err(Error::msg("patch and path can't be set at the same time")),
        (false, true) => (inline.to_owned(), format!("[patch: {inline:?}]")),
        (true, false) => {
            let text = loader.load_string(&entry.path).map_err(|e| {
                Error::msg(format!(
                    "failed to get the patch file from path({}): {e}",
                    entry.path
                ))
            })?;
            (text, format!("[path: {:?}]", entry.path))
        }
    };
    match decode_body(&text, &source)? {
        Body::StrategicMerge(docs) => {
            let options = entry.options;
            match &entry.target {
                Some(target) => {
                    if docs.len() > 1 {
                        return Err(Error::msg(format!(
                            "Multiple Strategic-Merge Patches in one `patches` entry is not allowed to set `patches.target` field: {source}"
                        )));
                    }
                    let Some(patch) = docs.first() else {
                        return Err(Error::msg(format!("patch appears to be empty: {source}")));
                    };
                    let chosen = selector::select(resmap, target)?;
                    apply_smp_to(resmap, &chosen, patch, options, true, loader)
                }
                None => {
                    for patch in &docs {
                        let id = ResId::of(patch);
                        let chosen = by_id(resmap, &id).map_err(|e| {
                            Error::msg(format!(
                                "no resource matches strategic merge patch \"{id}\": {e}"
                            ))
                        })?;
                        apply_smp_to(resmap, &[chosen], patch, options, false, loader)?;
                    }
                    Ok(())
                }
            }
        }
        Body::Json6902(patch, _) => {
            let Some(target) = &entry.target else {
                return Err(Error::msg(format!(
                    "must specify a target for JSON patch {source}"
                )));
            };
            let chosen = selector::select(resmap, target)?;
            for index in chosen {
                if let Some(resource) = resmap.get_mut(index) {
                    resource.store_previous_id();
                    apply_json(resource, &patch)?;
                }
            }
            Ok(())
        }
    }
}

/// kustomize's `GetById`: the one resource with an id (original or current) equal to `id`.
fn by_id(resmap: &ResMap, id: &ResId) -> Result<usize> {
    let found = resmap.matching_any(|candidate| candidate.equals(id));
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::msg(format!(
            "no matches for Id {id}; failed to find unique target for patch {id}"
        ))),
        _ => Err(Error::msg(format!(
            "multiple matches for Id {id}; failed to find unique target for patch {id}"
        ))),
    }
}

fn apply_json(resource: &mut Resource, patch: &JsonPatch) -> Result<()> {
    patch
        .apply(&mut resource.object)
        .map_err(|e| Error::msg(e.message))
}

/// Applies one strategic-merge patch to the chosen resources, dropping those it deletes.
fn apply_smp_to(
    resmap: &mut ResMap,
    chosen: &[usize],
    patch: &Value,
    options: Options,
    targeted: bool,
    loader: &Loader<'_>,
) -> Result<()> {
    let custom = loader.openapi().custom();
    let mut deleted = Vec::new();
    for &index in chosen {
        let Some(resource) = resmap.get_mut(index) else {
            continue;
        };
        let mut patch = patch.clone();
        if targeted && let Value::Object(map) = &mut patch {
            let kind = map
                .get("kind")
                .cloned()
                .unwrap_or(Value::String(String::new()));
            map.insert(
                "apiVersion".to_owned(),
                Value::String(resource.api_version().to_owned()),
            );
            map.insert("kind".to_owned(), kind);
        }
        if !apply_smp(resource, &patch, options, custom.as_ref())? {
            deleted.push(index);
        }
    }
    for index in deleted.into_iter().rev() {
        resmap.remove(index);
    }
    Ok(())
}

/// kustomize's `Resource.ApplySmPatch`. Returns false when the patch deleted the object.
pub fn apply_smp(
    resource: &mut Resource,
    patch: &Value,
    options: Options,
    custom: Option<&Arc<CustomSchema>>,
) -> Result<bool> {
    let name = resource.name().to_owned();
    let namespace = resource.namespace().to_owned();
    let kind = resource.kind().to_owned();
    if options.allow_name_change || options.allow_kind_change {
        resource.store_previous_id();
        resource.allow_name_change |= options.allow_name_change;
        resource.allow_kind_change |= options.allow_kind_change;
    }
    let merged = smp::merge_marked(patch, &resource.object, custom, &resource.empty_nulls)
        .map_err(|e| {
            Error::msg(e.message).context(format!(
                "applying strategic merge patch to {}",
                resource.id()
            ))
        })?;
    let Some(merged) = merged.filter(|m| m.as_object().is_some_and(|o| !o.is_empty())) else {
        return Ok(false);
    };
    resource.object = merged;
    if !options.allow_kind_change
        && let Value::Object(map) = &mut resource.object
    {
        map.insert("kind".to_owned(), Value::String(kind));
    }
    if !options.allow_name_change {
        resource.set_name(&name);
    }
    if namespace.is_empty() {
        if let Some(Value::Object(meta)) = resource.object.get_mut("metadata") {
            meta.shift_remove("namespace");
        }
    } else {
        resource.set_namespace(&namespace);
    }
    Ok(true)
}

/// Applies the deprecated `patchesStrategicMerge` entries (inline YAML or file paths).
pub fn apply_strategic_merge(
    resmap: &mut ResMap,
    entries: &[Value],
    loader: &Loader<'_>,
) -> Result<()> {
    let mut patches = Vec::new();
    for entry in entries {
        let Some(text) = entry.as_str() else {
            return Err(Error::msg(format!(
                "invalid patchesStrategicMerge entry {entry}: expected a string"
            )));
        };
        let docs = match strategic_merge_docs(text).filter(|d| !d.is_empty()) {
            Some(docs) => docs,
            None => {
                let body = loader.load_string(text)?;
                strategic_merge_docs(&body)
                    .ok_or_else(|| Error::msg(format!("{text}: not a strategic merge patch")))?
            }
        };
        patches.extend(docs);
    }
    if patches.is_empty() {
        return Err(Error::msg("patch appears to be empty"));
    }
    for patch in &patches {
        let id = ResId::of(patch);
        let index = by_id(resmap, &id)?;
        apply_smp_to(resmap, &[index], patch, Options::default(), false, loader)?;
    }
    Ok(())
}

/// Applies the deprecated `patchesJson6902` entries.
pub fn apply_json6902(resmap: &mut ResMap, entries: &[Value], loader: &Loader<'_>) -> Result<()> {
    for entry in entries {
        let entry: Json6902Entry = decode(entry, "patchesJson6902")?;
        let Some(target) = &entry.target else {
            return Err(Error::msg("must specify a target for patch"));
        };
        if target.name.is_empty() {
            return Err(Error::msg("must specify the target name"));
        }
        let text = match (entry.path.is_empty(), entry.patch.is_empty()) {
            (true, true) => return Err(Error::msg("empty file path and empty jsonOp")),
            (false, false) => {
                return Err(Error::msg("must specify a file path or jsonOp, not both"));
            }
            (false, true) => {
                let text = loader.load_string(&entry.path)?;
                if text.is_empty() {
                    return Err(Error::msg(format!(
                        "patch file '{}' empty seems to be empty",
                        entry.path
                    )));
                }
                text
            }
            (true, false) => entry.patch.clone(),
        };
        let patch =
            JsonPatch::parse(&text).map_err(|e| Error::msg(format!("decoding {text}: {e}")))?;
        if patch.operations.is_empty() {
            return Err(Error::msg(format!(
                "patch appears to be empty; file={}, JsonOp={text}",
                entry.path
            )));
        }
        for index in selector::select(resmap, target)? {
            if let Some(resource) = resmap.get_mut(index) {
                apply_json(resource, &patch)?;
            }
        }
    }
    Ok(())
}

/// The fields of a transformer config that are not the plugin's own.
pub(crate) fn plugin_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        for key in ["apiVersion", "kind", "metadata"] {
            map.shift_remove(key);
        }
    }
    object
}

/// Runs a `PatchTransformer`, `PatchStrategicMergeTransformer` or `PatchJson6902Transformer`
/// configured in `transformers:`.
pub fn run_plugin(
    resmap: &mut ResMap,
    kind: &str,
    object: &Value,
    loader: &Loader<'_>,
) -> Result<()> {
    let config = plugin_fields(object);
    match kind {
        "PatchTransformer" => {
            let entry: PatchEntry = decode(&config, kind)?;
            apply_patch_entry(resmap, &entry, loader)
        }
        "PatchStrategicMergeTransformer" => {
            let mut entries: Vec<Value> = config
                .get("paths")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(inline) = config.get("patches").and_then(Value::as_str) {
                entries.push(Value::String(inline.to_owned()));
            }
            if entries.is_empty() {
                return Err(Error::msg("empty file path and empty patch content"));
            }
            apply_strategic_merge(resmap, &entries, loader)
        }
        _ => {
            let mut entry = serde_json::Map::new();
            for (from, to) in [("target", "target"), ("path", "path"), ("jsonOp", "patch")] {
                if let Some(v) = config.get(from) {
                    entry.insert(to.to_owned(), v.clone());
                }
            }
            apply_json6902(resmap, &[Value::Object(entry)], loader)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_told_apart() {
        assert!(matches!(
            decode_body("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", "x"),
            Ok(Body::StrategicMerge(d)) if d.len() == 1
        ));
        assert!(matches!(
            decode_body("- op: add\n  path: /a\n  value: 1\n", "x"),
            Ok(Body::Json6902(..))
        ));
        assert!(matches!(
            decode_body(r#"[{"op": "remove", "path": "/a"}]"#, "x"),
            Ok(Body::Json6902(..))
        ));
        assert!(matches!(
            decode_body("kind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata: {name: b}\n", "x"),
            Ok(Body::StrategicMerge(d)) if d.len() == 2
        ));
        // kustomize reads patches as resources: no kind or no name is neither kind of patch
        assert!(decode_body("spec:\n  replicas: 2\n", "x").is_err());
        assert!(decode_body("kind: A\nspec: {}\n", "x").is_err());
        assert!(decode_body("- 1\n- 2\n", "x").is_err());
    }
}
