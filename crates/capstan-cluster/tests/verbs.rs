//! The live verbs against kube-fake, with a stand-in for Flux's controllers that handles
//! `reconcile.fluxcd.io/requestedAt` after a delay and writes the status a Flux controller would
//! (its verdict per object chosen by the test). The same scenarios run against a real cluster in
//! `e2e_verbs` when CAPSTAN_E2E_KUBECONFIG is set.

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use capstan_cluster::Cluster;
use capstan_cluster::kube_api::KubeApi;
use capstan_cluster::verbs::kinds::FluxKind;
use capstan_cluster::verbs::reconcile::{self, Options, REQUESTED_AT};
use capstan_cluster::verbs::status::DriftState;
use capstan_cluster::verbs::suspend::{self, Alignment, OVERRIDE_REASON, Override};
use capstan_cluster::verbs::why::Link;
use capstan_cluster::verbs::{VerbError, events, get, status, trace, tree, why};
use serde_json::{Value, json};

const NS: &str = "flux-system";

fn crd(group: &str, version: &str, kind: &str) -> Value {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_ascii_lowercase(), "listKind": format!("{kind}List")},
            "versions": [{"name": version, "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

/// The verdicts the controller stand-in writes: name → (ready, reason, message).
type Verdicts = Arc<Mutex<BTreeMap<String, (bool, String, String)>>>;

struct Rig {
    server: kube_fake::Handle,
    api: KubeApi,
    verdicts: Verdicts,
    _dir: tempfile::TempDir,
}

fn fake_ref(kind: FluxKind, ns: &str, name: &str) -> kube_fake::ObjectRef {
    kube_fake::ObjectRef::new(
        &format!("{}/{}", kind.group(), kind.version()),
        kind.kind(),
        ns,
        name,
    )
}

async fn rig() -> Rig {
    let server = support::start_fake().await;
    server
        .side_door()
        .put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .expect("namespace");
    for k in FluxKind::ALL {
        server
            .side_door()
            .put(crd(k.group(), k.version(), k.kind()))
            .expect("crd");
    }
    // Wait until every CRD is Established and served.
    for _ in 0..200 {
        let served = FluxKind::ALL.iter().all(|k| {
            server
                .side_door()
                .put(
                    json!({"apiVersion": format!("{}/{}", k.group(), k.version()), "kind": k.kind(),
                    "metadata": {"name": "probe", "namespace": "default"}, "spec": {}}),
                )
                .is_ok()
        });
        if served {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let api = support::connect(&server, dir.path()).await;
    let verdicts: Verdicts = Arc::default();
    let door = server.side_door().clone();
    let v = verdicts.clone();
    let watcher = support::connect(&server, dir.path()).await;
    // The controller stand-in: handles each new request token 300 ms after it appears.
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            for k in FluxKind::ALL {
                let objects = watcher
                    .list(k.group(), k.version(), k.kind())
                    .await
                    .unwrap_or_default();
                for o in objects {
                    let token = o
                        .pointer(&format!(
                            "/metadata/annotations/{}",
                            REQUESTED_AT.replace('/', "~1")
                        ))
                        .and_then(Value::as_str);
                    let handled = o
                        .pointer("/status/lastHandledReconcileAt")
                        .and_then(Value::as_str);
                    let suspended =
                        o.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
                    let (Some(token), false) = (token, suspended) else {
                        continue;
                    };
                    if Some(token) == handled {
                        continue;
                    }
                    let name = o
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let ns = o
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let Some((ready, reason, message)) =
                        v.lock().expect("lock").get(&name).cloned()
                    else {
                        continue;
                    };
                    let generation = o
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    let mut st =
                        reconcile::handled_status(token, generation, ready, &reason, &message);
                    if let Some(prev) = o.get("status").and_then(Value::as_object) {
                        for (key, value) in prev {
                            if !st.as_object().expect("object").contains_key(key) {
                                st[key] = value.clone();
                            }
                        }
                    }
                    let _ = door.write_status(&fake_ref(k, &ns, &name), st);
                }
            }
        }
    });
    Rig {
        server,
        api,
        verdicts,
        _dir: dir,
    }
}

impl Rig {
    fn put(&self, object: Value) {
        self.server.side_door().put(object).expect("put");
    }

    fn verdict(&self, name: &str, ready: bool, reason: &str, message: &str) {
        self.verdicts
            .lock()
            .expect("lock")
            .insert(name.into(), (ready, reason.into(), message.into()));
    }

    fn ready(
        &self,
        kind: FluxKind,
        ns: &str,
        name: &str,
        ready: bool,
        reason: &str,
        message: &str,
    ) {
        self.server
            .side_door()
            .flux_ready(&fake_ref(kind, ns, name), ready, reason, message)
            .expect("status");
    }
}

fn git(name: &str) -> Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"url": "https://github.com/example/fleet", "interval": "1m", "ref": {"branch": "main"}}})
}

