//! Changed-only `capstan diff` (the default) gives the `--full` result, change after change, on a
//! repository built for it: inputs outside the Kustomization's folder (a patch, a component),
//! `substituteFrom` and `valuesFrom` objects rendered by other Kustomizations, Flux
//! Kustomizations added, removed and changed, a Flux source, a file that stops parsing, and files
//! nothing reads.

use std::path::Path;

use serde_json::Value;

use capstan_testkit::git::{self as support_git, copy_tree, git};

fn write(repo: &Path, path: &str, text: &str) {
    let path = repo.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn edit(repo: &Path, path: &str, from: &str, to: &str) {
    let file = repo.join(path);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains(from), "{path} holds {from:?}");
    std::fs::write(file, text.replacen(from, to, 1)).expect("write");
}

/// `capstan diff all -o json OLD_SIDE [extra]` (OLD_SIDE: `--base HEAD` or `--path-orig DIR`):
/// (exit code, report without the warnings).
fn diff(repo: &Path, old: &[&std::ffi::OsStr], extra: &[&str]) -> (i32, Value) {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["diff", "all", "-o", "json", "--offline"])
        .args(old)
        .args(extra)
        .arg("--path")
        .arg(repo)
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs");
    let mut report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "json ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    // failures the change did not cause are warnings, seen only by the mode that renders them
    if let Some(map) = report.as_object_mut() {
        map.remove("unchanged_failures");
    }
    (output.status.code().unwrap_or(-1), report)
}

const GOTK_SYNC: &str = "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: https://example.com/repo.git, ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 10m
  path: ./clusters/main
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
";

const APPS: &str = "\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
";

thread_local! {
    /// Where the cluster lies in its git repository (`sub/`), which every Flux `spec.path` names
    /// (flux-local's test clusters are laid out so).
    static PREFIX: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A Flux `spec.path` to `path` (relative to the cluster).
fn flux_path(path: &str) -> String {
    PREFIX.with(|p| format!("./{}{path}", p.borrow()))
}

fn app_ks(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  interval: 10m\n  path: {}\n  prune: true\n  targetNamespace: {name}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n{extra}",
        flux_path(&format!("apps/{name}/app"))
    )
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n        - name: {name}\n          image: {image}\n          env:\n            - {{name: DOMAIN, value: \"${{DOMAIN}}\"}}\n"
    )
}

/// The starting repository: a cluster whose `apps` Kustomization applies three apps, one with a
/// shared patch, a shared component and `substituteFrom` a ConfigMap the cluster itself renders,
/// one whose HelmRelease takes `valuesFrom` a ConfigMap another Kustomization renders.
fn seed(repo: &Path) {
    write(
        repo,
        "clusters/main/flux-system/gotk-sync.yaml",
        &GOTK_SYNC.replace("./clusters/main", &flux_path("clusters/main")),
    );
    write(
        repo,
        "clusters/main/apps.yaml",
        &APPS.replace("./apps", &flux_path("apps")),
    );
    write(
        repo,
        "clusters/main/vars.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-vars, namespace: flux-system}\ndata: {DOMAIN: example.com}\n",
    );
    write(
        repo,
        "apps/kustomization.yaml",
        "resources: [web/ks.yaml, api/ks.yaml, shared/ks.yaml, db/ks.yaml]\n",
    );
    let substitute =
        "  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-vars}\n";
    write(repo, "apps/web/ks.yaml", &app_ks("web", substitute));
    write(
        repo,
        "apps/web/app/kustomization.yaml",
        "resources: [deployment.yaml]\ncomponents: [../../../components/common]\npatches:\n  - path: ../../../patches/replicas.yaml\n    target: {kind: Deployment}\n",
    );
    write(
        repo,
        "apps/web/app/deployment.yaml",
        &deployment("web", "nginx:1.27"),
    );
    write(repo, "apps/api/ks.yaml", &app_ks("api", ""));
    write(
        repo,
        "apps/api/app/deployment.yaml",
        &deployment("api", "api:1.0"),
    );
    write(
        repo,
        "components/common/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n  - pairs: {team: platform}\n",
    );
    write(
        repo,
        "patches/replicas.yaml",
        "- {op: replace, path: /spec/replicas, value: 2}\n",
    );
    write(repo, "apps/shared/ks.yaml", &app_ks("shared", ""));
    write(
        repo,
        "apps/shared/app/values.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db-values, namespace: db}\ndata:\n  values.yaml: |\n    replicas: 1\n",
    );
    write(repo, "apps/db/ks.yaml", &app_ks("db", ""));
    write(
        repo,
        "apps/db/app/helmrelease.yaml",
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: db}\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: ./charts/db\n      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n  valuesFrom:\n    - {kind: ConfigMap, name: db-values}\n",
    );
    write(
        repo,
        "charts/db/Chart.yaml",
        "apiVersion: v2\nname: db\nversion: 1.0.0\n",
    );
    write(
        repo,
        "charts/db/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db-settings\ndata:\n  replicas: {{ .Values.replicas | quote }}\n",
    );
    write(repo, "README.md", "# a test cluster\n");
}

type Change = fn(&Path);

