//! Strategic merge patch, as kustomize v5.6 applies it (kyaml's `merge2` over its `walk` package).
//!
//! The patch is walked together with the target: maps merge field by field (a `null` in the patch
//! removes the field), scalars take the patch's value, and lists either merge element by element —
//! when the embedded Kubernetes v1.21.2 schema ([`crate::openapi`]) gives the list a `merge`
//! strategy — or are replaced whole. Lists of kinds the schema does not know are always replaced.
//! The `$patch: replace|delete|merge` directive is honoured on maps and lists; kustomize ignores
//! `$setElementOrder`, `$retainKeys` and `$deleteFromPrimitiveList`, and so does this port, which
//! leaves such keys in the output exactly as kustomize does.
//!
//! kyaml works on shared, mutable YAML nodes, and several of its merge results depend on which
//! node a step returns (the target's own node, mutated in place, or the patch's). To reproduce
//! those results faithfully this module converts both documents into a small reference-counted
//! node tree, runs a line-by-line port of the walker over it, and converts the result back.

use std::cell::RefCell;
use std::rc::Rc;

use capstan_core::{Map, Value};

use std::sync::Arc;

use crate::openapi::{CustomSchema, Schema};

/// A strategic merge that kustomize would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SmpError {
    /// kustomize's wording, including the field path where it has one.
    pub message: String,
}

fn err(message: impl Into<String>) -> SmpError {
    SmpError {
        message: message.into(),
    }
}

/// Applies `patch` to `target` with kustomize's strategic-merge semantics. Returns `None` when the
/// patch deletes the whole object (`$patch: delete` at the top).
pub fn merge(patch: &Value, target: &Value) -> Result<Option<Value>, SmpError> {
    merge_with(patch, target, None)
}

/// [`merge`] with a kustomization's custom OpenAPI schema in force instead of the built-in one.
pub fn merge_with(
    patch: &Value,
    target: &Value,
    custom: Option<&Arc<CustomSchema>>,
) -> Result<Option<Value>, SmpError> {
    let dest = Some(to_node(target));
    let origin = Some(to_node(patch));
    let mut cx = Cx {
        path: Vec::new(),
        custom: custom.cloned(),
    };
    let result = walk(None, [dest, origin], &mut cx)?;
    Ok(result.map(|n| to_value(&n)))
}

/// What the walk carries along: the field path (for messages) and the schema in force.
struct Cx {
    path: Vec<String>,
    custom: Option<Arc<CustomSchema>>,
}

// --- the node tree --------------------------------------------------------------------------------

type N = Rc<RefCell<Node>>;

#[derive(Debug, Clone)]
enum Node {
    Map(Vec<(String, N)>),
    Seq(Vec<N>),
    Scalar(Value),
    /// A null; `true` when kyaml marks it to be kept (a persistent null).
    Null(bool),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    Seq,
    Scalar,
}

fn new(node: Node) -> N {
    Rc::new(RefCell::new(node))
}

fn to_node(value: &Value) -> N {
    new(match value {
        Value::Null => Node::Null(false),
        Value::Array(items) => Node::Seq(items.iter().map(to_node).collect()),
        Value::Object(map) => Node::Map(map.iter().map(|(k, v)| (k.clone(), to_node(v))).collect()),
        scalar => Node::Scalar(scalar.clone()),
    })
}

fn to_value(node: &N) -> Value {
    match &*node.borrow() {
        Node::Null(_) => Value::Null,
        Node::Scalar(v) => v.clone(),
        Node::Seq(items) => Value::Array(items.iter().map(to_value).collect()),
        Node::Map(fields) => {
            let mut map = Map::new();
            for (k, v) in fields {
                map.insert(k.clone(), to_value(v));
            }
            Value::Object(map)
        }
    }
}

fn kind(n: &N) -> Kind {
    match &*n.borrow() {
        Node::Map(_) => Kind::Map,
        Node::Seq(_) => Kind::Seq,
        Node::Scalar(_) | Node::Null(_) => Kind::Scalar,
    }
}

fn is_null(n: &N) -> bool {
    matches!(&*n.borrow(), Node::Null(_))
}

fn missing_or_null(n: Option<&N>) -> bool {
    n.is_none_or(is_null)
}

fn is_empty_map(n: Option<&N>) -> bool {
    match n {
        None => true,
        Some(n) => match &*n.borrow() {
            Node::Null(_) => true,
            Node::Map(f) => f.is_empty(),
            _ => false,
        },
    }
}

