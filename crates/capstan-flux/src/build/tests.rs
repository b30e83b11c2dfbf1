//! End-to-end builds of small in-memory repositories.

use std::path::Path;
use std::sync::Arc;

use capstan_core::{MemFs, Value};

use super::*;
use crate::helm::{HelmError, RenderRequest};

const SYNC: &str = "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  url: https://example.com/repo
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  path: ./clusters/prod
  sourceRef: {kind: GitRepository, name: flux-system}
";

fn apps_ks(extra: &str) -> String {
    format!(
        "\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  path: ./apps/${{CLUSTER}}
  targetNamespace: apps
  commonMetadata:
    labels: {{team: web}}
  sourceRef: {{kind: GitRepository, name: flux-system}}
  postBuild:
    substitute: {{REPLICAS: '3'}}
    substituteFrom:
      - {{kind: ConfigMap, name: cluster-settings}}
{extra}"
    )
}

fn repo(apps: &str) -> MemFs {
    MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", SYNC.to_owned()),
        (
            "clusters/prod/flux-system/kustomization.yaml",
            "resources: [gotk-sync.yaml]\n".to_owned(),
        ),
        ("clusters/prod/apps.yaml", apps.to_owned()),
        (
            "clusters/prod/settings.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-settings, namespace: flux-system}\ndata: {DOMAIN: example.com}\n".to_owned(),
        ),
        (
            "clusters/prod/vars.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: vars, namespace: flux-system}\nspec:\n  path: ./vars\n  sourceRef: {kind: GitRepository, name: flux-system}\n".to_owned(),
        ),
        (
            "vars/cluster.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-vars, namespace: flux-system}\ndata: {CLUSTER: prod}\n".to_owned(),
        ),
        (
            "apps/prod/web.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata:\n  host: web.${DOMAIN}\n  replicas: ${REPLICAS}\n  escaped: $${NOT_A_VAR}\n".to_owned(),
        ),
        (
            "apps/prod/hr.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web}\nspec:\n  chart:\n    spec: {chart: ./charts/web, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}\n  values: {host: '${DOMAIN}'}\n".to_owned(),
        ),
        ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n".to_owned()),
    ])
}

struct FakeHelm;

impl HelmRenderer for FakeHelm {
    fn render(&self, request: &RenderRequest<'_>) -> Result<Vec<Value>, HelmError> {
        Ok(vec![serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": request.release_name, "namespace": request.namespace},
            "data": {"host": request.values.get("host").cloned().unwrap_or(Value::Null)}
        })])
    }
}

fn build(fs: &MemFs, options: &BuildOptions) -> BuildReport {
    build_all(fs, Path::new("."), options).unwrap()
}

fn find<'a>(report: &'a BuildReport, name: &str) -> &'a BuildResult {
    report
        .kustomizations
        .iter()
        .find(|k| k.key.name == name)
        .unwrap_or_else(|| panic!("no {name}: {report:#?}"))
}

#[test]
fn builds_with_substitution_owner_labels_and_common_metadata() {
    // The apps path needs CLUSTER, which only the flux-system substitution could give: add it.
    let apps = apps_ks("").replace("./apps/${CLUSTER}", "./apps/prod");
    let fs = repo(&apps);
    let options = BuildOptions {
        helm: Some(Arc::new(FakeHelm)),
        ..BuildOptions::default()
    };
    let report = build(&fs, &options);
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Rendered, "{apps:#?}");
    let web = apps
        .objects
        .iter()
        .find(|o| o.object["kind"] == "ConfigMap")
        .unwrap();
    assert_eq!(web.object["metadata"]["namespace"], "apps");
    assert_eq!(web.object["data"]["host"], "web.example.com");
    assert_eq!(web.object["data"]["replicas"], 3);
    assert_eq!(web.object["data"]["escaped"], "${NOT_A_VAR}");
    assert_eq!(web.object["metadata"]["labels"]["team"], "web");
    assert_eq!(
        web.object["metadata"]["labels"][kustomization::NAME_LABEL],
        "apps"
    );
    assert_eq!(
        web.object["metadata"]["labels"][kustomization::NAMESPACE_LABEL],
        "flux-system"
    );
    assert_eq!(web.file.as_deref(), Some(Path::new("apps/prod/web.yaml")));

    let hr = report
        .helm_releases
        .iter()
        .find(|h| h.key.name == "web")
        .unwrap();
    assert_eq!(hr.status, Status::Rendered, "{hr:#?}");
    assert_eq!(
        hr.objects[0].object["data"]["host"], "example.com",
        "values come after substitution"
    );
    assert_eq!(hr.objects[0].object["metadata"]["namespace"], "apps");
    assert!(!report.has_failures());
}

