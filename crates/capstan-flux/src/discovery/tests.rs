use std::path::Path;

use capstan_core::MemFs;

use super::*;
use crate::model::FluxKind;

const GOTK_SYNC: &str = "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {url: 'ssh://git@github.com/org/repo', ref: {branch: main}, interval: 1m}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {path: ./clusters/prod, prune: true, interval: 10m, sourceRef: {kind: GitRepository, name: flux-system}}
";

fn ks(name: &str, path: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: {path}\n  prune: true\n  interval: 10m\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n{extra}"
    )
}

fn run(fs: &MemFs) -> Discovery {
    discover(
        fs,
        Path::new("."),
        &KustomizeRenderer::default(),
        &Options::default(),
    )
    .expect("discovery runs")
}

fn codes(cluster: &Cluster) -> Vec<&str> {
    cluster
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn follows_paths_to_a_fixed_point() {
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", GOTK_SYNC.to_owned()),
        ("clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n".to_owned()),
        ("clusters/prod/apps.yaml", ks("apps", "./apps", "  targetNamespace: web\n  dependsOn: [{name: infra}]\n")),
        ("clusters/prod/infra.yaml", ks("infra", "./infra", "")),
        (
            "infra/repo.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: podinfo, namespace: flux-system}\nspec: {url: 'https://x'}\n"
                .to_owned(),
        ),
        (
            "apps/nested/release.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: ignored}\nspec:\n  chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n"
                .to_owned(),
        ),
        ("apps/notes.txt", "not yaml".to_owned()),
    ]);
    let discovery = run(&fs);
    assert_eq!(discovery.root, Path::new("."));
    assert_eq!(discovery.clusters.len(), 1);
    let cluster = &discovery.clusters[0];
    assert_eq!(cluster.name, "clusters/prod");
    let names: Vec<String> = cluster
        .kustomizations
        .iter()
        .map(|k| k.found.key.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "Kustomization/flux-system/flux-system",
            "Kustomization/flux-system/apps",
            "Kustomization/flux-system/infra"
        ]
    );
    assert_eq!(
        cluster.kustomizations[1].dir.as_deref(),
        Some(Path::new("apps"))
    );
    // targetNamespace overrides the manifest's namespace.
    assert_eq!(
        cluster.helm_releases[0].found.key.to_string(),
        "HelmRelease/web/podinfo"
    );
    assert_eq!(
        cluster.helm_releases[0].found.origin.file.as_deref(),
        Some(Path::new("apps/nested/release.yaml"))
    );
    assert!(matches!(
        cluster.helm_releases[0].source,
        Some(crate::source::SourceStatus::Remote { .. })
    ));
    assert_eq!(cluster.sources.len(), 2);
    assert!(cluster.diagnostics.is_empty(), "{:?}", cluster.diagnostics);
}

