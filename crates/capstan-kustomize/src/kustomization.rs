//! The `kustomization.yaml` file: every field of kustomize v5.6's `Kustomization` type, with
//! its JSON field names, decoded strictly (an unknown field is an error, as in kustomize), and
//! the fix-ups kustomize applies after reading (deprecated `bases`, `imageTags`, `env`,
//! `helmChartInflationGenerator` folded into their replacements).
//!
//! The patch-family fields (`patches`, `patchesStrategicMerge`, `patchesJson6902`, `images`,
//! `replicas`, `replacements`, `vars`) are kept as raw values here and decoded by the modules
//! that apply them.

use std::collections::BTreeMap;
use std::path::Path;

use capstan_core::Value;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const KUSTOMIZATION_VERSION: &str = "kustomize.config.k8s.io/v1beta1";
pub const KUSTOMIZATION_KIND: &str = "Kustomization";
pub const COMPONENT_VERSION: &str = "kustomize.config.k8s.io/v1alpha1";
pub const COMPONENT_KIND: &str = "Component";

/// The file names kustomize recognises, in the order it looks for them.
pub const KUSTOMIZATION_FILE_NAMES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A string map as kustomize decodes it (values must be strings).
pub type StringMap = BTreeMap<String, String>;

/// A kustomization (or component) file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Kustomization {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    #[serde(default, rename = "openapi", skip_serializing_if = "Option::is_none")]
    pub open_api: Option<StringMap>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_suffix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_labels: Option<StringMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_annotations: Option<StringMap>,
    /// Paths or inline patches (kz-patch decodes them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches_strategic_merge: Vec<Value>,
    #[serde(
        default,
        rename = "patchesJson6902",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub patches_json6902: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Value>,
    /// Deprecated alias of `images`, folded into it by [`Kustomization::fix`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_tags: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replacements: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_options: Option<SortOptions>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crds: Vec<String>,
    /// Deprecated alias of `resources`, folded into it by [`Kustomization::fix`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_map_generator: Vec<GeneratorArgs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_generator: Vec<GeneratorArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_globals: Option<HelmGlobals>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helm_charts: Vec<HelmChart>,
    /// Deprecated form of `helmCharts`, folded into it by [`Kustomization::fix`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helm_chart_inflation_generator: Vec<HelmChartArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_options: Option<GeneratorOptions>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generators: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transformers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validators: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_metadata: Vec<String>,
}

/// `metadata` of a kustomization file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub labels: Option<StringMap>,
    #[serde(default)]
    pub annotations: Option<StringMap>,
}

/// One entry of `labels`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Label {
    #[serde(default)]
    pub pairs: StringMap,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default, rename = "fields")]
    pub field_specs: Vec<FieldSpec>,
}

/// Where in which kinds a transformer acts: kustomize's `FieldSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub path: String,
    #[serde(default, rename = "create")]
    pub create_if_not_present: bool,
}

/// `sortOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SortOptions {
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// `sortOptions.legacySortOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// One `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GeneratorArgs {
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub behavior: String,
    #[serde(default, rename = "literals")]
    pub literal_sources: Vec<String>,
    #[serde(default, rename = "files")]
    pub file_sources: Vec<String>,
    #[serde(default, rename = "envs")]
    pub env_sources: Vec<String>,
    /// Deprecated single form of `envs`.
    #[serde(default, rename = "env")]
    pub env_source: String,
    #[serde(default)]
    pub options: Option<GeneratorOptions>,
    /// Secrets only: the secret's `type`.
    #[serde(default, rename = "type")]
    pub secret_type: String,
}

/// `generatorOptions`, or a generator's `options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GeneratorOptions {
    #[serde(default)]
    pub labels: Option<StringMap>,
    #[serde(default)]
    pub annotations: Option<StringMap>,
    #[serde(default)]
    pub disable_name_suffix_hash: bool,
    #[serde(default)]
    pub immutable: bool,
}

