//! The hooks in `.pre-commit-hooks.yaml`, run by the real `pre-commit` (from PyPI) with
//! `pre-commit try-repo` against this checkout (its working tree, uncommitted changes included),
//! in a git repository holding a copy of `examples/home-ops`: both hooks pass on the example,
//! and fail with capstan's message when a kustomization names a file that does not exist.
//! Skipped with a message when `pre-commit` is not installed, unless CAPSTAN_REQUIRE_PRE_COMMIT
//! is set (CI installs it and sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use capstan_testkit::git::{copy_tree, git};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace")
}

fn pre_commit_present() -> bool {
    let found = Command::new("pre-commit").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CAPSTAN_REQUIRE_PRE_COMMIT").is_none(),
            "CAPSTAN_REQUIRE_PRE_COMMIT is set but pre-commit is not installed (pip install pre-commit)"
        );
        eprintln!("skipped: pre-commit is not installed (pip install pre-commit)");
    }
    found
}

/// `pre-commit try-repo CAPSTAN HOOK --all-files` in `repo`, with capstan on PATH.
fn try_hook(repo: &Path, home: &Path, hook: &str) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_capstan"));
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("pre-commit")
        .args(["try-repo"])
        .arg(workspace())
        .args([hook, "--all-files", "--color", "never"])
        .current_dir(repo)
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", home)
        .env("CAPSTAN_CACHE_DIR", home.join("capstan-cache"))
        .env("GIT_AUTHOR_NAME", "capstan")
        .env("GIT_AUTHOR_EMAIL", "capstan@example.com")
        .env("GIT_COMMITTER_NAME", "capstan")
        .env("GIT_COMMITTER_EMAIL", "capstan@example.com")
        .output()
        .expect("pre-commit runs")
}

#[test]
fn hooks_pass_on_the_example_and_fail_on_a_planted_fault() {
    if !pre_commit_present() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("home-ops");
    copy_tree(&workspace().join("examples/home-ops"), &repo);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "example"]);
    let home = dir.path().join("pre-commit-home");

    for hook in ["capstan-check", "capstan-kustomize"] {
        let run = try_hook(&repo, &home, hook);
        let text = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(
            run.status.success(),
            "{hook} on the example: {text}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(text.contains("Passed"), "{hook}: {text}");
    }

    // the fault: whoami's kustomization lists a file that is not there
    let kustomization = repo.join("apps/whoami/kustomization.yaml");
    let text = std::fs::read_to_string(&kustomization).expect("read");
    let planted = text.replacen("resources:\n", "resources:\n  - missing-service.yaml\n", 1);
    assert_ne!(planted, text, "the fault is planted");
    std::fs::write(&kustomization, planted).expect("write");
    git(&repo, &["add", "-A"]);

    let kustomize = try_hook(&repo, &home, "capstan-kustomize");
    let text = String::from_utf8_lossy(&kustomize.stdout).into_owned();
    assert!(!kustomize.status.success(), "{text}");
    assert!(text.contains("Failed"), "{text}");
    assert!(
        text.contains("apps/whoami: "),
        "capstan names the folder: {text}"
    );
    assert!(
        text.contains("missing-service.yaml"),
        "and the file: {text}"
    );
    assert!(
        text.contains("see one with `capstan kustomize apps/whoami`"),
        "{text}"
    );

    let check = try_hook(&repo, &home, "capstan-check");
    let text = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(!check.status.success(), "{text}");
    assert!(text.contains("Failed"), "{text}");
    assert!(
        text.contains("missing-service.yaml"),
        "capstan's message: {text}"
    );
}

#[test]
fn the_kustomize_hook_outside_a_kustomization_has_nothing_to_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("notes.yaml"), "a: 1\n").expect("write");
    let run = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["hook", "kustomize", "notes.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("capstan runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.stdout.is_empty());
    // run by hand without files: a one-line error that says what to run
    let bare = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["hook", "kustomize"])
        .current_dir(dir.path())
        .output()
        .expect("capstan runs");
    assert_eq!(bare.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bare.stderr);
    assert!(stderr.contains("capstan kustomize DIR"), "{stderr}");
}