#[test]
fn repository_root_is_inferred_from_the_entry_point() {
    // The repository is `repo/`; discovery starts in a cluster folder below it.
    let fs = MemFs::from_files([
        (
            "repo/clusters/prod/flux-system/gotk-sync.yaml",
            GOTK_SYNC.to_owned(),
        ),
        ("repo/clusters/prod/apps.yaml", ks("apps", "./apps", "")),
        (
            "repo/apps/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".to_owned(),
        ),
    ]);
    let discovery = discover(
        &fs,
        Path::new("repo/clusters/prod"),
        &KustomizeRenderer::default(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(discovery.root, Path::new("repo"));
    let cluster = &discovery.clusters[0];
    assert_eq!(
        cluster.kustomizations[1].dir.as_deref(),
        Some(Path::new("apps"))
    );
    assert!(cluster.kustomizations[1].dir_exists);
}

#[test]
fn implied_bootstrap_source_and_uncovered_roots() {
    // No flux-system Kustomization: the Kustomizations no other one reads are the entry points.
    let fs = MemFs::from_files([
        ("kubernetes/flux/cluster/ks.yaml", ks("cluster-apps", "./kubernetes/apps", "")),
        ("kubernetes/apps/kustomization.yaml", "namespace: media\nresources: [plex/ks.yaml]\n".to_owned()),
        (
            "kubernetes/apps/plex/ks.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: plex}\nspec: {path: ./kubernetes/apps/plex/app, prune: true, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}\n"
                .to_owned(),
        ),
        ("kubernetes/apps/plex/app/kustomization.yaml", "resources: [cm.yaml]\n".to_owned()),
        ("kubernetes/apps/plex/app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plex}\n".to_owned()),
    ]);
    let discovery = run(&fs);
    let cluster = &discovery.clusters[0];
    assert_eq!(cluster.name, ".");
    let names: Vec<String> = cluster
        .kustomizations
        .iter()
        .map(|k| k.found.key.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "Kustomization/flux-system/cluster-apps",
            "Kustomization/media/plex"
        ]
    );
    assert_eq!(cluster.sources.len(), 1);
    assert!(cluster.sources[0].implied);
    assert!(cluster.diagnostics.is_empty(), "{:?}", cluster.diagnostics);
}

#[test]
fn bad_input_is_reported_and_discovery_goes_on() {
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", GOTK_SYNC.to_owned()),
        ("clusters/prod/escape.yaml", ks("escape", "../../outside", "")),
        ("clusters/prod/missing.yaml", ks("missing", "./nowhere", "")),
        ("clusters/prod/broken.yaml", ks("broken", "./broken", "")),
        ("clusters/prod/loop.yaml", ks("loop", "./loop/a", "")),
        ("clusters/prod/nosource.yaml", ks("nosource", "./ok", "").replace("name: flux-system}", "name: other}")),
        ("clusters/prod/dup.yaml", ks("dup", "./ok", "")),
        ("clusters/prod/dup2.yaml", ks("dup", "./elsewhere", "")),
        ("clusters/prod/good.yaml", ks("good", "./ok", "")),
        ("broken/bad.yaml", "a: [1, 2\nb: c\n".to_owned()),
        ("loop/a/kustomization.yaml", "resources: [../b]\n".to_owned()),
        ("loop/b/kustomization.yaml", "resources: [../a]\n".to_owned()),
        (
            "ok/hr.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: nons}\nspec: {chartRef: {kind: OCIRepository, name: gone}}\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: bad, namespace: x}\nspec: {values: 3}\n"
                .to_owned(),
        ),
    ]);
    let discovery = run(&fs);
    let cluster = &discovery.clusters[0];
    let found = codes(cluster);
    for expected in [
        "flux/path-escapes-repository",
        "flux/missing-path",
        "flux/build-failed",
        "flux/missing-source",
        "flux/duplicate-object",
        "flux/namespace-not-specified",
        "flux/invalid-object",
    ] {
        assert!(found.contains(&expected), "{expected} not in {found:?}");
    }
    let broken = cluster
        .diagnostics
        .iter()
        .find(|d| d.code == "flux/build-failed" && d.location.line.is_some())
        .unwrap();
    assert_eq!(
        broken.location.file.as_deref(),
        Some(Path::new("broken/bad.yaml"))
    );
    assert!(
        cluster
            .diagnostics
            .iter()
            .any(|d| d.code == "flux/build-failed" && d.message.contains("cycle"))
    );
    // The good Kustomization's objects were still found.
    let release = cluster
        .helm_releases
        .iter()
        .find(|r| r.found.key.name == "nons")
        .unwrap();
    assert_eq!(release.found.key.namespace, "flux-system");
    assert!(
        cluster
            .kustomizations
            .iter()
            .any(|k| k.found.key == ObjectKey::new(FluxKind::Kustomization, "flux-system", "good"))
    );
}

#[test]
fn placeholder_gotk_sync_implies_the_bootstrap_kustomization() {
    let fs = MemFs::from_files([
        (
            "clusters/staging/flux-system/gotk-sync.yaml",
            "# generated by flux bootstrap\n".to_owned(),
        ),
        ("clusters/staging/apps.yaml", ks("apps", "./apps", "")),
        (
            "clusters/production/flux-system/gotk-sync.yaml",
            "# generated by flux bootstrap\n".to_owned(),
        ),
        ("clusters/production/apps.yaml", ks("apps", "./apps", "")),
        (
            "apps/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".to_owned(),
        ),
    ]);
    let discovery = run(&fs);
    let names: Vec<&str> = discovery.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["clusters/production", "clusters/staging"]);
    for cluster in &discovery.clusters {
        assert_eq!(cluster.kustomizations.len(), 2);
        assert!(cluster.diagnostics.is_empty(), "{:?}", cluster.diagnostics);
    }
}

