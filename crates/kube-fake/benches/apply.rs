//! How kube-fake holds up at capstan's scale: N ConfigMaps (default 10,000; `KUBE_FAKE_BENCH_N`)
//! server-side applied through kube-rs with 8 in flight, then applied again unchanged (no writes
//! expected), then listed; prints the times, the request counts and the process's peak RSS.
//! Run: `cargo bench -p kube-fake --bench apply`.

use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Config};
use kube_fake::{Options, Server};
use serde_json::json;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

async fn apply_all(api: &Api<ConfigMap>, n: usize) {
    futures::stream::iter(0..n)
        .for_each_concurrent(8, |i| {
            let api = api.clone();
            async move {
                let name = format!("cm-{i:05}");
                let cm = json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "labels": {"app": format!("app-{}", i % 250)}},
                    "data": {"key": "value", "index": i.to_string()}
                });
                api.patch(
                    &name,
                    &PatchParams::apply("capstan").force(),
                    &Patch::Apply(&cm),
                )
                .await
                .expect("apply");
            }
        })
        .await;
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("KUBE_FAKE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let server = Server::start(Options::default()).await.expect("server");
    let kc = kube::config::Kubeconfig::from_yaml(server.kubeconfig()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let client = Client::try_from(config).expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    let t = Instant::now();
    apply_all(&api, n).await;
    let cold = t.elapsed();
    let door = server.side_door();
    let rv_after_cold = door.resource_version();
    door.reset_counters();
    let t = Instant::now();
    apply_all(&api, n).await;
    let warm = t.elapsed();
    let writes = door.resource_version() - rv_after_cold;
    let t = Instant::now();
    let list = api.list(&Default::default()).await.expect("list");
    let listed = t.elapsed();
    println!("objects: {n}");
    println!(
        "cold apply: {:.2}s ({:.0} applies/s)",
        cold.as_secs_f64(),
        n as f64 / cold.as_secs_f64()
    );
    println!(
        "unchanged re-apply: {:.2}s, new resourceVersions: {writes}",
        warm.as_secs_f64()
    );
    println!("list of {}: {:.3}s", list.items.len(), listed.as_secs_f64());
    println!(
        "peak RSS (client and server in one process): {} MiB",
        peak_rss_kib() / 1024
    );
}
