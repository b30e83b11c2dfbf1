//! Sources from elsewhere (issue 13, item 3): `--source KIND/NS/NAME=PATH` and the `sources` of
//! `.capstan.yaml` map a GitRepository, OCIRepository or Bucket to a local folder, on every
//! offline command that renders (build, check, get, graph, diff); a root Kustomization whose
//! path is missing at the top but present under one folder names that folder and the flag.
//!
//! The repository the tests write: a FluxInstance syncing an OCI artifact pushed from the
//! repository's `kubernetes/` folder, whose cluster applies `./apps` from that artifact and
//! `./deploy` from another Git repository (`infra`, a sibling folder).

use std::path::Path;

use capstan_testkit::git::write_tree;

fn fleet(dir: &Path) {
    write_tree(
        dir,
        &[
            (
                "repo/bootstrap/flux-instance.yaml",
                "apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  distribution: {version: 2.6.x, registry: ghcr.io/fluxcd}
  sync: {kind: OCIRepository, url: 'oci://ghcr.io/example/fleet', ref: latest, path: clusters/prod}
",
            ),
            (
                "repo/kubernetes/clusters/prod/apps.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: OCIRepository, name: flux-system}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: infra, namespace: flux-system}
spec: {interval: 10m, url: 'https://github.com/example/infra', ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: flux-system}
spec: {interval: 10m, path: ./deploy, prune: true, sourceRef: {kind: GitRepository, name: infra}}
",
            ),
            (
                "repo/kubernetes/apps/web/configmap.yaml",
                "apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: default}
data: {greeting: hello}
",
            ),
            (
                "infra/deploy/namespace.yaml",
                "apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
",
            ),
        ],
    );
}

const KUBERNETES: &str = "--source=OCIRepository/flux-system/flux-system=repo/kubernetes";
const INFRA: &str = "--source=GitRepository/flux-system/infra=infra";

/// Runs capstan in `dir`: exit code, stdout and stderr with `dir` shown as `<tmp>`.
fn run(dir: &Path, args: &[&str]) -> String {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", "/nonexistent")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .expect("capstan runs");
    let real = dir.canonicalize().expect("the temp dir exists");
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
    .replace(&real.display().to_string(), "<tmp>")
    .replace(&dir.display().to_string(), "<tmp>")
}

#[test]
fn missing_root_path_names_the_folder_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path());
    insta::assert_snapshot!(
        "sources_hint_build",
        run(dir.path(), &["build", "all", "--offline", "--path", "repo"])
    );
    insta::assert_snapshot!(
        "sources_hint_get",
        run(dir.path(), &["get", "ks", "-A", "--path", "repo"])
    );
}

#[test]
fn a_mapping_naming_no_declared_source_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path());
    // The right OCIRepository, and a GitRepository whose name is misspelt.
    let typo = "--source=GitRepository/flux-system/infar=infra";
    for command in [&["build", "all", "--offline"][..], &["get", "ks", "-A"][..]] {
        let mut args = command.to_vec();
        args.extend(["--path", "repo", KUBERNETES, typo]);
        let out = run(dir.path(), &args);
        assert!(
            out.contains(
                "warning[flux/unused-source-mapping]: the source mapping GitRepository/flux-system/infar="
            ) && out.contains("declares or reads a GitRepository named infar in namespace flux-system"),
            "{out}"
        );
        assert!(
            !out.contains(
                "OCIRepository/flux-system/flux-system=<tmp>/repo/kubernetes is not used"
            ),
            "{out}"
        );
    }
}

#[test]
fn mapped_sources_render_on_every_offline_command() {
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path());
    let path = ["--path", "repo"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(&path)
            .chain(&[KUBERNETES, INFRA])
            .map(|s| (*s).to_owned())
            .collect()
    };
    let build = with(&["build", "all", "--offline"]);
    let build: Vec<&str> = build.iter().map(String::as_str).collect();
    insta::assert_snapshot!("sources_build", run(dir.path(), &build));
    let get = with(&["get", "all", "-A"]);
    let get: Vec<&str> = get.iter().map(String::as_str).collect();
    insta::assert_snapshot!("sources_get", run(dir.path(), &get));
    let graph = with(&["graph"]);
    let graph: Vec<&str> = graph.iter().map(String::as_str).collect();
    insta::assert_snapshot!("sources_graph", run(dir.path(), &graph));
    let check = with(&["check", "--offline"]);
    let check: Vec<&str> = check.iter().map(String::as_str).collect();
    insta::assert_snapshot!("sources_check", run(dir.path(), &check));

    // diff between two folders: the mapped content is the same on both sides
    write_tree(
        dir.path(),
        &[(
            "infra/deploy/extra.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: logging}\n",
        )],
    );
    let copy = dir.path().join("orig");
    capstan_testkit::git::copy_tree(&dir.path().join("repo"), &copy);
    write_tree(
        dir.path(),
        &[(
            "repo/kubernetes/apps/web/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: default}\ndata: {greeting: hi}\n",
        )],
    );
    // each side maps `kubernetes` inside itself, `infra` is the same folder for both
    let diff = with(&["diff", "all", "--path-orig", "orig", "--offline"]);
    let diff: Vec<&str> = diff.iter().map(String::as_str).collect();
    insta::assert_snapshot!("sources_diff", run(dir.path(), &diff));
}

