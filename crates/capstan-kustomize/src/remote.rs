//! Remote resources: kustomize's git URL forms (`github.com/org/repo/path?ref=v1`,
//! `https://host/org/repo.git//path?ref=…`, `git@host:org/repo`, `ssh://`, `file://`) parsed
//! as kustomize parses them, fetched with the `git` command line into a cache directory keyed
//! by URL and ref (a ref that is a full commit id is never fetched twice), and plain
//! `http(s)://` files fetched with `curl`. When the network is unreachable the error names the
//! URL and the command that failed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use capstan_core::{Fs, OsFs};
use sha2::{Digest, Sha256};

use crate::Options;
use crate::error::{Error, Result};

/// A parsed remote kustomization: where to clone from, which ref, and the path inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTarget {
    /// The URL as written.
    pub raw: String,
    /// What `git fetch` is given (scheme, user, host and repository path).
    pub clone_spec: String,
    /// The ref to fetch; `HEAD` when none was given.
    pub git_ref: String,
    /// The kustomization's directory inside the repository.
    pub root_path: String,
    /// Whether submodules are fetched too.
    pub submodules: bool,
    /// Where the checkout lives once fetched.
    pub checkout_dir: PathBuf,
}

/// Parses `path` as a remote git URL; `None` when it is not one (a local path).
pub fn parse(path: &str) -> Option<RemoteTarget> {
    if Path::new(path).is_absolute() {
        return None;
    }
    let (rest, query) = match path.split_once('?') {
        Some((rest, query)) => (rest, query),
        None => (path, ""),
    };
    let (git_ref, submodules) = parse_query(query);
    let (host, rest) = extract_host(rest)?;
    let all_segments = host.starts_with("file://");
    let (repo_path, root_path) = split_path(&rest, all_segments)?;
    if repo_path.is_empty() {
        return None;
    }
    let cleaned = capstan_core::fs::normalize(Path::new(root_path.trim_start_matches('/')));
    if cleaned.starts_with("..") {
        return None;
    }
    Some(RemoteTarget {
        raw: path.to_owned(),
        clone_spec: format!("{host}{repo_path}"),
        git_ref: if git_ref.is_empty() {
            "HEAD".to_owned()
        } else {
            git_ref
        },
        root_path: root_path.trim_start_matches('/').to_owned(),
        submodules,
        checkout_dir: PathBuf::new(),
    })
}

fn parse_query(query: &str) -> (String, bool) {
    let mut git_ref = String::new();
    let mut version = String::new();
    let mut submodules = true;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "ref" if git_ref.is_empty() => git_ref = value.to_owned(),
            "version" if version.is_empty() => version = value.to_owned(),
            "submodules" => {
                if let Ok(b) = value.parse::<bool>() {
                    submodules = b;
                }
            }
            _ => {}
        }
    }
    (
        if git_ref.is_empty() { version } else { git_ref },
        submodules,
    )
}

fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

fn extract_host(n: &str) -> Option<(String, String)> {
    let n = strip_prefix_ignore_case(n, "git::").unwrap_or(n);
    let mut scheme = "";
    let mut rest = n;
    for prefix in ["ssh://", "https://", "http://", "file://"] {
        if let Some(r) = strip_prefix_ignore_case(n, prefix) {
            scheme = prefix;
            rest = r;
            break;
        }
    }
    let mut username = String::new();
    if let Some(at) = rest.find('@') {
        let candidate = &rest[..at];
        let mut chars = candidate.chars();
        if chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            username = format!("{candidate}@");
            rest = &rest[at + 1..];
        }
    }
    let lower = rest.to_ascii_lowercase();
    let std_github = lower.starts_with("github.com/") || lower.starts_with("github.com:");
    let accept_scp = scheme.is_empty() && (!username.is_empty() || std_github);
    if scheme.is_empty() && !accept_scp {
        return None;
    }
    if scheme == "file://" {
        return Some((scheme.to_owned(), format!("{username}{rest}")));
    }
    let mut sep = rest.find('/');
    if accept_scp
        && let Some(colon) = rest.find(':')
        && (sep.is_none() || (colon > 0 && Some(colon) < sep))
    {
        sep = Some(colon);
    }
    let (mut host, tail) = match sep {
        Some(i) => (rest[..=i].to_owned(), rest[i + 1..].to_owned()),
        None => (rest.to_owned(), String::new()),
    };
    let (mut scheme, mut username) = (scheme.to_owned(), username);
    if std_github {
        if scheme.starts_with("ssh://") || !username.is_empty() {
            scheme = String::new();
            host = "github.com:".to_owned();
        } else {
            scheme = "https://".to_owned();
            username = String::new();
            host = "github.com/".to_owned();
        }
    }
    if host.is_empty() {
        return None;
    }
    // For file:// the whole remainder is the repository.
    Some((format!("{scheme}{username}{host}"), tail))
}

