//! Secrets and ConfigMaps the repository arranges to exist only at runtime: the target of an
//! `ExternalSecret`, the Secret a `SealedSecret` unseals to, a cert-manager `Certificate`'s
//! `secretName`, a 1Password `OnePasswordItem`'s Secret, and a ResourceSet-generated object
//! whose data the operator copies (`fluxcd.controlplane.io/copyFrom`).
//!
//! Their keys are known where the producer lists them (`spec.data[].secretKey`,
//! `spec.encryptedData`, a certificate's `tls.crt`/`tls.key`/`ca.crt`); their values never are.
//! [`RuntimeObject::placeholder`] stands in for such an object in `substituteFrom`/`valuesFrom`,
//! each value a marked placeholder `<runtime:KEY>`, so what depends on it still renders.

use capstan_core::{Map, Value};

/// The placeholder text of a value known only at runtime.
pub fn placeholder(key: &str) -> String {
    format!("<runtime:{key}>")
}

/// True for a value that is a [`placeholder`].
pub fn is_placeholder(value: &str) -> bool {
    value.starts_with("<runtime:") && value.ends_with('>')
}

/// Which keys a runtime object will hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeKeys {
    /// Exactly these.
    Known(Vec<String>),
    /// These and possibly others (`dataFrom`, a whole vault item).
    Open(Vec<String>),
}

/// A Secret or ConfigMap that exists only once something in the cluster makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeObject {
    /// `Secret` or `ConfigMap`.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// What makes it: `ExternalSecret security/cluster-secrets`.
    pub producer: String,
    pub keys: RuntimeKeys,
}

impl RuntimeObject {
    /// The runtime object `value` (applied in `namespace`) produces, if it is a producer.
    pub fn of(value: &Value, namespace: &str) -> Option<RuntimeObject> {
        let api_version = value.get("apiVersion").and_then(Value::as_str)?;
        let group = api_version.split('/').next().unwrap_or("");
        let kind = value.get("kind").and_then(Value::as_str)?;
        let own_name = value.pointer("/metadata/name").and_then(Value::as_str)?;
        let object_namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or(namespace);
        let keys_of = |pointer: &str| -> Vec<String> {
            value
                .pointer(pointer)
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let producer = format!("{kind} {object_namespace}/{own_name}");
        let secret = |name: &str, keys: RuntimeKeys| RuntimeObject {
            kind: "Secret".to_owned(),
            namespace: object_namespace.to_owned(),
            name: name.to_owned(),
            producer: producer.clone(),
            keys,
        };
        match (group, kind) {
            ("external-secrets.io", "ExternalSecret") => {
                let name = value
                    .pointer("/spec/target/name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(own_name);
                let mut keys: Vec<String> = value
                    .pointer("/spec/data")
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|i| i.get("secretKey").and_then(Value::as_str))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                keys.extend(keys_of("/spec/target/template/data"));
                let open = value
                    .pointer("/spec/dataFrom")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                let template_only = value.pointer("/spec/target/template/data").is_some()
                    && value
                        .pointer("/spec/target/template/mergePolicy")
                        .and_then(Value::as_str)
                        != Some("Merge");
                let keys = if template_only {
                    RuntimeKeys::Known(keys_of("/spec/target/template/data"))
                } else if open {
                    RuntimeKeys::Open(keys)
                } else {
                    RuntimeKeys::Known(keys)
                };
                Some(secret(name, keys))
            }
            ("bitnami.com", "SealedSecret") => {
                let name = value
                    .pointer("/spec/template/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or(own_name);
                let mut keys = keys_of("/spec/encryptedData");
                keys.extend(keys_of("/spec/template/data"));
                Some(secret(name, RuntimeKeys::Known(keys)))
            }
            ("cert-manager.io", "Certificate") => {
                let name = value.pointer("/spec/secretName").and_then(Value::as_str)?;
                Some(secret(
                    name,
                    RuntimeKeys::Known(vec![
                        "ca.crt".to_owned(),
                        "tls.crt".to_owned(),
                        "tls.key".to_owned(),
                    ]),
                ))
            }
            ("onepassword.com", "OnePasswordItem") => {
                Some(secret(own_name, RuntimeKeys::Open(Vec::new())))
            }
            _ => None,
        }
    }

    /// A stand-in manifest: every known key holds its [`placeholder`].
    pub fn placeholder(&self) -> Value {
        let keys = match &self.keys {
            RuntimeKeys::Known(k) | RuntimeKeys::Open(k) => k,
        };
        let mut data = Map::new();
        for key in keys {
            data.insert(key.clone(), Value::String(placeholder(key)));
        }
        let field = if self.kind == "Secret" {
            "stringData"
        } else {
            "data"
        };
        serde_json::json!({
            "apiVersion": "v1",
            "kind": self.kind,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "annotations": {"capstan.io/runtime-placeholder": self.producer},
            },
            field: data,
        })
    }

    /// True when the object may hold keys nobody in the repository lists.
    pub fn is_open(&self) -> bool {
        matches!(self.keys, RuntimeKeys::Open(_))
    }
}

/// A ResourceSet-generated ConfigMap or Secret annotated `fluxcd.controlplane.io/copyFrom:
/// namespace/name`: the `(namespace, name)` whose data the operator copies into it.
pub fn copy_from(value: &Value) -> Option<(String, String)> {
    let text = value
        .pointer("/metadata/annotations")?
        .get("fluxcd.controlplane.io/copyFrom")?
        .as_str()?;
    let (namespace, name) = text.split_once('/')?;
    Some((namespace.to_owned(), name.to_owned()))
}
