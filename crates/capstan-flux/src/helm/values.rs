//! HelmRelease values, merged as helm-controller merges them (fluxcd/pkg
//! `chartutil.ChartValuesFromReferences`): each `valuesFrom` entry in order — a ConfigMap's
//! `data[valuesKey]` or a Secret's decoded `data[valuesKey]` (`valuesKey` defaults to
//! `values.yaml`), a missing object or key skipped only when `optional` — read as a YAML map and
//! deep-merged over what came before; an entry with `targetPath` instead sets that one path (Helm
//! `--set` syntax, see [`super::set_value`]) after merging the inline values in; finally the inline
//! `values` are merged on top. Maps merge key by key; anything else replaces.

use capstan_core::{Map, Value};

use super::set_value::set_target_path;
use crate::substitute::base64_decode;

/// Why values could not be computed. Messages follow helm-controller's
/// "could not resolve ... chart values reference" wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValuesError {
    #[error(
        "could not resolve {kind} chart values reference '{namespace}/{name}' with key '{key}': {reason}"
    )]
    Reference {
        kind: String,
        namespace: String,
        name: String,
        key: String,
        reason: String,
    },
    #[error("spec.values: must be a mapping")]
    Inline,
}

/// Computes the values of a HelmRelease manifest. `lookup(kind, name)` returns the ConfigMap or
/// Secret of that name in the release's namespace.
pub fn merge_values(
    release: &Value,
    namespace: &str,
    lookup: &dyn Fn(&str, &str) -> Option<Value>,
) -> Result<Map, ValuesError> {
    let inline = match release.pointer("/spec/values") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(ValuesError::Inline),
    };
    let refs = release
        .pointer("/spec/valuesFrom")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut result = Map::new();
    for reference in refs {
        let field = |name: &str| {
            reference
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (kind, name) = (field("kind"), field("name"));
        let key = Some(field("valuesKey"))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "values.yaml".into());
        let target_path = field("targetPath");
        let optional = reference
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let error = |reason: &str| ValuesError::Reference {
            kind: kind.clone(),
            namespace: namespace.to_owned(),
            name: name.clone(),
            key: key.clone(),
            reason: reason.to_owned(),
        };
        if kind != "ConfigMap" && kind != "Secret" {
            return Err(error("unsupported values reference kind"));
        }
        let Some(object) = lookup(&kind, &name) else {
            if optional {
                continue;
            }
            return Err(error(
                "resource not found (not rendered by this repository)",
            ));
        };
        let data = match entry(&kind, &object, &key) {
            Ok(Some(data)) => data,
            Ok(None) if optional => continue,
            Ok(None) => return Err(error("key not found")),
            Err(reason) => return Err(error(&reason)),
        };
        if !target_path.is_empty() {
            result = merge_maps(result, &inline);
            let literal = reference
                .get("literal")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            set_target_path(&mut result, &target_path, &data, literal)
                .map_err(|e| error(&format!("targetPath {target_path:?}: {e}")))?;
            continue;
        }
        let values = read_values(&data).map_err(|e| error(&e))?;
        result = merge_maps(result, &values);
    }
    Ok(merge_maps(result, &inline))
}

fn entry(kind: &str, object: &Value, key: &str) -> Result<Option<String>, String> {
    if kind == "Secret" {
        if let Some(text) = object
            .pointer("/stringData")
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
        {
            return Ok(Some(text.to_owned()));
        }
        return match object.pointer("/data").and_then(|d| d.get(key)) {
            None => Ok(None),
            Some(Value::String(encoded)) => base64_decode(encoded)
                .map(|bytes| Some(String::from_utf8_lossy(&bytes).into_owned()))
                .map_err(|e| format!("data.{key} is not valid base64: {e}")),
            Some(_) => Err(format!("data.{key} must be a string")),
        };
    }
    match object.pointer("/data").and_then(|d| d.get(key)) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("data.{key} must be a string")),
    }
}

/// Helm's `ReadValues`: a YAML map (an empty document is an empty map).
fn read_values(text: &str) -> Result<Map, String> {
    match capstan_core::yaml::parse_document(text)
        .map_err(|e| format!("unable to read values: {}", e.message))?
    {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        _ => Err("unable to read values: not a YAML mapping".into()),
    }
}