/// The node's text as yaml.v3 holds it in `Node.Value` ("" for maps and lists).
fn raw_value(n: &N) -> String {
    match &*n.borrow() {
        Node::Scalar(Value::String(s)) => s.clone(),
        Node::Scalar(v) => v.to_string(),
        Node::Null(_) => "null".to_owned(),
        _ => String::new(),
    }
}

/// kyaml's `GetValue`: "" for missing or null nodes.
fn get_value(n: Option<&N>) -> String {
    match n {
        Some(n) if !is_null(n) => raw_value(n),
        _ => String::new(),
    }
}

fn nil_or_empty(n: &N) -> bool {
    match &*n.borrow() {
        Node::Null(_) => true,
        Node::Map(f) => f.is_empty(),
        Node::Seq(s) => s.is_empty(),
        Node::Scalar(_) => false,
    }
}

fn field(n: &N, name: &str) -> Option<N> {
    match &*n.borrow() {
        Node::Map(fields) => fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone()),
        _ => None,
    }
}

fn field_names(n: &N) -> Vec<String> {
    match &*n.borrow() {
        Node::Map(fields) => fields.iter().map(|(k, _)| k.clone()).collect(),
        _ => Vec::new(),
    }
}

fn content(n: &N) -> Vec<N> {
    match &*n.borrow() {
        Node::Seq(items) => items.clone(),
        _ => Vec::new(),
    }
}

fn describe(n: &N) -> String {
    capstan_core::yaml::to_yaml(&to_value(n))
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Map => "MappingNode",
        Kind::Seq => "SequenceNode",
        Kind::Scalar => "ScalarNode",
    }
}

/// kyaml's `ErrorIfInvalid`: missing or null nodes pass.
fn check_kind(n: Option<&N>, want: Kind) -> Result<(), SmpError> {
    match n {
        Some(n) if !is_null(n) && kind(n) != want => Err(err(format!(
            "wrong node kind: expected {} but got {}: node contents:\n{}",
            kind_name(want),
            kind_name(kind(n)),
            describe(n)
        ))),
        _ => Ok(()),
    }
}

fn clear_field(n: &N, name: &str) {
    if let Node::Map(fields) = &mut *n.borrow_mut() {
        fields.retain(|(k, _)| k != name);
    }
}

/// kyaml's `FieldSetter` for a named field: a missing or (non-kept) null value clears the field,
/// an existing field is replaced in place, a new one is appended.
fn set_field(n: &N, name: &str, value: Option<N>) -> Result<(), SmpError> {
    let value = match value {
        Some(v) if !matches!(&*v.borrow(), Node::Null(false)) => v,
        _ => {
            check_kind(Some(n), Kind::Map)?;
            clear_field(n, name);
            return Ok(());
        }
    };
    check_kind(Some(n), Kind::Map)?;
    if let Node::Map(fields) = &mut *n.borrow_mut() {
        match fields.iter_mut().find(|(k, _)| k == name) {
            Some((_, slot)) => *slot = value,
            None => fields.push((name.to_owned(), value)),
        }
    }
    Ok(())
}

/// kyaml's `FieldMatcher{Name, StringValue}` applied to one list element.
fn field_matches(elem: &N, name: &str, value: &str) -> Result<bool, SmpError> {
    if is_null(elem) {
        return Ok(false);
    }
    if name.is_empty() {
        check_kind(Some(elem), Kind::Scalar)?;
        return Ok(get_value(Some(elem)) == value);
    }
    check_kind(Some(elem), Kind::Map)?;
    Ok(match field(elem, name) {
        None => false,
        Some(v) => value.is_empty() || raw_value(&v) == value,
    })
}

