//! The fields a manager owns (`metadata.managedFields[].fieldsV1`) and the comparisons the
//! steady-state check rests on:
//! - [`subset`]: every field the desired object declares has the same value live;
//! - [`covered`]: every field the manager owns live is still declared, so an apply would remove
//!   nothing;
//! - [`cleanup_patch`]: the JSON patch that folds kubectl's (and the other listed managers')
//!   entries into capstan's own, as Flux's `PatchReplaceFieldsManagers` does, so the next apply
//!   prunes what Git no longer declares.
//!
//! `fieldsV1` is a tree whose keys are `f:<field>`, `k:<json of list-map keys>`, `v:<json value>`,
//! `i:<index>` and `.` (the node itself).

use serde_json::{Map, Value, json};

/// A managedFields entry: manager name and operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerRef<'a> {
    pub manager: &'a str,
    pub operation: &'a str,
}

/// The managers whose fields Flux folds into its own before applying.
pub const CLEANUP_MANAGERS: &[ManagerRef<'static>] = &[
    ManagerRef {
        manager: "kubectl",
        operation: "Apply",
    },
    ManagerRef {
        manager: "kubectl",
        operation: "Update",
    },
    ManagerRef {
        manager: "kubectl-client-side-apply",
        operation: "Update",
    },
    ManagerRef {
        manager: "kubectl-edit",
        operation: "Update",
    },
    ManagerRef {
        manager: "before-first-apply",
        operation: "Update",
    },
    ManagerRef {
        manager: "kustomize-controller",
        operation: "Update",
    },
];

/// Annotations and labels of other tools removed by the cleanup.
pub const CLEANUP_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kustomize.toolkit.fluxcd.io/checksum",
    "fluxcd.io/sync-checksum",
];
pub const CLEANUP_LABELS: &[&str] = &["fluxcd.io/sync-gc-mark"];

fn entries(live: &Value) -> &[Value] {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn is_entry(entry: &Value, manager: &str, operation: &str) -> bool {
    entry.get("manager").and_then(Value::as_str) == Some(manager)
        && entry.get("operation").and_then(Value::as_str) == Some(operation)
        && entry
            .get("subresource")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
}

/// The fieldsV1 of `manager`'s Apply entry on the main resource.
pub fn applied_fields<'a>(live: &'a Value, manager: &str) -> Option<&'a Value> {
    entries(live)
        .iter()
        .find(|e| is_entry(e, manager, "Apply"))
        .and_then(|e| e.get("fieldsV1"))
}

/// True when every value `desired` declares is found, equal, in `live` (nulls in `desired` match
/// anything). Lists compare element by element and must have the same length.
pub fn subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Null, _) => true,
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, dv)| dv.is_null() || l.get(k).is_some_and(|lv| subset(dv, lv))),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| subset(dv, lv))
        }
        (Value::Number(d), Value::Number(l)) => d == l || d.as_f64() == l.as_f64(),
        (d, l) => d == l,
    }
}

/// Every path in `fields` (a fieldsV1 tree) exists in `desired`.
pub fn covered(fields: &Value, desired: &Value) -> bool {
    let Some(children) = fields.as_object() else {
        return true;
    };
    children.iter().all(|(key, sub)| {
        if key == "." {
            return true;
        }
        match child(desired, key) {
            Some(next) => covered(sub, next),
            None => false,
        }
    })
}

/// The JSON pointers of the fields in `fields` (a fieldsV1 tree over `live`) that `desired` does
/// not declare: what an apply would remove. Only fields present in `live` are named.
pub fn uncovered(fields: &Value, desired: &Value, live: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_uncovered(fields, Some(desired), live, String::new(), &mut out);
    out
}

