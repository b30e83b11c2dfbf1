//! kube-fake's API behaviours through kube-rs, the client capstan's engine uses: dry runs,
//! generation and the status subresource, apply conflicts and dropped fields, managedFields
//! edits, finalizers, namespace termination, garbage collection, CRD establishment, watches
//! (events, bookmarks, initial events, 410), leases, immutable fields, and the side door.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use kube_fake::{Fault, FaultAction, ObjectRef, Options, Override, Server};
use serde_json::{Value, json};

async fn start(controllers: bool) -> (kube_fake::Handle, Client) {
    let options = Options {
        controllers,
        controller_delay: Duration::from_millis(50),
        bookmark_interval: Duration::from_millis(200),
        ..Options::default()
    };
    let server = Server::start(options).await.expect("server starts");
    let kc = kube::config::Kubeconfig::from_yaml(server.kubeconfig()).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let client = Client::try_from(config).expect("client");
    (server, client)
}

fn status_code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

fn api_error(e: &kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("not an API error: {other}"),
    }
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn deployment(replicas: i32, labels: Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
        }
    }))
    .expect("a Deployment")
}

#[tokio::test]
async fn dry_run_creates_nothing_and_has_no_resource_version() {
    let (_server, client) = start(false).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "a"}, "data": {"k": "v"}})).expect("cm");
    let out = api
        .patch(
            "a",
            &PatchParams::apply("capstan").force().dry_run(),
            &Patch::Apply(&cm),
        )
        .await
        .expect("dry-run apply");
    assert_eq!(out.metadata.resource_version, None);
    assert!(out.metadata.uid.is_some());
    assert_eq!(
        status_code(&api.get("a").await.expect_err("not created")),
        404
    );
}

#[tokio::test]
async fn generation_bumps_only_outside_metadata_and_status() {
    let (_server, client) = start(false).await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let pp = PatchParams::apply("capstan").force();
    let d = api
        .patch("web", &pp, &Patch::Apply(deployment(1, json!({"a": "1"}))))
        .await
        .expect("apply");
    assert_eq!(d.metadata.generation, Some(1));
    let d = api
        .patch("web", &pp, &Patch::Apply(deployment(1, json!({"a": "2"}))))
        .await
        .expect("labels");
    assert_eq!(
        d.metadata.generation,
        Some(1),
        "a label change keeps the generation"
    );
    let d = api
        .patch("web", &pp, &Patch::Apply(deployment(2, json!({"a": "2"}))))
        .await
        .expect("spec");
    assert_eq!(d.metadata.generation, Some(2));
    // Status through the main endpoint is ignored; through /status it is taken.
    let with_status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "status": {"replicas": 7}});
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Merge(&with_status))
        .await
        .expect("merge");
    assert!(d.status.is_none());
    let d = api
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&with_status))
        .await
        .expect("status");
    assert_eq!(d.status.and_then(|s| s.replicas), Some(7));
    assert_eq!(d.metadata.generation, Some(2));
}

#[tokio::test]
async fn apply_conflicts_name_the_other_manager_and_dropped_fields_go() {
    let (_server, client) = start(false).await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    api.patch(
        "web",
        &PatchParams::apply("a"),
        &Patch::Apply(deployment(1, json!({"x": "1", "y": "1"}))),
    )
    .await
    .expect("first apply");
    let err = api
        .patch(
            "web",
            &PatchParams::apply("b"),
            &Patch::Apply(deployment(3, json!({}))),
        )
        .await
        .expect_err("conflict");
    let kube::Error::Api(s) = &err else {
        panic!("{err}")
    };
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        s.message,
        "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
    );
    // Dropping a label removes it; one another manager also applies stays.
    api.patch("web", &PatchParams::apply("b"), &Patch::Apply(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"y": "1"}}
    })))
    .await
    .expect("co-own y");
    let d = api
        .patch(
            "web",
            &PatchParams::apply("a"),
            &Patch::Apply(deployment(1, json!({}))),
        )
        .await
        .expect("drop");
    let labels = d.metadata.labels.unwrap_or_default();
    assert!(
        !labels.contains_key("x"),
        "x had no other owner: {labels:?}"
    );
    assert_eq!(
        labels.get("y").map(String::as_str),
        Some("1"),
        "y is still b's"
    );
    let mut managers: Vec<(String, String)> = d
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    managers.sort();
    assert_eq!(
        managers,
        vec![
            ("a".to_string(), "Apply".to_string()),
            ("b".to_string(), "Apply".to_string())
        ]
    );
}

