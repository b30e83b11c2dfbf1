//! Bad input on a real filesystem: a symlink loop inside a Kustomization's path, a file that is
//! not YAML, a path escaping the repository. Discovery reports and goes on.

use std::path::Path;

use capstan_core::OsFs;
use capstan_flux::discovery::{KustomizeRenderer, Options, discover};

fn write(root: &Path, path: &str, text: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(file, text).expect("write");
}

const SYNC: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {path: ./clusters/lab, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
";

#[cfg(unix)]
#[test]
fn symlink_loop_is_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "clusters/lab/flux-system/gotk-sync.yaml", SYNC);
    write(
        root,
        "apps/podinfo/release.yaml",
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: apps}\nspec: {chartRef: {kind: OCIRepository, name: podinfo}}\n",
    );
    std::os::unix::fs::symlink(root.join("apps"), root.join("apps/podinfo/loop")).expect("symlink");
    let root = std::fs::canonicalize(root).expect("canonical");
    let discovery = discover(
        &OsFs,
        &root,
        &KustomizeRenderer::default(),
        &Options::default(),
    )
    .expect("runs");
    let cluster = &discovery.clusters[0];
    assert_eq!(cluster.helm_releases.len(), 1);
    assert_eq!(
        cluster.helm_releases[0].found.key.to_string(),
        "HelmRelease/apps/podinfo"
    );
    // The release's OCIRepository is declared nowhere.
    assert!(
        cluster
            .diagnostics
            .iter()
            .any(|d| d.code == "flux/missing-source"),
        "{:?}",
        cluster.diagnostics
    );
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "clusters/lab/flux-system/gotk-sync.yaml", SYNC);
    write(
        root,
        "apps/ok.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok, namespace: apps}\n",
    );
    write(
        root,
        "apps/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n",
    );
    let root = std::fs::canonicalize(root).expect("canonical");
    let discovery = discover(
        &OsFs,
        &root,
        &KustomizeRenderer::default(),
        &Options::default(),
    )
    .expect("runs");
    let cluster = &discovery.clusters[0];
    let failure = cluster
        .diagnostics
        .iter()
        .find(|d| d.code == "flux/build-failed")
        .expect("a build failure");
    assert_eq!(
        failure.location.file.as_deref(),
        Some(Path::new("apps/broken.yaml"))
    );
    assert!(failure.location.line.is_some(), "{failure}");
    assert!(
        !failure.message.contains(&root.display().to_string()),
        "{failure}"
    );
}
