//! JSON patches (RFC 6902) as kustomize v5.6 applies them (evanphx/json-patch v4): `add`,
//! `remove`, `replace`, `move`, `copy` and `test` over JSON pointers (`~1` is `/`, `~0` is `~`).
//!
//! A patch body is JSON when it starts with `[`, YAML otherwise, as in kustomize. Operations are
//! decoded leniently (any list of objects is a patch) and checked when applied, so a patch with an
//! unknown `op` fails on its first use with kustomize's `Unexpected kind` message. Library
//! behaviours kustomize inherits are kept: `replace` of a missing object key adds it, negative
//! list indices count from the end, `add` at index `len` or `-` appends, and a missing `value`
//! means `null`.

use capstan_core::{Map, Value};

/// A JSON patch that cannot be decoded or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Json6902Error {
    /// The library's wording, as kustomize prints it.
    pub message: String,
}

fn err(message: impl Into<String>) -> Json6902Error {
    Json6902Error {
        message: message.into(),
    }
}

/// A decoded JSON patch: its operations in order, each a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPatch {
    pub operations: Vec<Map>,
}

impl JsonPatch {
    /// Decodes a patch body: JSON when it starts with `[`, else YAML.
    pub fn parse(text: &str) -> Result<JsonPatch, Json6902Error> {
        if text.is_empty() {
            return Err(err("empty json patch operations"));
        }
        let value: Value = if text.starts_with('[') {
            serde_json::from_str(text).map_err(|e| err(e.to_string()))?
        } else {
            // kustomize converts the YAML with sigs.k8s.io/yaml (go-yaml v2, YAML 1.1), so `on`,
            // `yes` and `y` are booleans here, unlike in resources
            let mut options = serde_saphyr::Options::default();
            options.strict_booleans = false;
            options.legacy_octal_numbers = true;
            let mut value = serde_saphyr::from_str_with_options::<Value>(text, options)
                .map_err(|e| err(e.to_string()))?;
            yaml11_bool_keys(&mut value);
            value
        };
        JsonPatch::from_value(value)
    }

    /// Decodes a patch from an already parsed list of operations.
    pub fn from_value(value: Value) -> Result<JsonPatch, Json6902Error> {
        let Value::Array(items) = value else {
            return Err(err(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            ));
        };
        let operations = items
            .into_iter()
            .map(|item| match item {
                Value::Object(op) => Ok(op),
                _ => Err(err(
                    "json: cannot unmarshal non-object into Go value of type jsonpatch.Operation",
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(JsonPatch { operations })
    }

    /// Applies every operation in order. On error the document may be partly patched; callers
    /// that need all-or-nothing apply to a copy.
    ///
    /// As in kustomize, the patched document comes back through Go's JSON decoding, so integers
    /// beyond ±2^53 come back as the nearest double.
    pub fn apply(&self, doc: &mut Value) -> Result<(), Json6902Error> {
        let result = self.apply_ops(doc);
        through_float64(doc);
        result
    }

    fn apply_ops(&self, doc: &mut Value) -> Result<(), Json6902Error> {
        for op in &self.operations {
            apply_one(op, doc).map_err(|e| {
                let kind = string_field(op, "op").unwrap_or("unknown");
                let path = string_field(op, "path").unwrap_or("");
                if e.message.starts_with("Unexpected kind") {
                    e
                } else {
                    err(format!("error in {kind} for path: '{path}': {}", e.message))
                }
            })?;
        }
        Ok(())
    }
}

/// go-yaml v2 (which kustomize converts JSON patch YAML with) reads plain `y`, `yes`, `on`, …
/// keys as booleans, which become the JSON keys `true` / `false`.
fn yaml11_bool_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let converted: Map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    yaml11_bool_keys(&mut v);
                    let key = match k.as_str() {
                        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => "true".to_owned(),
                        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
                            "false".to_owned()
                        }
                        _ => k,
                    };
                    (key, v)
                })
                .collect();
            *map = converted;
        }
        Value::Array(items) => items.iter_mut().for_each(yaml11_bool_keys),
        _ => {}
    }
}

/// Integers a double cannot hold exactly become the nearest double, as Go's JSON decoding into
/// `interface{}` makes them.
fn through_float64(value: &mut Value) {
    const EXACT: u64 = 1 << 53;
    match value {
        Value::Number(n) => {
            let big = n.as_u64().is_some_and(|u| u > EXACT)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() > EXACT);
            if big && let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Value::Object(map) => map.values_mut().for_each(through_float64),
        Value::Array(items) => items.iter_mut().for_each(through_float64),
        _ => {}
    }
}

fn string_field<'a>(op: &'a Map, name: &str) -> Option<&'a str> {
    op.get(name).and_then(Value::as_str)
}

fn path_of<'a>(op: &'a Map, name: &str, what: &str) -> Result<&'a str, Json6902Error> {
    string_field(op, name).ok_or_else(|| err(format!("operation missing {what} field")))
}