/// kyaml's `ElementSetter`: drops null and empty-map elements, replaces (or, without `element`,
/// removes) the elements matching `keys`/`values`, and appends `element` when none matched.
fn element_setter(
    list: &N,
    element: Option<N>,
    keys: &[String],
    values: &[String],
) -> Result<Option<N>, SmpError> {
    let default_keys = [String::new()];
    let keys = if keys.is_empty() {
        &default_keys[..]
    } else {
        keys
    };
    check_kind(Some(list), Kind::Seq)?;
    let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|v| !v.is_empty());
    let mut new_content = Vec::new();
    let mut matched = false;
    for elem in content(list) {
        if missing_or_null(Some(&elem)) || is_empty_map(Some(&elem)) {
            continue;
        }
        if kind(&elem) != Kind::Map && mapping_setter {
            new_content.push(elem);
            continue;
        }
        let mut found = true;
        let mut val = false;
        for (j, key) in keys.iter().enumerate() {
            if let Some(value) = values.get(j) {
                val = field_matches(&elem, key, value)?;
            }
            if !val {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                new_content.push(elem);
            }
            continue;
        }
        matched = true;
        if let Some(e) = &element {
            new_content.push(e.clone());
        }
    }
    *list.borrow_mut() = Node::Seq(new_content);
    let Some(element) = element.filter(|e| !is_null(e)) else {
        return Ok(None);
    };
    if !matched && let Node::Seq(items) = &mut *list.borrow_mut() {
        items.push(element.clone());
    }
    Ok(Some(element))
}

/// kyaml's `ElementMatcher` (`MatchElementList`), errors swallowed as `ElementList` does.
fn element_list(list: &N, keys: &[String], values: &[String]) -> Option<N> {
    if kind(list) != Kind::Seq {
        return None;
    }
    let items = content(list);
    if keys.is_empty() || keys[0].is_empty() {
        let want = values.first().map(String::as_str).unwrap_or("");
        return items.into_iter().find(|e| raw_value(e) == want);
    }
    if keys.len() != values.len() {
        return None;
    }
    items.into_iter().find(|elem| {
        kind(elem) == Kind::Map
            && keys
                .iter()
                .zip(values)
                .all(|(k, v)| field(elem, k).is_some_and(|f| raw_value(&f) == *v))
    })
}

// --- the walker -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Unknown,
    Replace,
    Delete,
    Merge,
}

const PATCH_KEY: &str = "$patch";

fn directive(patch: Option<&N>) -> Result<Directive, SmpError> {
    let Some(patch) = patch else {
        return Ok(Directive::Merge);
    };
    let parse = |v: &str| match v {
        "delete" => Some(Directive::Delete),
        "replace" => Some(Directive::Replace),
        "merge" => Some(Directive::Merge),
        _ => None,
    };
    match kind(patch) {
        Kind::Map => {
            let Some(node) = field(patch, PATCH_KEY) else {
                return Ok(Directive::Merge);
            };
            let v = raw_value(&node);
            let d = parse(&v).ok_or_else(|| err(format!("unknown patch strategy '{v}'")))?;
            clear_field(patch, PATCH_KEY);
            Ok(d)
        }
        Kind::Seq => {
            let holder = content(patch)
                .into_iter()
                .find(|e| kind(e) == Kind::Map && field(e, PATCH_KEY).is_some());
            let Some(holder) = holder else {
                return Ok(Directive::Merge);
            };
            if field_names(&holder).len() > 1 {
                return Ok(Directive::Merge);
            }
            let v = field(&holder, PATCH_KEY)
                .map(|n| raw_value(&n))
                .unwrap_or_default();
            let d = parse(&v).ok_or_else(|| err(format!("unknown patch strategy '{v}'")))?;
            element_setter(
                patch,
                None,
                &[PATCH_KEY.to_owned()],
                std::slice::from_ref(&v),
            )?;
            Ok(d)
        }
        Kind::Scalar => Err(err(format!(
            "no implemented strategic merge patch strategy for '{}' ('{}')",
            short_tag(patch),
            describe(patch).trim_end()
        ))),
    }
}

fn short_tag(n: &N) -> &'static str {
    match &*n.borrow() {
        Node::Null(_) => "!!null",
        Node::Scalar(Value::Bool(_)) => "!!bool",
        Node::Scalar(Value::Number(x)) if x.is_f64() => "!!float",
        Node::Scalar(Value::Number(_)) => "!!int",
        Node::Scalar(_) => "!!str",
        Node::Map(_) => "!!map",
        Node::Seq(_) => "!!seq",
    }
}

type Sources = [Option<N>; 2];