fn walk_uncovered(
    fields: &Value,
    desired: Option<&Value>,
    live: &Value,
    pointer: String,
    out: &mut Vec<String>,
) {
    let Some(children) = fields.as_object() else {
        return;
    };
    for (key, sub) in children {
        if key == "." {
            continue;
        }
        let Some(found) = child(live, key) else {
            continue;
        };
        let step = match key.strip_prefix("f:") {
            Some(field) => field.replace('~', "~0").replace('/', "~1"),
            None => match live
                .as_array()
                .and_then(|items| items.iter().position(|i| std::ptr::eq(i, found)))
            {
                Some(index) => index.to_string(),
                None => continue,
            },
        };
        let here = format!("{pointer}/{step}");
        match desired.and_then(|d| child(d, key)) {
            Some(next) => walk_uncovered(sub, Some(next), found, here, out),
            None => out.push(here),
        }
    }
}

fn child<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(field) = key.strip_prefix("f:") {
        return value.as_object()?.get(field).filter(|v| !v.is_null());
    }
    let list = value.as_array()?;
    if let Some(keys) = key.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(keys).ok()?;
        return list.iter().find(|item| {
            keys.iter()
                .all(|(k, v)| item.get(k).is_some_and(|iv| scalar_eq(iv, v)))
        });
    }
    if let Some(raw) = key.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(raw).ok()?;
        return list.iter().find(|item| scalar_eq(item, &wanted));
    }
    if let Some(index) = key.strip_prefix("i:") {
        return list.get(index.parse::<usize>().ok()?);
    }
    None
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Deep union of two fieldsV1 trees.
pub fn union(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => union(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, from) => {
            if into.is_null() {
                *into = from.clone();
            }
        }
    }
}

/// True when the live object carries anything the cleanup would change.
pub fn needs_cleanup(live: &Value, manager: &str, overrides: &[String]) -> bool {
    cleanup_patch(live, manager, overrides).is_some()
}

/// The JSON patch that removes other tools' annotations and folds the listed managers' fields into
/// `manager`'s Apply entry (renaming the first match when `manager` has none); `None` when there
/// is nothing to clean. `overrides` are further managers (kustomize-controller's
/// `--override-manager`) whose Apply and Update entries are folded too; every other manager's
/// fields are left to it.
pub fn cleanup_patch(live: &Value, manager: &str, overrides: &[String]) -> Option<Value> {
    let mut ops = Vec::new();
    for (field, keys) in [
        ("annotations", CLEANUP_ANNOTATIONS),
        ("labels", CLEANUP_LABELS),
    ] {
        for key in keys {
            let present = live
                .pointer(&format!("/metadata/{field}"))
                .and_then(|m| m.get(*key))
                .is_some();
            if present {
                let path = format!(
                    "/metadata/{field}/{}",
                    key.replace('~', "~0").replace('/', "~1")
                );
                ops.push(json!({"op": "remove", "path": path}));
            }
        }
    }
    let current = entries(live);
    let folded = |e: &Value| {
        (CLEANUP_MANAGERS
            .iter()
            .any(|m| is_entry(e, m.manager, m.operation))
            || overrides
                .iter()
                .any(|m| is_entry(e, m, "Apply") || is_entry(e, m, "Update")))
            && !is_entry(e, manager, "Apply")
    };
    if current.iter().any(folded) {
        let mut merged = Vec::new();
        let mut fields = Value::Object(Map::new());
        let mut own: Option<Value> = None;
        for entry in current {
            if folded(entry) {
                if let Some(f) = entry.get("fieldsV1") {
                    union(&mut fields, f);
                }
                if own.is_none() && !current.iter().any(|e| is_entry(e, manager, "Apply")) {
                    own = Some(entry.clone());
                }
            } else {
                merged.push(entry.clone());
            }
        }
        let target = merged.iter_mut().find(|e| is_entry(e, manager, "Apply"));
        match target {
            Some(entry) => {
                if let Some(f) = entry.get_mut("fieldsV1") {
                    union(f, &fields);
                } else if let Some(map) = entry.as_object_mut() {
                    map.insert("fieldsV1".into(), fields);
                }
            }
            None => {
                let mut entry = own.unwrap_or_else(|| json!({}));
                if let Some(map) = entry.as_object_mut() {
                    map.insert("manager".into(), Value::String(manager.into()));
                    map.insert("operation".into(), Value::String("Apply".into()));
                    map.insert("fieldsType".into(), Value::String("FieldsV1".into()));
                    map.insert("fieldsV1".into(), fields);
                }
                merged.push(entry);
            }
        }
        ops.push(json!({"op": "replace", "path": "/metadata/managedFields", "value": merged}));
    }
    (!ops.is_empty()).then(|| Value::Array(ops))
}

