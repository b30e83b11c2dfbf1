//! A ResourceSet's input sets: its own `spec.inputs` and those of the
//! `ResourceSetInputProvider`s `spec.inputsFrom` selects, combined as `spec.inputStrategy` says.
//!
//! - Every input set gets a `provider` map (apiVersion, kind, name, namespace of where it came
//!   from).
//! - `Flatten` (the default) concatenates: the ResourceSet's own inputs first, then each provider's
//!   in the operator's order (by group/version/kind, namespace, name).
//! - `Permute` takes the Cartesian product, each set nested under its provider's normalised name
//!   (lowercase, punctuation and spaces to `_`, other characters dropped), with an `id` that is the
//!   Adler-32 of `name=index/…`; providers with no inputs are skipped unless
//!   `includeEmptyProviders` is set (then the product is empty). More than 10,000 permutations fail.
//!
//! What a provider exports is known offline only for a `Static` provider (`spec.defaultValues`
//! with an `id`: the Adler-32 of its name, as the operator's own offline build computes it — in the
//! cluster it is the Adler-32 of the object's UID) and for any provider whose
//! `status.exportedInputs` is written in the repository. Other providers (Git pull requests, OCI
//! tags, …) are [`ProviderInputs::Unknown`]: reported, never guessed.

use capstan_core::{Map, Value};
use serde_json::json;

/// The most input sets `Permute` may make.
pub const MAX_PERMUTATIONS: u64 = 10_000;

/// What a provider exports, as far as the repository tells.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderInputs {
    Known(Vec<Map>),
    /// Only the running operator knows (the reason says why).
    Unknown(String),
}

/// A `ResourceSetInputProvider` as declared in the repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub name: String,
    pub namespace: String,
    pub labels: Map,
    pub inputs: ProviderInputs,
}

impl Provider {
    /// Reads a `ResourceSetInputProvider` manifest; `namespace` is where it is applied.
    pub fn from_value(value: &Value, namespace: &str) -> Provider {
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let labels = value
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let kind = value
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("");
        let exported = value
            .pointer("/status/exportedInputs")
            .and_then(Value::as_array);
        let inputs = if let Some(exported) = exported {
            ProviderInputs::Known(
                exported
                    .iter()
                    .filter_map(|v| v.as_object().cloned())
                    .collect(),
            )
        } else if kind == "Static" {
            let mut values = value
                .pointer("/spec/defaultValues")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            values.insert("id".to_owned(), Value::String(id(&name)));
            ProviderInputs::Known(vec![values])
        } else {
            ProviderInputs::Unknown(format!(
                "ResourceSetInputProvider {namespace}/{name} (type {kind}) exports its inputs only at runtime"
            ))
        };
        Provider {
            name,
            namespace: namespace.to_owned(),
            labels,
            inputs,
        }
    }
}

/// One combined input set and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSet {
    pub values: Value,
    /// `ResourceSet/name[i]` or `ResourceSetInputProvider/name[i]`, or the permutation's parts.
    pub origin: String,
}

/// Why inputs could not be combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("spec.inputStrategy.name: unknown input strategy {0:?} (Flatten or Permute)")]
    UnknownStrategy(String),
    #[error("spec.inputs[{index}]: an input set must be a map")]
    NotAMap { index: usize },
    #[error("spec.inputStrategy: {0}")]
    TooMany(String),
    #[error("spec.inputStrategy: the normalised name of provider {0:?} is empty")]
    EmptyName(String),
}