#[tokio::test]
async fn updates_record_update_managers_and_json_patches_edit_managed_fields() {
    let (_server, client) = start(false).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"k": "v"}})).expect("cm");
    api.create(
        &PostParams {
            field_manager: Some("kubectl-create".into()),
            ..Default::default()
        },
        &cm,
    )
    .await
    .expect("create");
    let c = api
        .patch(
            "c",
            &PatchParams {
                field_manager: Some("editor".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"k2": "v2"}})),
        )
        .await
        .expect("merge patch");
    let mf = c.metadata.managed_fields.clone().unwrap_or_default();
    assert_eq!(mf.len(), 2);
    assert!(mf.iter().all(|m| m.operation.as_deref() == Some("Update")));
    let editor = mf
        .iter()
        .find(|m| m.manager.as_deref() == Some("editor"))
        .expect("editor entry");
    assert_eq!(
        editor.fields_v1.as_ref().map(|f| f.0.clone()),
        Some(json!({"f:data": {"f:k2": {}}}))
    );
    // Rename a manager with a JSON patch, as Flux's cleanup does.
    let idx = mf
        .iter()
        .position(|m| m.manager.as_deref() == Some("editor"))
        .expect("index");
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": format!("/metadata/managedFields/{idx}/manager"), "value": "renamed"}
    ]))
    .expect("patch");
    let c = api
        .patch("c", &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .expect("json patch");
    assert!(
        c.metadata
            .managed_fields
            .unwrap_or_default()
            .iter()
            .any(|m| m.manager.as_deref() == Some("renamed"))
    );
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_removed() {
    let (_server, client) = start(false).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "f", "finalizers": ["example.com/hold"]}}),
    )
    .expect("cm");
    api.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    api.delete("f", &DeleteParams::default())
        .await
        .expect("delete");
    let held = api.get("f").await.expect("still there");
    assert!(held.metadata.deletion_timestamp.is_some());
    let err = api
        .patch(
            "f",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
            ),
        )
        .await
        .expect_err("no new finalizers");
    assert_eq!(api_error(&err).0, 422);
    api.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    assert_eq!(status_code(&api.get("f").await.expect_err("gone")), 404);
}

#[tokio::test]
async fn terminating_and_missing_namespaces_refuse_new_content() {
    let (_server, client) = start(false).await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "gone"}})).expect("ns");
    nss.create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    nss.delete("gone", &DeleteParams::default())
        .await
        .expect("delete ns");
    let n = nss
        .get("gone")
        .await
        .expect("terminating, not gone: no controllers");
    assert_eq!(
        n.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).expect("cm");
    let err = Api::<ConfigMap>::namespaced(client.clone(), "gone")
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("forbidden");
    let (code, reason, message) = api_error(&err);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert!(
        message.contains("because it is being terminated"),
        "{message}"
    );
    let err = Api::<ConfigMap>::namespaced(client, "nowhere")
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("404");
    assert_eq!(api_error(&err).2, "namespaces \"nowhere\" not found");
}

#[tokio::test]
async fn namespace_controller_empties_and_removes_namespaces() {
    let (_server, client) = start(true).await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "tmp"}})).expect("ns");
    nss.create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).expect("cm");
    let cms: Api<ConfigMap> = Api::namespaced(client, "tmp");
    cms.create(&PostParams::default(), &cm).await.expect("cm");
    nss.delete("tmp", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("the namespace to go", || async {
        nss.get_opt("tmp").await.expect("get").is_none()
    })
    .await;
    assert!(cms.get_opt("x").await.expect("get").is_none());
}

