//! The secret step: one Kubernetes Secret assembled from its sources (1Password through the
//! `op` CLI, SOPS files decrypted natively, the environment) and server-side applied. The
//! values exist only in the manifest sent to the API server: the step's summary, its errors and
//! the journal name the Secret and its keys, never a value, and the applied object the server
//! returns is dropped unread.

use std::path::Path;

use capstan_core::OsFs;
use capstan_flux::bootstrap::secrets::secret_manifest;
use capstan_flux::bootstrap::{Machine, OnePassword, SecretStep};
use capstan_flux::sops::Keys;
use serde_json::Value;

use super::StepError;
use super::wait::Gate;
use crate::cluster::Cluster;
use crate::id::ObjectRef;

/// The Secret's reference.
pub fn secret_ref(step: &SecretStep) -> ObjectRef {
    ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Secret".into(),
        namespace: step.namespace.clone(),
        name: step.name.clone(),
    }
}

/// Reads every source and applies the Secret.
pub async fn apply<C: Cluster>(
    cluster: &C,
    root: &Path,
    step: &SecretStep,
    keys: &Keys,
    machine: &dyn Machine,
    op: &dyn OnePassword,
) -> Result<String, StepError> {
    let manifest = secret_manifest(step, &OsFs, root, keys, machine, op)?;
    cluster.apply(&manifest, false).await?;
    drop(manifest);
    Ok(format!(
        "Secret {}/{} applied ({} key(s))",
        step.namespace,
        step.name,
        step.data.len()
    ))
}

/// The gate: the Secret exists and holds every key the step declares.
pub async fn gate<C: Cluster>(cluster: &C, step: &SecretStep) -> Gate {
    let r = secret_ref(step);
    match cluster.get(&r).await {
        Ok(Some(object)) => {
            let missing: Vec<&str> = step
                .data
                .iter()
                .map(|e| e.key.as_str())
                .filter(|k| {
                    object
                        .get("data")
                        .and_then(Value::as_object)
                        .is_none_or(|d| !d.contains_key(*k))
                })
                .collect();
            if missing.is_empty() {
                Gate::ok(r.to_string(), format!("{} key(s)", step.data.len()))
            } else {
                Gate::failing(
                    r.to_string(),
                    format!("missing key(s): {}", missing.join(", ")),
                )
            }
        }
        Ok(None) => Gate::failing(r.to_string(), "not found"),
        Err(e) => Gate::failing(r.to_string(), e.to_string()),
    }
}
