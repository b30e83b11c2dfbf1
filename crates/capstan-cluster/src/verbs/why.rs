//! `capstan why KIND/NAME`: the seeds' troubleshooting workflow ("check GitOps status, check
//! resources, check dependencies, check events") as one walk. For a source it checks that it
//! exists, is not suspended and has fetched (a HelmChart's own source first). For a
//! Kustomization or HelmRelease it checks, in order: that it exists and is not suspended; its source; its dependencies; its
//! own Ready condition (a build or apply failure); the health of what it applied (workloads that
//! are not Current, down to crash-looping or unpullable pods); and Warning events. It names the
//! first link that is stuck, with the commands that show more: the Flux controller's log
//! (`capstan logs`) where a controller failed, `kubectl logs --previous` where an application's
//! container crashed (its pods are not Flux controllers).

use serde_json::Value;

use super::events::{self, EventRow};
use super::get::Row;
use super::kinds::{FluxKind, condition, suspended};
use super::reconcile::source_of;
use super::suspend::open_override;
use super::tree;
use super::{VerbError, fetch};
use crate::cluster::{Cluster, ClusterError};
use crate::id::ObjectRef;
use crate::kstatus::{self, Health};

/// The link of the chain that is stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    Missing,
    Suspended,
    Source,
    Dependency,
    Build,
    Health,
    Events,
}

/// One check made on the way.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// What is stuck, and where to look next.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stuck {
    pub link: Link,
    pub message: String,
    /// Commands that show more (capstan's or kubectl's).
    pub next: Vec<String>,
}

/// The walk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnosis {
    pub steps: Vec<Step>,
    pub stuck: Option<Stuck>,
}

impl Diagnosis {
    fn check(&mut self, check: impl Into<String>, ok: bool, detail: impl Into<String>) {
        self.steps.push(Step {
            check: check.into(),
            ok,
            detail: detail.into(),
        });
    }
}

fn ns_flag(ns: &str) -> String {
    format!("-n {ns}")
}

