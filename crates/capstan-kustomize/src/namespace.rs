//! The `namespace:` transformer. Sets `metadata.namespace` on every namespaced object, renames
//! `v1 Namespace` objects, fills the namespace fields of the default field specs (APIService
//! service, CRD conversion webhook), and follows kustomize's RoleBinding rule: subjects of
//! (Cluster)RoleBindings named `default` get the namespace too.

use capstan_core::Value;

use crate::error::{Error, Result};
use crate::fieldpath::{self, Create};
use crate::kustomization::FieldSpec;
use crate::resmap::ResMap;

/// Sets `namespace` on every resource of `resmap`, through `field_specs`.
pub fn apply(resmap: &mut ResMap, namespace: &str, field_specs: &[FieldSpec]) -> Result<()> {
    if namespace.is_empty() {
        return Ok(());
    }
    for index in 0..resmap.len() {
        let resource = resmap.get_mut(index).expect("index in range");
        resource.store_previous_id();
        let gvk = resource.gvk();
        let api_version = resource.api_version().to_owned();
        let is_binding = gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding";
        let set = &mut |node: &mut Value| set_scalar(node, namespace);
        if !gvk.is_cluster_scoped() {
            let meta = FieldSpec {
                path: "metadata/namespace".into(),
                create_if_not_present: true,
                ..FieldSpec::default()
            };
            fieldpath::apply(&meta, &mut resource.object, Create::Scalar, set)
                .map_err(|e| e.context("namespace transformation failed"))?;
        }
        if is_binding && let Some(Value::Array(subjects)) = resource.object.get_mut("subjects") {
            for subject in subjects.iter_mut() {
                if subject.get("name").and_then(Value::as_str) == Some("default")
                    && let Value::Object(map) = subject
                {
                    map.insert("namespace".into(), Value::String(namespace.to_owned()));
                }
            }
        }
        for spec in field_specs {
            if spec.path == "metadata/namespace" {
                continue;
            }
            if api_version != "v1" && spec.path == "metadata/name" {
                continue;
            }
            if is_binding
                && (spec.kind == "RoleBinding" || spec.kind == "ClusterRoleBinding")
                && spec.path == "subjects/namespace"
            {
                continue;
            }
            fieldpath::apply(spec, &mut resource.object, Create::Scalar, set)
                .map_err(|e| e.context("namespace transformation failed"))?;
        }
        let id = resource.id();
        if resmap.matching_current(|other| other.equals(&id)).len() != 1 {
            return Err(Error::msg(format!(
                "namespace transformation produces ID conflict: {id}"
            )));
        }
    }
    Ok(())
}

fn set_scalar(node: &mut Value, value: &str) -> Result<()> {
    match node {
        Value::Object(_) | Value::Array(_) => {
            Err(Error::msg("namespace field specs must target scalar nodes"))
        }
        _ => {
            *node = Value::String(value.to_owned());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TransformerConfig;
    use crate::resource::Resource;
    use serde_json::json;

    #[test]
    fn sets_namespaced_objects_and_default_subjects() {
        let mut m = ResMap::new();
        m.append(Resource::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        ))
        .unwrap();
        m.append(Resource::new(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}}),
        ))
        .unwrap();
        m.append(Resource::new(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "b"}, "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "x"},
            {"kind": "ServiceAccount", "name": "other", "namespace": "x"}]}))).unwrap();
        apply(&mut m, "ns", &TransformerConfig::defaults().namespace).unwrap();
        let objs: Vec<_> = m.objects().cloned().collect();
        assert_eq!(objs[0]["metadata"]["namespace"], json!("ns"));
        assert_eq!(objs[1]["metadata"]["name"], json!("ns"));
        assert!(objs[1]["metadata"].get("namespace").is_none());
        assert_eq!(objs[2]["subjects"][0]["namespace"], json!("ns"));
        assert_eq!(objs[2]["subjects"][1]["namespace"], json!("x"));
    }
}
