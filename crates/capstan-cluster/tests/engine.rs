//! The engine against the in-memory cluster: staged apply, steady state without writes, prune
//! with its safety rules, drift, health waits, dependency gating and fault injection at every
//! request.

use std::time::Duration;

use capstan_cluster::drift::State;
use capstan_cluster::engine::{Action, KeptReason, Outcome, Protected};
use capstan_cluster::id::ObjectRef;
use capstan_cluster::inventory;
use capstan_cluster::mem::MemCluster;
use capstan_cluster::normalize::Owner;
use capstan_cluster::unit::{Desired, Unit};
use capstan_cluster::{Engine, Options};
use serde_json::{Value, json};

fn owner(name: &str) -> Owner {
    Owner {
        name: name.into(),
        namespace: "flux-system".into(),
    }
}

fn desired(objects: Vec<Value>) -> Vec<Desired> {
    objects
        .into_iter()
        .map(|object| Desired {
            object,
            file: Some("apps/app.yaml".into()),
        })
        .collect()
}

fn app(replicas: i64, with_extra: bool) -> Vec<Value> {
    let mut objects = vec![
        json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"apps"},
            "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":"web"}},
                "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}}),
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"apps"},"data":{"a":"1"}}),
        json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"}}),
        json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"token","namespace":"apps"},"stringData":{"token":"s3cret"}}),
    ];
    if with_extra {
        objects.push(json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"extra"},"spec":{"accessModes":["ReadWriteOnce"]}}));
        objects.push(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"extra"}}));
        objects.push(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"extra","namespace":"extra"},"data":{"b":"2"}}));
    }
    objects
}

fn unit(objects: Vec<Value>) -> Unit {
    let mut u = Unit::new(owner("apps"), desired(objects));
    u.prune = true;
    u
}

fn options() -> Options {
    Options {
        poll: Duration::from_millis(5),
        stage_timeout: Duration::from_millis(200),
        ..Options::default()
    }
}

fn r(group: &str, version: &str, kind: &str, ns: &str, name: &str) -> ObjectRef {
    ObjectRef {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        namespace: ns.into(),
        name: name.into(),
    }
}

fn stored_inventory(cluster: &MemCluster, o: &Owner) -> Vec<ObjectRef> {
    cluster
        .object(&inventory::storage_ref(o))
        .and_then(|v| inventory::from_object(&v))
        .map(|i| i.refs())
        .unwrap_or_default()
}