/// The Adler-32 checksum of `text` in decimal: the operator's input-set id.
pub fn id(text: &str) -> String {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in text.bytes() {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    ((b << 16) | a).to_string()
}

/// A provider name as a template key: lowercase, spaces and punctuation as `_`, other characters
/// dropped, runs of `_` collapsed and trimmed.
pub fn normalize_key(name: &str) -> String {
    let mapped: String = name
        .chars()
        .filter_map(|c| {
            let c = c.to_lowercase().next().unwrap_or(c);
            if c.is_whitespace() || c.is_ascii_punctuation() {
                Some('_')
            } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
                Some(c)
            } else {
                None
            }
        })
        .collect();
    mapped
        .split('_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// The providers `spec.inputsFrom` selects among `providers` (same namespace as the
/// ResourceSet), in the operator's order, and the references that select nothing.
pub fn select<'p>(
    resource_set: &Value,
    namespace: &str,
    providers: &'p [Provider],
) -> (Vec<&'p Provider>, Vec<String>) {
    let mut chosen: Vec<&Provider> = Vec::new();
    let mut missing = Vec::new();
    let refs = resource_set
        .pointer("/spec/inputsFrom")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let local: Vec<&Provider> = providers
        .iter()
        .filter(|p| p.namespace == namespace)
        .collect();
    for reference in &refs {
        if let Some(name) = reference.get("name").and_then(Value::as_str) {
            match local.iter().find(|p| p.name == name) {
                Some(p) => {
                    if !chosen.iter().any(|c| c.name == p.name) {
                        chosen.push(p);
                    }
                }
                None => missing.push(format!("ResourceSetInputProvider {namespace}/{name}")),
            }
        } else if let Some(selector) = reference.get("selector") {
            for p in &local {
                if matches_selector(selector, &p.labels) && !chosen.iter().any(|c| c.name == p.name)
                {
                    chosen.push(p);
                }
            }
        }
    }
    chosen.sort_by(|a, b| a.name.cmp(&b.name));
    (chosen, missing)
}

fn matches_selector(selector: &Value, labels: &Map) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(map) = selector.get("matchLabels").and_then(Value::as_object)
        && !map.iter().all(|(k, v)| label(k) == v.as_str())
    {
        return false;
    }
    if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
        for expr in exprs {
            let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = expr
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let ok = match expr.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => label(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => label(key).is_some(),
                "DoesNotExist" => label(key).is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

fn provider_ref(kind: &str, name: &str, namespace: &str) -> Value {
    json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": kind, "name": name, "namespace": namespace})
}

/// Combines the ResourceSet's own inputs with the selected providers' (whose inputs are known).
pub fn combine(
    resource_set: &Value,
    name: &str,
    namespace: &str,
    providers: &[(&Provider, &[Map])],
) -> Result<Vec<InputSet>, InputError> {
    let mut sources: Vec<(String, String, Vec<Map>)> = Vec::new();
    let mut own = Vec::new();
    if let Some(items) = resource_set
        .pointer("/spec/inputs")
        .and_then(Value::as_array)
    {
        for (index, item) in items.iter().enumerate() {
            let mut map = item
                .as_object()
                .cloned()
                .ok_or(InputError::NotAMap { index })?;
            map.insert(
                "provider".to_owned(),
                provider_ref("ResourceSet", name, namespace),
            );
            own.push(map);
        }
    }
    sources.push(("ResourceSet".to_owned(), name.to_owned(), own));
    for (provider, inputs) in providers {
        let with_ref = inputs
            .iter()
            .map(|input| {
                let mut map = input.clone();
                map.insert(
                    "provider".to_owned(),
                    provider_ref(
                        "ResourceSetInputProvider",
                        &provider.name,
                        &provider.namespace,
                    ),
                );
                map
            })
            .collect();
        sources.push((
            "ResourceSetInputProvider".to_owned(),
            provider.name.clone(),
            with_ref,
        ));
    }
    let strategy = resource_set
        .pointer("/spec/inputStrategy/name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("Flatten");
    match strategy {
        "Flatten" => Ok(sources
            .into_iter()
            .flat_map(|(kind, name, inputs)| {
                inputs
                    .into_iter()
                    .enumerate()
                    .map(move |(i, map)| InputSet {
                        values: Value::Object(map),
                        origin: format!("{kind}/{name} inputs[{i}]"),
                    })
            })
            .collect()),
        "Permute" => {
            let include_empty = resource_set
                .pointer("/spec/inputStrategy/includeEmptyProviders")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            permute(sources, include_empty)
        }
        other => Err(InputError::UnknownStrategy(other.to_owned())),
    }
}

fn permute(
    sources: Vec<(String, String, Vec<Map>)>,
    include_empty: bool,
) -> Result<Vec<InputSet>, InputError> {
    let mut scoped: Vec<(String, Vec<Map>)> = Vec::new();
    let mut expected: u64 = 0;
    for (_, name, inputs) in sources {
        if inputs.is_empty() && !include_empty {
            continue;
        }
        expected = if scoped.is_empty() {
            inputs.len() as u64
        } else {
            expected.saturating_mul(inputs.len() as u64)
        };
        if expected > MAX_PERMUTATIONS {
            return Err(InputError::TooMany(format!(
                "adding provider {name:?} with {} inputs exceeds the maximum of {MAX_PERMUTATIONS} permutations",
                inputs.len()
            )));
        }
        let key = normalize_key(&name);
        if key.is_empty() {
            return Err(InputError::EmptyName(name));
        }
        scoped.push((key, inputs));
    }
    if scoped.is_empty() || scoped.iter().any(|(_, inputs)| inputs.is_empty()) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut indices = vec![0usize; scoped.len()];
    loop {
        let mut values = Map::new();
        let mut parts = Vec::new();
        for (slot, &index) in indices.iter().enumerate() {
            let (key, inputs) = &scoped[slot];
            values.insert(key.clone(), Value::Object(inputs[index].clone()));
            parts.push(format!("{key}={index}"));
        }
        let joined = parts.join("/");
        values.insert("id".to_owned(), Value::String(id(&joined)));
        out.push(InputSet {
            values: Value::Object(values),
            origin: joined,
        });
        // Advance like an odometer, the last provider fastest.
        let mut slot = scoped.len();
        loop {
            if slot == 0 {
                return Ok(out);
            }
            slot -= 1;
            indices[slot] += 1;
            if indices[slot] < scoped[slot].1.len() {
                break;
            }
            indices[slot] = 0;
        }
    }
}
