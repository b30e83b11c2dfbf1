//! Git repositories for tests: `git` run with a fixed identity and dates (so commits hash the same
//! on every machine), a repository created from a tree in one call, and copying a tree.

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `git -C dir args...` with a fixed identity and dates.
///
/// # Panics
/// When git cannot be run or fails.
pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=capstan",
            "-c",
            "user.email=capstan@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} in {}", dir.display());
}

/// True when a `git` binary can be run.
pub fn available() -> bool {
    Command::new("git").arg("--version").output().is_ok()
}

/// Makes `dir` a git repository on branch `main` and commits everything in it as `message`.
pub fn init_and_commit(dir: &Path, message: &str) {
    git(dir, &["init", "-q", "-b", "main"]);
    commit_all(dir, message);
}

/// Commits every change in the repository at `dir` (added, changed, deleted files).
pub fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
}

/// Copies the tree at `from` to `to`.
///
/// # Panics
/// When a file cannot be read or written.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Writes `files` (path relative to `dir`, contents) under `dir`, creating folders.
///
/// # Panics
/// When a file cannot be written.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
    }
}
