//! The `namePrefix:` and `nameSuffix:` transformers: prepend or append to `metadata.name`
//! (and any other name field a `configurations:` file adds), except for CRDs, APIServices and
//! Namespaces, remembering the old id so references can follow.

use capstan_core::Value;

use crate::error::{Error, Result};
use crate::fieldpath::{self, Create};
use crate::kustomization::FieldSpec;
use crate::resid::{Gvk, ResId};
use crate::resmap::ResMap;

/// Prefix or suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affix {
    Prefix,
    Suffix,
}

fn skipped(id: &ResId) -> bool {
    [
        Gvk::new("", "", "CustomResourceDefinition"),
        Gvk::new("apiregistration.k8s.io", "", "APIService"),
        Gvk::new("", "", "Namespace"),
    ]
    .iter()
    .any(|selector| id.gvk.is_selected(selector))
}

/// Adds `affix` to the names of every resource in `resmap`, through `field_specs`.
pub fn apply(
    resmap: &mut ResMap,
    affix: Affix,
    text: &str,
    field_specs: &[FieldSpec],
) -> Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    for resource in resmap.iter_mut() {
        let org = resource.org_id();
        if skipped(&org) {
            continue;
        }
        for spec in field_specs {
            if !org.gvk.is_selected(&spec.gvk()) {
                continue;
            }
            if spec.path == "metadata/name" {
                match affix {
                    Affix::Prefix => resource.prefixes.push(text.to_owned()),
                    Affix::Suffix => resource.suffixes.push(text.to_owned()),
                }
                resource.store_previous_id();
            }
            fieldpath::apply(
                spec,
                &mut resource.object,
                Create::Scalar,
                &mut |node: &mut Value| {
                    let current = match node {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(Error::msg("expected a scalar name field")),
                    };
                    *node = Value::String(match affix {
                        Affix::Prefix => format!("{text}{current}"),
                        Affix::Suffix => format!("{current}{text}"),
                    });
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransformerConfig;
    use crate::resource::Resource;
    use serde_json::json;

    #[test]
    fn prefixes_names_but_not_namespaces() {
        let mut m = ResMap::new();
        m.append(Resource::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        ))
        .unwrap();
        m.append(Resource::new(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}),
        ))
        .unwrap();
        apply(
            &mut m,
            Affix::Prefix,
            "p-",
            &TransformerConfig::defaults().name_prefix,
        )
        .unwrap();
        apply(
            &mut m,
            Affix::Suffix,
            "-s",
            &TransformerConfig::defaults().name_suffix,
        )
        .unwrap();
        let names: Vec<_> = m.iter().map(|r| r.name().to_owned()).collect();
        assert_eq!(names, vec!["p-c-s", "n"]);
        assert_eq!(m.get(0).unwrap().org_id().name, "c");
    }
}