#[test]
fn not_a_directory_is_an_error() {
    let fs = MemFs::new();
    assert!(
        discover(
            &fs,
            Path::new("nope"),
            &KustomizeRenderer::default(),
            &Options::default()
        )
        .is_err()
    );
}

#[test]
fn resource_sets_expand_after_the_appliers_substitution() {
    let rset = "apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: apps, namespace: flux-system}
spec:
  inputs:
    - {tenant: frontend, env: '${ENVIRONMENT}'}
  resources:
    - apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata: {name: '<< inputs.tenant >>', namespace: flux-system}
      spec:
        path: './tenants/<< inputs.env >>/${REGION}'
        interval: 10m
        prune: true
        sourceRef: {kind: GitRepository, name: flux-system}
";
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", GOTK_SYNC.to_owned()),
        ("clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n".to_owned()),
        (
            "clusters/prod/info.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: runtime-info, namespace: flux-system}\ndata: {ENVIRONMENT: staging}\n"
                .to_owned(),
        ),
        (
            "clusters/prod/tenants.yaml",
            ks(
                "tenants",
                "./tenants",
                "  postBuild:\n    substitute: {REGION: eu}\n    substituteFrom: [{kind: ConfigMap, name: runtime-info}]\n",
            ),
        ),
        ("tenants/apps.yaml", rset.to_owned()),
        ("tenants/staging/eu/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: frontend}\n".to_owned()),
    ]);
    let discovery = run(&fs);
    let cluster = &discovery.clusters[0];
    let generated = cluster
        .kustomizations
        .iter()
        .find(|k| k.found.key.name == "frontend")
        .expect("the ResourceSet generates the Kustomization");
    assert_eq!(
        generated
            .found
            .raw
            .pointer("/spec/path")
            .and_then(Value::as_str),
        Some("./tenants/staging/eu")
    );
    assert!(generated.dir_exists, "{:?}", cluster.diagnostics);
    assert!(
        !codes(cluster).contains(&"flux/missing-path"),
        "{:?}",
        cluster.diagnostics
    );
}

#[test]
fn helm_releases_in_spec_components_are_discovered() {
    let release = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: exporter}
spec:
  chart: {spec: {chart: exporter, sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}}}
";
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", GOTK_SYNC.to_owned()),
        ("clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n".to_owned()),
        (
            "clusters/prod/apps.yaml",
            ks("apps", "./apps/web", "  targetNamespace: web\n  components: [../../components/exporter]\n"),
        ),
        ("apps/web/deploy.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n".to_owned()),
        (
            "components/exporter/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [release.yaml, repo.yaml]\n".to_owned(),
        ),
        ("components/exporter/release.yaml", release.to_owned()),
        (
            "components/exporter/repo.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: flux-system}\nspec: {url: 'https://x'}\n".to_owned(),
        ),
    ]);
    let discovery = run(&fs);
    let cluster = &discovery.clusters[0];
    let releases: Vec<String> = cluster
        .helm_releases
        .iter()
        .map(|h| h.found.key.to_string())
        .collect();
    assert_eq!(
        releases,
        ["HelmRelease/web/exporter"],
        "{:?}",
        cluster.diagnostics
    );
    let release = &cluster.helm_releases[0];
    assert_eq!(
        release.found.origin.file.as_deref(),
        Some(Path::new("components/exporter/release.yaml"))
    );
    // targetNamespace moves the component's HelmRepository too, as Flux does.
    assert!(
        cluster
            .sources
            .iter()
            .any(|s| s.found.key.to_string() == "HelmRepository/web/charts"),
        "{:?}",
        cluster.sources
    );
}

