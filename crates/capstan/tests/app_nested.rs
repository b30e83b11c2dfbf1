//! `app add` / `app remove` in the per-app home-ops layout (issue 13, item 9), on copies of the
//! corpus repositories that use it (`mirceanton+home-ops`: `apps/<ns>/<app>/app.ks.yaml` with a
//! per-app OCIRepository; `buroa+k8s-gitops`: `kubernetes/apps/<ns>/<app>/ks.yaml` with a shared
//! app-template OCIRepository). The added app follows the repository's own layout, builds and
//! passes `check` (no error `check` did not already report), and `app remove` restores the tree
//! byte for byte. Skipped with a message when `../shared` is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn capstan(args: &[&str]) -> (i32, String, String) {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("HOME", "/nonexistent")
        .env("CAPSTAN_CACHE_DIR", "/nonexistent/capstan-cache")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .expect("capstan runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every file under `dir`, relative to it, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                out.insert(path.strip_prefix(root).expect("under root").into(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The `N errors` of `check`'s summary line.
fn check_errors(stdout: &str) -> usize {
    let summary = stdout.lines().last().unwrap_or_default();
    summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"))
}

/// add, check, build, remove on a copy of the corpus repository `name`.
fn round_trip(name: &str, snapshot: &str) {
    let Some(corpus) = capstan_testkit::shared::corpus(name) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("repo");
    capstan_testkit::git::copy_tree(&corpus, &copy);
    let original = tree(&copy);
    let path = copy.to_str().unwrap();

    let (code, before, _) = capstan(&["check", "--offline", "--path", path]);
    assert!(code <= 1, "check failed to run on {name}:\n{before}");
    let baseline = check_errors(&before);

    let (code, added, stderr) = capstan(&[
        "app",
        "add",
        "web",
        "--image",
        "ghcr.io/example/web:1.2.3",
        "--port",
        "8080",
        "--namespace",
        "default",
        "--path",
        path,
    ]);
    assert_eq!(code, 0, "app add on {name}:\n{added}{stderr}");
    let after = tree(&copy);
    let mut shown = format!("{added}\n");
    for (file, bytes) in &after {
        if original.get(file) != Some(bytes) {
            shown.push_str(&format!(
                "=== {}\n{}",
                file.display(),
                String::from_utf8_lossy(bytes)
            ));
        }
    }
    insta::assert_snapshot!(snapshot, shown.replace(path, "<repo>"));

    let (code, checked, _) = capstan(&["check", "--offline", "--path", path]);
    assert!(code <= 1, "check failed to run after app add:\n{checked}");
    assert!(
        checked
            .lines()
            .any(|l| l.starts_with("PASS") && l.contains("Kustomization default/web ")),
        "the new app's Kustomization does not pass check:\n{checked}"
    );
    assert_eq!(
        check_errors(&checked),
        baseline,
        "app add made check report new errors:\n{checked}"
    );
    let (code, built, stderr) = capstan(&["build", "ks", "web", "--offline", "--path", path]);
    assert_eq!(code, 0, "build ks web:\n{built}{stderr}");
    assert!(built.contains("kind: HelmRelease"), "{built}");

    let (code, again, stderr) = capstan(&[
        "app",
        "add",
        "web",
        "--image",
        "ghcr.io/example/web:1.2.3",
        "--namespace",
        "default",
        "--path",
        path,
    ]);
    assert_eq!(code, 2, "a second add is refused:\n{again}{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");

    let (code, removed, stderr) = capstan(&["app", "remove", "web", "--path", path]);
    assert_eq!(code, 0, "app remove on {name}:\n{removed}{stderr}");
    assert!(
        tree(&copy) == original,
        "app remove did not restore {name} byte for byte"
    );
}

#[test]
fn mirceanton_home_ops_add_then_remove() {
    round_trip("mirceanton+home-ops", "nested_mirceanton_add");
}

#[test]
fn buroa_k8s_gitops_add_then_remove() {
    round_trip("buroa+k8s-gitops", "nested_buroa_add");
}

#[test]
fn same_name_in_another_namespace_is_warned_and_a_namespace_is_asked_for() {
    let Some(corpus) = capstan_testkit::shared::corpus("buroa+k8s-gitops") else {
        return;
    };
    let path = corpus.to_str().unwrap();
    let (code, out, stderr) = capstan(&[
        "app",
        "add",
        "atuin",
        "--image",
        "ghcr.io/example/web:1.2.3",
        "--namespace",
        "media",
        "--dry-run",
        "--path",
        path,
    ]);
    assert_eq!(code, 0, "{out}{stderr}");
    assert!(
        out.contains("warning: an app named atuin is already in namespace default"),
        "{out}"
    );
    let (code, _, stderr) = capstan(&[
        "app",
        "add",
        "web",
        "--image",
        "ghcr.io/example/web:1.2.3",
        "--dry-run",
        "--path",
        path,
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("pick one with --namespace (actions-runner-system, cert-manager"),
        "{stderr}"
    );
}
