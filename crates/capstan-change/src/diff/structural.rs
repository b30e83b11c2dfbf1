//! The structural, Kubernetes-aware comparison of two values.
//!
//! Maps are compared key by key. Lists whose entries carry an identity — containers, env vars,
//! volumes and volume mounts, ports, conditions, and generally any list of objects with a unique
//! `name` — are matched entry by entry on that key, so moving an entry is reported once as an
//! order change instead of as every entry being rewritten. Lists of scalars are compared as
//! multisets (added and removed items, or an order change). Anything else that differs is one
//! modification at the deepest path where the two sides part.

use serde::Serialize;

use capstan_core::Value;

/// One difference between two values, at a path such as
/// `spec.template.spec.containers[name=app].image`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Where the values differ, as a readable path.
    pub path: String,
    #[serde(flatten)]
    pub kind: FieldChangeKind,
}

/// What differs at a path.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum FieldChangeKind {
    /// The path exists only on the new side.
    Added { value: Value },
    /// The path exists only on the old side.
    Removed { value: Value },
    /// The value at the path changed.
    Modified { before: Value, after: Value },
    /// The same list entries, in another order (entries named by their key).
    OrderChanged {
        before: Vec<String>,
        after: Vec<String>,
    },
    /// A SOPS-encrypted value changed; the ciphertexts are not shown.
    EncryptedChanged,
}

/// Compares two values and returns every difference, in document order.
pub fn diff_values(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk("", None, before, after, &mut out);
    out
}

fn push(out: &mut Vec<FieldChange>, path: &str, kind: FieldChangeKind) {
    let path = if path.is_empty() {
        ".".to_owned()
    } else {
        path.to_owned()
    };
    out.push(FieldChange { path, kind });
}

/// Appends a map key to a path, bracketing keys that are not plain identifiers.
pub(crate) fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", serde_json::to_string(key).unwrap_or_default()),
    }
}

fn walk(
    path: &str,
    field: Option<&str>,
    before: &Value,
    after: &Value,
    out: &mut Vec<FieldChange>,
) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, bv) in b {
                let child = join_key(path, key);
                match a.get(key) {
                    Some(av) => walk(&child, Some(key), bv, av, out),
                    None => push(out, &child, FieldChangeKind::Removed { value: bv.clone() }),
                }
            }
            for (key, av) in a {
                if !b.contains_key(key) {
                    push(
                        out,
                        &join_key(path, key),
                        FieldChangeKind::Added { value: av.clone() },
                    );
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => walk_list(path, field, b, a, out),
        (Value::String(b), Value::String(a)) if is_sops_ciphertext(b) && is_sops_ciphertext(a) => {
            push(out, path, FieldChangeKind::EncryptedChanged)
        }
        _ => push(
            out,
            path,
            FieldChangeKind::Modified {
                before: before.clone(),
                after: after.clone(),
            },
        ),
    }
}

/// True for a value SOPS encrypted in place (`ENC[AES256_GCM,data:...]`).
pub fn is_sops_ciphertext(s: &str) -> bool {
    s.starts_with("ENC[") && s.ends_with(']')
}

/// The fields that identify an entry of the list stored under `field`, when every entry on both
/// sides has them and they are unique on each side.
fn list_key(field: Option<&str>, before: &[Value], after: &[Value]) -> Option<Vec<&'static str>> {
    let candidates: &[&[&'static str]] = match field {
        Some("volumeMounts") => &[&["mountPath"], &["name"]],
        Some("volumeDevices") => &[&["devicePath"]],
        Some("ports") => &[
            &["containerPort", "protocol"],
            &["port", "protocol"],
            &["name"],
        ],
        Some("conditions") => &[&["type"]],
        Some("hostAliases") => &[&["ip"]],
        Some("tolerations") => &[&["key", "operator", "effect"]],
        Some("topologySpreadConstraints") => &[&["topologyKey", "whenUnsatisfiable"]],
        Some("imagePullSecrets")
        | Some("containers")
        | Some("initContainers")
        | Some("ephemeralContainers")
        | Some("env")
        | Some("volumes") => &[&["name"]],
        _ => &[&["name"], &["id"], &["key"]],
    };
    let all: Vec<&Value> = before.iter().chain(after).collect();
    if all.is_empty() || !all.iter().all(|v| v.is_object()) {
        return None;
    }
    candidates
        .iter()
        .find(|keys| {
            // the first field must be present; later fields (protocol) may default
            let present = all
                .iter()
                .all(|v| v.get(keys[0]).is_some_and(|k| !k.is_null()));
            present && unique(keys, before) && unique(keys, after)
        })
        .map(|keys| keys.to_vec())
}