fn apply_one(op: &Map, doc: &mut Value) -> Result<(), Json6902Error> {
    let kind = string_field(op, "op").unwrap_or("unknown");
    let value = || op.get("value").cloned().unwrap_or(Value::Null);
    match kind {
        "add" => {
            let path = path_of(op, "path", "path")?;
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                err(format!(
                    "add operation does not apply: doc is missing path: \"{path}\": missing value"
                ))
            })?;
            add(con, &key, value())
        }
        "remove" => {
            let path = path_of(op, "path", "path")?;
            let (con, key) = find_object(doc, path)
                .ok_or_else(|| err(format!("remove operation does not apply: doc is missing path: \"{path}\": missing value")))?;
            remove(con, &key).map(|_| ())
        }
        "replace" => {
            let path = path_of(op, "path", "path")?;
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                err(format!(
                    "replace operation does not apply: doc is missing path: {path}: missing value"
                ))
            })?;
            if let Value::Array(items) = con {
                index(items.len(), &key, false)?;
            }
            set(con, &key, value())
        }
        "move" => {
            let from = path_of(op, "from", "from")?;
            let (con, key) = find_object(doc, from).ok_or_else(|| {
                err(format!(
                    "move operation does not apply: doc is missing from path: {from}: missing value"
                ))
            })?;
            let moved = remove(con, &key)?;
            let path = path_of(op, "path", "path")?;
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                err(format!("move operation does not apply: doc is missing destination path: {path}: missing value"))
            })?;
            add(con, &key, moved)
        }
        "copy" => {
            let from = path_of(op, "from", "from")?;
            let (con, key) = find_object(doc, from).ok_or_else(|| {
                err(format!(
                    "copy operation does not apply: doc is missing from path: {from}: missing value"
                ))
            })?;
            let copied = get(con, &key)?.cloned().unwrap_or(Value::Null);
            let path = path_of(op, "path", "path")?;
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                err(format!("copy operation does not apply: doc is missing destination path: {path}: missing value"))
            })?;
            add(con, &key, copied)
        }
        "test" => {
            let path = path_of(op, "path", "path")?;
            let want = op.get("value");
            let found = if path.is_empty() {
                Some(&*doc)
            } else {
                let (con, key) = find_object(doc, path).ok_or_else(|| {
                    err(format!(
                        "test operation does not apply: is missing path: {path}: missing value"
                    ))
                })?;
                get(con, &key)?.map(|v| &*v)
            };
            let ok = match (found, want) {
                (None | Some(Value::Null), None | Some(Value::Null)) => true,
                (Some(a), Some(b)) => json_equal(a, b),
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                Err(err(format!("testing value {path} failed: test failed")))
            }
        }
        other => Err(err(format!("Unexpected kind: {other}"))),
    }
}

/// Decodes one reference token of a JSON pointer.
pub fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Splits a JSON pointer into its decoded tokens; `None` when it does not start with `/`.
pub fn pointer_tokens(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    Some(rest.split('/').map(unescape).collect())
}

/// The container holding the last token of `path`, and that token, as the library finds them.
fn find_object<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let mut tokens = pointer_tokens(path)?;
    let key = tokens.pop()?;
    let mut cur = doc;
    for part in tokens {
        cur = match cur {
            Value::Object(map) => map.get_mut(&part)?,
            Value::Array(items) => {
                let len = items.len();
                let i = index(len, &part, false).ok()?;
                items.get_mut(i)?
            }
            _ => return None,
        };
        if !matches!(cur, Value::Object(_) | Value::Array(_)) {
            return None;
        }
    }
    Some((cur, key))
}

/// Resolves a list index token; `insert` allows `len` (one past the end).
fn index(len: usize, key: &str, insert: bool) -> Result<usize, Json6902Error> {
    let i: i64 = key
        .parse()
        .map_err(|_| err(format!("value was not a proper array index: '{key}'")))?;
    let size = i64::try_from(if insert { len + 1 } else { len }).unwrap_or(i64::MAX);
    let resolved = if i < 0 {
        if i < -size {
            return Err(err(format!(
                "Unable to access invalid index: {i}: invalid index referenced"
            )));
        }
        i + size
    } else {
        i
    };
    if resolved >= size {
        return Err(err(format!(
            "Unable to access invalid index: {i}: invalid index referenced"
        )));
    }
    usize::try_from(resolved).map_err(|_| err(format!("Unable to access invalid index: {i}")))
}

fn add(con: &mut Value, key: &str, value: Value) -> Result<(), Json6902Error> {
    match con {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let i = index(items.len(), key, true)?;
            items.insert(i, value);
            Ok(())
        }
        _ => Err(err(format!(
            "add operation does not apply: doc is missing path: \"{key}\""
        ))),
    }
}

fn set(con: &mut Value, key: &str, value: Value) -> Result<(), Json6902Error> {
    match con {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
            Ok(())
        }
        Value::Array(items) => {
            let i = index(items.len(), key, false)?;
            items[i] = value;
            Ok(())
        }
        _ => Err(err(format!(
            "replace operation does not apply: doc is missing key: {key}"
        ))),
    }
}

fn get<'a>(con: &'a mut Value, key: &str) -> Result<Option<&'a mut Value>, Json6902Error> {
    match con {
        Value::Object(map) => Ok(map.get_mut(key)),
        Value::Array(items) => {
            let i = index(items.len(), key, false)?;
            Ok(items.get_mut(i))
        }
        _ => Ok(None),
    }
}

