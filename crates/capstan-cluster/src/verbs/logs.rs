//! `capstan logs`: the Flux controllers' own log lines about one object, as `flux logs` reads
//! them. The controllers are the Deployments labelled `app.kubernetes.io/part-of=flux` in the
//! Flux namespace; of each, one pod is read (running and ready first, then the newest), its
//! `manager` container when it has several. Controller log lines are JSON objects: `ts`,
//! `level` (`debug`, `info`, `error`), `msg`, `error`, and for reconcile lines the object's
//! `controllerKind` (`reconciler kind` in older controllers), `name` and `namespace`. Lines that
//! are not JSON objects are counted, not shown. Filtering by kind, name, namespace and level
//! happens here; `tailLines`, `sinceSeconds` and `sinceTime` go to the API server, so `--tail`
//! counts each controller's lines before filtering, as with flux.

use std::future::Future;

use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;

use crate::cluster::{Cluster, ClusterError};

/// The label Flux's install manifests put on each controller Deployment.
pub const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "flux");
/// The controller's container in a pod that has several.
pub const MANAGER: &str = "manager";
/// The log levels Flux's controllers write.
pub const LEVELS: [&str; 3] = ["debug", "info", "error"];

/// What a log request asks the API server for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    /// The last lines of each log (before any filtering).
    pub tail_lines: Option<i64>,
    pub since_seconds: Option<i64>,
    pub since_time: Option<k8s_openapi::jiff::Timestamp>,
}

/// A log stream, line by line.
pub type Lines = BoxStream<'static, Result<String, ClusterError>>;

/// Reading a pod's log (the `pods/log` subresource).
pub trait PodLogs: Send + Sync {
    fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> impl Future<Output = Result<Lines, ClusterError>> + Send;
}

/// Why the logs could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error(
        "no Flux controllers in namespace {namespace} (no Deployment labelled {}={}); name Flux's namespace with --flux-namespace",
        PART_OF.0,
        PART_OF.1
    )]
    NoControllers { namespace: String },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// One controller and the pod its log is read from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Controller {
    /// The Deployment's name (`kustomize-controller`).
    pub name: String,
    /// `None` when the Deployment has no pod.
    pub pod: Option<String>,
    /// Set when the pod has several containers.
    pub container: Option<String>,
}

