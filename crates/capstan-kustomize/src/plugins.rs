//! The `generators:`, `transformers:` and `validators:` fields. Entries are inline YAML or
//! paths to plugin configs. Configs of kustomize's built-in plugins (`apiVersion: builtin`) are
//! run by the matching capstan transformer; anything else is an external plugin (exec, Go or
//! KRM function), which capstan refuses exactly as `kubectl kustomize` does without
//! `--enable-alpha-plugins`.

use std::collections::BTreeMap;
use std::path::Path;

use capstan_core::Value;

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::kustomization::FieldSpec;
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

fn external(kind: &str) -> Error {
    Error::Unsupported {
        message: format!("external plugins disabled; unable to load external plugin '{kind}'"),
    }
}

/// Reads the plugin configs an entry of `transformers:` names (inline YAML or a path).
fn configs(target: &Target<'_>, entry: &str) -> Result<Vec<Resource>> {
    if let Ok(inline) = read_resources(entry.as_bytes(), Path::new("<inline>"))
        && !inline.is_empty()
    {
        return Ok(inline);
    }
    let bytes = target.loader.load(entry)?;
    read_resources(&bytes, &target.loader.root().join(entry))
}

/// Runs one `transformers:` entry over `resmap`.
pub fn run_transformer(
    target: &Target<'_>,
    resmap: &mut ResMap,
    config: &TransformerConfig,
    entry: &str,
) -> Result<()> {
    for plugin in configs(target, entry)? {
        let gvk = plugin.gvk();
        if !(gvk.group.is_empty() && gvk.version == "builtin") {
            return Err(external(&gvk.kind));
        }
        run_builtin(resmap, config, &plugin.object, &gvk.kind, &target.loader)
            .map_err(|e| e.context(format!("plugin {} fails configuration", plugin.id())))?;
    }
    Ok(())
}

fn field_specs(object: &Value, default: &[FieldSpec]) -> Result<Vec<FieldSpec>> {
    match object.get("fieldSpecs") {
        None | Some(Value::Null) => Ok(default.to_vec()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| Error::msg(format!("fieldSpecs: {e}")))
        }
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
