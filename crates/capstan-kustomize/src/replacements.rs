//! The `replacements` transformer: copies a value from one object's field into fields of others.
//!
//! Entries are inline (`source` + `targets`) or `path:` files holding one replacement or a list.
//! The source is the one object whose ids (current or earlier) are selected by `source` (exact
//! group/version/kind/name/namespace), read at `fieldPath` (default `metadata.name`), optionally
//! cut by `options.delimiter`/`index`. Each target selects objects by id plus label and
//! annotation selectors, minus `reject`s, and writes the value at every `fieldPaths` match —
//! creating missing fields with `options.create`, or splicing into a delimited scalar. As in
//! kustomize, an existing scalar keeps its type (a number stays a number), while a created one
//! reads the text as YAML would.

use capstan_core::Value;
use serde::Deserialize;

use crate::dotted_path::{self, Create, Found};
use crate::error::{Error, Result};
use crate::loader::Loader;
use crate::resid::{Gvk, ResId};
use crate::resmap::ResMap;
use crate::resource::Resource;
use crate::selector::{LabelSelector, Selector};

const DEFAULT_FIELD_PATH: &str = "metadata.name";

/// A `replacements` entry: a `path:` to a file of replacements, or one inline.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplacementField {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub source: Option<SourceSelector>,
    #[serde(default)]
    pub targets: Option<Vec<TargetSelector>>,
}

/// One replacement.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Replacement {
    #[serde(default)]
    pub source: Option<SourceSelector>,
    #[serde(default)]
    pub targets: Option<Vec<TargetSelector>>,
}

/// Where the value comes from.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceSelector {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub field_path: String,
    #[serde(default)]
    pub options: Option<FieldOptions>,
}

/// Where the value goes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSelector {
    #[serde(default)]
    pub select: Option<Selector>,
    #[serde(default)]
    pub reject: Vec<Selector>,
    #[serde(default)]
    pub field_paths: Vec<String>,
    #[serde(default)]
    pub options: Option<FieldOptions>,
}

/// How a value is cut from a source or spliced into a target.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldOptions {
    #[serde(default)]
    pub delimiter: String,
    #[serde(default)]
    pub index: i64,
    #[serde(default)]
    pub encoding: String,
    #[serde(default)]
    pub create: bool,
}

fn id_of(group: &str, version: &str, kind: &str, name: &str, namespace: &str) -> ResId {
    ResId::new(Gvk::new(group, version, kind), name, namespace)
}

impl SourceSelector {
    fn id(&self) -> ResId {
        id_of(
            &self.group,
            &self.version,
            &self.kind,
            &self.name,
            &self.namespace,
        )
    }
}

fn selector_id(s: &Selector) -> ResId {
    id_of(&s.group, &s.version, &s.kind, &s.name, &s.namespace)
}

fn selector_id_is_empty(s: &Selector) -> bool {
    s.group.is_empty()
        && s.version.is_empty()
        && s.kind.is_empty()
        && s.name.is_empty()
        && s.namespace.is_empty()
}

/// Reads the `replacements` entries of a kustomization, loading `path:` files.
pub fn load(entries: &[Value], loader: &Loader<'_>) -> Result<Vec<Replacement>> {
    let mut out = Vec::new();
    for entry in entries {
        let field = ReplacementField::deserialize(entry)
            .map_err(|e| Error::msg(format!("invalid replacements entry {entry}: {e}")))?;
        if field.path.is_empty() {
            out.push(Replacement {
                source: field.source,
                targets: field.targets,
            });
            continue;
        }
        if field.source.is_some() || field.targets.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(Error::msg(
                "cannot specify both path and inline replacement",
            ));
        }
        let text = loader.load_string(&field.path)?;
        let value = capstan_core::yaml::parse_document(&text)
            .map_err(|e| Error::msg(format!("{}: {e}", field.path)))?;
        let bad = |e: serde_json::Error| Error::msg(format!("{}: {e}", field.path));
        match value {
            Value::Array(_) => out.extend(Vec::<Replacement>::deserialize(&value).map_err(bad)?),
            Value::Object(_) => out.push(Replacement::deserialize(&value).map_err(bad)?),
            _ => {
                return Err(Error::msg(format!(
                    "unsupported replacement type encountered within replacement path: {}",
                    field.path
                )));
            }
        }
    }
    Ok(out)
}

/// Applies the replacements of a kustomization.
pub fn apply(resmap: &mut ResMap, entries: &[Value], loader: &Loader<'_>) -> Result<()> {
    let replacements = load(entries, loader)?;
    apply_all(resmap, &replacements)
}

