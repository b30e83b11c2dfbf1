//! `buildMetadata: [transformerAnnotations]`: the `alpha.config.kubernetes.io/transformations`
//! annotation listing, for every object, each transformer that ran over it (where it was
//! configured and by what), in the order they ran. As in kustomize, every transformer that is
//! configured marks every object it was run over, whether or not it changed it; an object
//! with no known origin takes the transformer as its origin instead. Also home to
//! `managedByLabel`, the other `buildMetadata` option that marks the output.

use capstan_core::Value;

use crate::origin::{ConfiguredBy, ORIGIN_ANNOTATION, Origin, set_origin_annotation};
use crate::resmap::ResMap;

/// The annotation key.
pub const TRANSFORMATIONS_ANNOTATION: &str = "alpha.config.kubernetes.io/transformations";

/// The origin of a built-in transformer configured by a kustomization field.
pub fn builtin(origin: &Origin, file_name: &str, kind: &str) -> Origin {
    let configured_in = origin.append(file_name).path;
    origin.generated(
        configured_in,
        ConfiguredBy {
            api_version: "builtin".into(),
            kind: kind.into(),
            ..ConfiguredBy::default()
        },
    )
}

/// Records that the transformer `by` ran over every object of `resmap`.
pub fn record(resmap: &mut ResMap, by: &Origin) {
    let origin_text = by.to_annotation();
    let mut item = String::new();
    for (i, line) in origin_text.lines().enumerate() {
        item.push_str(if i == 0 { "- " } else { "  " });
        item.push_str(line);
        item.push('\n');
    }
    for resource in resmap.iter_mut() {
        if resource.annotation(ORIGIN_ANNOTATION).is_none() {
            set_origin_annotation(resource, &origin_text);
            continue;
        }
        let text = format!(
            "{}{item}",
            resource
                .annotation(TRANSFORMATIONS_ANNOTATION)
                .unwrap_or("")
        );
        let meta = resource.metadata_mut();
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(capstan_core::Map::new()));
        crate::resource::ensure_object(annotations)
            .insert(TRANSFORMATIONS_ANNOTATION.into(), Value::String(text));
    }
}

/// Removes the transformations annotations unless `buildMetadata` asks to keep them.
pub fn finish(resmap: &mut ResMap, build_metadata: &[String]) {
    if build_metadata.iter().any(|b| b == "transformerAnnotations") {
        return;
    }
    for resource in resmap.iter_mut() {
        if resource.annotation(TRANSFORMATIONS_ANNOTATION).is_none() {
            continue;
        }
        let meta = resource.metadata_mut();
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(TRANSFORMATIONS_ANNOTATION);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
}

/// The label `buildMetadata: [managedByLabel]` puts on every object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// Its value: `kubectl kustomize` (the oracle capstan matches) reports its kustomize version as
/// `(devel)`.
pub const MANAGED_BY_VALUE: &str = "kustomize-(devel)";

/// Sets the managed-by label on every object.
pub fn managed_by(resmap: &mut ResMap) {
    for resource in resmap.iter_mut() {
        let labels = resource
            .metadata_mut()
            .entry("labels")
            .or_insert_with(|| Value::Object(capstan_core::Map::new()));
        crate::resource::ensure_object(labels).insert(
            MANAGED_BY_LABEL.into(),
            Value::String(MANAGED_BY_VALUE.into()),
        );
    }
}