fn unique(keys: &[&str], items: &[Value]) -> bool {
    let mut seen = std::collections::HashSet::new();
    items.iter().all(|item| seen.insert(entry_key(keys, item)))
}

/// The key of a list entry as shown in paths: `name=app`, `containerPort=80,protocol=TCP`.
fn entry_key(keys: &[&str], item: &Value) -> String {
    keys.iter()
        .map(|k| {
            let value = match (item.get(*k), *k) {
                (Some(Value::String(s)), _) => s.clone(),
                (Some(v), _) if !v.is_null() => v.to_string(),
                (_, "protocol") => "TCP".to_owned(),
                _ => String::new(),
            };
            format!("{k}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn walk_list(
    path: &str,
    field: Option<&str>,
    before: &[Value],
    after: &[Value],
    out: &mut Vec<FieldChange>,
) {
    if let Some(keys) = list_key(field, before, after) {
        let before_keys: Vec<String> = before.iter().map(|v| entry_key(&keys, v)).collect();
        let after_keys: Vec<String> = after.iter().map(|v| entry_key(&keys, v)).collect();
        for (key, bv) in before_keys.iter().zip(before) {
            let child = format!("{path}[{key}]");
            match after_keys.iter().position(|k| k == key) {
                Some(i) => walk(&child, None, bv, &after[i], out),
                None => push(out, &child, FieldChangeKind::Removed { value: bv.clone() }),
            }
        }
        for (key, av) in after_keys.iter().zip(after) {
            if !before_keys.contains(key) {
                push(
                    out,
                    &format!("{path}[{key}]"),
                    FieldChangeKind::Added { value: av.clone() },
                );
            }
        }
        // order lines name entries by their key's value alone when the key is one field
        let label = |k: &String| {
            if keys.len() == 1 {
                k.split_once('=').map_or(k.clone(), |(_, v)| v.to_owned())
            } else {
                k.clone()
            }
        };
        let common_before: Vec<String> = before_keys
            .iter()
            .filter(|k| after_keys.contains(k))
            .map(label)
            .collect();
        let common_after: Vec<String> = after_keys
            .iter()
            .filter(|k| before_keys.contains(k))
            .map(label)
            .collect();
        if common_before != common_after {
            push(
                out,
                path,
                FieldChangeKind::OrderChanged {
                    before: common_before,
                    after: common_after,
                },
            );
        }
        return;
    }
    if before
        .iter()
        .chain(after)
        .all(|v| !v.is_object() && !v.is_array())
    {
        // scalars: a multiset comparison
        let mut remaining: Vec<&Value> = after.iter().collect();
        let mut removed = Vec::new();
        for item in before {
            match remaining.iter().position(|v| *v == item) {
                Some(i) => {
                    remaining.remove(i);
                }
                None => removed.push(item),
            }
        }
        for item in &removed {
            push(
                out,
                &format!("{path}[{}]", scalar_label(item)),
                FieldChangeKind::Removed {
                    value: (*item).clone(),
                },
            );
        }
        for item in &remaining {
            push(
                out,
                &format!("{path}[{}]", scalar_label(item)),
                FieldChangeKind::Added {
                    value: (*item).clone(),
                },
            );
        }
        if removed.is_empty() && remaining.is_empty() {
            let labels = |items: &[Value]| items.iter().map(scalar_label).collect();
            push(
                out,
                path,
                FieldChangeKind::OrderChanged {
                    before: labels(before),
                    after: labels(after),
                },
            );
        }
        return;
    }
    if before.len() == after.len() {
        for (i, (b, a)) in before.iter().zip(after).enumerate() {
            walk(&format!("{path}[{i}]"), None, b, a, out);
        }
        return;
    }
    push(
        out,
        path,
        FieldChangeKind::Modified {
            before: Value::Array(before.to_vec()),
            after: Value::Array(after.to_vec()),
        },
    );
}

fn scalar_label(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(changes: &[FieldChange]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let what = match &c.kind {
                    FieldChangeKind::Added { .. } => "added",
                    FieldChangeKind::Removed { .. } => "removed",
                    FieldChangeKind::Modified { .. } => "modified",
                    FieldChangeKind::OrderChanged { .. } => "order changed",
                    FieldChangeKind::EncryptedChanged => "encrypted value changed",
                };
                format!("{} {what}", c.path)
            })
            .collect()
    }

    fn pod(containers: Value) -> Value {
        json!({"spec": {"template": {"spec": {"containers": containers}}}})
    }

    #[test]
    fn table() {
        let cases: Vec<(&str, Value, Value, Vec<&str>)> = vec![
            ("equal values", json!({"a": 1}), json!({"a": 1}), vec![]),
            (
                "scalar modified",
                json!({"a": 1}),
                json!({"a": 2}),
                vec!["a modified"],
            ),
            (
                "key added and removed",
                json!({"a": 1}),
                json!({"b": 1}),
                vec!["a removed", "b added"],
            ),
            (
                "dotted keys are bracketed",
                json!({"metadata": {"labels": {"app.kubernetes.io/name": "a"}}}),
                json!({"metadata": {"labels": {"app.kubernetes.io/name": "b"}}}),
                vec!["metadata.labels[\"app.kubernetes.io/name\"] modified"],
            ),
            (
                "containers reordered is one line",
                pod(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])),
                pod(json!([{"name": "b", "image": "y"}, {"name": "a", "image": "x"}])),
                vec!["spec.template.spec.containers order changed"],
            ),
            (
                "container matched by name",
                pod(json!([{"name": "a", "image": "x:1"}, {"name": "b", "image": "y"}])),
                pod(json!([{"name": "b", "image": "y"}, {"name": "a", "image": "x:2"}])),
                vec![
                    "spec.template.spec.containers[name=a].image modified",
                    "spec.template.spec.containers order changed",
                ],
            ),
            (
                "env by name",
                json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}),
                json!({"env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}),
                vec![
                    "env[name=A] removed",
                    "env[name=B].value modified",
                    "env[name=C] added",
                ],
            ),
            (
                "container ports by port and protocol",
                json!({"ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}),
                json!({"ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 80, "name": "http"}]}),
                vec![
                    "ports[containerPort=80,protocol=TCP].name added",
                    "ports order changed",
                ],
            ),
            (
                "service ports by port",
                json!({"ports": [{"port": 80, "targetPort": 8080}]}),
                json!({"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}),
                vec![
                    "ports[port=80,protocol=TCP].targetPort modified",
                    "ports[port=443,protocol=TCP] added",
                ],
            ),
            (
                "volumeMounts by mountPath",
                json!({"volumeMounts": [{"name": "d", "mountPath": "/a"}, {"name": "d", "mountPath": "/b"}]}),
                json!({"volumeMounts": [{"name": "d", "mountPath": "/b"}, {"name": "d", "mountPath": "/a"}]}),
                vec!["volumeMounts order changed"],
            ),
            (
                "scalar list as multiset",
                json!({"args": ["a", "b", "c"]}),
                json!({"args": ["c", "a", "d"]}),
                vec!["args[b] removed", "args[d] added"],
            ),
            (
                "scalar list reordered",
                json!({"args": ["a", "b"]}),
                json!({"args": ["b", "a"]}),
                vec!["args order changed"],
            ),
            (
                "keyless object lists by index",
                json!({"rules": [{"verbs": ["get"]}, {"verbs": ["list"]}]}),
                json!({"rules": [{"verbs": ["get"]}, {"verbs": ["watch"]}]}),
                vec![
                    "rules[1].verbs[list] removed",
                    "rules[1].verbs[watch] added",
                ],
            ),
            (
                "keyless lists of different length are replaced",
                json!({"rules": [{"verbs": ["get"]}]}),
                json!({"rules": [{"verbs": ["get"]}, {"verbs": ["list"]}]}),
                vec!["rules modified"],
            ),
            (
                "duplicate names fall back to index",
                json!({"items": [{"name": "a", "v": 1}, {"name": "a", "v": 2}]}),
                json!({"items": [{"name": "a", "v": 1}, {"name": "a", "v": 3}]}),
                vec!["items[1].v modified"],
            ),
            (
                "sops ciphertext",
                json!({"data": {"k": "ENC[AES256_GCM,data:abc,type:str]"}}),
                json!({"data": {"k": "ENC[AES256_GCM,data:xyz,type:str]"}}),
                vec!["data.k encrypted value changed"],
            ),
            (
                "type change",
                json!({"a": [1]}),
                json!({"a": {"b": 1}}),
                vec!["a modified"],
            ),
            ("root scalar", json!(1), json!(2), vec![". modified"]),
        ];
        for (name, before, after, expected) in cases {
            assert_eq!(paths(&diff_values(&before, &after)), expected, "{name}");
        }
    }
}
