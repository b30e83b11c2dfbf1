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

/// A process that reconciles more than once keeps a watch-fed cache: after the first run, a run
/// makes no request at all, and a change by another manager reaches the cache through the watch
/// (no new LIST) and shows as drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_fed_cache_costs_nothing_at_steady_state_and_sees_other_managers() {
    use capstan_cluster::normalize::Owner;
    use capstan_cluster::unit::{Desired, Unit};
    use capstan_cluster::{Engine, ObjectRef};
    use serde_json::json;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_fake().await;
    let cluster = connect(&server, dir.path()).await.watching();
    let objects = vec![
        json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"cached"}}),
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"cached"},"data":{"a":"1"}}),
        json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"cached"},
            "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
                "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}}),
    ];
    let mut unit = Unit::new(
        Owner {
            name: "cached".into(),
            namespace: "flux-system".into(),
        },
        objects
            .into_iter()
            .map(|object| Desired { object, file: None })
            .collect(),
    );
    unit.prune = true;
    let units = std::slice::from_ref(&unit);
    let report = Engine::new(&cluster, engine_options()).apply(&unit).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let lists = cluster.requests().get("list").copied().unwrap_or(0);
    assert!(lists > 0);

    // The watch catches up with capstan's own writes; from then on a run sends nothing.
    let door = server.side_door().clone();
    let requests = || {
        let c = door.counters();
        c.verbs
            .iter()
            .filter(|(verb, _)| !["discovery", "watch"].contains(&verb.as_str()))
            .map(|(_, n)| n)
            .sum::<u64>()
            + c.dry_run.values().sum::<u64>()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = requests();
        let reports = Engine::new(&cluster, engine_options())
            .apply_all(units)
            .await;
        assert!(reports[0].errors.is_empty(), "{:?}", reports[0].errors);
        if requests() == before {
            break;
        }
        assert!(Instant::now() < deadline, "a run still makes requests");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cluster.requests().get("list").copied().unwrap_or(0),
        lists,
        "no kind listed again"
    );

    // Another manager's change arrives through the watch.
    let settings = ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: "cached".into(),
        name: "settings".into(),
    };
    {
        use kube::api::{Api, Patch, PatchParams};
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(cluster.client().clone(), "cached");
        let params = PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..PatchParams::default()
        };
        api.patch(
            &settings.name,
            &params,
            &Patch::Merge(json!({"data": {"a": "by hand"}})),
        )
        .await
        .expect("edited");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let report = Engine::new(&cluster, engine_options()).drift(units).await;
        if report.has_drift() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the edit never reached the cache"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cluster.requests().get("list").copied().unwrap_or(0),
        lists,
        "found through the watch, not a new list"
    );
}
