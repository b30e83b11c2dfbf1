//! The live verbs against a real cluster: set `CAPSTAN_E2E_KUBECONFIG` to a disposable cluster's
//! kubeconfig (kind in `.github/workflows/e2e-kind.yml`) that runs no Flux controllers. Without it
//! the test says so and passes without touching anything. Flux's CRDs are installed as
//! schemaless fixtures and a stand-in writes the status Flux's controllers would, through the
//! status subresource; the scenarios are those of `verbs.rs` (kube-fake): reconcile success and
//! failure, the override cycle, and `why` on a failing source and on a Deployment whose container
//! exits at once (busybox `sh -c 'exit 1'`), which the kubelet puts in CrashLoopBackOff.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use capstan_cluster::kube_api::KubeApi;
use capstan_cluster::verbs::kinds::FluxKind;
use capstan_cluster::verbs::reconcile::{self, Options, REQUESTED_AT};
use capstan_cluster::verbs::status::DriftState;
use capstan_cluster::verbs::suspend::{self, Alignment, Override};
use capstan_cluster::verbs::why::Link;
use capstan_cluster::verbs::{VerbError, now, status, why};
use capstan_cluster::{Cluster, ObjectRef};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

const NS: &str = "capstan-e2e-verbs";

fn crd(k: FluxKind) -> Value {
    let plural = format!("{}s", k.kind().to_ascii_lowercase());
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{}", k.group())},
        "spec": {"group": k.group(), "scope": "Namespaced",
            "names": {"kind": k.kind(), "plural": plural, "singular": k.kind().to_ascii_lowercase(), "listKind": format!("{}List", k.kind())},
            "versions": [{"name": k.version(), "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

/// Writes a Flux object's status through the status subresource, as its controller would.
async fn write_status(cluster: &KubeApi, k: FluxKind, name: &str, status: Value) {
    let gvk = GroupVersionKind::gvk(k.group(), k.version(), k.kind());
    let plural = format!("{}s", k.kind().to_ascii_lowercase());
    let ar = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client().clone(), NS, &ar);
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .expect("status written");
}

fn ready_status(ready: bool, reason: &str, message: &str) -> Value {
    json!({"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": reason,
        "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_verbs_on_a_real_cluster() {
    let Some(kubeconfig) = std::env::var_os("CAPSTAN_E2E_KUBECONFIG").map(PathBuf::from) else {
        eprintln!(
            "skipped: set CAPSTAN_E2E_KUBECONFIG to a disposable cluster's kubeconfig to run the e2e suite"
        );
        return;
    };
    let cluster = Arc::new(
        KubeApi::connect(Some(&kubeconfig), None)
            .await
            .expect("connects"),
    );
    cluster
        .apply(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
            false,
        )
        .await
        .expect("namespace");
    for k in FluxKind::ALL {
        cluster.apply(&crd(k), false).await.expect("crd");
    }
    for _ in 0..120 {
        let mut all = true;
        for k in FluxKind::ALL {
            let name = format!("{}s.{}", k.kind().to_ascii_lowercase(), k.group());
            let r = ObjectRef {
                group: "apiextensions.k8s.io".into(),
                version: "v1".into(),
                kind: "CustomResourceDefinition".into(),
                namespace: String::new(),
                name,
            };
            let established = cluster.get(&r).await.ok().flatten().is_some_and(|c| {
                c.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    })
            });
            all &= established;
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cluster.refresh().await.expect("discovery");
    cluster.apply(&json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "fleet", "namespace": NS}, "spec": {"url": "https://github.com/example/fleet", "interval": "1m"}}), false).await.expect("git");
    for name in ["apps", "broken"] {
        cluster.apply(&json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true, "sourceRef": {"kind": "GitRepository", "name": "fleet"}}}), false).await.expect("ks");
    }
    write_status(
        &cluster,
        FluxKind::GitRepository,
        "fleet",
        ready_status(true, "Succeeded", "stored artifact"),
    )
    .await;

    // The stand-in: handles request tokens on `apps` (success) and `broken` (failure).
    let standin = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                for (name, ok) in [("apps", true), ("broken", false)] {
                    let Ok(Some(o)) = cluster.get(&FluxKind::Kustomization.object(NS, name)).await
                    else {
                        continue;
                    };
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
                    let Some(token) = token.filter(|t| Some(*t) != handled && !suspended) else {
                        continue;
                    };
                    let generation = o
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    let (reason, message) = if ok {
                        ("ReconciliationSucceeded", "Applied revision: main@sha1:1")
                    } else {
                        ("BuildFailed", "kustomization path not found")
                    };
                    write_status(
                        &cluster,
                        FluxKind::Kustomization,
                        name,
                        reconcile::handled_status(token, generation, ok, reason, message),
                    )
                    .await;
                }
            }
        })
    };
    let options = Options {
        timeout: Duration::from_secs(60),
        poll: Duration::from_millis(500),
        ..Options::default()
    };

    let done = reconcile::reconcile(
        cluster.as_ref(),
        FluxKind::Kustomization,
        NS,
        "apps",
        &options,
        &now,
    )
    .await
    .expect("reconciles");
    assert!(done.row.is_ready());
    assert!(matches!(
        reconcile::reconcile(
            cluster.as_ref(),
            FluxKind::Kustomization,
            NS,
            "broken",
            &options,
            &now
        )
        .await,
        Err(VerbError::Failed { .. })
    ));
    let d = why::why(cluster.as_ref(), FluxKind::Kustomization, NS, "broken")
        .await
        .expect("walks");
    assert_eq!(d.stuck.expect("stuck").link, Link::Build);

    let who = Override {
        by: "e2e".into(),
        reason: Some("e2e override".into()),
    };
    suspend::suspend(
        cluster.as_ref(),
        FluxKind::Kustomization,
        NS,
        "apps",
        &who,
        &now(),
    )
    .await
    .expect("suspends");
    let s = status::status(
        cluster.as_ref(),
        DriftState::NotChecked { why: "e2e".into() },
    )
    .await;
    assert!(
        s.suspended
            .iter()
            .any(|x| x.row.name == "apps" && x.over.is_some())
    );
    suspend::resume(
        cluster.as_ref(),
        FluxKind::Kustomization,
        NS,
        "apps",
        &suspend::Resumption {
            by: "e2e".into(),
            alignment: Alignment::Forced,
        },
        &options,
        &now,
    )
    .await
    .expect("resumes");

    // A failing source.
    write_status(
        &cluster,
        FluxKind::GitRepository,
        "fleet",
        ready_status(false, "GitOperationFailed", "authentication required"),
    )
    .await;
    let d = why::why(cluster.as_ref(), FluxKind::Kustomization, NS, "apps")
        .await
        .expect("walks");
    assert_eq!(d.stuck.expect("stuck").link, Link::Source);
    standin.abort();

    // A health check timing out on a crash-looping pod: a Deployment whose container exits.
    crash_loop(cluster.as_ref()).await;

    // Clean up what the test made.
    let _ = cluster
        .delete(&ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            namespace: String::new(),
            name: NS.into(),
        })
        .await;
}