#[tokio::test]
async fn applies_in_stages_then_steady_state_writes_nothing() {
    let cluster = MemCluster::new();
    let u = unit(app(2, false));
    let report = Engine::new(&cluster, options()).apply(&u).await;
    assert_eq!(report.outcome, Outcome::Ready, "{report:?}");
    assert_eq!(report.count(Action::Created), 4);
    assert_eq!(
        report.objects[0].object.kind, "Namespace",
        "the Namespace goes first"
    );
    let deploy = cluster
        .object(&r("apps", "v1", "Deployment", "apps", "web"))
        .expect("applied");
    assert_eq!(
        deploy["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
        "apps"
    );
    assert_eq!(stored_inventory(&cluster, &owner("apps")).len(), 4);

    let before = cluster.requests();
    let writes = cluster.writes();
    let report = Engine::new(&cluster, options()).apply(&u).await;
    assert_eq!(report.count(Action::Unchanged), 4, "{report:?}");
    assert_eq!(cluster.writes(), writes, "a second run writes nothing");
    let after = cluster.requests();
    assert_eq!(
        after.get("dry-run"),
        before.get("dry-run"),
        "and needs no dry-run"
    );
}

#[tokio::test]
async fn prune_deletes_exactly_the_removed_objects_and_keeps_namespace_and_pvc() {
    let cluster = MemCluster::new();
    let foreign = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"foreign","namespace":"apps"},"data":{}});
    let engine_options = Options {
        prune: true,
        ..options()
    };
    Engine::new(&cluster, engine_options.clone())
        .apply(&unit(app(2, true)))
        .await;
    cluster.edit(&r("", "v1", "Namespace", "", "apps"), "kubectl", |_| {});
    let mut other = Engine::new(&cluster, options());
    other
        .apply(&Unit::new(owner("other"), desired(vec![foreign])))
        .await;

    let report = Engine::new(&cluster, engine_options.clone())
        .apply(&unit(app(2, false)))
        .await;
    assert_eq!(report.outcome, Outcome::Ready, "{report:?}");
    assert_eq!(
        report.pruned,
        vec![r("", "v1", "ConfigMap", "extra", "extra")]
    );
    let kept: Vec<_> = report
        .kept
        .iter()
        .map(|k| (k.object.kind.as_str(), k.reason))
        .collect();
    assert_eq!(
        kept,
        [
            ("PersistentVolumeClaim", KeptReason::Protected),
            ("Namespace", KeptReason::Protected)
        ]
    );
    assert!(
        cluster
            .object(&r("", "v1", "Namespace", "", "extra"))
            .is_some()
    );
    assert!(
        cluster
            .object(&r("", "v1", "ConfigMap", "apps", "foreign"))
            .is_some(),
        "another Kustomization's object stays"
    );
    assert_eq!(
        stored_inventory(&cluster, &owner("apps")).len(),
        6,
        "kept objects stay in the inventory"
    );

    let opt_in = Options {
        allow_prune: Protected {
            namespaces: true,
            pvcs: true,
            crds: false,
        },
        ..engine_options
    };
    let report = Engine::new(&cluster, opt_in)
        .apply(&unit(app(2, false)))
        .await;
    assert_eq!(report.pruned.len(), 2, "{report:?}");
    assert!(
        cluster
            .object(&r("", "v1", "Namespace", "", "extra"))
            .is_none()
    );
    assert_eq!(stored_inventory(&cluster, &owner("apps")).len(), 4);
}

#[tokio::test]
async fn prune_needs_the_flag_and_spec_prune() {
    let cluster = MemCluster::new();
    Engine::new(&cluster, options())
        .apply(&unit(app(1, true)))
        .await;
    let report = Engine::new(&cluster, options())
        .apply(&unit(app(1, false)))
        .await;
    assert!(report.pruned.is_empty());
    assert!(report.kept.iter().all(|k| k.reason == KeptReason::PruneOff));
    assert!(
        cluster
            .object(&r("", "v1", "ConfigMap", "extra", "extra"))
            .is_some()
    );
    assert_eq!(
        stored_inventory(&cluster, &owner("apps")).len(),
        7,
        "not forgotten without --prune"
    );
}

#[tokio::test]
async fn kubectl_edit_shows_as_drift_and_apply_reverts_it() {
    let cluster = MemCluster::new();
    let u = unit(app(2, false));
    Engine::new(&cluster, options()).apply(&u).await;
    let deploy = r("apps", "v1", "Deployment", "apps", "web");
    cluster.edit(&deploy, "kubectl-edit", |o| {
        o["spec"]["replicas"] = json!(5)
    });
    cluster.edit(
        &r("", "v1", "Secret", "apps", "token"),
        "kubectl-edit",
        |o| o["data"]["token"] = json!("b3RoZXI="),
    );

    let report = Engine::new(&cluster, options())
        .drift(std::slice::from_ref(&u))
        .await;
    assert!(report.has_drift());
    let drifted: Vec<_> = report
        .objects()
        .filter_map(|o| match &o.state {
            State::Drifted { fields } => Some((o.object.kind.clone(), fields.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(drifted.len(), 2, "{drifted:?}");
    let (_, fields) = drifted
        .iter()
        .find(|(k, _)| k == "Deployment")
        .expect("deployment");
    assert_eq!(fields[0].path, "spec.replicas");
    assert_eq!(fields[0].live, Some(json!(5)));
    let (_, secret) = drifted.iter().find(|(k, _)| k == "Secret").expect("secret");
    assert_eq!(
        secret[0].live,
        Some(json!(capstan_cluster::drift::MASK)),
        "Secret values are masked"
    );

    let report = Engine::new(&cluster, options()).apply(&u).await;
    assert_eq!(report.count(Action::Configured), 2, "{report:?}");
    let live = cluster.object(&deploy).expect("live");
    assert_eq!(live["spec"]["replicas"], 2);
    let report = Engine::new(&cluster, options())
        .drift(std::slice::from_ref(&u))
        .await;
    assert!(!report.has_drift(), "{report:?}");
}

#[tokio::test]
async fn crds_are_established_and_discovered_before_their_resources() {
    let cluster = MemCluster::new();
    let crd = json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},
        "spec":{"group":"example.com","scope":"Namespaced","names":{"kind":"Widget","plural":"widgets"},"versions":[{"name":"v1","served":true,"storage":true}]}});
    let widget = json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"apps"},"spec":{"size":1}});
    let ns = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"}});
    let report = Engine::new(&cluster, options())
        .apply(&unit(vec![widget, crd, ns]))
        .await;
    assert_eq!(report.outcome, Outcome::Ready, "{report:?}");
    assert!(
        cluster
            .object(&r("example.com", "v1", "Widget", "apps", "w"))
            .is_some()
    );
}

