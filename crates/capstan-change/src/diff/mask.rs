//! Secret masking: a diff never prints Secret data or SOPS ciphertext.
//!
//! Values under a Secret's `data` and `stringData` become `***` when both sides hold the same
//! value, and `*** (before)` / `*** (after)` when they differ, so a reviewer sees *that* a key
//! changed but never its content. Strings SOPS encrypted in place (`ENC[...]`) anywhere in any
//! object are replaced the same way, and a changed ciphertext is reported as "encrypted value
//! changed".

use capstan_core::{Map, ResourceId, Value};

use super::structural::{FieldChange, FieldChangeKind, is_sops_ciphertext};

/// The placeholder for a secret value that did not change.
pub const MASK: &str = "***";
/// The placeholder for the old side of a changed secret value.
pub const MASK_BEFORE: &str = "*** (before)";
/// The placeholder for the new side of a changed secret value.
pub const MASK_AFTER: &str = "*** (after)";

/// True for the core `Secret` kind, whose `data`/`stringData` are masked.
pub fn is_secret(id: &ResourceId) -> bool {
    id.group.is_empty() && id.kind == "Secret"
}

fn is_secret_path(path: &str) -> bool {
    ["data", "stringData"].iter().any(|root| {
        path == *root
            || path
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

/// Replaces every scalar in a value by the mask (keeping the shape of maps and lists).
fn mask_all(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), mask_all(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(mask_all).collect()),
        _ => Value::String(MASK.into()),
    }
}

/// Replaces SOPS ciphertext strings inside a value by the mask.
fn mask_ciphertext(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask_ciphertext(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_ciphertext).collect()),
        Value::String(s) if is_sops_ciphertext(s) => Value::String(MASK.into()),
        other => other.clone(),
    }
}

/// Masks the values carried by field changes of one object.
pub fn mask_changes(id: &ResourceId, changes: &mut [FieldChange]) {
    let secret = is_secret(id);
    for change in changes {
        let secret_field = secret && is_secret_path(&change.path);
        match &mut change.kind {
            FieldChangeKind::Added { value } | FieldChangeKind::Removed { value } => {
                *value = if secret_field {
                    mask_all(value)
                } else {
                    mask_ciphertext(value)
                };
            }
            FieldChangeKind::Modified { before, after } => {
                if secret_field {
                    let (b, a) = mask_pair_values(before, after);
                    *before = b;
                    *after = a;
                } else {
                    *before = mask_ciphertext(before);
                    *after = mask_ciphertext(after);
                }
            }
            FieldChangeKind::OrderChanged { before, after } if secret_field => {
                before
                    .iter_mut()
                    .chain(after.iter_mut())
                    .for_each(|v| *v = MASK.into());
            }
            _ => {}
        }
    }
}

/// Masks two differing values: scalars become `*** (before)` / `*** (after)`; in maps, keys whose
/// values are equal become `***`.
fn mask_pair_values(before: &Value, after: &Value) -> (Value, Value) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let side = |this: &Map, other: &Map, label: &str| {
                Value::Object(
                    this.iter()
                        .map(|(k, v)| {
                            let masked = if other.get(k) == Some(v) { MASK } else { label };
                            (k.clone(), Value::String(masked.into()))
                        })
                        .collect(),
                )
            };
            (side(b, a, MASK_BEFORE), side(a, b, MASK_AFTER))
        }
        _ => (
            Value::String(MASK_BEFORE.into()),
            Value::String(MASK_AFTER.into()),
        ),
    }
}

/// Masks the two full sides of one object for display (YAML views, unified and side-by-side
/// diffs): Secret data and SOPS ciphertext are replaced, marked `(before)`/`(after)` where the
/// two sides differ so the change still shows as a changed line.
pub fn mask_objects(
    id: &ResourceId,
    before: Option<&Value>,
    after: Option<&Value>,
) -> (Option<Value>, Option<Value>) {
    let secret = is_secret(id);
    let one = |this: &Value, other: Option<&Value>, label: &str| {
        let mut out = this.clone();
        mask_in_place(&mut out, other, label, secret, "");
        out
    };
    (
        before.map(|b| one(b, after, MASK_BEFORE)),
        after.map(|a| one(a, before, MASK_AFTER)),
    )
}

