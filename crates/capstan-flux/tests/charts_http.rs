//! Chart fetching from an HTTP HelmRepository served by the test on 127.0.0.1: exact versions and
//! semver ranges, basic auth accepted and refused, `passCredentials` for chart URLs on another
//! host, an unreachable host, a corrupt archive, a digest mismatch, no matching version, the
//! offline cache (hit and miss), and one download per chart however many callers ask at once.
//! The served charts are committed fixtures packaged by the oracle helm (`fixtures/charts`).

#[path = "support/chart_repo.rs"]
mod chart_repo;

use std::path::Path;
use std::time::{Duration, Instant};

use capstan_core::Fs;
use capstan_flux::charts::{ChartCache, ChartError, Charts, Credentials, HttpRepository};
use chart_repo::{ChartRepo, copy_fixture_repo};
use sha2::Digest as _;

fn repository(url: &str, credentials: Credentials) -> HttpRepository {
    HttpRepository {
        name: "HelmRepository/flux-system/local".into(),
        url: url.into(),
        timeout: Duration::from_secs(10),
        credentials,
        pass_credentials: false,
    }
}

fn basic(user: &str, password: &str) -> Credentials {
    Credentials::Basic {
        username: user.into(),
        password: password.into(),
    }
}

fn chart_version(charts: &Charts, repo: &HttpRepository, constraint: &str) -> String {
    let loaded = charts.http(repo, "hello", constraint).unwrap();
    let text = loaded
        .fs
        .read_to_string(&loaded.dir.join("Chart.yaml"))
        .unwrap();
    assert!(text.contains(&format!("version: {}", loaded.chart.version)));
    loaded.chart.version.clone()
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn exact_versions_and_ranges() {
    let server = ChartRepo::serve(&chart_repo::fixture_repo(), None);
    let cache = tempfile::tempdir().unwrap();
    let charts = Charts::new(Some(ChartCache::new(cache.path())), false);
    let repo = repository(&server.url, Credentials::None);
    let table = [
        ("1.0.0", "1.0.0"),
        ("0.1.0", "0.1.0"),
        ("~0.1", "0.1.0"),
        ("^1.0.0", "1.1.0"),
        ("*", "1.1.0"),
        ("", "1.1.0"),
        (">=0.1.0 <1.0.0", "0.2.0"),
        (">=1.2.0-0", "1.2.0-rc.1"),
        ("0.x || 1.0.x", "1.0.0"),
    ];
    for (constraint, want) in table {
        assert_eq!(
            chart_version(&charts, &repo, constraint),
            want,
            "{constraint:?}"
        );
    }
    // The index is fetched once per build; each archive once.
    assert_eq!(server.requests("/index.yaml"), 1);
    assert_eq!(server.requests("/hello-1.1.0.tgz"), 1);
    assert_eq!(charts.downloads(), 5);
    let loaded = charts.http(&repo, "hello", "1.0.0").unwrap();
    let cached = loaded.cache_path.clone().unwrap();
    assert!(cached.starts_with(cache.path()) && cached.is_file());
    assert!(loaded.chart.digest.starts_with("sha256:"));
}

#[test]
fn parallel_releases_share_one_download() {
    let server = ChartRepo::serve(&chart_repo::fixture_repo(), None);
    let cache = tempfile::tempdir().unwrap();
    let charts = Charts::new(Some(ChartCache::new(cache.path())), false);
    let repo = repository(&server.url, Credentials::None);
    std::thread::scope(|scope| {
        for i in 0..8 {
            let (charts, repo) = (&charts, &repo);
            scope.spawn(move || {
                let constraint = if i % 2 == 0 { "1.1.0" } else { "^1" };
                assert_eq!(
                    charts
                        .http(repo, "hello", constraint)
                        .unwrap()
                        .chart
                        .version,
                    "1.1.0"
                );
            });
        }
    });
    assert_eq!(server.requests("/hello-1.1.0.tgz"), 1);
    assert_eq!(server.requests("/index.yaml"), 1);
    assert_eq!(charts.downloads(), 1);
}

#[test]
fn basic_auth_accepted_and_refused() {
    let server = ChartRepo::serve(&chart_repo::fixture_repo(), Some(("flux", "s3cret")));
    let charts = Charts::new(None, false);
    let ok = repository(&server.url, basic("flux", "s3cret"));
    assert_eq!(chart_version(&charts, &ok, "0.2.0"), "0.2.0");

    let charts = Charts::new(None, false);
    let wrong = repository(&server.url, basic("flux", "guess"));
    let err = charts.http(&wrong, "hello", "0.2.0").unwrap_err();
    assert!(matches!(err, ChartError::Http { status: 401, .. }), "{err}");
    assert!(err.to_string().contains("credentials refused"), "{err}");

    let charts = Charts::new(None, false);
    let none = repository(&server.url, Credentials::None);
    let err = charts
        .http(&none, "hello", "0.2.0")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HTTP 401") && err.contains("spec.secretRef"),
        "{err}"
    );

    let charts = Charts::new(None, false);
    let unavailable = repository(
        &server.url,
        Credentials::Unavailable("Secret flux-system/auth is not rendered".into()),
    );
    let err = charts
        .http(&unavailable, "hello", "0.2.0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("credentials not available offline"), "{err}");
    assert!(err.contains("HelmRepository/flux-system/local"), "{err}");
}

#[test]
fn pass_credentials_to_chart_urls_on_other_hosts() {
    // The archives live on a second server (another host:port) that needs the credentials.
    let archives = ChartRepo::serve(&chart_repo::fixture_repo(), Some(("flux", "s3cret")));
    let dir = copy_fixture_repo();
    let index = std::fs::read_to_string(dir.path().join("index.yaml")).unwrap();
    let index = index.replace("- hello-", &format!("- {}/hello-", archives.url));
    std::fs::write(dir.path().join("index.yaml"), index).unwrap();
    std::fs::remove_file(dir.path().join("hello-1.0.0.tgz")).unwrap();
    let front = ChartRepo::serve(dir.path(), Some(("flux", "s3cret")));

    let mut repo = repository(&front.url, basic("flux", "s3cret"));
    let err = Charts::new(None, false)
        .http(&repo, "hello", "1.0.0")
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChartError::Http {
                status: 401,
                authenticated: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&archives.url), "{err}");

    repo.pass_credentials = true;
    assert_eq!(
        chart_version(&Charts::new(None, false), &repo, "1.0.0"),
        "1.0.0"
    );
    assert_eq!(archives.requests("/hello-1.0.0.tgz"), 2);
}