fn changes() -> Vec<(&'static str, Change, bool)> {
    vec![
        (
            "a file in the folder",
            |r| {
                edit(
                    r,
                    "apps/web/app/deployment.yaml",
                    "nginx:1.27",
                    "nginx:1.28",
                )
            },
            true,
        ),
        (
            "a patch outside the folder",
            |r| edit(r, "patches/replicas.yaml", "value: 2", "value: 3"),
            true,
        ),
        (
            "a component",
            |r| edit(r, "components/common/kustomization.yaml", "platform", "web"),
            true,
        ),
        (
            "a substituteFrom ConfigMap",
            |r| edit(r, "clusters/main/vars.yaml", "example.com", "example.org"),
            true,
        ),
        (
            "a valuesFrom ConfigMap",
            |r| {
                edit(
                    r,
                    "apps/shared/app/values.yaml",
                    "replicas: 1",
                    "replicas: 2",
                )
            },
            true,
        ),
        (
            "a Flux Kustomization added",
            |r| {
                write(r, "apps/cache/ks.yaml", &app_ks("cache", ""));
                write(
                    r,
                    "apps/cache/app/deployment.yaml",
                    &deployment("cache", "redis:7"),
                );
                edit(
                    r,
                    "apps/kustomization.yaml",
                    "db/ks.yaml]",
                    "db/ks.yaml, cache/ks.yaml]",
                );
            },
            true,
        ),
        (
            "a Flux Kustomization changed",
            |r| {
                edit(
                    r,
                    "apps/api/ks.yaml",
                    "targetNamespace: api",
                    "targetNamespace: api2",
                )
            },
            true,
        ),
        (
            "a Flux Kustomization removed",
            |r| {
                std::fs::remove_dir_all(r.join("apps/cache")).expect("rm");
                edit(r, "apps/kustomization.yaml", ", cache/ks.yaml]", "]");
            },
            true,
        ),
        (
            "a Flux source",
            |r| {
                edit(
                    r,
                    "clusters/main/flux-system/gotk-sync.yaml",
                    "https://example.com/repo.git",
                    "https://example.com/moved.git",
                )
            },
            true,
        ),
        (
            "a file that stops parsing",
            |r| write(r, "apps/api/app/deployment.yaml", "kind: [unclosed\n"),
            true,
        ),
        (
            "a file nothing reads",
            |r| write(r, "README.md", "# still a test cluster\n"),
            false,
        ),
        (
            "a new file beside a kustomization",
            |r| write(r, "apps/web/app/notes.txt", "not listed\n"),
            false,
        ),
    ]
}

/// How the old side is given.
enum OldSide {
    /// `--base HEAD`, each change committed after it is checked.
    Git,
    /// `--path-orig DIR`, a copy of the cluster taken before each change.
    Copy,
}

/// Applies every change to the cluster at `cluster` (inside the git repository at `top`) and
/// checks changed-only against `--full` for each.
fn check_changes(top: &Path, cluster: &Path, old: OldSide) {
    let orig = top.with_file_name("orig");
    let old_args = |orig: &Path| -> Vec<std::ffi::OsString> {
        match old {
            OldSide::Git => vec!["--base".into(), "HEAD".into()],
            OldSide::Copy => vec!["--path-orig".into(), orig.into()],
        }
    };
    for (name, change, differs) in changes() {
        if matches!(old, OldSide::Copy) {
            let _ = std::fs::remove_dir_all(&orig);
            copy_tree(cluster, &orig);
        }
        change(cluster);
        let args = old_args(&orig);
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let (code, changed_only) = diff(cluster, &args, &[]);
        let (full_code, full) = diff(cluster, &args, &["--full"]);
        assert_eq!(
            (code, &changed_only),
            (full_code, &full),
            "{name}: changed-only differs from --full"
        );
        let groups = changed_only["groups"].as_array().map_or(0, Vec::len);
        assert_eq!(groups > 0, differs, "{name}: {changed_only:#}");
        if matches!(old, OldSide::Git) {
            git(top, &["add", "-A"]);
            git(top, &["commit", "-q", "-m", name]);
        }
    }
}

/// A git repository whose cluster is `top/prefix`; returns (top, cluster).
fn git_repository(dir: &Path, prefix: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    PREFIX.with(|p| *p.borrow_mut() = prefix.to_owned());
    let top = dir.join("repo");
    let cluster = top.join(prefix);
    seed(&cluster);
    git(&top, &["init", "-q", "-b", "main"]);
    git(&top, &["add", "-A"]);
    git(&top, &["commit", "-q", "-m", "seed"]);
    let head: [&std::ffi::OsStr; 2] = ["--base".as_ref(), "HEAD".as_ref()];
    assert_eq!(diff(&cluster, &head, &[]).0, 0, "a clean tree has no diff");
    (top, cluster)
}

#[test]
fn changed_only_gives_the_full_result() {
    if !support_git::available() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (top, cluster) = git_repository(dir.path(), "");
    check_changes(&top, &cluster, OldSide::Git);
}

#[test]
fn changed_only_gives_the_full_result_for_a_cluster_in_a_folder_of_its_repository() {
    if !support_git::available() {
        eprintln!("skipping: git is not installed");
        return;
    }
    // `--path` names the folder; the Flux paths start at the top of the git repository
    let dir = tempfile::tempdir().expect("tempdir");
    let (top, cluster) = git_repository(dir.path(), "tests/cluster/");
    check_changes(&top, &cluster, OldSide::Git);
}

#[test]
fn changed_only_gives_the_full_result_against_another_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let top = dir.path().join("repo");
    PREFIX.with(|p| p.borrow_mut().clear());
    seed(&top);
    check_changes(&top, &top, OldSide::Copy);
}
