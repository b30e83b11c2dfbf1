//! Strategic merge patch with the results kustomize v5.6 gives.
//!
//! Designed here from kustomize's observable behaviour (every rule below is pinned by a golden
//! case in `tests/data/smp`, produced by `kubectl kustomize`). The patch is merged into the
//! target recursively over plain JSON values:
//!
//! - maps merge key by key; a `null` in the patch removes the key; scalars take the patch's value;
//!   a patch value of another node kind than the target's is an error;
//! - lists merge only when the embedded Kubernetes v1.21.2 schema ([`crate::openapi`]) gives them
//!   a `merge` strategy — by their merge keys, or by value for lists of scalars; every other list,
//!   and every list of a kind without schema (custom resources), is replaced by the patch's list
//!   as written;
//! - `$patch: delete | replace | merge` on maps, as list elements and as list markers; any other
//!   value is refused. `$setElementOrder`, `$retainKeys` and `$deleteFromPrimitiveList` keys have
//!   no meaning for kustomize and stay in the output like ordinary fields.
//!
//! A field the target's file wrote as `key:` with no value is dropped wherever the merge walks
//! ([`merge_marked`]); `key: null` stays.
//!
//! kustomize's element order and duplicate handling are reproduced as observed: merged and new
//! elements of a single-key list come first in patch order, followed by the target's remaining
//! elements; in a list matched by several key fields (ports with a `protocol` somewhere) new
//! elements come first and matched ones stay in place. Duplicate keys collapse to one element at
//! the first position holding the last value — also in merging lists the patch does not touch.
//! Elements lacking every merge key disturb the merge as they disturb kustomize's (see
//! `merge_lists`). A kustomization's custom OpenAPI schema, when in force, replaces the built-in
//! one for every lookup.

use std::sync::Arc;

use capstan_core::yaml::PathSeg;
use capstan_core::{Map, Value};

use crate::openapi::{CustomSchema, Schema};

/// A strategic merge that kustomize would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SmpError {
    /// kustomize's wording, including the offending node where it shows one.
    pub message: String,
}

const DIRECTIVE: &str = "$patch";

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
    let cx = Cx { custom };
    if let Value::Object(map) = patch {
        match directive(map)? {
            Some(Directive::Delete) => return Ok(None),
            // At the top (as for list elements) kustomize keeps the target as it is.
            Some(Directive::Replace) => return Ok(Some(target.clone())),
            Some(Directive::Merge) | None => {}
        }
    }
    Ok(field(cx, patch, Some(target), None)?.into_value())
}

/// [`merge_with`] for a target whose file wrote the fields at `empty_nulls` as `key:` with no
/// value: kustomize's merge walks every field of the target and drops such a null where it
/// reaches it (maps, and the elements of merging lists), while it keeps `key: null` as written.
pub fn merge_marked(
    patch: &Value,
    target: &Value,
    custom: Option<&Arc<CustomSchema>>,
    empty_nulls: &[Vec<PathSeg>],
) -> Result<Option<Value>, SmpError> {
    if empty_nulls.is_empty() {
        return merge_with(patch, target, custom);
    }
    let mut marked = target.clone();
    for path in empty_nulls {
        if let Some(v) = at_path(&mut marked, path)
            && v.is_null()
        {
            *v = Value::String(EMPTY_NULL.to_owned());
        }
    }
    let mut merged = merge_with(patch, &marked, custom)?;
    if let Some(m) = merged.as_mut() {
        unmark(m);
    }
    Ok(merged)
}

/// Stands for an empty null during one merge; never seen outside [`merge_marked`].
const EMPTY_NULL: &str = "\u{0}capstan:empty-null\u{0}";

fn is_empty_null(v: &Value) -> bool {
    v.as_str() == Some(EMPTY_NULL)
}

