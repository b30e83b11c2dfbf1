//! `capstan suspend` / `capstan resume`: `spec.suspend` as flux sets it, plus the emergency
//! override's audit trail. `suspend --reason` records who (the kubeconfig user), when and why as
//! `capstan.io/override-*` annotations on the object and as an Event; `status` lists open
//! overrides from those annotations. `resume` clears them (recording how the override ended),
//! requests a reconcile and waits, as `flux resume` does. Whether drift made while suspended must
//! be aligned first is the caller's decision (it needs the repository); this module records it.

use serde_json::{Value, json};

use super::get::Row;
use super::kinds::{FluxKind, suspended};
use super::reconcile::{self, Options, REQUESTED_AT};
use super::{VerbError, annotation_patch, event, fetch};
use crate::cluster::Cluster;

pub const OVERRIDE_BY: &str = "capstan.io/override-by";
pub const OVERRIDE_AT: &str = "capstan.io/override-at";
pub const OVERRIDE_REASON: &str = "capstan.io/override-reason";
/// Set by `resume --force` when drift made during the override was not aligned into Git.
pub const RESUMED_UNALIGNED: &str = "capstan.io/resumed-without-alignment";

/// Who suspends, and why.
#[derive(Debug, Clone, Default)]
pub struct Override {
    pub by: String,
    pub reason: Option<String>,
}

/// An open override, as the annotations record it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenOverride {
    pub by: String,
    pub at: String,
    pub reason: String,
}

/// The override recorded on an object, if any.
pub fn open_override(object: &Value) -> Option<OpenOverride> {
    let a = object.pointer("/metadata/annotations")?;
    let get = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(OpenOverride {
        at: get(OVERRIDE_AT)?,
        by: get(OVERRIDE_BY).unwrap_or_default(),
        reason: get(OVERRIDE_REASON).unwrap_or_default(),
    })
}

/// What a suspend did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Suspended {
    pub row: Row,
    /// False when it was suspended already (the override is still recorded).
    pub changed: bool,
}

/// Suspends an object; with a reason, records the override.
pub async fn suspend(
    cluster: &impl Cluster,
    kind: FluxKind,
    namespace: &str,
    name: &str,
    who: &Override,
    now: &str,
) -> Result<Suspended, VerbError> {
    let object = fetch(cluster, kind, namespace, name).await?;
    let changed = !suspended(&object);
    let target = kind.object(namespace, name);
    let mut patch = vec![json!({"op": "add", "path": "/spec/suspend", "value": true})];
    if let Some(reason) = &who.reason {
        let set = [
            (OVERRIDE_BY, who.by.as_str()),
            (OVERRIDE_AT, now),
            (OVERRIDE_REASON, reason.as_str()),
        ];
        if let Value::Array(ops) = annotation_patch(&object, &set, &[RESUMED_UNALIGNED]) {
            patch.extend(ops);
        }
    }
    let patched = cluster.patch_json(&target, &Value::Array(patch)).await?;
    let message = match &who.reason {
        Some(reason) => format!("suspended by {} (override): {reason}", who.by),
        None => format!("suspended by {}", who.by),
    };
    cluster
        .create(&event(
            &patched,
            kind,
            "Suspended",
            &message,
            now,
            &suffix(now),
        ))
        .await?;
    Ok(Suspended {
        row: Row::of(kind, &patched),
        changed,
    })
}

/// How a resume treats drift made during the override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    /// The drift was checked and is none (or was aligned).
    Aligned,
    /// Resumed with `--force` although drift was found or could not be checked: recorded.
    Forced,
}

/// Who resumes, and whether drift made during the override was aligned first.
#[derive(Debug, Clone)]
pub struct Resumption {
    pub by: String,
    pub alignment: Alignment,
}

/// Resumes an object: clears the override, records how it ended, requests a reconcile and waits.
pub async fn resume(
    cluster: &impl Cluster,
    kind: FluxKind,
    namespace: &str,
    name: &str,
    how: &Resumption,
    options: &Options,
    now: &dyn Fn() -> String,
) -> Result<reconcile::Reconciled, VerbError> {
    let (who, alignment) = (how.by.as_str(), how.alignment);
    let object = fetch(cluster, kind, namespace, name).await?;
    let token = now();
    let target = kind.object(namespace, name);
    let mut patch = vec![json!({"op": "add", "path": "/spec/suspend", "value": false})];
    let mut set = vec![(REQUESTED_AT, token.as_str())];
    let forced = format!("{token} by {who}");
    if alignment == Alignment::Forced {
        set.push((RESUMED_UNALIGNED, forced.as_str()));
    }
    if let Value::Array(ops) =
        annotation_patch(&object, &set, &[OVERRIDE_BY, OVERRIDE_AT, OVERRIDE_REASON])
    {
        patch.extend(ops);
    }
    let patched = cluster.patch_json(&target, &Value::Array(patch)).await?;
    let message = match (open_override(&object), alignment) {
        (Some(o), Alignment::Forced) => format!(
            "resumed by {who} with --force, drift not aligned into Git (override by {} since {}: {})",
            o.by, o.at, o.reason
        ),
        (Some(o), Alignment::Aligned) => format!(
            "resumed by {who} (override by {} since {}: {})",
            o.by, o.at, o.reason
        ),
        (None, Alignment::Forced) => format!("resumed by {who} with --force"),
        (None, Alignment::Aligned) => format!("resumed by {who}"),
    };
    cluster
        .create(&event(
            &patched,
            kind,
            "Resumed",
            &message,
            &token,
            &suffix(&token),
        ))
        .await?;
    let row = reconcile::wait_settled(cluster, kind, namespace, name, &token, options).await?;
    if !row.is_ready() {
        return Err(VerbError::Failed { row: Box::new(row) });
    }
    Ok(reconcile::Reconciled {
        row,
        source: None,
        token,
    })
}

/// A name suffix for an Event, unique per timestamp (hex of its digits).
fn suffix(now: &str) -> String {
    let digits: String = now.chars().filter(char::is_ascii_digit).collect();
    let n: u128 = digits
        .chars()
        .rev()
        .take(30)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    format!("{n:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_read_from_annotations() {
        let o = json!({"metadata": {"annotations": {
            OVERRIDE_BY: "alice", OVERRIDE_AT: "2026-12-04T10:00:00Z", OVERRIDE_REASON: "db restore"}}});
        assert_eq!(
            open_override(&o),
            Some(OpenOverride {
                by: "alice".into(),
                at: "2026-12-04T10:00:00Z".into(),
                reason: "db restore".into()
            })
        );
        assert_eq!(open_override(&json!({"metadata": {}})), None);
    }

    #[test]
    fn event_suffixes_differ_per_timestamp() {
        assert_ne!(
            suffix("2026-12-04T10:00:00.1Z"),
            suffix("2026-12-04T10:00:00.2Z")
        );
    }
}