/// helm-controller's `MergeMaps`: `b` over `a`, maps merged recursively.
pub fn merge_maps(a: Map, b: &Map) -> Map {
    let mut out = a;
    for (key, value) in b {
        if let Value::Object(bmap) = value
            && let Some(Value::Object(amap)) = out.get(key)
        {
            let merged = merge_maps(amap.clone(), bmap);
            out.insert(key.clone(), Value::Object(merged));
            continue;
        }
        out.insert(key.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lookup(kind: &str, name: &str) -> Option<Value> {
        match (kind, name) {
            ("ConfigMap", "base") => Some(
                json!({"data": {"values.yaml": "a: 1\nnested: {x: 1, y: 1}\nlist: [1, 2]\n", "custom": "b: cm"}}),
            ),
            // "c2VjcmV0" = "secret"; "Yjogc2Vj" = "b: sec"
            ("Secret", "creds") => {
                Some(json!({"data": {"password": "c2VjcmV0", "values.yaml": "Yjogc2Vj"}}))
            }
            ("ConfigMap", "bad") => Some(json!({"data": {"values.yaml": "- a list"}})),
            _ => None,
        }
    }

    fn values(spec: Value) -> Result<Value, ValuesError> {
        merge_values(&json!({"spec": spec}), "apps", &lookup).map(Value::Object)
    }

    #[test]
    fn merge_order_table() {
        let got = values(json!({
            "valuesFrom": [
                {"kind": "ConfigMap", "name": "base"},
                {"kind": "ConfigMap", "name": "base", "valuesKey": "custom"},
                {"kind": "Secret", "name": "creds"},
                {"kind": "Secret", "name": "creds", "valuesKey": "password", "targetPath": "auth.password"},
                {"kind": "ConfigMap", "name": "absent", "optional": true},
                {"kind": "ConfigMap", "name": "base", "valuesKey": "nope", "optional": true},
            ],
            "values": {"nested": {"y": 2}, "list": [3], "a": 9}
        }))
        .unwrap();
        assert_eq!(
            got,
            json!({"a": 9, "nested": {"x": 1, "y": 2}, "list": [3], "b": "sec", "auth": {"password": "secret"}})
        );
    }

    #[test]
    fn target_path_types_and_inline_wins() {
        let cm = |v: &str| Some(json!({"data": {"v": v}}));
        let run = |v: &'static str, inline: Value| {
            merge_values(
                &json!({"spec": {"valuesFrom": [{"kind": "ConfigMap", "name": "x", "valuesKey": "v", "targetPath": "a.b[1].c"}], "values": inline}}),
                "apps",
                &move |_: &str, _: &str| cm(v),
            )
            .unwrap()
        };
        assert_eq!(
            Value::Object(run("42", json!({}))),
            json!({"a": {"b": [null, {"c": 42}]}})
        );
        assert_eq!(
            Value::Object(run("\"42\"", json!({}))),
            json!({"a": {"b": [null, {"c": "42"}]}})
        );
        assert_eq!(
            Value::Object(run("true", json!({}))),
            json!({"a": {"b": [null, {"c": true}]}})
        );
        assert_eq!(
            Value::Object(run("007", json!({}))),
            json!({"a": {"b": [null, {"c": "007"}]}})
        );
        // The inline values are merged in before the path is set and again after, so they win
        // on the same leaf…
        assert_eq!(
            Value::Object(run("1", json!({"a": {"b": [null, {"c": "inline"}]}}))),
            json!({"a": {"b": [null, {"c": "inline"}]}})
        );
    }

    #[test]
    fn target_path_through_an_inline_scalar_fails() {
        // …and a path that has to go through an inline scalar fails, as in helm-controller.
        let err = merge_values(
            &json!({"spec": {"valuesFrom": [{"kind": "ConfigMap", "name": "x", "valuesKey": "v", "targetPath": "a.b[1].c"}], "values": {"a": {"b": "inline"}}}}),
            "apps",
            &|_: &str, _: &str| Some(json!({"data": {"v": "1"}})),
        )
        .unwrap_err();
        assert!(err.to_string().contains("targetPath \"a.b[1].c\""), "{err}");
    }

    #[test]
    fn target_path_values_with_set_syntax() {
        let run = |v: &str, literal: bool| {
            merge_values(
                &json!({"spec": {"valuesFrom": [{"kind": "Secret", "name": "s", "valuesKey": "v", "targetPath": "cfg.hosts", "literal": literal}]}}),
                "apps",
                &|_: &str, _: &str| Some(json!({"stringData": {"v": v}})),
            )
            .map(Value::Object)
        };
        assert_eq!(
            run("{a.example.com,b.example.com}", false).unwrap(),
            json!({"cfg": {"hosts": ["a.example.com", "b.example.com"]}})
        );
        assert!(
            run("a,b", false).is_err(),
            "a comma starts another assignment"
        );
        assert_eq!(run("a,b", true).unwrap(), json!({"cfg": {"hosts": "a,b"}}));
        assert_eq!(
            run("a\\,b", false).unwrap(),
            json!({"cfg": {"hosts": "a,b"}})
        );
    }

    #[test]
    fn bad_references() {
        for spec in [
            json!({"valuesFrom": [{"kind": "ConfigMap", "name": "absent"}]}),
            json!({"valuesFrom": [{"kind": "ConfigMap", "name": "base", "valuesKey": "nope"}]}),
            json!({"valuesFrom": [{"kind": "ConfigMap", "name": "bad"}]}),
            json!({"valuesFrom": [{"kind": "Pod", "name": "base"}]}),
            json!({"values": [1]}),
        ] {
            assert!(values(spec.clone()).is_err(), "{spec}");
        }
        let err = values(json!({"valuesFrom": [{"kind": "Secret", "name": "gone"}]})).unwrap_err();
        assert!(err.to_string().contains("'apps/gone'"), "{err}");
    }
}
