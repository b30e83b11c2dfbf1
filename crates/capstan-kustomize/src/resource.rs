//! One object in a build, with the bookkeeping kustomize carries alongside it: the ids it had
//! before prefixes, suffixes, namespaces or hashes renamed it (so references to the old names
//! can be fixed), the name prefixes and suffixes applied so far, how a generator wants it merged,
//! and whether it still needs a content-hash suffix.
//!
//! kustomize keeps this bookkeeping in `internal.config.kubernetes.io/*` annotations and strips
//! them before printing; capstan keeps it in fields, so it can never leak into the output.

use std::path::PathBuf;

use capstan_core::{Map, Value};

use crate::resid::{Gvk, ResId};

/// How a generated object combines with an existing one of the same id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Behavior {
    /// Not generated, or generated with `behavior: create` (the default).
    #[default]
    Create,
    /// Replace the existing object's data, keeping its metadata.
    Replace,
    /// Merge data into the existing object.
    Merge,
    /// Not a generated object.
    Unspecified,
}

impl Behavior {
    /// Reads a generator's `behavior` field; an empty value is `create`.
    pub fn parse(text: &str) -> Option<Behavior> {
        match text {
            "" | "create" => Some(Behavior::Create),
            "replace" => Some(Behavior::Replace),
            "merge" => Some(Behavior::Merge),
            _ => None,
        }
    }
}

/// An id the object had before it was renamed: kind, name and effective namespace. Group and
/// version are always the object's current ones, as in kustomize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousId {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// One object and what the build tracks about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The object itself, as an order-preserving JSON value.
    pub object: Value,
    /// The file it was read from, when it came from a file.
    pub source: Option<PathBuf>,
    /// The index of its YAML document in `source` (as `parse_documents` counts them), when it
    /// came from a file.
    pub document: Option<usize>,
    /// The 1-based line where that document begins.
    pub line: Option<usize>,
    /// Earlier ids, oldest first.
    pub previous_ids: Vec<PreviousId>,
    /// Name prefixes applied so far, innermost kustomization first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied so far, innermost kustomization first.
    pub suffixes: Vec<String>,
    /// The behaviour of the generator that made it; `Unspecified` for plain resources.
    pub behavior: Behavior,
    /// True when a content-hash suffix must still be appended to the name.
    pub needs_hash_suffix: bool,
    /// Names of `vars` that read a field of this object.
    pub ref_var_names: Vec<String>,
    /// Set by a patch with `allowNameChange`.
    pub allow_name_change: bool,
    /// Set by a patch with `allowKindChange`.
    pub allow_kind_change: bool,
    /// Paths of fields its file wrote as `key:` with no value (a strategic merge drops them,
    /// and keeps `key: null`).
    pub empty_nulls: Vec<Vec<capstan_core::yaml::PathSeg>>,
}

impl Resource {
    /// Wraps a plain object read from a file.
    pub fn new(object: Value) -> Resource {
        Resource {
            object,
            source: None,
            document: None,
            line: None,
            previous_ids: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            behavior: Behavior::Unspecified,
            needs_hash_suffix: false,
            ref_var_names: Vec::new(),
            allow_name_change: false,
            allow_kind_change: false,
            empty_nulls: Vec::new(),
        }
    }

    /// The current id.
    pub fn id(&self) -> ResId {
        ResId::of(&self.object)
    }

    /// The kind, version and group.
    pub fn gvk(&self) -> Gvk {
        Gvk::of(&self.object)
    }

    pub fn kind(&self) -> &str {
        self.object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn api_version(&self) -> &str {
        self.object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.meta_str("name")
    }

    pub fn namespace(&self) -> &str {
        self.meta_str("namespace")
    }

    fn meta_str(&self, field: &str) -> &str {
        self.object
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The `metadata` mapping, created when absent (or replaced when it is not a mapping).
    pub fn metadata_mut(&mut self) -> &mut Map {
        let object = ensure_object(&mut self.object);
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        ensure_object(metadata)
    }

    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::String(name.to_owned()));
    }

    pub fn set_namespace(&mut self, namespace: &str) {
        self.metadata_mut()
            .insert("namespace".into(), Value::String(namespace.to_owned()));
    }

    /// `metadata.labels` as strings (non-string values are skipped).
    pub fn labels(&self) -> Vec<(String, String)> {
        self.string_map("labels")
    }

    /// `metadata.annotations` as strings (non-string values are skipped).
    pub fn annotations(&self) -> Vec<(String, String)> {
        self.string_map("annotations")
    }

    fn string_map(&self, field: &str) -> Vec<(String, String)> {
        self.object
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value of one annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.object
            .get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
    }

    /// Remembers the current id as a previous one, before a rename.
    pub fn store_previous_id(&mut self) {
        let id = self.id();
        self.previous_ids.push(PreviousId {
            kind: id.gvk.kind.clone(),
            name: id.name.clone(),
            namespace: id.effective_namespace().to_owned(),
        });
    }

    /// The previous ids, oldest first, with the current group and version.
    pub fn prev_ids(&self) -> Vec<ResId> {
        let gvk = self.gvk();
        self.previous_ids
            .iter()
            .map(|p| {
                ResId::new(
                    Gvk::new(gvk.group.clone(), gvk.version.clone(), p.kind.clone()),
                    &p.name,
                    &p.namespace,
                )
            })
            .collect()
    }

    /// The id the object had when it entered the build.
    pub fn org_id(&self) -> ResId {
        self.prev_ids()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.id())
    }

    /// The previous ids followed by the current one.
    pub fn all_ids(&self) -> Vec<ResId> {
        let mut ids = self.prev_ids();
        ids.push(self.id());
        ids
    }

    /// True when the current or any previous id satisfies `matches`.
    pub fn any_id(&self, matches: impl Fn(&ResId) -> bool) -> bool {
        self.all_ids().iter().any(matches)
    }
}

/// Makes `value` an object (replacing a scalar or list) and returns its map.
pub(crate) fn ensure_object(value: &mut Value) -> &mut Map {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("just made an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn previous_ids_keep_current_group_version() {
        let mut r = Resource::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}}),
        );
        r.store_previous_id();
        r.set_name("p-a");
        assert_eq!(r.org_id().to_string(), "Deployment.v1.apps/a.default");
        assert_eq!(r.id().to_string(), "Deployment.v1.apps/p-a.[noNs]");
        assert!(r.any_id(|id| id.name == "a"));
    }
}
