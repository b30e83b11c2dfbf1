//! Source resolution: which source a `sourceRef` names, and whether its artifact is this
//! repository (so discovery can follow the path) or something fetched from elsewhere.
//!
//! The bootstrap source — `GitRepository flux-system/flux-system` in a `flux bootstrap` repo, or
//! whatever the cluster's root Kustomization syncs from — is this repository whether it is
//! declared (gotk-sync.yaml) or only implied (Flux Operator's FluxInstance creates it at run
//! time). Another GitRepository whose URL is the bootstrap one's is the same repository.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{FluxKind, FluxObject, ObjectKey, SourceRef};

/// What a `sourceRef` resolves to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum SourceStatus {
    /// This repository: paths are followed from its root.
    Local { source: ObjectKey, implied: bool },
    /// A declared source whose artifact comes from elsewhere; paths are not followed.
    Remote { source: ObjectKey },
    /// Not declared anywhere in the cluster.
    Missing { source: ObjectKey },
    /// A source kind capstan does not model (e.g. `ExternalArtifact`, `HelmChart`).
    Unsupported {
        kind: String,
        namespace: String,
        name: String,
    },
}

impl SourceStatus {
    pub fn is_local(&self) -> bool {
        matches!(self, SourceStatus::Local { .. })
    }
}

impl fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceStatus::Local {
                source,
                implied: false,
            } => write!(f, "{source} (this repository)"),
            SourceStatus::Local {
                source,
                implied: true,
            } => write!(f, "{source} (this repository, implied)"),
            SourceStatus::Remote { source } => write!(f, "{source} (remote)"),
            SourceStatus::Missing { source } => write!(f, "{source} (missing)"),
            SourceStatus::Unsupported {
                kind,
                namespace,
                name,
            } => write!(f, "{kind}/{namespace}/{name} (unsupported kind)"),
        }
    }
}

/// The sources known so far and which of them are this repository.
#[derive(Debug, Clone, Default)]
pub struct SourceIndex {
    bootstrap: BTreeSet<ObjectKey>,
    declared: BTreeMap<ObjectKey, FluxObject>,
}

impl SourceIndex {
    /// An index whose bootstrap sources (this repository) are `bootstrap`.
    pub fn new(bootstrap: impl IntoIterator<Item = ObjectKey>) -> SourceIndex {
        SourceIndex {
            bootstrap: bootstrap.into_iter().collect(),
            declared: BTreeMap::new(),
        }
    }

    /// Records a declared source. Returns false when it is not a source kind.
    pub fn declare(&mut self, object: &FluxObject) -> bool {
        if !object.kind().is_source() {
            return false;
        }
        self.declared.insert(object.key(), object.clone());
        true
    }

    /// The bootstrap sources.
    pub fn bootstrap(&self) -> impl Iterator<Item = &ObjectKey> {
        self.bootstrap.iter()
    }

    /// True when `key` is a bootstrap source that no manifest declares.
    pub fn is_implied(&self, key: &ObjectKey) -> bool {
        self.bootstrap.contains(key) && !self.declared.contains_key(key)
    }

    fn bootstrap_urls(&self) -> BTreeSet<String> {
        self.bootstrap
            .iter()
            .filter_map(|key| self.declared.get(key))
            .filter_map(source_url)
            .map(|url| normalize_url(&url))
            .collect()
    }

    /// Resolves a reference made from an object in `referrer_namespace`.
    pub fn resolve(&self, reference: &SourceRef, referrer_namespace: &str) -> SourceStatus {
        let Some(key) = reference.key(referrer_namespace) else {
            return SourceStatus::Unsupported {
                kind: reference.kind.clone(),
                namespace: reference.namespace_or(referrer_namespace).to_owned(),
                name: reference.name.clone(),
            };
        };
        if !key.kind.is_source() {
            return SourceStatus::Unsupported {
                kind: reference.kind.clone(),
                namespace: key.namespace,
                name: key.name,
            };
        }
        if self.bootstrap.contains(&key) {
            let implied = !self.declared.contains_key(&key);
            return SourceStatus::Local {
                source: key,
                implied,
            };
        }
        match self.declared.get(&key) {
            Some(object) => {
                let same_repository = key.kind == FluxKind::GitRepository
                    && source_url(object)
                        .is_some_and(|url| self.bootstrap_urls().contains(&normalize_url(&url)));
                if same_repository {
                    SourceStatus::Local {
                        source: key,
                        implied: false,
                    }
                } else {
                    SourceStatus::Remote { source: key }
                }
            }
            None => SourceStatus::Missing { source: key },
        }
    }

