//! Charts that live outside the repository: fetched from an HTTP HelmRepository ([`http`]) or
//! an OCI registry (`oci`), kept in an on-disk cache ([`cache`]) keyed by source, chart and
//! version, and unpacked into memory ([`archive`]) for rendering. Versions are picked with
//! Helm's constraint dialect ([`semver`]).
//!
//! [`Charts`] is the per-build handle: it fetches each (source, chart, version) once however
//! many releases render it in parallel (later callers wait for the first and share its result,
//! success or error), and in offline mode reads the cache only, naming what is missing.

pub mod archive;
pub mod cache;
pub mod http;
pub mod oci;
pub mod semver;

use capstan_core::network::Reachability;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use capstan_core::MemFs;

pub use cache::ChartCache;
pub use http::{Credentials, HttpRepository};

/// A chart archive as fetched from its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedChart {
    /// The chart's name (from the index, the OCI repository, or `Chart.yaml`).
    pub name: String,
    /// The resolved version.
    pub version: String,
    /// `sha256:<hex>` of [`FetchedChart::archive`].
    pub digest: String,
    /// The packaged chart (`.tgz`).
    pub archive: Vec<u8>,
}

/// Why a chart could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChartError {
    #[error(transparent)]
    Offline(Box<OfflineMiss>),
    #[error("{url}: {message}")]
    Network { url: String, message: String },
    #[error("{url}: HTTP {status}{}", http_hint(*.status, *.authenticated))]
    Http {
        url: String,
        status: u16,
        authenticated: bool,
    },
    #[error("index {url}: {message}")]
    Index { url: String, message: String },
    #[error("chart {chart} not found in {url}")]
    NoChart { chart: String, url: String },
    #[error(
        "no version of chart {chart} matches {constraint:?} in {url} (available: {})",
        list_versions(.available)
    )]
    NoVersion {
        chart: String,
        constraint: String,
        url: String,
        available: Vec<String>,
    },
    #[error(transparent)]
    Constraint(#[from] semver::ConstraintError),
    #[error("chart {chart} {version} from {url}: digest {actual} does not match the index's sha256:{}", .expected.trim_start_matches("sha256:"))]
    Digest {
        chart: String,
        version: String,
        url: String,
        expected: String,
        actual: String,
    },
    #[error("chart {chart} {version} from {url}: {message}")]
    Archive {
        chart: String,
        version: String,
        url: String,
        message: String,
    },
    #[error("{repository}: credentials not available offline: {message}")]
    Credentials { repository: String, message: String },
    /// An OCI registry's answer (unreachable, not found, no matching tag, digest mismatch…).
    #[error("{message}")]
    Registry {
        message: String,
        /// The registry could not be reached (network, DNS): nothing is known about the chart.
        unreachable: bool,
    },
    #[error("chart cache {}: {message}", .path.display())]
    Cache { path: PathBuf, message: String },
    /// Not fetched: the network was found unreachable in this run (by this fetch or an earlier
    /// one, named in `source`).
    #[error("{url}: {source}")]
    Unreachable {
        url: String,
        source: capstan_core::network::Unreachable,
    },
}

/// A chart the cache does not hold, in offline mode: what was asked for and where it was looked
/// for.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "chart {chart} version {constraint:?} from {repository} ({url}) is not in the chart cache{} (--offline){}",
    .cache.as_ref().map(|c| format!(" {}", c.display())).unwrap_or_default(),
    if .cached.is_empty() { String::new() } else { format!("; cached versions: {}", .cached.join(", ")) }
)]
pub struct OfflineMiss {
    pub chart: String,
    pub constraint: String,
    pub repository: String,
    pub url: String,
    /// The directory looked in.
    pub cache: Option<PathBuf>,
    pub cached: Vec<String>,
}

fn http_hint(status: u16, authenticated: bool) -> &'static str {
    match (status, authenticated) {
        (401 | 403, true) => " (credentials refused)",
        (401 | 403, false) => " (the repository needs credentials: spec.secretRef)",
        (404, _) => " (not found)",
        _ => "",
    }
}

fn list_versions(versions: &[String]) -> String {
    const SHOWN: usize = 10;
    if versions.is_empty() {
        return "none".into();
    }
    let mut out = versions
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if versions.len() > SHOWN {
        out.push_str(&format!(", … {} more", versions.len() - SHOWN));
    }
    out
}

/// One chart of one source at one version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChartKey {
    /// The source's URL (normalized with [`cache::normalize_source`]).
    pub source: String,
    pub chart: String,
    pub version: String,
}