#[test]
fn strict_substitution_fails_only_that_kustomization() {
    let apps = apps_ks("").replace("./apps/${CLUSTER}", "./apps/prod");
    let fs = repo(&apps);
    fs.add_file(
        "apps/prod/bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: '${UNDEFINED_VAR}'}\n",
    );
    let report = build(&fs, &BuildOptions::default());
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Failed);
    let message = apps.errors.join("\n");
    assert!(
        message.contains("UNDEFINED_VAR")
            && message.contains("Kustomization/flux-system/apps")
            && message.contains("ConfigMap/apps/bad"),
        "{message}"
    );
    assert_eq!(find(&report, "vars").status, Status::Rendered);
    assert!(report.has_failures());

    let relaxed = build(
        &fs,
        &BuildOptions {
            strict_substitute: false,
            ..BuildOptions::default()
        },
    );
    assert_eq!(find(&relaxed, "apps").status, Status::Rendered);
}

#[test]
fn missing_substitute_from_and_missing_path_and_suspend() {
    let apps = apps_ks("")
        .replace("./apps/${CLUSTER}", "./apps/prod")
        .replace("cluster-settings", "no-such-settings");
    let fs = repo(&apps);
    fs.add_file(
        "clusters/prod/gone.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: gone, namespace: flux-system}\nspec:\n  path: ./nowhere\n  sourceRef: {kind: GitRepository, name: flux-system}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: paused, namespace: flux-system}\nspec:\n  suspend: true\n  path: ./vars\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    );
    let report = build(&fs, &BuildOptions::default());
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Failed);
    assert!(
        apps.errors[0].contains("ConfigMap/no-such-settings"),
        "{:?}",
        apps.errors
    );
    assert_eq!(find(&report, "gone").status, Status::Failed);
    assert_eq!(find(&report, "paused").status, Status::Suspended);
    assert!(find(&report, "paused").objects.is_empty());
    let hr = report
        .helm_releases
        .iter()
        .find(|h| h.key.name == "web")
        .unwrap();
    assert_eq!(hr.status, Status::Skipped, "no helm: {hr:#?}");
}

#[test]
fn parent_substitution_changes_the_child_spec() {
    // flux-system substitutes CLUSTER from cluster-vars into apps' path.
    let fs = repo(&apps_ks(""));
    let sync = SYNC.to_owned()
        + "  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-vars}\n      - {kind: ConfigMap, name: cluster-settings}\n";
    fs.add_file("clusters/prod/flux-system/gotk-sync.yaml", sync);
    let report = build(&fs, &BuildOptions::default());
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Rendered, "{apps:#?}");
    assert!(
        apps.objects
            .iter()
            .any(|o| o.object["data"]["host"] == "web.example.com")
    );
}

