//! The typed outcome of one Flux object's build, as every command reads it: why it was skipped
//! or failed ([`Reason`], never to be recovered from message text), the effective spec the
//! controller acts on ([`Effective`], entry points included), and each rendered object's Flux
//! inventory id ([`inventory_id`]).

use std::path::PathBuf;

use capstan_core::Value;
use serde::Serialize;

use crate::model::ObjectKey;

/// Why a Kustomization or HelmRelease was not rendered ([`super::Status::Skipped`],
/// [`super::Status::Suspended`], [`super::Status::Unchanged`]) or failed
/// ([`super::Status::Failed`]). The message shown to people is kept beside it
/// ([`super::BuildResult::errors`]); commands decide from this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// `spec.suspend: true`.
    Suspended,
    /// Applied by a suspended Kustomization.
    SuspendedAncestor { ancestor: ObjectKey },
    /// Left out by a changed-only build: none of its inputs changed.
    NotInScope,
    /// Its source is another repository, a Bucket or an OCI artifact.
    SourceNotInRepository { source: ObjectKey },
    /// Its source is declared nowhere in this repository.
    SourceNotDeclared { source: ObjectKey },
    /// The chart is remote and not in the chart cache (offline, or no fetcher).
    ChartUnavailableOffline { chart: String },
    /// The chart could not be fetched (network, HTTP, registry).
    ChartUnreachable { chart: String },
    /// No `helm` binary to render charts with.
    HelmNotFound,
    /// The build was asked not to render HelmReleases.
    HelmReleasesNotRendered,
    /// A remote kustomize resource could not be fetched (offline or unreachable).
    RemoteResourceUnavailable { url: String },
    /// Strict substitution met `${name}` with no value and no default.
    MissingVariable { variable: String, line: usize },
    /// A `substituteFrom` ConfigMap or Secret the repository does not render.
    MissingSubstituteFrom {
        kind: String,
        name: String,
        namespace: String,
    },
    /// Any other problem of `spec.postBuild` or substitution.
    Substitution,
    /// A SOPS-encrypted object could not be decrypted.
    Decryption { object: String },
    /// `spec.path` does not exist, escapes the repository, or is excluded from the artifact.
    Path { path: PathBuf },
    /// kustomize failed (a file, a patch, a generator…); `file` when the error names one.
    Kustomize { file: Option<PathBuf> },
    /// The chart, its values or helm's rendering failed.
    Chart,
    /// The Kustomization could not be scheduled (a dependency it waits on never finished).
    Unscheduled,
}

impl Reason {
    /// True when the object was left out on purpose or for want of something outside the
    /// repository (not a fault of the repository): shown as skipped, never as failed.
    pub fn is_skip(&self) -> bool {
        matches!(
            self,
            Reason::Suspended
                | Reason::SuspendedAncestor { .. }
                | Reason::NotInScope
                | Reason::SourceNotInRepository { .. }
                | Reason::SourceNotDeclared { .. }
                | Reason::ChartUnavailableOffline { .. }
                | Reason::ChartUnreachable { .. }
                | Reason::HelmNotFound
                | Reason::HelmReleasesNotRendered
                | Reason::RemoteResourceUnavailable { .. }
        )
    }

    /// A stable short code for reports (`flux/undefined-variable`, `flux/build-failed`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::MissingVariable { .. } => "flux/undefined-variable",
            Reason::MissingSubstituteFrom { .. } => "flux/missing-substitute-from",
            Reason::Decryption { .. } => "flux/decryption-failed",
            _ => "flux/build-failed",
        }
    }
}

/// The spec the controller acts on — for a Kustomization as its parent applies it (after the
/// parent's substitution), for an entry point as the repository declares it — with the fields
/// apply, prune and plan need read once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    /// The whole manifest (apiVersion, kind, metadata, spec).
    pub manifest: Value,
    pub prune: bool,
    pub wait: bool,
    pub force: bool,
    pub suspend: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<String>,
    /// `dependsOn`, as `namespace/name` (the namespace defaulted to the object's own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Value>,
}

impl Effective {
    /// Reads the fields of `manifest` (a Kustomization or HelmRelease) whose namespace is
    /// `namespace` when the manifest does not say.
    pub fn of(manifest: &Value, namespace: &str) -> Effective {
        let spec = |field: &str| manifest.get("spec").and_then(|s| s.get(field));
        let flag = |field: &str| spec(field).and_then(Value::as_bool).unwrap_or(false);
        let text = |field: &str| spec(field).and_then(Value::as_str).map(str::to_owned);
        let list = |field: &str| {
            spec(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let depends_on = list("dependsOn")
            .iter()
            .filter_map(|d| {
                let name = d.get("name").and_then(Value::as_str)?;
                let ns = d
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(namespace);
                Some(format!("{ns}/{name}"))
            })
            .collect();
        let is_helm_release = manifest.get("kind").and_then(Value::as_str) == Some("HelmRelease");
        Effective {
            manifest: manifest.clone(),
            // a HelmRelease's objects go with its release: helm deletes what it stops rendering
            prune: is_helm_release || flag("prune"),
            wait: flag("wait"),
            force: flag("force"),
            suspend: flag("suspend"),
            interval: text("interval"),
            timeout: text("timeout"),
            target_namespace: text("targetNamespace").filter(|t| !t.is_empty()),
            deletion_policy: text("deletionPolicy"),
            depends_on,
            health_checks: list("healthChecks"),
            health_check_exprs: list("healthCheckExprs"),
            decryption: spec("decryption").filter(|d| !d.is_null()).cloned(),
        }
    }
}

/// The id kustomize-controller records for `object` in its inventory:
/// `<namespace>_<name>_<group>_<kind>` (empty namespace for cluster-scoped objects, empty group
/// for the core group), with `:` in a name written `__` (RBAC names such as `system:metrics`).
pub fn inventory_id(object: &Value) -> String {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let api_version = text("/apiVersion");
    let group = match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None => "",
    };
    format!(
        "{}_{}_{}_{}",
        text("/metadata/namespace"),
        text("/metadata/name").replace(':', "__"),
        group,
        text("/kind")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inventory_ids_as_kustomize_controller_writes_them() {
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
                "_team-a__Namespace",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"}}),
                "apps_web_apps_Deployment",
            ),
            (
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:metrics"}}),
                "_system__metrics_rbac.authorization.k8s.io_ClusterRole",
            ),
        ];
        for (object, id) in cases {
            assert_eq!(inventory_id(&object), id);
        }
    }

    #[test]
    fn effective_spec_reads_the_fields_apply_and_plan_need() {
        let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"prune": true, "wait": true, "timeout": "5m", "interval": "10m",
                "targetNamespace": "apps", "dependsOn": [{"name": "infra"}, {"name": "db", "namespace": "data"}]}});
        let effective = Effective::of(&ks, "flux-system");
        assert!(effective.prune && effective.wait && !effective.force && !effective.suspend);
        assert_eq!(effective.timeout.as_deref(), Some("5m"));
        assert_eq!(effective.target_namespace.as_deref(), Some("apps"));
        assert_eq!(effective.depends_on, ["flux-system/infra", "data/db"]);
        let hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "web"}, "spec": {}});
        assert!(Effective::of(&hr, "apps").prune);
    }
}