impl GeneratorOptions {
    /// kustomize's `MergeGlobalOptionsIntoLocal`: local labels and annotations win, the flags
    /// are or-ed.
    pub fn merge_global(
        local: Option<&GeneratorOptions>,
        global: Option<&GeneratorOptions>,
    ) -> Option<GeneratorOptions> {
        let Some(global) = global else {
            return local.cloned();
        };
        let mut out = local.cloned().unwrap_or_default();
        let merge = |local: &mut Option<StringMap>, global: &Option<StringMap>| match (
            local.as_mut(),
            global,
        ) {
            (None, Some(g)) => *local = Some(g.clone()),
            (Some(l), Some(g)) => {
                for (k, v) in g {
                    l.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            _ => {}
        };
        merge(&mut out.labels, &global.labels);
        merge(&mut out.annotations, &global.annotations);
        out.disable_name_suffix_hash |= global.disable_name_suffix_hash;
        out.immutable |= global.immutable;
        Some(out)
    }
}

/// `helmGlobals`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmGlobals {
    #[serde(default)]
    pub chart_home: String,
    #[serde(default)]
    pub config_home: String,
}

/// One `helmCharts` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmChart {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub repo: String,
    #[serde(default)]
    pub release_name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub additional_values_files: Vec<String>,
    #[serde(default)]
    pub values_file: String,
    #[serde(default)]
    pub values_inline: Option<capstan_core::Map>,
    #[serde(default)]
    pub values_merge: String,
    #[serde(default, rename = "includeCRDs")]
    pub include_crds: bool,
    #[serde(default)]
    pub skip_hooks: bool,
    #[serde(default)]
    pub api_versions: Vec<String>,
    #[serde(default)]
    pub kube_version: String,
    #[serde(default)]
    pub name_template: String,
    #[serde(default)]
    pub skip_tests: bool,
    #[serde(default)]
    pub debug: bool,
}

/// One entry of the deprecated `helmChartInflationGenerator`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmChartArgs {
    #[serde(default)]
    pub chart_name: String,
    #[serde(default)]
    pub chart_version: String,
    #[serde(default, rename = "chartRepoUrl")]
    pub chart_repo_url: String,
    #[serde(default)]
    pub chart_home: String,
    #[serde(default)]
    pub chart_repo_name: String,
    #[serde(default)]
    pub helm_bin: String,
    #[serde(default)]
    pub helm_home: String,
    #[serde(default)]
    pub values: String,
    #[serde(default)]
    pub values_local: Option<capstan_core::Map>,
    #[serde(default)]
    pub values_merge: String,
    #[serde(default)]
    pub release_name: String,
    #[serde(default)]
    pub release_namespace: String,
    #[serde(default)]
    pub extra_args: Vec<String>,
}

impl Kustomization {
    /// Decodes a kustomization file's text, strictly, then applies kustomize's fix-ups and
    /// checks (`kind`, `apiVersion`, not empty). `file` is used in messages only.
    pub fn parse(text: &str, file: &Path) -> Result<Kustomization> {
        let invalid = |message: String| Error::InvalidKustomization {
            file: file.to_path_buf(),
            message,
        };
        let value =
            capstan_core::yaml::parse_document_go_yaml_v2(text).map_err(|e| invalid(e.message))?;
        let value = match value {
            Value::Null => Value::Object(capstan_core::Map::new()),
            Value::Object(_) => value,
            other => {
                return Err(invalid(format!(
                    "expected a mapping, found {}",
                    json_type(&other)
                )));
            }
        };
        let value = fold_field_names(value, FIELD_NAMES);
        // kustomize compares with an empty Kustomization by Go's deep equality, where a list or
        // map written out (even `resources: []`) is not the nil one left unset.
        let written_collection = value.as_object().is_some_and(|map| {
            map.iter()
                .any(|(k, v)| k != "apiVersion" && k != "kind" && (v.is_array() || v.is_object()))
        });
        let mut kustomization: Kustomization =
            serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        kustomization.fix();
        if kustomization.is_empty() && !written_collection {
            return Err(Error::msg("kustomization.yaml is empty"));
        }
        let mut problems = Vec::new();
        if kustomization.kind != KUSTOMIZATION_KIND && kustomization.kind != COMPONENT_KIND {
            problems.push(format!(
                "kind should be {KUSTOMIZATION_KIND} or {COMPONENT_KIND}"
            ));
        }
        let required = if kustomization.kind == COMPONENT_KIND {
            COMPONENT_VERSION
        } else {
            KUSTOMIZATION_VERSION
        };
        if kustomization.api_version != required {
            problems.push(format!(
                "apiVersion for {} should be {required}",
                kustomization.kind
            ));
        }
        if !problems.is_empty() {
            let dir = file.parent().unwrap_or(Path::new("."));
            return Err(Error::msg(format!(
                "Failed to read kustomization file under {}:\n{}",
                dir.display(),
                problems.join("\n")
            )));
        }
        Ok(kustomization)
    }

