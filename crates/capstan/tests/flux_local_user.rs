//! What a user coming from flux-local checks first. Images: an operator's
//! image fields are listed (rook's `cephVersion.image`), and a HelmRelease whose chart cannot be
//! had is listed with its images unknown — in `get images` (a `?` row, `"images": null`) and in
//! `diff images` (named on stderr, exit 2 unless `--allow-skipped`) — never as having none.
//! Helm's `--kube-version` / `--api-versions` are checked once at the edge, and reach `helm
//! template` from `diff` as they do from `build`. `diff --skip-secrets/--skip-crds/--skip-kinds`
//! leave those kinds out of what is shown, as flux-local's diff does by default.

use std::path::Path;
use std::process::{Command, Output};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A Kustomization applying a CephCluster and a HelmRelease whose chart comes from a
/// HelmRepository that is not in the (empty) chart cache; the release's image tag is `tag`.
fn repo(dir: &Path, tag: &str) {
    write(
        &dir.join("ks.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    );
    write(
        &dir.join("apps/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ceph.yaml\n  - release.yaml\n",
    );
    write(
        &dir.join("apps/ceph.yaml"),
        "apiVersion: ceph.rook.io/v1\nkind: CephCluster\nmetadata:\n  name: ceph\n  namespace: rook-ceph\nspec:\n  cephVersion:\n    image: quay.io/ceph/ceph:v19.2.0\n",
    );
    write(
        &dir.join("apps/release.yaml"),
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: https://charts.invalid.example\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: default\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: web\n      version: 1.0.0\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n        namespace: flux-system\n  values:\n    image:\n      tag: \"{tag}\"\n"
        ),
    );
}

fn capstan(args: &[&str], dirs: &[&Path]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_capstan"));
    command.args(args);
    for dir in dirs {
        command.arg(dir);
    }
    command
        .args(["--offline", "--chart-cache", "/nonexistent-capstan-cache"])
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn get_images_lists_operator_images_and_says_when_images_are_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo(dir.path(), "1.0");
    let json = capstan(
        &["get", "images", "-A", "-o", "json", "--path"],
        &[dir.path()],
    );
    assert_eq!(json.status.code(), Some(2), "{}", text(&json.stderr));
    let records: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let find = |name: &str| {
        records
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {records}"))
            .clone()
    };
    let apps = find("apps");
    assert_eq!(apps["status"], "rendered");
    assert_eq!(
        apps["images"],
        serde_json::json!(["quay.io/ceph/ceph:v19.2.0"])
    );
    let web = find("web");
    assert_eq!(web["status"], "not rendered", "{web}");
    assert!(web["images"].is_null(), "unknown, not empty: {web}");
    assert!(
        web["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{web}"
    );
    let table = capstan(&["get", "images", "-A", "--path"], &[dir.path()]);
    assert_eq!(table.status.code(), Some(2));
    let out = text(&table.stdout);
    assert!(
        out.lines()
            .any(|l| l.contains("web") && l.contains("? (images unknown: not rendered)")),
        "{out}"
    );
    assert!(
        text(&table.stderr).contains("not rendered: HelmRelease/default/web"),
        "{}",
        text(&table.stderr)
    );
    // without -A, the namespaces left out are counted and -A named, as `get` does
    let flux_system = capstan(&["get", "images", "--path"], &[dir.path()]);
    let stderr = text(&flux_system.stderr);
    assert!(
        stderr.contains(
            "1 more in other namespaces (default: 1); all namespaces: capstan get images -A"
        ),
        "{stderr}"
    );
}

#[test]
fn diff_images_never_reports_no_change_for_a_release_it_could_not_render() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    repo(&old, "1.0");
    repo(&new, "1.1");
    for format in ["human", "json"] {
        let output = capstan(
            &["diff", "images", "-o", format, "--path-orig"],
            &[&old, Path::new("--path"), &new],
        );
        assert_eq!(
            output.status.code(),
            Some(2),
            "{format}: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("HelmRelease/default/web not compared"),
            "{stderr}"
        );
        assert!(
            !text(&output.stdout).trim().eq("no image changes"),
            "{}",
            text(&output.stdout)
        );
    }
    let accepted = capstan(
        &["diff", "images", "--allow-skipped", "--path-orig"],
        &[&old, Path::new("--path"), &new],
    );
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        text(&accepted.stderr)
    );
    assert!(
        text(&accepted.stdout).contains("1 not compared, their images unknown"),
        "{}",
        text(&accepted.stdout)
    );
}

#[test]
fn a_bad_helm_flag_value_is_one_error_naming_the_flag() {
    for command in [
        &["build", "hr"][..],
        &["get", "images"],
        &["diff", "hr"],
        &["plan"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(command)
            .args(["--kube-version", "banana", "--path", "."])
            .output()
            .expect("capstan runs");
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("--kube-version") && stderr.contains("e.g. 1.33"),
            "{command:?}: {stderr}"
        );
        let api = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(command)
            .args(["-a", "not an api", "--path", "."])
            .output()
            .expect("capstan runs");
        assert_eq!(api.status.code(), Some(2), "{command:?}");
        assert!(
            text(&api.stderr).contains("GROUP/VERSION"),
            "{command:?}: {}",
            text(&api.stderr)
        );
    }
}

#[test]
fn diff_passes_helm_flags_to_helm_template() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = workspace.join("examples/home-ops");
    let dir = tempfile::tempdir().expect("tempdir");
    let args_file = dir.path().join("args.txt");
    let helm = dir.path().join("helm");
    write(
        &helm,
        &format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexit 1\n",
            args_file.display()
        ),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["diff", "hr", "--full", "--path"])
        .arg(&example)
        .arg("--path-orig")
        .arg(&example)
        .args([
            "--kube-version",
            "1.31.0",
            "-a",
            "example.com/v1",
            "--is-upgrade",
            "--no-hooks",
            "--offline",
        ])
        .env("PATH", path)
        .env_remove("CAPSTAN_HELM")
        .output()
        .expect("capstan runs");
    let Ok(args) = std::fs::read_to_string(&args_file) else {
        panic!(
            "the stand-in helm ran: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
    };
    for flag in [
        "--kube-version 1.31.0",
        "--api-versions example.com/v1",
        "--is-upgrade",
        "--no-hooks",
    ] {
        assert!(args.contains(flag), "{flag} in {args}");
    }
}

