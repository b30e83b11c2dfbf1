//! The non-apply patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the
//! strategic merge patch kubectl sends, which merges the lists the schema keys (by their first
//! key, the patch merge key of the built-in types), honours `$patch: delete|replace` and
//! `$deleteFromPrimitiveList`, and ignores the `$setElementOrder` and `$retainKeys` directives.

use serde_json::{Map, Value};

use crate::ssa::schema::{Atom, ListKind, TypeRef};

/// Why a patch could not be applied (the message as the real server words it, roughly).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(pub String);

/// RFC 7386.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let cur = out.get(k).cloned().unwrap_or(Value::Null);
                    out.insert(k.clone(), merge_patch(&cur, v));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// RFC 6902.
pub fn json_patch(target: &Value, ops: &Value) -> Result<Value, PatchError> {
    let Some(ops) = ops.as_array() else {
        return Err(PatchError(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into(),
        ));
    };
    let mut doc = target.clone();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        match kind {
            "add" => add(&mut doc, path, value_of(op)?)?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, value_of(op)?)?;
            }
            "move" => {
                let from = op.get("from").and_then(Value::as_str).unwrap_or("");
                let v = remove(&mut doc, from)?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let from = op.get("from").and_then(Value::as_str).unwrap_or("");
                let v = doc.pointer(from).cloned().ok_or_else(|| {
                    PatchError(format!(
                        "copy operation does not apply: doc is missing from path: {from}"
                    ))
                })?;
                add(&mut doc, path, v)?;
            }
            "test" => {
                let want = value_of(op)?;
                if doc.pointer(path) != Some(&want) {
                    return Err(PatchError(format!(
                        "testing value {path} failed: test failed"
                    )));
                }
            }
            other => return Err(PatchError(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(doc)
}

fn value_of(op: &Value) -> Result<Value, PatchError> {
    op.get("value")
        .cloned()
        .ok_or_else(|| PatchError("missing value".into()))
}

fn split(path: &str) -> Result<(String, String), PatchError> {
    let idx = path
        .rfind('/')
        .ok_or_else(|| PatchError(format!("invalid path {path:?}")))?;
    let last = path[idx + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..idx].to_string(), last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split(path)?;
    let missing = || {
        PatchError(format!(
            "add operation does not apply: doc is missing path: {path:?}"
        ))
    };
    match doc.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last.parse().map_err(|_| missing())?;
                if i > a.len() {
                    return Err(missing());
                }
                a.insert(i, value);
            }
        }
        _ => return Err(missing()),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (parent, last) = split(path)?;
    let missing = || {
        PatchError(format!(
            "remove operation does not apply: doc is missing path: {path:?}"
        ))
    };
    match doc.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => m.remove(&last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i >= a.len() {
                return Err(missing());
            }
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}

/// A strategic merge patch over `target`, lists merged by the schema's keys.
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    ty: &TypeRef,
) -> Result<Value, PatchError> {
    Ok(smp(target, patch, ty))
}

fn smp(target: &Value, patch: &Value, ty: &TypeRef) -> Value {
    let (Value::Object(t), Value::Object(p)) = (target, patch) else {
        return strip_directives(patch);
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut out = p.clone();
        out.remove("$patch");
        return strip_directives(&Value::Object(out));
    }
    let atom = ty.atom(Some(target));
    let mut out = t.clone();
    for (k, v) in p {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Value::Array(del)) = (out.get(field).cloned(), v) {
                let kept: Vec<Value> = cur.into_iter().filter(|x| !del.contains(x)).collect();
                out.insert(field.to_string(), Value::Array(kept));
            }
            continue;
        }
        let child_ty = match &atom {
            Atom::Map(st) => st.field(k),
            _ => TypeRef::Untyped,
        };
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (out.get(k), v) {
            (Some(cur @ Value::Object(_)), Value::Object(_)) => smp(cur, v, &child_ty),
            (Some(Value::Array(cur)), Value::Array(items)) => merge_list(cur, items, &child_ty),
            (_, Value::Array(items)) => merge_list(&[], items, &child_ty),
            _ => strip_directives(v),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

fn merge_list(cur: &[Value], items: &[Value], ty: &TypeRef) -> Value {
    let key = match ty.atom(None) {
        Atom::List(l) => match &l.kind {
            ListKind::Map(keys) => keys.first().cloned(),
            _ => None,
        },
        _ => None,
    };
    let Some(key) = key else {
        return Value::Array(items.iter().map(strip_directives).collect());
    };
    let elem = match ty.atom(None) {
        Atom::List(l) => l.elem.clone(),
        _ => TypeRef::Untyped,
    };
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        );
    }
    let mut out: Vec<Value> = cur.to_vec();
    for item in items {
        let k = item.get(&key);
        let pos = out.iter().position(|c| c.get(&key) == k && k.is_some());
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = pos {
                out.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => out[i] = smp(&out[i], item, &elem),
            None => out.push(strip_directives(item)),
        }
    }
    Value::Array(out)
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_replaces_managed_fields() {
        let doc = json!({"metadata": {"managedFields": [{"manager": "a"}]}});
        let out = json_patch(
            &doc,
            &json!([{"op": "replace", "path": "/metadata/managedFields", "value": []}]),
        )
        .expect("applies");
        assert_eq!(out, json!({"metadata": {"managedFields": []}}));
    }

    #[test]
    fn merge_patch_deletes_nulls() {
        assert_eq!(
            merge_patch(
                &json!({"a": 1, "b": {"c": 2}}),
                &json!({"a": null, "b": {"d": 3}})
            ),
            json!({"b": {"c": 2, "d": 3}})
        );
    }
}
