//! The `labels:` and `commonLabels:` transformers. Each `labels` entry sets its pairs on
//! `metadata.labels`, plus its own `fields`, plus selectors (`includeSelectors`, kustomize's
//! commonLabels field specs) or pod templates (`includeTemplates`); `commonLabels` always
//! includes selectors.

use std::collections::BTreeMap;

use capstan_core::{Map, Value};

use crate::config::{TransformerConfig, merge_all, merge_one};
use crate::error::{Error, Result};
use crate::fieldpath::{self, Create};
use crate::kustomization::{FieldSpec, Label};
use crate::resmap::ResMap;

/// The field specs one `labels` entry acts on, merged as kustomize merges them.
pub fn label_field_specs(label: &Label, config: &TransformerConfig) -> Result<Vec<FieldSpec>> {
    let mut specs = label.field_specs.clone();
    let wrap = |e: Error| Error::msg(format!("failed to merge labels: {e}"));
    merge_all(&mut specs, &config.labels).map_err(wrap)?;
    if label.include_selectors {
        merge_all(&mut specs, &config.common_labels).map_err(wrap)?;
    } else {
        if label.include_templates {
            merge_all(&mut specs, &config.template_labels)
                .map_err(|e| Error::msg(format!("failed to merge template fieldSpec: {e}")))?;
        }
        merge_one(
            &mut specs,
            FieldSpec {
                path: "metadata/labels".into(),
                create_if_not_present: true,
                ..FieldSpec::default()
            },
        )
        .map_err(wrap)?;
    }
    Ok(specs)
}

/// Sets every pair of `pairs` through `field_specs` on every resource (maps created as needed).
pub fn apply_map(
    resmap: &mut ResMap,
    pairs: &BTreeMap<String, String>,
    field_specs: &[FieldSpec],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    for resource in resmap.iter_mut() {
        for (key, value) in pairs {
            for spec in field_specs {
                fieldpath::apply(
                    spec,
                    &mut resource.object,
                    Create::Map,
                    &mut |node: &mut Value| set_entry(node, key, value),
                )?;
            }
        }
    }
    Ok(())
}

/// Sets `key: value` in a mapping node (a null node becomes a mapping).
pub fn set_entry(node: &mut Value, key: &str, value: &str) -> Result<()> {
    match node {
        Value::Object(map) => {
            map.insert(key.to_owned(), Value::String(value.to_owned()));
            Ok(())
        }
        Value::Null => {
            let mut map = Map::new();
            map.insert(key.to_owned(), Value::String(value.to_owned()));
            *node = Value::Object(map);
            Ok(())
        }
        _ => Err(Error::msg(format!(
            "wrong node kind: expected MappingNode but got {}",
            node_kind(node)
        ))),
    }
}

fn node_kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "SequenceNode",
        Value::Object(_) => "MappingNode",
        _ => "ScalarNode",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Resource;
    use serde_json::json;

    #[test]
    fn common_labels_reach_selectors() {
        let mut m = ResMap::new();
        m.append(Resource::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {}}}}),
        ))
        .unwrap();
        let label = Label {
            pairs: [("a".to_owned(), "b".to_owned())].into(),
            include_selectors: true,
            ..Label::default()
        };
        let specs = label_field_specs(&label, &TransformerConfig::defaults()).unwrap();
        apply_map(&mut m, &label.pairs, &specs).unwrap();
        let d = m.get(0).unwrap();
        assert_eq!(d.object["spec"]["selector"]["matchLabels"]["a"], json!("b"));
        assert_eq!(
            d.object["spec"]["template"]["metadata"]["labels"]["a"],
            json!("b")
        );
        assert_eq!(d.object["metadata"]["labels"]["a"], json!("b"));
    }

    #[test]
    fn plain_labels_only_touch_metadata() {
        let mut m = ResMap::new();
        m.append(Resource::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
        ))
        .unwrap();
        let label = Label {
            pairs: [("a".to_owned(), "b".to_owned())].into(),
            ..Label::default()
        };
        let specs = label_field_specs(&label, &TransformerConfig::defaults()).unwrap();
        apply_map(&mut m, &label.pairs, &specs).unwrap();
        assert!(m.get(0).unwrap().object.get("spec").is_none());
    }
}
