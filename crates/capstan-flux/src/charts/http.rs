//! An HTTP HelmRepository as source-controller reads it: `index.yaml` fetched from the
//! repository URL (path-joined, query kept) within `spec.timeout` (default 60s), the chart's
//! version picked with [`super::semver`] (an exact string match first, else the highest
//! match), the archive downloaded from the entry's first URL (a relative URL is resolved
//! against the repository URL with a trailing slash, keeping the repository's query), its
//! sha256 checked against the index's `digest`, basic auth from the repository's Secret — sent
//! to a chart URL on another host only with `passCredentials`.

use capstan_core::network::Reachability;
use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use capstan_core::Value;

use super::semver;
use super::{ChartError, FetchedChart};

/// Flux's default `--helm-index-max-size`.
pub const MAX_INDEX_BYTES: u64 = 50 * 1024 * 1024;
/// Flux's default `--helm-chart-max-size`.
pub const MAX_CHART_BYTES: u64 = 10 * 1024 * 1024;
/// HelmRepository `spec.timeout` when unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How to authenticate to a repository.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No `secretRef`.
    #[default]
    None,
    /// `username` / `password` from the Secret.
    Basic { username: String, password: String },
    /// A `secretRef` whose Secret the repository does not render in clear (missing, encrypted
    /// without a key, or not basic auth): why.
    Unavailable(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::Unavailable(why) => write!(f, "Unavailable({why})"),
        }
    }
}

/// An HTTP HelmRepository, as a HelmRelease's chart refers to it.
#[derive(Debug, Clone)]
pub struct HttpRepository {
    /// `HelmRepository/<namespace>/<name>`, for messages.
    pub name: String,
    pub url: String,
    pub timeout: Duration,
    pub credentials: Credentials,
    pub pass_credentials: bool,
}

/// One version of a chart in an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub version: String,
    pub urls: Vec<String>,
    /// Hex sha256 of the archive, when the index gives one.
    pub digest: Option<String>,
}

/// A repository's `index.yaml`: chart name → versions, in index order.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub url: String,
    pub entries: HashMap<String, Vec<IndexEntry>>,
}

/// The part of an `index.yaml` entry capstan reads (other fields are skipped).
#[derive(serde::Deserialize)]
struct RawEntry {
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    urls: Option<Vec<String>>,
    #[serde(default)]
    digest: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawIndex {
    #[serde(default)]
    entries: Option<HashMap<String, Option<Vec<RawEntry>>>>,
}

/// Parser limits for an index: public repositories publish indexes of tens of megabytes (far
/// past the limits for repository manifests), bounded here by [`MAX_INDEX_BYTES`]; alias
/// expansion keeps the parser's defaults.
fn index_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    let mut budget = options.budget.clone().unwrap_or_default();
    budget.max_nodes = 50_000_000;
    budget.max_events = 100_000_000;
    budget.max_total_scalar_bytes = MAX_INDEX_BYTES as usize;
    budget.max_reader_input_bytes = Some(MAX_INDEX_BYTES as usize + 1);
    options.budget = Some(budget);
    options.with_snippet = false;
    options
}

impl Index {
    /// Reads an `index.yaml` fetched from `url`.
    pub fn parse(url: &str, text: &str) -> Result<Index, ChartError> {
        let fail = |message: String| ChartError::Index {
            url: url.to_owned(),
            message,
        };
        let raw: RawIndex = serde_saphyr::from_str_with_options(text, index_options())
            .map_err(|e| fail(format!("does not parse: {e}")))?;
        let Some(entries) = raw.entries else {
            return Err(fail(
                "no `entries` map (not a Helm repository index)".into(),
            ));
        };
        let mut index = Index {
            url: url.to_owned(),
            entries: HashMap::with_capacity(entries.len()),
        };
        for (chart, versions) in entries {
            let list = versions
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| {
                    let version = match v.version? {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    Some(IndexEntry {
                        version,
                        urls: v.urls.unwrap_or_default(),
                        digest: v.digest.filter(|d| !d.is_empty()),
                    })
                })
                .collect();
            index.entries.insert(chart, list);
        }
        Ok(index)
    }