fn owned(name: &str, owner: &ConfigMap) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid
    }]}}))
    .expect("cm")
}

#[tokio::test]
async fn garbage_collection_follows_propagation_policies() {
    let (_server, client) = start(true).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for (policy, dependent_survives) in [
        ("Background", false),
        ("Foreground", false),
        ("Orphan", true),
    ] {
        let owner_name = format!("owner-{}", policy.to_lowercase());
        let owner: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": owner_name}})).expect("cm");
        let owner = api
            .create(&PostParams::default(), &owner)
            .await
            .expect("owner");
        let dep_name = format!("dep-{}", policy.to_lowercase());
        api.create(&PostParams::default(), &owned(&dep_name, &owner))
            .await
            .expect("dependent");
        let dp = match policy {
            "Background" => DeleteParams::background(),
            "Foreground" => DeleteParams::foreground(),
            _ => DeleteParams::orphan(),
        };
        api.delete(&owner_name, &dp).await.expect("delete owner");
        eventually("the owner to go", || async {
            api.get_opt(&owner_name).await.expect("get").is_none()
        })
        .await;
        if dependent_survives {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let d = api.get(&dep_name).await.expect("orphaned dependent stays");
            assert!(
                d.metadata.owner_references.unwrap_or_default().is_empty(),
                "{policy}: owner reference removed"
            );
        } else {
            eventually("the dependent to go", || async {
                api.get_opt(&dep_name).await.expect("get").is_none()
            })
            .await;
        }
    }
}

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })
}