impl ChartKey {
    pub fn new(source: &str, chart: &str, version: &str) -> ChartKey {
        ChartKey {
            source: cache::normalize_source(source),
            chart: chart.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// A chart ready to render: its archive, unpacked into `fs` under `dir`.
#[derive(Debug)]
pub struct LoadedChart {
    pub chart: FetchedChart,
    pub fs: MemFs,
    pub dir: PathBuf,
    /// The cached archive, when there is a cache.
    pub cache_path: Option<PathBuf>,
    /// True when this build downloaded it (false: read from the cache).
    pub downloaded: bool,
}

type Shared<T> = Arc<OnceLock<Result<Arc<T>, ChartError>>>;

/// The chart fetcher of one build (see the module documentation).
#[derive(Debug, Default)]
pub struct Charts {
    cache: Option<ChartCache>,
    offline: bool,
    client: http::Client,
    indexes: Mutex<HashMap<String, Shared<http::Index>>>,
    loaded: Mutex<HashMap<ChartKey, Shared<LoadedChart>>>,
    downloads: AtomicUsize,
    index_fetches: AtomicUsize,
    /// The registry credentials file read before helm's and docker's defaults
    /// (`--registry-config`; else `$HELM_REGISTRY_CONFIG`).
    registry_config: Option<PathBuf>,
    network: Arc<Reachability>,
}

impl Charts {
    /// A fetcher over `cache` (none: nothing is kept between builds); `offline` reads the cache
    /// only.
    pub fn new(cache: Option<ChartCache>, offline: bool) -> Charts {
        Charts {
            cache,
            offline,
            ..Charts::default()
        }
    }

    /// The same fetcher, reading OCI registry credentials from `path` first.
    pub fn with_registry_config(self, path: Option<PathBuf>) -> Charts {
        Charts {
            registry_config: path,
            ..self
        }
    }

    /// The registry credentials file given with [`Charts::with_registry_config`].
    pub fn registry_config(&self) -> Option<&Path> {
        self.registry_config.as_deref()
    }

    /// The run's record of the network's reachability: chart fetches read and feed it, and a
    /// build hands it to its other fetchers (remote kustomize resources).
    pub fn network(&self) -> &Arc<Reachability> {
        &self.network
    }

    pub fn cache(&self) -> Option<&ChartCache> {
        self.cache.as_ref()
    }

    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Archives downloaded so far by this fetcher.
    pub fn downloads(&self) -> usize {
        self.downloads.load(Ordering::Relaxed)
    }

    /// Repository indexes fetched so far by this fetcher.
    pub fn index_fetches(&self) -> usize {
        self.index_fetches.load(Ordering::Relaxed)
    }

    /// The error for a chart the cache lacks in offline mode.
    pub fn offline_miss(
        &self,
        source: &str,
        url: &str,
        chart: &str,
        constraint: &str,
    ) -> ChartError {
        ChartError::Offline(Box::new(OfflineMiss {
            chart: chart.to_owned(),
            constraint: constraint.to_owned(),
            repository: source.to_owned(),
            url: url.to_owned(),
            cache: self.cache.as_ref().map(|c| c.source_dir(url).join(chart)),
            cached: self
                .cache
                .as_ref()
                .map(|c| c.versions(url, chart))
                .unwrap_or_default(),
        }))
    }

    /// The highest cached version of `chart` from `source_url` that `constraint` accepts.
    pub fn cached_version(
        &self,
        source_url: &str,
        chart: &str,
        constraint: &str,
    ) -> Result<Option<String>, ChartError> {
        let Some(cache) = &self.cache else {
            return Ok(None);
        };
        let versions = cache.versions(source_url, chart);
        Ok(semver::resolve(constraint, versions.iter().map(String::as_str))?.map(str::to_owned))
    }

    /// The shared plumbing every source goes through: `key` is loaded once per build — from
    /// the cache when it holds the archive (with `digest`, when given), else by `fetch`, whose
    /// result must unpack and whose `Chart.yaml` must give the [`FetchedChart`]'s name and
    /// version before it is stored in the cache under `key` — and unpacked under `key.chart`.
    /// `key.version` may be a version, a tag or a digest. `url` names the archive in errors.
    pub fn load(
        &self,
        key: &ChartKey,
        digest: Option<&str>,
        url: &str,
        fetch: impl FnOnce() -> Result<FetchedChart, ChartError>,
    ) -> Result<Arc<LoadedChart>, ChartError> {
        let cell = {
            let mut loaded = self.loaded.lock().expect("chart map lock poisoned");
            loaded.entry(key.clone()).or_default().clone()
        };
        cell.get_or_init(|| self.load_once(key, digest, url, fetch).map(Arc::new))
            .clone()
    }

    fn load_once(
        &self,
        key: &ChartKey,
        digest: Option<&str>,
        url: &str,
        fetch: impl FnOnce() -> Result<FetchedChart, ChartError>,
    ) -> Result<LoadedChart, ChartError> {
        let cached = match &self.cache {
            Some(cache) => cache.get(&key.source, &key.chart, &key.version, digest)?,
            None => None,
        };
        let (mut chart, downloaded) = match cached {
            Some(chart) => (chart, false),
            None => {
                let chart = fetch()?;
                self.downloads.fetch_add(1, Ordering::Relaxed);
                (chart, true)
            }
        };
        // A fetched archive must be the chart its source announced; a cached one was checked
        // when it was stored, and its `Chart.yaml` names it (the key may be a tag or digest).
        let expect = downloaded.then_some((chart.name.as_str(), chart.version.as_str()));
        let unpacked = archive::unpack(&chart.archive, &key.chart, expect).map_err(|message| {
            ChartError::Archive {
                chart: key.chart.clone(),
                version: key.version.clone(),
                url: url.to_owned(),
                message,
            }
        })?;
        if !downloaded {
            chart.name = unpacked.name.clone();
            chart.version = unpacked.version.clone();
        }
        // Only archives that unpack and name the right chart are kept.
        let cache_path = match &self.cache {
            Some(cache) if downloaded => {
                Some(cache.put(&key.source, &key.chart, &key.version, &chart.archive)?)
            }
            Some(cache) => Some(cache.path(&key.source, &key.chart, &key.version)?),
            None => None,
        };
        Ok(LoadedChart {
            chart,
            fs: unpacked.fs,
            dir: unpacked.dir,
            cache_path,
            downloaded,
        })
    }

    /// `chart` at `constraint` from an HTTP HelmRepository: an exact version already cached
    /// needs no network; offline, the highest cached match; else the index decides.
    pub fn http(
        &self,
        repository: &HttpRepository,
        chart: &str,
        constraint: &str,
    ) -> Result<Arc<LoadedChart>, ChartError> {
        let constraint = constraint.trim();
        let exact = constraint.trim_start_matches('=').trim();
        if semver::is_exact(exact)
            && let Some(cache) = &self.cache
            && cache.path(&repository.url, chart, exact)?.is_file()
        {
            let key = ChartKey::new(&repository.url, chart, exact);
            let url = http::index_url(&repository.url);
            return self.load(&key, None, &url, || {
                Err(self.offline_miss(&repository.name, &repository.url, chart, constraint))
            });
        }
        if self.offline {
            let miss = || self.offline_miss(&repository.name, &repository.url, chart, constraint);
            let Some(version) = self.cached_version(&repository.url, chart, constraint)? else {
                return Err(miss());
            };
            let key = ChartKey::new(&repository.url, chart, &version);
            return self.load(&key, None, &repository.url, || Err(miss()));
        }
        let index = self.index(repository)?;
        let entry = index.find(chart, constraint)?;
        let key = ChartKey::new(&repository.url, chart, &entry.version);
        let url = entry
            .urls
            .first()
            .map(|u| http::chart_url(&repository.url, u))
            .unwrap_or_else(|| index.url.clone());
        self.load(&key, entry.digest.as_deref(), &url, || {
            self.client
                .download(repository, chart, entry, &self.network)
        })
    }

    /// The repository's index, fetched once per build.
    fn index(&self, repository: &HttpRepository) -> Result<Arc<http::Index>, ChartError> {
        let cell = {
            let mut indexes = self.indexes.lock().expect("index map lock poisoned");
            indexes
                .entry(cache::normalize_source(&repository.url))
                .or_default()
                .clone()
        };
        cell.get_or_init(|| {
            self.index_fetches.fetch_add(1, Ordering::Relaxed);
            self.client.index(repository, &self.network).map(Arc::new)
        })
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(name: &str, version: &str) -> FetchedChart {
        let yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
        let archive = archive::tests::tgz(&[("web/Chart.yaml", yaml.as_bytes())]);
        FetchedChart {
            name: name.into(),
            version: version.into(),
            digest: cache::sha256_digest(&archive),
            archive,
        }
    }

    #[test]
    fn load_keys_by_tag_and_reads_the_version_back_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let key = ChartKey::new("oci://registry.example.com/charts/web", "web", "latest");
        let charts = Charts::new(Some(ChartCache::new(dir.path())), false);
        let loaded = charts
            .load(&key, None, "oci://…", || Ok(fetched("web", "1.4.0")))
            .unwrap();
        assert!(loaded.downloaded);
        assert_eq!(loaded.chart.version, "1.4.0");
        // Another build, offline: the cached archive says which version it is.
        let offline = Charts::new(Some(ChartCache::new(dir.path())), true);
        let again = offline
            .load(&key, None, "oci://…", || panic!("must not fetch"))
            .unwrap();
        assert!(!again.downloaded);
        assert_eq!(
            (again.chart.name.as_str(), again.chart.version.as_str()),
            ("web", "1.4.0")
        );
    }

    #[test]
    fn load_refuses_an_archive_that_is_not_the_announced_chart_and_caches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let key = ChartKey::new("https://charts.example.com", "web", "1.0.0");
        let charts = Charts::new(Some(ChartCache::new(dir.path())), false);
        let err = charts
            .load(
                &key,
                None,
                "https://charts.example.com/web-1.0.0.tgz",
                || {
                    let mut chart = fetched("web", "2.0.0");
                    chart.version = "1.0.0".into();
                    Ok(chart)
                },
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected \"1.0.0\""), "{err}");
        assert!(
            err.contains("https://charts.example.com/web-1.0.0.tgz"),
            "{err}"
        );
        assert!(
            ChartCache::new(dir.path())
                .versions("https://charts.example.com", "web")
                .is_empty()
        );
        // The failure is shared, not retried, within the build.
        assert!(charts.load(&key, None, "u", || panic!("retried")).is_err());
    }
}
