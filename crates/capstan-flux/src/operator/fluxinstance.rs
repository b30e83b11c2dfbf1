//! A Flux Operator `FluxInstance` (`fluxcd.controlplane.io/v1`) as a cluster root.
//!
//! An instance is declared directly, or as the values (`instance:`) of a HelmRelease of the
//! `flux-instance` chart, which creates the FluxInstance `flux` (its `fullnameOverride`) in the
//! release's namespace, with the chart's defaults (`distribution.version: 2.x`) under the values.
//!
//! Its `spec.sync` becomes the two objects the operator creates, in the instance's namespace and
//! named after `sync.name` (default: the namespace, as `flux bootstrap` names them): a source of
//! `sync.kind` (`GitRepository` with `ref.name`, `OCIRepository` with `ref.tag`, `Bucket` with
//! `bucketName` and `endpoint`; `interval` from the sync, default `1m`, written as Go prints a
//! duration (`5m0s`); `secretRef` from `pullSecret`; `provider`) and a Kustomization
//! (`interval: 10m0s`, `path`, `prune: true`) on it. The operator builds them with kustomize in
//! the instance's namespace together with Flux's manifests, under `spec.kustomize.patches`: a
//! patch targeting the sync objects (say, `spec.verify` added to the OCIRepository) is applied
//! to them here the same way, through capstan's kustomize engine. The operator's label and
//! annotation transformers then mark both objects as its own: `app.kubernetes.io/managed-by:
//! flux-operator`, `app.kubernetes.io/instance` (the namespace), `app.kubernetes.io/part-of:
//! flux` and `app.kubernetes.io/version` (the Flux version it resolved: written only when
//! `distribution.version` is an exact version, as the resolution of a range is not known offline),
//! with `kustomize.toolkit.fluxcd.io/ssa: Ignore` and `kustomize.toolkit.fluxcd.io/prune:
//! Disabled` so that a Kustomization also holding them neither applies nor prunes them.
//! Another sync kind, or a patch kustomize rejects, is a [`FluxInstanceError`] naming file,
//! document and field.

use std::path::{Path, PathBuf};

use capstan_core::Value;
use serde_json::json;

/// Where a FluxInstance was declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub name: String,
    pub namespace: String,
    /// The FluxInstance's `spec` (the chart's `instance:` values over its defaults).
    pub spec: Value,
    pub file: PathBuf,
    pub document: usize,
    /// `HelmRelease namespace/name` when the instance comes from the `flux-instance` chart.
    pub helm_release: Option<String>,
}

/// The objects the operator creates for `spec.sync`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sync {
    pub source: Value,
    pub kustomization: Value,
}

/// A FluxInstance whose sync cannot be turned into objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FluxInstanceError {
    #[error(
        "{}: document {document}: FluxInstance {name}: spec.sync.kind: unknown sync kind {kind:?} (GitRepository, OCIRepository or Bucket)",
        .file.display()
    )]
    UnknownSyncKind {
        file: PathBuf,
        document: usize,
        name: String,
        kind: String,
    },
    #[error("{}: document {document}: FluxInstance {name}: spec.sync.{field} is required", .file.display())]
    MissingField {
        file: PathBuf,
        document: usize,
        name: String,
        field: String,
    },
    #[error("{}: document {document}: FluxInstance {name}: spec.kustomize.patches: {message}", .file.display())]
    Patches {
        file: PathBuf,
        document: usize,
        name: String,
        message: String,
    },
}

impl FluxInstanceError {
    /// The field under the instance's spec the error is about (`sync.kind`, `kustomize.patches`).
    pub fn field(&self) -> String {
        match self {
            FluxInstanceError::UnknownSyncKind { .. } => "sync.kind".to_owned(),
            FluxInstanceError::MissingField { field, .. } => format!("sync.{field}"),
            FluxInstanceError::Patches { .. } => "kustomize.patches".to_owned(),
        }
    }
}

impl Instance {
    /// A `FluxInstance` manifest; `default_namespace` when it has none.
    pub fn declared(
        value: &Value,
        file: &Path,
        document: usize,
        default_namespace: &str,
    ) -> Instance {
        Instance {
            name: value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("flux")
                .to_owned(),
            namespace: value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(default_namespace)
                .to_owned(),
            spec: value.get("spec").cloned().unwrap_or(Value::Null),
            file: file.to_path_buf(),
            document,
            helm_release: None,
        }
    }