/// `why` on a Kustomization whose Deployment crash-loops names the pod, the container and the
/// crash loop, and points at the container's previous log with kubectl (an application's pod is
/// not a Flux controller: `capstan logs` would not show it).
async fn crash_loop(cluster: &KubeApi) {
    cluster
        .apply(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "crasher", "namespace": NS},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "crasher"}},
                    "template": {"metadata": {"labels": {"app": "crasher"}},
                        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "main",
                            "image": "busybox:1.36", "command": ["sh", "-c", "exit 1"]}]}}}}),
            false,
        )
        .await
        .expect("deployment");
    cluster.apply(&json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "crashing", "namespace": NS},
        "spec": {"interval": "10m", "path": "./crashing", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "fleet"}}}), false)
        .await
        .expect("ks");
    write_status(
        cluster,
        FluxKind::GitRepository,
        "fleet",
        ready_status(true, "Succeeded", "stored artifact"),
    )
    .await;
    let mut status = ready_status(
        false,
        "HealthCheckFailed",
        "timeout waiting for: [Deployment/capstan-e2e-verbs/crasher status: 'InProgress']",
    );
    status["inventory"] =
        json!({"entries": [{"id": format!("{NS}_crasher_apps_Deployment"), "v": "v1"}]});
    write_status(cluster, FluxKind::Kustomization, "crashing", status).await;
    // Pulling busybox, the first exit and the first back-off take a while on a fresh cluster.
    let mut last = None;
    for _ in 0..90 {
        let d = why::why(cluster, FluxKind::Kustomization, NS, "crashing")
            .await
            .expect("walks");
        if let Some(stuck) = d.stuck.as_ref()
            && stuck.link == Link::Health
            && stuck.message.contains("CrashLoopBackOff")
        {
            assert!(
                stuck.message.contains("container main"),
                "{}",
                stuck.message
            );
            assert!(
                stuck
                    .next
                    .iter()
                    .any(|c| c.starts_with("kubectl logs crasher-")
                        && c.ends_with("-c main --previous")),
                "{:?}",
                stuck.next
            );
            assert!(
                !stuck.next.iter().any(|c| c.starts_with("capstan logs")),
                "{:?}",
                stuck.next
            );
            return;
        }
        last = d.stuck;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    panic!("why never named the crash loop; last: {last:?}");
}
