//! Watches: a stream of `{"type":..., "object":...}` lines from a resourceVersion — the history
//! after it (410 Gone, as an ERROR event, when it is older than the history kept), or synthetic
//! ADDED events for the current state when none is given (or with `sendInitialEvents`, ending in
//! a BOOKMARK annotated `k8s.io/initial-events-end`) — then live events, periodic BOOKMARKs when
//! asked for, and an end at `timeoutSeconds`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::meta::{self, FieldSelector, LabelSelector};
use crate::registry::ResourceType;
use crate::status::ApiError;
use crate::store::{Store, WatchEvent, present};

/// What a watch asks for.
#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub resource_version: Option<String>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
    /// End the stream after this many events (fault injection).
    pub drop_after: Option<u32>,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

fn matches(rt: &ResourceType, p: &WatchParams, ev: &WatchEvent) -> bool {
    ev.group == rt.group
        && ev.plural == rt.plural
        && p.namespace
            .as_deref()
            .is_none_or(|ns| !rt.namespaced || ev.namespace == ns)
        && p.labels.matches(&meta::labels(&ev.object))
        && p.fields.matches(&ev.object)
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Value {
    let mut md = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": md})
}

/// Starts a watch: returns the receiving end of its lines. Takes the store lock only briefly.
pub fn start(
    store: &std::sync::Mutex<Store>,
    rt: Arc<ResourceType>,
    p: WatchParams,
    bookmark_every: Duration,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut first: Vec<Bytes> = Vec::new();
    let (live, start_rv) = {
        let s = store.lock().unwrap_or_else(|e| e.into_inner());
        let from = p
            .resource_version
            .as_deref()
            .filter(|v| !v.is_empty() && *v != "0");
        let from =
            match from {
                Some(v) => Some(v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {v:?}"))
                })?),
                None => None,
            };
        match from {
            Some(n) if !p.send_initial_events => {
                if n < s.history_floor {
                    let status = ApiError::gone(format!(
                        "too old resource version: {n} ({})",
                        s.history_floor
                    ))
                    .body();
                    first.push(line("ERROR", &status));
                    drop(s);
                    tokio::spawn(async move {
                        for l in first {
                            let _ = tx.send(l).await;
                        }
                    });
                    return Ok(rx);
                }
                for ev in s.history.iter().filter(|e| e.rv > n) {
                    if matches(&rt, &p, ev) {
                        first.push(line(ev.kind.as_str(), &present(&rt, &ev.object)));
                    }
                }
            }
            _ => {
                for o in s.list(&rt, p.namespace.as_deref(), &p.labels, &p.fields) {
                    first.push(line("ADDED", &o));
                }
                if p.send_initial_events {
                    first.push(line("BOOKMARK", &bookmark(&rt, s.rv, true)));
                }
            }
        }
        (s.tx.subscribe(), s.rv)
    };
    tokio::spawn(run(rt, p, first, live, start_rv, tx, bookmark_every));
    Ok(rx)
}

async fn run(
    rt: Arc<ResourceType>,
    p: WatchParams,
    first: Vec<Bytes>,
    mut live: broadcast::Receiver<Arc<WatchEvent>>,
    start_rv: u64,
    tx: mpsc::Sender<Bytes>,
    bookmark_every: Duration,
) {
    let mut sent = 0u32;
    let limit = p.drop_after;
    for l in first {
        if limit.is_some_and(|n| sent >= n) {
            return;
        }
        if tx.send(l).await.is_err() {
            return;
        }
        sent += 1;
    }
    let deadline = p.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut last_rv = start_rv;
    let mut ticker = tokio::time::interval(bookmark_every);
    ticker.tick().await;
    loop {
        if limit.is_some_and(|n| sent >= n) {
            return;
        }
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            ev = live.recv() => match ev {
                Ok(ev) => {
                    last_rv = last_rv.max(ev.rv);
                    if ev.rv <= start_rv || !matches(&rt, &p, &ev) {
                        continue;
                    }
                    if tx.send(line(ev.kind.as_str(), &present(&rt, &ev.object))).await.is_err() {
                        return;
                    }
                    sent += 1;
                }
                // Fell behind or the server stopped: end the stream, the client re-watches.
                Err(_) => return,
            },
            _ = ticker.tick(), if p.bookmarks => {
                if tx.send(line("BOOKMARK", &bookmark(&rt, last_rv, false))).await.is_err() {
                    return;
                }
            }
            _ = tx.closed() => return,
            _ = sleep => return,
        }
    }
}
