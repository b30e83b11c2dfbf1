//! The transformer configuration: which fields of which kinds each built-in transformer
//! touches. Starts from kustomize's defaults ([`crate::default_fieldspecs`]), extended by a
//! kustomization's `configurations:` files and by the field specs read from `crds:`.

use serde::{Deserialize, Serialize};

use crate::default_fieldspecs as defaults;
use crate::error::{Error, Result};
use crate::kustomization::FieldSpec;
use crate::resid::Gvk;

/// A field spec in a static table.
#[derive(Debug, Clone, Copy)]
pub struct StaticFieldSpec {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub path: &'static str,
    pub create: bool,
}

/// Builds a [`StaticFieldSpec`] (used by the generated tables).
pub const fn fs(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    path: &'static str,
    create: bool,
) -> StaticFieldSpec {
    StaticFieldSpec {
        group,
        version,
        kind,
        path,
        create,
    }
}

impl StaticFieldSpec {
    pub fn to_field_spec(self) -> FieldSpec {
        FieldSpec {
            group: self.group.to_owned(),
            version: self.version.to_owned(),
            kind: self.kind.to_owned(),
            path: self.path.to_owned(),
            create_if_not_present: self.create,
        }
    }
}

fn owned(table: &[StaticFieldSpec]) -> Vec<FieldSpec> {
    table.iter().map(|f| f.to_field_spec()).collect()
}

impl FieldSpec {
    pub fn gvk(&self) -> Gvk {
        Gvk::new(self.group.clone(), self.version.clone(), self.kind.clone())
    }

    /// True when this spec applies to objects of `gvk`.
    pub fn applies_to(&self, gvk: &Gvk) -> bool {
        gvk.is_selected(&self.gvk())
    }

    /// kustomize's `effectivelyEquals`: same path, and this spec's gvk selected by the other's.
    fn effectively_equals(&self, other: &FieldSpec) -> bool {
        let part = |mine: &str, selector: &str| selector.is_empty() || mine == selector;
        self.path == other.path
            && part(&self.group, &other.group)
            && part(&self.version, &other.version)
            && part(&self.kind, &other.kind)
    }
}

/// Adds `spec` to `list` unless an effectively equal one is there; conflicting `create` flags
/// are an error, as in kustomize.
pub fn merge_one(list: &mut Vec<FieldSpec>, spec: FieldSpec) -> Result<()> {
    if let Some(existing) = list.iter().find(|x| x.effectively_equals(&spec)) {
        if existing.create_if_not_present != spec.create_if_not_present {
            return Err(Error::msg("conflicting fieldspecs"));
        }
        return Ok(());
    }
    list.push(spec);
    Ok(())
}

/// Adds every spec of `incoming` with [`merge_one`].
pub fn merge_all(list: &mut Vec<FieldSpec>, incoming: &[FieldSpec]) -> Result<()> {
    for spec in incoming {
        merge_one(list, spec.clone())?;
    }
    Ok(())
}

/// The fields that refer by name to objects of one kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameBackReferences {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, rename = "fieldSpecs")]
    pub referrers: Vec<FieldSpec>,
}

impl NameBackReferences {
    pub fn gvk(&self) -> Gvk {
        Gvk::new(self.group.clone(), self.version.clone(), self.kind.clone())
    }
}

/// Field specs per built-in transformer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransformerConfig {
    #[serde(default)]
    pub name_prefix: Vec<FieldSpec>,
    #[serde(default)]
    pub name_suffix: Vec<FieldSpec>,
    #[serde(default, rename = "namespace")]
    pub namespace: Vec<FieldSpec>,
    #[serde(default)]
    pub common_labels: Vec<FieldSpec>,
    #[serde(default)]
    pub labels: Vec<FieldSpec>,
    #[serde(default)]
    pub template_labels: Vec<FieldSpec>,
    #[serde(default)]
    pub common_annotations: Vec<FieldSpec>,
    #[serde(default)]
    pub name_reference: Vec<NameBackReferences>,
    #[serde(default)]
    pub var_reference: Vec<FieldSpec>,
    #[serde(default)]
    pub images: Vec<FieldSpec>,
    #[serde(default)]
    pub replicas: Vec<FieldSpec>,
}

