//! Bad requests get Kubernetes `Status` errors (400, 404, 409, 415, 422) worded as the real server
//! words them, never a panic: the server keeps answering afterwards.

use kube::{Client, Config};
use kube_fake::{Options, Server};

async fn client() -> (kube_fake::Handle, Client) {
    let server = Server::start(Options {
        controllers: false,
        ..Options::default()
    })
    .await
    .expect("server");
    let kc = kube::config::Kubeconfig::from_yaml(server.kubeconfig()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    (server, Client::try_from(config).expect("client"))
}

async fn send(
    client: &Client,
    method: &str,
    uri: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, String) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(body.as_bytes().to_vec())
        .expect("request");
    match client.request_text(req).await {
        Ok(text) => (200, String::new(), text),
        Err(kube::Error::Api(s)) => (s.code, s.reason, s.message),
        Err(other) => panic!("{method} {uri}: not a Status error: {other}"),
    }
}

#[tokio::test]
async fn bad_requests_are_status_errors() {
    let (_server, c) = client().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let json = "application/json";
    let apply = "application/apply-patch+yaml";
    let cases: Vec<(&str, String, &str, &str, u16, &str)> = vec![
        (
            "POST",
            cms.to_string(),
            json,
            "{not json",
            400,
            "BadRequest",
        ),
        ("POST", cms.to_string(), json, "[]", 400, "BadRequest"),
        (
            "POST",
            cms.to_string(),
            json,
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.to_string(),
            json,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#,
            422,
            "Invalid",
        ),
        (
            "POST",
            cms.to_string(),
            json,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#,
            422,
            "Invalid",
        ),
        (
            "PATCH",
            format!("{cms}/a"),
            apply,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            format!("{cms}/a?fieldManager=t"),
            apply,
            "- just\n- a list\n",
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            format!("{cms}/a?fieldManager=t"),
            apply,
            "key: [unclosed",
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            format!("{cms}/a?fieldManager=t"),
            apply,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            format!("{cms}/a?fieldManager=t&force=true"),
            "application/merge-patch+json",
            "{}",
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            format!("{cms}/a?fieldManager=t"),
            "text/plain",
            "{}",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            format!("{cms}/missing"),
            "application/merge-patch+json",
            "{}",
            404,
            "NotFound",
        ),
        (
            "PUT",
            format!("{cms}/missing"),
            json,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}"#,
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/apis/nope.example.com/v1/things".to_string(),
            json,
            "",
            404,
            "NotFound",
        ),
        ("GET", format!("{cms}/x/bogus"), json, "", 404, "NotFound"),
        (
            "GET",
            format!("{cms}?labelSelector=a%20in%20(b"),
            json,
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            format!("{cms}?watch=1&resourceVersion=abc"),
            json,
            "",
            400,
            "BadRequest",
        ),
        (
            "DELETE",
            format!("{cms}/missing"),
            json,
            "",
            404,
            "NotFound",
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/default/deployments/d?fieldManager=t".to_string(),
            apply,
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{image: x}]\n",
            500,
            "InternalError",
        ),
        (
            "PATCH",
            format!("{cms}/mf?fieldManager=t"),
            apply,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mf, managedFields: [{manager: x}]}\n",
            400,
            "BadRequest",
        ),
    ];
    for (method, uri, ct, body, code, reason) in cases {
        let (got_code, got_reason, message) = send(&c, method, &uri, ct, body).await;
        assert_eq!(
            (got_code, got_reason.as_str()),
            (code, reason),
            "{method} {uri} {body:?}: {message}"
        );
        assert!(!message.is_empty(), "{method} {uri}: a message");
    }
    // Still serving.
    let (code, _, _) = send(&c, "GET", cms, json, "").await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn unknown_fields_are_named_or_dropped() {
    let (_server, c) = client().await;
    let uri =
        "/apis/apps/v1/namespaces/default/deployments/d?fieldManager=t&fieldValidation=Strict";
    let body = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicaz: 2\n";
    let (code, reason, message) =
        send(&c, "PATCH", uri, "application/apply-patch+yaml", body).await;
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (
            400,
            "BadRequest",
            ".spec.replicaz: field not declared in schema"
        )
    );
    let cms = "/api/v1/namespaces/default/configmaps";
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"datum":{"a":"b"}}"#;
    let (code, _, message) = send(
        &c,
        "POST",
        &format!("{cms}?fieldValidation=Strict"),
        "application/json",
        cm,
    )
    .await;
    assert_eq!(
        (code, message.as_str()),
        (400, r#"strict decoding error: unknown field "datum""#)
    );
    let (code, _, text) = send(&c, "POST", cms, "application/json", cm).await;
    assert_eq!(code, 200);
    assert!(
        !text.contains("datum"),
        "dropped without strict validation: {text}"
    );
}