#[test]
fn capstan_yaml_holds_the_same_mappings() {
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path());
    write_tree(
        dir.path(),
        &[(
            "repo/.capstan.yaml",
            "sources:\n  OCIRepository/flux-system/flux-system: kubernetes\n  GitRepository/flux-system/infra: ../infra\n",
        )],
    );
    let from_file = run(dir.path(), &["build", "all", "--offline", "--path", "repo"]);
    let from_flags = run(
        dir.path(),
        &[
            "build",
            "all",
            "--offline",
            "--path",
            "repo",
            KUBERNETES,
            INFRA,
        ],
    );
    assert_eq!(from_file, from_flags);
    assert!(from_file.starts_with("exit: 0\n"), "{from_file}");
    assert!(from_file.contains("name: monitoring"), "{from_file}");
}

#[test]
fn bad_mappings_are_refused_with_the_field() {
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path());
    let bad_flag = run(
        dir.path(),
        &[
            "build",
            "all",
            "--path",
            "repo",
            "--source",
            "GitRepository/infra=infra",
        ],
    );
    let missing_folder = run(
        dir.path(),
        &[
            "get",
            "ks",
            "--path",
            "repo",
            "--source",
            "GitRepository/flux-system/infra=nowhere",
        ],
    );
    write_tree(
        dir.path(),
        &[(
            "repo/.capstan.yaml",
            "sources:\n  HelmRepository/flux-system/charts: ../charts\n",
        )],
    );
    let bad_file = run(dir.path(), &["graph", "--path", "repo"]);
    insta::assert_snapshot!(
        "sources_refused",
        format!("{bad_flag}\n{missing_folder}\n{bad_file}")
    );
}

#[test]
fn path_inside_a_repository_finds_its_root() {
    let Some(corpus) = capstan_testkit::shared::corpus("buroa+k8s-gitops") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    capstan_testkit::git::copy_tree(&corpus, dir.path());
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let got = run(
        dir.path(),
        &["get", "ks", "-A", "--path", "kubernetes/apps/default"],
    );
    // the namespace comes from kubernetes/apps/default/kustomization.yaml, applied from the root
    let rows: Vec<&str> = got
        .lines()
        .skip_while(|l| !l.starts_with("NAMESPACE"))
        .take_while(|l| !l.starts_with("---"))
        .collect();
    insta::assert_snapshot!("sources_path_inside", rows.join("\n"));
    assert!(got.contains("note: kubernetes/apps/default is inside the repository at <tmp>"));
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["build", "ks", "--offline", "-o", "json"])
        .args(["--path", "kubernetes/apps/default"])
        .current_dir(dir.path())
        .output()
        .expect("capstan runs");
    assert_eq!(output.status.code(), Some(0));
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.pointer("/key/name").and_then(|n| n.as_str()))
        .collect();
    assert_eq!(names, ["atuin", "home-assistant"]);
}

/// d2-fleet's tenants read OCI artifacts and Git repositories made from d2-infra and d2-apps:
/// mapped to those corpus folders, every one of them is built from its folder, its path
/// (`./controllers/${ENVIRONMENT}`, from a ResourceSet input the tenants' substitution fills)
/// found there, none left out as remote; their `substituteFrom` ConfigMap, which the tenants'
/// ResourceSet copies from flux-system (`fluxcd.controlplane.io/copyFrom`), is read, so 17 of the
/// 20 render (the other 3 stop on a Grafana dashboard's own undefined `${DS_PROMETHEUS}`).
#[test]
fn d2_fleet_tenants_render_from_d2_infra_and_d2_apps() {
    let (Some(fleet), Some(infra), Some(apps)) = (
        capstan_testkit::shared::corpus("controlplaneio-fluxcd+d2-fleet"),
        capstan_testkit::shared::corpus("controlplaneio-fluxcd+d2-infra"),
        capstan_testkit::shared::corpus("controlplaneio-fluxcd+d2-apps"),
    ) else {
        return;
    };
    let map = |source: &str, dir: &Path| format!("--source={source}={}", dir.display());
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["build", "ks", "--offline", "-o", "json", "--path"])
        .arg(&fleet)
        .arg(map("GitRepository/apps/apps", &apps))
        .arg(map("GitRepository/infra/infra", &infra))
        .arg(map(
            "OCIRepository/cert-manager/infra",
            &infra.join("components/cert-manager"),
        ))
        .arg(map(
            "OCIRepository/monitoring/infra",
            &infra.join("components/monitoring"),
        ))
        .arg(map(
            "OCIRepository/frontend/apps",
            &apps.join("components/frontend"),
        ))
        .arg(map(
            "OCIRepository/backend/apps",
            &apps.join("components/backend"),
        ))
        .output()
        .expect("capstan runs");
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = results.as_array().unwrap();
    let tenants: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r.pointer("/key/namespace").and_then(|n| n.as_str()) != Some("flux-system"))
        .collect();
    assert_eq!(
        tenants.len(),
        20,
        "3 clusters × 6 tenants' Kustomizations, 2 in update"
    );
    let mut failed = Vec::new();
    for result in tenants {
        let errors = result["errors"].to_string();
        assert_ne!(result["status"], "skipped", "{result}");
        assert!(!errors.contains("path not found"), "{errors}");
        // the tenants' `flux-runtime-info` is copied (copyFrom) from flux-system's
        assert!(!errors.contains("flux-runtime-info"), "{errors}");
        if result["status"] != "rendered" {
            failed.push(format!(
                "{}/{}",
                result.pointer("/key/namespace").unwrap(),
                result.pointer("/key/name").unwrap()
            ));
            // the one failure: a Grafana dashboard's own `${DS_PROMETHEUS}`, undefined under
            // the strict substitution the latest Flux applies
            assert!(errors.contains("DS_PROMETHEUS"), "{errors}");
        } else {
            assert!(!errors.contains("${"), "{errors}");
        }
    }
    assert_eq!(
        failed, ["\"monitoring\"/\"infra-configs\""; 3],
        "17 of 20 render"
    );
}
