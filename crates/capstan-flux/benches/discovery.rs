//! Discovery time over the corpus repositories (`cargo bench -p capstan-flux --bench discovery`):
//! each repository discovered `CAPSTAN_BENCH_RUNS` times (default 10) after one warm-up run,
//! reporting the minimum and median wall time. The repositories are read in place from
//! `../shared/corpus` (or `$CAPSTAN_SHARED/corpus`); the bench says so and exits when absent.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use capstan_core::OsFs;
use capstan_flux::discovery::{KustomizeRenderer, Options, discover};

fn shared_dir() -> Option<PathBuf> {
    capstan_testkit::shared()
}

fn main() {
    // `cargo bench` passes `--bench`; there are no other arguments to read.
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: no ../shared/corpus");
        return;
    };
    let runs: usize = std::env::var("CAPSTAN_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10)
        .max(1);
    let renderer = KustomizeRenderer::default();
    for name in [
        "buroa+k8s-gitops",
        "fluxcd+flux2-kustomize-helm-example",
        "allenporter+flux-local/tests/testdata/cluster",
    ] {
        let Ok(path) = std::fs::canonicalize(shared.join("corpus").join(name)) else {
            eprintln!("skipping {name}: absent");
            continue;
        };
        let once = || {
            let start = Instant::now();
            let discovery =
                discover(&OsFs, &path, &renderer, &Options::default()).expect("discovery runs");
            (start.elapsed(), discovery)
        };
        let (_, discovery) = once();
        let mut times: Vec<Duration> = (0..runs).map(|_| once().0).collect();
        times.sort();
        let kustomizations: usize = discovery
            .clusters
            .iter()
            .map(|c| c.kustomizations.len())
            .sum();
        let releases: usize = discovery
            .clusters
            .iter()
            .map(|c| c.helm_releases.len())
            .sum();
        let sources: usize = discovery.clusters.iter().map(|c| c.sources.len()).sum();
        println!(
            "discovery {name}: min {:.1} ms, median {:.1} ms over {runs} runs ({kustomizations} Kustomizations, {releases} HelmReleases, {sources} sources)",
            times[0].as_secs_f64() * 1e3,
            times[times.len() / 2].as_secs_f64() * 1e3,
        );
    }
}
