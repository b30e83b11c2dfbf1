//! The engine against `kube-fake` over HTTPS with kube-rs: `examples/home-ops` applied in
//! waves to Ready, a second run without a write request, an app removed from the repository
//! pruned exactly (its Namespace and PVC kept), a kubectl-style edit found by drift and aligned
//! back into the repository, and a fault at every request of an apply keeping the invariants.
//! The CRDs Flux and the example's charts would install are loaded first as fixtures.

mod support;

use capstan_cluster::Engine;
use capstan_cluster::engine::Outcome;
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

    // Cold apply: every wave Ready.
    let reports = Engine::new(&cluster, engine_options())
        .apply_all(&units)
        .await;
    for r in &reports {
        assert_eq!(
            r.outcome,
            Outcome::Ready,
            "{}/{}: {:?} {:?}",
            r.owner.namespace,
            r.owner.name,
            r.errors,
            r.objects
                .iter()
                .filter(|o| o.error.is_some())
                .collect::<Vec<_>>()
        );
    }

    // Second run: no write request at all.
    server.side_door().reset_counters();
    let reports = Engine::new(&cluster, engine_options())
        .apply_all(&units)
        .await;
    assert!(reports.iter().all(|r| r.outcome == Outcome::Ready));
    let counters = server.side_door().counters();
    assert_eq!(counters.writes(), 0, "steady state writes: {counters:?}");
    let objects: usize = units.iter().map(|u| u.objects.len()).sum();
    let requests: u64 =
        counters.verbs.values().sum::<u64>() + counters.dry_run.values().sum::<u64>();
    assert!(
        (requests as f64) / (objects as f64) <= 0.5,
        "{requests} requests for {objects} objects: {counters:?}"
    );

    // A kubectl-style edit shows in drift; drift -o patch's edit makes drift clean.
    let deploy = capstan_cluster::ObjectRef {
        group: "apps".into(),
        version: "v1".into(),
        kind: "Deployment".into(),
        namespace: "whoami".into(),
        name: "whoami".into(),
    };
    edit_replicas(&cluster, &deploy, 3).await;
    let report = Engine::new(&cluster, engine_options()).drift(&units).await;
    assert!(report.has_drift(), "edit not seen");
    let drifted: Vec<_> = report
        .objects()
        .filter(|o| matches!(o.state, capstan_cluster::drift::State::Drifted { .. }))
        .collect();
    assert_eq!(drifted.len(), 1, "{drifted:?}");
    apply_patch(repo.path(), &report);
    let units_after = render(repo.path());
    let report = Engine::new(&cluster, engine_options())
        .drift(&units_after)
        .await;
    assert!(
        !report.has_drift(),
        "after aligning the repository: {:?}",
        report
            .objects()
            .filter(|o| !matches!(
                o.state,
                capstan_cluster::drift::State::InSync
                    | capstan_cluster::drift::State::Skipped { .. }
            ))
            .collect::<Vec<_>>()
    );

    // Remove an app from the repository: exactly its objects go; Namespace and PVC stay.
    let app = units
        .iter()
        .find(|u| u.owner.name == "apps-home-automation")
        .expect("the app");
    let mut expected: Vec<String> = app
        .objects
        .iter()
        .filter_map(|d| capstan_cluster::ObjectRef::of(&d.object))
        .filter(|r| r.kind != "Namespace" && r.kind != "PersistentVolumeClaim")
        .map(|r| format!("{} {}/{}", r.kind, r.namespace, r.name))
        .collect();
    expected.push("Kustomization flux-system/apps-home-automation".into());
    expected.push("ConfigMap capstan-system/inventory.flux-system.apps-home-automation".into());
    expected.sort();
    remove_first_document(
        &repo
            .path()
            .join("clusters/home-ops/infrastructure/apps.yaml"),
    );
    let before = live_names(&cluster, &units).await;
    let units_removed = render(repo.path());
    let options = capstan_cluster::Options {
        prune: true,
        prune_orphans: true,
        ..engine_options()
    };
    let reports = Engine::new(&cluster, options)
        .apply_all(&units_removed)
        .await;
    for r in &reports {
        assert_eq!(
            r.outcome,
            Outcome::Ready,
            "{}: {:?}",
            r.owner.name,
            r.errors
        );
    }
    let after = live_names(&cluster, &units).await;
    let gone: Vec<String> = before
        .iter()
        .filter(|n| !after.contains(n))
        .cloned()
        .collect();
    let kept: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.kept
                .iter()
                .map(|k| format!("{} {:?}", k.object, k.reason))
        })
        .collect();
    assert_eq!(gone, expected, "kept: {kept:?}");
    assert!(after.contains(&"Namespace /home-automation".to_owned()));
    assert!(
        after
            .iter()
            .any(|n| n.starts_with("PersistentVolumeClaim home-automation/"))
    );
}