#[test]
fn builds_a_kustomization_whose_source_is_a_generated_external_artifact() {
    // flux2-kustomize-helm-example's layout: an ArtifactGenerator copies a folder of the
    // repository into an ExternalArtifact, and Kustomizations take their path inside it.
    let generator = "\
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: flux-system, namespace: flux-system}
spec:
  sources:
    - {alias: monorepo, kind: GitRepository, name: flux-system}
  artifacts:
    - name: infrastructure
      copy:
        - {from: \"@monorepo/infrastructure/**\", to: \"@artifact/\"}
";
    let controllers = "\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra-controllers, namespace: flux-system}
spec:
  path: ./controllers
  sourceRef: {kind: ExternalArtifact, name: infrastructure}
";
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", SYNC.to_owned()),
        ("clusters/prod/artifacts.yaml", generator.to_owned()),
        ("clusters/prod/infrastructure.yaml", controllers.to_owned()),
        (
            "infrastructure/controllers/kustomization.yaml",
            "resources: [cm.yaml, ../shared/ns.yaml]\n".to_owned(),
        ),
        (
            "infrastructure/controllers/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: controllers, namespace: infra}\n"
                .to_owned(),
        ),
        (
            "infrastructure/shared/ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: infra}\n".to_owned(),
        ),
        // outside the artifact: a path that resolves here in the repository is not found
        (
            "controllers/kustomization.yaml",
            "resources: []\n".to_owned(),
        ),
    ]);
    let report = build(&fs, &BuildOptions::default());
    let ks = find(&report, "infra-controllers");
    assert_eq!(ks.status, Status::Rendered, "{ks:#?}");
    let kinds: Vec<&str> = ks
        .objects
        .iter()
        .filter_map(|o| o.object["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["Namespace", "ConfigMap"], "{ks:#?}");
    assert_eq!(
        ks.path.as_deref(),
        Some(Path::new("infrastructure/controllers"))
    );
    // Each object is placed in the repository file the copy rule reads, not the artifact path.
    let files: Vec<Option<&Path>> = ks.objects.iter().map(|o| o.file.as_deref()).collect();
    assert_eq!(
        files,
        [
            Some(Path::new("infrastructure/shared/ns.yaml")),
            Some(Path::new("infrastructure/controllers/cm.yaml"))
        ]
    );
}

#[test]
fn values_from_a_runtime_only_secret_render_with_placeholders() {
    let fs = repo(&apps_ks("").replace("./apps/${CLUSTER}", "./apps/prod"));
    fs.add_file(
        "apps/prod/hr.yaml",
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web}
spec:
  chart:
    spec: {chart: ./charts/web, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}
  valuesFrom:
    - {kind: Secret, name: web-secrets, valuesKey: host, targetPath: host}
    - {kind: Secret, name: web-secrets, valuesKey: extra.yaml}
",
    );
    fs.add_file(
        "apps/prod/external-secret.yaml",
        "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: web-secrets}
spec:
  target: {name: web-secrets}
  dataFrom: [{extract: {key: web}}]
",
    );
    let options = BuildOptions {
        helm: Some(Arc::new(FakeHelm)),
        ..BuildOptions::default()
    };
    let report = build(&fs, &options);
    let release = report
        .helm_releases
        .iter()
        .find(|r| r.key.name == "web")
        .unwrap_or_else(|| panic!("{:#?}", (&report.helm_releases, &report.diagnostics)));
    assert_eq!(release.status, Status::Rendered, "{:?}", release.errors);
    assert_eq!(
        release.values.as_ref().and_then(|v| v.get("host")),
        Some(&Value::String("<runtime:host>".to_owned()))
    );
    assert!(
        release
            .errors
            .iter()
            .any(|e| e.contains("Secret apps/web-secrets exists only at runtime")),
        "{:?}",
        release.errors
    );
}

#[test]
fn user_variables_fill_what_the_repository_cannot_tell() {
    let apps = apps_ks("").replace("./apps/${CLUSTER}", "./apps/prod");
    let fs = repo(&apps);
    fs.add_file(
        "apps/prod/region.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: region}\ndata: {region: '${REGION}', domain: '${DOMAIN}'}\n",
    );
    let options = BuildOptions {
        discovery: discovery::Options {
            vars: [("REGION", "eu-west"), ("DOMAIN", "ignored.example")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..discovery::Options::default()
        },
        ..BuildOptions::default()
    };
    let report = build(&fs, &options);
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Rendered, "{:?}", apps.errors);
    let region = apps
        .objects
        .iter()
        .find(|o| o.object["metadata"]["name"] == "region")
        .expect("rendered");
    assert_eq!(region.object["data"]["region"], "eu-west");
    // The repository's own value wins over the user's.
    assert_eq!(region.object["data"]["domain"], "example.com");
}

#[test]
fn user_variables_replace_runtime_placeholders() {
    let mut vars = std::collections::BTreeMap::new();
    vars.insert("TOKEN".to_owned(), "<runtime:TOKEN>".to_owned());
    vars.insert("HOST".to_owned(), "repo.example".to_owned());
    let user = [("TOKEN", "abc"), ("HOST", "user.example"), ("NEW", "x")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    crate::substitute::supply(&mut vars, &user, crate::substitute::Strategy::WithVariables);
    assert_eq!(vars["TOKEN"], "abc");
    assert_eq!(vars["HOST"], "repo.example");
    assert_eq!(vars["NEW"], "x");
    // Flux substitutes nothing where the repository defines no variable.
    let mut none = std::collections::BTreeMap::new();
    crate::substitute::supply(&mut none, &user, crate::substitute::Strategy::WithVariables);
    assert!(none.is_empty());
}

/// A cluster whose ResourceSet makes, in namespace `team`, a `kind` (ConfigMap or Secret) copied
/// (`fluxcd.controlplane.io/copyFrom`) from `flux-system/<source>` and a Kustomization that
/// substitutes from the copy; `extra` is added to `clusters/prod`.
fn copy_from_repo(kind: &str, source: &str, extra: &str) -> MemFs {
    MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", SYNC.to_owned()),
        (
            "clusters/prod/flux-system/kustomization.yaml",
            "resources: [gotk-sync.yaml]\n".to_owned(),
        ),
        ("clusters/prod/extra.yaml", extra.to_owned()),
        (
            "clusters/prod/tenants.yaml",
            format!(
                "apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {{name: tenants, namespace: flux-system}}
spec:
  inputs: [{{tenant: team}}]
  resources:
    - apiVersion: v1
      kind: {kind}
      metadata:
        name: runtime-info
        namespace: << inputs.tenant >>
        annotations: {{fluxcd.controlplane.io/copyFrom: flux-system/{source}}}
    - apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata: {{name: app, namespace: << inputs.tenant >>}}
      spec:
        path: ./apps/staging
        sourceRef: {{kind: GitRepository, name: flux-system, namespace: flux-system}}
        postBuild:
          substituteFrom: [{{kind: {kind}, name: runtime-info}}]
"
            ),
        ),
        (
            "apps/staging/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: team}\ndata: {env: '${ENVIRONMENT}'}\n"
                .to_owned(),
        ),
    ])
}