#[test]
fn diff_skips_kinds_as_flux_local_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    for (root, value) in [(&old, "a"), (&new, "b")] {
        write(
            &root.join("ks.yaml"),
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./app\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
        );
        write(
            &root.join("app/kustomization.yaml"),
            "resources:\n  - objects.yaml\n",
        );
        write(
            &root.join("app/objects.yaml"),
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: default\nstringData:\n  k: {value}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\ndata:\n  k: {value}\n"
            ),
        );
    }
    let diff = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(["diff", "ks", "--full", "--path"])
            .arg(&new)
            .arg("--path-orig")
            .arg(&old)
            .args(extra)
            .env("NO_COLOR", "1")
            .output()
            .expect("capstan runs");
        (
            output.status.code(),
            text(&output.stdout) + &text(&output.stderr),
        )
    };
    let (code, all) = diff(&[]);
    assert_eq!(code, Some(1));
    assert!(
        all.contains("Secret/default/s") && all.contains("ConfigMap/default/c"),
        "{all}"
    );
    let (code, no_secrets) = diff(&["--skip-secrets"]);
    assert_eq!(code, Some(1));
    assert!(!no_secrets.contains("Secret/default/s"), "{no_secrets}");
    assert!(no_secrets.contains("ConfigMap/default/c"), "{no_secrets}");
    let (code, nothing) = diff(&["--skip-secrets", "--skip-kinds", "ConfigMap"]);
    // Hidden is not unchanged: the change still differs, and the exit code says so.
    assert_eq!(
        code,
        Some(1),
        "nothing left to show, but a change: {nothing}"
    );
    assert!(
        nothing.contains("no differences shown; 2 changed object(s) of skipped kinds not shown"),
        "{nothing}"
    );
    assert!(
        nothing.contains("2 changed object(s) of skipped kinds not shown"),
        "{nothing}"
    );
}