/// Runs a `ReplacementTransformer` configured in `transformers:`.
pub fn run_plugin(resmap: &mut ResMap, object: &Value, loader: &Loader<'_>) -> Result<()> {
    let entries = object
        .get("replacements")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    apply(resmap, &entries, loader)
}

/// Applies already loaded replacements, in order.
pub fn apply_all(resmap: &mut ResMap, replacements: &[Replacement]) -> Result<()> {
    for r in replacements {
        let (Some(source), Some(targets)) = (&r.source, &r.targets) else {
            return Err(Error::msg(
                "replacements must specify a source and at least one target",
            ));
        };
        let value = source_value(resmap, source)?;
        for target in targets {
            apply_target(resmap, &value, target)?;
        }
    }
    Ok(())
}

fn source_value(resmap: &ResMap, source: &SourceSelector) -> Result<Value> {
    let wanted = source.id();
    let mut found: Option<&Resource> = None;
    for resource in resmap.iter() {
        if resource
            .all_ids()
            .iter()
            .any(|id| id.is_selected_by(&wanted))
        {
            if found.is_some() {
                return Err(Error::msg(format!(
                    "multiple matches for selector {wanted}"
                )));
            }
            found = Some(resource);
        }
    }
    let Some(resource) = found else {
        return Err(Error::msg(format!("nothing selected by {wanted}")));
    };
    let field_path = if source.field_path.is_empty() {
        DEFAULT_FIELD_PATH
    } else {
        &source.field_path
    };
    let node = dotted_path::lookup(&resource.object, &dotted_path::split(field_path))
        .map_err(|e| Error::msg(format!("error looking up replacement source: {e}")))?;
    let node = match node {
        Some(n) if !is_nil_or_empty(n) => n,
        _ => {
            return Err(Error::msg(format!(
                "fieldPath `{field_path}` is missing for replacement source {wanted}"
            )));
        }
    };
    let Some(options) = source.options.as_ref().filter(|o| !o.delimiter.is_empty()) else {
        return Ok(node.clone());
    };
    if node.is_object() || node.is_array() {
        return Err(Error::msg(
            "delimiter option can only be used with scalar nodes",
        ));
    }
    let text = dotted_path::scalar_text(node);
    let parts: Vec<&str> = text.split(options.delimiter.as_str()).collect();
    let part = usize::try_from(options.index)
        .ok()
        .and_then(|i| parts.get(i))
        .ok_or_else(|| {
            Error::msg(format!(
                "options.index {} is out of bounds for value {text}",
                options.index
            ))
        })?;
    Ok(retyped(node, part))
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `text` in the type of the scalar `like` (kyaml replaces a node's text, keeping its tag).
fn retyped(like: &Value, text: &str) -> Value {
    match like {
        Value::String(_) => Value::String(text.to_owned()),
        Value::Number(_) => match dotted_path::resolve_plain(text) {
            n @ Value::Number(_) => n,
            _ => Value::String(text.to_owned()),
        },
        Value::Bool(_) => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        _ => Value::String(text.to_owned()),
    }
}

fn string_pairs(resource: &Resource, field: &str) -> Vec<(String, String)> {
    resource
        .object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn labels_and_annotations_match(resource: &Resource, selector: &Selector) -> Result<bool> {
    let labels = string_pairs(resource, "labels");
    let annotations = string_pairs(resource, "annotations");
    let l: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let a: Vec<(&str, &str)> = annotations
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(
        LabelSelector::parse(&selector.annotation_selector)?.matches(&a)
            && LabelSelector::parse(&selector.label_selector)?.matches(&l),
    )
}

fn apply_target(resmap: &mut ResMap, value: &Value, target: &TargetSelector) -> Result<()> {
    let Some(select) = &target.select else {
        return Err(Error::msg("target must specify resources to select"));
    };
    let field_paths: Vec<String> = if target.field_paths.is_empty() {
        vec![DEFAULT_FIELD_PATH.to_owned()]
    } else {
        target.field_paths.clone()
    };
    let select_id = selector_id(select);
    for resource in resmap.iter_mut() {
        if !labels_and_annotations_match(resource, select)? {
            continue;
        }
        let mut rejected = false;
        for reject in &target.reject {
            if reject.annotation_selector.is_empty() && reject.label_selector.is_empty() {
                continue;
            }
            if labels_and_annotations_match(resource, reject)? {
                rejected = true;
                break;
            }
        }
        if rejected {
            continue;
        }
        let ids = resource.all_ids();
        let reject_by_id = target
            .reject
            .iter()
            .filter(|r| !selector_id_is_empty(r))
            .any(|r| ids.iter().any(|id| id.is_selected_by(&selector_id(r))));
        if !ids.iter().any(|id| id.is_selected_by(&select_id)) || reject_by_id {
            continue;
        }
        for path in &field_paths {
            copy_to(&mut resource.object, value, path, target.options.as_ref())?;
        }
    }
    Ok(())
}

fn copy_to(
    object: &mut Value,
    value: &Value,
    field_path: &str,
    options: Option<&FieldOptions>,
) -> Result<()> {
    let create = match (options.is_some_and(|o| o.create), value) {
        (false, _) => Create::Nothing,
        (true, Value::Object(_)) => Create::Map,
        (true, Value::Array(_)) => Create::Seq,
        (true, _) => Create::Scalar,
    };
    let not_found = || {
        if create == Create::Nothing {
            format!("unable to find field {field_path:?} in replacement target")
        } else {
            format!("unable to find or create field {field_path:?} in replacement target")
        }
    };
    let found: Vec<Found> = dotted_path::find_all(object, &dotted_path::split(field_path), create)
        .map_err(|e| Error::msg(format!("{}: {e}", not_found())))?;
    if found.is_empty() {
        return Err(Error::msg(not_found()));
    }
    for f in found {
        let Some(node) = dotted_path::at_mut(object, &f.steps) else {
            continue;
        };
        set_field_value(node, value, f.created, options)?;
    }
    Ok(())
}

fn set_field_value(
    target: &mut Value,
    value: &Value,
    created: bool,
    options: Option<&FieldOptions>,
) -> Result<()> {
    let target_is_scalar = !(target.is_object() || target.is_array());
    let mut text = dotted_path::scalar_text(value);
    if let Some(o) = options.filter(|o| !o.delimiter.is_empty()) {
        if !target_is_scalar {
            return Err(Error::msg(
                "delimiter option can only be used with scalar nodes",
            ));
        }
        let current = dotted_path::scalar_text(target);
        let mut parts: Vec<String> = current
            .split(o.delimiter.as_str())
            .map(str::to_owned)
            .collect();
        match usize::try_from(o.index) {
            Err(_) => parts.insert(0, text.clone()),
            Ok(i) if i >= parts.len() => parts.push(text.clone()),
            Ok(i) => parts[i] = text.clone(),
        }
        text = parts.join(&o.delimiter);
        let spliced = if value.is_object() || value.is_array() {
            Value::String(text)
        } else {
            retyped(value, &text)
        };
        return set_field_value(target, &spliced, created, None);
    }
    if !target_is_scalar {
        *target = value.clone();
        return Ok(());
    }
    *target = if created {
        if value.is_object() || value.is_array() {
            value.clone()
        } else {
            dotted_path::resolve_plain(&text)
        }
    } else {
        match target {
            Value::Null => Value::Null,
            _ => retyped(target, &text),
        }
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn opts(delimiter: &str, index: i64, create: bool) -> FieldOptions {
        FieldOptions {
            delimiter: delimiter.into(),
            index,
            create,
            ..FieldOptions::default()
        }
    }

    #[test]
    fn existing_scalars_keep_their_type_created_ones_read_as_yaml() {
        let mut obj = json!({"spec": {"n": 1, "s": "x", "b": false}});
        for path in ["spec.n", "spec.s", "spec.b"] {
            copy_to(&mut obj, &json!("7"), path, None).expect("found");
        }
        assert_eq!(obj["spec"], json!({"n": 7, "s": "7", "b": "7"}));
        copy_to(&mut obj, &json!("8"), "spec.new", Some(&opts("", 0, true))).expect("created");
        assert_eq!(obj["spec"]["new"], json!(8));
    }

    #[test]
    fn delimiters_splice_into_the_target() {
        let mut obj = json!({"image": "repo/app:1.0", "csv": "a,b"});
        copy_to(&mut obj, &json!("2.0"), "image", Some(&opts(":", 1, false))).expect("found");
        copy_to(&mut obj, &json!("z"), "csv", Some(&opts(",", -1, false))).expect("found");
        assert_eq!(obj, json!({"image": "repo/app:2.0", "csv": "z,a,b"}));
    }

    #[test]
    fn missing_targets_are_errors() {
        let mut obj = json!({"spec": {}});
        let e = copy_to(&mut obj, &json!("v"), "spec.none", None).expect_err("missing");
        assert!(
            e.to_string().contains("unable to find field \"spec.none\""),
            "{e}"
        );
        let mut obj = json!({"spec": "scalar"});
        assert!(copy_to(&mut obj, &json!("v"), "spec.x", Some(&opts("", 0, true))).is_err());
    }

    #[test]
    fn maps_replace_maps() {
        let mut obj = json!({"spec": {"m": {"a": 1}}});
        copy_to(&mut obj, &json!({"b": 2}), "spec.m", None).expect("found");
        assert_eq!(obj["spec"]["m"], json!({"b": 2}));
    }
}
