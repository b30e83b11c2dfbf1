//! Helm hooks: documents annotated `helm.sh/hook` (events), `helm.sh/hook-weight` and
//! `helm.sh/hook-delete-policy`, stored in the release's `hooks` and run around an install,
//! upgrade, rollback or uninstall as Helm's `execHook` runs them:
//!
//! - the hooks of the event, in install order of their kinds, then stably by weight and name;
//! - a hook without a delete policy gets `before-hook-creation`; such a hook's previous object is
//!   deleted (and gone) before it is created again;
//! - each is applied and awaited: a Job until `Complete` or `Failed`, a Pod until it succeeds
//!   or fails, anything else at once;
//! - on a failure the failed hook is deleted when it says `hook-failed`, and the hooks that ran
//!   before it when they say `hook-succeeded`; when all succeed, each `hook-succeeded` hook is
//!   deleted, last first. CustomResourceDefinitions are never deleted.
//!
//! The order and the policies are pure ([`executing`], [`Hook::deletes_on`]); [`run`] does
//! the I/O through the [`Cluster`] seam.

use std::time::{Duration, Instant};

use capstan_core::{Map, Value};

use crate::cluster::{Cluster, ClusterError};
use crate::id::ObjectRef;

/// A hook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    PreInstall,
    PostInstall,
    PreDelete,
    PostDelete,
    PreUpgrade,
    PostUpgrade,
    PreRollback,
    PostRollback,
    Test,
}

impl HookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }

    /// An event as the annotation spells it (`test-success` is Helm 2's `test`).
    pub fn parse(text: &str) -> Option<HookEvent> {
        Some(match text {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }
}

impl std::fmt::Display for HookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const HOOK: &str = "helm.sh/hook";
pub const HOOK_WEIGHT: &str = "helm.sh/hook-weight";
pub const HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";
pub const HOOK_OUTPUT_LOG_POLICY: &str = "helm.sh/hook-output-log-policy";
pub const BEFORE_HOOK_CREATION: &str = "before-hook-creation";
pub const HOOK_SUCCEEDED: &str = "hook-succeeded";
pub const HOOK_FAILED: &str = "hook-failed";

/// The last run of a hook, as Helm records it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookRun {
    /// RFC 3339, empty when it never ran.
    pub started_at: String,
    pub completed_at: String,
    /// `Running`, `Succeeded`, `Failed`, `Unknown`, or empty.
    pub phase: String,
}

/// One hook of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub manifest: String,
    pub events: Vec<HookEvent>,
    pub weight: i64,
    pub delete_policies: Vec<String>,
    pub output_log_policies: Vec<String>,
    pub last_run: HookRun,
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn list(text: &str) -> Vec<String> {
    text.split(',').map(|p| p.trim().to_lowercase()).collect()
}

/// The hook a rendered document is: `None` when it is not annotated `helm.sh/hook`,
/// `Some(None)` when it names an event Helm does not know (Helm then skips the document).
pub fn from_document(path: &str, content: &str, object: &Value) -> Option<Option<Hook>> {
    let events = annotation(object, HOOK)?;
    let mut parsed = Vec::new();
    for e in events.split(',') {
        match HookEvent::parse(&e.trim().to_lowercase()) {
            Some(e) => parsed.push(e),
            None => return Some(None),
        }
    }
    Some(Some(Hook {
        name: object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        kind: object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        path: path.to_owned(),
        manifest: content.to_owned(),
        events: parsed,
        weight: annotation(object, HOOK_WEIGHT)
            .and_then(|w| w.trim().parse().ok())
            .unwrap_or(0),
        delete_policies: annotation(object, HOOK_DELETE_POLICY)
            .map(list)
            .unwrap_or_default(),
        output_log_policies: annotation(object, HOOK_OUTPUT_LOG_POLICY)
            .map(list)
            .unwrap_or_default(),
        last_run: HookRun::default(),
    }))
}

