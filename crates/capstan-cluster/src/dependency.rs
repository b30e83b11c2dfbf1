//! Whether a `dependsOn` entry outside the run is ready, by kustomize-controller's rule
//! (`checkDependencies`): the dependency's live Kustomization passes its `readyExpr` (CEL over
//! `self`, the dependant, and `dep`, the dependency), which then replaces the built-in checks;
//! otherwise its `observedGeneration` is its `generation`, `Ready` is True, and — when it reads
//! the same source (kind, namespace, name) — its `lastAppliedRevision` is the revision being
//! applied now. A dependency capstan applied from the CLI is read from its inventory, which
//! records the source and the revision applied.
//!
//! Revisions compare by what names the content: the part after the last `@`, or the whole
//! string when it has none (`main@sha1:abc…`, `refs/heads/main@sha1:abc…` and `sha1:abc…` are
//! the same commit). A revision capstan does not know (a repository outside git) skips the revision check,
//! and the verdict says so.

use serde_json::Value;

use crate::kstatus;

/// A verdict on one dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// Ready, except that the revision rule could not be checked (no current revision known).
    ReadyRevisionUnchecked,
    NotReady(String),
}

/// What the dependant brings to the check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dependant<'a> {
    /// The dependant Kustomization as rendered (`self` in a `readyExpr`).
    pub object: Option<&'a Value>,
    /// Its source, `Kind/namespace/name`.
    pub source: Option<&'a str>,
    /// The revision being applied now.
    pub revision: Option<&'a str>,
    /// The dependency's `readyExpr`.
    pub ready_expr: Option<&'a str>,
}

/// `Kind/namespace/name` of a Kustomization's `spec.sourceRef`, the namespace defaulting to the
/// Kustomization's.
pub fn source_of(kustomization: &Value) -> Option<String> {
    let source = kustomization.pointer("/spec/sourceRef")?;
    let kind = source.get("kind")?.as_str()?;
    let name = source.get("name")?.as_str()?;
    let namespace = source
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .or_else(|| kustomization.pointer("/metadata/namespace")?.as_str())
        .unwrap_or("");
    Some(format!("{kind}/{namespace}/{name}"))
}

/// Two revisions name the same content: the parts after the last `@` (the whole when there is
/// none) are equal.
pub fn same_revision(a: &str, b: &str) -> bool {
    let content = |r: &'_ str| r.rsplit_once('@').map(|(_, c)| c).unwrap_or(r).to_owned();
    content(a) == content(b)
}

fn revision_rule(dependant: &Dependant, source: Option<&str>, applied: Option<&str>) -> Verdict {
    let same_source = dependant.source.is_some() && dependant.source == source;
    if !same_source {
        return Verdict::Ready;
    }
    match (dependant.revision, applied) {
        (None, _) => Verdict::ReadyRevisionUnchecked,
        (Some(now), Some(applied)) if same_revision(now, applied) => Verdict::Ready,
        (Some(now), applied) => Verdict::NotReady(format!(
            "revision is not up to date: it applied {}, this run applies {now}",
            applied.unwrap_or("no revision")
        )),
    }
}

/// A dependency capstan holds an inventory for: its recorded source and revision.
pub fn check_inventory(
    dependant: &Dependant,
    source: Option<&str>,
    revision: Option<&str>,
) -> Verdict {
    if dependant.ready_expr.is_some() {
        // The expression is over the live Kustomization; without one, the inventory says it
        // was applied, as the built-in check would.
        return Verdict::Ready;
    }
    revision_rule(dependant, source, revision)
}

/// A dependency read from the cluster (its live Kustomization).
pub fn check_live(dependant: &Dependant, dep: &Value) -> Verdict {
    if let Some(expr) = dependant.ready_expr {
        return match eval(expr, dependant.object, dep) {
            Ok(true) => Verdict::Ready,
            Ok(false) => Verdict::NotReady("not ready according to readyExpr".into()),
            Err(e) => Verdict::NotReady(format!("readyExpr: {e}")),
        };
    }
    let generation = dep.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = dep
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    let has_conditions = dep
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if !has_conditions || generation.unwrap_or(0) != observed.unwrap_or(0) {
        return Verdict::NotReady("not ready (generation not observed)".into());
    }
    if kstatus::condition(dep, "Ready").is_none_or(|(s, _, _)| s != "True") {
        return Verdict::NotReady("not ready".into());
    }
    let applied = dep
        .pointer("/status/lastAppliedRevision")
        .and_then(Value::as_str);
    revision_rule(dependant, source_of(dep).as_deref(), applied)
}

