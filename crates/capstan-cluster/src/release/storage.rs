//! Helm's release storage, byte for byte: a release is a Secret `sh.helm.release.v1.NAME.vN`
//! of type `helm.sh/release.v1`, labelled `name`, `owner=helm`, `status`, `version` (plus
//! `createdAt` on create, `modifiedAt` on update, Unix seconds), whose `data.release` holds
//! base64(gzip(JSON of the release)) — base64 once more on the wire, as all Secret data is.
//!
//! The JSON is written as Go's `encoding/json` writes it (compact, `<`, `>`, `&` escaped, keys
//! in the order read), so a release decoded from what Helm wrote encodes back to the same JSON
//! bytes. The gzip stream itself is flate2's, not Go's: its bytes differ, its content does not,
//! and Helm (like helm-controller) reads any gzip — and data without the gzip magic as well.

use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use capstan_core::{Map, Value};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::Release;

/// The Secret type of a release.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";
/// The `owner` label's value.
pub const OWNER: &str = "helm";
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// A stored release that does not read.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{secret}: {field}: not valid base64")]
    Base64 { secret: String, field: &'static str },
    #[error("{secret}: data.release: not valid gzip: {reason}")]
    Gzip { secret: String, reason: String },
    #[error("{secret}: data.release: not a Helm release: {reason}")]
    Json { secret: String, reason: String },
    #[error("{secret}: data.release is missing")]
    Missing { secret: String },
}

/// The storage Secret's name of a release version.
pub fn secret_name(release: &str, version: i64) -> String {
    format!("sh.helm.release.v1.{release}.v{version}")
}

/// `data.release` as Helm writes it: base64(gzip-best(JSON)).
pub fn encode_release(release: &Release) -> String {
    let json = go_json(&release.json);
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(json.as_bytes());
    let bytes = gz.finish().unwrap_or_default();
    B64.encode(bytes)
}

/// Reads `data.release` (as Helm stores it, before the API's own base64). `secret` names the
/// Secret in errors.
pub fn decode_release(data: &str, secret: &str) -> Result<Release, StorageError> {
    let bytes = B64.decode(data.trim()).map_err(|_| StorageError::Base64 {
        secret: secret.to_owned(),
        field: "data.release",
    })?;
    let json = if bytes.len() > 3 && bytes[..3] == GZIP_MAGIC {
        let mut out = Vec::new();
        GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| StorageError::Gzip {
                secret: secret.to_owned(),
                reason: e.to_string(),
            })?;
        out
    } else {
        bytes
    };
    let value: Value = serde_json::from_slice(&json).map_err(|e| StorageError::Json {
        secret: secret.to_owned(),
        reason: e.to_string(),
    })?;
    Release::from_json(value).map_err(|reason| StorageError::Json {
        secret: secret.to_owned(),
        reason,
    })
}

/// Which write a Secret is for: Helm labels a created one `createdAt`, an updated one
/// `modifiedAt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretWrite {
    Create { unix_seconds: i64 },
    Update { unix_seconds: i64 },
}

/// The storage Secret of a release, as the API server receives it (`data` base64-encoded).
/// `labels` are the release's custom labels; Helm's own labels override them.
pub fn release_secret(release: &Release, labels: &Map, write: SecretWrite) -> Value {
    let mut all = labels.clone();
    all.insert("name".into(), Value::String(release.name().to_owned()));
    all.insert("owner".into(), Value::String(OWNER.into()));
    all.insert(
        "status".into(),
        Value::String(release.status().as_str().to_owned()),
    );
    all.insert(
        "version".into(),
        Value::String(release.version().to_string()),
    );
    match write {
        SecretWrite::Create { unix_seconds } => {
            all.insert("createdAt".into(), Value::String(unix_seconds.to_string()));
        }
        SecretWrite::Update { unix_seconds } => {
            all.insert("modifiedAt".into(), Value::String(unix_seconds.to_string()));
        }
    }
    let data = B64.encode(encode_release(release));
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(release.name(), release.version()),
            "namespace": release.namespace(),
            "labels": all,
        },
        "type": SECRET_TYPE,
        "data": {"release": data},
    })
}

/// Reads a storage Secret as the API server returns it.
pub fn release_from_secret(secret: &Value) -> Result<Release, StorageError> {
    let name = secret
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
        .to_owned();
    let wire = secret
        .pointer("/data/release")
        .and_then(Value::as_str)
        .ok_or_else(|| StorageError::Missing {
            secret: name.clone(),
        })?;
    let inner = B64.decode(wire).map_err(|_| StorageError::Base64 {
        secret: name.clone(),
        field: "data.release (the API's encoding)",
    })?;
    let inner = String::from_utf8(inner).map_err(|_| StorageError::Base64 {
        secret: name.clone(),
        field: "data.release",
    })?;
    decode_release(&inner, &name)
}

/// JSON as Go's `json.Marshal` writes it: compact, keys in the order held, HTML-safe escaping.
pub fn go_json(value: &Value) -> String {
    capstan_core::go_json::to_string(value, capstan_core::go_json::Keys::AsHeld)
}