    /// The declared sources, by key.
    pub fn declared(&self) -> &BTreeMap<ObjectKey, FluxObject> {
        &self.declared
    }
}

/// The URL a source fetches from.
pub fn source_url(object: &FluxObject) -> Option<String> {
    match object {
        FluxObject::GitRepository(o) => Some(o.spec.url.clone()),
        FluxObject::OciRepository(o) => Some(o.spec.url.clone()),
        FluxObject::HelmRepository(o) => Some(o.spec.url.clone()),
        FluxObject::Bucket(o) => Some(format!("{}/{}", o.spec.endpoint, o.spec.bucket_name)),
        _ => None,
    }
    .filter(|url| !url.is_empty())
}

/// A Git URL reduced to `host/path` so `https://github.com/o/r`, `ssh://git@github.com/o/r.git`
/// and `git@github.com:o/r` compare equal.
pub fn normalize_url(url: &str) -> String {
    let mut rest = url.trim();
    if let Some((_, after)) = rest.split_once("://") {
        rest = after;
    }
    let rest = match rest.split_once('@') {
        Some((user, after)) if !user.contains('/') => after,
        _ => rest,
    };
    // scp-like `host:owner/repo`
    let rest = match rest.split_once(':') {
        Some((host, path))
            if !path.starts_with(|c: char| c.is_ascii_digit()) && !host.contains('/') =>
        {
            format!("{host}/{path}")
        }
        _ => rest.to_owned(),
    };
    let rest = rest.trim_end_matches('/');
    rest.strip_suffix(".git")
        .unwrap_or(rest)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::yaml::parse_document;

    fn git(name: &str, url: &str) -> FluxObject {
        let text = format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: {name}, namespace: flux-system}}\nspec: {{url: '{url}'}}\n"
        );
        FluxObject::from_value(&parse_document(&text).unwrap())
            .unwrap()
            .unwrap()
    }

    fn reference(kind: &str, name: &str) -> SourceRef {
        SourceRef {
            kind: kind.into(),
            name: name.into(),
            ..SourceRef::default()
        }
    }

    #[test]
    fn bootstrap_source_is_local_declared_or_implied() {
        let bootstrap = ObjectKey::new(FluxKind::GitRepository, "flux-system", "flux-system");
        let mut index = SourceIndex::new([bootstrap.clone()]);
        assert_eq!(
            index.resolve(&reference("GitRepository", "flux-system"), "flux-system"),
            SourceStatus::Local {
                source: bootstrap.clone(),
                implied: true
            }
        );
        index.declare(&git("flux-system", "ssh://git@github.com/Org/Repo.git"));
        assert!(!index.is_implied(&bootstrap));
        index.declare(&git("same", "https://github.com/org/repo"));
        index.declare(&git("other", "https://github.com/org/other"));
        assert!(
            index
                .resolve(&reference("GitRepository", "same"), "flux-system")
                .is_local()
        );
        assert!(matches!(
            index.resolve(&reference("GitRepository", "other"), "flux-system"),
            SourceStatus::Remote { .. }
        ));
        assert!(matches!(
            index.resolve(&reference("GitRepository", "flux-system"), "apps"),
            SourceStatus::Missing { .. }
        ));
        assert!(matches!(
            index.resolve(&reference("ExternalArtifact", "x"), "apps"),
            SourceStatus::Unsupported { .. }
        ));
    }

    #[test]
    fn normalizes_git_urls() {
        assert_eq!(
            normalize_url("git@github.com:org/repo.git"),
            "github.com/org/repo"
        );
        assert_eq!(
            normalize_url("ssh://git@github.com/org/repo"),
            "github.com/org/repo"
        );
        assert_eq!(
            normalize_url("https://github.com/Org/Repo/"),
            "github.com/org/repo"
        );
        assert_eq!(
            normalize_url("ssh://git@host:2222/org/repo"),
            "host:2222/org/repo"
        );
    }
}
