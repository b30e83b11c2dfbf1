//! Flux's objects as typed structs: the sources (GitRepository, OCIRepository, HelmRepository,
//! Bucket), Kustomization and HelmRelease, in every API version still met in real repositories.
//!
//! The structs follow the CRDs' field names. Like the Kubernetes API server (which prunes fields a
//! structural schema does not know), unknown fields are ignored; a field of the wrong type is an
//! error. Fields later stages need are typed; free-form parts (Helm `values`, install/upgrade
//! policies) stay as [`Value`]s. [`FluxObject::from_value`] reads any document and says whether it
//! is a Flux object of a kind capstan models.

mod common;
mod helmrelease;
mod kustomization;
mod source;

pub use common::*;
pub use helmrelease::*;
pub use kustomization::*;
pub use source::*;

use capstan_core::Value;

/// The kinds of Flux object capstan models.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum FluxKind {
    GitRepository,
    #[serde(rename = "OCIRepository")]
    OciRepository,
    HelmRepository,
    Bucket,
    Kustomization,
    HelmRelease,
}

impl FluxKind {
    /// The API group objects of this kind belong to.
    pub fn group(self) -> &'static str {
        match self {
            FluxKind::GitRepository
            | FluxKind::OciRepository
            | FluxKind::HelmRepository
            | FluxKind::Bucket => SOURCE_GROUP,
            FluxKind::Kustomization => KUSTOMIZE_GROUP,
            FluxKind::HelmRelease => HELM_GROUP,
        }
    }

    /// The API versions of this kind capstan reads.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            FluxKind::GitRepository
            | FluxKind::OciRepository
            | FluxKind::HelmRepository
            | FluxKind::Bucket => &["v1", "v1beta2", "v1beta1"],
            FluxKind::Kustomization => &["v1", "v1beta2", "v1beta1"],
            FluxKind::HelmRelease => &["v2", "v2beta2", "v2beta1"],
        }
    }

    /// The kind as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            FluxKind::GitRepository => "GitRepository",
            FluxKind::OciRepository => "OCIRepository",
            FluxKind::HelmRepository => "HelmRepository",
            FluxKind::Bucket => "Bucket",
            FluxKind::Kustomization => "Kustomization",
            FluxKind::HelmRelease => "HelmRelease",
        }
    }

    /// Reads a kind name as written in a `sourceRef` or manifest.
    pub fn parse(kind: &str) -> Option<FluxKind> {
        Some(match kind {
            "GitRepository" => FluxKind::GitRepository,
            "OCIRepository" => FluxKind::OciRepository,
            "HelmRepository" => FluxKind::HelmRepository,
            "Bucket" => FluxKind::Bucket,
            "Kustomization" => FluxKind::Kustomization,
            "HelmRelease" => FluxKind::HelmRelease,
            _ => return None,
        })
    }

    /// True for the source kinds.
    pub fn is_source(self) -> bool {
        matches!(
            self,
            FluxKind::GitRepository
                | FluxKind::OciRepository
                | FluxKind::HelmRepository
                | FluxKind::Bucket
        )
    }

    /// The kind that matches `apiVersion` and `kind`, when it is one capstan models.
    pub fn of(api_version: &str, kind: &str) -> Option<FluxKind> {
        let flux_kind = FluxKind::parse(kind)?;
        let (group, version) = capstan_core::resource::split_api_version(api_version);
        (group == flux_kind.group() && flux_kind.versions().contains(&version)).then_some(flux_kind)
    }
}

impl std::fmt::Display for FluxKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `source.toolkit.fluxcd.io`
pub const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";
/// `kustomize.toolkit.fluxcd.io`
pub const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
/// `helm.toolkit.fluxcd.io`
pub const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";

/// Any Flux object capstan models, typed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
// Every variant is large; boxing one would only move the cost.
#[allow(clippy::large_enum_variant)]
pub enum FluxObject {
    GitRepository(GitRepository),
    OciRepository(OciRepository),
    HelmRepository(HelmRepository),
    Bucket(Bucket),
    Kustomization(Kustomization),
    HelmRelease(HelmRelease),
}

