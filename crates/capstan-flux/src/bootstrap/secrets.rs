//! Secret values of a secret step, read from their sources and held so they cannot leak: a
//! [`SecretValue`] prints as `<redacted>`, is zeroed when dropped, and is only ever turned into
//! the bytes of a Kubernetes Secret. Sources are 1Password (the `op` CLI behind
//! [`OnePassword`]), SOPS files (capstan's native decryption) and the environment
//! ([`super::Machine`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_core::{Fs, Value};
use zeroize::Zeroizing;

use super::{Machine, SecretSource};
use crate::sops::{Keys, decrypt_document};

/// A secret value. Never printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    pub fn new(bytes: Vec<u8>) -> SecretValue {
        SecretValue(Zeroizing::new(bytes))
    }

    /// The bytes, for the Secret sent to the API server and nothing else.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a secret source could not be read. Messages name the source, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("{}: {reason}", file.display())]
    Sops { file: PathBuf, reason: String },
    #[error("{reference}: {reason}")]
    OnePassword { reference: String, reason: String },
    #[error("the environment variable {0} is not set")]
    Env(String),
}

/// Reads 1Password secret references.
pub trait OnePassword: Send + Sync {
    /// The value of `op://vault/item/field`.
    fn read(&self, reference: &str) -> Result<SecretValue, SecretError>;
}

/// The `op` CLI: `op read --no-newline REFERENCE` (signed in through `OP_SERVICE_ACCOUNT_TOKEN`
/// or a desktop session, as the user's shell is).
#[derive(Debug, Clone)]
pub struct OpCli {
    pub program: PathBuf,
}

impl OnePassword for OpCli {
    fn read(&self, reference: &str) -> Result<SecretValue, SecretError> {
        let error = |reason: String| SecretError::OnePassword {
            reference: reference.to_owned(),
            reason,
        };
        let output = Command::new(&self.program)
            .args(["read", "--no-newline", reference])
            .output()
            .map_err(|e| error(format!("{}: {e}", self.program.display())))?;
        if !output.status.success() {
            // op's message names the reference and the cause; it does not carry the value.
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(error(format!("op read failed: {}", stderr.trim())));
        }
        Ok(SecretValue::new(output.stdout))
    }
}

/// A value at a dotted `path` (`stringData.token`, `data.key`) of a SOPS-encrypted YAML or
/// JSON file (a `data.` value of a Secret manifest is base64-decoded).
pub fn sops_value(
    fs: &dyn Fs,
    root: &Path,
    file: &Path,
    path: &str,
    keys: &Keys,
) -> Result<SecretValue, SecretError> {
    let error = |reason: String| SecretError::Sops {
        file: file.to_path_buf(),
        reason,
    };
    let text = fs
        .read_to_string(&root.join(file))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => error("not found".into()),
            _ => error(e.to_string()),
        })?;
    let doc = capstan_core::yaml::parse_document(&text)
        .map_err(|e| error(format!("not YAML or JSON: {}", e.message)))?;
    if doc.get("sops").is_none() {
        return Err(error("not a SOPS-encrypted file".into()));
    }
    let decrypted = decrypt_document(&doc, keys, &file.display().to_string())
        .map_err(|e| error(strip_origin(&e.to_string(), file)))?;
    let mut at = &decrypted;
    for part in path.split('.') {
        at = at
            .get(part)
            .ok_or_else(|| error(format!("no value at {path}")))?;
    }
    let bytes = match at {
        Value::String(s) if path.starts_with("data.") && decrypted.get("kind").is_some() => {
            crate::substitute::base64_decode(s)
                .map_err(|_| error(format!("{path}: not valid base64")))?
        }
        Value::String(s) => s.clone().into_bytes(),
        Value::Number(n) => n.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        _ => return Err(error(format!("{path}: not a single value"))),
    };
    Ok(SecretValue::new(bytes))
}

fn strip_origin(message: &str, file: &Path) -> String {
    message
        .strip_prefix(&format!("{}: ", file.display()))
        .unwrap_or(message)
        .to_owned()
}

/// Reads one source.
pub fn read_source(
    source: &SecretSource,
    fs: &dyn Fs,
    root: &Path,
    keys: &Keys,
    machine: &dyn Machine,
    op: &dyn OnePassword,
) -> Result<SecretValue, SecretError> {
    match source {
        SecretSource::OnePassword { reference } => op.read(reference),
        SecretSource::Sops { file, path } => sops_value(fs, root, file, path, keys),
        SecretSource::Env { name } => machine
            .var(name)
            .map(|v| SecretValue::new(v.into_bytes()))
            .ok_or_else(|| SecretError::Env(name.clone())),
    }
}

/// The Secret a secret step applies, every source read (`data` base64-encoded, as the API
/// takes it). The manifest holds the values: it goes to the API server and nowhere else.
pub fn secret_manifest(
    step: &super::SecretStep,
    fs: &dyn Fs,
    root: &Path,
    keys: &Keys,
    machine: &dyn Machine,
    op: &dyn OnePassword,
) -> Result<Value, SecretError> {
    use base64::Engine as _;
    let mut data = capstan_core::Map::new();
    for entry in &step.data {
        let value = read_source(&entry.source, fs, root, keys, machine, op)?;
        data.insert(
            entry.key.clone(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(value.expose())),
        );
    }
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": step.name,
            "namespace": step.namespace,
            "labels": {"app.kubernetes.io/managed-by": "capstan-bootstrap"},
        },
        "type": step.secret_type,
        "data": data,
    }))
}