fn at_path<'v>(value: &'v mut Value, path: &[PathSeg]) -> Option<&'v mut Value> {
    let mut here = value;
    for seg in path {
        here = match (seg, here) {
            (PathSeg::Key(k), Value::Object(map)) => map.get_mut(k.as_str())?,
            (PathSeg::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(here)
}

fn unmark(value: &mut Value) {
    match value {
        v if is_empty_null(v) => *v = Value::Null,
        Value::Object(map) => map.values_mut().for_each(unmark),
        Value::Array(items) => items.iter_mut().for_each(unmark),
        _ => {}
    }
}

/// The schema in force for one merge.
#[derive(Clone, Copy)]
struct Cx<'a> {
    custom: Option<&'a Arc<CustomSchema>>,
}

/// A node's own schema when it names its type: where the enclosing schema says nothing (at the
/// top, or inside an unknown kind), an object with `apiVersion` and `kind` is looked up by them.
fn schema_of(cx: Cx<'_>, value: Option<&Value>) -> Option<Schema> {
    let value = value?;
    let api_version = value.get("apiVersion")?.as_str()?;
    let kind = value.get("kind")?.as_str()?;
    Schema::for_type(cx.custom, api_version, kind)
}

/// What becomes of one field after merging.
enum Outcome {
    Keep(Value),
    Remove,
}

impl Outcome {
    fn into_value(self) -> Option<Value> {
        match self {
            Outcome::Keep(v) => Some(v),
            Outcome::Remove => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Delete,
    Replace,
    Merge,
}

fn directive(map: &Map) -> Result<Option<Directive>, SmpError> {
    match map.get(DIRECTIVE) {
        None => Ok(None),
        Some(Value::String(s)) if s == "delete" => Ok(Some(Directive::Delete)),
        Some(Value::String(s)) if s == "replace" => Ok(Some(Directive::Replace)),
        Some(Value::String(s)) if s == "merge" => Ok(Some(Directive::Merge)),
        Some(other) => Err(SmpError {
            message: format!("unknown patch strategy '{}'", scalar_text(other)),
        }),
    }
}

fn without_directive(map: &Map) -> Map {
    let mut out = map.clone();
    out.shift_remove(DIRECTIVE);
    out
}

fn node_kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "MappingNode",
        Value::Array(_) => "SequenceNode",
        _ => "ScalarNode",
    }
}

fn wrong_kind(target: &Value, patch: &Value) -> SmpError {
    SmpError {
        message: format!(
            "wrong node kind: expected {} but got {}: node contents:\n{}",
            node_kind(target),
            node_kind(patch),
            capstan_core::yaml::to_yaml(patch)
        ),
    }
}

/// The text a scalar compares by: kustomize matches keys and primitive elements as YAML text.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Merges one patch value into the target's value at the same place (`None` when absent).
fn field(
    cx: Cx<'_>,
    patch: &Value,
    target: Option<&Value>,
    shape: Option<&Schema>,
) -> Result<Outcome, SmpError> {
    let target = target.filter(|t| !t.is_null() && !is_empty_null(t));
    let own;
    let shape = match shape {
        Some(s) => Some(s),
        None => {
            own = schema_of(cx, target).or_else(|| schema_of(cx, Some(patch)));
            own.as_ref()
        }
    };
    match (patch, target) {
        (Value::Null, _) => Ok(Outcome::Remove),
        (_, None) => fresh(cx, patch, shape),
        (Value::Object(p), Some(Value::Object(t))) => match directive(p)? {
            Some(Directive::Delete) => Ok(Outcome::Remove),
            Some(Directive::Replace) => fresh_map(cx, &without_directive(p), shape),
            Some(Directive::Merge) | None => merge_maps(cx, p, t, shape).map(Outcome::Keep),
        },
        (Value::Array(p), Some(Value::Array(t))) => merge_lists(cx, p, t, shape),
        (Value::Object(_) | Value::Array(_), Some(t)) => Err(wrong_kind(t, patch)),
        (_, Some(t)) if t.is_object() || t.is_array() => Err(wrong_kind(t, patch)),
        _ => Ok(Outcome::Keep(patch.clone())),
    }
}

fn merge_maps(
    cx: Cx<'_>,
    patch: &Map,
    target: &Map,
    shape: Option<&Schema>,
) -> Result<Value, SmpError> {
    let mut out: Map = target
        .iter()
        .filter(|(_, v)| !is_empty_null(v))
        .map(|(k, v)| {
            (
                k.clone(),
                normalize(cx, v, shape.and_then(|s| s.field(k)).as_ref()),
            )
        })
        .collect();
    for (key, value) in patch {
        if key == DIRECTIVE {
            continue;
        }
        let sub = shape.and_then(|s| s.field(key));
        let sub = sub.as_ref();
        match field(cx, value, target.get(key), sub)? {
            Outcome::Keep(v) => {
                out.insert(key.clone(), v);
            }
            Outcome::Remove => {
                out.shift_remove(key);
            }
        }
    }
    Ok(Value::Object(out))
}

/// A patch value where the target has nothing: directives are applied and nulls dropped.
fn fresh(cx: Cx<'_>, patch: &Value, shape: Option<&Schema>) -> Result<Outcome, SmpError> {
    let own;
    let shape = match shape {
        Some(s) => Some(s),
        None => {
            own = schema_of(cx, Some(patch));
            own.as_ref()
        }
    };
    match patch {
        Value::Null => Ok(Outcome::Remove),
        Value::Object(p) => match directive(p)? {
            Some(Directive::Delete) => Ok(Outcome::Remove),
            _ => fresh_map(cx, &without_directive(p), shape),
        },
        Value::Array(p) => fresh_list(cx, p, shape),
        scalar => Ok(Outcome::Keep(scalar.clone())),
    }
}

fn fresh_map(cx: Cx<'_>, patch: &Map, shape: Option<&Schema>) -> Result<Outcome, SmpError> {
    merge_maps(cx, patch, &Map::new(), shape).map(Outcome::Keep)
}

fn fresh_list(cx: Cx<'_>, patch: &[Value], shape: Option<&Schema>) -> Result<Outcome, SmpError> {
    let Some(keys) = list_merge(shape) else {
        return Ok(Outcome::Keep(Value::Array(patch.to_vec())));
    };
    if keys.is_empty() {
        let scalars = patch.iter().filter(|v| !v.is_object() && !v.is_null());
        return Ok(Outcome::Keep(Value::Array(dedup_scalars(scalars))));
    }
    let elements = shape.and_then(Schema::elements);
    let elem_shape = elements.as_ref();
    let mut out = Vec::new();
    for element in patch {
        if element_key(element, &keys).is_none() {
            out.push(element.clone());
        } else if let Outcome::Keep(v) = fresh(cx, element, elem_shape)? {
            out.push(v);
        }
    }
    Ok(Outcome::Keep(Value::Array(collapse_duplicates(out, &keys))))
}

/// The merge metadata of a list, when its schema says it merges.
fn list_merge(shape: Option<&Schema>) -> Option<Vec<String>> {
    shape.and_then(Schema::merge_keys)
}

/// The list-level marker: the first element carrying `$patch`, when it has no merge key.
fn list_marker(patch: &[Value], keys: &[String]) -> Result<Option<(usize, Directive)>, SmpError> {
    let first = patch.iter().enumerate().find_map(|(i, v)| match v {
        Value::Object(m) if m.contains_key(DIRECTIVE) => Some((i, m)),
        _ => None,
    });
    let Some((index, map)) = first else {
        return Ok(None);
    };
    if !keys.is_empty()
        && keys
            .iter()
            .any(|k| map.get(k.as_str()).is_some_and(|v| !v.is_null()))
    {
        return Ok(None);
    }
    Ok(directive(map)?.map(|d| (index, d)))
}

fn merge_lists(
    cx: Cx<'_>,
    patch: &[Value],
    target: &[Value],
    shape: Option<&Schema>,
) -> Result<Outcome, SmpError> {
    let Some(keys) = list_merge(shape) else {
        return Ok(Outcome::Keep(Value::Array(patch.to_vec())));
    };
    let keys = keys.as_slice();
    let marker = list_marker(patch, keys)?;
    if let Some((_, Directive::Delete)) = marker {
        return Ok(Outcome::Remove);
    }
    if keys.is_empty() {
        return merge_scalars(patch, target, marker);
    }
    let elements = shape.and_then(Schema::elements);
    let elem_shape = elements.as_ref();
    if let Some((index, Directive::Replace)) = marker {
        // Everything but the marker, as written; keyed elements lose their directives.
        let mut out = Vec::new();
        for (i, element) in patch.iter().enumerate() {
            if i == index {
                continue;
            }
            if element_key(element, keys).is_none() {
                out.push(element.clone());
            } else if let Outcome::Keep(v) = fresh(cx, element, elem_shape)? {
                out.push(v);
            }
        }
        return Ok(Outcome::Keep(Value::Array(collapse_duplicates(out, keys))));
    }
    let is_merge_marker = |v: &Value| {
        v.as_object()
            .is_some_and(|m| m.get(DIRECTIVE).and_then(Value::as_str) == Some("merge"))
    };
    let keyless = patch
        .iter()
        .any(|v| element_key(v, keys).is_none() && !is_merge_marker(v));
    // Elements without merge key upset kustomize's merge: a target holding some ends up with
    // just the last of them; otherwise a patch holding some leaves only the patch's keyed
    // elements (the first of each key), not merged with the target's.
    if let Some(last) = target.iter().rev().find(|t| element_key(t, keys).is_none()) {
        return Ok(Outcome::Keep(Value::Array(vec![last.clone()])));
    }
    if keyless {
        let mut out = Vec::new();
        for (_, element) in distinct_patch_elements(patch, keys) {
            if let Outcome::Keep(v) = fresh(cx, element, elem_shape)? {
                out.push(v);
            }
        }
        return Ok(Outcome::Keep(Value::Array(out)));
    }
    for element in patch {
        if let Value::Object(m) = element {
            directive(m)?;
        }
    }
    // kustomize matches by the key fields some element actually sets: ports without any
    // `protocol` merge as a single-key list, and order as one.
    let used: Vec<&String> = keys
        .iter()
        .filter(|k| {
            patch
                .iter()
                .chain(target)
                .any(|e| e.get(k.as_str()).is_some_and(|v| !v.is_null()))
        })
        .collect();
    let merged = if used.len() <= 1 {
        merge_by_single_key(cx, patch, target, keys, elem_shape)?
    } else {
        merge_by_key_tuple(cx, patch, target, keys, elem_shape)?
    };
    Ok(Outcome::Keep(Value::Array(merged)))
}

/// The merge-key values of a list element, or `None` when it has none of them.
fn element_key(element: &Value, keys: &[String]) -> Option<Vec<String>> {
    let map = element.as_object()?;
    let values: Vec<Option<&Value>> = keys
        .iter()
        .map(|k| map.get(k.as_str()).filter(|v| !v.is_null()))
        .collect();
    if values.iter().all(Option::is_none) {
        return None;
    }
    Some(
        values
            .into_iter()
            .map(|v| v.map(scalar_text).unwrap_or_default())
            .collect(),
    )
}

/// Patch elements with distinct keys, each the first one written with that key.
fn distinct_patch_elements<'a>(
    patch: &'a [Value],
    keys: &[String],
) -> Vec<(Vec<String>, &'a Value)> {
    let mut out: Vec<(Vec<String>, &Value)> = Vec::new();
    for element in patch {
        if let Some(key) = element_key(element, keys)
            && !out.iter().any(|(k, _)| *k == key)
        {
            out.push((key, element));
        }
    }
    out
}