/// A document that has a Flux `apiVersion`/`kind` but does not read as that kind.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {name}: {source}")]
pub struct ModelError {
    pub kind: FluxKind,
    /// `metadata.name` as far as it could be read.
    pub name: String,
    #[source]
    pub source: serde_json::Error,
}

impl FluxObject {
    /// Reads a document. `Ok(None)` when it is not a Flux object of a modelled kind and version;
    /// an error when it is one but a field has the wrong shape.
    pub fn from_value(value: &Value) -> Result<Option<FluxObject>, ModelError> {
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        let Some(flux_kind) = FluxKind::of(api_version, kind) else {
            return Ok(None);
        };
        let wrap = |source| ModelError {
            kind: flux_kind,
            name: value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("<unnamed>")
                .to_owned(),
            source,
        };
        let read = |v: &Value| -> Result<FluxObject, serde_json::Error> {
            Ok(match flux_kind {
                FluxKind::GitRepository => {
                    FluxObject::GitRepository(serde_json::from_value(v.clone())?)
                }
                FluxKind::OciRepository => {
                    FluxObject::OciRepository(serde_json::from_value(v.clone())?)
                }
                FluxKind::HelmRepository => {
                    FluxObject::HelmRepository(serde_json::from_value(v.clone())?)
                }
                FluxKind::Bucket => FluxObject::Bucket(serde_json::from_value(v.clone())?),
                FluxKind::Kustomization => {
                    FluxObject::Kustomization(serde_json::from_value(v.clone())?)
                }
                FluxKind::HelmRelease => {
                    FluxObject::HelmRelease(serde_json::from_value(v.clone())?)
                }
            })
        };
        read(value).map(Some).map_err(wrap)
    }

    pub fn kind(&self) -> FluxKind {
        match self {
            FluxObject::GitRepository(_) => FluxKind::GitRepository,
            FluxObject::OciRepository(_) => FluxKind::OciRepository,
            FluxObject::HelmRepository(_) => FluxKind::HelmRepository,
            FluxObject::Bucket(_) => FluxKind::Bucket,
            FluxObject::Kustomization(_) => FluxKind::Kustomization,
            FluxObject::HelmRelease(_) => FluxKind::HelmRelease,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            FluxObject::GitRepository(o) => &o.metadata,
            FluxObject::OciRepository(o) => &o.metadata,
            FluxObject::HelmRepository(o) => &o.metadata,
            FluxObject::Bucket(o) => &o.metadata,
            FluxObject::Kustomization(o) => &o.metadata,
            FluxObject::HelmRelease(o) => &o.metadata,
        }
    }

    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            FluxObject::GitRepository(o) => &mut o.metadata,
            FluxObject::OciRepository(o) => &mut o.metadata,
            FluxObject::HelmRepository(o) => &mut o.metadata,
            FluxObject::Bucket(o) => &mut o.metadata,
            FluxObject::Kustomization(o) => &mut o.metadata,
            FluxObject::HelmRelease(o) => &mut o.metadata,
        }
    }

    /// `apiVersion` as written.
    pub fn api_version(&self) -> &str {
        match self {
            FluxObject::GitRepository(o) => &o.api_version,
            FluxObject::OciRepository(o) => &o.api_version,
            FluxObject::HelmRepository(o) => &o.api_version,
            FluxObject::Bucket(o) => &o.api_version,
            FluxObject::Kustomization(o) => &o.api_version,
            FluxObject::HelmRelease(o) => &o.api_version,
        }
    }

    /// The object's key; the namespace is empty when the manifest has none.
    pub fn key(&self) -> ObjectKey {
        let meta = self.metadata();
        ObjectKey::new(
            self.kind(),
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone(),
        )
    }

    /// `spec.suspend`.
    pub fn suspended(&self) -> bool {
        match self {
            FluxObject::GitRepository(o) => o.spec.suspend,
            FluxObject::OciRepository(o) => o.spec.suspend,
            FluxObject::HelmRepository(o) => o.spec.suspend,
            FluxObject::Bucket(o) => o.spec.suspend,
            FluxObject::Kustomization(o) => o.spec.suspend,
            FluxObject::HelmRelease(o) => o.spec.suspend,
        }
    }
}

#[cfg(test)]
mod tests;