#[tokio::test]
async fn ssa_annotations() {
    let cluster = MemCluster::new();
    let ns = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"}});
    let once = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"once","namespace":"apps","annotations":{"kustomize.toolkit.fluxcd.io/ssa":"IfNotPresent"}},"data":{"a":"1"}});
    let ignored = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ignored","namespace":"apps","annotations":{"kustomize.toolkit.fluxcd.io/reconcile":"disabled"}},"data":{"a":"1"}});
    Engine::new(&cluster, options())
        .apply(&unit(vec![ns.clone(), once.clone(), ignored.clone()]))
        .await;
    assert!(
        cluster
            .object(&r("", "v1", "ConfigMap", "apps", "ignored"))
            .is_none()
    );
    cluster.edit(&r("", "v1", "ConfigMap", "apps", "once"), "someone", |o| {
        o["data"]["a"] = json!("changed")
    });
    let report = Engine::new(&cluster, options())
        .apply(&unit(vec![ns, once, ignored]))
        .await;
    assert_eq!(
        report.count(Action::Skipped(capstan_cluster::plan::SkipReason::Exists)),
        1
    );
    assert_eq!(
        cluster
            .object(&r("", "v1", "ConfigMap", "apps", "once"))
            .expect("live")["data"]["a"],
        "changed"
    );
    assert_eq!(
        stored_inventory(&cluster, &owner("apps")).len(),
        3,
        "skipped objects are in the inventory"
    );
}

#[tokio::test]
async fn immutable_fields_recreate_only_when_forced() {
    let cluster = MemCluster::new();
    let ns = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"}});
    let job = |image: &str| {
        json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"migrate","namespace":"apps"},
        "spec":{"template":{"spec":{"containers":[{"name":"m","image":image}]}}}})
    };
    Engine::new(&cluster, options())
        .apply(&unit(vec![ns.clone(), job("a:1")]))
        .await;
    let report = Engine::new(&cluster, options())
        .apply(&unit(vec![ns.clone(), job("a:2")]))
        .await;
    assert_eq!(report.outcome, Outcome::Failed);
    let failed = report
        .objects
        .iter()
        .find(|o| o.action == Action::Failed)
        .expect("failed");
    assert_eq!(
        failed.error.as_ref().map(|e| e.fields.clone()),
        Some(vec!["spec.template".to_owned()])
    );
    assert_eq!(
        failed.file.as_deref(),
        Some(std::path::Path::new("apps/app.yaml"))
    );
    let mut forced = unit(vec![ns, job("a:2")]);
    forced.force = true;
    let report = Engine::new(&cluster, options()).apply(&forced).await;
    assert!(report.objects.iter().any(|o| o.recreated), "{report:?}");
}