#[tokio::test]
async fn custom_kinds_are_served_once_established() {
    let (server, client) = start(false).await;
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    crds.patch(
        "widgets.example.com",
        &PatchParams::apply("capstan"),
        &Patch::Apply(widget_crd()),
    )
    .await
    .expect("crd");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}});
    let err = widgets
        .patch("w", &PatchParams::apply("capstan"), &Patch::Apply(&w))
        .await
        .expect_err("not served yet");
    assert_eq!(status_code(&err), 404);
    // Play the API server's establishing controller by hand.
    server
        .side_door()
        .write_status(
            &ObjectRef::new("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
            json!({"conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}),
        )
        .expect("status");
    widgets
        .patch("w", &PatchParams::apply("capstan"), &Patch::Apply(&w))
        .await
        .expect("served now");
    let discovery = kube::discovery::Discovery::new(client)
        .run()
        .await
        .expect("discovery");
    assert!(discovery.groups().any(|g| g.name() == "example.com"));
}

#[tokio::test]
async fn watches_stream_events_bookmarks_and_expire() {
    let (server, client) = start(false).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let list = api.list(&Default::default()).await.expect("list");
    let rv = list.metadata.resource_version.expect("list rv");
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "w", "labels": {"a": "b"}}}))
            .expect("cm");
    api.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .expect("patch");
    api.delete("w", &DeleteParams::default())
        .await
        .expect("delete");
    let mut kinds = Vec::new();
    let mut bookmarks = 0;
    while kinds.len() < 3 || bookmarks == 0 {
        match tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .expect("event in time")
            .expect("ok")
        {
            Some(WatchEvent::Added(_)) => kinds.push("ADDED"),
            Some(WatchEvent::Modified(_)) => kinds.push("MODIFIED"),
            Some(WatchEvent::Deleted(_)) => kinds.push("DELETED"),
            Some(WatchEvent::Bookmark(_)) => bookmarks += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);

    // Initial events end with an annotated bookmark.
    api.create(&PostParams::default(), &cm)
        .await
        .expect("create again");
    let mut initial = api
        .watch(&WatchParams::streaming_lists(), "")
        .await
        .expect("watch")
        .boxed();
    match initial.try_next().await.expect("ok") {
        Some(WatchEvent::Added(o)) => assert_eq!(o.metadata.name.as_deref(), Some("w")),
        other => panic!("expected ADDED, got {other:?}"),
    }
    match initial.try_next().await.expect("ok") {
        Some(WatchEvent::Bookmark(b)) => {
            assert_eq!(
                b.metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str),
                Some("true")
            )
        }
        other => panic!("expected BOOKMARK, got {other:?}"),
    }

    // An expired resourceVersion is 410 Gone.
    server.side_door().compact();
    let mut old = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    match old.try_next().await.expect("ok") {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn leases_use_optimistic_concurrency() {
    let (_server, client) = start(false).await;
    let api: Api<Lease> = Api::namespaced(client, "default");
    let lease: Lease = serde_json::from_value(
        json!({"metadata": {"name": "capstan-leader"}, "spec": {"holderIdentity": "a"}}),
    )
    .expect("lease");
    let created = api
        .create(&PostParams::default(), &lease)
        .await
        .expect("create");
    let mut mine = created.clone();
    mine.spec.as_mut().expect("spec").holder_identity = Some("b".into());
    api.replace("capstan-leader", &PostParams::default(), &mine)
        .await
        .expect("first replace");
    let mut stale = created;
    stale.spec.as_mut().expect("spec").holder_identity = Some("c".into());
    let err = api
        .replace("capstan-leader", &PostParams::default(), &stale)
        .await
        .expect_err("stale");
    assert_eq!(api_error(&err).0, 409);
}

#[tokio::test]
async fn immutable_fields_are_422() {
    let (_server, client) = start(false).await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    api.patch(
        "web",
        &PatchParams::apply("capstan"),
        &Patch::Apply(deployment(1, json!({}))),
    )
    .await
    .expect("apply");
    let mut d = serde_json::to_value(deployment(1, json!({}))).expect("json");
    d["spec"]["selector"]["matchLabels"]["extra"] = json!("x");
    let err = api
        .patch("web", &PatchParams::apply("capstan"), &Patch::Apply(&d))
        .await
        .expect_err("immutable");
    let (code, reason, message) = api_error(&err);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(message.contains("field is immutable"), "{message}");
}

#[tokio::test]
async fn side_door_counts_injects_faults_and_overrides_controllers() {
    let (server, client) = start(true).await;
    let door = server.side_door();
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    door.set_override(
        &ObjectRef::new("apps/v1", "Deployment", "default", "web"),
        Override {
            never_ready: true,
            ..Default::default()
        },
    );
    door.reset_counters();
    api.patch(
        "web",
        &PatchParams::apply("capstan"),
        &Patch::Apply(deployment(2, json!({}))),
    )
    .await
    .expect("apply");
    api.get("web").await.expect("get");
    let c = door.counters();
    assert_eq!((c.verb("apply"), c.verb("get"), c.writes()), (1, 1, 1));
    eventually("a status", || async {
        api.get("web").await.expect("get").status.is_some()
    })
    .await;
    let s = api.get("web").await.expect("get").status.expect("status");
    assert_eq!(
        (s.replicas, s.ready_replicas),
        (Some(2), None),
        "never ready"
    );

    door.inject(Fault {
        verb: Some("get".into()),
        path: None,
        skip: None,
        count: Some(1),
        action: FaultAction::Error {
            code: 500,
            message: String::new(),
        },
    });
    assert_eq!(
        status_code(&api.get("web").await.expect_err("injected")),
        500
    );
    api.get("web").await.expect("only once");
    // skip: the third matching request fails, the ones around it do not.
    door.inject(Fault {
        verb: Some("get".into()),
        path: None,
        skip: Some(2),
        count: Some(1),
        action: FaultAction::Error {
            code: 500,
            message: String::new(),
        },
    });
    api.get("web").await.expect("first let through");
    api.get("web").await.expect("second let through");
    assert_eq!(
        status_code(&api.get("web").await.expect_err("injected")),
        500
    );
    api.get("web").await.expect("only the third");

    let jobs: Api<Job> = Api::namespaced(client, "default");
    door.set_override(
        &ObjectRef::new("batch/v1", "Job", "default", "j"),
        Override {
            fail: true,
            ..Default::default()
        },
    );
    let job: Job = serde_json::from_value(json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})).expect("job");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("job");
    eventually("the job to fail", || async {
        jobs.get("j")
            .await
            .expect("get")
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Failed" && c.status == "True")
    })
    .await;
}