    /// The entry of `chart` that `constraint` picks.
    pub fn find(&self, chart: &str, constraint: &str) -> Result<&IndexEntry, ChartError> {
        let versions = match self.entries.get(chart) {
            Some(v) if !v.is_empty() => v,
            _ => {
                return Err(ChartError::NoChart {
                    chart: chart.to_owned(),
                    url: self.url.clone(),
                });
            }
        };
        let picked = semver::resolve(constraint, versions.iter().map(|e| e.version.as_str()))?;
        match picked.and_then(|p| versions.iter().find(|e| e.version == p)) {
            Some(entry) => Ok(entry),
            None => {
                let mut available: Vec<&str> =
                    versions.iter().map(|e| e.version.as_str()).collect();
                available.sort_by(|a, b| semver::compare_versions(b, a));
                available.dedup();
                Err(ChartError::NoVersion {
                    chart: chart.to_owned(),
                    constraint: constraint.to_owned(),
                    url: self.url.clone(),
                    available: available.iter().map(|s| (*s).to_owned()).collect(),
                })
            }
        }
    }
}

/// `<repository URL>/index.yaml`, the path joined and the query kept.
pub fn index_url(repository: &str) -> String {
    let (base, query) = split_query(repository.trim());
    format!("{}/index.yaml{query}", base.trim_end_matches('/'))
}

fn split_query(url: &str) -> (&str, &str) {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    }
}