#[tokio::test]
async fn wait_times_out_then_succeeds_and_fails_fast() {
    let cluster = MemCluster::new();
    let mut u = unit(app(1, false));
    u.wait = true;
    u.timeout = Duration::from_millis(50);
    let report = Engine::new(&cluster, options()).apply(&u).await;
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.starts_with("timeout waiting for: [Deployment/apps/web")),
        "{:?}",
        report.errors
    );
    let deploy = r("apps", "v1", "Deployment", "apps", "web");
    cluster.set_status(&deploy, json!({"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1,"conditions":[{"type":"Available","status":"True"}]}));
    let report = Engine::new(&cluster, options()).apply(&u).await;
    assert_eq!(report.outcome, Outcome::Ready, "{report:?}");
    cluster.set_status(&deploy, json!({"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]}));
    u.timeout = Duration::from_secs(30);
    let report = Engine::new(&cluster, options()).apply(&u).await;
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.starts_with("failed early due to stalled resources")),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn dependencies_gate_and_waves_order() {
    let cluster = MemCluster::new();
    let ns = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"}});
    let bad = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"missing"},"data":{}});
    let mut infra = Unit::new(owner("infra"), desired(vec![ns, bad]));
    infra.prune = true;
    let mut apps = Unit::new(owner("apps"), desired(app(1, false)));
    apps.depends_on = vec![owner("infra")];
    let reports = Engine::new(&cluster, options())
        .apply_all(&[apps, infra])
        .await;
    assert_eq!(reports[1].outcome, Outcome::Failed);
    assert_eq!(
        reports[0].outcome,
        Outcome::DependencyNotReady(vec![owner("infra")])
    );
    assert!(
        cluster
            .object(&r("apps", "v1", "Deployment", "apps", "web"))
            .is_none()
    );
}

/// Every request of a cold apply fails once, in turn. Whatever happened, every owned object in the
/// cluster is in the stored inventory, a foreign object survives, and a clean rerun converges
/// with no further writes after it.
#[tokio::test]
async fn fault_at_every_request_keeps_the_invariants() {
    let probe = MemCluster::new();
    let prune = Options {
        prune: true,
        ..options()
    };
    let first = unit(app(2, true));
    let second = unit(app(3, false));
    let foreign = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"foreign","namespace":"extra","labels":{"kustomize.toolkit.fluxcd.io/name":"someone-else","kustomize.toolkit.fluxcd.io/namespace":"flux-system"}},"data":{}});
    setup(&probe, &first, &foreign).await;
    let start = probe.total_requests();
    Engine::new(&probe, prune.clone()).apply(&second).await;
    let count = probe.total_requests() - start;
    assert!(count > 5, "the run makes requests ({count})");
    for n in 1..=count {
        let cluster = MemCluster::new();
        setup(&cluster, &first, &foreign).await;
        let base = cluster.total_requests();
        cluster.fail_request(base + n);
        Engine::new(&cluster, prune.clone()).apply(&second).await;
        let held = stored_inventory(&cluster, &owner("apps"));
        for object in cluster.objects() {
            if capstan_cluster::policy::owned_by(&object, "apps", "flux-system") {
                let o = ObjectRef::of(&object).expect("ref");
                assert!(
                    held.iter().any(|h| h.same_object(&o)),
                    "fault at {n}: {o} applied but not in the inventory"
                );
            }
        }
        assert!(
            cluster
                .object(&r("", "v1", "ConfigMap", "extra", "foreign"))
                .is_some(),
            "fault at {n}: foreign object deleted"
        );
        let report = Engine::new(&cluster, prune.clone()).apply(&second).await;
        assert_eq!(
            report.outcome,
            Outcome::Ready,
            "fault at {n}: rerun {report:?}"
        );
        let writes = cluster.writes();
        Engine::new(&cluster, prune.clone()).apply(&second).await;
        assert_eq!(
            cluster.writes(),
            writes,
            "fault at {n}: steady after the rerun"
        );
        assert!(
            cluster
                .object(&r("", "v1", "ConfigMap", "extra", "extra"))
                .is_none(),
            "fault at {n}: stale object pruned"
        );
    }
}

