//! Dotted field paths as kustomize's replacements and vars read them (kyaml `PathGetter` /
//! `PathMatcher` over `SmarterPathSplitter`): `spec.template.spec.containers.[name=app].image`,
//! `data.my\.key` (an escaped dot), `spec.ports.0.port`, `spec.args.[=--flag]`, `*` for every
//! element, and `containers[0]` for vars.
//!
//! [`lookup`] finds one node (sources); [`find_all`] finds every node a path matches, creating
//! missing fields and `[key=value]` elements when asked (targets). Element matches in
//! [`find_all`] are unanchored regular expressions over the field's text, as in kyaml; in
//! [`lookup`] they are exact.

use capstan_core::{Map, Value};
use regex::Regex;

use crate::error::{Error, Result};

/// Splits a dotted path: `\.` escapes a dot, and `[...]` groups keep their dots.
pub fn split(path: &str) -> Vec<String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    if parts.len() > 1 && parts[0].is_empty() {
        parts.remove(0);
    }
    let mut plain: Vec<String> = Vec::new();
    for part in parts {
        match plain.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(part);
            }
            _ => plain.push(part.to_owned()),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < plain.len() {
        let elem = &plain[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut bracketed = vec![elem.clone()];
            while i < plain.len() - 1 {
                i += 1;
                bracketed.push(plain[i].clone());
                if plain[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(".");
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(|c| c == '[' || c == ']').to_owned());
            }
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out
}

/// Splits a vars field path, turning `ports[0]` into `ports`, `0`.
pub fn split_var_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        match part.find('[') {
            Some(open)
                if part.ends_with(']')
                    && part[open + 1..part.len() - 1].parse::<usize>().is_ok() =>
            {
                out.push(part[..open].to_owned());
                out.push(part[open + 1..part.len() - 1].to_owned());
            }
            _ => out.push(part.to_owned()),
        }
    }
    out
}

fn is_list_index(p: &str) -> bool {
    p.starts_with('[') && p.ends_with(']')
}

fn index_number(p: &str) -> Option<usize> {
    p.parse::<usize>().ok()
}

fn split_index(p: &str) -> Result<(String, String)> {
    let inner = p.trim_start_matches('[').trim_end_matches(']');
    match inner.split_once('=') {
        Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
        None => Err(Error::msg(
            "list path element must contain fieldName=fieldValue for element to match",
        )),
    }
}

/// The text kyaml holds for a scalar (`""` for maps, lists and null).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn kind_error(want: &str, v: &Value) -> Error {
    Error::msg(format!(
        "wrong node kind: expected {want} but got {}: node contents:\n{}",
        match v {
            Value::Object(_) => "MappingNode",
            Value::Array(_) => "SequenceNode",
            _ => "ScalarNode",
        },
        capstan_core::yaml::to_yaml(v)
    ))
}

/// kyaml's `Lookup`: the node at `path`, or `None` when some part is missing.
pub fn lookup<'a>(root: &'a Value, path: &[String]) -> Result<Option<&'a Value>> {
    let mut cur = root;
    for part in path.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if cur.is_null() {
            return Ok(None);
        }
        let next = if let Ok(i) = part.parse::<i64>() {
            if i < 0 {
                return Err(Error::msg(format!("array index {i} cannot be negative")));
            }
            match cur {
                Value::Array(items) => usize::try_from(i).ok().and_then(|i| items.get(i)),
                _ => return Err(kind_error("SequenceNode", cur)),
            }
        } else if part == "-" {
            match cur {
                Value::Array(items) => items.last(),
                _ => return Err(kind_error("SequenceNode", cur)),
            }
        } else if part == "*" {
            return Err(Error::msg("wildcard is not supported in PathGetter"));
        } else if is_list_index(part) {
            let (key, want) = split_index(part)?;
            match cur {
                Value::Array(items) => items.iter().find(|e| {
                    if key.is_empty() {
                        scalar_text(e) == want
                    } else {
                        e.get(&key).is_some_and(|v| scalar_text(v) == want)
                    }
                }),
                _ => return Err(kind_error("SequenceNode", cur)),
            }
        } else {
            match cur {
                Value::Object(map) => map.get(part),
                _ => return Err(kind_error("MappingNode", cur)),
            }
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// What [`find_all`] creates at the end of a path when a field is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Nothing: missing fields are simply not matched.
    Nothing,
    /// A scalar (a fresh, untyped node: its text is read as YAML would read it).
    Scalar,
    /// A mapping.
    Map,
    /// A list.
    Seq,
}

