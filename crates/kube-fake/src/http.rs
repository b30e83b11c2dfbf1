//! The HTTPS front: TLS with the generated certificate, HTTP/1.1 and HTTP/2, bearer-token auth,
//! request counting and fault injection, then routing — discovery, the side door, and the REST
//! paths (`/api/v1/...`, `/apis/<group>/<version>/...`, namespaced or not, with subresources) to
//! the store's reads and writes, answering errors as Kubernetes `Status` objects.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::delete::DeleteOpts;
use crate::discovery;
use crate::meta::{FieldSelector, LabelSelector};
use crate::registry::ResourceType;
use crate::sidedoor::{self, FaultAction, SideDoor};
use crate::status::{self, ApiError};
use crate::store::Store;
use crate::watch::{self, WatchParams};
use crate::write::{PatchType, WriteCtx};

pub type Body = BoxBody<Bytes, Infallible>;

/// What every connection shares.
pub struct Shared {
    pub store: Arc<Mutex<Store>>,
    pub token: String,
    pub addr: SocketAddr,
    pub bookmark_every: Duration,
    /// Print each request (method, URI, content type, user agent, start of the body) to stderr.
    pub log_requests: bool,
}

/// Accepts connections until the task is dropped.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, shared: Arc<Shared>) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn full(code: StatusCode, content_type: &str, body: Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *r.status_mut() = code;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn json_ok(code: u16, body: Value) -> Response<Body> {
    full(
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        "application/json",
        body,
    )
}

fn error(e: &ApiError) -> Response<Body> {
    json_ok(e.code, e.body())
}

/// Percent-decodes a query component (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(uri: &http::Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn truthy(q: &BTreeMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "1" || v == "true")
}

