//! Walks an object against a schema node and reports what strict server-side apply would
//! reject: unknown fields, values of the wrong type, missing required fields, and values the
//! schema constrains (enum, pattern, lengths, bounds, base64 for `format: byte`).

use capstan_core::Value;

use super::node::{NodeId, SchemaArena, Unknown};

/// What kind of problem a schema error is; each maps to its own finding code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    UnknownField,
    WrongType,
    MissingField,
    InvalidValue,
}

impl Problem {
    pub fn code(self) -> &'static str {
        match self {
            Problem::UnknownField => "schema/unknown-field",
            Problem::WrongType => "schema/wrong-type",
            Problem::MissingField => "schema/missing-field",
            Problem::InvalidValue => "schema/invalid-value",
        }
    }
}

/// One schema violation at a field path such as `spec.template.spec.containers[0].image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub problem: Problem,
    pub field: String,
    pub message: String,
}

/// More errors than this in one object are not worth reading.
const MAX_ERRORS: usize = 50;

/// Validates `value` against node `id`, appending errors to `out`.
pub fn validate(
    arena: &SchemaArena,
    id: NodeId,
    value: &Value,
    path: &mut String,
    out: &mut Vec<SchemaError>,
) {
    if out.len() >= MAX_ERRORS {
        return;
    }
    let node = arena.resolve(id);
    if value.is_null() {
        return;
    }
    if !node.types.accepts(value) {
        out.push(SchemaError {
            problem: Problem::WrongType,
            field: display(path),
            message: format!(
                "expected {}, found {}",
                node.types.describe(),
                json_type(value)
            ),
        });
        return;
    }
    if let Some(allowed) = &node.enumeration
        && !allowed.is_empty()
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
        out.push(SchemaError {
            problem: Problem::InvalidValue,
            field: display(path),
            message: format!("{value} is not one of {}", list.join(", ")),
        });
    }
    match value {
        Value::Object(map) => {
            for key in &node.required {
                if !map.contains_key(key) {
                    out.push(SchemaError {
                        problem: Problem::MissingField,
                        field: display(&join(path, key)),
                        message: format!("required field \"{key}\" is missing"),
                    });
                }
            }
            for (key, child) in map {
                let len = path.len();
                push_key(path, key);
                match node.properties.get(key) {
                    Some(&child_id) => validate(arena, child_id, child, path, out),
                    None => match node.unknown {
                        Unknown::Allow => {}
                        Unknown::Each(each) => validate(arena, each, child, path, out),
                        Unknown::Reject if node.properties.is_empty() && node.types.any() => {}
                        Unknown::Reject => out.push(SchemaError {
                            problem: Problem::UnknownField,
                            field: display(path),
                            message: format!("unknown field \"{key}\""),
                        }),
                    },
                }
                path.truncate(len);
                if out.len() >= MAX_ERRORS {
                    return;
                }
            }
        }
        Value::Array(items) => {
            check_count(node.min_items, node.max_items, items.len(), path, out);
            if let Some(item) = node.items {
                for (i, child) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    validate(arena, item, child, path, out);
                    path.truncate(len);
                }
            }
        }
        Value::String(s) => {
            let chars = s.chars().count() as u64;
            if node.min_length.is_some_and(|min| chars < min)
                || node.max_length.is_some_and(|max| chars > max)
            {
                out.push(SchemaError {
                    problem: Problem::InvalidValue,
                    field: display(path),
                    message: format!(
                        "length {chars} is outside [{}, {}]",
                        node.min_length.unwrap_or(0),
                        node.max_length
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| "∞".to_owned())
                    ),
                });
            }
            if let Some(pattern) = &node.pattern
                && !pattern.is_match(s)
            {
                out.push(SchemaError {
                    problem: Problem::InvalidValue,
                    field: display(path),
                    message: format!("\"{s}\" does not match {}", pattern.source),
                });
            }
            if node.format.as_deref() == Some("byte") && !is_base64(s) {
                out.push(SchemaError {
                    problem: Problem::InvalidValue,
                    field: display(path),
                    message: "is not valid base64".to_owned(),
                });
            }
        }
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && (node.minimum.is_some_and(|min| f < min)
                    || node.maximum.is_some_and(|max| f > max))
            {
                out.push(SchemaError {
                    problem: Problem::InvalidValue,
                    field: display(path),
                    message: format!("{n} is out of range"),
                });
            }
        }
        _ => {}
    }
}

fn check_count(
    min: Option<u64>,
    max: Option<u64>,
    len: usize,
    path: &str,
    out: &mut Vec<SchemaError>,
) {
    let len = len as u64;
    if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
        out.push(SchemaError {
            problem: Problem::InvalidValue,
            field: display(path),
            message: format!(
                "has {len} items, outside [{}, {}]",
                min.unwrap_or(0),
                max.map(|m| m.to_string()).unwrap_or_else(|| "∞".to_owned())
            ),
        });
    }
}

fn display(path: &str) -> String {
    if path.is_empty() {
        "(root)".to_owned()
    } else {
        path.to_owned()
    }
}

/// Appends `.key`, or `["key"]` when the key holds characters that would make the path ambiguous.
pub fn push_key(path: &mut String, key: &str) {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        && !key.is_empty()
    {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str(&format!("[{key:?}]"));
    }
}

fn join(path: &str, key: &str) -> String {
    let mut p = path.to_owned();
    push_key(&mut p, key);
    p
}

pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_base64(s: &str) -> bool {
    let body: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !body.len().is_multiple_of(4) {
        return false;
    }
    let pad = body.iter().rev().take_while(|&&b| b == b'=').count();
    pad <= 2
        && body[..body.len() - pad]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}