/// One step into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A node [`find_all`] matched: where it is, and whether it was just created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub steps: Vec<Step>,
    pub created: bool,
}

fn part_kind(next: Option<&String>, create: Create) -> Value {
    match next {
        Some(n) if is_list_index(n) || index_number(n).is_some() => Value::Array(Vec::new()),
        Some(_) => Value::Object(Map::new()),
        None => match create {
            Create::Map => Value::Object(Map::new()),
            Create::Seq => Value::Array(Vec::new()),
            _ => Value::Null,
        },
    }
}

/// kyaml's `PathMatcher`: every node `path` reaches, creating what is missing when `create` says.
pub fn find_all(root: &mut Value, path: &[String], create: Create) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    let mut steps = Vec::new();
    matcher(root, path, create, &mut steps, false, &mut out)?;
    Ok(out)
}

fn element_text(v: &Value) -> String {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => scalar_text(v),
        Value::Null => "null".to_owned(),
        other => capstan_core::yaml::to_yaml(other).trim().to_owned(),
    }
}

fn matcher(
    node: &mut Value,
    path: &[String],
    create: Create,
    steps: &mut Vec<Step>,
    created: bool,
    out: &mut Vec<Found>,
) -> Result<()> {
    let Some((head, rest)) = path.split_first() else {
        out.push(Found {
            steps: steps.clone(),
            created,
        });
        return Ok(());
    };
    let creating = create != Create::Nothing;
    if let Some(idx) = index_number(head) {
        let Value::Array(items) = node else {
            return Err(kind_error("SequenceNode", node));
        };
        if items.len() == idx && creating {
            items.push(part_kind(rest.first(), create));
        }
        if items.len() < idx + 1 {
            return Err(Error::msg(format!(
                "index {idx} specified but only {} elements found",
                items.len()
            )));
        }
        let was_created = creating && items.len() == idx + 1 && items[idx].is_null();
        steps.push(Step::Index(idx));
        let r = matcher(&mut items[idx], rest, create, steps, was_created, out);
        steps.pop();
        return r;
    }
    if is_list_index(head) {
        let (key, pattern) = split_index(head)?;
        let re =
            Regex::new(&pattern).map_err(|e| Error::msg(format!("error parsing regexp: {e}")))?;
        let Value::Array(items) = node else {
            if node.is_null() {
                return Ok(());
            }
            return Err(kind_error("SequenceNode", node));
        };
        let before = out.len();
        // kyaml retries until a created element matches, which never ends for a pattern that
        // does not match its own text (`[name=^x$]`): here the second attempt is the last
        for attempt in 0..2 {
            for (i, item) in items.iter_mut().enumerate() {
                let text = if key.is_empty() {
                    element_text(item)
                } else {
                    match item.get(&key) {
                        Some(v) => element_text(v),
                        None => continue,
                    }
                };
                if !re.is_match(&text) {
                    continue;
                }
                steps.push(Step::Index(i));
                let r = if key.is_empty() {
                    out.push(Found {
                        steps: steps.clone(),
                        created: false,
                    });
                    Ok(())
                } else {
                    matcher(item, rest, create, steps, false, out)
                };
                steps.pop();
                r?;
            }
            if out.len() > before || !creating || attempt == 1 {
                break;
            }
            let value = Value::String(pattern.clone());
            items.push(if key.is_empty() {
                value
            } else {
                let mut m = Map::new();
                m.insert(key.clone(), value);
                Value::Object(m)
            });
        }
        return Ok(());
    }
    if head == "*" {
        let Value::Array(items) = node else {
            return Err(kind_error("SequenceNode", node));
        };
        for (i, item) in items.iter_mut().enumerate() {
            steps.push(Step::Index(i));
            let r = matcher(item, rest, create, steps, false, out);
            steps.pop();
            r?;
        }
        return Ok(());
    }
    let map = match node {
        Value::Object(map) => map,
        Value::Null => return Ok(()),
        other => return Err(kind_error("MappingNode", other)),
    };
    let mut was_created = false;
    if !map.contains_key(head.as_str()) {
        if !creating {
            return Ok(());
        }
        map.insert(head.clone(), part_kind(rest.first(), create));
        was_created = true;
    }
    let child = map
        .get_mut(head.as_str())
        .expect("present or just inserted");
    steps.push(Step::Key(head.clone()));
    let r = matcher(child, rest, create, steps, was_created, out);
    steps.pop();
    r
}