fn element_directive(element: &Value) -> Result<Option<Directive>, SmpError> {
    match element {
        Value::Object(m) => directive(m),
        _ => Ok(None),
    }
}

/// Single merge key: the patch's elements first, in patch order (merged with the target's element
/// of the same key), then the target's other elements in their order.
fn merge_by_single_key(
    cx: Cx<'_>,
    patch: &[Value],
    target: &[Value],
    keys: &[String],
    elem_shape: Option<&Schema>,
) -> Result<Vec<Value>, SmpError> {
    let mut rest: Vec<Option<Value>> = target.iter().cloned().map(Some).collect();
    let mut front = Vec::new();
    for (key, element) in distinct_patch_elements(patch, keys) {
        let found = rest.iter().position(|t| {
            t.as_ref()
                .is_some_and(|t| element_key(t, keys).as_ref() == Some(&key))
        });
        let existing = found.and_then(|i| rest[i].take());
        let merged = match (element_directive(element)?, existing) {
            (Some(Directive::Delete), _) => None,
            (Some(Directive::Replace), Some(existing)) => {
                Some(normalize(cx, &existing, elem_shape))
            }
            (_, existing) => field(cx, element, existing.as_ref(), elem_shape)?.into_value(),
        };
        front.extend(merged);
    }
    front.extend(rest.iter().flatten().map(|t| normalize(cx, t, elem_shape)));
    Ok(collapse_duplicates(front, keys))
}

