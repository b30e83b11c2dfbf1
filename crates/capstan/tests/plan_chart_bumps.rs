//! Chart bumps as `plan` meets them in real repositories: a cluster's values patch bumping a
//! base HelmRelease's chart in a two-cluster layout (the release is not rendered offline, so it
//! is unknown, and the finding points at the patch), and a chart-side change of one of
//! flux-local's local charts rendered with helm (read from `../shared` in place, copied to a
//! temporary repository; skipped when either is absent).

use std::path::Path;

use serde_json::Value;

use capstan_testkit::git::{commit_all, copy_tree, init_and_commit, write_tree};

/// `capstan plan --base HEAD~1 --offline -o json` in `repo`; returns (exit code, plan).
fn plan(repo: &Path) -> (i32, Value) {
    let cache = repo.with_file_name("chart-cache");
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["plan", "--base", "HEAD~1", "--offline", "-o", "json"])
        .arg("--path")
        .arg(repo)
        .arg("--chart-cache")
        .arg(&cache)
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let plan: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "plan is not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), plan)
}

fn edit(repo: &Path, file: &str, from: &str, to: &str) {
    let path = repo.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(text.contains(from), "{file} does not contain {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

fn cluster(name: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  url: https://example.com/fleet.git
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/{name}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps/{name}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"
    )
}

const RELEASE: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: web
spec:
  interval: 1h
  url: https://charts.example.com
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: web
spec:
  interval: 1h
  chart:
    spec:
      chart: web
      sourceRef:
        kind: HelmRepository
        name: charts
";

const OVERLAY: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base
patches:
  - path: web-values.yaml
";

fn patch(version: &str) -> String {
    format!(
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: web
spec:
  chart:
    spec:
      version: \"{version}\"
"
    )
}

#[test]
fn a_values_patch_bumping_a_base_release_is_unknown_and_placed_in_the_patch() {
    if !capstan_testkit::git::available() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    let staging = cluster("staging");
    let production = cluster("production");
    let (p_staging, p_production) = (patch("1.0.0"), patch("1.0.0"));
    write_tree(
        &repo,
        &[
            ("clusters/staging/flux-system.yaml", &staging),
            ("clusters/production/flux-system.yaml", &production),
            ("apps/base/kustomization.yaml", "resources: [web.yaml]\n"),
            ("apps/base/web.yaml", RELEASE),
            ("apps/staging/kustomization.yaml", OVERLAY),
            ("apps/staging/web-values.yaml", &p_staging),
            ("apps/production/kustomization.yaml", OVERLAY),
            ("apps/production/web-values.yaml", &p_production),
        ],
    );
    init_and_commit(&repo, "base");
    edit(
        &repo,
        "apps/production/web-values.yaml",
        "version: \"1.0.0\"",
        "version: \"1.0.1\"",
    );
    commit_all(&repo, "chore(deps): update web to 1.0.1 in production");
    let (code, plan) = plan(&repo);
    // the release's chart is out of reach offline: its risk is unknown, and the exit says so
    assert_eq!(code, 2, "{plan:#}");
    let unknown: Vec<&str> = plan["unknown"]
        .as_array()
        .expect("unknown")
        .iter()
        .filter_map(|u| u["producer"].as_str())
        .collect();
    assert_eq!(unknown, ["HelmRelease/web/web"], "{plan:#}");
    // the patch is read by `apps` (both clusters have one): not "no effect on the cluster"
    let patch_item = plan["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["subject"]["path"] == "apps/production/web-values.yaml")
        .expect("the patch's item");
    assert!(
        patch_item["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("rendered by apps")),
        "{patch_item:#}"
    );
    // the finding points at the line of the patch that bumps the chart
    let finding = plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["analysis"] == "unrendered-chart")
        .expect("an unrendered-chart finding");
    assert_eq!(
        finding["file"], "apps/production/web-values.yaml",
        "{finding:#}"
    );
    assert_eq!(finding["line"], 9, "{finding:#}");
    assert!(
        finding["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("chart version 1.0.0 → 1.0.1")),
        "{finding:#}"
    );
}

#[test]
fn a_local_chart_changing_its_selector_wedges_the_apply_on_flux_local_cluster9() {
    let Some(corpus) = capstan_testkit::shared::corpus("allenporter+flux-local") else {
        return;
    };
    if capstan_testkit::oracle("helm").is_none() || !capstan_testkit::git::available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_tree(&corpus, &repo);
    init_and_commit(&repo, "base: the corpus snapshot");
    let chart = "tests/testdata/cluster9/local-charts/nginx";
    edit(
        &repo,
        &format!("{chart}/Chart.yaml"),
        "version: 0.1.0",
        "version: 0.2.0",
    );
    edit(
        &repo,
        &format!("{chart}/templates/_helpers.tpl"),
        "app.kubernetes.io/instance: {{ .Release.Name }}",
        "app.kubernetes.io/instance: {{ .Release.Name }}\napp.kubernetes.io/component: web",
    );
    commit_all(
        &repo,
        "feat(nginx): chart 0.2.0 adds a component to the selector",
    );
    let (code, plan) = plan(&repo);
    assert_eq!(code, 0, "{plan:#}");
    let findings = plan["findings"].as_array().expect("findings");
    let wedge = findings
        .iter()
        .find(|f| f["analysis"] == "immutable-field")
        .unwrap_or_else(|| panic!("no immutable-field finding: {plan:#}"));
    assert_eq!(wedge["risk"], "High", "{wedge:#}");
    assert_eq!(wedge["producer"], "HelmRelease/default/nginx", "{wedge:#}");
    assert_eq!(
        wedge["field"], "spec.selector.matchLabels[\"app.kubernetes.io/component\"]",
        "{wedge:#}"
    );
    assert_eq!(
        wedge["file"], "tests/testdata/cluster9/apps/nginx/helm-release.yaml",
        "{wedge:#}"
    );
    let steps: Vec<&str> = wedge["procedure"]
        .as_array()
        .expect("procedure")
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect();
    // Helm never recreates it (a forced upgrade replaces in place): delete by hand, then retry
    assert_eq!(
        steps[1..],
        [
            "When the upgrade has failed: kubectl delete deployment.apps nginx -n default",
            "Retry the upgrade: capstan reconcile hr nginx -n default --force"
        ],
        "{steps:?}"
    );
    assert_eq!(plan["verdict"]["risk"], "High", "{plan:#}");
}
