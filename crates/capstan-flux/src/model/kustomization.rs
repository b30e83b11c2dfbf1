//! `Kustomization` (`kustomize.toolkit.fluxcd.io` v1, v1beta2): a path in a source, built with
//! kustomize, post-processed by Flux, and applied.

use std::collections::BTreeMap;

use capstan_core::Value;

use super::source::flux_object;
use super::{
    CommonMetadata, DependencyRef, Duration, Image, JsonPatch, KubeConfigReference,
    LocalObjectReference, ObjectMeta, Patch, SourceRef,
};

flux_object!(
    /// A Flux Kustomization.
    Kustomization,
    KustomizationSpec
);

/// `Kustomization.spec`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    pub source_ref: SourceRef,
    /// The directory in the source to build; `None` (or empty) means the source's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub wait: bool,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub suspend: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheckRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    /// v1beta2 only: strategic merge patches as objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches_strategic_merge: Vec<Value>,
    /// v1beta2 only: JSON6902 patches with targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches_json6902: Vec<JsonPatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Paths of kustomize components, relative to `path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(default)]
    pub ignore_missing_components: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// `MirrorPrune` (default), `Delete`, `WaitForTermination` or `Orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<String>,
    /// Fields left out of drift detection and apply (kustomize-controller v1.7+).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
}

/// An entry of `spec.ignore`: JSON pointers (RFC 6901) excluded from drift detection, for the
/// objects `target` selects (all of the Kustomization's objects when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreRule {
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<super::Selector>,
}

impl KustomizationSpec {
    /// `spec.path` with Flux's default: the source root when unset or empty.
    pub fn path_or_root(&self) -> &str {
        match self.path.as_deref() {
            Some(path) if !path.trim().is_empty() => path,
            _ => "./",
        }
    }
}

/// An entry of `spec.healthChecks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `spec.decryption`: how to decrypt SOPS-encrypted manifests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// Always `sops` today.
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
}

/// `spec.postBuild`: variable substitution after the kustomize build.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild {
    /// Inline variables; these win over `substituteFrom`. `substitute: null` is none, as the API
    /// server and Flux read it.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub substitute: BTreeMap<String, String>,
    /// ConfigMaps and Secrets whose data become variables, later entries overriding earlier ones.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub substitute_from: Vec<SubstituteReference>,
}

/// A field written `null` reads as its default (an empty map or list).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An entry of `spec.postBuild.substituteFrom`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubstituteReference {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    pub name: String,
    /// When true, a missing object is not an error.
    #[serde(default)]
    pub optional: bool,
}
