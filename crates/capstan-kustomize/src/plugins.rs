//! The `generators:`, `transformers:` and `validators:` fields. Entries are inline YAML or
//! paths (files, or kustomization directories) of plugin configs. Configs of kustomize's
//! built-in plugins (`apiVersion: builtin`) are run by the matching capstan generator or
//! transformer; anything else is an external plugin (exec, Go or KRM function), which capstan
//! refuses exactly as `kubectl kustomize` does without `--enable-alpha-plugins`.

use std::collections::BTreeMap;
use std::path::Path;

use capstan_core::{Map, Value};

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::generator::{self, Kind};
use crate::kustomization::{FieldSpec, GeneratorArgs};
use crate::origin::ConfiguredBy;
use crate::prefix_suffix::{self, Affix};
use crate::resmap::ResMap;
use crate::resource::Resource;
use crate::target::{Target, read_resources};
use crate::{labels, namespace};

/// The error for a kind of plugin capstan does not run.
pub fn refuse(what: &str) -> Error {
    Error::Unsupported {
        message: format!(
            "external plugins disabled; capstan does not run plugins listed in '{what}'"
        ),
    }
}

/// kustomize's message for an external plugin when only built-in plugins are allowed.
pub fn external(kind: &str) -> Error {
    Error::Unsupported {
        message: format!("external plugins disabled; unable to load external plugin '{kind}'"),
    }
}

/// One plugin config and where it was configured (for origin annotations).
struct PluginConfig {
    resource: Resource,
    configured_in: String,
}

/// Reads the plugin configs one entry names: inline YAML, a file, or a kustomization directory.
fn configs(target: &Target<'_>, entry: &str) -> Result<Vec<PluginConfig>> {
    if let Ok(inline) = read_resources(entry.as_bytes(), Path::new("<inline>"))
        && !inline.is_empty()
    {
        let configured_in = target
            .origin
            .as_ref()
            .map(|o| o.append(&target.file_name).path)
            .unwrap_or_default();
        return Ok(inline
            .into_iter()
            .map(|resource| PluginConfig {
                resource,
                configured_in: configured_in.clone(),
            })
            .collect());
    }
    let configured_in = target
        .origin
        .as_ref()
        .map(|o| o.append(entry).path)
        .unwrap_or_default();
    let file_error = match target.loader.load(entry) {
        Ok(bytes) => {
            let resources = read_resources(&bytes, &target.loader.root().join(entry))?;
            return Ok(resources
                .into_iter()
                .map(|resource| PluginConfig {
                    resource,
                    configured_in: configured_in.clone(),
                })
                .collect());
        }
        Err(e) => e,
    };
    let child = target
        .loader
        .child(entry)
        .map_err(|e| e.context(format!("accumulation err='{file_error}'")))?;
    let mut sub = Target::load(child)?;
    let acc = sub.accumulate()?;
    Ok(acc
        .resmap
        .into_resources()
        .into_iter()
        .map(|resource| PluginConfig {
            resource,
            configured_in: configured_in.clone(),
        })
        .collect())
}

fn is_builtin(resource: &Resource) -> bool {
    let gvk = resource.gvk();
    gvk.group.is_empty() && gvk.version == "builtin"
}

/// Runs the `generators:` entries of a kustomization; each result comes with the origin
/// annotation its objects get (when origin annotations are on).
pub fn run_generators(target: &Target<'_>) -> Result<Vec<ResMap>> {
    let mut out = Vec::new();
    for entry in &target.kustomization.generators {
        for plugin in configs(target, entry)? {
            let resource = &plugin.resource;
            if !is_builtin(resource) {
                return Err(external(resource.kind()));
            }
            let resmap = generate(target, &resource.object, resource.kind()).map_err(|e| {
                e.context(format!("plugin {} fails configuration", resource.org_id()))
            })?;
            let resmap = match &target.origin {
                Some(origin) => {
                    let by = ConfiguredBy {
                        api_version: resource.api_version().to_owned(),
                        kind: resource.kind().to_owned(),
                        name: resource.name().to_owned(),
                        namespace: resource.namespace().to_owned(),
                    };
                    crate::origin::annotate(
                        resmap,
                        &origin.generated(plugin.configured_in.clone(), by),
                    )
                }
                None => resmap,
            };
            out.push(resmap);
        }
    }
    Ok(out)
}

