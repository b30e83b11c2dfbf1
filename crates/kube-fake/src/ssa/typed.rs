//! Walks over a JSON value and its merge schema: the field set a value declares, the merge of an
//! applied configuration into a live object, the comparison of two objects, and the removal of a
//! set of fields. Each follows structured-merge-diff's rules, including its corners: an empty map
//! or list is a leaf, a list-map item is always a member of the set, and removing every child of
//! a map leaves the map as `null`.

use serde_json::{Map, Value};

use super::fieldset::{Path, PathElement, Set};
use super::schema::{Atom, ListKind, ListType, TypeRef, key_default};

/// A value the schema cannot walk (a list-map item without its key, a duplicate key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct WalkError {
    pub path: String,
    pub message: String,
}

fn err(path: &[PathElement], message: impl Into<String>) -> WalkError {
    WalkError {
        path: super::fieldset::path_string(path),
        message: message.into(),
    }
}

/// The identity of a list item.
pub fn item_element(
    list: &ListType,
    index: usize,
    item: &Value,
    path: &[PathElement],
) -> Result<PathElement, WalkError> {
    match &list.kind {
        ListKind::Atomic => Ok(PathElement::Index(index)),
        ListKind::Set => match item {
            Value::Object(_) => Err(err(
                path,
                "associative list without keys has an element that's a map type",
            )),
            Value::Array(_) => Err(err(
                path,
                "not supported: associative list with lists as elements",
            )),
            Value::Null => Err(err(
                path,
                "associative list without keys has an element that's an explicit null",
            )),
            other => Ok(PathElement::value(other)),
        },
        ListKind::Map(keys) => {
            let Value::Object(map) = item else {
                return Err(err(
                    path,
                    format!(
                        "element {index}: associative list with keys may not have non-map elements"
                    ),
                ));
            };
            let mut fields = Vec::new();
            for k in keys {
                match map.get(k) {
                    Some(v) => fields.push((k.clone(), v.clone())),
                    None => match key_default(k) {
                        Some(d) => fields.push((k.clone(), d)),
                        None => {
                            return Err(err(
                                path,
                                format!(
                                    "element {index}: associative list with keys has an element that omits key field {k:?} (and doesn't have default value)"
                                ),
                            ));
                        }
                    },
                }
            }
            Ok(PathElement::key(&fields))
        }
    }
}

