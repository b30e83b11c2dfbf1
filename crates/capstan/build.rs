//! Records the git revision the binary is built from, for `capstan version`.
//!
//! `CAPSTAN_GIT_REVISION` (and `CAPSTAN_GIT_DATE`) set at build time win, for builds from a
//! tarball or inside a container without `.git`; otherwise `git` is asked about the checkout the
//! crate sits in (a clone, a worktree, or the source `cargo install --path` builds from). When
//! neither is there the revision is `unknown`; the build never fails because of it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo::rerun-if-env-changed=CAPSTAN_GIT_REVISION");
    println!("cargo::rerun-if-env-changed=CAPSTAN_GIT_DATE");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());

    let mut revision = from_env("CAPSTAN_GIT_REVISION");
    let mut date = from_env("CAPSTAN_GIT_DATE");
    if revision.is_none() {
        revision = git(&manifest, &["rev-parse", "--short=12", "HEAD"]);
        if revision.is_some() && date.is_none() {
            date = git(&manifest, &["log", "-1", "--format=%cs", "HEAD"]);
        }
        // rebuild when HEAD moves: HEAD itself, the branch it points at, and packed refs
        let absolute = |p: String| {
            let p = PathBuf::from(p);
            if p.is_absolute() { p } else { manifest.join(p) }
        };
        if let Some(git_dir) = git(&manifest, &["rev-parse", "--git-dir"]).map(absolute) {
            println!("cargo::rerun-if-changed={}", git_dir.join("HEAD").display());
            if let Some(common) = git(&manifest, &["rev-parse", "--git-common-dir"]).map(absolute) {
                println!(
                    "cargo::rerun-if-changed={}",
                    common.join("packed-refs").display()
                );
                if let Some(branch) = git(&manifest, &["symbolic-ref", "-q", "HEAD"]) {
                    println!("cargo::rerun-if-changed={}", common.join(branch).display());
                }
            }
        }
    }
    let revision = revision.as_deref().unwrap_or("unknown");
    let date = date.as_deref().unwrap_or("");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let long = if date.is_empty() {
        format!("{version} ({revision})")
    } else {
        format!("{version} ({revision} {date})")
    };
    println!("cargo::rustc-env=CAPSTAN_GIT_REVISION={revision}");
    println!("cargo::rustc-env=CAPSTAN_GIT_DATE={date}");
    println!("cargo::rustc-env=CAPSTAN_VERSION_LONG={long}");
}
