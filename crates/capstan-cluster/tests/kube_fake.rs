//! The engine against `kube-fake` over HTTPS with kube-rs: `examples/home-ops` applied in
//! waves to Ready, a second run without a write request, an app removed from the repository
//! pruned exactly (its Namespace and PVC kept), a kubectl-style edit found by drift and aligned
//! back into the repository, and a fault at every request of an apply keeping the invariants.
//! The CRDs Flux and the example's charts would install are loaded first as fixtures.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_ops_applies_steadies_prunes_and_drifts() {
    let repo = tempfile::tempdir().expect("tempdir");
    copy_tree(&example(), repo.path());
    let server = start_fake().await;
    let cluster = connect(&server, repo.path()).await;
    let units = render(repo.path());
    install_fixtures(&cluster, &units).await;
    let _charts = spawn_chart_stand_in(server.side_door().clone(), &units);

    let door = server.side_door().clone();
    home_ops_scenario(&cluster, repo.path(), units, &move || {
        door.counters().writes()
    })
    .await;
}
