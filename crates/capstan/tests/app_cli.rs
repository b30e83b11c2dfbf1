//! CLI tests of `capstan app add` / `capstan app remove` on a temporary copy of
//! `examples/home-ops`: the output of every path (add, remove, dry runs, each refusal) as insta
//! snapshots, and the effect on disk — exactly the planned files, the apps file kept byte for
//! byte, nothing at all after a dry run or a refusal.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/home-ops")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fresh copy of the example repository.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&example(), dir.path());
    dir
}

/// Every file under `root` with its contents.
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn snapshot(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn capstan(repo: &Path, args: &[&str]) -> Run {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .arg("--path")
        .arg(repo)
        .env("NO_COLOR", "1")
        // Snapshots must not depend on whether helm is installed: charts are not rendered here
        // (`remove_shows_chart_objects_with_helm` covers rendering them).
        .env("CAPSTAN_HELM", "/nonexistent/helm")
        .output()
        .unwrap();
    let clean = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes).replace(&repo.display().to_string(), "[REPO]")
    };
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: clean(&output.stdout),
        stderr: clean(&output.stderr),
    }
}

const APPS_FILE: &str = "clusters/home-ops/infrastructure/apps.yaml";

const ECHO: &[&str] = &[
    "app",
    "add",
    "echo",
    "--image",
    "traefik/whoami:v1.11.0@sha256:200689790a0a0ea48ca45992e0450bc26ccab5307375b41c84dfc4f2475937ab",
    "--port",
    "8080",
    "--ingress-host",
    "echo",
    "--storage",
    "1Gi",
];

