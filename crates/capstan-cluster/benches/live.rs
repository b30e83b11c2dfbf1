//! The live engine's cost against `kube-fake` over HTTPS: 250 Kustomizations of 40 objects
//! (10,000 objects: a Namespace, ConfigMaps, Secrets, Services and Deployments each) applied
//! cold with `apply_all`, then applied again unchanged. Prints the cold time, the process's peak
//! RSS (kube-fake runs in the same process, so its store is included), and the requests per
//! object of the steady-state run, as the server counted them.
//!
//! `cargo bench -p capstan-cluster --bench live` (CAPSTAN_BENCH_UNITS and
//! CAPSTAN_BENCH_OBJECTS scale it down for a quick look).

use std::time::{Duration, Instant};

use capstan_cluster::kube_api::KubeApi;
use capstan_cluster::normalize::Owner;
use capstan_cluster::unit::{Desired, Unit};
use capstan_cluster::{Engine, Options};
use serde_json::{Value, json};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn objects(i: usize, per_unit: usize) -> Vec<Value> {
    let ns = format!("team-{i:03}");
    let mut out = vec![json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name": ns}})];
    let mut n = 1;
    while out.len() < per_unit {
        let name = format!("obj-{n:03}");
        let object = match n % 8 {
            0..=3 => {
                json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":ns},"data":{"key":format!("value-{n}"),"other":"x"}})
            }
            4 | 5 => {
                json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":name,"namespace":ns},"stringData":{"token":format!("t-{n}")}})
            }
            6 => {
                json!({"apiVersion":"v1","kind":"Service","metadata":{"name":name,"namespace":ns},"spec":{"selector":{"app":name},"ports":[{"port":80,"targetPort":8080}]}})
            }
            _ => {
                json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":name,"namespace":ns},"spec":{"replicas":1,
                "selector":{"matchLabels":{"app":name}},"template":{"metadata":{"labels":{"app":name}},
                "spec":{"containers":[{"name":"app","image":"nginx:1.27","ports":[{"containerPort":8080}]}]}}}})
            }
        };
        out.push(object);
        n += 1;
    }
    out
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let units_n = env("CAPSTAN_BENCH_UNITS", 250);
    let per_unit = env("CAPSTAN_BENCH_OBJECTS", 40);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = kube_fake::Server::start(kube_fake::Options { controllers: false, ..kube_fake::Options::default() })
            .await
            .expect("kube-fake");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = server.write_kubeconfig(&dir.path().join("kubeconfig")).expect("kubeconfig");
        let cluster = KubeApi::connect(Some(&path), None).await.expect("connect");
        let units: Vec<Unit> = (0..units_n)
            .map(|i| {
                let owner = Owner { name: format!("app-{i:03}"), namespace: "flux-system".into() };
                let mut unit = Unit::new(owner, objects(i, per_unit).into_iter().map(|object| Desired { object, file: None }).collect());
                unit.prune = true;
                unit
            })
            .collect();
        let total: usize = units.iter().map(|u| u.objects.len()).sum();
        let options = Options { poll: Duration::from_millis(100), ..Options::default() };
        let rss_before = peak_rss_mib();

        let start = Instant::now();
        let reports = Engine::new(&cluster, options.clone()).apply_all(&units).await;
        let cold = start.elapsed();
        let failed = reports.iter().filter(|r| r.outcome != capstan_cluster::engine::Outcome::Ready).count();
        let cold_requests: u64 = server.side_door().counters().verbs.values().sum();

        server.side_door().reset_counters();
        let start = Instant::now();
        let reports = Engine::new(&cluster, options.clone()).apply_all(&units).await;
        let steady = start.elapsed();
        let unchanged: usize = reports.iter().map(|r| r.count(capstan_cluster::engine::Action::Unchanged)).sum();
        let counters = server.side_door().counters();
        let steady_requests: u64 = counters.verbs.values().sum::<u64>() + counters.dry_run.values().sum::<u64>();

        println!("live bench: {units_n} Kustomizations, {total} objects, against kube-fake (HTTPS, in process)");
        println!("  cold apply_all:   {:.2} s, {cold_requests} requests, {failed} Kustomizations not Ready", cold.as_secs_f64());
        println!("  steady apply_all: {:.2} s, {steady_requests} requests ({} writes), {unchanged} objects unchanged", steady.as_secs_f64(), counters.writes());
        println!("  requests per unchanged object at steady state: {:.4}", steady_requests as f64 / total as f64);
        println!("  steady requests by verb: {:?} dry-run: {:?}", counters.verbs, counters.dry_run);
        // A long-lived process: lists answered by watches, warmed by one run.
        let watched = KubeApi::connect(Some(&path), None).await.expect("connect").watching();
        Engine::new(&watched, options.clone()).apply_all(&units).await;
        server.side_door().reset_counters();
        let start = Instant::now();
        let reports = Engine::new(&watched, options).apply_all(&units).await;
        let watched_steady = start.elapsed();
        let watched_unchanged: usize = reports.iter().map(|r| r.count(capstan_cluster::engine::Action::Unchanged)).sum();
        let counters = server.side_door().counters();
        let watched_requests: u64 = counters.verbs.iter().filter(|(v, _)| v.as_str() != "watch").map(|(_, n)| n).sum::<u64>() + counters.dry_run.values().sum::<u64>();
        println!("  steady apply_all with the watch-fed cache: {:.2} s, {watched_requests} requests ({} writes), {watched_unchanged} objects unchanged", watched_steady.as_secs_f64(), counters.writes());
        println!("  requests per unchanged object with the watch-fed cache: {:.4}", watched_requests as f64 / total as f64);
        println!("  peak RSS: {:.1} MiB (before the cold apply: {:.1} MiB; includes kube-fake's store)", peak_rss_mib(), rss_before);
    });
}
