//! The home-ops scenario against a real cluster: set `CAPSTAN_E2E_KUBECONFIG` to a kubeconfig
//! of a disposable cluster (kind in `.github/workflows/e2e-kind.yml`). Without it the test
//! says so and passes without touching anything. Writes are counted by capstan's own client;
//! the health-check targets a chart would create are stood in for by pause-image workloads.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use capstan_cluster::kube_api::KubeApi;
use capstan_cluster::{Cluster, ObjectRef};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_ops_on_a_real_cluster() {
    let Some(kubeconfig) = std::env::var_os("CAPSTAN_E2E_KUBECONFIG").map(PathBuf::from) else {
        eprintln!(
            "skipped: set CAPSTAN_E2E_KUBECONFIG to a disposable cluster's kubeconfig to run the e2e suite"
        );
        return;
    };
    let cluster = std::sync::Arc::new(
        KubeApi::connect(Some(&kubeconfig), None)
            .await
            .expect("connects"),
    );
    let repo = tempfile::tempdir().expect("tempdir");
    copy_tree(&example(), repo.path());
    let units = render(repo.path());
    install_fixtures(cluster.as_ref(), &units).await;
    let stand_in = spawn_real_stand_in(cluster.clone(), &units);
    let counter = cluster.clone();
    let writes = move || {
        let r = counter.requests();
        ["apply", "patch", "delete"]
            .iter()
            .map(|v| r.get(v).copied().unwrap_or(0))
            .sum()
    };
    home_ops_scenario(cluster.as_ref(), repo.path(), units, &writes).await;
    stand_in.abort();
}

/// Creates, with the pause image, the health-check targets that only a chart would create.
fn spawn_real_stand_in(
    cluster: std::sync::Arc<KubeApi>,
    units: &[capstan_cluster::Unit],
) -> tokio::task::JoinHandle<()> {
    let rendered: Vec<ObjectRef> = units
        .iter()
        .flat_map(|u| &u.objects)
        .filter_map(|d| ObjectRef::of(&d.object))
        .collect();
    let targets: Vec<ObjectRef> = units
        .iter()
        .flat_map(|u| u.health_checks.clone())
        .filter(|r| r.group == "apps" && !rendered.iter().any(|x| x.same_object(r)))
        .collect();
    tokio::spawn(async move {
        loop {
            for r in &targets {
                let ns = ObjectRef {
                    group: String::new(),
                    version: "v1".into(),
                    kind: "Namespace".into(),
                    namespace: String::new(),
                    name: r.namespace.clone(),
                };
                if !matches!(cluster.get(&ns).await, Ok(Some(_)))
                    || matches!(cluster.get(r).await, Ok(Some(_)))
                {
                    continue;
                }
                let labels = json!({"app": r.name});
                let object = json!({"apiVersion": r.api_version(), "kind": r.kind,
                    "metadata": {"name": r.name, "namespace": r.namespace},
                    "spec": {"selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}]}}}});
                let _ = cluster.apply(&object, false).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}