/// The node at `steps`.
pub fn at_mut<'a>(root: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    steps.iter().try_fold(root, |cur, step| match (step, cur) {
        (Step::Key(k), Value::Object(m)) => m.get_mut(k),
        (Step::Index(i), Value::Array(items)) => items.get_mut(*i),
        _ => None,
    })
}

/// Reads text as an untyped YAML scalar is read: booleans, null, integers and floats, else a string.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    let numeric = text.trim_start_matches(['-', '+']);
    if numeric.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && numeric.chars().any(|c| c.is_ascii_digit())
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn s(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn split_table() {
        assert_eq!(
            split("spec.template.spec"),
            s(&["spec", "template", "spec"])
        );
        assert_eq!(split("data.my\\.key"), s(&["data", "my.key"]));
        assert_eq!(split("a.[name=x.y].b"), s(&["a", "[name=x.y]", "b"]));
        assert_eq!(split("a.[b.c].d"), s(&["a", "b.c", "d"]));
        assert_eq!(
            split_var_path("spec.ports[0].port"),
            s(&["spec", "ports", "0", "port"])
        );
    }

    #[test]
    fn lookup_table() {
        let doc = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}], "args": ["--f", "-v"]}});
        let get = |p: &str| lookup(&doc, &split(p)).expect("ok").cloned();
        assert_eq!(get("spec.containers.[name=b].image"), Some(json!("y")));
        assert_eq!(get("spec.containers.0.name"), Some(json!("a")));
        assert_eq!(get("spec.containers.-.name"), Some(json!("b")));
        assert_eq!(get("spec.args.[=-v]"), Some(json!("-v")));
        assert_eq!(get("spec.missing.x"), None);
        assert!(lookup(&doc, &split("spec.containers.x")).is_err());
        assert!(lookup(&doc, &split("spec.containers.*")).is_err());
    }

    #[test]
    fn find_all_matches_and_creates() {
        let mut doc =
            json!({"spec": {"containers": [{"name": "app", "image": "x"}, {"name": "sidecar"}]}});
        let found = find_all(
            &mut doc,
            &split("spec.containers.[name=a].image"),
            Create::Nothing,
        )
        .expect("ok");
        assert_eq!(
            found.len(),
            1,
            "unanchored: 'a' matches 'app' only where image exists"
        );
        let found =
            find_all(&mut doc, &split("spec.containers.*.image"), Create::Scalar).expect("ok");
        assert_eq!(found.len(), 2);
        assert!(found[1].created);
        let found = find_all(
            &mut doc,
            &split("spec.volumes.[name=v].emptyDir"),
            Create::Map,
        )
        .expect("ok");
        assert_eq!(found.len(), 1);
        assert_eq!(
            doc["spec"]["volumes"],
            json!([{"name": "v", "emptyDir": {}}])
        );
        assert!(find_all(&mut doc, &split("spec.containers.5"), Create::Nothing).is_err());
        let found =
            find_all(&mut doc, &split("spec.args.[=^x$]"), Create::Scalar).expect("terminates");
        assert!(found.is_empty());
    }

    #[test]
    fn plain_scalars_resolve_like_yaml() {
        assert_eq!(resolve_plain("3"), json!(3));
        assert_eq!(resolve_plain("true"), json!(true));
        assert_eq!(resolve_plain("1.5"), json!(1.5));
        assert_eq!(resolve_plain("v1.2"), json!("v1.2"));
        assert_eq!(resolve_plain(""), Value::Null);
    }
}
