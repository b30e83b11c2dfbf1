//! The on-disk chart cache: `<root>/<source>/<chart>/<version>.tgz`, where `<source>` is the
//! normalized repository URL (HTTP index or OCI repository) made a file name, plus a short hash
//! so two URLs that flatten alike stay apart. The root is `--chart-cache DIR`, else
//! `$CAPSTAN_CACHE_DIR/charts`, else `$XDG_CACHE_HOME/capstan/charts`, else
//! `~/.cache/capstan/charts`. Archives are written to a temporary file in the same directory and
//! renamed into place, so parallel builds (threads or processes) never read a partial file. A
//! cached archive is checked against the digest its source announces, when it announces one.
//!
//! The cache lives outside the repository, so it is read with `std::fs`, not through
//! [`capstan_core::Fs`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use super::{ChartError, FetchedChart};

/// The default cache root from the environment (see the module documentation).
pub fn default_root() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("CAPSTAN_CACHE_DIR") {
        return Some(PathBuf::from(dir).join("charts"));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("capstan/charts"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".cache/capstan/charts"))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A repository URL as a cache key: scheme kept, host lower-cased, default ports, trailing
/// slashes and user info dropped (`https://Charts.example.com:443/stable/` →
/// `https://charts.example.com/stable`).
pub fn normalize_source(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => (String::new(), url),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let mut host = authority.to_ascii_lowercase();
    for (s, port) in [("https", ":443"), ("http", ":80")] {
        if scheme == s && host.ends_with(port) {
            host.truncate(host.len() - port.len());
        }
    }
    let path = path.trim_end_matches('/');
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

/// A name safe as one path component: no separators, not `.`/`..`, not empty.
fn component(kind: &str, name: &str) -> Result<String, ChartError> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0'])
        || name.starts_with('.')
    {
        return Err(ChartError::Cache {
            path: PathBuf::new(),
            message: format!("{kind} {name:?} cannot name a cache entry"),
        });
    }
    Ok(name.to_owned())
}

/// The chart cache rooted at a directory.
#[derive(Debug, Clone)]
pub struct ChartCache {
    root: PathBuf,
}