    /// kustomize's `FixKustomization`: defaults for `kind`/`apiVersion`, deprecated fields
    /// folded into their replacements.
    pub fn fix(&mut self) {
        if self.kind.is_empty() {
            self.kind = KUSTOMIZATION_KIND.to_owned();
        }
        if self.api_version.is_empty() {
            self.api_version = if self.kind == COMPONENT_KIND {
                COMPONENT_VERSION
            } else {
                KUSTOMIZATION_VERSION
            }
            .to_owned();
        }
        let bases = std::mem::take(&mut self.bases);
        self.resources.extend(bases);
        let tags = std::mem::take(&mut self.image_tags);
        self.images.extend(tags);
        for generator in self
            .config_map_generator
            .iter_mut()
            .chain(self.secret_generator.iter_mut())
        {
            if !generator.env_source.is_empty() {
                let env = std::mem::take(&mut generator.env_source);
                generator.env_sources.push(env);
            }
        }
        let old = std::mem::take(&mut self.helm_chart_inflation_generator);
        let mut globals = HelmGlobals::default();
        for args in &old {
            if !args.helm_home.is_empty() {
                globals.config_home = args.helm_home.clone();
            }
            if !args.chart_home.is_empty() {
                globals.chart_home = args.chart_home.clone();
            }
            self.helm_charts.push(HelmChart {
                name: args.chart_name.clone(),
                version: args.chart_version.clone(),
                repo: args.chart_repo_url.clone(),
                values_file: args.values.clone(),
                values_inline: args.values_local.clone(),
                values_merge: args.values_merge.clone(),
                release_name: args.release_name.clone(),
                ..HelmChart::default()
            });
        }
        if self.helm_globals.is_none()
            && (!globals.chart_home.is_empty() || !globals.config_home.is_empty())
        {
            self.helm_globals = Some(globals);
        }
    }

    /// True when nothing but `apiVersion` and `kind` is set (kustomize rejects such a file).
    pub fn is_empty(&self) -> bool {
        let bare = Kustomization {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            ..Kustomization::default()
        };
        *self == bare
    }

    /// True for `kind: Component`.
    pub fn is_component(&self) -> bool {
        self.kind == COMPONENT_KIND
    }
}

/// The top-level field names of a kustomization file.
const FIELD_NAMES: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// Renames keys that match a field name only case-insensitively to the field's spelling, as
/// Go's `encoding/json` matches struct fields (`nameprefix:` sets `namePrefix`).
fn fold_field_names(value: Value, names: &[&str]) -> Value {
    let Value::Object(map) = value else {
        return value;
    };
    let mut out = capstan_core::Map::new();
    for (key, v) in map {
        let exact = names.contains(&key.as_str());
        let folded = if exact {
            None
        } else {
            names.iter().find(|n| n.eq_ignore_ascii_case(&key))
        };
        match folded {
            Some(name) if !out.contains_key(*name) => {
                out.insert((*name).to_owned(), v);
            }
            _ => {
                out.insert(key, v);
            }
        }
    }
    Value::Object(out)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_deprecated_fields() {
        let k = Kustomization::parse(
            "bases: [a]\nresources: [b]\nimageTags: [{name: x}]\n",
            Path::new("k.yaml"),
        )
        .unwrap();
        assert_eq!(k.resources, vec!["b", "a"]);
        assert_eq!(k.images.len(), 1);
        assert_eq!(k.kind, "Kustomization");
    }

    #[test]
    fn rejects_unknown_fields_and_empty_files() {
        let err = Kustomization::parse("resourcez: [a]\n", Path::new("k.yaml")).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `resourcez`"),
            "{err}"
        );
        let err = Kustomization::parse("kind: Kustomization\n", Path::new("k.yaml")).unwrap_err();
        assert_eq!(err.to_string(), "kustomization.yaml is empty");
        // A list written out, even empty, is not an empty kustomization (kubectl builds it).
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n";
        assert!(Kustomization::parse(k, Path::new("k.yaml")).is_ok());
        let err = Kustomization::parse(
            "kind: Kustomization\nnamePrefix: \"\"\n",
            Path::new("k.yaml"),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "kustomization.yaml is empty");
    }

    #[test]
    fn checks_kind_and_version() {
        let err =
            Kustomization::parse("kind: Foo\nresources: [a]\n", Path::new("d/k.yaml")).unwrap_err();
        assert!(
            err.to_string()
                .contains("kind should be Kustomization or Component")
        );
        let ok = Kustomization::parse("kind: Component\nresources: [a]\n", Path::new("d/k.yaml"))
            .unwrap();
        assert_eq!(ok.api_version, COMPONENT_VERSION);
    }
}