fn split_path(n: &str, all_segments: bool) -> Option<(String, String)> {
    if let Some(i) = n.find("_git/") {
        let root = &n[..i + 5];
        let mut segments = n[i + 5..].split('/');
        let first = segments.next().unwrap_or("");
        return Some((
            format!("{root}{first}"),
            segments.collect::<Vec<_>>().join("/"),
        ));
    }
    if let Some(i) = n.find("//") {
        return Some((n[..i].to_owned(), n[i + 2..].to_owned()));
    }
    if let Some(i) = n.find(".git") {
        return Some((n[..i + 4].to_owned(), n[i + 4..].to_owned()));
    }
    if all_segments {
        return Some((n.to_owned(), String::new()));
    }
    let segments: Vec<&str> = n.split('/').collect();
    if segments.len() >= 2 {
        return Some((segments[..2].join("/"), segments[2..].join("/")));
    }
    None
}

/// The directory remote checkouts are cached in.
pub fn cache_dir(options: &Options) -> PathBuf {
    if let Some(dir) = &options.remote_cache {
        return dir.clone();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("capstan").join("kustomize-remote")
}

fn hex_digest(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Fetches the repository of `target` (or reuses the cached checkout) and returns a filesystem
/// over it and the kustomization root inside.
pub fn checkout(target: &RemoteTarget, options: &Options) -> Result<(Arc<dyn Fs>, PathBuf)> {
    let dir = cache_dir(options).join(hex_digest(&format!(
        "{}@{}",
        target.clone_spec, target.git_ref
    )));
    let done = dir.join(".capstan-fetched");
    if !done.is_file() {
        fetch_into(target, &dir)?;
    }
    let root = capstan_core::fs::normalize(&dir.join(&target.root_path));
    let fs = OsFs;
    let real = fs.canonicalize(&root).map_err(|_| Error::Remote {
        message: format!("'{}' does not exist in {}", target.root_path, target.raw),
    })?;
    if !real.starts_with(&dir)
        && !real.starts_with(fs.canonicalize(&dir).unwrap_or_else(|_| dir.clone()))
    {
        return Err(Error::Remote {
            message: format!(
                "{:?} refers to directory outside of repo {:?}",
                real.display(),
                dir.display()
            ),
        });
    }
    if !fs.is_dir(&real) {
        return Err(Error::Remote {
            message: format!("'{}' refers to a file; expecting directory", real.display()),
        });
    }
    Ok((Arc::new(OsFs), real))
}

fn fetch_into(target: &RemoteTarget, dir: &Path) -> Result<()> {
    let fail = |what: String| Error::Remote {
        message: format!("failed to fetch remote resource '{}': {what}", target.raw),
    };
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let run = |args: &[&str]| -> Result<()> {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| fail(format!("cannot run git: {e}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(fail(format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    };
    let result = (|| {
        run(&["init", "--quiet"])?;
        run(&["remote", "add", "origin", &target.clone_spec])?;
        run(&["fetch", "--quiet", "--depth=1", "origin", &target.git_ref])?;
        run(&["checkout", "--quiet", "FETCH_HEAD"])?;
        if target.submodules {
            run(&["submodule", "--quiet", "update", "--init", "--recursive"])?;
        }
        std::fs::write(dir.join(".capstan-fetched"), target.raw.as_bytes())
            .map_err(|e| fail(format!("cannot write cache marker: {e}")))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// Fetches a remote file over HTTP(S) with `curl`.
pub fn fetch_file(url: &str) -> Result<Vec<u8>> {
    let output = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail",
            "--location",
            "--max-time",
            "27",
            url,
        ])
        .output()
        .map_err(|e| Error::Remote {
            message: format!("cannot fetch '{url}': cannot run curl: {e}"),
        })?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(Error::Remote {
            message: format!(
                "HTTP Error: cannot fetch '{url}': {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kustomize_url_forms() {
        let t =
            parse("github.com/kubernetes-sigs/kustomize/examples/helloWorld?ref=v1.0.6").unwrap();
        assert_eq!(t.clone_spec, "https://github.com/kubernetes-sigs/kustomize");
        assert_eq!(t.root_path, "examples/helloWorld");
        assert_eq!(t.git_ref, "v1.0.6");
        let t = parse("https://example.com/org/repo.git//deploy/base?ref=main").unwrap();
        assert_eq!(t.clone_spec, "https://example.com/org/repo.git");
        assert_eq!(t.root_path, "deploy/base");
        let t = parse("git@github.com:org/repo/path").unwrap();
        assert_eq!(t.clone_spec, "git@github.com:org/repo");
        assert_eq!(t.root_path, "path");
        assert!(parse("../base").is_none());
        assert!(parse("base/deployment.yaml").is_none());
    }

    #[test]
    fn unreachable_remote_is_a_clear_error() {
        let cache = tempfile::tempdir().unwrap();
        let options = Options {
            remote_cache: Some(cache.path().to_path_buf()),
            ..Options::default()
        };
        let mut target = parse("file:///nonexistent/capstan-test-repo").unwrap();
        target.git_ref = "HEAD".into();
        let err = checkout(&target, &options)
            .err()
            .expect("an unreachable remote fails");
        assert!(
            err.to_string().contains(
                "failed to fetch remote resource 'file:///nonexistent/capstan-test-repo'"
            ),
            "{err}"
        );
    }
}
