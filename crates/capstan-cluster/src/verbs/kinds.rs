//! The Flux kinds the live verbs know, the names users call them by (`ks`, `hr`, `source git`,
//! `GitRepository`…), and how each kind reports its revision and readiness in `status`.

use serde_json::Value;

use crate::id::ObjectRef;

/// A Flux object kind the live verbs act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum FluxKind {
    Kustomization,
    HelmRelease,
    GitRepository,
    OCIRepository,
    HelmRepository,
    HelmChart,
    Bucket,
}

impl FluxKind {
    pub const ALL: [FluxKind; 7] = [
        FluxKind::Kustomization,
        FluxKind::HelmRelease,
        FluxKind::GitRepository,
        FluxKind::OCIRepository,
        FluxKind::HelmRepository,
        FluxKind::HelmChart,
        FluxKind::Bucket,
    ];

    /// The source kinds, in `flux get sources all` order.
    pub const SOURCES: [FluxKind; 5] = [
        FluxKind::GitRepository,
        FluxKind::OCIRepository,
        FluxKind::HelmRepository,
        FluxKind::HelmChart,
        FluxKind::Bucket,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            FluxKind::Kustomization => "Kustomization",
            FluxKind::HelmRelease => "HelmRelease",
            FluxKind::GitRepository => "GitRepository",
            FluxKind::OCIRepository => "OCIRepository",
            FluxKind::HelmRepository => "HelmRepository",
            FluxKind::HelmChart => "HelmChart",
            FluxKind::Bucket => "Bucket",
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            FluxKind::Kustomization => "kustomize.toolkit.fluxcd.io",
            FluxKind::HelmRelease => "helm.toolkit.fluxcd.io",
            _ => "source.toolkit.fluxcd.io",
        }
    }

    /// The served version the verbs read and write (Flux 2.6+).
    pub fn version(self) -> &'static str {
        match self {
            FluxKind::HelmRelease => "v2",
            _ => "v1",
        }
    }

    /// What users type for it in `capstan get|reconcile|suspend|resume KIND`.
    pub fn short(self) -> &'static str {
        match self {
            FluxKind::Kustomization => "ks",
            FluxKind::HelmRelease => "hr",
            FluxKind::GitRepository => "source git",
            FluxKind::OCIRepository => "source oci",
            FluxKind::HelmRepository => "source helm",
            FluxKind::HelmChart => "source chart",
            FluxKind::Bucket => "source bucket",
        }
    }

    pub fn is_source(self) -> bool {
        Self::SOURCES.contains(&self)
    }

    /// Reads a kind as users write it: `ks`, `kustomization(s)`, `hr`, `helmrelease(s)`, `git`,
    /// `gitrepository`, `oci`, `helm`, `helmrepository`, `chart`, `bucket`, case-insensitively.
    pub fn parse(text: &str) -> Option<FluxKind> {
        let t = text.to_ascii_lowercase();
        let t = t
            .strip_suffix('s')
            .filter(|s| !s.is_empty() && *s != "k")
            .unwrap_or(&t);
        Some(match t {
            "ks" | "kustomization" => FluxKind::Kustomization,
            "hr" | "helmrelease" => FluxKind::HelmRelease,
            "git" | "gitrepository" | "gitrepo" => FluxKind::GitRepository,
            "oci" | "ocirepository" | "ocirepo" => FluxKind::OCIRepository,
            "helm" | "helmrepository" | "helmrepo" => FluxKind::HelmRepository,
            "chart" | "helmchart" => FluxKind::HelmChart,
            "bucket" => FluxKind::Bucket,
            _ => return None,
        })
    }

    /// The kind of a `Kind` string as the API writes it.
    pub fn of_kind(kind: &str) -> Option<FluxKind> {
        FluxKind::ALL.into_iter().find(|k| k.kind() == kind)
    }

    pub fn object(self, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            group: self.group().into(),
            version: self.version().into(),
            kind: self.kind().into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// Every kind `capstan get|reconcile…` accepts, for error messages.
pub fn known_kinds() -> &'static str {
    "ks, hr, source git|oci|helm|chart|bucket (or the Kind: Kustomization, HelmRelease, GitRepository…)"
}

/// A condition's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Condition {
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// The condition of `kind` in an object's status.
pub fn condition(object: &Value, kind: &str) -> Option<Condition> {
    crate::kstatus::condition(object, kind).map(|(status, reason, message)| Condition {
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
    })
}

/// Whether `spec.suspend` is set.
pub fn suspended(object: &Value) -> bool {
    object.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true)
}

/// The revision `flux get` shows: the applied revision of a Kustomization, the chart version of a
/// HelmRelease's latest release, a source's artifact revision.
pub fn revision(kind: FluxKind, object: &Value) -> String {
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).map(str::to_owned);
    match kind {
        FluxKind::Kustomization => {
            s("/status/lastAppliedRevision").or_else(|| s("/status/lastAttemptedRevision"))
        }
        FluxKind::HelmRelease => s("/status/history/0/chartVersion")
            .or_else(|| s("/status/lastAttemptedRevision"))
            .or_else(|| s("/status/lastAppliedRevision")),
        _ => s("/status/artifact/revision"),
    }
    .unwrap_or_default()
}

/// The object's `metadata.generation` and `status.observedGeneration`.
pub fn generations(object: &Value) -> (i64, i64) {
    let n = |p: &str| object.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    (n("/metadata/generation"), n("/status/observedGeneration"))
}

/// `metadata.namespace` and `metadata.name`.
pub fn namespace_name(object: &Value) -> (String, String) {
    let s = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_parse_as_users_type_them() {
        assert_eq!(FluxKind::parse("ks"), Some(FluxKind::Kustomization));
        assert_eq!(
            FluxKind::parse("Kustomizations"),
            Some(FluxKind::Kustomization)
        );
        assert_eq!(FluxKind::parse("hr"), Some(FluxKind::HelmRelease));
        assert_eq!(FluxKind::parse("git"), Some(FluxKind::GitRepository));
        assert_eq!(
            FluxKind::parse("OCIRepository"),
            Some(FluxKind::OCIRepository)
        );
        assert_eq!(FluxKind::parse("helmcharts"), Some(FluxKind::HelmChart));
        assert_eq!(FluxKind::parse("pods"), None);
    }

    #[test]
    fn revisions_per_kind() {
        let ks = json!({"status": {"lastAppliedRevision": "main@sha1:abc"}});
        assert_eq!(revision(FluxKind::Kustomization, &ks), "main@sha1:abc");
        let hr = json!({"status": {"history": [{"chartVersion": "1.2.3"}]}});
        assert_eq!(revision(FluxKind::HelmRelease, &hr), "1.2.3");
        let git = json!({"status": {"artifact": {"revision": "main@sha1:def"}}});
        assert_eq!(revision(FluxKind::GitRepository, &git), "main@sha1:def");
        assert_eq!(revision(FluxKind::Bucket, &json!({})), "");
    }

    #[test]
    fn ready_condition() {
        let o = json!({"status": {"conditions": [
            {"type": "Reconciling", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "boom"}]}});
        let c = condition(&o, "Ready").expect("ready");
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "BuildFailed")
        );
    }
}
