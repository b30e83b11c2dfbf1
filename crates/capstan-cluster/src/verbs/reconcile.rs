//! `capstan reconcile`: Flux's request protocol. The object's `reconcile.fluxcd.io/requestedAt`
//! annotation is set to a fresh token (for a HelmRelease `--force` and `--reset` also set
//! `forceAt` / `resetAt` to the same token); then the object is polled until its controller has
//! handled that token (`status.lastHandledReconcileAt`) and has a settled Ready condition for the
//! current generation. A suspended object is refused, as flux refuses it; `--with-source`
//! reconciles the source first.

use std::time::Duration;

use serde_json::{Value, json};

use super::get::Row;
use super::kinds::{FluxKind, condition, generations, suspended};
use super::{VerbError, annotation_patch, fetch};
use crate::cluster::Cluster;
use crate::id::ObjectRef;

pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
pub const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
pub const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";

/// How to reconcile.
#[derive(Debug, Clone)]
pub struct Options {
    pub with_source: bool,
    /// HelmRelease: force a one-off install or upgrade.
    pub force: bool,
    /// HelmRelease: reset the failure counters.
    pub reset: bool,
    pub timeout: Duration,
    pub poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            with_source: false,
            force: false,
            reset: false,
            timeout: Duration::from_secs(300),
            poll: Duration::from_secs(2),
        }
    }
}

/// What a reconcile saw.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reconciled {
    /// The object as it settled.
    pub row: Row,
    /// The source, when `--with-source` reconciled it first.
    pub source: Option<Row>,
    /// The token written to `requestedAt`.
    pub token: String,
}

/// The source an object reads: a Kustomization's `sourceRef`, a HelmRelease's `chartRef` or the
/// HelmChart helm-controller makes for its `chart.spec` (`<namespace>-<name>`).
pub fn source_of(kind: FluxKind, object: &Value) -> Option<ObjectRef> {
    let ns = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let reference = |r: &Value| -> Option<ObjectRef> {
        let kind = FluxKind::of_kind(r.get("kind")?.as_str()?)?;
        let name = r.get("name")?.as_str()?;
        let namespace = r.get("namespace").and_then(Value::as_str).unwrap_or(ns);
        Some(kind.object(namespace, name))
    };
    match kind {
        FluxKind::Kustomization => reference(object.pointer("/spec/sourceRef")?),
        FluxKind::HelmRelease => {
            if let Some(r) = object.pointer("/spec/chartRef") {
                return reference(r);
            }
            let source_ns = object
                .pointer("/spec/chart/spec/sourceRef/namespace")
                .and_then(Value::as_str)
                .unwrap_or(ns);
            object.pointer("/spec/chart/spec")?;
            Some(FluxKind::HelmChart.object(source_ns, &format!("{ns}-{name}")))
        }
        FluxKind::HelmChart => reference(object.pointer("/spec/sourceRef")?),
        _ => None,
    }
}

/// Whether the controller has handled `token` and settled: `lastHandledReconcileAt` is the
/// token, the status is for the current generation, and Ready is True or False (not Unknown,
/// not still Reconciling).
pub fn settled(object: &Value, token: &str) -> bool {
    let handled = object
        .pointer("/status/lastHandledReconcileAt")
        .and_then(Value::as_str)
        == Some(token);
    let (generation, observed) = generations(object);
    let reconciling = condition(object, "Reconciling").is_some_and(|c| c.status == "True");
    let ready =
        condition(object, "Ready").is_some_and(|c| c.status == "True" || c.status == "False");
    handled && observed >= generation && ready && !reconciling
}