fn walk(schema: Option<Schema>, mut sources: Sources, cx: &mut Cx) -> Result<Option<N>, SmpError> {
    let schema = schema.or_else(|| {
        sources
            .iter()
            .flatten()
            .filter(|s| !is_null(s))
            .find_map(|s| {
                let av = field(s, "apiVersion").map(|n| raw_value(&n))?;
                let k = field(s, "kind").map(|n| raw_value(&n))?;
                Schema::for_type(cx.custom.as_ref(), &av, &k)
            })
    });
    let node_kind = sources.iter().flatten().find(|s| !is_null(s)).map(kind);
    match node_kind {
        Some(Kind::Map) | None => {
            for s in &sources {
                check_kind(s.as_ref(), Kind::Map)?;
            }
            walk_map(schema, &mut sources, cx)
        }
        Some(Kind::Seq) => {
            for s in &sources {
                check_kind(s.as_ref(), Kind::Seq)?;
            }
            match schema.as_ref().and_then(Schema::merge_keys) {
                Some(keys) => walk_associative(schema, keys, &mut sources, cx),
                None => Ok(sources[1].clone().or_else(|| sources[0].clone())),
            }
        }
        Some(Kind::Scalar) => {
            for s in &sources {
                check_kind(s.as_ref(), Kind::Scalar)?;
            }
            Ok(sources[1].clone().or_else(|| sources[0].clone()))
        }
    }
}

fn visit_map(sources: &Sources) -> Result<Option<N>, SmpError> {
    let [dest, origin] = sources;
    if missing_or_null(dest.as_ref()) {
        if directive(origin.as_ref()).unwrap_or(Directive::Unknown) == Directive::Delete {
            return Ok(None);
        }
        if let (None, Some(d)) = (origin, dest)
            && !raw_value(d).is_empty()
        {
            return Ok(Some(new(Node::Null(true))));
        }
        return Ok(origin.clone());
    }
    if origin.as_ref().is_some_and(is_null) {
        return Ok(None);
    }
    Ok(match directive(origin.as_ref())? {
        Directive::Delete => None,
        Directive::Replace => origin.clone(),
        _ => dest.clone(),
    })
}

fn walk_map(
    schema: Option<Schema>,
    sources: &mut Sources,
    cx: &mut Cx,
) -> Result<Option<N>, SmpError> {
    let Some(dest) = visit_map(sources)? else {
        return Ok(None);
    };
    sources[0] = Some(dest.clone());
    let mut names: Vec<String> = sources.iter().flatten().flat_map(field_names).collect();
    names.sort();
    names.dedup();
    for name in names {
        let child_schema = schema.as_ref().and_then(|s| s.field(&name));
        let values = [
            sources[0].as_ref().and_then(|s| field(s, &name)),
            sources[1].as_ref().and_then(|s| field(s, &name)),
        ];
        cx.path.push(name.clone());
        let val = walk(child_schema, values, cx)?;
        cx.path.pop();
        set_field(&dest, &name, val)?;
    }
    Ok(Some(dest))
}

fn visit_list(sources: &Sources) -> Result<Option<N>, SmpError> {
    let [dest, origin] = sources;
    if missing_or_null(dest.as_ref()) {
        return Ok(origin.clone());
    }
    if origin.as_ref().is_some_and(is_null) {
        return Ok(None);
    }
    Ok(match directive(origin.as_ref())? {
        Directive::Delete => None,
        Directive::Replace => origin.clone(),
        _ => dest.clone(),
    })
}

fn walk_associative(
    schema: Option<Schema>,
    keys: Vec<String>,
    sources: &mut Sources,
    cx: &mut Cx,
) -> Result<Option<N>, SmpError> {
    let Some(dest) = visit_list(sources)? else {
        return Ok(None);
    };
    sources[0] = Some(dest.clone());
    let values = element_values(sources, &keys);
    if !values.is_empty() || !keys.is_empty() {
        return set_elements(schema, values, &keys, dest, sources, cx);
    }
    set_elements(
        schema,
        element_primitive_values(sources),
        &[String::new()],
        dest,
        sources,
        cx,
    )
}

/// Each element's key values, the patch's elements first (kustomize merges with "prepend").
fn element_values(sources: &Sources, keys: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for src in [&sources[1], &sources[0]].into_iter().flatten() {
        if kind(src) != Kind::Seq && !is_null(src) {
            continue;
        }
        for elem in content(src) {
            let vals: Vec<String> = keys
                .iter()
                .map(|k| match field(&elem, k) {
                    Some(f) if !nil_or_empty(&f) => raw_value(&f),
                    _ => String::new(),
                })
                .collect();
            if vals.is_empty() || out.contains(&vals) {
                continue;
            }
            out.push(vals);
        }
    }
    out
}