/// A parsed REST path.
#[derive(Debug)]
struct Target {
    rt: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let authorized = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == shared.token);
    let path = parts.uri.path().to_string();
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return full(StatusCode::OK, "text/plain", json!("ok"));
    }
    if !authorized {
        return error(&ApiError::new(401, "Unauthorized", "Unauthorized"));
    }
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error(&ApiError::bad_request(format!(
                "reading the request body: {e}"
            )));
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let q = query(&parts.uri);
    if shared.log_requests {
        eprintln!(
            "{} {} ct={content_type} accept={accept} ua={user_agent} body={}",
            parts.method,
            parts.uri,
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        );
    }

    if let Some(rest) = path.strip_prefix(sidedoor::PREFIX) {
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => return error(&ApiError::bad_request(format!("side door: {e}"))),
            }
        };
        let door = SideDoor {
            store: shared.store.clone(),
        };
        return match sidedoor::serve(&door, parts.method.as_str(), rest, &body) {
            Ok(v) => json_ok(200, v),
            Err(e) => error(&e),
        };
    }

    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    // Discovery.
    let discovery_doc = {
        let s = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        let reg = &s.registry;
        let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
        match (parts.method.clone(), seg.as_slice()) {
            (Method::GET, ["version"]) => Some(Ok(discovery::version())),
            (Method::GET, ["api"]) if discovery::wants_aggregated(&accept) => {
                return full(
                    StatusCode::OK,
                    discovery::AGGREGATED_CONTENT_TYPE,
                    discovery::aggregated(reg, true),
                );
            }
            (Method::GET, ["apis"]) if discovery::wants_aggregated(&accept) => {
                return full(
                    StatusCode::OK,
                    discovery::AGGREGATED_CONTENT_TYPE,
                    discovery::aggregated(reg, false),
                );
            }
            (Method::GET, ["api"]) => Some(Ok(discovery::core_versions(&shared.addr.to_string()))),
            (Method::GET, ["apis"]) => Some(Ok(discovery::group_list(reg))),
            (Method::GET, ["api", v]) => {
                Some(discovery::resource_list(reg, "", v).ok_or_else(not_found_path))
            }
            (Method::GET, ["apis", g]) => Some(discovery::group(reg, g).ok_or_else(not_found_path)),
            (Method::GET, ["apis", g, v]) => {
                Some(discovery::resource_list(reg, g, v).ok_or_else(not_found_path))
            }
            (Method::GET, ["openapi", "v3"]) => Some(Ok(discovery::openapi_v3_index(reg))),
            (Method::GET, ["openapi", "v3", "api", v]) => {
                Some(discovery::openapi_v3_doc(reg, "", v).ok_or_else(not_found_path))
            }
            (Method::GET, ["openapi", "v3", "apis", g, v]) => {
                Some(discovery::openapi_v3_doc(reg, g, v).ok_or_else(not_found_path))
            }
            (_, ["openapi", ..]) => Some(Err(not_found_path())),
            _ => None,
        }
    };
    if let Some(doc) = discovery_doc {
        let mut s = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        s.side.count("discovery", "", false);
        return match doc {
            Ok(v) => json_ok(200, v),
            Err(e) => error(&e),
        };
    }

    let target = {
        let s = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        parse_target(&s, &segs)
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    let watching = parts.method == Method::GET && truthy(&q, "watch");
    let patch_type = PatchType::from_content_type(&content_type);
    let verb = match (&parts.method, &target.name) {
        (&Method::GET, Some(_)) => "get",
        (&Method::GET, None) if watching => "watch",
        (&Method::GET, None) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) if patch_type == Some(PatchType::Apply) => "apply",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, Some(_)) => "delete",
        (&Method::DELETE, None) => "deletecollection",
        _ => "other",
    };
    let fault = {
        let mut s = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        s.side.count(verb, &target.rt.qualified(), dry_run);
        s.side.take_fault(verb, &path)
    };
    let mut drop_after = None;
    match fault {
        Some(FaultAction::Error { code, message }) => {
            let reason = match code {
                500 => "InternalError",
                503 => "ServiceUnavailable",
                429 => "TooManyRequests",
                504 => "Timeout",
                409 => "Conflict",
                404 => "NotFound",
                403 => "Forbidden",
                _ => "Unknown",
            };
            let msg = if message.is_empty() {
                "injected fault".to_string()
            } else {
                message
            };
            return error(&ApiError::new(code, reason, msg));
        }
        Some(FaultAction::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await
        }
        Some(FaultAction::Conflict) => {
            return error(&ApiError::stale(
                &target.rt.plural,
                &target.rt.group,
                target.name.as_deref().unwrap_or(""),
            ));
        }
        Some(FaultAction::DropWatch { after }) => drop_after = Some(after),
        None => {}
    }

    let field_manager = q
        .get("fieldManager")
        .cloned()
        .unwrap_or_else(|| user_agent.split('/').next().unwrap_or("").to_string());
    let ctx = WriteCtx {
        namespace: target.namespace.clone().unwrap_or_default(),
        name: target.name.clone().unwrap_or_default(),
        subresource: target.subresource.clone().unwrap_or_default(),
        dry_run,
        field_manager,
        force: truthy(&q, "force"),
        strict: q.get("fieldValidation").is_some_and(|v| v == "Strict"),
    };
    let labels =
        match LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or("")) {
            Ok(l) => l,
            Err(e) => return error(&e),
        };
    let fields =
        match FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or("")) {
            Ok(f) => f,
            Err(e) => return error(&e),
        };

    if parts.method == Method::GET && target.subresource.as_deref() == Some("log") {
        return pod_log(
            &shared,
            target.namespace.as_deref().unwrap_or(""),
            target.name.as_deref().unwrap_or(""),
            &q,
        );
    }

    if watching {
        let p = WatchParams {
            namespace: target.namespace.clone(),
            labels,
            fields,
            resource_version: q.get("resourceVersion").cloned(),
            bookmarks: truthy(&q, "allowWatchBookmarks"),
            send_initial_events: truthy(&q, "sendInitialEvents"),
            timeout: q
                .get("timeoutSeconds")
                .and_then(|t| t.parse().ok())
                .map(Duration::from_secs),
            drop_after,
        };
        return match watch::start(&shared.store, target.rt.clone(), p, shared.bookmark_every) {
            Ok(rx) => {
                let stream = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv()
                        .await
                        .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
                });
                let mut r = Response::new(StreamBody::new(stream).boxed());
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/json"),
                );
                r.headers_mut().insert(
                    header::TRANSFER_ENCODING,
                    header::HeaderValue::from_static("chunked"),
                );
                r
            }
            Err(e) => error(&e),
        };
    }

    let parse_body = || -> Result<Value, ApiError> {
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        if content_type.starts_with(crate::proto::CONTENT_TYPE) {
            return crate::proto::decode(&bytes);
        }
        if content_type.contains("yaml") {
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            serde_saphyr::from_str::<Value>(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                // YAML bodies without a YAML content type are still accepted, as the server does.
                match std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|t| serde_saphyr::from_str::<Value>(t).ok())
                {
                    Some(_) => ApiError::bad_request(format!(
                        "couldn't get version/kind; json parse error: {e}"
                    )),
                    None => ApiError::bad_request(format!(
                        "couldn't get version/kind; json parse error: {e}"
                    )),
                }
            })
        }
    };
    let body = match parse_body() {
        Ok(b) => b,
        Err(e) => return error(&e),
    };

    let rt = target.rt.clone();
    let mut s = shared.store.lock().unwrap_or_else(|p| p.into_inner());
    let result: Result<(u16, Value), ApiError> = match (
        parts.method.clone(),
        &target.name,
        target.subresource.as_deref(),
    ) {
        (Method::GET, Some(name), None | Some("status")) => {
            s.get_or_404(&rt, &ctx.namespace, name).map(|v| (200, v))
        }
        (Method::GET, Some(name), Some("scale")) => s
            .get_or_404(&rt, &ctx.namespace, name)
            .map(|v| (200, scale(&v))),
        (Method::GET, None, _) => {
            let items = s.list(&rt, target.namespace.as_deref(), &labels, &fields);
            Ok((200, s.list_object(&rt, items)))
        }
        (Method::POST, None, None) => s.create(&rt, body, &ctx).map(|v| (201, v)),
        (Method::PUT, Some(_), None | Some("status") | Some("finalize")) => {
            s.update(&rt, body, &ctx).map(|v| (200, v))
        }
        (Method::PATCH | Method::PUT, Some(name), Some("scale")) => {
            let name = name.clone();
            s.get_or_404(&rt, &ctx.namespace, &name).and_then(|old| {
                let current = scale(&old);
                let wanted = match (parts.method.clone(), patch_type) {
                    (Method::PUT, _) => Ok(body.clone()),
                    (_, Some(PatchType::Merge)) => Ok(crate::patch::merge_patch(&current, &body)),
                    (_, Some(PatchType::Strategic)) => {
                        Ok(crate::patch::merge_patch(&current, &body))
                    }
                    (_, Some(PatchType::Json)) => crate::patch::json_patch(&current, &body)
                        .map_err(|e| ApiError::new(422, "Invalid", e.0)),
                    _ => Err(ApiError::unsupported_media(&content_type)),
                }?;
                let replicas = wanted
                    .pointer("/spec/replicas")
                    .cloned()
                    .unwrap_or(json!(1));
                let mut new = old.clone();
                new["spec"]["replicas"] = replicas;
                let ctx = WriteCtx {
                    subresource: String::new(),
                    ..ctx.clone()
                };
                s.update(&rt, new, &ctx).map(|v| (200, scale(&v)))
            })
        }
        (Method::PATCH, Some(_), None | Some("status")) => match patch_type {
            None => Err(ApiError::unsupported_media(&content_type)),
            Some(pt) => {
                let existed = s.get(&rt, &ctx.namespace, &ctx.name).is_some();
                s.patch(&rt, pt, &body, &ctx)
                    .map(|v| (if existed { 200 } else { 201 }, v))
            }
        },
        (Method::DELETE, Some(name), None) => {
            let opts = DeleteOpts {
                propagation: q.get("propagationPolicy").cloned(),
                dry_run,
                ..DeleteOpts::default()
            }
            .merge_body(&body);
            s.delete(&rt, &ctx.namespace, name, &opts).map(|v| {
                let pending =
                    crate::meta::is_deleting(&v) && s.get(&rt, &ctx.namespace, name).is_some();
                (if pending { 202 } else { 200 }, v)
            })
        }
        (Method::DELETE, None, None) => {
            let opts = DeleteOpts {
                propagation: q.get("propagationPolicy").cloned(),
                dry_run,
                ..DeleteOpts::default()
            }
            .merge_body(&body);
            s.delete_collection(&rt, target.namespace.as_deref(), &labels, &fields, &opts)
                .map(|v| (200, v))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource".to_string(),
        )),
    };
    drop(s);
    match result {
        Ok((code, v)) => json_ok(code, v),
        Err(e) => error(&e),
    }
}

