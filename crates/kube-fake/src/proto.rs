//! Just enough of the Kubernetes protobuf encoding to read what clients send that way: client-go
//! typed clients (helm's release storage, `kubectl create namespace`) write core/v1 Secrets,
//! ConfigMaps, Namespaces and ServiceAccounts, and DeleteOptions,
//! as `application/vnd.kubernetes.protobuf` — the `k8s\0` envelope around a `runtime.Unknown`.
//! Responses are always JSON (clients accept it). Other kinds are answered 415.

use serde_json::{Map, Value, json};

use crate::status::ApiError;

/// The protobuf media type.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut out = 0u64;
    let mut shift = 0;
    loop {
        let byte = *b.get(*i)?;
        *i += 1;
        out |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(out);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

fn fields(b: &[u8]) -> Option<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let tag = varint(b, &mut i)?;
        let (num, ty) = (tag >> 3, tag & 7);
        let w = match ty {
            0 => Wire::Varint(varint(b, &mut i)?),
            1 => {
                i += 8;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(varint(b, &mut i)?).ok()?;
                let s = b.get(i..i.checked_add(len)?)?;
                i += len;
                Wire::Bytes(s)
            }
            5 => {
                i += 4;
                Wire::Fixed
            }
            _ => return None,
        };
        out.push((num, w));
    }
    Some(out)
}

fn string(w: &Wire<'_>) -> String {
    match w {
        Wire::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

fn map_entry(w: &Wire<'_>) -> Option<(String, Vec<u8>)> {
    let Wire::Bytes(b) = w else { return None };
    let mut k = String::new();
    let mut v = Vec::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, f) => k = string(&f),
            (2, Wire::Bytes(x)) => v = x.to_vec(),
            _ => {}
        }
    }
    Some((k, v))
}

fn object_meta(b: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    let mut owners = Vec::new();
    for (n, f) in fields(b)? {
        match n {
            1 => {
                m.insert("name".into(), json!(string(&f)));
            }
            2 => {
                m.insert("generateName".into(), json!(string(&f)));
            }
            3 => {
                m.insert("namespace".into(), json!(string(&f)));
            }
            5 => {
                m.insert("uid".into(), json!(string(&f)));
            }
            6 => {
                m.insert("resourceVersion".into(), json!(string(&f)));
            }
            11 | 12 => {
                if let Some((k, v)) = map_entry(&f) {
                    let target = if n == 11 {
                        &mut labels
                    } else {
                        &mut annotations
                    };
                    target.insert(k, json!(String::from_utf8_lossy(&v)));
                }
            }
            13 => {
                if let Wire::Bytes(ob) = f {
                    let mut o = Map::new();
                    for (on, of) in fields(ob)? {
                        let key = match on {
                            1 => "kind",
                            3 => "name",
                            4 => "uid",
                            5 => "apiVersion",
                            6 => "controller",
                            7 => "blockOwnerDeletion",
                            _ => continue,
                        };
                        let v = match of {
                            Wire::Varint(x) => json!(x != 0),
                            other => json!(string(&other)),
                        };
                        o.insert(key.into(), v);
                    }
                    owners.push(Value::Object(o));
                }
            }
            14 => finalizers.push(json!(string(&f))),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    if !owners.is_empty() {
        m.insert("ownerReferences".into(), Value::Array(owners));
    }
    m.retain(|_, v| v.as_str() != Some(""));
    Some(Value::Object(m))
}

fn secret_or_configmap(kind: &str, api_version: &str, b: &[u8]) -> Option<Value> {
    use base64::Engine;
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    let mut data = Map::new();
    let mut other = Map::new();
    for (n, f) in fields(b)? {
        match (kind, n) {
            (_, 1) => {
                if let Wire::Bytes(mb) = f {
                    obj["metadata"] = object_meta(mb)?;
                }
            }
            ("Secret", 2) => {
                let (k, v) = map_entry(&f)?;
                data.insert(
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(v)),
                );
            }
            ("Secret", 3) => obj["type"] = json!(string(&f)),
            ("Secret", 4) | ("ConfigMap", 2) => {
                let (k, v) = map_entry(&f)?;
                let target = if kind == "Secret" {
                    &mut other
                } else {
                    &mut data
                };
                target.insert(k, json!(String::from_utf8_lossy(&v)));
            }
            ("ConfigMap", 3) => {
                let (k, v) = map_entry(&f)?;
                other.insert(
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(v)),
                );
            }
            (_, 5) if kind == "Secret" => {
                if let Wire::Varint(x) = f {
                    obj["immutable"] = json!(x != 0);
                }
            }
            ("ConfigMap", 4) => {
                if let Wire::Varint(x) = f {
                    obj["immutable"] = json!(x != 0);
                }
            }
            _ => {}
        }
    }
    if !data.is_empty() {
        obj["data"] = Value::Object(data);
    }
    if !other.is_empty() {
        let key = if kind == "Secret" {
            "stringData"
        } else {
            "binaryData"
        };
        obj[key] = Value::Object(other);
    }
    Some(obj)
}

fn metadata_only(kind: &str, api_version: &str, b: &[u8]) -> Option<Value> {
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    for (n, f) in fields(b)? {
        if let (1, Wire::Bytes(mb)) = (n, f) {
            obj["metadata"] = object_meta(mb)?;
        }
    }
    Some(obj)
}

fn delete_options(b: &[u8]) -> Option<Value> {
    let mut o = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
    for (n, f) in fields(b)? {
        match (n, f) {
            (3, Wire::Varint(x)) => o["orphanDependents"] = json!(x != 0),
            (4, f) => o["propagationPolicy"] = json!(string(&f)),
            (5, f) => {
                let list = o.as_object_mut()?.entry("dryRun").or_insert(json!([]));
                list.as_array_mut()?.push(json!(string(&f)));
            }
            _ => {}
        }
    }
    Some(o)
}

/// Decodes a protobuf-encoded request body into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let bad = || ApiError::bad_request("the protobuf body of the request could not be decoded");
    let inner = body.strip_prefix(b"k8s\x00").ok_or_else(bad)?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (n, f) in fields(inner).ok_or_else(bad)? {
        match (n, f) {
            (1, Wire::Bytes(tm)) => {
                for (tn, tf) in fields(tm).ok_or_else(bad)? {
                    match tn {
                        1 => api_version = string(&tf),
                        2 => kind = string(&tf),
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(r)) => raw = r,
            _ => {}
        }
    }
    let out = match kind.as_str() {
        "Secret" | "ConfigMap" => secret_or_configmap(&kind, &api_version, raw),
        "DeleteOptions" => delete_options(raw),
        // Kinds whose create carries nothing kubectl sets but metadata (`kubectl create namespace`).
        "Namespace" | "ServiceAccount" => metadata_only(&kind, &api_version, raw),
        _ => {
            return Err(ApiError::unsupported_media(&format!(
                "{CONTENT_TYPE} ({api_version} {kind})"
            )));
        }
    };
    out.ok_or_else(bad)
}
