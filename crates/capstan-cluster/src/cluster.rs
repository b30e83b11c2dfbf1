//! The seam between the engine and a Kubernetes API: a small trait with the handful of calls the
//! engine makes (discovery, list, get, server-side apply, JSON patch, delete), implemented for a
//! real API server by [`crate::kube_api::KubeApi`] and in memory by [`crate::mem::MemCluster`]
//! for the engine's unit tests.

use std::fmt;
use std::future::Future;

use serde_json::Value;

use crate::id::ObjectRef;

/// The field manager capstan applies with. It is Flux's own: a cluster moves from Flux to
/// capstan and back with every field owned by the same manager, so nothing Git stops declaring
/// is left behind under a second owner, and `flux diff` keeps reading capstan's objects right.
pub const FIELD_MANAGER: &str = "kustomize-controller";

/// What the server said, classified by HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Reason {
    NotFound,
    Conflict,
    Invalid,
    Forbidden,
    Unauthorized,
    Gone,
    /// 5xx, timeouts and transport failures: worth retrying.
    Unavailable,
    Other,
}

impl Reason {
    pub fn of_status(code: u16) -> Reason {
        match code {
            401 => Reason::Unauthorized,
            403 => Reason::Forbidden,
            404 => Reason::NotFound,
            409 => Reason::Conflict,
            410 => Reason::Gone,
            422 | 400 => Reason::Invalid,
            500..=599 | 429 => Reason::Unavailable,
            _ => Reason::Other,
        }
    }
}

/// The request that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Verb {
    Discover,
    List,
    Get,
    Apply,
    DryRun,
    Patch,
    Delete,
    Create,
    /// Reading a pod's log.
    Logs,
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Verb::Discover => "discovery",
            Verb::List => "list",
            Verb::Get => "get",
            Verb::Apply => "apply",
            Verb::DryRun => "dry-run apply",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::Create => "create",
            Verb::Logs => "read",
        };
        f.write_str(text)
    }
}

/// A failed request: which, on what, and the server's answer (status, message, and the fields
/// its `details.causes` name).
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
#[error("{verb} {object}: {message}")]
pub struct ClusterError {
    pub verb: Verb,
    pub object: String,
    pub reason: Reason,
    pub code: Option<u16>,
    pub message: String,
    /// Field paths the server named (`spec.selector`).
    pub fields: Vec<String>,
}

impl ClusterError {
    pub fn new(
        verb: Verb,
        object: impl fmt::Display,
        reason: Reason,
        message: impl Into<String>,
    ) -> ClusterError {
        ClusterError {
            verb,
            object: object.to_string(),
            reason,
            code: None,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// An error about an immutable field, as fluxcd/pkg recognises one: a 409 or 422 whose
    /// message the server wrote as "is immutable" / "immutable field". (The text is the API
    /// server's, on the wire; capstan's own errors are never matched on text.)
    pub fn immutable(&self) -> bool {
        matches!(self.reason, Reason::Conflict | Reason::Invalid)
            && (self.message.contains("is immutable") || self.message.contains("immutable field"))
    }
}

/// The reference of a manifest about to be sent with `verb`; an Invalid error when it has no
/// apiVersion, kind or metadata.name.
pub(crate) fn manifest_ref(object: &Value, verb: Verb) -> Result<ObjectRef, ClusterError> {
    ObjectRef::of(object).ok_or_else(|| {
        ClusterError::new(
            verb,
            "object",
            Reason::Invalid,
            "apiVersion, kind and metadata.name are required",
        )
    })
}

/// What the engine needs from a Kubernetes API.
pub trait Cluster: Send + Sync {
    /// Whether the kind is served and namespaced: `Some(true)` namespaced, `Some(false)`
    /// cluster-scoped, `None` not served (per the last discovery).
    fn scope(
        &self,
        r: &ObjectRef,
    ) -> impl Future<Output = Result<Option<bool>, ClusterError>> + Send;
    /// Re-reads discovery (after CRDs are established).
    fn refresh(&self) -> impl Future<Output = Result<(), ClusterError>> + Send;
    /// Every object of a kind, in all namespaces.
    fn list(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<Value>, ClusterError>> + Send;
    /// One object; `None` when it does not exist.
    fn get(
        &self,
        r: &ObjectRef,
    ) -> impl Future<Output = Result<Option<Value>, ClusterError>> + Send;
    /// Server-side apply with [`FIELD_MANAGER`] and force; `dry_run` persists nothing.
    fn apply(
        &self,
        object: &Value,
        dry_run: bool,
    ) -> impl Future<Output = Result<Value, ClusterError>> + Send;
    /// A JSON patch (RFC 6902).
    fn patch_json(
        &self,
        r: &ObjectRef,
        patch: &Value,
    ) -> impl Future<Output = Result<Value, ClusterError>> + Send;
    /// Creates an object (POST); a Conflict error when it exists.
    fn create(&self, object: &Value) -> impl Future<Output = Result<Value, ClusterError>> + Send;
    /// Deletes with background propagation; false when it did not exist.
    fn delete(&self, r: &ObjectRef) -> impl Future<Output = Result<bool, ClusterError>> + Send;

    /// Server-side apply as another field manager (Helm's `helm`), forcing conflicts only when
    /// `force`. A cluster that cannot choose the manager refuses (Reason::Other) rather than
    /// applying under [`FIELD_MANAGER`].
    fn apply_as(
        &self,
        object: &Value,
        manager: &str,
        force: bool,
    ) -> impl Future<Output = Result<Value, ClusterError>> + Send {
        let _ = force;
        let refused = ClusterError::new(
            Verb::Apply,
            ObjectRef::of(object).map_or_else(|| "object".to_owned(), |r| r.to_string()),
            Reason::Other,
            format!("this cluster connection cannot apply as field manager {manager:?}"),
        );
        async move { Err(refused) }
    }

    /// The objects of a kind in one namespace whose labels equal every `(key, value)` of
    /// `selector`. The default lists the kind everywhere and filters; a real API server is asked
    /// with a label selector.
    fn list_labelled(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        namespace: &str,
        selector: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<Value>, ClusterError>> + Send {
        async move {
            let all = self.list(group, version, kind).await?;
            Ok(all
                .into_iter()
                .filter(|o| {
                    o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(namespace)
                })
                .filter(|o| labels_match(o, selector))
                .collect())
        }
    }
}

/// Whether an object's labels hold every `(key, value)` of `selector`.
pub fn labels_match(object: &Value, selector: &[(&str, &str)]) -> bool {
    selector.iter().all(|(k, v)| {
        object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(*k))
            .and_then(Value::as_str)
            == Some(*v)
    })
}