    /// The FluxInstance a HelmRelease of the `flux-instance` chart creates; `None` for other
    /// releases.
    pub fn from_helm_release(
        value: &Value,
        file: &Path,
        document: usize,
        default_namespace: &str,
    ) -> Option<Instance> {
        if !is_flux_instance_release(value) {
            return None;
        }
        let release_name = value.pointer("/metadata/name").and_then(Value::as_str)?;
        let namespace = value
            .pointer("/spec/targetNamespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .or_else(|| value.pointer("/metadata/namespace").and_then(Value::as_str))
            .filter(|n| !n.is_empty())
            .unwrap_or(default_namespace)
            .to_owned();
        let name = value
            .pointer("/spec/values/fullnameOverride")
            .and_then(Value::as_str)
            .unwrap_or("flux")
            .to_owned();
        let mut spec = json!({
            "distribution": {"version": "2.x", "registry": "ghcr.io/fluxcd",
                             "artifact": "oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:latest"},
        });
        if let Some(values) = value.pointer("/spec/values/instance") {
            merge(&mut spec, values);
        }
        Some(Instance {
            name,
            namespace: namespace.clone(),
            spec,
            file: file.to_path_buf(),
            document,
            helm_release: Some(format!("{namespace}/{release_name}")),
        })
    }

    /// The source and Kustomization of `spec.sync`; `None` without a sync.
    pub fn sync(&self) -> Result<Option<Sync>, FluxInstanceError> {
        let Some(sync) = self.spec.get("sync").filter(|s| s.is_object()) else {
            return Ok(None);
        };
        let text = |field: &str| sync.get(field).and_then(Value::as_str).unwrap_or("");
        let missing = |field: &str| FluxInstanceError::MissingField {
            file: self.file.clone(),
            document: self.document,
            name: self.name.clone(),
            field: field.to_owned(),
        };
        let kind = text("kind");
        if kind.is_empty() {
            return Err(missing("kind"));
        }
        let (api_version, reference) = match kind {
            "GitRepository" => (
                "source.toolkit.fluxcd.io/v1",
                json!({"ref": {"name": text("ref")}}),
            ),
            "OCIRepository" => (self.oci_api_version(), json!({"ref": {"tag": text("ref")}})),
            "Bucket" => (
                "source.toolkit.fluxcd.io/v1",
                json!({"bucketName": text("ref")}),
            ),
            other => {
                return Err(FluxInstanceError::UnknownSyncKind {
                    file: self.file.clone(),
                    document: self.document,
                    name: self.name.clone(),
                    kind: other.to_owned(),
                });
            }
        };
        if text("url").is_empty() {
            return Err(missing("url"));
        }
        if text("path").is_empty() {
            return Err(missing("path"));
        }
        let name = match text("name") {
            "" => self.namespace.as_str(),
            name => name,
        };
        let interval = match text("interval") {
            "" => "1m0s".to_owned(),
            interval => crate::model::parse_go_duration(interval)
                .map(go_duration_string)
                .unwrap_or_else(|| interval.to_owned()),
        };
        let mut spec = json!({"interval": interval});
        if let (Some(spec), Some(reference)) = (spec.as_object_mut(), reference.as_object()) {
            spec.extend(reference.clone());
            if !text("pullSecret").is_empty() {
                spec.insert("secretRef".into(), json!({"name": text("pullSecret")}));
            }
            if !text("provider").is_empty() {
                spec.insert("provider".into(), json!(text("provider")));
            }
            let url_field = if kind == "Bucket" { "endpoint" } else { "url" };
            spec.insert(url_field.into(), json!(text("url")));
        }
        let source = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        });
        let kustomization = json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {"interval": "10m0s", "path": text("path"), "prune": true,
                     "sourceRef": {"kind": kind, "name": name}},
        });
        let (mut source, mut kustomization) = self.patched(source, kustomization)?;
        for object in [&mut source, &mut kustomization] {
            self.mark_owned(object);
        }
        Ok(Some(Sync {
            source,
            kustomization,
        }))
    }

    /// The operator's ownership labels and annotations (set after the patches, as its
    /// transformers run after them).
    fn mark_owned(&self, object: &mut Value) {
        let mut labels = vec![
            ("app.kubernetes.io/managed-by", "flux-operator".to_owned()),
            ("app.kubernetes.io/instance", self.namespace.clone()),
            ("app.kubernetes.io/part-of", "flux".to_owned()),
        ];
        if let Some(version) = self.exact_version() {
            labels.push(("app.kubernetes.io/version", version));
        }
        let annotations = [
            ("kustomize.toolkit.fluxcd.io/ssa", "Ignore".to_owned()),
            ("kustomize.toolkit.fluxcd.io/prune", "Disabled".to_owned()),
        ];
        let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        for (field, entries) in [("labels", &labels[..]), ("annotations", &annotations[..])] {
            let map = metadata.entry(field).or_insert_with(|| json!({}));
            if !map.is_object() {
                *map = json!({});
            }
            if let Some(map) = map.as_object_mut() {
                for (key, value) in entries {
                    map.insert((*key).to_owned(), json!(value));
                }
            }
        }
    }

    /// `v2.7.3` for a `distribution.version` that names one version (`2.7.3`, `v2.7.3`); `None`
    /// for a range (`2.x`, `>=2.7.0`), which the operator resolves against its catalogue.
    fn exact_version(&self) -> Option<String> {
        let version = self
            .spec
            .pointer("/distribution/version")
            .and_then(Value::as_str)?
            .trim();
        let bare = version.strip_prefix('v').unwrap_or(version);
        let parts: Vec<&str> = bare.split('.').collect();
        (parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        .then(|| format!("v{bare}"))
    }

    /// The sync objects under `spec.kustomize.patches`, as the operator's kustomize build
    /// applies them (unchanged when there are none).
    fn patched(
        &self,
        source: Value,
        kustomization: Value,
    ) -> Result<(Value, Value), FluxInstanceError> {
        let patches = match self.spec.pointer("/kustomize/patches") {
            Some(Value::Array(patches)) if !patches.is_empty() => patches.clone(),
            _ => return Ok((source, kustomization)),
        };
        let fail = |message: String| FluxInstanceError::Patches {
            file: self.file.clone(),
            document: self.document,
            name: self.name.clone(),
            message,
        };
        let dir = Path::new("/flux-instance");
        let fs = capstan_core::MemFs::new();
        fs.add_file(
            dir.join("sync.yaml"),
            capstan_core::yaml::to_yaml_stream([&source, &kustomization]),
        );
        let file = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": self.namespace,
            "resources": ["sync.yaml"],
            "patches": patches,
        });
        fs.add_file(
            dir.join("kustomization.yaml"),
            capstan_core::yaml::to_yaml(&file),
        );
        let options = capstan_kustomize::Options {
            reorder: capstan_kustomize::Reorder::None,
            ..capstan_kustomize::Options::default()
        };
        let built = capstan_kustomize::build(&fs, dir, &options)
            .map_err(|e| fail(e.to_string().replace("/flux-instance/", "")))?;
        let mut objects = built.objects().cloned();
        match (objects.next(), objects.next()) {
            (Some(source), Some(kustomization)) => Ok((source, kustomization)),
            _ => Err(fail("a patch removed a sync object".to_owned())),
        }
    }

    /// OCIRepository is `v1` from Flux 2.6 on, `v1beta2` before.
    fn oci_api_version(&self) -> &'static str {
        match super::version::distribution_minor(&self.spec) {
            Some(minor) if minor < 6 => "source.toolkit.fluxcd.io/v1beta2",
            _ => "source.toolkit.fluxcd.io/v1",
        }
    }
}