#[test]
fn add_dry_run_prints_every_file_and_writes_nothing() {
    let repo = repo();
    let before = tree(repo.path());
    let mut args = ECHO.to_vec();
    args.push("--dry-run");
    let run = capstan(repo.path(), &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("add_dry_run", run.snapshot());
    assert_eq!(tree(repo.path()), before);
}

#[test]
fn add_writes_the_app_and_appends_to_the_apps_file() {
    let repo = repo();
    let before = tree(repo.path());
    let run = capstan(repo.path(), ECHO);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("add", run.snapshot());

    let after = tree(repo.path());
    let created: Vec<&PathBuf> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert_eq!(
        created,
        [
            "apps/echo/deployment.yaml",
            "apps/echo/ingress.yaml",
            "apps/echo/kustomization.yaml",
            "apps/echo/namespace.yaml",
            "apps/echo/pvc.yaml",
            "apps/echo/service.yaml",
        ]
        .map(PathBuf::from)
        .iter()
        .collect::<Vec<_>>()
    );
    let changed: Vec<&PathBuf> = before
        .iter()
        .filter(|(p, c)| after.get(*p) != Some(c))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(changed, [&PathBuf::from(APPS_FILE)]);
    // Every byte of the apps file stays; one document is appended.
    let old = &before[Path::new(APPS_FILE)];
    let new = &after[Path::new(APPS_FILE)];
    assert!(new.starts_with(old.as_str()));
    insta::assert_snapshot!("add_appended_document", &new[old.len()..]);

    // The same app cannot be added twice.
    let again = capstan(repo.path(), ECHO);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

/// The oracle builds what `app add` wrote (`kubectl kustomize apps/echo`).
#[test]
fn added_app_builds_with_kubectl_kustomize() {
    let Some(kubectl) = oracle("kubectl") else {
        eprintln!(
            "skipping: the kubectl oracle is not installed (see ../shared/tools/install-oracles.sh)"
        );
        return;
    };
    let repo = repo();
    assert_eq!(capstan(repo.path(), ECHO).code, 0);
    let output = Command::new(kubectl)
        .args(["kustomize"])
        .arg(repo.path().join("apps/echo"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let built = String::from_utf8_lossy(&output.stdout);
    for kind in [
        "kind: Namespace",
        "kind: PersistentVolumeClaim",
        "kind: Deployment",
        "kind: Service",
        "kind: Ingress",
    ] {
        assert!(built.contains(kind), "{kind} missing from\n{built}");
    }
    assert!(built.contains("- kubernetes.io/pvc-protection"));
}

fn oracle(name: &str) -> Option<PathBuf> {
    capstan_testkit::oracle(name)
}

#[test]
fn remove_shows_the_prune_and_cuts_the_document() {
    let repo = repo();
    let before = tree(repo.path());
    let run = capstan(repo.path(), &["app", "remove", "whoami"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("remove", run.snapshot());
    let after = tree(repo.path());
    let old = &before[Path::new(APPS_FILE)];
    let new = &after[Path::new(APPS_FILE)];
    // Only the apps-whoami document is gone: the file is the old one with that stretch cut out.
    let cut = old.find("---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps-whoami").unwrap();
    assert_eq!(new.as_str(), &old[..cut]);
    // The folder stays without --delete-files.
    assert!(after.contains_key(Path::new("apps/whoami/deployment.yaml")));
}

#[test]
fn remove_dry_run_writes_nothing() {
    let repo = repo();
    let before = tree(repo.path());
    let run = capstan(
        repo.path(),
        &["app", "remove", "home-automation", "--dry-run"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("remove_dry_run", run.snapshot());
    assert_eq!(tree(repo.path()), before);
}

#[test]
fn remove_delete_files_removes_the_folder() {
    let repo = repo();
    let run = capstan(
        repo.path(),
        &["app", "remove", "apps-whoami", "--delete-files"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("remove_delete_files", run.snapshot());
    assert!(!repo.path().join("apps/whoami").exists());
    assert!(repo.path().join("apps/home-automation").exists());
}

#[test]
fn add_then_remove_restores_the_repository() {
    let repo = repo();
    let before = tree(repo.path());
    assert_eq!(capstan(repo.path(), ECHO).code, 0);
    let run = capstan(repo.path(), &["app", "remove", "echo", "--delete-files"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(tree(repo.path()), before);
}

/// Each refusal: exit 2, a message saying what to do, and not a byte changed.
fn refused(name: &str, setup: impl FnOnce(&Path), args: &[&str]) {
    let repo = repo();
    setup(repo.path());
    let before = tree(repo.path());
    let run = capstan(repo.path(), args);
    assert_eq!(run.code, 2, "{}", run.snapshot());
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    insta::assert_snapshot!(name, run.snapshot());
    assert_eq!(tree(repo.path()), before);
}

fn nothing(_: &Path) {}

#[test]
fn refuses_a_name_that_is_not_dns1123() {
    refused(
        "refuse_name",
        nothing,
        &["app", "add", "My_App", "--image", "nginx:1.27"],
    );
}

#[test]
fn refuses_an_app_that_exists() {
    refused(
        "refuse_exists",
        nothing,
        &["app", "add", "whoami", "--image", "nginx:1.27"],
    );
}

#[test]
fn refuses_a_namespace_another_app_owns() {
    refused(
        "refuse_namespace_taken",
        nothing,
        &["app", "add", "cert-manager", "--image", "nginx:1.27"],
    );
}

#[test]
fn add_into_an_existing_namespace_joins_it() {
    let repo = repo();
    let run = capstan(
        repo.path(),
        &[
            "app",
            "add",
            "zigbee2mqtt",
            "--image",
            "ghcr.io/koenkk/zigbee2mqtt:2.4.0",
            "--port",
            "8080",
            "--namespace",
            "home-automation",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stdout
            .contains("create apps/zigbee2mqtt/namespace.yaml")
    );
    insta::assert_snapshot!("add_existing_namespace", run.snapshot());
}

#[test]
fn refuses_an_image_without_tag() {
    refused(
        "refuse_image_untagged",
        nothing,
        &["app", "add", "web", "--image", "nginx"],
    );
}

#[test]
fn refuses_an_image_on_latest() {
    refused(
        "refuse_image_latest",
        nothing,
        &["app", "add", "web", "--image", "ghcr.io/org/web:latest"],
    );
}

#[test]
fn refuses_an_unknown_dependency() {
    refused(
        "refuse_depends_on",
        nothing,
        &[
            "app",
            "add",
            "web",
            "--image",
            "nginx:1.27",
            "--depends-on",
            "infrastructure-ingress-nginx,ingress-nginx",
        ],
    );
}

#[test]
fn refuses_a_host_off_the_domain() {
    refused(
        "refuse_host_domain",
        nothing,
        &[
            "app",
            "add",
            "web",
            "--image",
            "nginx:1.27",
            "--ingress-host",
            "web.example.org",
        ],
    );
}

#[test]
fn refuses_a_host_already_served() {
    refused(
        "refuse_host_taken",
        nothing,
        &[
            "app",
            "add",
            "web",
            "--image",
            "nginx:1.27",
            "--ingress-host",
            "whoami",
        ],
    );
}

#[test]
fn refuses_storage_with_several_replicas() {
    refused(
        "refuse_storage_replicas",
        nothing,
        &[
            "app",
            "add",
            "web",
            "--image",
            "nginx:1.27",
            "--storage",
            "1Gi",
            "--replicas",
            "2",
        ],
    );
}

#[test]
fn refuses_when_the_apps_file_cannot_be_found() {
    refused(
        "refuse_no_apps_file",
        |root| fs::remove_file(root.join(APPS_FILE)).unwrap(),
        &["app", "add", "web", "--image", "nginx:1.27"],
    );
}

#[test]
fn refuses_several_clusters_without_cluster() {
    refused(
        "refuse_several_clusters",
        |root| fs::create_dir_all(root.join("clusters/staging")).unwrap(),
        &["app", "add", "web", "--image", "nginx:1.27"],
    );
}

#[test]
fn apps_file_flag_points_at_the_file() {
    let repo = repo();
    fs::create_dir_all(repo.path().join("clusters/staging")).unwrap();
    let run = capstan(
        repo.path(),
        &[
            "app",
            "add",
            "web",
            "--image",
            "nginx:1.27",
            "--apps-file",
            APPS_FILE,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = capstan(
        repo.path(),
        &[
            "app",
            "add",
            "web2",
            "--image",
            "nginx:1.27",
            "--cluster",
            "home-ops",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn refuses_to_remove_an_app_others_depend_on() {
    refused(
        "refuse_remove_dependents",
        |root| {
            let path = root.join(APPS_FILE);
            let mut text = fs::read_to_string(&path).unwrap();
            text.push_str("---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps-dashboard\n  namespace: flux-system\nspec:\n  interval: 10m0s\n  path: ./apps/whoami\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  dependsOn:\n    - name: apps-whoami\n");
            fs::write(path, text).unwrap();
        },
        &["app", "remove", "whoami"],
    );
}

#[test]
fn refuses_to_remove_an_unknown_app() {
    refused("refuse_remove_unknown", nothing, &["app", "remove", "nope"]);
}

#[test]
fn refuses_an_apps_file_flux_does_not_apply() {
    refused(
        "refuse_unapplied_apps_file",
        |root| {
            fs::create_dir_all(root.join("other")).unwrap();
            fs::write(
                root.join("other/apps.yaml"),
                "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps-x\n  namespace: flux-system\nspec:\n  interval: 10m0s\n  path: ./apps/x\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
            )
            .unwrap();
        },
        &[
            "app",
            "add",
            "web",
            "--image",
            "nginx:1.27",
            "--apps-file",
            "other/apps.yaml",
        ],
    );
}

/// `capstan plan` between the repository before and after a command, as JSON.
fn plan(before: &Path, after: &Path) -> serde_json::Value {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["plan", "-o", "json", "--offline", "--path"])
        .arg(after)
        .arg("--path-orig")
        .arg(before)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn plan_classifies_an_added_app_as_gitops_low() {
    let before = repo();
    let after = repo();
    assert_eq!(capstan(after.path(), ECHO).code, 0);
    let plan = plan(before.path(), after.path());
    assert_eq!(plan["verdict"]["phase"], "GitOps", "{plan:#}");
    assert_eq!(plan["verdict"]["risk"], "Low", "{plan:#}");
    let ids: Vec<&str> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["subject"]["id"].as_str())
        .collect();
    for id in [
        "Kustomization.kustomize.toolkit.fluxcd.io/flux-system/apps-echo",
        "Deployment.apps/echo/echo",
        "PersistentVolumeClaim/echo/echo-data",
    ] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
}

#[test]
fn plan_shows_the_prune_after_remove() {
    let before = repo();
    let after = repo();
    assert_eq!(capstan(after.path(), &["app", "remove", "whoami"]).code, 0);
    let plan = plan(before.path(), after.path());
    assert_eq!(plan["verdict"]["phase"], "GitOps", "{plan:#}");
    let deleted = plan["items"].as_array().unwrap().iter().find(|i| {
        i["subject"]["id"] == "Kustomization.kustomize.toolkit.fluxcd.io/flux-system/apps-whoami"
    });
    let deleted = deleted.unwrap_or_else(|| panic!("apps-whoami not in the plan: {plan:#}"));
    assert_eq!(deleted["subject"]["change"], "deleted");
    assert!(
        deleted["escalations"].as_array().is_some_and(|e| e
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e.contains("prune")))),
        "{deleted:#}"
    );
}

#[test]
fn refuses_a_path_that_is_not_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let run = capstan(&missing, &["app", "add", "web", "--image", "nginx:1.27"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a directory"), "{}", run.stderr);
    let run = capstan(&missing, &["app", "remove", "web"]);
    assert_eq!(run.code, 2);
    assert!(!dir.path().join("nope").exists());
}

/// `capstan check -o json` on a repository: (exit code, report).
fn check(repo: &Path) -> (i32, serde_json::Value) {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["check", "-o", "json", "--path"])
        .arg(repo)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "check -o json: {e}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

#[test]
fn check_passes_after_add_and_after_remove() {
    let repo = repo();
    assert_eq!(capstan(repo.path(), ECHO).code, 0);
    let (code, report) = check(repo.path());
    assert_eq!(code, 0, "{report:#}");
    let unit = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "apps-echo")
        .unwrap_or_else(|| panic!("check did not see apps-echo: {report:#}"));
    assert_eq!(unit["verdict"], "PASS", "{unit:#}");
    // Not even a warning about what app add wrote.
    let about_echo: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["location"]["file"]
                .as_str()
                .is_some_and(|file| file.starts_with("apps/echo"))
        })
        .collect();
    assert!(about_echo.is_empty(), "{about_echo:#?}");

    assert_eq!(
        capstan(repo.path(), &["app", "remove", "echo", "--delete-files"]).code,
        0
    );
    assert_eq!(capstan(repo.path(), &["app", "remove", "whoami"]).code, 0);
    let (code, report) = check(repo.path());
    assert_eq!(code, 0, "{report:#}");
    assert!(
        report["units"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["name"] != "apps-echo" && u["name"] != "apps-whoami")
    );
}

#[test]
fn remove_shows_chart_objects_with_helm() {
    let Some(helm) = oracle("helm") else {
        eprintln!(
            "skipping: the helm oracle is not installed (../shared/tools/install-oracles.sh)"
        );
        return;
    };
    let repo = repo();
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["app", "remove", "home-automation", "--dry-run", "--path"])
        .arg(repo.path())
        .env("CAPSTAN_HELM", helm)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The in-repo chart's objects, with the config claim Helm keeps on uninstall.
    assert!(
        stdout.contains(
            "keep   PersistentVolumeClaim home-automation/home-assistant-config  \
             (helm.sh/resource-policy: keep; installed by HelmRelease home-automation/home-assistant)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "delete Deployment home-automation/home-assistant  (installed by HelmRelease \
             home-automation/home-assistant)"
        ),
        "{stdout}"
    );
}