impl TransformerConfig {
    /// kustomize's default configuration.
    pub fn defaults() -> TransformerConfig {
        TransformerConfig::clone(&TransformerConfig::shared_defaults())
    }

    /// kustomize's default configuration, shared.
    pub fn shared_defaults() -> std::sync::Arc<TransformerConfig> {
        static DEFAULTS: std::sync::OnceLock<std::sync::Arc<TransformerConfig>> =
            std::sync::OnceLock::new();
        std::sync::Arc::clone(
            DEFAULTS.get_or_init(|| std::sync::Arc::new(TransformerConfig::build_defaults())),
        )
    }

    fn build_defaults() -> TransformerConfig {
        TransformerConfig {
            name_prefix: owned(defaults::NAME_PREFIX),
            name_suffix: owned(defaults::NAME_SUFFIX),
            namespace: owned(defaults::NAMESPACE),
            common_labels: owned(defaults::COMMON_LABELS),
            labels: Vec::new(),
            template_labels: owned(defaults::TEMPLATE_LABELS),
            common_annotations: owned(defaults::COMMON_ANNOTATIONS),
            name_reference: defaults::NAME_REFERENCE
                .iter()
                .map(|(group, version, kind, referrers)| NameBackReferences {
                    group: (*group).to_owned(),
                    version: (*version).to_owned(),
                    kind: (*kind).to_owned(),
                    referrers: owned(referrers),
                })
                .collect(),
            var_reference: owned(defaults::VAR_REFERENCE),
            images: owned(defaults::IMAGES),
            replicas: owned(defaults::REPLICAS),
        }
    }

    /// Merges `other` into this configuration.
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<()> {
        // Fast paths for the common cases: nothing yet, or the same configuration again.
        if *self == TransformerConfig::default() {
            *self = other.clone();
            return Ok(());
        }
        if self == other {
            return Ok(());
        }
        merge_all(&mut self.name_prefix, &other.name_prefix)?;
        merge_all(&mut self.name_suffix, &other.name_suffix)?;
        merge_all(&mut self.namespace, &other.namespace)?;
        merge_all(&mut self.common_annotations, &other.common_annotations)?;
        merge_all(&mut self.common_labels, &other.common_labels)?;
        merge_all(&mut self.labels, &other.labels)?;
        merge_all(&mut self.template_labels, &other.template_labels)?;
        merge_all(&mut self.var_reference, &other.var_reference)?;
        for incoming in &other.name_reference {
            self.add_name_reference(incoming.clone())?;
        }
        merge_all(&mut self.images, &other.images)?;
        merge_all(&mut self.replicas, &other.replicas)?;
        Ok(())
    }

    /// Adds the referrers of one referenced kind.
    pub fn add_name_reference(&mut self, incoming: NameBackReferences) -> Result<()> {
        let gvk = incoming.gvk();
        if let Some(existing) = self.name_reference.iter_mut().find(|n| n.gvk() == gvk) {
            merge_all(&mut existing.referrers, &incoming.referrers)
        } else {
            self.name_reference.push(incoming);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_config_map_references() {
        let config = TransformerConfig::defaults();
        let cm = config
            .name_reference
            .iter()
            .find(|n| n.kind == "ConfigMap")
            .unwrap();
        assert!(cm.referrers.iter().any(
            |f| f.path == "spec/template/spec/volumes/configMap/name" && f.kind == "Deployment"
        ));
        assert_eq!(config.name_prefix.len(), 1);
    }

    #[test]
    fn conflicting_create_flags() {
        let mut list = vec![FieldSpec {
            path: "a/b".into(),
            create_if_not_present: true,
            ..FieldSpec::default()
        }];
        assert!(
            merge_one(
                &mut list,
                FieldSpec {
                    path: "a/b".into(),
                    ..FieldSpec::default()
                }
            )
            .is_err()
        );
    }
}
