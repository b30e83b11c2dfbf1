//! Remote resources: kustomize's git URL forms (`github.com/org/repo/path?ref=v1`,
//! `https://host/org/repo.git//path?ref=…`, `git@host:org/repo`, `ssh://`, `file://`) parsed
//! as kustomize parses them, fetched with the `git` command line into a cache directory keyed
//! by URL and ref, and plain `http(s)://` files fetched with `curl` into the same cache: each is
//! fetched once, and `--offline` reads the cache only, naming every miss. Before going to the
//! network a fetch connects to its host within seconds; once a host cannot be reached the
//! network counts as unreachable for the rest of the run (`Options::network`) and later
//! fetches fail at once with that first cause.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::network::Reachability;
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

/// The directory remote resources are cached in: `Options::remote_cache`, else
/// `$CAPSTAN_CACHE_DIR/kustomize-remote`, `$XDG_CACHE_HOME/capstan/kustomize-remote`,
/// `~/.cache/capstan/kustomize-remote` (beside the chart cache), else the temporary directory.
pub fn cache_dir(options: &Options) -> PathBuf {
    if let Some(dir) = &options.remote_cache {
        return dir.clone();
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("CAPSTAN_CACHE_DIR") {
        return PathBuf::from(dir).join("kustomize-remote");
    }
    let base = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("capstan").join("kustomize-remote")
}

fn hex_digest(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// How long connecting to a remote host may take before the network counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The host and port a clone spec or URL connects to; `None` for `file://` and local paths.
fn host_port(spec: &str) -> Option<(String, u16)> {
    let lower = spec.to_ascii_lowercase();
    let (rest, default_port) = if let Some(r) = lower.strip_prefix("https://") {
        (r, 443)
    } else if let Some(r) = lower.strip_prefix("http://") {
        (r, 80)
    } else if let Some(r) = lower.strip_prefix("ssh://") {
        (r, 22)
    } else if lower.starts_with("file://") || lower.contains("://") {
        return None;
    } else if lower.contains('@') && lower.contains(':') {
        // scp-like `user@host:path`
        let host = lower.split('@').nth(1)?.split(':').next()?;
        return Some((host.to_owned(), 22));
    } else {
        return None;
    };
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {
            (h, p.parse().unwrap_or(default_port))
        }
        _ => (authority, default_port),
    };
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

/// Before fetching `url` over the network: fails at once when the network was already found
/// unreachable in this run, and otherwise resolves and connects to its host within
/// [`CONNECT_TIMEOUT`] (git has no connect timeout of its own), recording a failure for the rest
/// of the run.
fn check_network(url: &str, spec: &str, network: &Reachability) -> Result<()> {
    let Some((host, port)) = host_port(spec) else {
        return Ok(());
    };
    let unreachable = |source| Error::Unreachable {
        url: url.to_owned(),
        source,
    };
    if let Some(down) = network.unreachable() {
        return Err(unreachable(down));
    }
    // Through a proxy the host is not ours to connect to: the fetch itself will tell.
    let proxied = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if proxied && !spec.to_ascii_lowercase().starts_with("ssh://") && !spec.contains('@') {
        return Ok(());
    }
    let failure = match (host.as_str(), port).to_socket_addrs() {
        Err(e) => Some(format!("cannot resolve the host name: {e}")),
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            let connected = addrs
                .iter()
                .any(|a| TcpStream::connect_timeout(a, CONNECT_TIMEOUT).is_ok());
            (!connected).then(|| {
                format!(
                    "cannot connect to port {port} within {}s",
                    CONNECT_TIMEOUT.as_secs()
                )
            })
        }
    };
    match failure {
        None => Ok(()),
        Some(reason) => Err(unreachable(network.mark(&host, &reason))),
    }
}

/// Fetches the repository of `target` (or reuses the cached checkout) and returns a filesystem
/// over it and the kustomization root inside. Offline, only the cache is read.
pub fn checkout(target: &RemoteTarget, options: &Options) -> Result<(Arc<dyn Fs>, PathBuf)> {
    let dir = cache_dir(options).join(hex_digest(&format!(
        "{}@{}",
        target.clone_spec, target.git_ref
    )));
    let done = dir.join(".capstan-fetched");
    if !done.is_file() {
        if options.offline {
            return Err(Error::NotCached {
                url: target.raw.clone(),
                dir,
            });
        }
        check_network(&target.raw, &target.clone_spec, &options.network)?;
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
        let mut command = Command::new("git");
        // A stalled transfer gives up after 30 s below 1 KB/s; ssh gets the connect timeout
        // unless the user set their own ssh command.
        command
            .args([
                "-c",
                "http.lowSpeedLimit=1000",
                "-c",
                "http.lowSpeedTime=30",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_TERMINAL_PROMPT", "0");
        if std::env::var_os("GIT_SSH_COMMAND").is_none() {
            command.env(
                "GIT_SSH_COMMAND",
                format!(
                    "ssh -o ConnectTimeout={} -o BatchMode=yes",
                    CONNECT_TIMEOUT.as_secs()
                ),
            );
        }
        let output = command
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

/// Fetches a remote file over HTTP(S) with `curl`, once: later builds read it from the cache
/// (`<cache>/http/<digest of the URL>`). Offline, only the cache is read.
pub fn fetch_file(url: &str, options: &Options) -> Result<Vec<u8>> {
    let dir = cache_dir(options).join("http");
    let cached = dir.join(hex_digest(url));
    if let Ok(bytes) = std::fs::read(&cached) {
        return Ok(bytes);
    }
    if options.offline {
        return Err(Error::NotCached {
            url: url.to_owned(),
            dir,
        });
    }
    check_network(url, url, &options.network)?;
    let output = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail",
            "--location",
            "--connect-timeout",
            &CONNECT_TIMEOUT.as_secs().to_string(),
            "--max-time",
            "27",
            url,
        ])
        .output()
        .map_err(|e| Error::Remote {
            message: format!("cannot fetch '{url}': cannot run curl: {e}"),
        })?;
    if !output.status.success() {
        return Err(Error::Remote {
            message: format!(
                "HTTP Error: cannot fetch '{url}': {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    // Written aside and renamed, so a parallel build never reads half a file.
    if std::fs::create_dir_all(&dir).is_ok() {
        let partial = dir.join(format!(".{}.{}", hex_digest(url), std::process::id()));
        if std::fs::write(&partial, &output.stdout).is_ok() {
            let _ = std::fs::rename(&partial, &cached);
        }
    }
    Ok(output.stdout)
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
