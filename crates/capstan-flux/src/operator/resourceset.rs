//! A `ResourceSet` (`fluxcd.controlplane.io/v1`) expanded into the objects the Flux Operator
//! applies for it.
//!
//! Each entry of `spec.resources` is rendered once per input set ([`super::inputs`]) — once with
//! no inputs when there are none — and `spec.resourcesTemplate` (multi-document YAML) likewise;
//! `spec.steps` are rendered the same way, in order. An entry of `spec.resources` is rendered
//! scalar by scalar: a string holding `<<` is run through the [`Template`] and read back as a YAML
//! scalar or block (so `<< inputs.replicas | int >>` is a number and `<< x | toYaml | nindent 4 >>`
//! a map), as the operator's YAML round trip reads it. Objects are deduplicated by group, kind,
//! namespace and name (the first kept; `spec.resources` before `spec.resourcesTemplate`), those
//! annotated `fluxcd.controlplane.io/reconcile: disabled` are left out, `spec.commonMetadata` is
//! set on each, then the owner labels `resourceset.fluxcd.controlplane.io/name` and `/namespace`.
//!
//! Inputs from providers whose exports are known only at runtime are reported in
//! [`Expansion::unknown`]: with `Flatten` the known sets still render (the list is then partial),
//! with `Permute` nothing does.

use std::collections::HashSet;

use capstan_core::{Map, Value};

use super::inputs::{self, InputError, InputSet, Provider, ProviderInputs};
use super::template::{Template, TemplateError};

pub const API_GROUP: &str = "fluxcd.controlplane.io";
const RECONCILE_ANNOTATION: &str = "fluxcd.controlplane.io/reconcile";

/// One object a ResourceSet generates, with what made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub object: Value,
    /// The template field (`spec.resources[2]`, `spec.resourcesTemplate`, `spec.steps[0]…`).
    pub field: String,
    /// The input set (`ResourceSet/apps inputs[1]`), `None` when rendered without inputs.
    pub input: Option<String>,
}

/// What a ResourceSet expands to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expansion {
    pub objects: Vec<Generated>,
    /// Inputs that cannot be known offline, or providers named but not in the repository.
    pub unknown: Vec<String>,
}

/// Why a ResourceSet could not be expanded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResourceSetError {
    #[error(transparent)]
    Inputs(#[from] InputError),
    #[error("{field}: {message}")]
    Spec { field: String, message: String },
    #[error("{field}{}: {source}", input_suffix(.input))]
    Template {
        field: String,
        input: Option<String>,
        #[source]
        source: TemplateError,
    },
    #[error("{field}{}: the rendered output is not a Kubernetes object: {message}", input_suffix(.input))]
    Output {
        field: String,
        input: Option<String>,
        message: String,
    },
}

fn input_suffix(input: &Option<String>) -> String {
    input
        .as_ref()
        .map(|i| format!(" (input {i})"))
        .unwrap_or_default()
}

/// Expands `resource_set` (applied in `namespace`) with the providers the repository declares.
pub fn expand(
    resource_set: &Value,
    namespace: &str,
    providers: &[Provider],
) -> Result<Expansion, ResourceSetError> {
    let name = resource_set
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut expansion = Expansion::default();
    let (selected, missing) = inputs::select(resource_set, namespace, providers);
    expansion.unknown.extend(
        missing.into_iter().map(|m| {
            format!("{m} is named by spec.inputsFrom but not declared in this repository")
        }),
    );
    let mut known: Vec<(&Provider, &[Map])> = Vec::new();
    for provider in &selected {
        match &provider.inputs {
            ProviderInputs::Known(sets) => known.push((provider, sets.as_slice())),
            ProviderInputs::Unknown(why) => expansion.unknown.push(why.clone()),
        }
    }
    let permute = resource_set
        .pointer("/spec/inputStrategy/name")
        .and_then(Value::as_str)
        == Some("Permute");
    if !expansion.unknown.is_empty() && permute {
        return Ok(expansion);
    }
    let sets = inputs::combine(resource_set, name, namespace, &known)?;
    let has_inputs_from = resource_set
        .pointer("/spec/inputsFrom")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if sets.is_empty() && !expansion.unknown.is_empty() {
        return Ok(expansion);
    }
    let spec = resource_set.get("spec").cloned().unwrap_or(Value::Null);
    let steps = spec.get("steps").and_then(Value::as_array);
    let mut groups: Vec<(String, &Value)> = Vec::new();
    match steps {
        Some(steps) if !steps.is_empty() => {
            if spec.get("resources").is_some() || spec.get("resourcesTemplate").is_some() {
                return Err(ResourceSetError::Spec {
                    field: "spec.steps".to_owned(),
                    message: "mutually exclusive with spec.resources and spec.resourcesTemplate"
                        .to_owned(),
                });
            }
            for (i, step) in steps.iter().enumerate() {
                groups.push((format!("spec.steps[{i}]."), step));
            }
        }
        _ => groups.push(("spec.".to_owned(), &spec)),
    }
    let mut seen = HashSet::new();
    for (prefix, group) in groups {
        let objects = render_group(&prefix, group, &sets, has_inputs_from)?;
        for generated in objects {
            if !seen.insert(identity(&generated.object)) {
                continue;
            }
            expansion.objects.push(generated);
        }
    }
    let common = spec.get("commonMetadata");
    for generated in &mut expansion.objects {
        if let Some(common) = common {
            for field in ["labels", "annotations"] {
                if let Some(map) = common.get(field).and_then(Value::as_object) {
                    set_metadata(&mut generated.object, field, map);
                }
            }
        }
        let mut owner = Map::new();
        owner.insert(
            format!("resourceset.{API_GROUP}/name"),
            Value::String(name.to_owned()),
        );
        owner.insert(
            format!("resourceset.{API_GROUP}/namespace"),
            Value::String(namespace.to_owned()),
        );
        set_metadata(&mut generated.object, "labels", &owner);
    }
    Ok(expansion)
}

