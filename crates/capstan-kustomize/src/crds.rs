//! The `crds:` field: OpenAPI definition files (JSON or YAML, `{typeName: {Schema: …}}`) whose
//! `x-kubernetes-*` extensions declare, for custom kinds, which fields are annotations
//! (`x-kubernetes-annotation`), label selectors (`x-kubernetes-label-selector`), the object's
//! own name (`x-kubernetes-identity`, for name prefixes) and references to other objects by
//! name (`x-kubernetes-object-ref-api-version` + `-kind`, optional `-name-key`). `$ref`s are
//! followed into the referenced definitions, as kustomize does.

use capstan_core::{Map, Value};

use crate::config::{NameBackReferences, TransformerConfig, merge_one};
use crate::error::{Error, Result};
use crate::kustomization::FieldSpec;
use crate::loader::Loader;

/// How deep `$ref` chains are followed (guards against reference cycles).
const MAX_DEPTH: usize = 32;

/// Reads the field specs the CRD definition files at `paths` declare.
pub fn load_config(loader: &Loader<'_>, paths: &[String]) -> Result<TransformerConfig> {
    let mut config = TransformerConfig::default();
    for path in paths {
        let text = loader.load_string(path)?;
        let definitions = capstan_core::yaml::parse_document(&text).map_err(|e| {
            Error::msg(format!(
                "unable to parse open API definition from '{path}': {e}"
            ))
        })?;
        let Some(definitions) = definitions.as_object() else {
            return Err(Error::msg(format!(
                "unable to parse open API definition from '{path}': not a mapping"
            )));
        };
        let mut names: Vec<&String> = definitions.keys().collect();
        names.sort();
        for name in names {
            let properties = properties(definitions, name);
            let Some(properties) = properties else {
                continue;
            };
            if !["kind", "apiVersion", "metadata"]
                .iter()
                .all(|k| properties.contains_key(*k))
            {
                continue;
            }
            let kind = name.rsplit('.').next().unwrap_or(name).to_owned();
            load_type(&mut config, &kind, definitions, name, &mut Vec::new(), 0)?;
        }
    }
    Ok(config)
}

fn properties<'a>(definitions: &'a Map, name: &str) -> Option<&'a Map> {
    definitions
        .get(name)?
        .get("Schema")?
        .get("properties")?
        .as_object()
}

fn field_spec(kind: &str, path: &[String]) -> FieldSpec {
    FieldSpec {
        kind: kind.to_owned(),
        path: path.join("/"),
        ..FieldSpec::default()
    }
}

fn load_type(
    config: &mut TransformerConfig,
    kind: &str,
    definitions: &Map,
    type_name: &str,
    path: &mut Vec<String>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let Some(props) = properties(definitions, type_name) else {
        return Ok(());
    };
    let mut names: Vec<&String> = props.keys().collect();
    names.sort();
    for prop_name in names {
        let property = &props[prop_name];
        let ext = |key: &str| property.get(key).and_then(Value::as_str);
        path.push(prop_name.clone());
        if ext("x-kubernetes-annotation").is_some() {
            merge_one(&mut config.common_annotations, field_spec(kind, path))?;
        }
        if ext("x-kubernetes-label-selector").is_some() {
            merge_one(&mut config.common_labels, field_spec(kind, path))?;
        }
        if ext("x-kubernetes-identity").is_some() {
            merge_one(&mut config.name_prefix, field_spec(kind, path))?;
        }
        if let (Some(version), Some(ref_kind)) = (
            ext("x-kubernetes-object-ref-api-version"),
            ext("x-kubernetes-object-ref-kind"),
        ) {
            let name_key = ext("x-kubernetes-object-ref-name-key").unwrap_or("name");
            let mut referrer = path.clone();
            referrer.push(name_key.to_owned());
            config.add_name_reference(NameBackReferences {
                group: String::new(),
                version: version.to_owned(),
                kind: ref_kind.to_owned(),
                referrers: vec![field_spec(kind, &referrer)],
            })?;
        }
        if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
            load_type(config, kind, definitions, reference, path, depth + 1)?;
        }
        path.pop();
    }
    Ok(())
}