/// A duration as Go's `time.Duration.String` prints it (`1m0s`, `1h30m0s`, `45s`, `500ms`).
pub fn go_duration_string(duration: std::time::Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = match nanos {
            n if n < 1_000 => ("ns", 1),
            n if n < 1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", fraction(nanos, scale));
    }
    let seconds = nanos / 1_000_000_000;
    let (hours, minutes) = (seconds / 3600, (seconds % 3600) / 60);
    let rest = nanos - (hours * 3600 + minutes * 60) * 1_000_000_000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", fraction(rest, 1_000_000_000)));
    out
}

/// `value / scale` with the fraction's trailing zeros dropped (`1.5`, `2`).
fn fraction(value: u128, scale: u128) -> String {
    let whole = value / scale;
    let rest = value % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// True for a HelmRelease of the `flux-instance` chart (by chart name, or a chartRef whose
/// OCIRepository is named so — the chart's conventional source name).
pub fn is_flux_instance_release(value: &Value) -> bool {
    if value.get("kind").and_then(Value::as_str) != Some("HelmRelease")
        || !value
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("helm.toolkit.fluxcd.io/"))
    {
        return false;
    }
    let chart = value
        .pointer("/spec/chart/spec/chart")
        .and_then(Value::as_str)
        .unwrap_or("");
    let chart_ref = value
        .pointer("/spec/chartRef/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    chart == "flux-instance" || chart.ends_with("/flux-instance") || chart_ref == "flux-instance"
}

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (k, v) in over {
                match base.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        base.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}
