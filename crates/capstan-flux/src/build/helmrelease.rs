//! One HelmRelease rendered as helm-controller would install it: the chart located (a path in
//! this repository for GitRepository/Bucket sources; HelmRepository and OCIRepository charts only
//! from the local chart cache, else reported "chart not available offline"), the values merged
//! ([`crate::helm::values`]), `helm template` run through a [`HelmRenderer`] with the release
//! name and namespace, CRDs per `install.crds`, then the `postRenderers`' kustomize patches and
//! images applied with the kustomize engine.

use std::path::{Path, PathBuf};

use capstan_core::{Fs, MemFs, Value};

use crate::helm::values::{ValuesError, merge_values};
use crate::helm::{HelmError, HelmRenderer, RenderRequest, release_name};

/// Why a release did not render.
#[derive(Debug, thiserror::Error)]
pub enum HrBuildError {
    #[error("{0}")]
    Values(#[from] ValuesError),
    #[error("{0}")]
    Helm(#[from] HelmError),
    #[error("chart {chart} not found at {}", .path.display())]
    ChartMissing { chart: String, path: PathBuf },
    #[error("post-renderer failed: {0}")]
    PostRender(String),
}

/// Where the chart is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartLocation {
    /// A directory readable through the repository's [`Fs`].
    Local(PathBuf),
    /// A chart that needs the network, described for the report.
    Remote(String),
}

/// Locates the chart of `release`. `source_is_local` tells whether its source is this
/// repository; `root` is the repository root; `cache` the on-disk chart cache (charts stored as
/// `<cache>/<chart>-<version>/` directories).
pub fn locate_chart(
    fs: &dyn Fs,
    root: &Path,
    release: &Value,
    source_is_local: bool,
    cache: Option<&Path>,
) -> Result<ChartLocation, HrBuildError> {
    let chart = release
        .pointer("/spec/chart/spec/chart")
        .and_then(Value::as_str);
    let version = release
        .pointer("/spec/chart/spec/version")
        .and_then(Value::as_str)
        .unwrap_or("*");
    let source_kind = release
        .pointer("/spec/chart/spec/sourceRef/kind")
        .or_else(|| release.pointer("/spec/chartRef/kind"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let source_name = release
        .pointer("/spec/chart/spec/sourceRef/name")
        .or_else(|| release.pointer("/spec/chartRef/name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(chart) = chart
        && source_is_local
        && matches!(source_kind, "GitRepository" | "Bucket")
    {
        let dir = capstan_core::fs::normalize(&root.join(chart.trim_start_matches("./")));
        if !fs.is_file(&dir.join("Chart.yaml")) {
            return Err(HrBuildError::ChartMissing {
                chart: chart.to_owned(),
                path: dir,
            });
        }
        return Ok(ChartLocation::Local(dir));
    }
    if let (Some(cache), Some(chart)) = (cache, chart)
        && !version.contains(['*', '>', '<', '~', '^', ' ', 'x'])
    {
        let dir = cache.join(format!("{chart}-{version}"));
        if dir.join("Chart.yaml").is_file() {
            return Ok(ChartLocation::Local(dir));
        }
    }
    Ok(ChartLocation::Remote(match chart {
        Some(chart) => format!("chart {chart} version {version} from {source_kind} {source_name}"),
        None => format!("chart from {source_kind} {source_name}"),
    }))
}

/// Renders a release whose chart is at `chart_dir` (read through `chart_fs`).
#[allow(clippy::too_many_arguments)]
pub fn render_release(
    renderer: &dyn HelmRenderer,
    chart_fs: &dyn Fs,
    chart_dir: &Path,
    release: &Value,
    lookup: &dyn Fn(&str, &str) -> Option<Value>,
    kube_version: Option<&str>,
    api_versions: &[String],
) -> Result<(Vec<Value>, Value), HrBuildError> {
    let namespace = release
        .pointer("/spec/targetNamespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            release
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
        })
        .unwrap_or("default")
        .to_owned();
    let own_namespace = release
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let values = merge_values(release, own_namespace, lookup)?;
    let crds = release
        .pointer("/spec/install/crds")
        .and_then(Value::as_str)
        .unwrap_or("Create");
    let name = release_name(release);
    let request = RenderRequest {
        release_name: &name,
        namespace: &namespace,
        chart_dir,
        fs: chart_fs,
        values: &values,
        include_crds: crds != "Skip",
        kube_version,
        api_versions,
    };
    let mut objects = renderer.render(&request)?;
    if let Some(Value::Array(post_renderers)) = release.pointer("/spec/postRenderers") {
        for post in post_renderers {
            if let Some(kustomize) = post.get("kustomize") {
                objects = post_render(objects, kustomize)?;
            }
        }
    }
    Ok((objects, Value::Object(values)))
}

/// helm-controller's kustomize post-renderer: the rendered manifests as the only resource of a
/// kustomization with the post-renderer's patches and images.
fn post_render(objects: Vec<Value>, spec: &Value) -> Result<Vec<Value>, HrBuildError> {
    let fs = MemFs::new();
    fs.add_file(
        "post/resources.yaml",
        capstan_core::yaml::to_yaml_stream(objects.iter()),
    );
    let mut kus = capstan_core::Map::new();
    kus.insert(
        "resources".into(),
        Value::Array(vec!["resources.yaml".into()]),
    );
    for field in ["patches", "images"] {
        if let Some(items) = spec.get(field).filter(|v| v.is_array()) {
            kus.insert(field.into(), items.clone());
        }
    }
    if let Some(Value::Array(items)) = spec.get("patchesStrategicMerge") {
        let texts = items
            .iter()
            .map(|p| Value::String(capstan_core::yaml::to_yaml(p)))
            .collect();
        kus.insert("patchesStrategicMerge".into(), Value::Array(texts));
    }
    if let Some(Value::Array(items)) = spec.get("patchesJson6902") {
        let converted = items
            .iter()
            .map(|p| {
                let mut out = capstan_core::Map::new();
                out.insert(
                    "patch".into(),
                    serde_json::to_string(p.get("patch").unwrap_or(&Value::Null))
                        .unwrap_or_default()
                        .into(),
                );
                if let Some(target) = p.get("target") {
                    out.insert("target".into(), target.clone());
                }
                Value::Object(out)
            })
            .collect();
        kus.insert("patchesJson6902".into(), Value::Array(converted));
    }
    fs.add_file(
        "post/kustomization.yaml",
        capstan_core::yaml::to_yaml(&Value::Object(kus)),
    );
    let options = capstan_kustomize::Options {
        reorder: capstan_kustomize::Reorder::None,
        ..Default::default()
    };
    let resmap = capstan_kustomize::build(&fs, Path::new("post"), &options)
        .map_err(|e| HrBuildError::PostRender(e.to_string()))?;
    Ok(resmap
        .into_resources()
        .into_iter()
        .map(|r| r.object)
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Echo;

    impl HelmRenderer for Echo {
        fn render(&self, request: &RenderRequest<'_>) -> Result<Vec<Value>, HelmError> {
            Ok(vec![json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": request.release_name, "namespace": request.namespace},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1"}]}},
                          "replicas": request.values.get("replicas").cloned().unwrap_or(Value::Null)}
            })])
        }
    }

    #[test]
    fn values_release_name_and_post_renderers() {
        let release = json!({
            "metadata": {"name": "web", "namespace": "flux-system"},
            "spec": {"targetNamespace": "apps", "values": {"replicas": 2},
                "postRenderers": [{"kustomize": {
                    "images": [{"name": "nginx", "newTag": "2"}],
                    "patches": [{"patch": "- op: add\n  path: /metadata/labels\n  value: {patched: 'yes'}", "target": {"kind": "Deployment"}}]
                }}]}
        });
        let fs = MemFs::new();
        let (objects, values) = render_release(
            &Echo,
            &fs,
            Path::new("chart"),
            &release,
            &|_: &str, _: &str| None,
            None,
            &[],
        )
        .unwrap();
        assert_eq!(values, json!({"replicas": 2}));
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["metadata"]["name"], "apps-web");
        assert_eq!(objects[0]["metadata"]["namespace"], "apps");
        assert_eq!(objects[0]["metadata"]["labels"]["patched"], "yes");
        assert_eq!(
            objects[0]["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:2"
        );
    }

    #[test]
    fn chart_location() {
        let fs = MemFs::from_files([("charts/web/Chart.yaml", "name: web")]);
        let local = json!({"spec": {"chart": {"spec": {"chart": "./charts/web", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}}});
        assert_eq!(
            locate_chart(&fs, Path::new("."), &local, true, None).unwrap(),
            ChartLocation::Local("charts/web".into())
        );
        let missing = json!({"spec": {"chart": {"spec": {"chart": "./charts/nope", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}}});
        assert!(locate_chart(&fs, Path::new("."), &missing, true, None).is_err());
        let remote = json!({"spec": {"chart": {"spec": {"chart": "podinfo", "version": "6.3.2", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}});
        assert!(matches!(
            locate_chart(&fs, Path::new("."), &remote, false, None).unwrap(),
            ChartLocation::Remote(_)
        ));
    }
}
