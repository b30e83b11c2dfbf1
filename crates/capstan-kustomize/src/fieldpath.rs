//! Walking a field spec's path (`spec/template/metadata/labels`, `spec/containers[]/image`,
//! escaped `a\/b` segments) through an object and acting on what it reaches, as kustomize's
//! `fieldspec` filter does: sequences met on the way are walked element by element, missing
//! fields are created only when the spec says `create: true`, and a scalar met before the end
//! of the path is an error.

use capstan_core::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomization::FieldSpec;
use crate::resid::{Gvk, ResId};

/// What to create at the end of the path when the field is missing and the spec allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Never create (the spec's `create` flag is ignored).
    Nothing,
    /// A mapping (labels, annotations, selectors).
    Map,
    /// A scalar, given to the setter as `Value::Null` to fill in.
    Scalar,
}

/// Splits a field-spec path at `/`, joining segments whose `/` was escaped as `\/`.
pub fn split_path(path: &str) -> Vec<String> {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1 && parts[0].is_empty() {
        parts.remove(0);
    }
    let mut out: Vec<String> = Vec::new();
    for part in parts {
        match out.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('/');
                last.push_str(part);
            }
            _ => out.push(part.to_owned()),
        }
    }
    out
}

/// True when the spec's group/version/kind select `object`.
pub fn spec_matches(spec: &FieldSpec, object: &Value) -> bool {
    Gvk::of(object).is_selected(&spec.gvk())
}

/// Applies `set` to every field `spec` reaches in `object`, when the spec's kind matches.
pub fn apply(
    spec: &FieldSpec,
    object: &mut Value,
    create: Create,
    set: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    if !spec_matches(spec, object) {
        return Ok(());
    }
    let id = ResId::of(object);
    let path = split_path(&spec.path);
    let create = if spec.create_if_not_present {
        create
    } else {
        Create::Nothing
    };
    walk(object, &path, create, set).map_err(|e| {
        e.context(format!(
            "considering field '{}' of object {}",
            spec.path, id
        ))
    })
}

fn walk(
    node: &mut Value,
    path: &[String],
    create: Create,
    set: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    let Some((head, rest)) = path.split_first() else {
        return set(node);
    };
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for item in items {
                walk(item, path, create, set)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let (name, is_seq) = match head.strip_suffix("[]") {
                Some(name) => (name, true),
                None => (head.as_str(), false),
            };
            if name.is_empty() {
                return Err(Error::msg("cannot set or create an empty field name"));
            }
            if !map.contains_key(name) {
                if create == Create::Nothing || is_seq {
                    return Ok(());
                }
                let fresh = if rest.is_empty() && create == Create::Scalar {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                };
                map.insert(name.to_owned(), fresh);
            } else if map.get(name).is_some_and(Value::is_null)
                && create != Create::Nothing
                && !is_seq
                && !(rest.is_empty() && create == Create::Scalar)
            {
                map.insert(name.to_owned(), Value::Object(Map::new()));
            }
            let field = map.get_mut(name).expect("present or just inserted");
            if field.is_null() && !(rest.is_empty() && create == Create::Scalar) {
                return Ok(());
            }
            walk(field, rest, create, set)
        }
        _ => Err(Error::msg("expected sequence or mapping node")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(path: &str, create: bool) -> FieldSpec {
        FieldSpec {
            path: path.into(),
            create_if_not_present: create,
            ..FieldSpec::default()
        }
    }

    #[test]
    fn splits_escaped_slashes() {
        assert_eq!(
            split_path("metadata/annotations/a\\/b"),
            vec!["metadata", "annotations", "a/b"]
        );
        assert_eq!(split_path("/spec/x"), vec!["spec", "x"]);
    }

    #[test]
    fn walks_sequences_and_creates() {
        let mut obj = json!({"spec": {"containers": [{"image": "a"}, {"image": "b"}, {}]}});
        let mut seen = Vec::new();
        apply(
            &spec("spec/containers/image", false),
            &mut obj,
            Create::Scalar,
            &mut |v| {
                seen.push(v.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, vec![json!("a"), json!("b")]);
        apply(
            &spec("metadata/labels", true),
            &mut obj,
            Create::Map,
            &mut |v| {
                v.as_object_mut().unwrap().insert("x".into(), json!("y"));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(obj["metadata"]["labels"]["x"], json!("y"));
    }

    #[test]
    fn scalar_in_the_way_is_an_error() {
        let mut obj = json!({"kind": "X", "metadata": {"name": "n"}, "spec": "oops"});
        let err = apply(
            &spec("spec/selector", true),
            &mut obj,
            Create::Map,
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("considering field 'spec/selector'"),
            "{err}"
        );
    }
}