#[test]
fn unreachable_host_fails_fast() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let charts = Charts::new(None, false);
    let repo = repository(
        &format!("http://127.0.0.1:{port}/charts"),
        Credentials::None,
    );
    let started = Instant::now();
    let err = charts.http(&repo, "hello", "1.0.0").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    // A refused connection counts as the network unreachable (later fetches of the run stop).
    assert!(matches!(err, ChartError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("http://127.0.0.1:{port}/charts/index.yaml")),
        "{err}"
    );
}

#[test]
fn corrupt_archive_and_digest_mismatch() {
    let garbage = b"this is not a gzip stream".to_vec();
    let dir = copy_fixture_repo();
    let original = std::fs::read(dir.path().join("hello-1.0.0.tgz")).unwrap();
    std::fs::write(dir.path().join("hello-1.0.0.tgz"), &garbage).unwrap();
    let server = ChartRepo::serve(dir.path(), None);
    let cache = tempfile::tempdir().unwrap();
    let charts = Charts::new(Some(ChartCache::new(cache.path())), false);
    let repo = repository(&server.url, Credentials::None);

    // The index still carries the real archive's digest.
    let err = charts.http(&repo, "hello", "1.0.0").unwrap_err();
    assert!(matches!(err, ChartError::Digest { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&sha256_hex(&original)), "{message}");
    assert!(message.contains("hello-1.0.0.tgz"), "{message}");

    // The index agrees with the garbage: the archive itself is refused, naming chart, version, URL.
    let index = std::fs::read_to_string(dir.path().join("index.yaml")).unwrap();
    let index = index.replace(&sha256_hex(&original), &sha256_hex(&garbage));
    std::fs::write(dir.path().join("index.yaml"), index).unwrap();
    let charts = Charts::new(Some(ChartCache::new(cache.path())), false);
    let err = charts.http(&repo, "hello", "1.0.0").unwrap_err();
    assert!(matches!(err, ChartError::Archive { .. }), "{err}");
    let message = err.to_string();
    for part in [
        "hello",
        "1.0.0",
        &format!("{}/hello-1.0.0.tgz", server.url),
        "gzip",
    ] {
        assert!(message.contains(part), "{message} lacks {part}");
    }
    // Nothing broken was cached.
    assert!(
        ChartCache::new(cache.path())
            .versions(&server.url, "hello")
            .is_empty()
    );
}

#[test]
fn no_matching_version_lists_available_ones() {
    let server = ChartRepo::serve(&chart_repo::fixture_repo(), None);
    let charts = Charts::new(None, false);
    let repo = repository(&server.url, Credentials::None);
    let err = charts
        .http(&repo, "hello", ">=5.0.0")
        .unwrap_err()
        .to_string();
    assert!(err.contains(">=5.0.0"), "{err}");
    assert!(
        err.contains("1.2.0-rc.1, 1.1.0, 1.0.0, 0.2.0, 0.1.0"),
        "{err}"
    );
    let err = charts.http(&repo, "nope", "*").unwrap_err().to_string();
    assert!(err.contains("chart nope not found"), "{err}");
    let err = charts.http(&repo, "hello", "~>=1").unwrap_err().to_string();
    assert!(err.contains("invalid version constraint"), "{err}");
}

#[test]
fn offline_reads_the_cache_only() {
    let server = ChartRepo::serve(&chart_repo::fixture_repo(), None);
    let cache = tempfile::tempdir().unwrap();
    let repo = repository(&server.url, Credentials::None);
    let online = Charts::new(Some(ChartCache::new(cache.path())), false);
    assert_eq!(chart_version(&online, &repo, "0.2.0"), "0.2.0");
    assert_eq!(chart_version(&online, &repo, "1.0.0"), "1.0.0");
    let requests = server.total_requests();

    let offline = Charts::new(Some(ChartCache::new(cache.path())), true);
    assert_eq!(chart_version(&offline, &repo, "0.2.0"), "0.2.0");
    // A range is resolved against the cached versions.
    assert_eq!(chart_version(&offline, &repo, "^1"), "1.0.0");
    let loaded = offline.http(&repo, "hello", "0.2.0").unwrap();
    assert!(!loaded.downloaded);
    let err = offline.http(&repo, "hello", "1.1.0").unwrap_err();
    assert!(matches!(err, ChartError::Offline(_)), "{err}");
    let message = err.to_string();
    for part in [
        "hello",
        "\"1.1.0\"",
        "HelmRepository/flux-system/local",
        &server.url,
        &cache.path().display().to_string(),
        "cached versions: 0.2.0, 1.0.0",
    ] {
        assert!(message.contains(part), "{message} lacks {part}");
    }
    assert_eq!(
        server.total_requests(),
        requests,
        "offline touched the network"
    );

    // Online, an exact version already cached needs no request either.
    let again = Charts::new(Some(ChartCache::new(cache.path())), false);
    assert_eq!(chart_version(&again, &repo, "1.0.0"), "1.0.0");
    assert_eq!(server.total_requests(), requests);
    assert!(Path::new(&cache.path()).is_dir());
}