/// `GET …/pods/{name}/log`: the text at once, or with `follow` a stream that polls for appended
/// lines until the pod is deleted or the client goes away.
fn pod_log(
    shared: &Arc<Shared>,
    namespace: &str,
    pod: &str,
    q: &BTreeMap<String, String>,
) -> Response<Body> {
    let query = match crate::logs::LogQuery::parse(q) {
        Ok(query) => query,
        Err(e) => return error(&e),
    };
    let (text, key, seen) = match crate::logs::read(&shared.store, namespace, pod, &query) {
        Ok(first) => first,
        Err(e) => return error(&e),
    };
    let mut r = if query.follow {
        let store = shared.store.clone();
        let first = futures::stream::once(async move { Ok(Frame::data(Bytes::from(text))) });
        let rest = futures::stream::unfold((store, key, seen), move |(store, key, seen)| {
            let query = query.clone();
            async move {
                let mut seen = seen;
                loop {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let (new, count) = crate::logs::more(&store, &key, seen)?;
                    seen = count;
                    if !new.is_empty() {
                        let text: String = new.iter().map(|l| query.render(l)).collect();
                        return Some((Ok(Frame::data(Bytes::from(text))), (store, key, seen)));
                    }
                }
            }
        });
        Response::new(StreamBody::new(futures::StreamExt::chain(first, rest)).boxed())
    } else {
        Response::new(Full::new(Bytes::from(text)).boxed())
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    r
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
    .with_details(json!({}))
}

fn parse_target(s: &Store, segs: &[String]) -> Result<Target, ApiError> {
    let (group, version, rest) = match segs {
        [api, v, rest @ ..] if api == "api" => ("", v.as_str(), rest),
        [apis, g, v, rest @ ..] if apis == "apis" => (g.as_str(), v.as_str(), rest),
        _ => return Err(not_found_path()),
    };
    let lookup = |plural: &str| s.registry.by_resource(group, version, plural);
    let (rt, namespace, rest) = match rest {
        [ns_word, ns, plural, more @ ..]
            if ns_word == "namespaces" && lookup(plural).is_some_and(|t| t.namespaced) =>
        {
            (
                lookup(plural).ok_or_else(not_found_path)?,
                Some(ns.clone()),
                more,
            )
        }
        [plural, more @ ..] => {
            let rt = lookup(plural).ok_or_else(not_found_path)?;
            (rt, None, more)
        }
        [] => return Err(not_found_path()),
    };
    let (name, subresource) = match rest {
        [] => (None, None),
        [name] => (Some(name.clone()), None),
        [name, sub] => (Some(name.clone()), Some(sub.clone())),
        _ => return Err(not_found_path()),
    };
    if let Some(sub) = &subresource {
        let ok = match sub.as_str() {
            "status" => rt.status,
            "scale" => rt.scale,
            "finalize" => rt.group.is_empty() && rt.kind == "Namespace",
            "log" => rt.group.is_empty() && rt.kind == "Pod",
            _ => false,
        };
        if !ok {
            return Err(not_found_path());
        }
    }
    if rt.namespaced && namespace.is_none() && name.is_some() {
        return Err(not_found_path());
    }
    Ok(Target {
        rt,
        namespace,
        name,
        subresource,
    })
}

fn scale(obj: &Value) -> Value {
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0))},
    })
}

pub(crate) fn _status_success() -> Value {
    status::success(None)
}