impl Hook {
    /// The hook as a stored release holds it (Helm's `release.Hook`, empty fields left out).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let mut put_str = |k: &str, v: &str| {
            if !v.is_empty() {
                out.insert(k.into(), v.into());
            }
        };
        put_str("name", &self.name);
        put_str("kind", &self.kind);
        put_str("path", &self.path);
        put_str("manifest", &self.manifest);
        if !self.events.is_empty() {
            out.insert(
                "events".into(),
                Value::Array(self.events.iter().map(|e| e.as_str().into()).collect()),
            );
        }
        let mut run = Map::new();
        if !self.last_run.started_at.is_empty() {
            run.insert("started_at".into(), self.last_run.started_at.clone().into());
        }
        if !self.last_run.completed_at.is_empty() {
            run.insert(
                "completed_at".into(),
                self.last_run.completed_at.clone().into(),
            );
        }
        run.insert("phase".into(), self.last_run.phase.clone().into());
        out.insert("last_run".into(), Value::Object(run));
        if self.weight != 0 {
            out.insert("weight".into(), self.weight.into());
        }
        for (k, v) in [
            ("delete_policies", &self.delete_policies),
            ("output_log_policies", &self.output_log_policies),
        ] {
            if !v.is_empty() {
                out.insert(
                    k.into(),
                    Value::Array(v.iter().map(|p| p.clone().into()).collect()),
                );
            }
        }
        Value::Object(out)
    }

    /// A hook read from a stored release.
    pub fn from_json(value: &Value) -> Hook {
        let s = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let strings = |k: &str| -> Vec<String> {
            value
                .get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let run = |k: &str| {
            value
                .pointer(&format!("/last_run/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        Hook {
            name: s("name"),
            kind: s("kind"),
            path: s("path"),
            manifest: s("manifest"),
            events: strings("events")
                .iter()
                .filter_map(|e| HookEvent::parse(e))
                .collect(),
            weight: value.get("weight").and_then(Value::as_i64).unwrap_or(0),
            delete_policies: strings("delete_policies"),
            output_log_policies: strings("output_log_policies"),
            last_run: HookRun {
                started_at: run("started_at"),
                completed_at: run("completed_at"),
                phase: run("phase"),
            },
        }
    }

    /// Whether the hook is deleted at `policy` (a hook without policies gets
    /// `before-hook-creation`; CRDs are never deleted).
    pub fn deletes_on(&self, policy: &str) -> bool {
        if self.kind == "CustomResourceDefinition" {
            return false;
        }
        if self.delete_policies.is_empty() {
            return policy == BEFORE_HOOK_CREATION;
        }
        self.delete_policies.iter().any(|p| p == policy)
    }
}

/// The positions of the hooks of `event`, in the order Helm runs them: `hooks` are in install
/// order of their kinds; sorted stably by weight, then name.
pub fn executing(hooks: &[Hook], event: HookEvent) -> Vec<usize> {
    let mut out: Vec<usize> = (0..hooks.len())
        .filter(|i| hooks[*i].events.contains(&event))
        .collect();
    out.sort_by(|a, b| {
        let (a, b) = (&hooks[*a], &hooks[*b]);
        a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// A hook that did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HookError {
    #[error("{event} hook {path}: {kind}/{name}: {source}")]
    Cluster {
        event: HookEvent,
        path: String,
        kind: String,
        name: String,
        #[source]
        source: ClusterError,
    },
    #[error("{event} hook {path}: {kind}/{name} failed: {message}")]
    Failed {
        event: HookEvent,
        path: String,
        kind: String,
        name: String,
        message: String,
    },
    #[error("{event} hook {path}: {kind}/{name}: timed out after {after:?}")]
    Timeout {
        event: HookEvent,
        path: String,
        kind: String,
        name: String,
        after: Duration,
    },
    #[error("{event} hook {path}: {reason}")]
    Manifest {
        event: HookEvent,
        path: String,
        reason: String,
    },
}

/// How hooks are applied and awaited.
#[derive(Debug, Clone, Copy)]
pub struct HookOptions<'a> {
    /// Namespace of namespaced hook objects that name none.
    pub namespace: &'a str,
    /// The field manager (Helm's `helm`).
    pub manager: &'a str,
    pub timeout: Duration,
    pub poll: Duration,
}

/// Runs the hooks of `event`, recording each one's `last_run` with `now()` timestamps.
pub async fn run<C: Cluster>(
    cluster: &C,
    hooks: &mut [Hook],
    event: HookEvent,
    options: &HookOptions<'_>,
    now: &dyn Fn() -> String,
) -> Result<(), HookError> {
    let order = executing(hooks, event);
    for (n, &i) in order.iter().enumerate() {
        if hooks[i].delete_policies.is_empty() {
            hooks[i].delete_policies = vec![BEFORE_HOOK_CREATION.to_owned()];
        }
        let object = hook_object(cluster, &hooks[i], event, options).await?;
        let r = ObjectRef::of(&object).ok_or_else(|| HookError::Manifest {
            event,
            path: hooks[i].path.clone(),
            reason: "apiVersion, kind and metadata.name are required".into(),
        })?;
        let fail = |hook: &Hook, source: ClusterError| HookError::Cluster {
            event,
            path: hook.path.clone(),
            kind: hook.kind.clone(),
            name: hook.name.clone(),
            source,
        };
        if hooks[i].deletes_on(BEFORE_HOOK_CREATION) {
            delete_and_wait(cluster, &r, options)
                .await
                .map_err(|e| fail(&hooks[i], e))?;
        }
        hooks[i].last_run = HookRun {
            started_at: now(),
            completed_at: String::new(),
            phase: "Running".into(),
        };
        let applied = cluster.apply_as(&object, options.manager, false).await;
        let outcome = match applied {
            Err(e) => Err(fail(&hooks[i], e)),
            Ok(_) => await_hook(cluster, &hooks[i], &r, event, options).await,
        };
        hooks[i].last_run.completed_at = now();
        if let Err(e) = outcome {
            hooks[i].last_run.phase = "Failed".into();
            if hooks[i].deletes_on(HOOK_FAILED) {
                let _ = cluster.delete(&r).await;
            }
            for &j in &order[..n] {
                if hooks[j].deletes_on(HOOK_SUCCEEDED)
                    && let Ok(o) = hook_object(cluster, &hooks[j], event, options).await
                    && let Some(rj) = ObjectRef::of(&o)
                {
                    let _ = delete_and_wait(cluster, &rj, options).await;
                }
            }
            return Err(e);
        }
        hooks[i].last_run.phase = "Succeeded".into();
    }
    for &i in order.iter().rev() {
        if hooks[i].deletes_on(HOOK_SUCCEEDED) {
            let object = hook_object(cluster, &hooks[i], event, options).await?;
            if let Some(r) = ObjectRef::of(&object) {
                delete_and_wait(cluster, &r, options)
                    .await
                    .map_err(|source| HookError::Cluster {
                        event,
                        path: hooks[i].path.clone(),
                        kind: hooks[i].kind.clone(),
                        name: hooks[i].name.clone(),
                        source,
                    })?;
            }
        }
    }
    Ok(())
}

/// The hook's object, with the namespace of a namespaced one that names none.
async fn hook_object<C: Cluster>(
    cluster: &C,
    hook: &Hook,
    event: HookEvent,
    options: &HookOptions<'_>,
) -> Result<Value, HookError> {
    let manifest_error = |reason: String| HookError::Manifest {
        event,
        path: hook.path.clone(),
        reason,
    };
    let mut object = capstan_core::yaml::parse_document(&hook.manifest)
        .map_err(|e| manifest_error(format!("YAML parse error: {}", e.message)))?;
    super::objects::default_namespace(cluster, &mut object, options.namespace)
        .await
        .map_err(|e| HookError::Cluster {
            event,
            path: hook.path.clone(),
            kind: hook.kind.clone(),
            name: hook.name.clone(),
            source: e,
        })?;
    Ok(object)
}

/// Deletes an object and waits until it is gone.
async fn delete_and_wait<C: Cluster>(
    cluster: &C,
    r: &ObjectRef,
    options: &HookOptions<'_>,
) -> Result<(), ClusterError> {
    if !cluster.delete(r).await? {
        return Ok(());
    }
    let start = Instant::now();
    while cluster.get(r).await?.is_some() {
        if start.elapsed() > options.timeout {
            return Err(ClusterError::new(
                crate::cluster::Verb::Delete,
                r,
                crate::cluster::Reason::Unavailable,
                format!("still present {:?} after its deletion", options.timeout),
            ));
        }
        tokio::time::sleep(options.poll).await;
    }
    Ok(())
}

/// What a hook object's state says: done, failed (why), or still running.
pub fn hook_state(kind: &str, live: &Value) -> Option<Result<(), String>> {
    match kind {
        "Job" => {
            if let Some((_, reason, message)) =
                crate::kstatus::condition(live, "Failed").filter(|c| c.0 == "True")
            {
                return Some(Err(format!("job failed: {reason}: {message}")));
            }
            crate::kstatus::condition(live, "Complete")
                .filter(|c| c.0 == "True")
                .map(|_| Ok(()))
        }
        "Pod" => match live.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => Some(Ok(())),
            Some("Failed") => Some(Err("pod failed".into())),
            _ => None,
        },
        _ => Some(Ok(())),
    }
}

async fn await_hook<C: Cluster>(
    cluster: &C,
    hook: &Hook,
    r: &ObjectRef,
    event: HookEvent,
    options: &HookOptions<'_>,
) -> Result<(), HookError> {
    if !matches!(hook.kind.as_str(), "Job" | "Pod") {
        return Ok(());
    }
    let start = Instant::now();
    loop {
        let live = cluster.get(r).await.map_err(|source| HookError::Cluster {
            event,
            path: hook.path.clone(),
            kind: hook.kind.clone(),
            name: hook.name.clone(),
            source,
        })?;
        if let Some(live) = live
            && let Some(state) = hook_state(&hook.kind, &live)
        {
            return state.map_err(|message| HookError::Failed {
                event,
                path: hook.path.clone(),
                kind: hook.kind.clone(),
                name: hook.name.clone(),
                message,
            });
        }
        if start.elapsed() > options.timeout {
            return Err(HookError::Timeout {
                event,
                path: hook.path.clone(),
                kind: hook.kind.clone(),
                name: hook.name.clone(),
                after: options.timeout,
            });
        }
        tokio::time::sleep(options.poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(name: &str, kind: &str, weight: i64, events: &[HookEvent]) -> Hook {
        Hook {
            name: name.into(),
            kind: kind.into(),
            path: format!("c/templates/{name}.yaml"),
            manifest: String::new(),
            events: events.to_vec(),
            weight,
            delete_policies: Vec::new(),
            output_log_policies: Vec::new(),
            last_run: HookRun::default(),
        }
    }

    #[test]
    fn hooks_run_by_weight_then_name_keeping_kind_order_for_ties() {
        use HookEvent::*;
        // Already in install order of kinds, as the manifest sorter leaves them.
        let hooks = vec![
            hook("z-sa", "ServiceAccount", 0, &[PreInstall]),
            hook("same", "ConfigMap", 0, &[PreInstall]),
            hook("same", "Job", 0, &[PreInstall]),
            hook("b-job", "Job", -5, &[PreInstall, PreUpgrade]),
            hook("a-job", "Job", 10, &[PreInstall]),
            hook("post", "Job", -100, &[PostInstall]),
        ];
        let order: Vec<(&str, &str)> = executing(&hooks, PreInstall)
            .into_iter()
            .map(|i| (hooks[i].name.as_str(), hooks[i].kind.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("b-job", "Job"),
                ("same", "ConfigMap"),
                ("same", "Job"),
                ("z-sa", "ServiceAccount"),
                ("a-job", "Job"),
            ]
        );
        assert_eq!(executing(&hooks, PreUpgrade), [3]);
        assert!(executing(&hooks, PreRollback).is_empty());
    }

    #[test]
    fn delete_policies_default_to_before_hook_creation_and_spare_crds() {
        let mut h = hook("j", "Job", 0, &[HookEvent::PreInstall]);
        assert!(h.deletes_on(BEFORE_HOOK_CREATION));
        assert!(!h.deletes_on(HOOK_SUCCEEDED));
        h.delete_policies = vec![HOOK_SUCCEEDED.into(), HOOK_FAILED.into()];
        assert!(!h.deletes_on(BEFORE_HOOK_CREATION));
        assert!(h.deletes_on(HOOK_SUCCEEDED) && h.deletes_on(HOOK_FAILED));
        let crd = hook("c", "CustomResourceDefinition", 0, &[HookEvent::PreInstall]);
        assert!(!crd.deletes_on(BEFORE_HOOK_CREATION));
    }

    #[test]
    fn documents_become_hooks_as_the_manifest_sorter_reads_them() {
        let object = serde_json::json!({"kind": "Job", "metadata": {"name": "m", "annotations": {
            HOOK: "pre-install, Post-Upgrade", HOOK_WEIGHT: "-3", HOOK_DELETE_POLICY: "hook-succeeded,before-hook-creation"}}});
        let h = from_document("c/templates/m.yaml", "kind: Job", &object)
            .expect("a hook")
            .expect("known events");
        assert_eq!(h.events, [HookEvent::PreInstall, HookEvent::PostUpgrade]);
        assert_eq!(h.weight, -3);
        assert_eq!(h.delete_policies, [HOOK_SUCCEEDED, BEFORE_HOOK_CREATION]);
        let json = h.to_json();
        assert_eq!(
            capstan_core::go_json::to_string(&json, capstan_core::go_json::Keys::AsHeld),
            r#"{"name":"m","kind":"Job","path":"c/templates/m.yaml","manifest":"kind: Job","events":["pre-install","post-upgrade"],"last_run":{"phase":""},"weight":-3,"delete_policies":["hook-succeeded","before-hook-creation"]}"#
        );
        assert_eq!(Hook::from_json(&json), h);
        let unknown = serde_json::json!({"kind": "Job", "metadata": {"name": "m", "annotations": {HOOK: "pre-install,crd-install"}}});
        assert_eq!(from_document("p", "", &unknown), Some(None));
        let plain = serde_json::json!({"kind": "Job", "metadata": {"name": "m"}});
        assert_eq!(from_document("p", "", &plain), None);
    }

    #[test]
    fn job_and_pod_hooks_finish_on_their_status() {
        let running = serde_json::json!({"status": {"active": 1}});
        assert_eq!(hook_state("Job", &running), None);
        let done =
            serde_json::json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(hook_state("Job", &done), Some(Ok(())));
        let failed = serde_json::json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "limit"}]}});
        assert!(
            matches!(hook_state("Job", &failed), Some(Err(m)) if m.contains("BackoffLimitExceeded"))
        );
        assert_eq!(
            hook_state(
                "Pod",
                &serde_json::json!({"status": {"phase": "Succeeded"}})
            ),
            Some(Ok(()))
        );
        assert_eq!(hook_state("ConfigMap", &running), Some(Ok(())));
    }
}
