//! One HelmRelease rendered as helm-controller would install it: the chart located
//! ([`locate_chart`]: a path in this repository for GitRepository/Bucket sources, a chart
//! fetched from an HTTP HelmRepository through [`crate::charts::Charts`] — cache, offline mode,
//! one fetch per chart per build — and, in its marked arm, OCI charts; `valuesFiles` then
//! replace its `values.yaml` as source-controller packages it), the values merged
//! ([`crate::helm::values`]), `helm template` run through a [`HelmRenderer`] with the release
//! name and namespace, CRDs per `install.crds`, then the `postRenderers`' kustomize patches and
//! images applied with the kustomize engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use capstan_core::{Fs, MemFs, Value};

use crate::charts::oci::{self, LayerChoice, OciReference, OciSource};
use crate::charts::{ChartError, Charts, Credentials, HttpRepository, LoadedChart};
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
    #[error("{0}")]
    Chart(#[from] ChartError),
    #[error("{kind} {namespace}/{name}: {message}")]
    Source {
        kind: String,
        namespace: String,
        name: String,
        message: String,
    },
    #[error("spec.chart.spec.valuesFiles: {file}: {message}")]
    ValuesFile { file: String, message: String },
    #[error("post-renderer failed: {0}")]
    PostRender(String),
}

/// Where the chart is.
#[derive(Debug, Clone)]
pub enum ChartLocation {
    /// A directory readable through the repository's [`Fs`].
    Local(PathBuf),
    /// A chart fetched (or read from the chart cache), unpacked in memory.
    Fetched(Arc<LoadedChart>),
    /// A chart that was not fetched, described for the report.
    Remote(String),
}

impl PartialEq for ChartLocation {
    fn eq(&self, other: &ChartLocation) -> bool {
        match (self, other) {
            (ChartLocation::Local(a), ChartLocation::Local(b)) => a == b,
            (ChartLocation::Fetched(a), ChartLocation::Fetched(b)) => Arc::ptr_eq(a, b),
            (ChartLocation::Remote(a), ChartLocation::Remote(b)) => a == b,
            _ => false,
        }
    }
}

/// What [`locate_chart`] needs besides the release.
pub struct ChartContext<'a> {
    /// The repository and its root.
    pub fs: &'a dyn Fs,
    pub root: &'a Path,
    /// The release's source is this repository.
    pub source_is_local: bool,
    /// The source object (HelmRepository, OCIRepository) as the repository renders it.
    pub source: Option<&'a Value>,
    /// Secrets the repository renders: `(namespace, name)` → the Secret.
    pub secret: &'a dyn Fn(&str, &str) -> Option<Value>,
    /// The chart fetcher; `None` reports remote charts as not fetched.
    pub charts: Option<&'a Charts>,
}