fn render_group(
    prefix: &str,
    group: &Value,
    sets: &[InputSet],
    has_inputs_from: bool,
) -> Result<Vec<Generated>, ResourceSetError> {
    let mut out = Vec::new();
    let no_inputs = [InputSet {
        values: Value::Object(Map::new()),
        origin: String::new(),
    }];
    // With inputsFrom and no input set at all, the operator renders nothing from providers but
    // still renders each resource once without inputs.
    let _ = has_inputs_from;
    let (iterate, with_inputs): (&[InputSet], bool) = if sets.is_empty() {
        (&no_inputs, false)
    } else {
        (sets, true)
    };
    if let Some(resources) = group.get("resources").and_then(Value::as_array) {
        for (i, resource) in resources.iter().enumerate() {
            let field = format!("{prefix}resources[{i}]");
            for set in iterate {
                let input = with_inputs.then(|| set.origin.clone());
                let object = render_value(resource, &set.values).map_err(|source| {
                    ResourceSetError::Template {
                        field: field.clone(),
                        input: input.clone(),
                        source,
                    }
                })?;
                check_object(&object, &field, &input)?;
                if with_inputs && disabled(&object) {
                    continue;
                }
                out.push(Generated {
                    object,
                    field: field.clone(),
                    input,
                });
            }
        }
    }
    if let Some(text) = group.get("resourcesTemplate").and_then(Value::as_str) {
        let field = format!("{prefix}resourcesTemplate");
        let template = Template::parse(text).map_err(|source| ResourceSetError::Template {
            field: field.clone(),
            input: None,
            source,
        })?;
        for set in iterate {
            let input = with_inputs.then(|| set.origin.clone());
            let rendered =
                template
                    .execute(&set.values)
                    .map_err(|source| ResourceSetError::Template {
                        field: field.clone(),
                        input: input.clone(),
                        source,
                    })?;
            let documents = capstan_core::yaml::parse_documents(&rendered).map_err(|e| {
                ResourceSetError::Output {
                    field: field.clone(),
                    input: input.clone(),
                    message: e.to_string(),
                }
            })?;
            for object in documents.into_iter().filter(|d| !d.is_null()) {
                check_object(&object, &field, &input)?;
                if disabled(&object) {
                    continue;
                }
                out.push(Generated {
                    object,
                    field: field.clone(),
                    input: input.clone(),
                });
            }
        }
    }
    Ok(out)
}

fn check_object(
    object: &Value,
    field: &str,
    input: &Option<String>,
) -> Result<(), ResourceSetError> {
    let fail = |message: &str| ResourceSetError::Output {
        field: field.to_owned(),
        input: input.clone(),
        message: message.to_owned(),
    };
    if !object.is_object() {
        return Err(fail("not a map"));
    }
    for (pointer, what) in [
        ("/apiVersion", "apiVersion"),
        ("/kind", "kind"),
        ("/metadata/name", "metadata.name"),
    ] {
        if object
            .pointer(pointer)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(fail(&format!("{what} is missing")));
        }
    }
    Ok(())
}

fn disabled(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(RECONCILE_ANNOTATION))
        .and_then(Value::as_str)
        == Some("disabled")
}

/// Group, kind, namespace and name: what the operator deduplicates on.
fn identity(object: &Value) -> (String, String, String, String) {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let api_version = text("/apiVersion");
    let group = capstan_core::resource::split_api_version(&api_version)
        .0
        .to_owned();
    (
        group,
        text("/kind"),
        text("/metadata/namespace"),
        text("/metadata/name"),
    )
}

fn set_metadata(object: &mut Value, field: &str, entries: &Map) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let target = metadata
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Some(target) = target.as_object_mut() {
        for (k, v) in entries {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// Renders every string (and key) of `value` holding `<<`, reading each result back as YAML.
pub fn render_value(value: &Value, inputs: &Value) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(text) if text.contains("<<") => {
            let rendered = Template::parse(text)?.execute(inputs)?;
            read_back(text, rendered)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, inputs))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                let key = if key.contains("<<") {
                    Template::parse(key)?.execute(inputs)?
                } else {
                    key.clone()
                };
                out.insert(key, render_value(v, inputs)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// A rendered scalar as the YAML round trip reads it: the template was written out unquoted
/// (unless YAML needs quotes for it), so the result is read as YAML; quoted ones stay strings.
fn read_back(template: &str, rendered: String) -> Value {
    if needs_quotes(template) {
        return Value::String(rendered);
    }
    if rendered.trim().is_empty() && !rendered.contains('\n') {
        return if rendered.is_empty() {
            Value::Null
        } else {
            Value::String(rendered)
        };
    }
    // `key: <rendered>`: a block (from nindent) or a scalar.
    let document = format!("v: {rendered}\n");
    match capstan_core::yaml::parse_document_go_yaml_v2(&document) {
        Ok(Value::Object(mut map)) if map.len() == 1 => {
            map.remove("v").unwrap_or(Value::String(rendered))
        }
        _ => Value::String(rendered),
    }
}

/// Whether a YAML emitter would quote this string (so the rendered text stays a string).
fn needs_quotes(text: &str) -> bool {
    text.contains('\n')
        || text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
        || text.starts_with([
            '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '-',
            '?', ':',
        ])
}