fn eval(expr: &str, this: Option<&Value>, dep: &Value) -> Result<bool, String> {
    let program = cel::Program::compile(expr).map_err(|e| e.to_string())?;
    let mut context = cel::Context::default();
    context
        .add_variable("self", this.cloned().unwrap_or(Value::Null))
        .map_err(|e| e.to_string())?;
    context
        .add_variable("dep", dep.clone())
        .map_err(|e| e.to_string())?;
    match program.execute(&context).map_err(|e| e.to_string())? {
        cel::Value::Bool(b) => Ok(b),
        other => Err(format!("evaluates to {other:?}, not a bool")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(revision: &str, source: &str) -> Value {
        json!({"metadata":{"name":"infra","namespace":"flux-system","generation":2},
            "spec":{"sourceRef":{"kind":"GitRepository","name":source}},
            "status":{"observedGeneration":2,"lastAppliedRevision":revision,
                "conditions":[{"type":"Ready","status":"True"}]}})
    }

    #[test]
    fn same_source_needs_the_same_revision() {
        let this = json!({"metadata":{"name":"apps","namespace":"flux-system"},
            "spec":{"sourceRef":{"kind":"GitRepository","name":"flux-system"}}});
        let source = source_of(&this);
        assert_eq!(
            source.as_deref(),
            Some("GitRepository/flux-system/flux-system")
        );
        let d = Dependant {
            object: Some(&this),
            source: source.as_deref(),
            revision: Some("main@sha1:bbb"),
            ready_expr: None,
        };
        assert!(
            matches!(check_live(&d, &dep("main@sha1:aaa", "flux-system")), Verdict::NotReady(m) if m.contains("sha1:aaa"))
        );
        assert_eq!(
            check_live(&d, &dep("refs/heads/main@sha1:bbb", "flux-system")),
            Verdict::Ready
        );
        assert_eq!(
            check_live(&d, &dep("main@sha1:aaa", "other")),
            Verdict::Ready,
            "other source"
        );
        let unknown = Dependant {
            revision: None,
            ..d
        };
        assert_eq!(
            check_live(&unknown, &dep("main@sha1:aaa", "flux-system")),
            Verdict::ReadyRevisionUnchecked
        );
        let mut stale = dep("main@sha1:bbb", "flux-system");
        stale["metadata"]["generation"] = json!(3);
        assert!(matches!(check_live(&d, &stale), Verdict::NotReady(_)));
        assert!(matches!(
            check_inventory(&d, source.as_deref(), Some("main@sha1:aaa")),
            Verdict::NotReady(_)
        ));
        assert_eq!(
            check_inventory(&d, source.as_deref(), Some("main@sha1:bbb")),
            Verdict::Ready
        );
    }

    #[test]
    fn ready_expr_replaces_the_built_in_checks() {
        let this = json!({"metadata":{"name":"apps"},"spec":{"sourceRef":{"kind":"GitRepository","name":"flux-system"}}});
        let mut not_ready = dep("main@sha1:aaa", "flux-system");
        not_ready["status"]["conditions"][0]["status"] = json!("False");
        not_ready["status"]["phase"] = json!("good-enough");
        let d = Dependant {
            object: Some(&this),
            source: Some("GitRepository/flux-system/flux-system"),
            revision: Some("main@sha1:bbb"),
            ready_expr: Some("dep.status.phase == 'good-enough' && self.metadata.name == 'apps'"),
        };
        assert_eq!(check_live(&d, &not_ready), Verdict::Ready);
        let bad = Dependant {
            ready_expr: Some("dep.status.phase == 'other'"),
            ..d
        };
        assert!(matches!(check_live(&bad, &not_ready), Verdict::NotReady(_)));
        let broken = Dependant {
            ready_expr: Some("dep.("),
            ..d
        };
        assert!(
            matches!(check_live(&broken, &not_ready), Verdict::NotReady(m) if m.starts_with("readyExpr"))
        );
    }
}