/// Requests a reconcile of one object and waits for it; `now` makes the token.
pub async fn reconcile(
    cluster: &impl Cluster,
    kind: FluxKind,
    namespace: &str,
    name: &str,
    options: &Options,
    now: &dyn Fn() -> String,
) -> Result<Reconciled, VerbError> {
    let object = fetch(cluster, kind, namespace, name).await?;
    if suspended(&object) {
        return Err(VerbError::Suspended {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        });
    }
    let mut source = None;
    if options.with_source
        && let Some(src) = source_of(kind, &object)
        && let Some(src_kind) = FluxKind::of_kind(&src.kind)
    {
        let done = Box::pin(reconcile(
            cluster,
            src_kind,
            &src.namespace,
            &src.name,
            &Options {
                with_source: src_kind == FluxKind::HelmChart,
                ..options.clone()
            },
            now,
        ))
        .await?;
        source = Some(done.row);
    }
    let token = now();
    let mut annotations = vec![(REQUESTED_AT, token.as_str())];
    if kind == FluxKind::HelmRelease {
        if options.force {
            annotations.push((FORCE_AT, token.as_str()));
        }
        if options.reset {
            annotations.push((RESET_AT, token.as_str()));
        }
    }
    let target = kind.object(namespace, name);
    cluster
        .patch_json(&target, &annotation_patch(&object, &annotations, &[]))
        .await?;
    let row = wait_settled(cluster, kind, namespace, name, &token, options).await?;
    if !row.is_ready() {
        return Err(VerbError::Failed { row: Box::new(row) });
    }
    Ok(Reconciled { row, source, token })
}

/// Polls until the object has handled `token`; the last state seen on a timeout.
pub async fn wait_settled(
    cluster: &impl Cluster,
    kind: FluxKind,
    namespace: &str,
    name: &str,
    token: &str,
    options: &Options,
) -> Result<Row, VerbError> {
    let start = tokio::time::Instant::now();
    loop {
        let object = fetch(cluster, kind, namespace, name).await?;
        if settled(&object, token) {
            return Ok(Row::of(kind, &object));
        }
        if start.elapsed() >= options.timeout {
            return Err(VerbError::TimedOut {
                row: Box::new(Row::of(kind, &object)),
                waited: options.timeout,
                handled: object
                    .pointer("/status/lastHandledReconcileAt")
                    .and_then(Value::as_str)
                    == Some(token),
            });
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// The status a Flux controller writes after handling `token` (for tests and fakes).
pub fn handled_status(
    token: &str,
    generation: i64,
    ready: bool,
    reason: &str,
    message: &str,
) -> Value {
    json!({
        "observedGeneration": generation,
        "lastHandledReconcileAt": token,
        "conditions": [{
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "reason": reason,
            "message": message,
            "observedGeneration": generation,
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_needs_the_token_the_generation_and_a_verdict() {
        let mut o = json!({"metadata": {"generation": 2}, "status": handled_status("t1", 2, true, "ReconciliationSucceeded", "ok")});
        assert!(settled(&o, "t1"));
        assert!(!settled(&o, "t2"));
        o["metadata"]["generation"] = json!(3);
        assert!(!settled(&o, "t1"));
    }

    #[test]
    fn sources_of_kustomizations_and_helmreleases() {
        let ks = json!({"metadata": {"namespace": "flux-system", "name": "apps"},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "flux-system"}}});
        let s = source_of(FluxKind::Kustomization, &ks).expect("source");
        assert_eq!(
            (s.kind.as_str(), s.namespace.as_str(), s.name.as_str()),
            ("GitRepository", "flux-system", "flux-system")
        );
        let hr = json!({"metadata": {"namespace": "apps", "name": "web"},
            "spec": {"chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux-system"}}}}});
        let s = source_of(FluxKind::HelmRelease, &hr).expect("chart");
        assert_eq!(
            (s.kind.as_str(), s.namespace.as_str(), s.name.as_str()),
            ("HelmChart", "flux-system", "apps-web")
        );
        let hr = json!({"metadata": {"namespace": "apps", "name": "web"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "web"}}});
        let s = source_of(FluxKind::HelmRelease, &hr).expect("chartRef");
        assert_eq!(
            (s.kind.as_str(), s.namespace.as_str()),
            ("OCIRepository", "apps")
        );
    }
}
