//! `capstan build` end to end against a local HTTP chart repository served by the test (basic
//! auth from a Secret the repository renders): two HelmReleases share one chart (one download),
//! a third asks for a version the index lacks (its failure is reported, the rest renders), then
//! `--offline` renders from the chart cache without a request (release names get the
//! `targetNamespace` prefix, as helm-controller gives them; `valuesFiles` rewrite the fetched
//! chart's values, a missing one ignored). Rendered by the oracle helm;
//! skipped when it is absent.

#[path = "support/build_json.rs"]
mod build_json;
#[path = "../../capstan-flux/tests/support/chart_repo.rs"]
mod chart_repo;

use std::path::Path;

use build_json::{capstan, config_map, flux_system, release, write};
use chart_repo::ChartRepo;

fn flux_repo(root: &Path, url: &str) {
    flux_system(root);
    write(
        root,
        "clusters/dev/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
",
    );
    write(
        root,
        "apps/repository.yaml",
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: local, namespace: flux-system}}
spec: {{interval: 1h, url: {url}, timeout: 10s, secretRef: {{name: local-auth}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: local-auth, namespace: flux-system}}
stringData: {{username: flux, password: s3cret}}
"
        ),
    );
    let release = |name: &str, version: &str| {
        format!(
            "---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: {name}, namespace: flux-system}}
spec:
  interval: 1h
  targetNamespace: apps
  chart:
    spec:
      chart: hello
      version: \"{version}\"
      sourceRef: {{kind: HelmRepository, name: local}}
      valuesFiles: [values.yaml, values-{name}.yaml]
      ignoreMissingValuesFiles: true
  values: {{greeting: from-{name}}}
"
        )
    };
    write(
        root,
        "apps/releases.yaml",
        &[
            release("one", "^1.0.0"),
            release("two", "1.1.0"),
            release("three", ">=9"),
        ]
        .concat(),
    );
}

#[test]
fn build_fetches_from_a_helm_repository_then_works_offline() {
    let Some(helm) = capstan_testkit::oracle("helm") else {
        return;
    };
    let helm = helm.to_string_lossy().into_owned();
    let server = ChartRepo::serve(&chart_repo::fixture_repo(), Some(("flux", "s3cret")));
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    flux_repo(repo.path(), &server.url);
    let path = repo.path().to_str().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let common = [
        "--path",
        path,
        "--chart-cache",
        cache_dir,
        "--helm-binary",
        &helm,
        "-o",
        "json",
    ];

    let (code, results, stderr) = capstan(&[&["build", "hr"][..], &common].concat());
    assert_eq!(code, 2, "{stderr}");
    for (name, greeting) in [("one", "from-one"), ("two", "from-two")] {
        let result = release(&results, name);
        assert_eq!(result["status"], "rendered", "{result:#}");
        let cm = config_map(result);
        assert_eq!(cm["metadata"]["name"], format!("apps-{name}-hello"));
        assert_eq!(cm["metadata"]["namespace"], "apps");
        assert_eq!(cm["data"]["greeting"], greeting);
        assert_eq!(cm["data"]["chartVersion"], "1.1.0");
    }
    let three = release(&results, "three");
    assert_eq!(three["status"], "failed");
    let error = three["errors"][0].as_str().unwrap();
    assert!(
        error.contains(">=9") && error.contains("1.1.0, 1.0.0"),
        "{error}"
    );
    assert!(
        stderr.contains("error: HelmRelease/flux-system/three"),
        "{stderr}"
    );
    assert_eq!(server.requests("/index.yaml"), 1);
    assert_eq!(server.requests("/hello-1.1.0.tgz"), 1);
    let requests = server.total_requests();

    // Offline: the cache renders the same; the missing version is reported, not fetched.
    let (code, offline, stderr) = capstan(&[&["build", "all", "--offline"][..], &common].concat());
    assert_eq!(code, 0, "{stderr}");
    for name in ["one", "two"] {
        assert_eq!(
            config_map(release(&offline, name)),
            config_map(release(&results, name))
        );
    }
    let three = release(&offline, "three");
    assert_eq!(three["status"], "skipped");
    let error = three["errors"][0].as_str().unwrap();
    for part in [
        "hello",
        ">=9",
        "HelmRepository/flux-system/local",
        &server.url,
        cache_dir,
    ] {
        assert!(error.contains(part), "{error} lacks {part}");
    }
    assert!(
        stderr.contains("skipped: HelmRelease/flux-system/three"),
        "{stderr}"
    );
    assert_eq!(
        server.total_requests(),
        requests,
        "--offline touched the network"
    );
}
