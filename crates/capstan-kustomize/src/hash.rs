//! Content-hash name suffixes for generated ConfigMaps and Secrets, computed exactly as
//! kustomize computes them: the object's kind, name and data (Secrets also type and
//! stringData) encoded as Go's `encoding/json` would (sorted keys, HTML-safe escapes), SHA-256,
//! the first ten hex digits with `0 1 3 a e` mapped to `g h k m t` (so the suffix never looks
//! like a number or contains a vowel-made word).

use std::fmt::Write as _;

use capstan_core::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::resmap::ResMap;
use crate::resource::Resource;

/// Appends `-<hash>` to the name of every resource that still needs one.
pub fn add_hash_suffixes(resmap: &mut ResMap) -> Result<()> {
    for resource in resmap.iter_mut() {
        if resource.needs_hash_suffix {
            let hash = hash_of(resource);
            resource.store_previous_id();
            let name = format!("{}-{hash}", resource.name());
            resource.set_name(&name);
        }
    }
    Ok(())
}

/// The ten-character hash kustomize gives `resource`.
pub fn hash_of(resource: &Resource) -> String {
    let encoded = match resource.kind() {
        "ConfigMap" => encode_fields(&resource.object, "ConfigMap", &["data"], "binaryData"),
        "Secret" => encode_fields(&resource.object, "Secret", &["type", "data"], "stringData"),
        _ => go_json(&resource.object),
    };
    encode(&hex_sha256(&encoded))
}

fn encode_fields(object: &Value, kind: &str, fields: &[&str], optional_map: &str) -> String {
    let mut map = Map::new();
    map.insert("kind".into(), Value::String(kind.into()));
    // kustomize looks the name up as one field called `metadata/name`, which never exists, so
    // the name is always empty in the hashed text.
    map.insert("name".into(), Value::String(String::new()));
    for field in fields {
        map.insert((*field).into(), node_value(object.get(*field)));
    }
    if let Some(extra @ Value::Object(_)) = object.get(optional_map) {
        map.insert(optional_map.into(), extra.clone());
    }
    go_json(&Value::Object(map))
}

/// kustomize's `getNodeValues`: a missing field is `""`, a scalar its text, a mapping itself.
fn node_value(value: Option<&Value>) -> Value {
    match value {
        None => Value::String(String::new()),
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Null) => Value::String("null".into()),
        Some(Value::Bool(b)) => Value::String(b.to_string()),
        Some(Value::Number(n)) => Value::String(n.to_string()),
        Some(Value::Array(_)) => Value::Null,
        Some(other) => other.clone(),
    }
}

fn hex_sha256(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The first ten hex digits, with kustomize's substitutions.
fn encode(hex: &str) -> String {
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// Go's `json.Marshal` of a decoded JSON value: object keys sorted, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped, no spaces.
pub fn go_json(value: &Value) -> String {
    capstan_core::go_json::to_string(value, capstan_core::go_json::Keys::Sorted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_json_escapes_like_go() {
        assert_eq!(
            go_json(&json!({"b": "<a&b>", "a": [1, 1.5, null]})),
            r#"{"a":[1,1.5,null],"b":"\u003ca\u0026b\u003e"}"#
        );
    }

    #[test]
    fn config_map_hash_matches_kustomize() {
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap"}),
                "6ct58987ht",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"one": ""}}),
                "9g67k2htb6",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"two": 2, "one": "", "three": 3}}),
                "7757f9kkct",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "binaryData": {"one": ""}}),
                "6mtk2m274t",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"one": ""}, "binaryData": {"two": ""}}),
                "698h7c7t9m",
            ),
        ];
        for (object, want) in cases {
            assert_eq!(hash_of(&Resource::new(object.clone())), want, "{object}");
        }
    }
}