fn element_primitive_values(sources: &Sources) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for src in [&sources[1], &sources[0]].into_iter().flatten() {
        for item in content(src) {
            let v = vec![raw_value(&item)];
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

fn validate_keys(
    values_list: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut valid: Vec<&String> = Vec::new();
    for vs in values_list {
        for (i, v) in vs.iter().enumerate() {
            if !v.is_empty() && i < keys.len() && !valid.contains(&&keys[i]) {
                valid.push(&keys[i]);
            }
        }
    }
    if valid.is_empty() {
        return (keys.to_vec(), values.to_vec());
    }
    let valid_keys: Vec<String> = keys.iter().filter(|k| valid.contains(k)).cloned().collect();
    let valid_values: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_empty() || keys.get(*i).is_some_and(|k| valid.contains(&k)))
        .map(|(_, v)| v.clone())
        .collect();
    (valid_keys, valid_values)
}

fn merge_values(values_list: &mut [Vec<String>]) {
    for i in 0..values_list.len() {
        let first = values_list[i].clone();
        for j in 0..values_list.len() {
            if let Some(merged) = match_values(&first, &values_list[j]) {
                values_list[i] = merged.clone();
                values_list[j] = merged;
            }
        }
    }
}

fn match_values(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut res = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            res.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if !x.is_empty() {
            res.push(x.clone());
        } else {
            res.push(y.clone());
        }
    }
    common.then_some(res)
}

fn scalar_from_text(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_owned()),
    }
}

fn set_elements(
    schema: Option<Schema>,
    mut values_list: Vec<Vec<String>>,
    keys: &[String],
    dest: N,
    sources: &Sources,
    cx: &mut Cx,
) -> Result<Option<N>, SmpError> {
    let items = new(Node::Seq(Vec::new()));
    let element_schema = schema.as_ref().and_then(Schema::elements);
    if keys.len() > 1 {
        merge_values(&mut values_list);
    }
    let mut valid_keys: Vec<String> = Vec::new();
    for values in &values_list {
        if values.is_empty() {
            continue;
        }
        let (vk, vv) = validate_keys(&values_list, values, keys);
        valid_keys = vk;
        let valid_values = vv;
        let (lk, lv) = validate_keys(
            std::slice::from_ref(&valid_values),
            &valid_values,
            &valid_keys,
        );
        let element_sources = [
            sources[0].as_ref().and_then(|s| element_list(s, &lk, &lv)),
            sources[1].as_ref().and_then(|s| element_list(s, &lk, &lv)),
        ];
        let val = walk(element_schema.clone(), element_sources, cx)?;
        let mut exit = false;
        for (i, key) in valid_keys.iter().enumerate() {
            let empty = missing_or_null(val.as_ref()) || is_empty_map(val.as_ref());
            if empty {
                element_setter(&dest, None, &valid_keys, &valid_values)?;
                exit = true;
            } else if let Some(v) = &val {
                let value = valid_values.get(i).cloned().unwrap_or_default();
                if key.is_empty() {
                    continue;
                }
                if field(v, key).is_none() && !value.is_empty() {
                    set_field(v, key, Some(new(Node::Scalar(scalar_from_text(&value)))))?;
                }
            }
        }
        if exit {
            continue;
        }
        element_setter(&items, val, &valid_keys, &valid_values)?;
    }
    if values_list.is_empty() {
        return Ok(Some(dest));
    }
    append_list_node(&items, &dest, &valid_keys)?;
    Ok(Some(items))
}

fn append_list_node(dst: &N, src: &N, keys: &[String]) -> Result<(), SmpError> {
    for elem in content(src) {
        if keys.first().is_none_or(String::is_empty) {
            element_setter(
                dst,
                Some(elem.clone()),
                &[String::new()],
                &[raw_value(&elem)],
            )?;
            continue;
        }
        let mut v = Vec::new();
        for key in keys {
            let value = if is_null(&elem) {
                None
            } else {
                check_kind(Some(&elem), Kind::Map)?;
                field(&elem, key)
            };
            match value {
                None => {
                    if let Node::Seq(items) = &mut *dst.borrow_mut() {
                        items.push(elem.clone());
                    }
                }
                Some(value) => v.push(raw_value(&value)),
            }
        }
        if keys.len() > 1 {
            element_setter(dst, None, keys, &v)?;
        }
        element_setter(dst, Some(elem), keys, &v)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "smp_tests.rs"]
mod tests;