/// The set of fields `value` declares.
pub fn to_field_set(value: &Value, ty: &TypeRef) -> Result<Set, WalkError> {
    let mut set = Set::new();
    field_set_walk(value, ty, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn field_set_walk(
    v: &Value,
    ty: &TypeRef,
    path: &mut Path,
    set: &mut Set,
) -> Result<(), WalkError> {
    match ty.atom(Some(v)) {
        Atom::Scalar => set.insert(path),
        Atom::List(l) => {
            if l.kind == ListKind::Atomic {
                set.insert(path);
                return Ok(());
            }
            let Value::Array(items) = v else {
                return Ok(());
            };
            for (i, item) in items.iter().enumerate() {
                let pe = item_element(&l, i, item, path)?;
                path.push(pe);
                field_set_walk(item, &l.elem, path, set)?;
                set.insert(path);
                path.pop();
            }
        }
        Atom::Map(st) => {
            if st.atomic {
                set.insert(path);
                return Ok(());
            }
            let Value::Object(map) = v else { return Ok(()) };
            for (k, val) in map {
                path.push(PathElement::Field(k.clone()));
                field_set_walk(val, &st.field(k), path, set)?;
                let empty_map = matches!(val, Value::Object(m) if m.is_empty());
                if val.is_null() || empty_map || !st.fields.contains_key(k) {
                    set.insert(path);
                }
                path.pop();
            }
        }
    }
    Ok(())
}

/// What a merge walk does at a leaf and after a descended node.
trait MergeRule {
    fn leaf(
        &mut self,
        path: &[PathElement],
        lhs: Option<&Value>,
        rhs: Option<&Value>,
    ) -> Option<Value>;
    fn after_node(&mut self, _path: &[PathElement], _lhs: Option<&Value>, _rhs: Option<&Value>) {}
}

struct KeepRhs;

impl MergeRule for KeepRhs {
    fn leaf(
        &mut self,
        _: &[PathElement],
        lhs: Option<&Value>,
        rhs: Option<&Value>,
    ) -> Option<Value> {
        rhs.or(lhs).cloned()
    }
}

/// The merge of `rhs` (an applied configuration) into `lhs` (the live object).
pub fn merge(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: &TypeRef,
) -> Result<Option<Value>, WalkError> {
    merge_walk(lhs, rhs, ty, &mut Vec::new(), &mut KeepRhs)
}

fn same_kind(a: &Atom, b: &Atom) -> bool {
    matches!(
        (a, b),
        (Atom::Scalar, Atom::Scalar)
            | (Atom::List(_), Atom::List(_))
            | (Atom::Map(_), Atom::Map(_))
    )
}

fn merge_walk(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: &TypeRef,
    path: &mut Path,
    rule: &mut dyn MergeRule,
) -> Result<Option<Value>, WalkError> {
    // Sides of different kinds (an untyped field that was a map and is now a list) are walked
    // once per kind, as structured-merge-diff does; the output is the second walk's.
    if let (Some(l), Some(r)) = (lhs, rhs) {
        let (al, ar) = (ty.atom(Some(l)), ty.atom(Some(r)));
        if !same_kind(&al, &ar) {
            walk_atom(al, lhs, rhs, path, rule)?;
            return walk_atom(ar, lhs, rhs, path, rule);
        }
        return walk_atom(ar, lhs, rhs, path, rule);
    }
    walk_atom(ty.atom(rhs.or(lhs)), lhs, rhs, path, rule)
}

/// One walk with one atom. A side whose value is not of the atom's kind is not descended into
/// (but still counts as present for the leaf rule and the node hook).
fn walk_atom(
    atom: Atom,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &mut Path,
    rule: &mut dyn MergeRule,
) -> Result<Option<Value>, WalkError> {
    match atom {
        Atom::Scalar => Ok(rule.leaf(path, lhs, rhs)),
        Atom::List(l) => {
            let lhs_list = lhs.and_then(Value::as_array);
            let rhs_list = rhs.and_then(Value::as_array);
            let empty = |v: Option<&Vec<Value>>| v.is_none_or(Vec::is_empty);
            if l.kind == ListKind::Atomic || (empty(lhs_list) && empty(rhs_list)) {
                return Ok(rule.leaf(path, lhs, rhs));
            }
            let out = merge_list(&l, lhs_list, rhs_list, path, rule)?;
            rule.after_node(path, lhs, rhs);
            Ok(out)
        }
        Atom::Map(st) => {
            let lm = lhs.and_then(Value::as_object);
            let rm = rhs.and_then(Value::as_object);
            let empty = |v: Option<&Map<String, Value>>| v.is_none_or(Map::is_empty);
            if st.atomic || (empty(lm) && empty(rm)) {
                return Ok(rule.leaf(path, lhs, rhs));
            }
            let mut out = Map::new();
            let mut keys: Vec<&String> = Vec::new();
            if let Some(lm) = lm {
                keys.extend(lm.keys());
            }
            if let Some(rm) = rm {
                keys.extend(
                    rm.keys()
                        .filter(|k| lm.is_none_or(|lm| !lm.contains_key(*k))),
                );
            }
            for k in keys {
                path.push(PathElement::Field(k.clone()));
                let child = merge_walk(
                    lm.and_then(|m| m.get(k)),
                    rm.and_then(|m| m.get(k)),
                    &st.field(k),
                    path,
                    rule,
                )?;
                path.pop();
                if let Some(c) = child {
                    out.insert(k.clone(), c);
                }
            }
            rule.after_node(path, lhs, rhs);
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
    }
}

fn merge_list(
    l: &ListType,
    lhs: Option<&Vec<Value>>,
    rhs: Option<&Vec<Value>>,
    path: &mut Path,
    rule: &mut dyn MergeRule,
) -> Result<Option<Value>, WalkError> {
    let mut rhs_items: Vec<(PathElement, &Value)> = Vec::new();
    if let Some(rhs) = rhs {
        for (i, item) in rhs.iter().enumerate() {
            let pe = item_element(l, i, item, path).map_err(|e| WalkError {
                message: format!("rhs: {}", e.message),
                ..e
            })?;
            if rhs_items.iter().any(|(p, _)| *p == pe) {
                return Err(err(path, format!("rhs: duplicate entries for key {pe}")));
            }
            rhs_items.push((pe, item));
        }
    }
    let mut out = Vec::new();
    let mut seen_lhs: Vec<PathElement> = Vec::new();
    if let Some(lhs) = lhs {
        for (i, item) in lhs.iter().enumerate() {
            let pe = item_element(l, i, item, path).map_err(|e| WalkError {
                message: format!("lhs: {}", e.message),
                ..e
            })?;
            if seen_lhs.contains(&pe) {
                return Err(err(path, format!("lhs: duplicate entries for key {pe}")));
            }
            seen_lhs.push(pe.clone());
            let r = rhs_items.iter().find(|(p, _)| *p == pe).map(|(_, v)| *v);
            path.push(pe);
            let merged = merge_walk(Some(item), r, &l.elem, path, rule)?;
            path.pop();
            if let Some(m) = merged {
                out.push(m);
            }
        }
    }
    for (pe, item) in &rhs_items {
        if seen_lhs.contains(pe) {
            continue;
        }
        path.push(pe.clone());
        let merged = merge_walk(None, Some(item), &l.elem, path, rule)?;
        path.pop();
        if let Some(m) = merged {
            out.push(m);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// The fields added, removed and modified between two objects.
#[derive(Debug, Default, Clone)]
pub struct Comparison {
    pub added: Set,
    pub removed: Set,
    pub modified: Set,
}

impl Comparison {
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }
}

struct Compare<'a>(&'a mut Comparison);

impl MergeRule for Compare<'_> {
    fn leaf(
        &mut self,
        path: &[PathElement],
        lhs: Option<&Value>,
        rhs: Option<&Value>,
    ) -> Option<Value> {
        match (lhs, rhs) {
            (None, _) => self.0.added.insert(path),
            (_, None) => self.0.removed.insert(path),
            (Some(l), Some(r)) if !values_equal(l, r) => self.0.modified.insert(path),
            _ => {}
        }
        rhs.or(lhs).cloned()
    }

    fn after_node(&mut self, path: &[PathElement], lhs: Option<&Value>, rhs: Option<&Value>) {
        match (lhs, rhs) {
            (None, _) => self.0.added.insert(path),
            (_, None) => self.0.removed.insert(path),
            _ => {}
        }
    }
}

/// Equality as structured-merge-diff sees it: numbers by value, objects by content.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Compares two versions of an object.
pub fn compare(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: &TypeRef,
) -> Result<Comparison, WalkError> {
    let mut c = Comparison::default();
    if lhs.is_some() || rhs.is_some() {
        merge_walk(lhs, rhs, ty, &mut Vec::new(), &mut Compare(&mut c))?;
    }
    Ok(c)
}

/// `value` without the fields in `remove` (a removed list item goes; a map or list left empty by
/// the removal becomes `null`, as in structured-merge-diff).
pub fn remove_items(value: &Value, remove: &Set, ty: &TypeRef) -> Value {
    remove_walk(value, remove, ty, &mut Vec::new())
}

fn remove_walk(value: &Value, remove: &Set, ty: &TypeRef, path: &mut Path) -> Value {
    match ty.atom(Some(value)) {
        Atom::Scalar => value.clone(),
        Atom::List(l) => {
            let Value::Array(items) = value else {
                return Value::Null;
            };
            if items.is_empty() || l.kind == ListKind::Atomic {
                return Value::Null;
            }
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Ok(pe) = item_element(&l, i, item, path) else {
                    out.push(item.clone());
                    continue;
                };
                if remove.members.contains(&pe) {
                    continue;
                }
                match remove.children.get(&pe) {
                    Some(sub) if !sub.is_empty() => {
                        path.push(pe);
                        out.push(remove_walk(item, sub, &l.elem, path));
                        path.pop();
                    }
                    _ => out.push(item.clone()),
                }
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Array(out)
            }
        }
        Atom::Map(st) => {
            let Value::Object(map) = value else {
                return Value::Null;
            };
            if map.is_empty() || st.atomic {
                return Value::Null;
            }
            let mut out = Map::new();
            for (k, v) in map {
                let pe = PathElement::Field(k.clone());
                if remove.members.contains(&pe) {
                    continue;
                }
                match remove.children.get(&pe) {
                    Some(sub) if !sub.is_empty() => {
                        path.push(pe);
                        out.insert(k.clone(), remove_walk(v, sub, &st.field(k), path));
                        path.pop();
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Object(out)
            }
        }
    }
}

/// `set` with every named struct field that has children also made a member.
pub fn ensure_named_fields_are_members(set: &Set, ty: Option<&TypeRef>) -> Set {
    let atom = ty.map(|t| t.atom(None));
    let mut out = Set {
        members: set.members.clone(),
        children: Default::default(),
    };
    for (pe, child) in &set.children {
        let child_ty = match (pe, &atom) {
            (PathElement::Field(name), Some(Atom::Map(st))) => {
                if st.fields.contains_key(name) {
                    out.members.insert(pe.clone());
                }
                Some(st.field(name))
            }
            (PathElement::Key(_), Some(Atom::List(l))) => Some(l.elem.clone()),
            _ => None,
        };
        out.children.insert(
            pe.clone(),
            ensure_named_fields_are_members(child, child_ty.as_ref()),
        );
    }
    out
}

/// Paths of fields the schema does not declare (where it declares fields and keeps no others).
pub fn unknown_fields(value: &Value, ty: &TypeRef) -> Vec<Path> {
    let mut out = Vec::new();
    unknown_walk(value, ty, &mut Vec::new(), &mut out);
    out
}

fn unknown_walk(v: &Value, ty: &TypeRef, path: &mut Path, out: &mut Vec<Path>) {
    match (ty.atom(Some(v)), v) {
        (Atom::Map(st), Value::Object(map)) => {
            for (k, val) in map {
                path.push(PathElement::Field(k.clone()));
                if st.fields.contains_key(k) || st.extra.is_some() {
                    unknown_walk(val, &st.field(k), path, out);
                } else {
                    out.push(path.clone());
                }
                path.pop();
            }
        }
        (Atom::List(l), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let pe = item_element(&l, i, item, path).unwrap_or(PathElement::Index(i));
                path.push(pe);
                unknown_walk(item, &l.elem, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// `value` without the fields the schema does not declare (what decoding into a typed object,
/// or pruning a structural schema, drops).
pub fn prune_unknown(value: &mut Value, ty: &TypeRef) {
    match (ty.atom(Some(value)), value) {
        (Atom::Map(st), Value::Object(map)) => {
            if st.extra.is_none() {
                map.retain(|k, _| st.fields.contains_key(k));
            }
            for (k, val) in map.iter_mut() {
                prune_unknown(val, &st.field(k));
            }
        }
        (Atom::List(l), Value::Array(items)) => {
            for item in items.iter_mut() {
                prune_unknown(item, &l.elem);
            }
        }
        _ => {}
    }
}