/// Keeps only the fields of `object` that a struct with `fields` decodes (kustomize decodes
/// plugin configs leniently).
fn only_fields(object: &Value, fields: &[&str]) -> Value {
    let mut map = Map::new();
    if let Some(source) = object.as_object() {
        for (k, v) in source {
            if fields.contains(&k.as_str()) {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(map)
}

fn generate(target: &Target<'_>, object: &Value, kind: &str) -> Result<ResMap> {
    match kind {
        "ConfigMapGenerator" | "SecretGenerator" => {
            let fields = [
                "namespace",
                "name",
                "behavior",
                "literals",
                "files",
                "envs",
                "env",
                "options",
                "type",
            ];
            let mut args: GeneratorArgs = serde_json::from_value(only_fields(object, &fields))
                .map_err(|e| Error::msg(e.to_string()))?;
            let meta = object.get("metadata");
            let meta_field = |f: &str| {
                meta.and_then(|m| m.get(f))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            if args.name.is_empty() {
                args.name = meta_field("name");
            }
            if args.namespace.is_empty() {
                args.namespace = meta_field("namespace");
            }
            if !args.env_source.is_empty() {
                let env = std::mem::take(&mut args.env_source);
                args.env_sources.push(env);
            }
            let kind = if kind == "ConfigMapGenerator" {
                Kind::ConfigMap
            } else {
                Kind::Secret
            };
            let options = args.options.clone();
            let resource = generator::generate(&target.loader, kind, &args, options.as_ref())?;
            Ok(ResMap::from_iter([resource]))
        }
        "IAMPolicyGenerator" => iam_policy(object),
        "HelmChartInflationGenerator" => {
            let fields = [
                "name",
                "version",
                "repo",
                "releaseName",
                "namespace",
                "additionalValuesFiles",
                "valuesFile",
                "valuesInline",
                "valuesMerge",
                "includeCRDs",
                "skipHooks",
                "apiVersions",
                "kubeVersion",
                "nameTemplate",
                "skipTests",
                "debug",
            ];
            let chart = serde_json::from_value(only_fields(object, &fields))
                .map_err(|e| Error::msg(e.to_string()))?;
            let globals = serde_json::from_value(only_fields(object, &["chartHome", "configHome"]))
                .map_err(|e| Error::msg(e.to_string()))?;
            crate::helm::inflate(&target.loader, &globals, &chart)
        }
        other => Err(Error::msg(format!(
            "unable to load builtin {other}.builtin.[noGrp]"
        ))),
    }
}

/// kustomize's IAMPolicyGenerator: a GKE workload-identity ServiceAccount.
fn iam_policy(object: &Value) -> Result<ResMap> {
    let text = |path: &[&str]| {
        let mut node = Some(object);
        for p in path {
            node = node.and_then(|n| n.get(*p));
        }
        node.and_then(Value::as_str).unwrap_or("").to_owned()
    };
    let cloud = text(&["cloud"]);
    if cloud != "gke" {
        return Err(Error::msg(format!(
            "cloud provider {cloud} not supported yet"
        )));
    }
    let mut annotations = Map::new();
    annotations.insert(
        "iam.gke.io/gcp-service-account".into(),
        Value::String(format!(
            "{}@{}.iam.gserviceaccount.com",
            text(&["serviceAccount", "name"]),
            text(&["serviceAccount", "projectId"])
        )),
    );
    let mut metadata = Map::new();
    metadata.insert("annotations".into(), Value::Object(annotations));
    metadata.insert(
        "name".into(),
        Value::String(text(&["kubernetesService", "name"])),
    );
    let namespace = text(&["kubernetesService", "namespace"]);
    if !namespace.is_empty() {
        metadata.insert("namespace".into(), Value::String(namespace));
    }
    let mut sa = Map::new();
    sa.insert("apiVersion".into(), Value::String("v1".into()));
    sa.insert("kind".into(), Value::String("ServiceAccount".into()));
    sa.insert("metadata".into(), Value::Object(metadata));
    Ok(ResMap::from_iter([Resource::new(Value::Object(sa))]))
}

/// Runs one `transformers:` entry over `resmap`.
pub fn run_transformer(
    target: &Target<'_>,
    resmap: &mut ResMap,
    config: &TransformerConfig,
    entry: &str,
) -> Result<()> {
    for plugin in configs(target, entry)? {
        let resource = &plugin.resource;
        if !is_builtin(resource) {
            return Err(external(resource.kind()));
        }
        run_builtin(
            resmap,
            config,
            &resource.object,
            resource.kind(),
            &target.loader,
        )
        .map_err(|e| e.context(format!("plugin {} fails configuration", resource.org_id())))?;
        if let Some(origin) = &target.origin {
            let by = ConfiguredBy {
                api_version: resource.api_version().to_owned(),
                kind: resource.kind().to_owned(),
                name: resource.name().to_owned(),
                namespace: resource.namespace().to_owned(),
            };
            let by = origin.generated(plugin.configured_in.clone(), by);
            crate::transformations::record(resmap, &by);
        }
    }
    Ok(())
}

/// Decodes `fieldSpecs` leniently (unknown keys ignored, as kustomize's plugin config decoding).
fn field_specs(object: &Value, default: &[FieldSpec]) -> Result<Vec<FieldSpec>> {
    match object.get("fieldSpecs") {
        None | Some(Value::Null) => Ok(default.to_vec()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                serde_json::from_value(only_fields(
                    item,
                    &["group", "version", "kind", "path", "create"],
                ))
                .map_err(|e| Error::msg(format!("fieldSpecs: {e}")))
            })
            .collect(),
        Some(_) => Err(Error::msg("fieldSpecs: expected a sequence")),
    }
}

fn string_map(object: &Value, field: &str) -> Result<BTreeMap<String, String>> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| Error::msg(format!("{field}: {e}")))
        }
    }
}

