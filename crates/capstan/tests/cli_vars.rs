//! `--var KEY=VALUE` / `--vars-file` on the offline commands besides build and check: `diff`,
//! `plan`, `get` and `graph` take the user's substitution variables into discovery and build as
//! `build` does, so a variable the repository leaves undefined renders instead of failing.

#[path = "support/build_json.rs"]
mod build_json;

use std::path::Path;

use build_json::{capstan, flux_system, write};

/// A cluster whose `apps` Kustomization defines DOMAIN but not REGION, its path and a ConfigMap
/// both reading REGION; `replicas` differs between the two sides of a diff.
fn repo(root: &Path, replicas: &str) {
    flux_system(root);
    write(
        root,
        "clusters/dev/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild:
    substitute: {DOMAIN: example.com}
",
    );
    write(
        root,
        "apps/kustomization.yaml",
        "resources: [settings.yaml]\n",
    );
    write(
        root,
        "apps/settings.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: default}}\ndata: {{region: '${{REGION}}', domain: '${{DOMAIN}}', replicas: '{replicas}'}}\n"
        ),
    );
}

fn sides() -> (tempfile::TempDir, tempfile::TempDir) {
    let base = tempfile::tempdir().expect("tempdir");
    let head = tempfile::tempdir().expect("tempdir");
    repo(base.path(), "1");
    repo(head.path(), "2");
    (base, head)
}

#[test]
fn diff_renders_with_user_variables() {
    let (base, head) = sides();
    let (base, head) = (base.path().to_str().unwrap(), head.path().to_str().unwrap());
    let args = [
        "diff",
        "all",
        "--path-orig",
        base,
        "--path",
        head,
        "--offline",
        "-o",
        "json",
    ];
    let (_, json, stderr) = capstan(&args);
    let text = json.to_string();
    assert!(
        !text.contains("eu-west"),
        "without --var the variable is not filled: {text}"
    );
    let with: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--var", "REGION=eu-west"])
        .collect();
    let (code, json, stderr2) = capstan(&with);
    let text = json.to_string();
    assert!(
        text.contains("eu-west") && text.contains("settings"),
        "diff renders with --var (exit {code}): {text}\n{stderr}\n{stderr2}"
    );
    assert!(!text.contains("${REGION}"), "{text}");
}

#[test]
fn plan_takes_a_vars_file() {
    let (base, head) = sides();
    let vars = tempfile::tempdir().expect("tempdir");
    let file = vars.path().join("vars.yaml");
    std::fs::write(&file, "REGION: eu-west\n").expect("write");
    let (base, head) = (base.path().to_str().unwrap(), head.path().to_str().unwrap());
    let args = ["plan", "--path-orig", base, "--path", head, "--offline"];
    let (code, _, stderr) = capstan(&args);
    assert_ne!(
        code, 0,
        "an undefined variable fails the plan's rendering: {stderr}"
    );
    let with: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--vars-file", file.to_str().unwrap()])
        .collect();
    let (code, _, stderr) = capstan(&with);
    assert_eq!(code, 0, "plan renders with --vars-file: {stderr}");
}

#[test]
fn get_and_graph_accept_variables() {
    let root = tempfile::tempdir().expect("tempdir");
    repo(root.path(), "1");
    let path = root.path().to_str().unwrap();
    for args in [
        vec!["get", "ks", "-A", "--path", path, "--var", "REGION=eu-west"],
        vec!["graph", "--path", path, "--var", "REGION=eu-west"],
    ] {
        let (code, _, stderr) = capstan(&args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
    }
    let (code, _, stderr) = capstan(&["get", "ks", "--path", path, "--var", "1X=a"]);
    assert_eq!(code, 2, "a bad --var is refused: {stderr}");
    assert!(stderr.contains("1X"), "{stderr}");
}

#[test]
fn get_lists_helm_releases_under_a_substituted_path() {
    let root = tempfile::tempdir().expect("tempdir");
    let root_path = root.path();
    flux_system(root_path);
    write(
        root_path,
        "clusters/dev/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild:
    substitute: {CLUSTER: dev}
",
    );
    write(
        root_path,
        "apps/web.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web, namespace: flux-system}
spec:
  interval: 10m
  path: ./web/${CLUSTER}/${ZONE}
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
",
    );
    write(
        root_path,
        "web/dev/a/release.yaml",
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: web}
spec:
  interval: 10m
  chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}
",
    );
    let path = root_path.to_str().unwrap();
    let (_, json, stderr) = capstan(&[
        "get", "hr", "-A", "--path", path, "-o", "json", "--var", "ZONE=a",
    ]);
    assert!(
        json.to_string().contains("podinfo"),
        "the HelmRelease under ./web/${{CLUSTER}}/${{ZONE}} is listed: {json}\n{stderr}"
    );
}