async fn side(client: &Client, method: &str, path: &str, body: Value) -> Value {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("/__kube-fake{path}"))
        .header("content-type", "application/json")
        .body(if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        })
        .expect("request");
    let text = client.request_text(req).await.expect("side door answers");
    serde_json::from_str(&text).expect("JSON")
}

#[tokio::test]
async fn side_door_over_http_and_dropped_watches() {
    let (_server, client) = start(true).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    side(&client, "POST", "/counters/reset", Value::Null).await;
    api.list(&Default::default()).await.expect("list");
    let counters = side(&client, "GET", "/counters", Value::Null).await;
    assert_eq!(counters["verbs"]["list"], 1);
    assert_eq!(counters["byResource"]["list configmaps"], 1);

    // A fault by verb and path, for two requests.
    side(&client, "POST", "/faults", json!({"verb": "list", "path": "/configmaps", "count": 2, "action": {"type": "error", "code": 500, "message": "try later"}})).await;
    for _ in 0..2 {
        let (code, reason, message) =
            api_error(&api.list(&Default::default()).await.expect_err("fault"));
        assert_eq!(
            (code, reason.as_str(), message.as_str()),
            (500, "InternalError", "try later")
        );
    }
    api.list(&Default::default())
        .await
        .expect("the fault is spent");

    // A Flux object's status, written as its controller would.
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "kustomizations.kustomize.toolkit.fluxcd.io"},
        "spec": {"group": "kustomize.toolkit.fluxcd.io", "scope": "Namespaced",
            "names": {"kind": "Kustomization", "plural": "kustomizations"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    side(&client, "POST", "/objects", crd).await;
    let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "apps", "namespace": "default"}, "spec": {"path": "./apps"}});
    let mut created = Value::Null;
    for _ in 0..100 {
        let req = http::Request::builder()
            .method("POST")
            .uri("/__kube-fake/objects")
            .header("content-type", "application/json")
            .body(ks.to_string().into_bytes())
            .expect("request");
        if let Ok(text) = client.request_text(req).await {
            created = serde_json::from_str(&text).expect("JSON");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        created["metadata"]["generation"], 1,
        "created once the CRD is Established"
    );
    let ready = side(&client, "POST", "/status", json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": "default", "name": "apps",
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}]}
    }))
    .await;
    assert_eq!(
        ready["status"]["conditions"][0]["reason"],
        "ReconciliationSucceeded"
    );

    // A watch dropped after one event ends; the client re-watches from its last resourceVersion.
    side(
        &client,
        "POST",
        "/faults",
        json!({"verb": "watch", "count": 1, "action": {"type": "dropWatch", "after": 1}}),
    )
    .await;
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "d"}})).expect("cm");
    api.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let mut stream = api
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    let mut events = 0;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("ends in time")
    {
        ev.expect("event");
        events += 1;
    }
    assert_eq!(events, 1, "the stream ended after one event");
}

