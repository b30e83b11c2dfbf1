//! Helpers for CLI tests that run `capstan build … -o json` over a Flux repository the test
//! writes: files into a temp dir, the binary's exit code / JSON / stderr, and lookups into its
//! results.

#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;

/// Writes `text` at `root/file`, creating directories.
pub fn write(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes the flux-system sync of a `dev` cluster whose root Kustomization applies
/// `clusters/dev`.
pub fn flux_system(root: &Path) {
    write(
        root,
        "clusters/dev/flux-system/gotk-sync.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: https://example.com/fleet, ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 10m, path: ./clusters/dev, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
",
    );
}

/// Runs capstan with `args` (colour off, no SOPS keys, no registry logins from the host):
/// exit code, stdout as JSON (null when it is not), stderr.
pub fn capstan(args: &[&str]) -> (i32, Value, String) {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("DOCKER_CONFIG")
        .env_remove("HELM_REGISTRY_CONFIG")
        .env("HOME", "/nonexistent")
        .output()
        .expect("capstan runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    (
        output.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The build result of HelmRelease `name`.
pub fn release<'a>(results: &'a Value, name: &str) -> &'a Value {
    results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"]["kind"] == "HelmRelease" && r["key"]["name"] == name)
        .unwrap_or_else(|| panic!("no result for {name}: {results:#}"))
}

/// The first object a result rendered (the test charts render one ConfigMap).
pub fn config_map(result: &Value) -> &Value {
    &result["objects"][0]["object"]
}
