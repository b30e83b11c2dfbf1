//! ConfigMaps and Secrets the Flux Operator fills from another object: a ResourceSet resource
//! annotated `fluxcd.controlplane.io/copyFrom: <namespace>/<name>` is applied with the data of
//! that object of the same kind (its `data`, `stringData` and `binaryData`), its own metadata
//! kept. [`CopiedObject::resolve`] gives the manifest a `substituteFrom`/`valuesFrom` on it
//! reads: the source's data when the cluster's build renders the source, the source's
//! `<runtime:KEY>` placeholders when the source exists only at runtime, and
//! [`CopyError::SourceMissing`] otherwise (the operator cannot apply the object either).

use capstan_core::Value;

use super::runtime::{RuntimeObject, copy_from};

/// A generated ConfigMap or Secret whose data comes from another object.
#[derive(Debug, Clone, PartialEq)]
pub struct CopiedObject {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The `(namespace, name)` of the object of the same kind it copies.
    pub from: (String, String),
    /// The object as the ResourceSet writes it.
    pub manifest: Value,
}

/// Why a copied object's data cannot be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    #[error(
        "{kind} {namespace}/{name} copies {kind} {from} (fluxcd.controlplane.io/copyFrom), which this repository neither renders nor arranges to exist"
    )]
    SourceMissing {
        kind: String,
        namespace: String,
        name: String,
        from: String,
    },
}

/// Where the copied data came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Copied {
    /// The source is rendered: its data.
    Rendered(Value),
    /// The source exists only at runtime: its placeholders.
    Runtime(Value, RuntimeObject),
}

impl CopiedObject {
    /// The copied object `value` (applied in `namespace`) is, if it is a v1 ConfigMap or Secret
    /// carrying the annotation.
    pub fn of(value: &Value, namespace: &str) -> Option<CopiedObject> {
        let kind = value.get("kind").and_then(Value::as_str)?;
        if !matches!(kind, "ConfigMap" | "Secret")
            || value.get("apiVersion").and_then(Value::as_str) != Some("v1")
        {
            return None;
        }
        let from = copy_from(value)?;
        let name = value.pointer("/metadata/name").and_then(Value::as_str)?;
        let namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or(namespace);
        Some(CopiedObject {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            from,
            manifest: value.clone(),
        })
    }

    /// The object with its data taken from `source` (the object it copies, rendered), or from
    /// `runtime` (the source, known to exist only at runtime).
    pub fn resolve(
        &self,
        source: Option<&Value>,
        runtime: Option<&RuntimeObject>,
    ) -> Result<Copied, CopyError> {
        if let Some(source) = source {
            return Ok(Copied::Rendered(self.with_data_of(source)));
        }
        if let Some(runtime) = runtime {
            return Ok(Copied::Runtime(
                self.with_data_of(&runtime.placeholder()),
                runtime.clone(),
            ));
        }
        Err(CopyError::SourceMissing {
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            from: format!("{}/{}", self.from.0, self.from.1),
        })
    }

    fn with_data_of(&self, source: &Value) -> Value {
        let mut manifest = self.manifest.clone();
        if let Some(object) = manifest.as_object_mut() {
            for field in ["data", "stringData", "binaryData"] {
                match source.get(field) {
                    Some(data) => {
                        object.insert(field.to_owned(), data.clone());
                    }
                    None => {
                        object.remove(field);
                    }
                }
            }
        }
        manifest
    }
}