impl ChartCache {
    pub fn new(root: impl Into<PathBuf>) -> ChartCache {
        ChartCache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of one source (`source` is a repository URL, normalized here).
    pub fn source_dir(&self, source: &str) -> PathBuf {
        let normalized = normalize_source(source);
        let readable: String = normalized
            .split_once("://")
            .map_or(normalized.as_str(), |(_, rest)| rest)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(80)
            .collect();
        let hash = sha256_digest(normalized.as_bytes());
        self.root.join(format!("{readable}-{}", &hash[7..7 + 12]))
    }

    /// Where the archive of `chart` `version` from `source` lives.
    pub fn path(&self, source: &str, chart: &str, version: &str) -> Result<PathBuf, ChartError> {
        Ok(self
            .source_dir(source)
            .join(component("chart", chart)?)
            .join(format!("{}.tgz", component("version", version)?)))
    }

    /// The cached archive, if there is one and it has `digest` (when given). A cached file
    /// with another digest is left for the caller to refetch and overwrite.
    pub fn get(
        &self,
        source: &str,
        chart: &str,
        version: &str,
        digest: Option<&str>,
    ) -> Result<Option<FetchedChart>, ChartError> {
        let path = self.path(source, chart, version)?;
        let archive = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ChartError::Cache {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let actual = sha256_digest(&archive);
        if let Some(wanted) = digest
            && !same_digest(wanted, &actual)
        {
            return Ok(None);
        }
        Ok(Some(FetchedChart {
            name: chart.to_owned(),
            version: version.to_owned(),
            digest: actual,
            archive,
        }))
    }

    /// Stores `archive` as `chart` `version` (a version, tag or digest) of `source`, atomically
    /// (temporary file, then rename), and returns its path.
    pub fn put(
        &self,
        source: &str,
        chart: &str,
        version: &str,
        archive: &[u8],
    ) -> Result<PathBuf, ChartError> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = self.path(source, chart, version)?;
        let dir = path.parent().expect("cache paths have a parent");
        let fail = |p: &Path, e: std::io::Error| ChartError::Cache {
            path: p.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
        let temp = dir.join(format!(
            ".{}.{}.{}.tmp",
            version,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&temp, archive).map_err(|e| fail(&temp, e))?;
        if let Err(e) = std::fs::rename(&temp, &path) {
            let _ = std::fs::remove_file(&temp);
            return Err(fail(&path, e));
        }
        Ok(path)
    }

    /// The versions of `chart` from `source` in the cache.
    pub fn versions(&self, source: &str, chart: &str) -> Vec<String> {
        let Ok(chart) = component("chart", chart) else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(self.source_dir(source).join(chart)) else {
            return Vec::new();
        };
        let mut versions: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .filter_map(|name| name.strip_suffix(".tgz").map(str::to_owned))
            .collect();
        versions.sort();
        versions
    }
}

/// Digests compare without their `sha256:` prefix and case.
pub fn same_digest(a: &str, b: &str) -> bool {
    let strip = |d: &str| d.trim().trim_start_matches("sha256:").to_ascii_lowercase();
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(version: &str, bytes: &[u8]) -> FetchedChart {
        FetchedChart {
            name: "web".into(),
            version: version.into(),
            digest: sha256_digest(bytes),
            archive: bytes.to_vec(),
        }
    }

    #[test]
    fn normalizes_sources() {
        for (url, want) in [
            (
                "https://Charts.Example.com:443/stable/",
                "https://charts.example.com/stable",
            ),
            ("http://u:p@127.0.0.1:80", "http://127.0.0.1"),
            ("oci://ghcr.io/org/charts", "oci://ghcr.io/org/charts"),
            ("http://127.0.0.1:8080/x//", "http://127.0.0.1:8080/x"),
        ] {
            assert_eq!(normalize_source(url), want, "{url}");
        }
    }

    #[test]
    fn stores_and_finds_by_source_chart_version_and_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChartCache::new(dir.path());
        let source = "https://charts.example.com/stable/";
        assert!(cache.get(source, "web", "1.0.0", None).unwrap().is_none());
        let stored = chart("1.0.0", b"archive one");
        let path = cache.put(source, "web", "1.0.0", &stored.archive).unwrap();
        assert!(path.starts_with(dir.path()));
        assert!(path.ends_with("web/1.0.0.tgz"));
        // The same repository spelled differently is the same entry.
        let hit = cache
            .get("https://charts.example.com/stable", "web", "1.0.0", None)
            .unwrap()
            .unwrap();
        assert_eq!(hit, stored);
        assert!(
            cache
                .get(source, "web", "1.0.0", Some(&stored.digest))
                .unwrap()
                .is_some()
        );
        // Another digest is a miss (re-published chart); another source too.
        assert!(
            cache
                .get(source, "web", "1.0.0", Some("sha256:00"))
                .unwrap()
                .is_none()
        );
        assert!(
            cache
                .get("https://other.example.com", "web", "1.0.0", None)
                .unwrap()
                .is_none()
        );
        cache.put(source, "web", "1.2.0", b"two").unwrap();
        assert_eq!(cache.versions(source, "web"), ["1.0.0", "1.2.0"]);
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn refuses_names_that_escape() {
        let cache = ChartCache::new("/tmp/x");
        for (chart, version) in [
            ("../web", "1.0.0"),
            ("web", "../../1"),
            ("", "1"),
            (".", "1"),
        ] {
            assert!(cache.path("https://a", chart, version).is_err());
        }
    }

    #[test]
    fn parallel_writers_leave_one_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChartCache::new(dir.path());
        let bytes = vec![7u8; 256 * 1024];
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| cache.put("http://a", "web", "1.0.0", &bytes).unwrap());
            }
        });
        let got = cache
            .get("http://a", "web", "1.0.0", None)
            .unwrap()
            .unwrap();
        assert_eq!(got.archive, bytes);
        assert_eq!(cache.versions("http://a", "web"), ["1.0.0"]);
    }
}