fn ks(name: &str, depends: &[&str]) -> Value {
    let deps: Vec<Value> = depends.iter().map(|d| json!({"name": d})).collect();
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true, "dependsOn": deps,
            "sourceRef": {"kind": "GitRepository", "name": "fleet"}}})
}

fn hr(name: &str) -> Value {
    json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"interval": "10m", "chart": {"spec": {"chart": name, "version": "1.2.3",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}}})
}

fn fast() -> Options {
    Options {
        timeout: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_lists_flux_objects_with_flux_columns() {
    let r = rig().await;
    r.put(git("fleet"));
    r.put(ks("apps", &[]));
    r.put(hr("web"));
    r.ready(
        FluxKind::Kustomization,
        NS,
        "apps",
        false,
        "BuildFailed",
        "kustomize build failed: missing resource",
    );
    r.ready(
        FluxKind::HelmRelease,
        NS,
        "web",
        true,
        "InstallSucceeded",
        "Helm install succeeded",
    );
    let listing = get::list(
        &r.api,
        &FluxKind::ALL,
        &get::Query {
            namespace: Some(NS.into()),
            ..Default::default()
        },
    )
    .await
    .expect("lists");
    let rows: Vec<(String, String, String, String)> = listing
        .rows
        .iter()
        .map(|row| {
            (
                row.kind.kind().to_owned(),
                row.name.clone(),
                row.ready.clone(),
                row.reason.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "Kustomization".into(),
                "apps".into(),
                "False".into(),
                "BuildFailed".into()
            ),
            (
                "HelmRelease".into(),
                "web".into(),
                "True".into(),
                "InstallSucceeded".into()
            ),
            (
                "GitRepository".into(),
                "fleet".into(),
                "Unknown".into(),
                String::new()
            ),
        ]
    );
    assert!(listing.not_served.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_waits_for_the_controller_and_reports_its_verdict() {
    let r = rig().await;
    r.put(git("fleet"));
    r.put(ks("apps", &[]));
    r.put(hr("web"));
    r.verdict(
        "apps",
        true,
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:1",
    );
    r.verdict(
        "fleet",
        true,
        "Succeeded",
        "stored artifact for revision main@sha1:1",
    );
    let done = reconcile::reconcile(
        &r.api,
        FluxKind::Kustomization,
        NS,
        "apps",
        &Options {
            with_source: true,
            ..fast()
        },
        &capstan_cluster::verbs::now,
    )
    .await
    .expect("reconciles");
    assert!(done.row.is_ready());
    assert_eq!(done.source.expect("source first").name, "fleet");

    // A failure the controller writes is reported with its reason.
    r.verdict("web", false, "InstallFailed", "chart pull error");
    match reconcile::reconcile(
        &r.api,
        FluxKind::HelmRelease,
        NS,
        "web",
        &Options {
            force: true,
            ..fast()
        },
        &capstan_cluster::verbs::now,
    )
    .await
    {
        Err(VerbError::Failed { row }) => assert_eq!(
            (row.reason.as_str(), row.message.as_str()),
            ("InstallFailed", "chart pull error")
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
    let live = r
        .api
        .get(&FluxKind::HelmRelease.object(NS, "web"))
        .await
        .expect("get")
        .expect("exists");
    let a = &live["metadata"]["annotations"];
    assert_eq!(
        a["reconcile.fluxcd.io/forceAt"], a[REQUESTED_AT],
        "--force writes the same token"
    );

    // Nobody handles the request: a timeout that says so.
    r.put(ks("orphan", &[]));
    match reconcile::reconcile(
        &r.api,
        FluxKind::Kustomization,
        NS,
        "orphan",
        &Options {
            timeout: Duration::from_millis(700),
            ..fast()
        },
        &capstan_cluster::verbs::now,
    )
    .await
    {
        Err(e @ VerbError::TimedOut { handled: false, .. }) => {
            assert!(e.to_string().contains("not handled yet"), "{e}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // Unknown objects are a typed error.
    assert!(matches!(
        reconcile::reconcile(
            &r.api,
            FluxKind::Kustomization,
            NS,
            "nope",
            &fast(),
            &capstan_cluster::verbs::now
        )
        .await,
        Err(VerbError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_override_cycle_records_who_when_and_why() {
    let r = rig().await;
    r.put(git("fleet"));
    r.put(ks("apps", &[]));
    r.verdict(
        "apps",
        true,
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:2",
    );
    let who = Override {
        by: "alice".into(),
        reason: Some("restore the database by hand".into()),
    };
    let done = suspend::suspend(
        &r.api,
        FluxKind::Kustomization,
        NS,
        "apps",
        &who,
        "2026-12-04T10:00:00Z",
    )
    .await
    .expect("suspends");
    assert!(done.changed && done.row.suspended);

    // reconcile refuses a suspended object, and says how to resume it.
    let refused = reconcile::reconcile(
        &r.api,
        FluxKind::Kustomization,
        NS,
        "apps",
        &fast(),
        &capstan_cluster::verbs::now,
    )
    .await;
    let text = refused.expect_err("refused").to_string();
    assert!(
        text.contains("capstan resume ks apps -n flux-system"),
        "{text}"
    );

    // status lists the open override; events carry it.
    let s = status::status(&r.api, DriftState::NotChecked { why: "test".into() }).await;
    let open = s
        .suspended
        .iter()
        .find(|x| x.row.name == "apps")
        .and_then(|x| x.over.clone())
        .expect("override listed");
    assert_eq!(
        (open.by.as_str(), open.reason.as_str()),
        ("alice", "restore the database by hand")
    );
    assert!(s.needs_attention());
    let evs = events::events(
        &r.api,
        &events::For {
            kind: Some("Kustomization".into()),
            name: Some("apps".into()),
            ..Default::default()
        },
    )
    .await
    .expect("events");
    assert!(
        evs.iter()
            .any(|e| e.reason == "Suspended" && e.message.contains("restore the database")),
        "{evs:?}"
    );

    // resume clears the override, requests a reconcile and waits for it.
    let resumed = suspend::resume(
        &r.api,
        FluxKind::Kustomization,
        NS,
        "apps",
        &suspend::Resumption {
            by: "alice".into(),
            alignment: Alignment::Forced,
        },
        &fast(),
        &capstan_cluster::verbs::now,
    )
    .await
    .expect("resumes");
    assert!(resumed.row.is_ready());
    let live = r
        .api
        .get(&FluxKind::Kustomization.object(NS, "apps"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(live["spec"]["suspend"], json!(false));
    assert!(
        live["metadata"]["annotations"]
            .get(OVERRIDE_REASON)
            .is_none()
    );
    assert!(
        live["metadata"]["annotations"]
            .get(suspend::RESUMED_UNALIGNED)
            .is_some(),
        "--force is recorded"
    );
    let s = status::status(&r.api, DriftState::NotChecked { why: "test".into() }).await;
    assert!(s.suspended.is_empty());
}

fn helm_release_secret(
    ns: &str,
    release: &str,
    version: i64,
    status: &str,
    manifest: &str,
) -> Value {
    let body = json!({"name": release, "namespace": ns, "version": version, "manifest": manifest, "info": {"status": status}});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.to_string().as_bytes()).expect("gzip");
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm = b64.encode(gz.finish().expect("gzip"));
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{release}.v{version}"), "namespace": ns,
            "labels": {"owner": "helm", "name": release, "version": version.to_string(), "status": status}},
        "data": {"release": b64.encode(helm)}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_and_trace_follow_inventories_releases_and_labels() {
    let r = rig().await;
    r.put(git("fleet"));
    r.put(ks("apps", &[]));
    r.ready(
        FluxKind::Kustomization,
        NS,
        "apps",
        true,
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:3",
    );
    let mut st = r
        .api
        .get(&FluxKind::Kustomization.object(NS, "apps"))
        .await
        .expect("get")
        .expect("exists")["status"]
        .clone();
    st["inventory"] = json!({"entries": [
        {"id": "_web__Namespace", "v": "v1"},
        {"id": "flux-system_web_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"}]});
    r.server
        .side_door()
        .write_status(&fake_ref(FluxKind::Kustomization, NS, "apps"), st)
        .expect("status");
    let mut web = hr("web");
    web["metadata"]["labels"] = json!({"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": NS});
    r.put(web);
    r.server
        .side_door()
        .write_status(
            &fake_ref(FluxKind::HelmRelease, NS, "web"),
            json!({
        "storageNamespace": "web",
        "history": [{"name": "web", "namespace": "web", "version": 2, "chartVersion": "1.2.3"}]}),
        )
        .expect("status");
    r.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}));
    r.put(helm_release_secret("web", "web", 2, "deployed",
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"));

    let root = tree::tree(&r.api, FluxKind::Kustomization, NS, "apps")
        .await
        .expect("tree");
    let names: Vec<String> = tree::flatten(&root)
        .iter()
        .map(|o| format!("{}/{}/{}", o.kind, o.namespace, o.name))
        .collect();
    assert_eq!(
        names,
        vec![
            "Namespace//web",
            "HelmRelease/flux-system/web",
            "Deployment/web/web",
            "Service/web/web"
        ]
    );

    // A Deployment made by the release: trace goes to the HelmRelease, its chart, the repository.
    r.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "web", "labels": {
            "helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": NS}},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}));
    let start = capstan_cluster::id::ObjectRef {
        group: "apps".into(),
        version: "v1".into(),
        kind: "Deployment".into(),
        namespace: "web".into(),
        name: "web".into(),
    };
    let chain = trace::trace(&r.api, start).await.expect("trace");
    let kinds: Vec<&str> = chain.iter().map(|l| l.object.kind.as_str()).collect();
    assert_eq!(kinds, vec!["Deployment", "HelmRelease", "HelmChart"]);
    assert_eq!(chain[2].object.name, "flux-system-web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn why_finds_the_stuck_link() {
    let r = rig().await;
    // 1. A source failing to fetch.
    r.put(git("fleet"));
    r.ready(
        FluxKind::GitRepository,
        NS,
        "fleet",
        false,
        "GitOperationFailed",
        "failed to checkout: authentication required",
    );
    r.put(ks("infra", &[]));
    let d = why::why(&r.api, FluxKind::Kustomization, NS, "infra")
        .await
        .expect("walks");
    let stuck = d.stuck.expect("stuck");
    assert_eq!(stuck.link, Link::Source);
    assert!(
        stuck.message.contains("authentication required"),
        "{}",
        stuck.message
    );
    assert!(
        stuck
            .next
            .iter()
            .any(|c| c == "capstan reconcile source git fleet -n flux-system"),
        "{:?}",
        stuck.next
    );

    // 2. A dependency not Ready.
    r.ready(
        FluxKind::GitRepository,
        NS,
        "fleet",
        true,
        "Succeeded",
        "stored artifact",
    );
    r.ready(
        FluxKind::Kustomization,
        NS,
        "infra",
        false,
        "HealthCheckFailed",
        "timeout waiting for: [Deployment/db/postgres status: 'InProgress']",
    );
    r.put(ks("apps", &["infra"]));
    let d = why::why(&r.api, FluxKind::Kustomization, NS, "apps")
        .await
        .expect("walks");
    let stuck = d.stuck.expect("stuck");
    assert_eq!(stuck.link, Link::Dependency);
    assert_eq!(
        stuck.next,
        vec!["capstan why ks infra -n flux-system".to_owned()]
    );

    // 3. A build error.
    r.put(ks("broken", &[]));
    r.ready(
        FluxKind::Kustomization,
        NS,
        "broken",
        false,
        "BuildFailed",
        "kustomization path not found: ./broken",
    );
    let d = why::why(&r.api, FluxKind::Kustomization, NS, "broken")
        .await
        .expect("walks");
    assert_eq!(d.stuck.expect("stuck").link, Link::Build);

    // 4. A health check timing out on a crash-looping pod.
    r.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "db"}}));
    let deploy = kube_fake::ObjectRef::new("apps/v1", "Deployment", "db", "postgres");
    r.server.side_door().set_override(
        &deploy,
        kube_fake::Override {
            never_ready: true,
            ..Default::default()
        },
    );
    let pod = kube_fake::ObjectRef::new("v1", "Pod", "db", "postgres-5d9f-abcde");
    r.server.side_door().set_override(
        &pod,
        kube_fake::Override {
            crash_loop: true,
            ..Default::default()
        },
    );
    r.put(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "postgres", "namespace": "db"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "postgres"}}, "template": {"metadata": {"labels": {"app": "postgres"}},
            "spec": {"containers": [{"name": "postgres", "image": "postgres:17"}]}}}}));
    r.put(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "postgres-5d9f-abcde", "namespace": "db", "labels": {"app": "postgres"}},
        "spec": {"containers": [{"name": "postgres", "image": "postgres:17"}]}}));
    let mut infra = r
        .api
        .get(&FluxKind::Kustomization.object(NS, "infra"))
        .await
        .expect("get")
        .expect("exists");
    infra["status"]["inventory"] =
        json!({"entries": [{"id": "db_postgres_apps_Deployment", "v": "v1"}]});
    r.server
        .side_door()
        .write_status(
            &fake_ref(FluxKind::Kustomization, NS, "infra"),
            infra["status"].clone(),
        )
        .expect("status");
    // Let the built-in controllers write the Deployment's and the Pod's status.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = why::why(&r.api, FluxKind::Kustomization, NS, "infra")
        .await
        .expect("walks");
    let stuck = d.stuck.expect("stuck");
    assert_eq!(stuck.link, Link::Health, "{stuck:?}");
    assert!(
        stuck.message.contains("CrashLoopBackOff"),
        "{}",
        stuck.message
    );
    assert!(
        stuck
            .next
            .iter()
            .any(|c| c.starts_with("kubectl logs postgres-5d9f-abcde -n db -c postgres")),
        "{:?}",
        stuck.next
    );
    // An application's pod is not a Flux controller: `capstan logs` would not show its output.
    assert!(
        !stuck.next.iter().any(|c| c.starts_with("capstan logs")),
        "{:?}",
        stuck.next
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_what_needs_attention() {
    let r = rig().await;
    r.put(git("fleet"));
    r.ready(
        FluxKind::GitRepository,
        NS,
        "fleet",
        true,
        "Succeeded",
        "stored artifact",
    );
    r.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}));
    r.put(helm_release_secret("web", "web", 1, "superseded", ""));
    r.put(helm_release_secret("web", "web", 2, "failed", ""));
    let s = status::status(
        &r.api,
        DriftState::Compared {
            drifted: vec![],
            not_compared: 0,
        },
    )
    .await;
    assert_eq!(s.failed_releases.len(), 1);
    assert_eq!(s.failed_releases[0].version, 2);
    assert!(s.needs_attention());
    assert!(s.unread.is_empty(), "{:?}", s.unread);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_read_one_pod_per_controller_and_filter_by_object() {
    use capstan_cluster::verbs::logs::{self, Filter, LogOptions};
    let r = rig().await;
    let door = r.server.side_door();
    // kustomize-controller's pod has a sidecar, so its `manager` container is read;
    // source-controller is a Deployment without a pod.
    for name in ["kustomize-controller", "source-controller"] {
        r.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "labels": {"app.kubernetes.io/part-of": "flux"}},
            "spec": {"selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "manager", "image": "x"}]}}}}));
    }
    // Not a Flux controller: same namespace, no part-of label.
    r.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "other", "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": "other"}},
            "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}));
    r.put(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kustomize-controller-new", "namespace": NS, "labels": {"app": "kustomize-controller"}},
        "spec": {"containers": [{"name": "manager", "image": "x"}, {"name": "proxy", "image": "y"}]}}));
    let line = |name: &str, msg: &str| {
        json!({"level": "info", "ts": format!("2026-12-04T18:00:0{}Z", msg.len() % 10), "msg": msg,
            "controllerKind": "Kustomization", "name": name, "namespace": NS})
        .to_string()
    };
    door.append_log(&kube_fake::LogWrite {
        namespace: NS.into(),
        pod: "kustomize-controller-new".into(),
        container: "manager".into(),
        previous: false,
        text: [
            line("apps", "applied"),
            line("infra", "applied too"),
            "plain text".into(),
        ]
        .join("\n"),
    });
    let controllers = logs::controllers(&r.api, NS).await.expect("controllers");
    assert_eq!(
        controllers
            .iter()
            .map(|c| (c.name.as_str(), c.pod.as_deref(), c.container.as_deref()))
            .collect::<Vec<_>>(),
        [
            (
                "kustomize-controller",
                Some("kustomize-controller-new"),
                Some("manager")
            ),
            ("source-controller", None, None),
        ]
    );
    let filter = Filter {
        kind: Some("Kustomization".into()),
        name: Some("apps".into()),
        namespace: Some(NS.into()),
        level: None,
    };
    let got = logs::collect(&r.api, NS, &controllers, &LogOptions::default(), &filter).await;
    assert_eq!(got.entries.len(), 1, "{got:?}");
    assert_eq!(got.entries[0].msg, "applied");
    assert_eq!((got.lines, got.not_json), (3, 1));
    assert_eq!(got.unread.len(), 1);
    assert_eq!(got.unread[0].controller, "source-controller");
    assert!(matches!(
        logs::controllers(&r.api, "elsewhere").await,
        Err(logs::LogsError::NoControllers { .. })
    ));
}