/// A repository whose entry point is `clusters/prod` (flux-system at `./clusters/prod`,
/// Kustomization `apps` at `./apps`), as flux-local users lay them out.
fn cluster_repo(dir: &Path) {
    write(
        &dir.join("clusters/prod/flux-system/gotk-sync.yaml"),
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: https://example.com/repo\n  ref:\n    branch: main\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./clusters/prod\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    );
    write(
        &dir.join("clusters/prod/apps.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    );
    write(
        &dir.join("apps/kustomization.yaml"),
        "resources:\n  - cm.yaml\n",
    );
    write(
        &dir.join("apps/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  k: before\n",
    );
}

/// [`cluster_repo`] committed in git, then `apps/cm.yaml` changed in the working tree; `None`
/// (with a message) when git is not installed.
fn committed_cluster_repo_with_a_change() -> Option<tempfile::TempDir> {
    if !capstan_testkit::git::available() {
        eprintln!("skipping: git is not installed");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    cluster_repo(dir.path());
    capstan_testkit::git::init_and_commit(dir.path(), "base");
    write(
        &dir.path().join("apps/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  k: after\n",
    );
    Some(dir)
}

#[test]
fn diff_of_a_folder_inside_the_repository_compares_like_sides() {
    let Some(dir) = committed_cluster_repo_with_a_change() else {
        return;
    };
    // `apps` has no entry point of its own: both sides are discovered from the repository's
    // root and show what applies `apps` (the base, read from git, as the working tree is)
    let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["diff", "all", "--base", "HEAD", "-o", "json", "--path"])
        .arg(dir.path().join("apps"))
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let groups = report["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{report}");
    assert_eq!(groups[0]["producer"]["name"], "apps");
    assert_eq!(groups[0]["objects"][0]["change"], "changed", "{report}");
}

#[test]
fn a_change_outside_the_compared_folder_is_not_reported_as_no_difference() {
    if !capstan_testkit::git::available() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    cluster_repo(dir.path());
    // clusters/prod/flux has no entry point: the repository's root is discovered, and only what
    // is declared in or applies that folder is compared
    write(
        &dir.path().join("clusters/prod/flux/notes.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  namespace: default\n",
    );
    capstan_testkit::git::init_and_commit(dir.path(), "base");
    write(
        &dir.path().join("apps/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  k: after\n",
    );
    let diff = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(["diff", "all", "--base", "HEAD", "--path"])
            .arg(dir.path().join("apps/.."))
            .args(extra)
            .env("NO_COLOR", "1")
            .output()
            .expect("capstan runs")
    };
    // from the root, the change is seen
    assert_eq!(
        diff(&[]).status.code(),
        Some(1),
        "{}",
        text(&diff(&[]).stderr)
    );
    for command in [&["diff", "all"][..], &["plan"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(command)
            .args(["--base", "HEAD", "--path"])
            .arg(dir.path().join("clusters/prod/flux"))
            .env("NO_COLOR", "1")
            .output()
            .expect("capstan runs");
        let shown = text(&output.stdout) + &text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command:?}: {shown}");
        assert!(
            shown.contains("../../../apps/cm.yaml")
                && !shown.lines().any(|l| l.trim() == "no differences"),
            "{command:?}: {shown}"
        );
        assert!(
            !shown.contains("no effect on the cluster"),
            "{command:?}: {shown}"
        );
    }
}

#[test]
fn a_cluster_folder_whose_paths_start_at_the_repository_root_sees_the_files_it_reads() {
    let Some(dir) = committed_cluster_repo_with_a_change() else {
        return;
    };
    // clusters/prod is an entry point whose Kustomizations' paths start at the repository's
    // root (`./apps`), as `flux-local diff --path clusters/prod` users have them
    let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["plan", "--base", "HEAD", "--path"])
        .arg(dir.path().join("clusters/prod"))
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs");
    let shown = text(&output.stdout) + &text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("../../apps/cm.yaml (changed) — rendered by apps"),
        "{shown}"
    );
    assert!(!shown.contains("no effect on the cluster"), "{shown}");
}

#[test]
fn namespace_flags_as_flux_local_users_type_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    cluster_repo(&old);
    cluster_repo(&new);
    write(
        &new.join("apps/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  k: after\n",
    );
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(args)
            .arg("--path")
            .arg(&new)
            .env("NO_COLOR", "1")
            .output()
            .expect("capstan runs");
        (
            output.status.code(),
            text(&output.stdout) + &text(&output.stderr),
        )
    };
    let old_side = old.to_str().expect("utf-8");
    let (code, built) = run(&["build", "ks", "-A"]);
    assert_eq!(code, Some(0), "{built}");
    assert!(built.contains("name: settings"), "{built}");
    let (code, all) = run(&["diff", "ks", "-A", "--path-orig", old_side]);
    assert_eq!(code, Some(1), "{all}");
    let (code, mine) = run(&["diff", "ks", "-n", "flux-system", "--path-orig", old_side]);
    assert_eq!(code, Some(1), "{mine}");
    // A namespace no unit is in is a typo, never "no differences".
    let (code, other) = run(&["diff", "ks", "-n", "elsewhere", "--path-orig", old_side]);
    assert_eq!(code, Some(2), "{other}");
    assert!(
        other.contains("no Kustomization or HelmRelease is in namespace elsewhere"),
        "{other}"
    );
    let (code, both) = run(&["diff", "ks", "-n", "a", "-A", "--path-orig", old_side]);
    assert_eq!(code, Some(2), "-n and -A conflict: {both}");
    // flux-local's spellings: -o object, --strip-attrs A,B
    let (code, object) = run(&[
        "diff",
        "ks",
        "-o",
        "object",
        "--strip-attrs",
        "team,kustomize.toolkit.fluxcd.io/*",
        "--path-orig",
        old_side,
    ]);
    assert_eq!(code, Some(1), "{object}");
    assert!(object.trim_start().starts_with('{'), "{object}");
    // flux-local's `--sources flux-system`: what capstan wants instead, in one line
    let (code, sources) = run(&["get", "ks", "--source", "flux-system"]);
    assert_eq!(code, Some(2));
    assert!(
        sources.contains("GitRepository/flux-system/flux-system=./k8s")
            && sources.contains("needs no --source"),
        "{sources}"
    );
}

#[test]
fn a_selector_that_matches_nothing_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    cluster_repo(dir.path());
    let orig = dir.path().to_str().expect("utf-8");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(args)
            .args(["-l", "team=nobody", "--path"])
            .arg(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("capstan runs");
        (output.status.code(), text(&output.stderr))
    };
    for command in [&["build", "ks"][..], &["diff", "ks", "--path-orig", orig]] {
        let (code, stderr) = run(command);
        assert_eq!(code, Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains("matches -l team=nobody"),
            "{command:?}: {stderr}"
        );
    }
    let images = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["get", "images", "-A", "-l", "team=nobody", "--path"])
        .arg(dir.path())
        .output()
        .expect("capstan runs");
    assert_eq!(images.status.code(), Some(2));
    assert!(text(&images.stderr).contains("matches -l team=nobody"));
    let get = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["get", "ks", "-A", "-l", "team=nobody", "--path"])
        .arg(dir.path())
        .output()
        .expect("capstan runs");
    assert!(
        text(&get.stderr).contains("no Kustomization found matching -l team=nobody"),
        "{}",
        text(&get.stderr)
    );
}