fn run_builtin(
    resmap: &mut ResMap,
    config: &TransformerConfig,
    object: &Value,
    kind: &str,
    loader: &crate::loader::Loader<'_>,
) -> Result<()> {
    let text = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match kind {
        "PrefixTransformer" => prefix_suffix::apply(
            resmap,
            Affix::Prefix,
            &text("prefix"),
            &field_specs(object, &[])?,
        ),
        "SuffixTransformer" => prefix_suffix::apply(
            resmap,
            Affix::Suffix,
            &text("suffix"),
            &field_specs(object, &[])?,
        ),
        "PrefixSuffixTransformer" => {
            let specs = field_specs(object, &[])?;
            prefix_suffix::apply(resmap, Affix::Prefix, &text("prefix"), &specs)?;
            prefix_suffix::apply(resmap, Affix::Suffix, &text("suffix"), &specs)
        }
        "LabelTransformer" => labels::apply_map(
            resmap,
            &string_map(object, "labels")?,
            &field_specs(object, &[])?,
        ),
        "AnnotationsTransformer" => labels::apply_map(
            resmap,
            &string_map(object, "annotations")?,
            &field_specs(object, &[])?,
        ),
        "NamespaceTransformer" => {
            let ns = object
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("");
            namespace::apply(resmap, ns, &field_specs(object, &config.namespace)?)
        }
        // the patch family (kz-patch's modules)
        "PatchTransformer" | "PatchStrategicMergeTransformer" | "PatchJson6902Transformer" => {
            crate::patch::run_plugin(resmap, kind, object, loader)
        }
        "ImageTagTransformer" => {
            crate::images::run_plugin(resmap, object, &field_specs(object, &[])?)
        }
        "ReplicaCountTransformer" => {
            crate::replicas::run_plugin(resmap, object, &field_specs(object, &[])?)
        }
        "ReplacementTransformer" => crate::replacements::run_plugin(resmap, object, loader),
        other => Err(Error::msg(format!(
            "unable to load builtin {other}.builtin.[noGrp]"
        ))),
    }
}
