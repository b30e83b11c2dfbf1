//! `capstan check` against `capstan build all` on the corpus (`cargo bench -p capstan --bench
//! check`): both commands run as the user runs them (the release binary, JSON output to a sink),
//! `CAPSTAN_BENCH_RUNS` times each (default 5) after a warm-up, reporting min and median wall
//! time and the ratio check/build (target: at most 2). Repositories are read in place from
//! `../shared/corpus` (or `$CAPSTAN_SHARED/corpus`); the bench says so and exits when absent.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn shared_dir() -> Option<PathBuf> {
    capstan_testkit::shared()
}

fn time(args: &[&str], repo: &Path, runs: usize) -> (Duration, Duration) {
    let run = || {
        let start = Instant::now();
        let status = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
            .args(args)
            .arg("--path")
            .arg(repo)
            .args(["-o", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("capstan runs");
        // `build all` exits 2 when a Kustomization fails to render (buroa has two); only a crash
        // (no exit code) makes the timing meaningless.
        assert!(
            status.code().is_some(),
            "capstan {args:?} crashed on {}: {status}",
            repo.display()
        );
        start.elapsed()
    };
    run();
    let mut times: Vec<Duration> = (0..runs).map(|_| run()).collect();
    times.sort();
    (times[0], times[times.len() / 2])
}

fn main() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: no ../shared/corpus");
        return;
    };
    let runs: usize = std::env::var("CAPSTAN_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    for name in ["buroa+k8s-gitops", "fluxcd+flux2-kustomize-helm-example"] {
        let repo = shared.join("corpus").join(name);
        if !repo.is_dir() {
            eprintln!("skipping {name}: not in the corpus");
            continue;
        }
        // both offline: charts come from the cache only (online, both would wait on chart
        // downloads, or on DNS failures here)
        let (build_min, build_median) = time(&["build", "all", "--offline"], &repo, runs);
        let (check_min, check_median) = time(&["check", "--offline"], &repo, runs);
        println!(
            "{name}: build all min {:.1} ms median {:.1} ms; check min {:.1} ms median {:.1} ms; check/build {:.2}x",
            build_min.as_secs_f64() * 1e3,
            build_median.as_secs_f64() * 1e3,
            check_min.as_secs_f64() * 1e3,
            check_median.as_secs_f64() * 1e3,
            check_median.as_secs_f64() / build_median.as_secs_f64()
        );
    }
}