/// Locates the chart of `release`.
pub fn locate_chart(
    context: &ChartContext<'_>,
    release: &Value,
) -> Result<ChartLocation, HrBuildError> {
    let text = |pointer: &str| release.pointer(pointer).and_then(Value::as_str);
    let chart = text("/spec/chart/spec/chart");
    let version = text("/spec/chart/spec/version")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or("*");
    let (source_kind, source_name) = match text("/spec/chart/spec/sourceRef/kind") {
        Some(kind) => (kind, text("/spec/chart/spec/sourceRef/name").unwrap_or("")),
        None => (
            text("/spec/chartRef/kind").unwrap_or(""),
            text("/spec/chartRef/name").unwrap_or(""),
        ),
    };
    let described = || match chart {
        Some(chart) => format!("chart {chart} version {version} from {source_kind} {source_name}"),
        None => format!("chart from {source_kind} {source_name}"),
    };
    if let Some(chart) = chart
        && context.source_is_local
        && matches!(source_kind, "GitRepository" | "Bucket")
    {
        let dir = capstan_core::fs::normalize(&context.root.join(chart.trim_start_matches("./")));
        if !context.fs.is_file(&dir.join("Chart.yaml")) {
            return Err(HrBuildError::ChartMissing {
                chart: chart.to_owned(),
                path: dir,
            });
        }
        return Ok(ChartLocation::Local(dir));
    }
    let Some(charts) = context.charts else {
        return Ok(ChartLocation::Remote(described()));
    };
    let is_oci_helm_repository = source_kind == "HelmRepository"
        && context.source.is_some_and(|s| {
            s.pointer("/spec/type").and_then(Value::as_str) == Some("oci")
                || s.pointer("/spec/url")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.starts_with("oci://"))
        });
    match (source_kind, chart) {
        // ── OCI ─────────────────────────────────────────────────────────────────────────────
        // HelmRepository `type: oci` and `spec.chartRef` → OCIRepository, pulled by
        // `crate::charts::oci` through the same cache and offline mode.
        ("HelmRepository", Some(chart)) if is_oci_helm_repository => {
            let source = declared(context.source)?;
            let mut oci = oci_source(
                source,
                "HelmRepository",
                context.secret,
                charts.registry_config(),
            )?;
            oci.client.share_network(charts.network());
            Ok(ChartLocation::Fetched(
                charts.oci_helm_chart(&oci, chart, version)?,
            ))
        }
        ("OCIRepository", _) => {
            let source = declared(context.source)?;
            let mut oci = oci_source(
                source,
                "OCIRepository",
                context.secret,
                charts.registry_config(),
            )?;
            oci.client.share_network(charts.network());
            let spec: crate::model::OciRepositorySpec =
                serde_json::from_value(source.get("spec").cloned().unwrap_or_default())
                    .map_err(|e| source_error(source, "OCIRepository", format!("spec: {e}")))?;
            let reference = OciReference::from_spec(spec.reference.as_ref());
            let layer = LayerChoice::from_selector(spec.layer_selector.as_ref());
            Ok(ChartLocation::Fetched(
                charts.oci_repository_chart(&oci, &reference, &layer)?,
            ))
        }
        // ── HTTP HelmRepository ─────────────────────────────────────────────────────────────
        ("HelmRepository", Some(chart)) => {
            let Some(source) = context.source else {
                return Err(HrBuildError::Source {
                    kind: source_kind.to_owned(),
                    namespace: source_namespace(release),
                    name: source_name.to_owned(),
                    message: "not declared in this repository".into(),
                });
            };
            let repository = http_repository(source, context.secret)?;
            Ok(ChartLocation::Fetched(charts.http(
                &repository,
                chart,
                version,
            )?))
        }
        _ => Ok(ChartLocation::Remote(described())),
    }
}

/// The namespace a release's `chart.spec.sourceRef` points into.
fn source_namespace(release: &Value) -> String {
    release
        .pointer("/spec/chart/spec/sourceRef/namespace")
        .or_else(|| release.pointer("/metadata/namespace"))
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned()
}

/// The source object, or the error for a source this repository does not declare.
fn declared(source: Option<&Value>) -> Result<&Value, HrBuildError> {
    source.ok_or_else(|| {
        HrBuildError::Chart(ChartError::Registry {
            message: "the chart's source is not declared in this repository".into(),
            unreachable: false,
        })
    })
}

fn source_error(source: &Value, kind: &str, message: String) -> HrBuildError {
    let text = |pointer: &str| source.pointer(pointer).and_then(Value::as_str);
    HrBuildError::Source {
        kind: kind.to_owned(),
        namespace: text("/metadata/namespace").unwrap_or("default").to_owned(),
        name: text("/metadata/name").unwrap_or("").to_owned(),
        message,
    }
}

/// An OCI source (a HelmRepository of `type: oci` or an OCIRepository) ready to pull from:
/// plain HTTP when `spec.insecure`, its `spec.timeout`, and credentials from its `spec.secretRef`
/// Secret when the repository renders it, else from helm's and docker's registry config files
/// (as after `helm registry login`; `registry_config` stands for `$HELM_REGISTRY_CONFIG`), else
/// anonymous.
pub fn oci_source(
    source: &Value,
    kind: &str,
    secret: &dyn Fn(&str, &str) -> Option<Value>,
    registry_config: Option<&Path>,
) -> Result<OciSource, HrBuildError> {
    let text = |pointer: &str| source.pointer(pointer).and_then(Value::as_str);
    let namespace = text("/metadata/namespace").unwrap_or("default");
    let name = text("/metadata/name").unwrap_or("");
    let fail = |message: String| source_error(source, kind, message);
    let url = text("/spec/url").unwrap_or("").trim();
    let repository = oci::Repository::parse(url).map_err(|e| fail(format!("spec.url: {e}")))?;
    let timeout = match text("/spec/timeout") {
        Some(t) => Some(crate::model::Duration(t.to_owned()))
            .filter(|d| d.parse().is_some())
            .ok_or_else(|| fail(format!("spec.timeout {t:?} is not a duration")))?,
        None => crate::model::Duration(String::new()),
    };
    let insecure = source.pointer("/spec/insecure").and_then(Value::as_bool) == Some(true);
    let from_secret = match text("/spec/secretRef/name") {
        Some(secret_name) => match secret(namespace, secret_name) {
            Some(object) => oci::Credentials::from_secret(&object, &repository.registry)
                .map_err(|e| fail(e.to_string()))?,
            None => None,
        },
        None => None,
    };
    let credentials = match from_secret {
        Some(found) => Some(found),
        None => oci::Credentials::from_config_files(
            &capstan_core::OsFs,
            &|k| match registry_config {
                Some(path) if k == "HELM_REGISTRY_CONFIG" => Some(path.display().to_string()),
                _ => std::env::var(k).ok(),
            },
            &repository.registry,
        )
        .map_err(|e| fail(e.to_string()))?,
    };
    Ok(OciSource {
        name: format!("{kind}/{namespace}/{name}"),
        url: url.trim_end_matches('/').to_owned(),
        client: oci::Client::new(oci::client_options(
            insecure,
            Some(&timeout).filter(|d| !d.as_str().is_empty()),
            credentials,
        )),
    })
}