/// True when an Apply manager other than `manager` owns the field at `pointer` (RFC 6901) of
/// `live`, as fluxcd/pkg decides whether an ignored field is another applier's (then it is left
/// out of the payload) or capstan's alone (then the live value is sent back). List items are
/// found in `fieldsV1` by their `k:`/`v:`/`i:` keys, matched against the live item.
pub fn owned_by_other_applier(live: &Value, pointer: &str, manager: &str) -> bool {
    let Some(raw) = pointer.strip_prefix('/') else {
        return false;
    };
    let segments: Vec<String> = raw
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    entries(live)
        .iter()
        .filter(|e| {
            e.get("operation").and_then(Value::as_str) == Some("Apply")
                && e.get("manager").and_then(Value::as_str) != Some(manager)
                && e.get("subresource")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
        })
        .filter_map(|e| e.get("fieldsV1"))
        .any(|tree| owns(tree, live, &segments))
}

fn owns(tree: &Value, value: &Value, segments: &[String]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return true;
    };
    let Some(children) = tree.as_object() else {
        return false;
    };
    match value {
        Value::Array(items) => {
            let Some(item) = first.parse::<usize>().ok().and_then(|i| items.get(i)) else {
                return false;
            };
            children.iter().any(|(key, sub)| {
                key != "."
                    && child(value, key).is_some_and(|found| std::ptr::eq(found, item))
                    && owns(sub, item, rest)
            })
        }
        _ => match (
            children.get(&format!("f:{first}")),
            value.get(first.as_str()),
        ) {
            (Some(sub), Some(next)) => owns(sub, next, rest),
            (Some(_), None) => rest.is_empty(),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_ignores_server_defaults_but_not_changes() {
        let desired = json!({"spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"c","image":"a:1"}]}}}});
        let live = json!({"spec":{"replicas":2,"revisionHistoryLimit":10,"template":{"spec":{"containers":[{"name":"c","image":"a:1","imagePullPolicy":"IfNotPresent"}]}}}});
        assert!(subset(&desired, &live));
        let edited = json!({"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"c","image":"a:1"}]}}}});
        assert!(!subset(&desired, &edited));
        let extra = json!({"spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"c","image":"a:1"},{"name":"side"}]}}}});
        assert!(!subset(&desired, &extra));
    }

    #[test]
    fn covered_walks_field_keys_list_keys_and_values() {
        let fields = json!({"f:metadata":{"f:labels":{"f:a":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}},"f:finalizers":{"v:\"x\"":{}}}});
        let desired = json!({"metadata":{"labels":{"a":"1"}},"spec":{"containers":[{"name":"c","image":"i"}],"finalizers":["x"]}});
        assert!(covered(&fields, &desired));
        let dropped = json!({"metadata":{"labels":{}},"spec":{"containers":[{"name":"c","image":"i"}],"finalizers":["x"]}});
        assert!(!covered(&fields, &dropped));
        let renamed = json!({"metadata":{"labels":{"a":"1"}},"spec":{"containers":[{"name":"d","image":"i"}],"finalizers":["x"]}});
        assert!(!covered(&fields, &renamed));
    }

    #[test]
    fn cleanup_folds_kubectl_into_our_apply_entry() {
        let live = json!({"metadata":{
        "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}","keep":"1"},
        "managedFields":[
            {"manager":"kustomize-controller","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:a":{}}}},
            {"manager":"kubectl-edit","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:b":{}}}},
            {"manager":"kube-controller-manager","operation":"Update","subresource":"status","fieldsV1":{"f:status":{}}}
        ]}});
        let patch = cleanup_patch(&live, "kustomize-controller", &[]).expect("patch");
        assert_eq!(
            patch[0],
            json!({"op":"remove","path":"/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"})
        );
        let fields = &patch[1]["value"];
        assert_eq!(fields.as_array().map(Vec::len), Some(2));
        assert_eq!(fields[0]["fieldsV1"], json!({"f:spec":{"f:a":{},"f:b":{}}}));
        let clean = json!({"metadata":{"managedFields":[{"manager":"kustomize-controller","operation":"Apply","fieldsV1":{}}]}});
        assert!(cleanup_patch(&clean, "kustomize-controller", &[]).is_none());
    }

    #[test]
    fn cleanup_renames_the_first_match_when_we_have_no_entry() {
        let live = json!({"metadata":{"managedFields":[
            {"manager":"kubectl","operation":"Update","time":"t","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:a":{}}}},
            {"manager":"before-first-apply","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:b":{}}}}
        ]}});
        let patch = cleanup_patch(&live, "kustomize-controller", &[]).expect("patch");
        let value = &patch[0]["value"];
        assert_eq!(value.as_array().map(Vec::len), Some(1));
        assert_eq!(value[0]["manager"], "kustomize-controller");
        assert_eq!(value[0]["operation"], "Apply");
        assert_eq!(value[0]["fieldsV1"], json!({"f:data":{"f:a":{},"f:b":{}}}));
    }

    #[test]
    fn uncovered_names_what_an_apply_would_remove() {
        let live =
            json!({"data":{"a":"1","extra":"x"},"spec":{"c":[{"name":"a","x":1},{"name":"b"}]}});
        let fields = json!({"f:data":{"f:a":{},"f:extra":{}},"f:spec":{"f:c":{"k:{\"name\":\"a\"}":{"f:x":{}},"k:{\"name\":\"b\"}":{}}}});
        let desired = json!({"data":{"a":"1"},"spec":{"c":[{"name":"a","x":1}]}});
        assert_eq!(
            uncovered(&fields, &desired, &live),
            ["/data/extra", "/spec/c/1"]
        );
    }

    #[test]
    fn override_managers_are_folded_and_others_left_alone() {
        let live = json!({"metadata":{"managedFields":[
            {"manager":"kustomize-controller","operation":"Apply","fieldsV1":{"f:spec":{"f:a":{}}}},
            {"manager":"hpa","operation":"Update","fieldsV1":{"f:spec":{"f:replicas":{}}}},
            {"manager":"human","operation":"Apply","fieldsV1":{"f:spec":{"f:b":{}}}}
        ]}});
        assert!(cleanup_patch(&live, "kustomize-controller", &[]).is_none());
        let patch = cleanup_patch(&live, "kustomize-controller", &["human".into()]).expect("patch");
        let value = &patch[0]["value"];
        assert_eq!(value.as_array().map(Vec::len), Some(2));
        assert_eq!(value[0]["fieldsV1"], json!({"f:spec":{"f:a":{},"f:b":{}}}));
        assert_eq!(value[1]["manager"], "hpa");
    }

    #[test]
    fn other_appliers_are_found_through_list_keys() {
        let live = json!({"spec":{"replicas":3,"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]},
            "metadata":{"managedFields":[
            {"manager":"kustomize-controller","operation":"Apply","fieldsV1":{"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":{"f:image":{}}}}}},
            {"manager":"vpa","operation":"Apply","fieldsV1":{"f:spec":{"f:replicas":{},"f:containers":{"k:{\"name\":\"b\"}":{"f:image":{}}}}}},
            {"manager":"kubectl-edit","operation":"Update","fieldsV1":{"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":{"f:image":{}}}}}}
        ]}});
        let manager = "kustomize-controller";
        assert!(owned_by_other_applier(&live, "/spec/replicas", manager));
        assert!(owned_by_other_applier(
            &live,
            "/spec/containers/1/image",
            manager
        ));
        assert!(!owned_by_other_applier(
            &live,
            "/spec/containers/0/image",
            manager
        ));
        assert!(!owned_by_other_applier(&live, "/spec/paused", manager));
    }
}
