//! The manifests step: repository paths applied with capstan's staged server-side apply
//! ([`crate::engine`]: CRDs and Namespaces first, then the rest), as one unit named
//! `bootstrap-<step>` whose inventory the engine keeps, then health-gated (kstatus) unless the
//! step says `wait: false`. A folder is built as Flux builds a Kustomization's path (its
//! `kustomization.yaml`, or every manifest in it); a file is read as it is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan_core::Fs;
use capstan_flux::build::kustomization::{RemoteFetch, build_manifests};
use capstan_flux::sops::{Keys, decrypt_documents, is_decryption_disabled, is_encrypted};
use serde_json::json;

use super::StepError;
use super::wait::{Gate, kstatus_gate};
use crate::cluster::Cluster;
use crate::engine::{Action, Engine, Options, Outcome};
use crate::id::ObjectRef;
use crate::normalize::Owner;
use crate::unit::{Desired, Unit};

/// The objects of `paths`, in the order the repository declares them.
pub fn render(
    fs: &dyn Fs,
    root: &Path,
    step: &str,
    paths: &[PathBuf],
    keys: &Keys,
) -> Result<Vec<Desired>, StepError> {
    let mut out = Vec::new();
    for path in paths {
        let full = root.join(path);
        let error = |message: String| StepError::Render {
            path: path.display().to_string(),
            message,
        };
        if fs.is_dir(&full) {
            let ks = json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": format!("bootstrap-{step}"), "namespace": "flux-system"},
                "spec": {"path": path.display().to_string()},
            });
            let remote = RemoteFetch {
                offline: true,
                network: Default::default(),
            };
            let built = build_manifests(fs, root, &full, &ks, keys, &remote)
                .map_err(|e| error(e.to_string()))?;
            out.extend(built.objects.into_iter().map(|o| Desired {
                object: o.object,
                file: o.file,
            }));
        } else {
            let text = fs.read_to_string(&full).map_err(|e| error(e.to_string()))?;
            let mut documents = capstan_core::yaml::parse_documents(&text)
                .map_err(|e| error(format!("not YAML: {}", e.message)))?;
            // A SOPS-encrypted file is decrypted as kustomize-controller would (one MAC over
            // every document); its ciphertext is never sent as if it were the value.
            if documents
                .first()
                .is_some_and(|d| is_encrypted(d) && !is_decryption_disabled(d))
            {
                documents = decrypt_documents(&documents, keys, &path.display().to_string())
                    .map_err(|e| error(format!("SOPS decryption: {e}")))?;
            }
            out.extend(
                documents
                    .into_iter()
                    .filter(|d| d.is_object())
                    .map(|object| Desired {
                        object,
                        file: Some(path.clone()),
                    }),
            );
        }
    }
    Ok(out)
}

/// The unit a step applies: owner `bootstrap-<step>` in `namespace`.
pub fn unit(step: &str, namespace: &str, objects: Vec<Desired>, timeout: Duration) -> Unit {
    let mut unit = Unit::new(
        Owner {
            name: format!("bootstrap-{step}"),
            namespace: namespace.to_owned(),
        },
        objects,
    );
    unit.timeout = timeout;
    unit
}

/// Applies the objects and, with `wait`, waits until they are Current.
pub async fn apply<C: Cluster>(
    cluster: &C,
    unit: &Unit,
    wait: bool,
    poll: Duration,
) -> Result<String, StepError> {
    let options = Options {
        wait,
        timeout: Some(unit.timeout),
        poll,
        ..Options::default()
    };
    let report = Engine::new(cluster, options).apply(unit).await;
    let failed: Vec<String> = report
        .objects
        .iter()
        .filter(|o| o.action == Action::Failed)
        .map(|o| match &o.error {
            Some(e) => format!("{}: {e}", o.object),
            None => o.object.to_string(),
        })
        .chain(report.errors.iter().cloned())
        .collect();
    if report.outcome != Outcome::Ready || !failed.is_empty() {
        let message = if failed.is_empty() {
            format!(
                "the objects did not become ready (outcome {:?})",
                report.outcome
            )
        } else {
            failed.join("; ")
        };
        return Err(StepError::Apply(message));
    }
    Ok(format!(
        "{} created, {} configured, {} unchanged",
        report.count(Action::Created),
        report.count(Action::Configured),
        report.count(Action::Unchanged)
    ))
}

/// The references of a unit's objects (a namespaced kind without a namespace in `default`).
pub fn refs(objects: &[Desired]) -> Vec<ObjectRef> {
    objects
        .iter()
        .filter_map(|d| ObjectRef::of(&d.object))
        .collect()
}

/// Whether every object exists (`None`) or which does not.
pub async fn missing<C: Cluster>(
    cluster: &C,
    refs: &[ObjectRef],
) -> Result<Option<String>, StepError> {
    for r in refs {
        let mut r = r.clone();
        if r.namespace.is_empty() && cluster.scope(&r).await? == Some(true) {
            r.namespace = "default".into();
        }
        if cluster.get(&r).await?.is_none() {
            return Ok(Some(r.to_string()));
        }
    }
    Ok(None)
}

/// Each object's gate: present and, when `wait`, Current.
pub async fn gates<C: Cluster>(cluster: &C, refs: &[ObjectRef], wait: bool) -> Vec<Gate> {
    let mut out = Vec::new();
    for r in refs {
        let mut r = r.clone();
        if r.namespace.is_empty() && matches!(cluster.scope(&r).await, Ok(Some(true))) {
            r.namespace = "default".into();
        }
        if wait {
            out.push(kstatus_gate(cluster, &r).await);
        } else {
            out.push(match cluster.get(&r).await {
                Ok(Some(_)) => Gate::ok(r.to_string(), "present"),
                Ok(None) => Gate::failing(r.to_string(), "not found"),
                Err(e) => Gate::failing(r.to_string(), e.to_string()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SOPS-encrypted file named directly in a manifests step is applied decrypted, as a
    /// folder's would be; with the wrong key the step fails instead of sending ciphertext.
    #[test]
    fn an_encrypted_file_is_decrypted_before_it_is_applied() {
        let sops =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../capstan-flux/tests/fixtures/sops");
        let keys = |file: &str| {
            let text = std::fs::read_to_string(sops.join("keys").join(file)).expect("key");
            Keys::parse(&text, file, false).expect("keys")
        };
        let paths = [PathBuf::from("encrypted/secret-all.yaml")];
        let objects = render(
            &capstan_core::OsFs,
            &sops,
            "creds",
            &paths,
            &keys("test-key.txt"),
        )
        .expect("renders");
        assert_eq!(objects.len(), 1);
        let secret = &objects[0].object;
        assert!(secret.get("sops").is_none(), "{secret}");
        assert_eq!(
            secret
                .pointer("/stringData/username")
                .and_then(|v| v.as_str()),
            Some("admin")
        );
        let wrong = render(
            &capstan_core::OsFs,
            &sops,
            "creds",
            &paths,
            &keys("wrong-key.txt"),
        );
        assert!(
            matches!(wrong, Err(StepError::Render { .. })),
            "{:?}",
            wrong.map(|o| o.len())
        );
    }
}