/// Several merge keys (ports): new elements first in patch order, matched elements merged where
/// they stand. A patch element that matches a target element only where one of them lacks a key
/// field (say, `protocol`) is neither merged nor added — as kustomize does.
fn merge_by_key_tuple(
    cx: Cx<'_>,
    patch: &[Value],
    target: &[Value],
    keys: &[String],
    elem_shape: Option<&Schema>,
) -> Result<Vec<Value>, SmpError> {
    let mut kept: Vec<Option<Value>> = target.iter().cloned().map(Some).collect();
    let mut touched = vec![false; target.len()];
    let target_keys: Vec<Option<Vec<String>>> =
        target.iter().map(|t| element_key(t, keys)).collect();
    let mut front = Vec::new();
    for (key, element) in distinct_patch_elements(patch, keys) {
        let exact = target_keys.iter().position(|k| k.as_ref() == Some(&key));
        let directive = element_directive(element)?;
        match exact {
            Some(i) => {
                touched[i] = true;
                kept[i] = match directive {
                    Some(Directive::Delete) => None,
                    Some(Directive::Replace) => kept[i].take(),
                    _ => match kept[i].take() {
                        Some(existing) => {
                            field(cx, element, Some(&existing), elem_shape)?.into_value()
                        }
                        None => None,
                    },
                };
            }
            None => {
                let loosely = target
                    .iter()
                    .zip(&target_keys)
                    .any(|(t, k)| k.is_some() && compatible(t, element, keys));
                if !loosely
                    && directive != Some(Directive::Delete)
                    && let Outcome::Keep(v) = fresh(cx, element, elem_shape)?
                {
                    front.push(v);
                }
            }
        }
    }
    front.extend(
        kept.into_iter()
            .zip(touched)
            .filter_map(|(v, touched)| match v {
                Some(v) if !touched => Some(normalize(cx, &v, elem_shape)),
                other => other,
            }),
    );
    Ok(collapse_duplicates(front, keys))
}

