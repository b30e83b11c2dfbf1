//! `HelmRelease` (`helm.toolkit.fluxcd.io` v2, v2beta2, v2beta1): a Helm chart from a source,
//! with values, installed as a release.

use capstan_core::{Map, Value};

use super::source::flux_object;
use super::{
    DependencyRef, Duration, Image, JsonPatch, KubeConfigReference, ObjectMeta, Patch, SourceRef,
};

flux_object!(
    /// A Flux HelmRelease.
    HelmRelease,
    HelmReleaseSpec
);

/// `HelmRelease.spec`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    /// A chart template, resolved into a HelmChart from a HelmRepository, GitRepository or Bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,
    /// A chart given directly by an OCIRepository or HelmChart (exclusive with `chart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<SourceRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    #[serde(default)]
    pub suspend: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<Value>,
    /// Install, upgrade, test, rollback and uninstall policies, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Value>,
    /// ConfigMaps and Secrets merged into the values, in order, before `values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesReference>,
    /// Inline values, merged last (before `targetPath` entries of `valuesFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Map>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_renderers: Vec<PostRenderer>,
}

impl HelmReleaseSpec {
    /// The source the chart comes from: `chart.spec.sourceRef` or `chartRef`.
    pub fn chart_source(&self) -> Option<&SourceRef> {
        self.chart
            .as_ref()
            .map(|c| &c.spec.source_ref)
            .or(self.chart_ref.as_ref())
    }
}

/// `spec.chart`: a template for the HelmChart helm-controller creates.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplate {
    pub spec: HelmChartTemplateSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// `spec.chart.spec`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// A chart name in a HelmRepository, or a path in a GitRepository/Bucket.
    pub chart: String,
    /// A semver range or exact version (HelmRepository charts only); `*` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub source_ref: SourceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// `ChartVersion` (default) or `Revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_strategy: Option<String>,
    /// Values files in the chart merged in order over its default values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// v2beta1 only: a single values file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_missing_values_files: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Value>,
}

/// An entry of `spec.valuesFrom`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    pub name: String,
    /// The data key holding the values; `values.yaml` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_key: Option<String>,
    /// Set the (single) value at this path instead of merging a YAML document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
    #[serde(default)]
    pub optional: bool,
}

impl ValuesReference {
    /// `valuesKey`, defaulted to `values.yaml`.
    pub fn key(&self) -> &str {
        self.values_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or("values.yaml")
    }
}

/// An entry of `spec.postRenderers`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostRenderer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizePostRenderer>,
}

/// `spec.postRenderers[].kustomize`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizePostRenderer {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// v2beta1 only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches_strategic_merge: Vec<Value>,
    /// v2beta1 only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches_json6902: Vec<JsonPatch>,
}
