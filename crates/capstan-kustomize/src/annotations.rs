//! The `commonAnnotations:` transformer: sets each annotation on `metadata.annotations` and on
//! pod templates, through kustomize's commonAnnotations field specs.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::kustomization::FieldSpec;
use crate::labels;
use crate::resmap::ResMap;

/// Sets `annotations` on every resource through `field_specs`.
pub fn apply(
    resmap: &mut ResMap,
    annotations: &BTreeMap<String, String>,
    field_specs: &[FieldSpec],
) -> Result<()> {
    labels::apply_map(resmap, annotations, field_specs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransformerConfig;
    use crate::resource::Resource;
    use serde_json::json;

    #[test]
    fn annotates_templates() {
        let mut m = ResMap::new();
        m.append(Resource::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
        ))
        .unwrap();
        apply(
            &mut m,
            &[("a".to_owned(), "b".to_owned())].into(),
            &TransformerConfig::defaults().common_annotations,
        )
        .unwrap();
        let d = &m.get(0).unwrap().object;
        assert_eq!(d["metadata"]["annotations"]["a"], json!("b"));
        assert_eq!(
            d["spec"]["template"]["metadata"]["annotations"]["a"],
            json!("b")
        );
    }
}