#[test]
fn substitute_from_a_copied_config_map_reads_its_source() {
    let fs = copy_from_repo(
        "ConfigMap",
        "runtime-info",
        "apiVersion: v1
kind: ConfigMap
metadata: {name: runtime-info, namespace: flux-system}
data: {ENVIRONMENT: staging}
",
    );
    let report = build(&fs, &BuildOptions::default());
    let ks = find(&report, "app");
    assert_eq!(ks.status, Status::Rendered, "{ks:#?}");
    assert_eq!(ks.path.as_deref(), Some(Path::new("apps/staging")));
    assert_eq!(
        ks.objects[0].object.pointer("/data/env"),
        Some(&Value::String("staging".to_owned()))
    );
}

#[test]
fn a_copied_secret_of_a_runtime_object_holds_placeholders() {
    let fs = copy_from_repo(
        "Secret",
        "cluster-vars",
        "apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: cluster-vars, namespace: flux-system}
spec:
  target: {name: cluster-vars}
  data: [{secretKey: ENVIRONMENT, remoteRef: {key: env}}]
",
    );
    let report = build(&fs, &BuildOptions::default());
    let ks = find(&report, "app");
    assert_eq!(ks.status, Status::Rendered, "{ks:#?}");
    assert_eq!(
        ks.objects[0].object.pointer("/data/env"),
        Some(&Value::String("<runtime:ENVIRONMENT>".to_owned()))
    );
    assert!(
        ks.errors
            .iter()
            .any(|e| e.contains("Secret flux-system/cluster-vars exists only at runtime")),
        "{ks:#?}"
    );
}