/// Walks a Kustomization or HelmRelease, or a source (its own source for a HelmChart, then its
/// fetch).
pub async fn why(
    cluster: &impl Cluster,
    kind: FluxKind,
    namespace: &str,
    name: &str,
) -> Result<Diagnosis, VerbError> {
    let mut d = Diagnosis {
        steps: Vec::new(),
        stuck: None,
    };
    let short = kind.short();
    let object = match fetch(cluster, kind, namespace, name).await {
        Ok(o) => o,
        Err(VerbError::NotFound { .. }) => {
            d.check(
                format!("{} {namespace}/{name}", kind.kind()),
                false,
                "not in the cluster",
            );
            d.stuck = Some(Stuck {
                link: Link::Missing,
                message: format!(
                    "{} {namespace}/{name} does not exist in the cluster",
                    kind.kind()
                ),
                next: vec![format!("capstan get {short} -A --live")],
            });
            return Ok(d);
        }
        Err(e) => return Err(e),
    };
    let row = Row::of(kind, &object);
    d.check(
        format!("{} {namespace}/{name}", kind.kind()),
        true,
        format!("Ready={} {}", row.ready, row.reason),
    );

    // 1. Suspended.
    if suspended(&object) {
        let detail = match open_override(&object) {
            Some(o) => format!("suspended by {} at {}: {}", o.by, o.at, o.reason),
            None => "spec.suspend is true".into(),
        };
        d.check("suspend", false, detail.clone());
        d.stuck = Some(Stuck {
            link: Link::Suspended,
            message: format!(
                "{} {namespace}/{name} is suspended ({detail}); nothing is applied until it is resumed",
                kind.kind()
            ),
            next: vec![format!(
                "capstan resume {short} {name} {}",
                ns_flag(namespace)
            )],
        });
        return Ok(d);
    }
    d.check("suspend", true, "not suspended");

    // 2. Source.
    if let Some(src) = source_of(kind, &object) {
        let src_kind = FluxKind::of_kind(&src.kind);
        let label = format!("source {} {}/{}", src.kind, src.namespace, src.name);
        match cluster.get(&src).await? {
            None => {
                d.check(&label, false, "not found");
                d.stuck = Some(Stuck {
                    link: Link::Source,
                    message: format!(
                        "its source {} {}/{} does not exist",
                        src.kind, src.namespace, src.name
                    ),
                    next: vec![format!("capstan get sources -A --live")],
                });
                return Ok(d);
            }
            Some(s) => {
                let ready = condition(&s, "Ready");
                let ok = ready.as_ref().is_some_and(|c| c.status == "True");
                let detail = ready
                    .map(|c| format!("Ready={} {}: {}", c.status, c.reason, c.message))
                    .unwrap_or_else(|| "no Ready condition yet".into());
                d.check(&label, ok, detail.clone());
                if !ok {
                    let short = src_kind.map(FluxKind::short).unwrap_or("source");
                    d.stuck = Some(Stuck {
                        link: Link::Source,
                        message: format!(
                            "its source {} {}/{} is not ready: {detail}",
                            src.kind, src.namespace, src.name
                        ),
                        next: vec![
                            format!(
                                "capstan events {}/{} {}",
                                src.kind,
                                src.name,
                                ns_flag(&src.namespace)
                            ),
                            format!(
                                "capstan reconcile {short} {} {}",
                                src.name,
                                ns_flag(&src.namespace)
                            ),
                            format!(
                                "capstan logs {}/{} {} --level error",
                                src.kind.to_ascii_lowercase(),
                                src.name,
                                ns_flag(&src.namespace)
                            ),
                        ],
                    });
                    return Ok(d);
                }
            }
        }
    }

    // A source stops at its own fetch.
    if !matches!(kind, FluxKind::Kustomization | FluxKind::HelmRelease) {
        let ready = condition(&object, "Ready");
        let detail = ready
            .as_ref()
            .map(|c| format!("Ready={} {}: {}", c.status, c.reason, c.message))
            .unwrap_or_else(|| "no Ready condition yet".into());
        let ok = row.is_ready();
        d.check("fetch", ok, detail.clone());
        if !ok {
            let failed = ready.as_ref().is_some_and(|c| c.status == "False");
            d.stuck = Some(Stuck {
                link: if failed { Link::Source } else { Link::Events },
                message: if failed {
                    format!(
                        "{} {namespace}/{name} cannot produce an artifact: {detail}",
                        kind.kind()
                    )
                } else {
                    format!(
                        "{} {namespace}/{name} has not produced an artifact yet: {detail}",
                        kind.kind()
                    )
                },
                next: vec![
                    format!(
                        "capstan events {}/{name} {}",
                        kind.kind(),
                        ns_flag(namespace)
                    ),
                    format!("capstan reconcile {short} {name} {}", ns_flag(namespace)),
                    format!(
                        "capstan logs {}/{name} {} --level error",
                        kind.kind().to_ascii_lowercase(),
                        ns_flag(namespace)
                    ),
                ],
            });
        }
        return Ok(d);
    }

    // 3. Dependencies.
    for dep in object
        .pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(dep_name) = dep.get("name").and_then(Value::as_str) else {
            continue;
        };
        let dep_ns = dep
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or(namespace);
        let label = format!("dependency {} {dep_ns}/{dep_name}", kind.kind());
        match cluster.get(&kind.object(dep_ns, dep_name)).await? {
            None => {
                d.check(&label, false, "not found");
                d.stuck = Some(Stuck {
                    link: Link::Dependency,
                    message: format!(
                        "it depends on {} {dep_ns}/{dep_name}, which does not exist",
                        kind.kind()
                    ),
                    next: vec![format!("capstan get {short} -A --live")],
                });
                return Ok(d);
            }
            Some(o) => {
                let r = Row::of(kind, &o);
                d.check(
                    &label,
                    r.is_ready(),
                    format!("Ready={} {}", r.ready, r.reason),
                );
                if !r.is_ready() {
                    d.stuck = Some(Stuck {
                        link: Link::Dependency,
                        message: format!(
                            "it waits for {} {dep_ns}/{dep_name}, which is not ready: {} {}",
                            kind.kind(),
                            r.reason,
                            r.message
                        ),
                        next: vec![format!(
                            "capstan why {short} {dep_name} {}",
                            ns_flag(dep_ns)
                        )],
                    });
                    return Ok(d);
                }
            }
        }
    }

    // 4. Its own build (a failure that is not about health or a Helm action stops here).
    let ready = condition(&object, "Ready");
    let reason = ready.as_ref().map(|c| c.reason.clone()).unwrap_or_default();
    const LATER: [&str; 8] = [
        "HealthCheckFailed",
        "Progressing",
        "ProgressingWithRetry",
        "InstallFailed",
        "UpgradeFailed",
        "TestFailed",
        "RollbackFailed",
        "UninstallFailed",
    ];
    if row.ready == "False" && !LATER.contains(&reason.as_str()) {
        d.check("build", false, format!("{reason}: {}", row.message));
        d.stuck = Some(Stuck {
            link: Link::Build,
            message: format!(
                "the controller could not build or apply it: {reason}: {}",
                row.message
            ),
            next: build_next(kind, namespace, name),
        });
        return Ok(d);
    }
    d.check("build", true, "no build failure reported");

    // 5. Health of what it applied.
    let applied = tree::tree(cluster, kind, namespace, name).await?;
    let seen = tree::flatten(&applied);
    let health_checked = !seen.is_empty();
    if seen.is_empty() {
        let why = applied
            .note
            .clone()
            .unwrap_or_else(|| "it applied nothing".into());
        d.check("health", row.is_ready(), format!("not checked: {why}"));
    } else {
        for r in seen {
            if !matches!(
                r.kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet" | "Job"
            ) && FluxKind::of_kind(&r.kind).is_none()
            {
                continue;
            }
            let Some(live) = cluster.get(r).await? else {
                continue;
            };
            let status = kstatus::compute(&live);
            if status.health == Health::Current {
                continue;
            }
            let label = format!("health {} {}/{}", r.kind, r.namespace, r.name);
            d.check(
                &label,
                false,
                format!("{:?}: {}", status.health, status.message),
            );
            let mut next = match FluxKind::of_kind(&r.kind) {
                Some(k @ (FluxKind::Kustomization | FluxKind::HelmRelease)) => {
                    vec![format!(
                        "capstan why {} {} {}",
                        k.short(),
                        r.name,
                        ns_flag(&r.namespace)
                    )]
                }
                _ => vec![format!(
                    "capstan events {}/{} {}",
                    r.kind,
                    r.name,
                    ns_flag(&r.namespace)
                )],
            };
            let mut message = format!(
                "{} {}/{} is {:?}: {}",
                r.kind, r.namespace, r.name, status.health, status.message
            );
            if let Some(pod) = stuck_pod(cluster, r, &live).await? {
                message = format!(
                    "{message}; pod {} container {}: {}",
                    pod.pod, pod.container, pod.reason
                );
                next = vec![
                    format!("capstan events Pod/{} {}", pod.pod, ns_flag(&r.namespace)),
                    format!(
                        "kubectl logs {} -n {} -c {} --previous",
                        pod.pod, r.namespace, pod.container
                    ),
                ];
            }
            d.stuck = Some(Stuck {
                link: Link::Health,
                message,
                next,
            });
            return Ok(d);
        }
        d.check("health", true, "every applied workload is Current");
    }

    // 6. Not Ready with no deeper cause found: the controller's own verdict, and its events.
    if row.is_ready() {
        return Ok(d);
    }
    let warnings: Vec<EventRow> = events::events(
        cluster,
        &events::For {
            namespace: Some(namespace.into()),
            kind: Some(kind.kind().into()),
            name: Some(name.into()),
        },
    )
    .await?
    .into_iter()
    .filter(EventRow::is_warning)
    .collect();
    let verdict = format!("Ready={} {}: {}", row.ready, row.reason, row.message);
    let last = warnings
        .last()
        .map(|e| format!("; last warning: {}: {}", e.reason, e.message))
        .unwrap_or_default();
    let (link, check) = if row.ready == "False" {
        (Link::Build, "apply")
    } else {
        (Link::Events, "progress")
    };
    d.check(check, false, format!("{verdict}{last}"));
    d.stuck = Some(Stuck {
        link,
        message: if row.ready == "False" && health_checked {
            format!(
                "the controller reports a failure and nothing it applied is unhealthy: {verdict}{last}"
            )
        } else if row.ready == "False" {
            format!(
                "the controller reports a failure (what it applied could not be read): {verdict}{last}"
            )
        } else {
            format!("still reconciling, nothing stuck found yet: {verdict}{last}")
        },
        next: build_next(kind, namespace, name),
    });
    Ok(d)
}