#[test]
fn two_checkouts_compared_at_a_cluster_folder_see_changes_anywhere_in_them() {
    if !capstan_testkit::git::available() {
        eprintln!("skipping: git is not installed");
        return;
    }
    // flux-local's CI: `diff --path pull/clusters/prod --path-orig main/clusters/prod`, two
    // checkouts of the repository, the change outside the cluster folder
    let dir = tempfile::tempdir().expect("tempdir");
    let (main, pull) = (dir.path().join("main"), dir.path().join("pull"));
    for checkout in [&main, &pull] {
        cluster_repo(checkout);
        capstan_testkit::git::init_and_commit(checkout, "base");
    }
    write(
        &pull.join("apps/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  k: after\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["diff", "ks", "-A", "-o", "json", "--path"])
        .arg(pull.join("clusters/prod"))
        .arg("--path-orig")
        .arg(main.join("clusters/prod"))
        .output()
        .expect("capstan runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["groups"][0]["producer"]["name"], "apps", "{report}");
    let plan = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["plan", "--path"])
        .arg(pull.join("clusters/prod"))
        .arg("--path-orig")
        .arg(main.join("clusters/prod"))
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs");
    let shown = text(&plan.stdout);
    assert!(
        shown.contains("../../apps/cm.yaml (changed) — rendered by apps"),
        "{shown}{}",
        text(&plan.stderr)
    );
}