async fn setup(cluster: &MemCluster, first: &Unit, foreign: &Value) {
    Engine::new(
        cluster,
        Options {
            prune: true,
            ..options()
        },
    )
    .apply(first)
    .await;
    Engine::new(cluster, options())
        .apply(&Unit::new(
            owner("someone-else"),
            desired(vec![foreign.clone()]),
        ))
        .await;
}

#[tokio::test]
async fn override_manager_takes_over_only_the_named_managers_fields() {
    let cluster = MemCluster::new();
    let u = unit(app(2, false));
    Engine::new(&cluster, options()).apply(&u).await;
    let settings = r("", "v1", "ConfigMap", "apps", "settings");
    cluster.edit(&settings, "human", |o| {
        o["data"]["extra"] = json!("by hand")
    });

    // Not named: the field Git does not declare is the human's, and is not drift.
    let report = Engine::new(&cluster, options())
        .drift(std::slice::from_ref(&u))
        .await;
    assert!(!report.has_drift(), "{report:?}");
    let report = Engine::new(&cluster, options()).apply(&u).await;
    assert_eq!(report.count(Action::Configured), 0, "{report:?}");
    assert_eq!(
        cluster.object(&settings).expect("live")["data"]["extra"],
        "by hand"
    );

    // Named: its fields are folded into capstan's and what Git does not declare goes.
    let overriding = Options {
        override_managers: vec!["human".into()],
        ..options()
    };
    let report = Engine::new(&cluster, overriding.clone())
        .drift(std::slice::from_ref(&u))
        .await;
    assert!(report.has_drift(), "{report:?}");
    let report = Engine::new(&cluster, overriding.clone()).apply(&u).await;
    assert_eq!(report.count(Action::Configured), 1, "{report:?}");
    let live = cluster.object(&settings).expect("live");
    assert!(live["data"].get("extra").is_none(), "{live}");
    assert_eq!(live["data"]["a"], "1");
    let report = Engine::new(&cluster, overriding)
        .drift(std::slice::from_ref(&u))
        .await;
    assert!(!report.has_drift(), "{report:?}");
}