fn remove(con: &mut Value, key: &str) -> Result<Value, Json6902Error> {
    match con {
        Value::Object(map) => map.shift_remove(key).ok_or_else(|| {
            err(format!(
                "Unable to remove nonexistent key: {key}: missing value"
            ))
        }),
        Value::Array(items) => {
            let i = index(items.len(), key, false)?;
            Ok(items.remove(i))
        }
        _ => Err(err(format!(
            "Unable to remove nonexistent key: {key}: missing value"
        ))),
    }
}

/// Equality as the library decides it: numbers by value, objects regardless of key order.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(doc: Value, patch: &str) -> Result<Value, String> {
        let mut doc = doc;
        JsonPatch::parse(patch)
            .and_then(|p| p.apply(&mut doc))
            .map_err(|e| e.message)?;
        Ok(doc)
    }

    #[test]
    fn operations_table() {
        let doc = json!({"a": {"b": [1, 2, 3], "c~d/e": "x"}, "n": 1});
        let cases: &[(&str, Result<Value, &str>)] = &[
            (
                r#"[{"op":"add","path":"/a/b/1","value":9}]"#,
                Ok(json!({"a": {"b": [1, 9, 2, 3], "c~d/e": "x"}, "n": 1})),
            ),
            (
                r#"[{"op":"add","path":"/a/b/-","value":9}]"#,
                Ok(json!({"a": {"b": [1, 2, 3, 9], "c~d/e": "x"}, "n": 1})),
            ),
            (
                r#"[{"op":"add","path":"/a/b/3","value":9}]"#,
                Ok(json!({"a": {"b": [1, 2, 3, 9], "c~d/e": "x"}, "n": 1})),
            ),
            (
                r#"[{"op":"add","path":"/a/b/-1","value":9}]"#,
                Ok(json!({"a": {"b": [1, 2, 3, 9], "c~d/e": "x"}, "n": 1})),
            ),
            (
                r#"[{"op":"add","path":"/a/b/5","value":9}]"#,
                Err("Unable to access invalid index: 5"),
            ),
            (
                r#"[{"op":"add","path":"/x/y","value":9}]"#,
                Err("add operation does not apply"),
            ),
            (
                r#"[{"op":"remove","path":"/a/c~0d~1e"}]"#,
                Ok(json!({"a": {"b": [1, 2, 3]}, "n": 1})),
            ),
            (
                r#"[{"op":"remove","path":"/a/zz"}]"#,
                Err("Unable to remove nonexistent key: zz"),
            ),
            (
                r#"[{"op":"replace","path":"/n","value":"two"}]"#,
                Ok(json!({"a": {"b": [1, 2, 3], "c~d/e": "x"}, "n": "two"})),
            ),
            (
                r#"[{"op":"replace","path":"/m","value":2}]"#,
                Ok(json!({"a": {"b": [1, 2, 3], "c~d/e": "x"}, "n": 1, "m": 2})),
            ),
            (
                r#"[{"op":"replace","path":"/a/b/3","value":2}]"#,
                Err("Unable to access invalid index: 3"),
            ),
            (
                r#"[{"op":"move","from":"/n","path":"/a/n"}]"#,
                Ok(json!({"a": {"b": [1, 2, 3], "c~d/e": "x", "n": 1}})),
            ),
            (
                r#"[{"op":"copy","from":"/a/b/0","path":"/a/b/0"}]"#,
                Ok(json!({"a": {"b": [1, 1, 2, 3], "c~d/e": "x"}, "n": 1})),
            ),
            (
                r#"[{"op":"test","path":"/n","value":1.0}]"#,
                Ok(doc.clone()),
            ),
            (
                r#"[{"op":"test","path":"/n","value":2}]"#,
                Err("testing value /n failed"),
            ),
            (
                r#"[{"op":"frob","path":"/n"}]"#,
                Err("Unexpected kind: frob"),
            ),
            (r#"[{"path":"/n"}]"#, Err("Unexpected kind: unknown")),
            (
                "- op: add\n  path: /a/new\n  value:\n    k: v\n",
                Ok(json!({"a": {"b": [1, 2, 3], "c~d/e": "x", "new": {"k": "v"}}, "n": 1})),
            ),
            (
                "- op: add\n  path: /y\n  value: on\n",
                Ok(json!({"a": {"b": [1, 2, 3], "c~d/e": "x"}, "n": 1, "y": true})),
            ),
            (
                "- op: add\n  path: /z\n",
                Ok(json!({"a": {"b": [1, 2, 3], "c~d/e": "x"}, "n": 1, "z": null})),
            ),
        ];
        for (patch, want) in cases {
            let got = run(doc.clone(), patch);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{patch}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{patch}: {g}"),
                _ => panic!("{patch}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn a_map_is_not_a_json_patch() {
        assert!(JsonPatch::parse("apiVersion: v1\nkind: ConfigMap\n").is_err());
        assert!(JsonPatch::parse("").is_err());
        assert!(JsonPatch::parse("[1]").is_err());
    }
}