fn build_next(kind: FluxKind, namespace: &str, name: &str) -> Vec<String> {
    vec![
        format!(
            "capstan events {}/{name} {}",
            kind.kind(),
            ns_flag(namespace)
        ),
        match kind {
            FluxKind::Kustomization => format!("capstan build ks {name}"),
            _ => format!("capstan build hr {name}"),
        },
        // What the controller logged about it (a build or apply failure is logged at error).
        format!(
            "capstan logs {}/{name} {} --level error",
            kind.short(),
            ns_flag(namespace)
        ),
    ]
}

/// A container that keeps a workload from becoming ready.
#[derive(Debug, Clone)]
pub struct StuckPod {
    pub pod: String,
    pub container: String,
    pub reason: String,
}

/// The first pod of a workload with a container waiting in a failure state (CrashLoopBackOff,
/// ImagePullBackOff, ErrImagePull, CreateContainerConfigError…) or restarting.
async fn stuck_pod(
    cluster: &impl Cluster,
    workload: &ObjectRef,
    live: &Value,
) -> Result<Option<StuckPod>, ClusterError> {
    let Some(selector) = live
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
    else {
        return Ok(None);
    };
    let pods = cluster.list("", "v1", "Pod").await?;
    for pod in pods.iter().filter(|p| {
        p.pointer("/metadata/namespace").and_then(Value::as_str)
            == Some(workload.namespace.as_str())
            && selector
                .iter()
                .all(|(k, v)| p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
    }) {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        for status in pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let container = status.get("name").and_then(Value::as_str).unwrap_or("");
            let restarts = status
                .get("restartCount")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let waiting = status
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str);
            let terminated = status
                .pointer("/lastState/terminated/reason")
                .and_then(Value::as_str);
            if let Some(reason) =
                waiting.filter(|r| *r != "ContainerCreating" && *r != "PodInitializing")
            {
                let mut text = reason.to_owned();
                if restarts > 0 {
                    text.push_str(&format!(" ({restarts} restarts"));
                    if let Some(t) = terminated {
                        text.push_str(&format!(", last exit: {t}"));
                    }
                    text.push(')');
                }
                return Ok(Some(StuckPod {
                    pod: name.into(),
                    container: container.into(),
                    reason: text,
                }));
            }
        }
    }
    Ok(None)
}