/// An HTTP HelmRepository object as the fetcher needs it: URL, `spec.timeout`, and basic auth
/// from `spec.secretRef` when the repository renders that Secret in clear.
pub fn http_repository(
    source: &Value,
    secret: &dyn Fn(&str, &str) -> Option<Value>,
) -> Result<HttpRepository, HrBuildError> {
    let text = |pointer: &str| source.pointer(pointer).and_then(Value::as_str);
    let namespace = text("/metadata/namespace").unwrap_or("default");
    let name = text("/metadata/name").unwrap_or("");
    let fail = |message: String| HrBuildError::Source {
        kind: "HelmRepository".into(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        message,
    };
    let url = text("/spec/url").unwrap_or("").trim();
    if url.is_empty() {
        return Err(fail("spec.url is empty".into()));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(fail(format!("spec.url {url:?} is not an http(s) URL")));
    }
    let timeout = match text("/spec/timeout") {
        Some(t) => crate::model::parse_go_duration(t)
            .ok_or_else(|| fail(format!("spec.timeout {t:?} is not a duration")))?,
        None => crate::charts::http::DEFAULT_TIMEOUT,
    };
    let credentials = match text("/spec/secretRef/name") {
        Some(secret_name) => basic_auth(secret(namespace, secret_name), namespace, secret_name),
        None => Credentials::None,
    };
    Ok(HttpRepository {
        name: format!("HelmRepository/{namespace}/{name}"),
        url: url.to_owned(),
        timeout: timeout.max(Duration::from_secs(1)),
        credentials,
        pass_credentials: source
            .pointer("/spec/passCredentials")
            .and_then(Value::as_bool)
            == Some(true),
    })
}

/// `username` / `password` of a Secret (`data` base64, or `stringData`).
fn basic_auth(secret: Option<Value>, namespace: &str, name: &str) -> Credentials {
    let Some(secret) = secret else {
        return Credentials::Unavailable(format!(
            "Secret {namespace}/{name} (spec.secretRef) is not rendered by this repository"
        ));
    };
    let field = |key: &str| -> Option<String> {
        if let Some(value) = secret
            .pointer(&format!("/stringData/{key}"))
            .and_then(Value::as_str)
        {
            return Some(value.to_owned());
        }
        let encoded = secret
            .pointer(&format!("/data/{key}"))
            .and_then(Value::as_str)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        String::from_utf8(bytes).ok()
    };
    match (field("username"), field("password")) {
        (Some(u), Some(p)) if u == crate::sops::MASK || p == crate::sops::MASK => {
            Credentials::Unavailable(format!(
                "Secret {namespace}/{name} (spec.secretRef) is SOPS-encrypted and no age key was given"
            ))
        }
        (Some(username), Some(password)) => Credentials::Basic { username, password },
        _ => Credentials::Unavailable(format!(
            "Secret {namespace}/{name} (spec.secretRef) has no plain username and password"
        )),
    }
}

/// The chart's `values.yaml` replaced as source-controller packages a chart whose HelmRelease
/// lists `spec.chart.spec.valuesFiles`: those files (relative to `values_root` — the source's
/// root for a chart in a GitRepository/Bucket, the chart itself for a fetched one; `values.yaml`
/// there is the chart's own) merged in order, maps recursively, the last winning. A missing
/// file is an error unless `ignoreMissingValuesFiles`. `None` when the release lists none.
pub fn values_files_overlay<'a>(
    chart_fs: &'a dyn Fs,
    chart_dir: &Path,
    values_root: &Path,
    release: &Value,
) -> Result<Option<super::LayeredFs<'a>>, HrBuildError> {
    let files: Vec<&str> = match release.pointer("/spec/chart/spec/valuesFiles") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if files.is_empty() {
        return Ok(None);
    }
    let ignore_missing = release
        .pointer("/spec/chart/spec/ignoreMissingValuesFiles")
        .and_then(Value::as_bool)
        == Some(true);
    let fail = |file: &str, message: String| HrBuildError::ValuesFile {
        file: file.to_owned(),
        message,
    };
    let mut merged = capstan_core::Map::new();
    for file in files {
        let relative = capstan_core::fs::normalize(Path::new(file.trim_start_matches('/')));
        if relative.starts_with("..") {
            return Err(fail(file, "path escapes the source".into()));
        }
        let path = if relative == Path::new("values.yaml") {
            chart_dir.join("values.yaml")
        } else {
            values_root.join(&relative)
        };
        let text = match chart_fs.read_to_string(&path) {
            Ok(text) => text,
            Err(_) if ignore_missing => continue,
            Err(_) => return Err(fail(file, "no values file found at this path".into())),
        };
        let values = match capstan_core::yaml::parse_documents(&text)
            .map_err(|e| fail(file, format!("does not parse: {e}")))?
            .into_iter()
            .next()
        {
            Some(Value::Object(map)) => map,
            Some(Value::Null) | None => continue,
            Some(_) => return Err(fail(file, "not a YAML mapping".into())),
        };
        merged = crate::helm::values::merge_maps(merged, &values);
    }
    let layered = super::LayeredFs::new(chart_fs);
    layered.put(
        &chart_dir.join("values.yaml"),
        capstan_core::yaml::to_yaml(&Value::Object(merged)),
    );
    Ok(Some(layered))
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

    fn context<'a>(
        fs: &'a MemFs,
        source: Option<&'a Value>,
        charts: Option<&'a Charts>,
    ) -> ChartContext<'a> {
        ChartContext {
            fs,
            root: Path::new("."),
            source_is_local: source.is_none(),
            source,
            secret: &|_: &str, _: &str| None,
            charts,
        }
    }

    /// The error names every one of `parts`.
    fn assert_names(error: &str, parts: &[&str]) {
        for part in parts {
            assert!(error.contains(part), "{error} lacks {part}");
        }
    }

    #[test]
    fn chart_location() {
        let fs = MemFs::from_files([("charts/web/Chart.yaml", "name: web")]);
        let local = json!({"spec": {"chart": {"spec": {"chart": "./charts/web", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}}});
        assert_eq!(
            locate_chart(&context(&fs, None, None), &local).unwrap(),
            ChartLocation::Local("charts/web".into())
        );
        let missing = json!({"spec": {"chart": {"spec": {"chart": "./charts/nope", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}}});
        assert!(locate_chart(&context(&fs, None, None), &missing).is_err());
        let remote = json!({"spec": {"chart": {"spec": {"chart": "podinfo", "version": "6.3.2", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}});
        let repo = json!({"metadata": {"name": "podinfo", "namespace": "flux-system"}, "spec": {"url": "https://stefanprodan.github.io/podinfo"}});
        assert!(matches!(
            locate_chart(&context(&fs, Some(&repo), None), &remote).unwrap(),
            ChartLocation::Remote(_)
        ));
        // Offline with an empty cache: the miss names chart, constraint, source, URL, cache.
        let cache = tempfile::tempdir().unwrap();
        let charts = Charts::new(Some(crate::charts::ChartCache::new(cache.path())), true);
        let err = locate_chart(&context(&fs, Some(&repo), Some(&charts)), &remote)
            .unwrap_err()
            .to_string();
        assert_names(
            &err,
            &[
                "podinfo",
                "6.3.2",
                "HelmRepository/flux-system/podinfo",
                "https://stefanprodan.github.io/podinfo",
                "--offline",
            ],
        );
        assert!(err.contains(&cache.path().display().to_string()), "{err}");
        // OCI sources go to the OCI arm: offline with an empty cache, the miss names the
        // registry URL and the source.
        let oci = json!({"metadata": {"name": "podinfo", "namespace": "flux-system"}, "spec": {"type": "oci", "url": "oci://ghcr.io/stefanprodan/charts"}});
        let err = locate_chart(&context(&fs, Some(&oci), Some(&charts)), &remote)
            .unwrap_err()
            .to_string();
        assert_names(
            &err,
            &[
                "podinfo",
                "6.3.2",
                "HelmRepository/flux-system/podinfo",
                "oci://ghcr.io/stefanprodan/charts",
                "--offline",
            ],
        );
        // A malformed OCI URL is the source's error, named.
        let bad = json!({"metadata": {"name": "podinfo", "namespace": "flux-system"}, "spec": {"type": "oci", "url": "oci://ghcr.io"}});
        let err = locate_chart(&context(&fs, Some(&bad), Some(&charts)), &remote)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("HelmRepository flux-system/podinfo") && err.contains("spec.url"),
            "{err}"
        );
    }

    #[test]
    fn repository_credentials_and_timeout() {
        let secret = |ns: &str, name: &str| match (ns, name) {
            ("flux-system", "plain") => {
                Some(json!({"stringData": {"username": "u", "password": "p"}}))
            }
            ("flux-system", "b64") => {
                Some(json!({"data": {"username": "dQ==", "password": "cA=="}}))
            }
            ("flux-system", "sops") => Some(
                json!({"data": {"username": "U09QUy1FTkNSWVBURUQ=", "password": "U09QUy1FTkNSWVBURUQ="}}),
            ),
            ("flux-system", "token") => Some(json!({"stringData": {"token": "t"}})),
            _ => None,
        };
        let repo = |secret_name: &str| {
            json!({"metadata": {"name": "r", "namespace": "flux-system"},
            "spec": {"url": "https://charts.example.com", "timeout": "90s", "passCredentials": true, "secretRef": {"name": secret_name}}})
        };
        let parsed = http_repository(&repo("plain"), &secret).unwrap();
        assert_eq!(parsed.timeout, Duration::from_secs(90));
        assert!(parsed.pass_credentials);
        assert!(
            matches!(parsed.credentials, Credentials::Basic { ref username, ref password } if username == "u" && password == "p")
        );
        assert!(matches!(
            http_repository(&repo("b64"), &secret).unwrap().credentials,
            Credentials::Basic { .. }
        ));
        for (name, why) in [
            ("sops", "SOPS-encrypted"),
            ("token", "no plain username"),
            ("absent", "not rendered"),
        ] {
            match http_repository(&repo(name), &secret).unwrap().credentials {
                Credentials::Unavailable(message) => assert!(message.contains(why), "{message}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let bad =
            json!({"metadata": {"name": "r"}, "spec": {"url": "https://x", "timeout": "soon"}});
        assert!(
            http_repository(&bad, &secret)
                .unwrap_err()
                .to_string()
                .contains("spec.timeout")
        );
        let no_url = json!({"metadata": {"name": "r"}, "spec": {}});
        assert!(http_repository(&no_url, &secret).is_err());
    }

    #[test]
    fn values_files_replace_the_chart_values() {
        let fs = MemFs::from_files([
            ("web/values.yaml", "a: 1\nb: {c: 1, d: 1}\n"),
            ("web/values-prod.yaml", "b: {c: 2}\ne: 3\n"),
            ("web/list.yaml", "- 1\n"),
        ]);
        let read = |files: Value, ignore: bool| -> Result<Value, String> {
            let release = json!({"spec": {"chart": {"spec": {"valuesFiles": files, "ignoreMissingValuesFiles": ignore}}}});
            let overlay = values_files_overlay(&fs, Path::new("web"), Path::new("web"), &release)
                .map_err(|e| e.to_string())?;
            let Some(layered) = overlay else {
                return Ok(Value::Null);
            };
            let text = layered
                .read_to_string(Path::new("web/values.yaml"))
                .unwrap();
            Ok(capstan_core::yaml::parse_documents(&text)
                .unwrap()
                .remove(0))
        };
        assert_eq!(
            read(json!(["values.yaml", "values-prod.yaml"]), false).unwrap(),
            json!({"a": 1, "b": {"c": 2, "d": 1}, "e": 3})
        );
        // values.yaml is not included unless listed.
        assert_eq!(
            read(json!(["values-prod.yaml"]), false).unwrap(),
            json!({"b": {"c": 2}, "e": 3})
        );
        assert_eq!(read(json!([]), false).unwrap(), Value::Null);
        assert_eq!(
            read(json!(["nope.yaml", "values-prod.yaml"]), true).unwrap(),
            json!({"b": {"c": 2}, "e": 3})
        );
        for (files, wanted) in [
            (json!(["nope.yaml"]), "nope.yaml: no values file found"),
            (json!(["../secret.yaml"]), "escapes"),
            (json!(["list.yaml"]), "not a YAML mapping"),
        ] {
            let err = read(files, false).unwrap_err();
            assert!(err.contains(wanted) && err.contains("valuesFiles"), "{err}");
        }
        // The chart itself is untouched (it is shared between releases).
        assert_eq!(
            fs.read_to_string(Path::new("web/values.yaml")).unwrap(),
            "a: 1\nb: {c: 1, d: 1}\n"
        );
    }
}