#[tokio::test]
async fn spec_ignore_paths_are_not_drift_and_are_not_reverted() {
    let cluster = MemCluster::new();
    let mut u = unit(app(2, false));
    u.ignore = vec![
        serde_json::from_value(json!({"paths":["/spec/replicas"],"target":{"kind":"Deployment"}}))
            .expect("rule"),
    ];
    Engine::new(&cluster, options()).apply(&u).await;
    let deploy = r("apps", "v1", "Deployment", "apps", "web");
    cluster.edit(&deploy, "hpa", |o| o["spec"]["replicas"] = json!(5));

    let report = Engine::new(&cluster, options())
        .drift(std::slice::from_ref(&u))
        .await;
    assert!(!report.has_drift(), "{report:?}");
    let writes = cluster.writes();
    let report = Engine::new(&cluster, options()).apply(&u).await;
    assert_eq!(report.count(Action::Configured), 0, "{report:?}");
    assert_eq!(cluster.writes(), writes, "nothing sent");

    // Applied for another reason: the ignored field keeps its live value.
    let mut changed = app(2, false);
    changed[0]["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let mut u2 = unit(changed);
    u2.ignore = u.ignore.clone();
    let report = Engine::new(&cluster, options()).apply(&u2).await;
    assert_eq!(report.count(Action::Configured), 1, "{report:?}");
    let live = cluster.object(&deploy).expect("live");
    assert_eq!(live["spec"]["replicas"], 5);
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );

    // Without the rule, the same edit is drift and is reverted.
    let mut plain = unit(app(2, false));
    plain.objects[0].object["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("nginx:2");
    let report = Engine::new(&cluster, options())
        .drift(std::slice::from_ref(&plain))
        .await;
    assert!(report.has_drift(), "{report:?}");
}

#[tokio::test]
async fn depends_on_same_source_waits_for_the_same_revision() {
    let cluster = MemCluster::new();
    let source = Some("GitRepository/flux-system/flux-system".to_owned());
    let at = |revision: &str| Options {
        revision: Some(revision.into()),
        ..options()
    };
    let mut infra = Unit::new(
        owner("infra"),
        desired(vec![
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"infra"}}),
        ]),
    );
    infra.source = source.clone();
    let mut apps = unit(app(1, false));
    apps.source = source.clone();
    apps.depends_on = vec![owner("infra")];

    let report = Engine::new(&cluster, at("main@sha1:aaa"))
        .apply(&infra)
        .await;
    assert_eq!(report.outcome, Outcome::Ready, "{report:?}");
    // The dependency applied an older revision of the same source: wait.
    let reports = Engine::new(&cluster, at("main@sha1:bbb"))
        .apply_all(std::slice::from_ref(&apps))
        .await;
    assert_eq!(
        reports[0].outcome,
        Outcome::DependencyNotReady(vec![owner("infra")])
    );
    assert!(
        reports[0].errors[0].contains("revision is not up to date"),
        "{:?}",
        reports[0].errors
    );
    // Another source: the revision is not compared.
    let mut elsewhere = apps.clone();
    elsewhere.source = Some("OCIRepository/flux-system/apps".into());
    let reports = Engine::new(&cluster, at("main@sha1:bbb"))
        .apply_all(std::slice::from_ref(&elsewhere))
        .await;
    assert_eq!(reports[0].outcome, Outcome::Ready, "{:?}", reports[0]);
    // Once the dependency applied the same revision, the dependant goes.
    Engine::new(&cluster, at("main@sha1:bbb"))
        .apply(&infra)
        .await;
    let reports = Engine::new(&cluster, at("main@sha1:bbb"))
        .apply_all(std::slice::from_ref(&apps))
        .await;
    assert_eq!(reports[0].outcome, Outcome::Ready, "{:?}", reports[0]);
    // No revision known: applied, and the report says the rule was not checked.
    let reports = Engine::new(&cluster, options())
        .apply_all(std::slice::from_ref(&apps))
        .await;
    assert_eq!(reports[0].outcome, Outcome::Ready);
    assert!(
        reports[0].notes[0].contains("not checked"),
        "{:?}",
        reports[0].notes
    );
}

#[tokio::test]
async fn depends_on_a_flux_kustomization_reads_its_status_and_ready_expr() {
    let cluster = MemCluster::new();
    cluster.put(
        json!({"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization",
        "metadata":{"name":"infra","namespace":"flux-system","generation":1},
        "spec":{"sourceRef":{"kind":"GitRepository","name":"flux-system"}},
        "status":{"observedGeneration":1,"lastAppliedRevision":"main@sha1:aaa",
            "conditions":[{"type":"Ready","status":"True"}]}}),
    );
    let mut apps = unit(app(1, false));
    apps.source = Some("GitRepository/flux-system/flux-system".into());
    apps.depends_on = vec![owner("infra")];
    let at = Options {
        revision: Some("sha1:bbb".into()),
        ..options()
    };
    let reports = Engine::new(&cluster, at.clone())
        .apply_all(std::slice::from_ref(&apps))
        .await;
    assert!(matches!(reports[0].outcome, Outcome::DependencyNotReady(_)));
    // A readyExpr replaces the built-in checks, revision included.
    apps.ready_exprs = vec![(
        owner("infra"),
        "dep.status.conditions.filter(c, c.type == 'Ready').all(c, c.status == 'True')".into(),
    )];
    let reports = Engine::new(&cluster, at)
        .apply_all(std::slice::from_ref(&apps))
        .await;
    assert_eq!(reports[0].outcome, Outcome::Ready, "{:?}", reports[0]);
}