/// The Flux controllers in `namespace`, by Deployment name.
pub async fn controllers(
    cluster: &impl Cluster,
    namespace: &str,
) -> Result<Vec<Controller>, LogsError> {
    let in_ns =
        |o: &&Value| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(namespace);
    let deployments: Vec<Value> = cluster
        .list("apps", "v1", "Deployment")
        .await?
        .into_iter()
        .filter(|d| in_ns(&d))
        .filter(|d| {
            d.pointer("/metadata/labels")
                .and_then(|l| l.get(PART_OF.0))
                .and_then(Value::as_str)
                == Some(PART_OF.1)
        })
        .collect();
    if deployments.is_empty() {
        return Err(LogsError::NoControllers {
            namespace: namespace.into(),
        });
    }
    let pods: Vec<Value> = cluster
        .list("", "v1", "Pod")
        .await?
        .into_iter()
        .filter(|p| in_ns(&p))
        .collect();
    let mut out: Vec<Controller> = deployments
        .iter()
        .map(|d| {
            let template = d
                .pointer("/spec/template/metadata/labels")
                .and_then(Value::as_object);
            let mut matching: Vec<&Value> = pods
                .iter()
                .filter(|p| {
                    template.is_some_and(|t| {
                        !t.is_empty()
                            && t.iter().all(|(k, v)| {
                                p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v)
                            })
                    })
                })
                .collect();
            matching.sort_by_key(|p| std::cmp::Reverse(pod_rank(p)));
            let pod = matching.first();
            let containers = pod
                .and_then(|p| p.pointer("/spec/containers"))
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            Controller {
                name: str_at(d, "/metadata/name"),
                pod: pod.map(|p| str_at(p, "/metadata/name")),
                container: (containers > 1).then(|| MANAGER.to_owned()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Which pod's log to prefer: not deleting, Running, Ready, then the newest.
fn pod_rank(pod: &Value) -> (bool, bool, bool, String) {
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
    (
        pod.pointer("/metadata/deletionTimestamp").is_none(),
        pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running"),
        ready,
        str_at(pod, "/metadata/creationTimestamp"),
    )
}

fn str_at(v: &Value, p: &str) -> String {
    v.pointer(p)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// One controller log line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The controller that wrote it.
    pub controller: String,
    pub ts: String,
    pub level: String,
    /// The reconciled object's Kind, empty for lines about no object.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub msg: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl Entry {
    /// A controller log line; `None` for a line that is not a JSON object.
    pub fn parse(controller: &str, line: &str) -> Option<Entry> {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        let v: Value = serde_json::from_str(line).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let ts = match v.get("ts") {
            Some(Value::String(t)) => t.clone(),
            // controller-runtime's default encoder writes seconds since the epoch.
            Some(Value::Number(n)) => n
                .as_f64()
                .and_then(|f| {
                    k8s_openapi::jiff::Timestamp::from_millisecond((f * 1000.0) as i64).ok()
                })
                .map(|t| t.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let kind = [s("controllerKind"), s("reconciler kind")]
            .into_iter()
            .find(|k| !k.is_empty())
            .unwrap_or_default();
        Some(Entry {
            controller: controller.into(),
            ts,
            level: s("level"),
            kind,
            namespace: s("namespace"),
            name: s("name"),
            msg: s("msg"),
            error: s("error"),
        })
    }

    /// `Kind/namespace/name`, or `-` for a line about no object.
    pub fn object(&self) -> String {
        if self.kind.is_empty() && self.name.is_empty() {
            "-".into()
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Which lines to show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// `Kind` as the controllers write it (compared without case).
    pub kind: Option<String>,
    pub name: Option<String>,
    /// `None`: every namespace (lines about no object included).
    pub namespace: Option<String>,
    pub level: Option<String>,
}

impl Filter {
    pub fn matches(&self, e: &Entry) -> bool {
        let same = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(have))
        };
        same(&self.level, &e.level)
            && same(&self.kind, &e.kind)
            && same(&self.name, &e.name)
            && self.namespace.as_deref().is_none_or(|n| n == e.namespace)
    }
}

/// A controller whose log could not be read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unread {
    pub controller: String,
    pub why: String,
}

/// What was read, without `--follow`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Collected {
    /// The matching lines of every controller, in time order.
    pub entries: Vec<Entry>,
    /// Lines read, matching or not.
    pub lines: usize,
    /// Lines that were not controller JSON.
    pub not_json: usize,
    pub unread: Vec<Unread>,
}

fn options_for(c: &Controller, options: &LogOptions) -> LogOptions {
    LogOptions {
        container: c.container.clone().or_else(|| options.container.clone()),
        ..options.clone()
    }
}

fn no_pod(c: &Controller) -> Unread {
    Unread {
        controller: c.name.clone(),
        why: "the Deployment has no pod".into(),
    }
}

/// Reads every controller's log to its end and keeps the lines the filter matches.
pub async fn collect(
    api: &impl PodLogs,
    namespace: &str,
    controllers: &[Controller],
    options: &LogOptions,
    filter: &Filter,
) -> Collected {
    let mut out = Collected {
        entries: Vec::new(),
        lines: 0,
        not_json: 0,
        unread: Vec::new(),
    };
    let options = LogOptions {
        follow: false,
        ..options.clone()
    };
    for c in controllers {
        let Some(pod) = &c.pod else {
            out.unread.push(no_pod(c));
            continue;
        };
        let mut lines = match api.pod_log(namespace, pod, &options_for(c, &options)).await {
            Ok(lines) => lines,
            Err(e) => {
                out.unread.push(Unread {
                    controller: c.name.clone(),
                    why: e.message,
                });
                continue;
            }
        };
        while let Some(line) = lines.next().await {
            match line {
                Ok(line) => {
                    out.lines += 1;
                    match Entry::parse(&c.name, &line) {
                        Some(e) if filter.matches(&e) => out.entries.push(e),
                        Some(_) => {}
                        None => out.not_json += 1,
                    }
                }
                Err(e) => {
                    out.unread.push(Unread {
                        controller: c.name.clone(),
                        why: e.message,
                    });
                    break;
                }
            }
        }
    }
    out.entries.sort_by(|a, b| a.ts.cmp(&b.ts));
    out
}

/// Streams every controller's log at once, calling `sink` with each matching line as it
/// arrives until every stream ends (the pods went away) or `sink` returns false. Returns the
/// controllers that could not be read.
pub async fn follow(
    api: &impl PodLogs,
    namespace: &str,
    controllers: &[Controller],
    options: &LogOptions,
    filter: &Filter,
    mut sink: impl FnMut(&Entry) -> bool,
) -> Vec<Unread> {
    let mut unread = Vec::new();
    let options = LogOptions {
        follow: true,
        ..options.clone()
    };
    let mut streams = Vec::new();
    for c in controllers {
        let Some(pod) = &c.pod else {
            unread.push(no_pod(c));
            continue;
        };
        match api.pod_log(namespace, pod, &options_for(c, &options)).await {
            Ok(lines) => {
                let name = c.name.clone();
                streams.push(lines.map(move |l| (name.clone(), l)).boxed());
            }
            Err(e) => unread.push(Unread {
                controller: c.name.clone(),
                why: e.message,
            }),
        }
    }
    let mut all = futures::stream::select_all(streams);
    while let Some((controller, line)) = all.next().await {
        match line {
            Ok(line) => {
                if let Some(e) = Entry::parse(&controller, &line).filter(|e| filter.matches(e))
                    && !sink(&e)
                {
                    break;
                }
            }
            Err(e) => unread.push(Unread {
                controller,
                why: e.message,
            }),
        }
    }
    unread
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_controller_lines_old_and_new() {
        let line = r#"{"level":"error","ts":"2026-12-04T18:00:00.000Z","msg":"Reconciliation failed after 1s","controller":"kustomization","controllerGroup":"kustomize.toolkit.fluxcd.io","controllerKind":"Kustomization","Kustomization":{"name":"apps","namespace":"flux-system"},"namespace":"flux-system","name":"apps","reconcileID":"x","error":"kustomize build failed"}"#;
        let e = Entry::parse("kustomize-controller", line).expect("parses");
        assert_eq!(
            (e.kind.as_str(), e.name.as_str(), e.level.as_str()),
            ("Kustomization", "apps", "error")
        );
        assert_eq!(e.object(), "Kustomization/flux-system/apps");
        assert_eq!(e.error, "kustomize build failed");
        let old = r#"{"level":"info","ts":"t","msg":"m","reconciler kind":"HelmRelease","name":"web","namespace":"apps"}"#;
        assert_eq!(
            Entry::parse("helm-controller", old).expect("parses").kind,
            "HelmRelease"
        );
        assert_eq!(Entry::parse("x", "I1204 klog text"), None);
        let epoch = r#"{"level":"info","ts":1764871200.5,"msg":"starting manager"}"#;
        let e = Entry::parse("x", epoch).expect("parses");
        assert!(e.ts.starts_with("2025-12-04T18:00:00.5"), "{}", e.ts);
        assert_eq!(e.object(), "-");
    }

    #[test]
    fn filters_by_object_namespace_and_level() {
        let e = Entry::parse(
            "kc",
            r#"{"level":"info","ts":"t","msg":"m","controllerKind":"Kustomization","name":"apps","namespace":"flux-system"}"#,
        )
        .expect("parses");
        let f = Filter {
            kind: Some("kustomization".into()),
            name: Some("apps".into()),
            namespace: Some("flux-system".into()),
            level: None,
        };
        assert!(f.matches(&e));
        assert!(
            !Filter {
                level: Some("error".into()),
                ..f.clone()
            }
            .matches(&e)
        );
        assert!(
            !Filter {
                namespace: Some("default".into()),
                ..f.clone()
            }
            .matches(&e)
        );
        assert!(
            Filter {
                namespace: None,
                name: None,
                ..f
            }
            .matches(&e)
        );
    }
}
