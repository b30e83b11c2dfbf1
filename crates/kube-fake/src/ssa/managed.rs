//! `metadata.managedFields` on the wire and the [`Managers`](super::Managers) map: the real
//! server's manager identity (manager, operation, apiVersion for updates, subresource), the
//! fields it never records (identity and bookkeeping metadata), and the order it lists entries in.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::fieldset::{PathElement, Set};
use super::{Managers, VersionedSet};

/// A decoded managedFields list: the sets by identity key, and each entry's time.
#[derive(Debug, Default, Clone)]
pub struct Decoded {
    pub managers: Managers,
    pub times: BTreeMap<String, String>,
}

/// The identity key of a manager, as the real server builds it (JSON of the entry without
/// fields and time; appliers without apiVersion).
pub fn manager_key(manager: &str, operation: &str, api_version: &str, subresource: &str) -> String {
    let mut m = Map::new();
    m.insert("manager".into(), json!(manager));
    m.insert("operation".into(), json!(operation));
    if operation != "Apply" {
        m.insert("apiVersion".into(), json!(api_version));
    }
    if !subresource.is_empty() {
        m.insert("subresource".into(), json!(subresource));
    }
    Value::Object(m).to_string()
}

/// The parts of a key: (manager, operation, subresource).
pub fn key_parts(key: &str) -> (String, String, String) {
    let v: Value = serde_json::from_str(key).unwrap_or(Value::Null);
    let s = |f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
    (s("manager"), s("operation"), s("subresource"))
}

/// How a conflicting manager is named in messages: `"kubectl"`, with `using apps/v1` for
/// updaters and `with subresource "status"` when it wrote one.
pub fn describe_manager(key: &str) -> String {
    let v: Value = serde_json::from_str(key).unwrap_or(Value::Null);
    let s = |f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
    let mut out = format!("{:?}", s("manager"));
    if !s("subresource").is_empty() {
        out = format!("{out} with subresource {:?}", s("subresource"));
    }
    if s("operation") == "Update" {
        out = format!("{out} using {}", s("apiVersion"));
    }
    out
}

/// Reads `metadata.managedFields`. An invalid entry is an error naming its index.
pub fn decode(entries: Option<&Value>) -> Result<Decoded, String> {
    let mut out = Decoded::default();
    let Some(entries) = entries else {
        return Ok(out);
    };
    let Some(list) = entries.as_array() else {
        return Err("metadata.managedFields: must be a list".into());
    };
    for (i, e) in list.iter().enumerate() {
        let s = |f: &str| e.get(f).and_then(Value::as_str).unwrap_or("").to_string();
        let operation = s("operation");
        if operation != "Apply" && operation != "Update" {
            return Err(format!(
                "metadata.managedFields[{i}].operation: Unsupported value: {operation:?}: supported values: \"Apply\", \"Update\""
            ));
        }
        let ft = s("fieldsType");
        if !ft.is_empty() && ft != "FieldsV1" {
            return Err(format!(
                "metadata.managedFields[{i}].fieldsType: Unsupported value: {ft:?}: supported values: \"FieldsV1\""
            ));
        }
        let set = match e.get("fieldsV1") {
            Some(v) => Set::from_fields_v1(v)
                .map_err(|m| format!("metadata.managedFields[{i}].fieldsV1: {m}"))?,
            None => Set::new(),
        };
        let key = manager_key(
            &s("manager"),
            &operation,
            &s("apiVersion"),
            &s("subresource"),
        );
        let api_version = s("apiVersion");
        match out.managers.get_mut(&key) {
            Some(existing) => existing.set = existing.set.union(&set),
            None => {
                out.managers.insert(
                    key.clone(),
                    VersionedSet {
                        set,
                        api_version,
                        applied: operation == "Apply",
                    },
                );
            }
        }
        if let Some(t) = e.get("time").and_then(Value::as_str) {
            out.times.insert(key, t.to_string());
        }
    }
    Ok(out)
}

/// Writes managers back as `metadata.managedFields` entries, in the real server's order
/// (Apply before Update, then by time, manager, apiVersion, subresource).
pub fn encode(d: &Decoded) -> Value {
    let mut entries: Vec<(String, String, String, String, String, Value)> = Vec::new();
    for (key, vs) in &d.managers {
        if vs.set.is_empty() {
            continue;
        }
        let (manager, operation, subresource) = key_parts(key);
        let time = d.times.get(key).cloned().unwrap_or_default();
        let mut e = Map::new();
        e.insert("manager".into(), json!(manager));
        e.insert("operation".into(), json!(operation));
        e.insert("apiVersion".into(), json!(vs.api_version));
        if !time.is_empty() {
            e.insert("time".into(), json!(time));
        }
        e.insert("fieldsType".into(), json!("FieldsV1"));
        e.insert("fieldsV1".into(), vs.set.to_fields_v1());
        if !subresource.is_empty() {
            e.insert("subresource".into(), json!(subresource));
        }
        entries.push((
            operation,
            time,
            manager,
            vs.api_version.clone(),
            subresource,
            Value::Object(e),
        ));
    }
    entries.sort_by(|a, b| (&a.0, &a.1, &a.2, &a.3, &a.4).cmp(&(&b.0, &b.1, &b.2, &b.3, &b.4)));
    Value::Array(entries.into_iter().map(|e| e.5).collect())
}

/// The fields the real server never records as owned: identity and bookkeeping metadata.
pub fn strip_meta(set: &Set) -> Set {
    let mut remove = Set::new();
    remove.insert(&[PathElement::Field("apiVersion".into())]);
    remove.insert(&[PathElement::Field("kind".into())]);
    remove.insert(&[PathElement::Field("metadata".into())]);
    for f in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        remove.insert(&[
            PathElement::Field("metadata".into()),
            PathElement::Field(f.into()),
        ]);
    }
    set.difference(&remove)
}

/// `set` without the subtree at top-level field `field` (status, for the main endpoint).
pub fn without_top(set: &Set, field: &str) -> Set {
    let mut s = set.clone();
    let pe = PathElement::Field(field.into());
    s.members.remove(&pe);
    s.children.remove(&pe);
    s
}

/// Only the subtree at top-level field `field` (for writes to a subresource).
pub fn only_top(set: &Set, field: &str) -> Set {
    let pe = PathElement::Field(field.into());
    let mut s = Set::new();
    if set.members.contains(&pe) {
        s.members.insert(pe.clone());
    }
    if let Some(c) = set.children.get(&pe) {
        s.children.insert(pe, c.clone());
    }
    s
}