/// A chart URL from an index resolved against the repository URL (RFC 3986, the repository
/// path taken as a directory); the repository's query replaces the reference's.
pub fn chart_url(repository: &str, reference: &str) -> String {
    let reference = reference.trim();
    if has_scheme(reference) {
        return reference.to_owned();
    }
    let (base, query) = split_query(repository.trim());
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let (authority, base_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (reference, _) = split_query(reference);
    if let Some(network) = reference.strip_prefix("//") {
        return format!("{scheme}://{network}{query}");
    }
    let merged = if reference.starts_with('/') {
        reference.to_owned()
    } else {
        format!("{}/{reference}", base_path.trim_end_matches('/'))
    };
    format!(
        "{scheme}://{authority}{}{query}",
        remove_dot_segments(&merged)
    )
}

fn has_scheme(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// `host[:port]` of a URL, lower-cased, for the same-host credentials rule (and the report of
/// an unreachable network).
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_ascii_lowercase()
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]` URLs.
fn is_loopback(url: &str) -> bool {
    let host = host_of(url);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An HTTP client for chart repositories.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl Client {
    pub fn new() -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("capstan/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client { agent }
    }

    /// GET `url` within `timeout`, at most `limit` bytes, with basic auth when given.
    fn get(
        &self,
        url: &str,
        timeout: Duration,
        limit: u64,
        auth: Option<(&str, &str)>,
        reachability: &Reachability,
    ) -> Result<Vec<u8>, ChartError> {
        let network = |message: String| ChartError::Network {
            url: url.to_owned(),
            message,
        };
        let mut config = self
            .agent
            .get(url)
            .config()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(15))));
        if is_loopback(url) {
            // As Go's ProxyFromEnvironment: requests to the local machine are never proxied.
            config = config.proxy(None);
        }
        let mut request = config.build();
        if let Some((user, password)) = auth {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", format!("Basic {token}"));
        }
        if let Some(down) = reachability.unreachable() {
            return Err(ChartError::Unreachable {
                url: url.to_owned(),
                source: down,
            });
        }
        let mut response = request.call().map_err(|e| {
            if unreachable(&e, url) {
                return ChartError::Unreachable {
                    url: url.to_owned(),
                    source: reachability.mark(&host_of(url), &describe(&e)),
                };
            }
            network(describe(&e))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ChartError::Http {
                url: url.to_owned(),
                status: status.as_u16(),
                authenticated: auth.is_some(),
            });
        }
        response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| network(describe(&e)))
    }

    /// The repository's index.
    pub fn index(
        &self,
        repository: &HttpRepository,
        network: &Reachability,
    ) -> Result<Index, ChartError> {
        let url = index_url(&repository.url);
        let auth = credentials(repository)?;
        let bytes = self.get(&url, repository.timeout, MAX_INDEX_BYTES, auth, network)?;
        let text = String::from_utf8(bytes).map_err(|_| ChartError::Index {
            url: url.clone(),
            message: "not UTF-8 text".into(),
        })?;
        Index::parse(&url, &text)
    }

    /// Downloads the archive of `entry` and checks its digest.
    pub fn download(
        &self,
        repository: &HttpRepository,
        chart: &str,
        entry: &IndexEntry,
        network: &Reachability,
    ) -> Result<FetchedChart, ChartError> {
        let Some(first) = entry.urls.first() else {
            return Err(ChartError::Index {
                url: index_url(&repository.url),
                message: format!("chart {chart} {} has no URL", entry.version),
            });
        };
        let url = chart_url(&repository.url, first);
        let same_host = host_of(&url) == host_of(&repository.url);
        let auth = if same_host || repository.pass_credentials {
            credentials(repository)?
        } else {
            None
        };
        let archive = self.get(&url, repository.timeout, MAX_CHART_BYTES, auth, network)?;
        let digest = super::cache::sha256_digest(&archive);
        if let Some(expected) = &entry.digest
            && !super::cache::same_digest(expected, &digest)
        {
            return Err(ChartError::Digest {
                chart: chart.to_owned(),
                version: entry.version.clone(),
                url,
                expected: expected.clone(),
                actual: digest,
            });
        }
        Ok(FetchedChart {
            name: chart.to_owned(),
            version: entry.version.clone(),
            digest,
            archive,
        })
    }
}

/// The basic-auth pair to send, or why there is none to send.
fn credentials(repository: &HttpRepository) -> Result<Option<(&str, &str)>, ChartError> {
    match &repository.credentials {
        Credentials::None => Ok(None),
        Credentials::Basic { username, password } => Ok(Some((username, password))),
        Credentials::Unavailable(why) => Err(ChartError::Credentials {
            repository: repository.name.clone(),
            message: why.clone(),
        }),
    }
}

/// True when `error` shows the host could not be resolved or connected to: the network counts
/// as unreachable for the rest of the run ([`capstan_core::network`]).
pub(crate) fn unreachable(error: &ureq::Error, url: &str) -> bool {
    use std::io::ErrorKind;
    match error {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => true,
        ureq::Error::Io(e) => {
            matches!(
                e.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::HostUnreachable
                    | ErrorKind::TimedOut
            ) || !resolves(url)
        }
        _ => false,
    }
}

/// Whether the host of `url` resolves (ureq reports a failed lookup as a plain I/O error).
fn resolves(url: &str) -> bool {
    use std::net::ToSocketAddrs;
    let authority = host_of(url);
    let port = if url.starts_with("http://") { 80 } else { 443 };
    let target = if authority.contains(':') && !authority.ends_with(']') {
        authority
    } else {
        format!("{authority}:{port}")
    };
    target.to_socket_addrs().is_ok()
}

/// ureq's error, in words (connection refused, host not found, timeout).
fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_urls_like_helm() {
        assert_eq!(
            index_url("https://charts.example.com/stable/"),
            "https://charts.example.com/stable/index.yaml"
        );
        assert_eq!(
            index_url("https://charts.example.com?token=a"),
            "https://charts.example.com/index.yaml?token=a"
        );
        let table = [
            (
                "https://a.io/charts",
                "web-1.0.0.tgz",
                "https://a.io/charts/web-1.0.0.tgz",
            ),
            (
                "https://a.io/charts/",
                "web-1.0.0.tgz",
                "https://a.io/charts/web-1.0.0.tgz",
            ),
            (
                "https://a.io",
                "pkg/web-1.0.0.tgz",
                "https://a.io/pkg/web-1.0.0.tgz",
            ),
            (
                "https://a.io/charts",
                "/abs/web.tgz",
                "https://a.io/abs/web.tgz",
            ),
            (
                "https://a.io/x/charts",
                "../web.tgz",
                "https://a.io/x/web.tgz",
            ),
            (
                "https://a.io/charts",
                "./web.tgz",
                "https://a.io/charts/web.tgz",
            ),
            (
                "https://a.io/charts?t=1",
                "web.tgz?x=2",
                "https://a.io/charts/web.tgz?t=1",
            ),
            (
                "https://a.io/charts",
                "//b.io/web.tgz",
                "https://b.io/web.tgz",
            ),
            (
                "https://a.io/charts",
                "https://b.io/web.tgz",
                "https://b.io/web.tgz",
            ),
        ];
        for (repo, reference, want) in table {
            assert_eq!(chart_url(repo, reference), want, "{repo} + {reference}");
        }
        assert_eq!(host_of("https://u:p@A.io:8443/x"), "a.io:8443");
        for (url, loopback) in [
            ("http://127.0.0.1:8080/x", true),
            ("http://localhost/x", true),
            ("http://[::1]:80/", true),
            ("https://charts.example.com", false),
            ("http://10.0.0.1", false),
        ] {
            assert_eq!(is_loopback(url), loopback, "{url}");
        }
    }

    #[test]
    fn reads_an_index_and_picks_versions() {
        let text = "apiVersion: v1\nentries:\n  web:\n  - version: 1.2.0\n    urls: [web-1.2.0.tgz]\n    digest: abc\n  - version: 1.10.0\n    urls: [web-1.10.0.tgz]\n  - version: 2.0.0-rc.1\n    urls: [web-2.0.0-rc.1.tgz]\n  empty: []\n";
        let index = Index::parse("http://x/index.yaml", text).unwrap();
        assert_eq!(index.find("web", "*").unwrap().version, "1.10.0");
        assert_eq!(
            index.find("web", "~1.2").unwrap().digest.as_deref(),
            Some("abc")
        );
        assert_eq!(
            index.find("web", ">=2.0.0-0").unwrap().version,
            "2.0.0-rc.1"
        );
        let err = index.find("web", ">=3").unwrap_err().to_string();
        assert!(err.contains("2.0.0-rc.1, 1.10.0, 1.2.0"), "{err}");
        assert!(matches!(
            index.find("nope", "*"),
            Err(ChartError::NoChart { .. })
        ));
        assert!(matches!(
            index.find("empty", "*"),
            Err(ChartError::NoChart { .. })
        ));
        assert!(matches!(
            index.find("web", ">>1"),
            Err(ChartError::Constraint(_))
        ));
        assert!(Index::parse("u", "kind: ConfigMap").is_err());
        assert!(Index::parse("u", "entries: [").is_err());
    }

    #[test]
    fn reads_indexes_larger_than_a_manifest_may_be() {
        // ~300k YAML nodes: past the parser's default budget for repository files.
        let mut text = String::from("apiVersion: v1\nentries:\n");
        for chart in 0..100 {
            text.push_str(&format!("  c{chart}:\n"));
            for v in 0..300 {
                text.push_str(&format!(
                    "  - {{version: 1.{v}.0, digest: d, urls: [c{chart}-1.{v}.0.tgz], name: c{chart}}}\n"
                ));
            }
        }
        let index = Index::parse("u", &text).unwrap();
        assert_eq!(index.entries.len(), 100);
        assert_eq!(index.find("c7", "~1.42").unwrap().version, "1.42.0");
    }
}