#[test]
fn a_copied_config_map_without_source_fails_naming_the_copy() {
    let fs = copy_from_repo("ConfigMap", "nowhere", "");
    let report = build(&fs, &BuildOptions::default());
    let ks = find(&report, "app");
    assert_eq!(ks.status, Status::Failed, "{ks:#?}");
    let errors = ks.errors.join("\n");
    assert!(
        errors.contains(
            "ConfigMap team/runtime-info copies ConfigMap flux-system/nowhere (fluxcd.controlplane.io/copyFrom), which this repository neither renders nor arranges to exist"
        ),
        "{errors}"
    );
}

/// A kustomization that is only `resources: []` builds to nothing, as `kubectl kustomize`
/// prints nothing for it (kubectl 1.33.9, empty output, exit 0); so does an empty list
/// of resources beside `postBuild.substitute: null`, which Flux accepts.
#[test]
fn an_empty_resources_list_builds_to_nothing() {
    let empty = "\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: empty, namespace: flux-system}
spec:
  path: ./empty
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild: {substitute: null}
";
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", SYNC.to_owned()),
        ("clusters/prod/empty.yaml", empty.to_owned()),
        ("empty/kustomization.yaml", "resources: []\n".to_owned()),
    ]);
    let report = build(&fs, &BuildOptions::default());
    let ks = find(&report, "empty");
    assert_eq!(ks.status, Status::Rendered, "{ks:#?}");
    assert!(ks.objects.is_empty(), "{ks:#?}");
    assert!(ks.errors.is_empty(), "{ks:#?}");
}

/// Changed-only: a HelmRelease the change reaches takes its chart from an OCIRepository that a
/// Kustomization outside the scope declares. The build renders that Kustomization too (found by
/// the OCIRepository's kind and name in its files) instead of falling back to rendering
/// everything; a Kustomization whose HelmRelease only *refers* to the same OCIRepository stays
/// out of scope.
#[test]
fn a_changed_only_build_renders_the_kustomization_declaring_a_missing_source() {
    let ks = |name: &str, path: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: {path}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n"
        )
    };
    let hr = |name: &str| {
        format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n  chartRef:\n    kind: OCIRepository\n    name: app-template\n    namespace: flux-system\n"
        )
    };
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", SYNC.to_owned()),
        ("clusters/prod/repos.yaml", ks("repos", "./repos")),
        ("clusters/prod/web.yaml", ks("web", "./apps/web")),
        ("clusters/prod/other.yaml", ks("other", "./apps/other")),
        (
            "repos/oci.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: app-template, namespace: flux-system}\nspec:\n  url: oci://example.com/charts/app-template\n  ref: {tag: 1.0.0}\n".to_owned(),
        ),
        ("apps/web/hr.yaml", hr("web")),
        ("apps/other/hr.yaml", hr("other")),
    ]);
    let scope = crate::scope::Scope::new([std::path::PathBuf::from("apps/web/hr.yaml")]);
    let options = BuildOptions {
        discovery: discovery::Options {
            scope: Some(Arc::new(scope)),
            ..discovery::Options::default()
        },
        ..BuildOptions::default()
    };
    let report = build(&fs, &options);
    assert!(report.changed_only, "{report:#?}");
    assert_eq!(find(&report, "repos").status, Status::Rendered);
    assert_eq!(find(&report, "web").status, Status::Rendered);
    assert_eq!(find(&report, "other").status, Status::Unchanged);
    let web = report
        .helm_releases
        .iter()
        .find(|r| r.key.name == "web")
        .expect("the web release is built");
    assert!(
        !web.reasons
            .iter()
            .any(|r| matches!(r, Reason::SourceNotDeclared { .. })),
        "{web:#?}"
    );
}