fn mask_in_place(value: &mut Value, other: Option<&Value>, label: &str, secret: bool, path: &str) {
    let masked = |this: &Value, other: Option<&Value>| {
        if other == Some(this) {
            Value::String(MASK.into())
        } else {
            Value::String(label.into())
        }
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let child_other = other.and_then(|o| o.get(key.as_str()));
                if secret && path.is_empty() && (key == "data" || key == "stringData") {
                    if let Value::Object(entries) = child {
                        for (k, v) in entries.iter_mut() {
                            *v = masked(v, child_other.and_then(|o| o.get(k.as_str())));
                        }
                    }
                    continue;
                }
                mask_in_place(child, child_other, label, secret, key);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let item_other = other.and_then(|o| o.get(i));
                mask_in_place(item, item_other, label, secret, "item");
            }
        }
        Value::String(s) if is_sops_ciphertext(s) => *value = masked(value, other),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::structural::diff_values;
    use serde_json::json;

    fn secret_id() -> ResourceId {
        ResourceId::of(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}))
    }

    #[test]
    fn table() {
        let id = secret_id();
        let cm = ResourceId::of(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        );
        type Case<'a> = (
            &'a str,
            &'a ResourceId,
            Value,
            Value,
            Vec<(&'a str, FieldChangeKind)>,
        );
        let cases: Vec<Case> = vec![
            (
                "changed secret value",
                &id,
                json!({"data": {"password": "aGVsbG8="}}),
                json!({"data": {"password": "d29ybGQ="}}),
                vec![(
                    "data.password",
                    FieldChangeKind::Modified {
                        before: json!(MASK_BEFORE),
                        after: json!(MASK_AFTER),
                    },
                )],
            ),
            (
                "added secret key",
                &id,
                json!({"data": {}}),
                json!({"data": {"token": "c2VjcmV0"}}),
                vec![("data.token", FieldChangeKind::Added { value: json!(MASK) })],
            ),
            (
                "stringData added wholesale",
                &id,
                json!({}),
                json!({"stringData": {"a": "clear", "b": "text"}}),
                vec![(
                    "stringData",
                    FieldChangeKind::Added {
                        value: json!({"a": MASK, "b": MASK}),
                    },
                )],
            ),
            (
                "secret metadata stays visible",
                &id,
                json!({"metadata": {"labels": {"a": "1"}}}),
                json!({"metadata": {"labels": {"a": "2"}}}),
                vec![(
                    "metadata.labels.a",
                    FieldChangeKind::Modified {
                        before: json!("1"),
                        after: json!("2"),
                    },
                )],
            ),
            (
                "sops ciphertext in a configmap",
                &cm,
                json!({"data": {"k": "ENC[AES256_GCM,data:a,type:str]"}}),
                json!({"data": {"k": "ENC[AES256_GCM,data:b,type:str]"}}),
                vec![("data.k", FieldChangeKind::EncryptedChanged)],
            ),
            (
                "added sops value is masked",
                &cm,
                json!({"data": {}}),
                json!({"data": {"k": "ENC[AES256_GCM,data:a,type:str]"}}),
                vec![("data.k", FieldChangeKind::Added { value: json!(MASK) })],
            ),
            (
                "configmap data is not secret",
                &cm,
                json!({"data": {"k": "a"}}),
                json!({"data": {"k": "b"}}),
                vec![(
                    "data.k",
                    FieldChangeKind::Modified {
                        before: json!("a"),
                        after: json!("b"),
                    },
                )],
            ),
        ];
        for (name, id, before, after, expected) in cases {
            let mut changes = diff_values(&before, &after);
            mask_changes(id, &mut changes);
            let got: Vec<(&str, FieldChangeKind)> = changes
                .iter()
                .map(|c| (c.path.as_str(), c.kind.clone()))
                .collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn full_objects_never_show_secret_data() {
        let before = json!({"kind": "Secret", "data": {"same": "c2FtZQ==", "changed": "YQ=="}});
        let after = json!({"kind": "Secret", "data": {"same": "c2FtZQ==", "changed": "Yg==", "new": "bg=="}});
        let (b, a) = mask_objects(&secret_id(), Some(&before), Some(&after));
        assert_eq!(
            b.unwrap(),
            json!({"kind": "Secret", "data": {"same": MASK, "changed": MASK_BEFORE}})
        );
        assert_eq!(
            a.unwrap(),
            json!({"kind": "Secret", "data": {"same": MASK, "changed": MASK_AFTER, "new": MASK_AFTER}})
        );
        let (_, added) = mask_objects(&secret_id(), None, Some(&after));
        assert!(!added.unwrap().to_string().contains("c2FtZQ"));
    }
}
