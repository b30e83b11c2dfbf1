//! What an object looks like before capstan applies it, as Flux prepares it: the owner labels
//! `kustomize.toolkit.fluxcd.io/name|namespace`, Secret `stringData` folded into `data`, the
//! `protocol: TCP` default on container and Service ports, and `status` dropped (except on CRDs,
//! whose status the server ignores anyway). Pure: returns the prepared object.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::policy::{NAME_LABEL, NAMESPACE_LABEL};

/// The Kustomization that owns what it applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Owner {
    pub name: String,
    pub namespace: String,
}

/// The object as capstan sends it.
pub fn prepare(object: &Value, owner: &Owner) -> Value {
    let mut object = object.clone();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(map) = object.as_object_mut() else {
        return object;
    };
    if kind != "CustomResourceDefinition" {
        map.remove("status");
    }
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.remove("creationTimestamp");
        let labels = metadata
            .entry("labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(NAME_LABEL.into(), Value::String(owner.name.clone()));
            labels.insert(
                NAMESPACE_LABEL.into(),
                Value::String(owner.namespace.clone()),
            );
        }
    }
    if kind == "Secret" {
        fold_string_data(map);
    }
    default_protocols(&mut object, &kind);
    object
}

fn fold_string_data(secret: &mut Map<String, Value>) {
    let Some(Value::Object(string_data)) = secret.remove("stringData") else {
        return;
    };
    let data = secret
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            if let Some(text) = value.as_str() {
                let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                data.insert(key, Value::String(encoded));
            }
        }
    }
}

fn default_protocols(object: &mut Value, kind: &str) {
    if kind == "Service" {
        if let Some(Value::Array(ports)) = object.pointer_mut("/spec/ports") {
            ports.iter_mut().for_each(default_protocol);
        }
        return;
    }
    let pod_spec = match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => "/spec/template/spec",
        _ => return,
    };
    let Some(spec) = object.pointer_mut(pod_spec) else {
        return;
    };
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers {
                if let Some(Value::Array(ports)) = container.get_mut("ports") {
                    ports.iter_mut().for_each(default_protocol);
                }
            }
        }
    }
}

fn default_protocol(port: &mut Value) {
    if let Some(port) = port.as_object_mut() {
        port.entry("protocol")
            .or_insert_with(|| Value::String("TCP".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prepares_as_flux_does() {
        let owner = Owner {
            name: "apps".into(),
            namespace: "flux-system".into(),
        };
        let secret = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","creationTimestamp":null},
            "stringData":{"a":"hi"},"data":{"b":"eA=="},"status":{"x":1}});
        let out = prepare(&secret, &owner);
        assert_eq!(out["data"], json!({"a":"aGk=","b":"eA=="}));
        assert!(out.get("stringData").is_none() && out.get("status").is_none());
        assert!(out["metadata"].get("creationTimestamp").is_none());
        assert_eq!(out["metadata"]["labels"][NAME_LABEL], "apps");
        assert_eq!(out["metadata"]["labels"][NAMESPACE_LABEL], "flux-system");

        let deploy = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
            "spec":{"template":{"spec":{"containers":[{"name":"c","ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}]}]}}}});
        let out = prepare(&deploy, &owner);
        assert_eq!(
            out.pointer("/spec/template/spec/containers/0/ports/0/protocol"),
            Some(&json!("TCP"))
        );
        assert_eq!(
            out.pointer("/spec/template/spec/containers/0/ports/1/protocol"),
            Some(&json!("UDP"))
        );
    }
}