#[test]
fn a_resource_set_waits_for_the_substitute_from_object_another_one_renders() {
    let generator = "apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: gen, namespace: flux-system}
spec:
  resources:
    - apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata: {name: info, namespace: flux-system}
      spec: {path: ./info, interval: 10m, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
";
    let apps = "apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: apps, namespace: flux-system}
spec:
  resources:
    - apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata: {name: frontend, namespace: flux-system}
      spec: {path: './tenants/${ENVIRONMENT}', interval: 10m, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
";
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", GOTK_SYNC.to_owned()),
        ("clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n".to_owned()),
        ("clusters/prod/generator.yaml", generator.to_owned()),
        (
            "clusters/prod/tenants.yaml",
            ks("tenants", "./tenants", "  postBuild:\n    substituteFrom: [{kind: ConfigMap, name: late-info}]\n"),
        ),
        (
            "info/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late-info, namespace: flux-system}\ndata: {ENVIRONMENT: staging}\n".to_owned(),
        ),
        ("tenants/apps.yaml", apps.to_owned()),
        ("tenants/staging/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: web}\n".to_owned()),
    ]);
    let discovery = run(&fs);
    let cluster = &discovery.clusters[0];
    let frontend = cluster
        .kustomizations
        .iter()
        .find(|k| k.found.key.name == "frontend")
        .expect("generated");
    assert_eq!(
        frontend
            .found
            .raw
            .pointer("/spec/path")
            .and_then(Value::as_str),
        Some("./tenants/staging"),
        "{:?}",
        cluster.diagnostics
    );
}

#[test]
fn a_child_path_is_found_after_the_parents_substitution() {
    let release = "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: web}
spec:
  chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}
";
    let files = |user: bool| {
        let mut files = vec![
            ("clusters/prod/flux-system/gotk-sync.yaml", GOTK_SYNC.to_owned()),
            ("clusters/prod/flux-system/kustomization.yaml", "resources: [gotk-sync.yaml]\n".to_owned()),
            (
                "clusters/prod/settings.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-settings, namespace: flux-system}\ndata: {CLUSTER: prod}\n"
                    .to_owned(),
            ),
            (
                "clusters/prod/apps.yaml",
                ks(
                    "apps",
                    "./apps",
                    "  postBuild:\n    substitute: {REGION: eu}\n    substituteFrom: [{kind: ConfigMap, name: cluster-settings}]\n",
                ),
            ),
            // the inline substitute, the substituteFrom ConfigMap and (when supplied) --var
            ("apps/web.yaml", ks("web", "./web/${CLUSTER}/${REGION}/${ZONE:=a}", "")),
            ("web/prod/eu/a/release.yaml", release.to_owned()),
        ];
        if user {
            files[4].1 = ks("web", "./web/${CLUSTER}/${REGION}/${ZONE}", "");
        }
        MemFs::from_files(files)
    };
    let discovery = run(&files(false));
    let cluster = &discovery.clusters[0];
    let web = cluster
        .kustomizations
        .iter()
        .find(|k| k.found.key.name == "web")
        .expect("web");
    assert_eq!(
        web.found.raw.pointer("/spec/path").and_then(Value::as_str),
        Some("./web/prod/eu/a")
    );
    assert!(web.dir_exists, "{:?}", cluster.diagnostics);
    assert!(
        cluster
            .helm_releases
            .iter()
            .any(|r| r.found.key.name == "podinfo"),
        "the HelmRelease under the substituted path is discovered: {:?}",
        cluster.diagnostics
    );

    // A variable only the user supplies.
    let options = Options {
        vars: [("ZONE".to_owned(), "a".to_owned())].into_iter().collect(),
        ..Options::default()
    };
    let discovery = discover(
        &files(true),
        Path::new("."),
        &KustomizeRenderer::default(),
        &options,
    )
    .expect("discovery runs");
    let cluster = &discovery.clusters[0];
    assert!(
        cluster
            .helm_releases
            .iter()
            .any(|r| r.found.key.name == "podinfo"),
        "{:?}",
        cluster.diagnostics
    );
}