/// Whether two elements agree on every key field both of them set.
fn compatible(target: &Value, patch: &Value, keys: &[String]) -> bool {
    keys.iter().all(|k| {
        match (
            target.get(k.as_str()).filter(|v| !v.is_null()),
            patch.get(k.as_str()).filter(|v| !v.is_null()),
        ) {
            (Some(a), Some(b)) => scalar_text(a) == scalar_text(b),
            _ => true,
        }
    })
}

/// A target value the patch does not touch still passes through the merge: its merging lists
/// lose duplicate elements as they would in a merge.
fn normalize(cx: Cx<'_>, value: &Value, shape: Option<&Schema>) -> Value {
    let own;
    let shape = match shape {
        Some(s) => Some(s),
        None => {
            own = schema_of(cx, Some(value));
            own.as_ref()
        }
    };
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !is_empty_null(v))
                .map(|(k, v)| {
                    (
                        k.clone(),
                        normalize(cx, v, shape.and_then(|s| s.field(k)).as_ref()),
                    )
                })
                .collect(),
        ),
        Value::Array(items) => match list_merge(shape) {
            Some(keys) if keys.is_empty() => Value::Array(dedup_scalars(items.iter())),
            Some(keys) => {
                let elements = shape.and_then(Schema::elements);
                let elem_shape = elements.as_ref();
                let items = items.iter().map(|e| normalize(cx, e, elem_shape)).collect();
                Value::Array(collapse_duplicates(items, &keys))
            }
            None => value.clone(),
        },
        scalar => scalar.clone(),
    }
}

/// Elements sharing a key collapse into one, at the first one's position, holding the last value.
fn collapse_duplicates(elements: Vec<Value>, keys: &[String]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(elements.len());
    let mut seen: Vec<(Vec<String>, usize)> = Vec::new();
    for element in elements {
        match element_key(&element, keys) {
            Some(key) => match seen.iter().find(|(k, _)| *k == key) {
                Some(&(_, at)) => out[at] = element,
                None => {
                    seen.push((key, out.len()));
                    out.push(element);
                }
            },
            None => out.push(element),
        }
    }
    out
}

fn dedup_scalars<'a>(values: impl Iterator<Item = &'a Value>) -> Vec<Value> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for v in values {
        let text = match v {
            Value::Object(_) | Value::Array(_) => v.to_string(),
            other => scalar_text(other),
        };
        if !seen.contains(&text) {
            seen.push(text);
            out.push(v.clone());
        }
    }
    out
}

/// Lists of scalars merge by value: the patch's values first, then the target's others.
fn merge_scalars(
    patch: &[Value],
    target: &[Value],
    marker: Option<(usize, Directive)>,
) -> Result<Outcome, SmpError> {
    for element in patch {
        if let Value::Object(m) = element
            && directive(m)?.is_none()
        {
            return Err(wrong_kind(&Value::Null, element));
        }
    }
    let scalars = patch.iter().filter(|v| !v.is_object() && !v.is_null());
    if let Some((_, Directive::Replace)) = marker {
        return Ok(Outcome::Keep(Value::Array(dedup_scalars(scalars))));
    }
    Ok(Outcome::Keep(Value::Array(dedup_scalars(
        scalars.chain(target.iter()),
    ))))
}

#[cfg(test)]
#[path = "smp_tests.rs"]
mod tests;