#[tokio::test]
async fn pod_logs_are_served_with_tail_since_previous_and_follow() {
    use futures::AsyncBufReadExt as _;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::LogParams;
    use kube_fake::LogWrite;
    let (server, client) = start(false).await;
    let door = server.side_door();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "web-1"},
        "spec": {"containers": [{"name": "app", "image": "web"}, {"name": "proxy", "image": "envoy"}]}}))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let write = |container: &str, previous: bool, text: &str| LogWrite {
        namespace: "default".into(),
        pod: "web-1".into(),
        container: container.into(),
        previous,
        text: text.into(),
    };
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    door.append_log_at(&write("app", false, "booting"), old);
    door.append_log(&write("app", false, "one\ntwo\nthree"));
    door.append_log(&write("app", true, "panic: the last run"));
    let app = |lp: LogParams| LogParams {
        container: Some("app".into()),
        ..lp
    };

    // Two containers: the API server asks which.
    let e = pods
        .logs("web-1", &LogParams::default())
        .await
        .expect_err("ambiguous");
    let (code, _, message) = api_error(&e);
    assert_eq!(code, 400);
    assert!(message.contains("choose one of: [app proxy]"), "{message}");
    let all = pods
        .logs("web-1", &app(LogParams::default()))
        .await
        .expect("logs");
    assert_eq!(all, "booting\none\ntwo\nthree\n");
    let tail = pods
        .logs(
            "web-1",
            &app(LogParams {
                tail_lines: Some(2),
                ..LogParams::default()
            }),
        )
        .await
        .expect("tail");
    assert_eq!(tail, "two\nthree\n");
    let since = pods
        .logs(
            "web-1",
            &app(LogParams {
                since_seconds: Some(60),
                ..LogParams::default()
            }),
        )
        .await
        .expect("since");
    assert_eq!(since, "one\ntwo\nthree\n");
    let previous = pods
        .logs(
            "web-1",
            &app(LogParams {
                previous: true,
                ..LogParams::default()
            }),
        )
        .await
        .expect("previous");
    assert_eq!(previous, "panic: the last run\n");
    let e = pods
        .logs(
            "web-1",
            &LogParams {
                container: Some("proxy".into()),
                previous: true,
                ..LogParams::default()
            },
        )
        .await
        .expect_err("no previous");
    assert_eq!(status_code(&e), 400);
    let e = pods
        .logs(
            "web-1",
            &LogParams {
                container: Some("db".into()),
                ..LogParams::default()
            },
        )
        .await
        .expect_err("no such container");
    assert!(
        api_error(&e)
            .2
            .contains("container db is not valid for pod web-1")
    );
    let e = pods
        .logs("nope", &LogParams::default())
        .await
        .expect_err("no pod");
    assert_eq!(status_code(&e), 404);
    let stamped = pods
        .logs(
            "web-1",
            &app(LogParams {
                timestamps: true,
                tail_lines: Some(1),
                ..LogParams::default()
            }),
        )
        .await
        .expect("timestamps");
    assert!(
        stamped.ends_with("Z three\n") && stamped.len() > 30,
        "{stamped}"
    );

    // The side door over HTTP writes log lines too.
    side(
        &client,
        "POST",
        "/logs",
        json!({"namespace": "default", "pod": "web-1", "container": "proxy", "text": "listening on :8080"}),
    )
    .await;
    let proxy = pods
        .logs(
            "web-1",
            &LogParams {
                container: Some("proxy".into()),
                ..LogParams::default()
            },
        )
        .await
        .expect("proxy log");
    assert_eq!(proxy, "listening on :8080\n");

    // Follow: what is there, then what is appended, until the pod goes.
    let stream = pods
        .log_stream(
            "web-1",
            &app(LogParams {
                follow: true,
                tail_lines: Some(1),
                ..LogParams::default()
            }),
        )
        .await
        .expect("follow");
    let mut lines = stream.lines();
    assert_eq!(lines.next().await.expect("a line").expect("read"), "three");
    door.append_log(&write("app", false, "four"));
    let next = tokio::time::timeout(Duration::from_secs(5), lines.next())
        .await
        .expect("appended line arrives");
    assert_eq!(next.expect("a line").expect("read"), "four");
    pods.delete("web-1", &DeleteParams::default())
        .await
        .expect("delete");
    let end = tokio::time::timeout(Duration::from_secs(5), lines.next())
        .await
        .expect("the stream ends with the pod");
    assert!(end.is_none());
}
