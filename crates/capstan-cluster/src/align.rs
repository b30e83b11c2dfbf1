//! Aligning Git with the cluster (`drift -o patch`): the cluster's values of drifted fields
//! written into the repository file that declares the object. Pure: file text in, file text out.
//!
//! The document is found by kind and name; a field is changed only where the file holds the
//! very value the build rendered (a value that came from a kustomize patch, a substitution or a
//! generator is reported, not guessed at). The edited document is written again in capstan's
//! YAML style, so comments inside that one document are lost; the others are untouched.
//! Secret values are never written (they are masked, and would land in Git unencrypted).

use serde_json::Value;

use crate::drift::FieldDrift;
use crate::id::ObjectRef;

/// Why a drifted field could not be written back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlignError {
    #[error("{file}: no document declares {object}")]
    NoDocument { file: String, object: String },
    #[error("{file}: document {index} does not parse: {message}")]
    Parse {
        file: String,
        index: usize,
        message: String,
    },
    #[error(
        "{object} {path}: the file does not hold the rendered value there (it comes from a patch, a substitution or a generator); edit it by hand"
    )]
    NotInFile { object: String, path: String },
    #[error("{object} {path}: Secret values are not written to the repository")]
    Secret { object: String, path: String },
}

/// The result of aligning one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Aligned {
    pub text: String,
    /// Fields not written, and why.
    pub skipped: Vec<AlignError>,
}

/// Writes the live values of `fields` of `object` into `text` (the file named `file`).
pub fn align(
    file: &str,
    text: &str,
    object: &ObjectRef,
    fields: &[FieldDrift],
) -> Result<Aligned, AlignError> {
    let documents = split(text);
    let mut skipped = Vec::new();
    for (index, (start, end)) in documents.iter().enumerate() {
        let body = &text[*start..*end];
        let Ok(mut value) = capstan_core::yaml::parse_document(body) else {
            continue;
        };
        let kind = value.get("kind").and_then(Value::as_str);
        let name = value.pointer("/metadata/name").and_then(Value::as_str);
        if kind != Some(object.kind.as_str()) || name != Some(object.name.as_str()) {
            continue;
        }
        let mut changed = false;
        for field in fields {
            let secret = object.group.is_empty() && object.kind == "Secret";
            if secret && (field.path.starts_with("data") || field.path.starts_with("stringData")) {
                skipped.push(AlignError::Secret {
                    object: object.to_string(),
                    path: field.path.clone(),
                });
                continue;
            }
            let holds = value.pointer(&field.pointer).is_some_and(|v| {
                crate::fields::subset(&field.desired, v) && crate::fields::subset(v, &field.desired)
            });
            if !holds {
                skipped.push(AlignError::NotInFile {
                    object: object.to_string(),
                    path: field.path.clone(),
                });
                continue;
            }
            match (&field.live, value.pointer_mut(&field.pointer)) {
                (Some(live), Some(slot)) => {
                    *slot = live.clone();
                    changed = true;
                }
                (None, _) => {
                    if remove(&mut value, &field.pointer) {
                        changed = true;
                    }
                }
                (Some(_), None) => {}
            }
        }
        if !changed {
            return Ok(Aligned {
                text: text.to_owned(),
                skipped,
            });
        }
        let mut emitted = capstan_core::yaml::to_yaml(&value);
        if !emitted.ends_with('\n') {
            emitted.push('\n');
        }
        let mut out = String::with_capacity(text.len());
        out.push_str(&text[..*start]);
        out.push_str(&emitted);
        out.push_str(&text[*end..]);
        let _ = index;
        return Ok(Aligned { text: out, skipped });
    }
    Err(AlignError::NoDocument {
        file: file.to_owned(),
        object: object.to_string(),
    })
}

fn remove(value: &mut Value, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&key).is_some(),
        _ => false,
    }
}

/// Byte ranges of the documents of a YAML stream (separator lines excluded).
fn split(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if offset > start {
                out.push((start, offset));
            }
            start = offset + line.len();
        }
        offset += line.len();
    }
    if text.len() > start {
        out.push((start, text.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(path: &str, pointer: &str, desired: Value, live: Value) -> FieldDrift {
        FieldDrift {
            path: path.into(),
            pointer: pointer.into(),
            desired,
            live: Some(live),
        }
    }

    #[test]
    fn writes_the_live_value_into_the_declaring_document() {
        let text = "# header\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n";
        let object = ObjectRef {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: "apps".into(),
            name: "web".into(),
        };
        let out = align(
            "d.yaml",
            text,
            &object,
            &[field("spec.replicas", "/spec/replicas", json!(2), json!(5))],
        )
        .expect("aligned");
        assert!(out.skipped.is_empty());
        assert!(
            out.text.starts_with(
                "# header\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n---\n"
            ),
            "{}",
            out.text
        );
        assert!(out.text.contains("replicas: 5"), "{}", out.text);
        let patched = align(
            "d.yaml",
            text,
            &object,
            &[field("spec.replicas", "/spec/replicas", json!(3), json!(5))],
        )
        .expect("aligned");
        assert_eq!(patched.text, text);
        assert!(matches!(patched.skipped[0], AlignError::NotInFile { .. }));
        let missing = ObjectRef {
            name: "nope".into(),
            ..object
        };
        assert!(matches!(
            align("d.yaml", text, &missing, &[]),
            Err(AlignError::NoDocument { .. })
        ));
    }
}
