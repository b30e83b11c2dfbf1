//! Sources whose content the user has checked out locally: `--source KIND/NS/NAME=PATH` on the
//! command line, or the `sources` map of the repository's `.capstan.yaml`.
//!
//! A GitRepository, OCIRepository or Bucket that Flux fetches from another repository (the
//! tenants' OCI artifacts of a fleet, an infrastructure repository a cluster repository points
//! at) is not rendered by default: capstan cannot know its content. Mapping it to a folder says
//! where that content is, as flux-local's `--sources` does; the Kustomizations that read it are
//! then discovered, built and checked from that folder, their `spec.path` resolved under it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan_core::Value;

use crate::model::{FluxKind, ObjectKey};

/// A `--source` value or `.capstan.yaml` entry that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalSourceError {
    #[error(
        "{text:?}: expected KIND/NAMESPACE/NAME=PATH (e.g. GitRepository/flux-system/infra=../infra)"
    )]
    Syntax { text: String },
    #[error(
        "{text:?}: {kind:?} is not a source kind with content (GitRepository, OCIRepository or Bucket)"
    )]
    Kind { text: String, kind: String },
    #[error("{text:?}: {reason}")]
    Name { text: String, reason: String },
    #[error("{}: document 0, field {field}: {message}", .file.display())]
    Config {
        file: PathBuf,
        field: String,
        message: String,
    },
    #[error("{key} is mapped twice: to {} and to {}", .first.display(), .second.display())]
    Twice {
        key: ObjectKey,
        first: PathBuf,
        second: PathBuf,
    },
}

/// The sources mapped to local folders, by key. An absolute path is a folder anywhere (another
/// checkout); a relative one is a folder of the repository itself, relative to the path
/// discovery is given ([`LocalSources::under`]), so each side of a diff maps its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalSources {
    map: BTreeMap<ObjectKey, PathBuf>,
}

impl LocalSources {
    /// No mappings.
    pub fn none() -> LocalSources {
        LocalSources::default()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The folder `key` is mapped to.
    pub fn get(&self, key: &ObjectKey) -> Option<&Path> {
        self.map.get(key).map(PathBuf::as_path)
    }

    /// Every mapping, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &Path)> {
        self.map.iter().map(|(k, p)| (k, p.as_path()))
    }

    /// Adds one mapping; the same source mapped to two different folders is refused.
    pub fn insert(&mut self, key: ObjectKey, path: PathBuf) -> Result<(), LocalSourceError> {
        let path = capstan_core::fs::normalize(&path);
        match self.map.get(&key) {
            Some(first) if *first != path => Err(LocalSourceError::Twice {
                key,
                first: first.clone(),
                second: path,
            }),
            _ => {
                self.map.insert(key, path);
                Ok(())
            }
        }
    }

    /// The mappings with relative folders joined to `base` (the path discovery reads).
    pub fn under(&self, base: &Path) -> LocalSources {
        let map = self
            .map
            .iter()
            .map(|(key, path)| {
                let path = if path.is_absolute() {
                    path.clone()
                } else {
                    capstan_core::fs::normalize(&base.join(path))
                };
                (key.clone(), path)
            })
            .collect();
        LocalSources { map }
    }

    /// Adds the mappings of `other` that this one does not have (the command line's win over
    /// the repository's file).
    pub fn or(mut self, other: LocalSources) -> LocalSources {
        for (key, path) in other.map {
            self.map.entry(key).or_insert(path);
        }
        self
    }

    /// Reads `KIND/NAMESPACE/NAME=PATH`.
    pub fn parse_one(text: &str) -> Result<(ObjectKey, PathBuf), LocalSourceError> {
        let (reference, path) = text
            .split_once('=')
            .filter(|(r, p)| !r.trim().is_empty() && !p.trim().is_empty())
            .ok_or_else(|| LocalSourceError::Syntax {
                text: text.to_owned(),
            })?;
        let key = parse_key(text, reference.trim())?;
        Ok((key, PathBuf::from(path.trim())))
    }
}

/// The `sources` map of a repository's `.capstan.yaml` (`file`, its text `text`):
///
/// ```yaml
/// sources:
///   OCIRepository/cert-manager/infra: ../d2-infra/components/cert-manager
/// ```
///
/// Each folder is relative to the file's own folder. A file without `sources` maps nothing.
pub fn from_config(file: &Path, text: &str) -> Result<LocalSources, LocalSourceError> {
    let config_error = |field: String, message: String| LocalSourceError::Config {
        file: file.to_path_buf(),
        field,
        message,
    };
    let value = capstan_core::yaml::parse_document(text)
        .map_err(|e| config_error("sources".to_owned(), format!("not valid YAML: {e}")))?;
    let mut sources = LocalSources::none();
    let map = match value.get("sources") {
        None | Some(Value::Null) => return Ok(sources),
        Some(map) => map.as_object().ok_or_else(|| {
            config_error(
                "sources".to_owned(),
                "expected a map of KIND/NAMESPACE/NAME to a folder".to_owned(),
            )
        })?,
    };
    let base = file.parent().unwrap_or(Path::new("."));
    for (reference, folder) in map {
        let field = format!("sources.{reference}");
        let key = parse_key(reference, reference)
            .map_err(|e| config_error(field.clone(), e.to_string()))?;
        let Some(folder) = folder.as_str().filter(|f| !f.trim().is_empty()) else {
            return Err(config_error(
                field,
                "expected a folder (a string)".to_owned(),
            ));
        };
        sources
            .insert(key, base.join(folder.trim()))
            .map_err(|e| config_error(field, e.to_string()))?;
    }
    Ok(sources)
}

/// Reads `KIND/NAMESPACE/NAME` (the kind as in a `sourceRef`, case-insensitive).
pub fn parse_key(text: &str, reference: &str) -> Result<ObjectKey, LocalSourceError> {
    let parts: Vec<&str> = reference.split('/').collect();
    let [kind, namespace, name] = parts.as_slice() else {
        return Err(LocalSourceError::Syntax {
            text: text.to_owned(),
        });
    };
    let kind = match kind.to_ascii_lowercase().as_str() {
        "gitrepository" | "git" => FluxKind::GitRepository,
        "ocirepository" | "oci" => FluxKind::OciRepository,
        "bucket" => FluxKind::Bucket,
        _ => {
            return Err(LocalSourceError::Kind {
                text: text.to_owned(),
                kind: (*kind).to_owned(),
            });
        }
    };
    for (what, value) in [("namespace", namespace), ("name", name)] {
        let valid = !value.is_empty()
            && value.len() <= 253
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !value.starts_with(['-', '.'])
            && !value.ends_with(['-', '.']);
        if !valid {
            return Err(LocalSourceError::Name {
                text: text.to_owned(),
                reason: format!("{what} {value:?} is not a Kubernetes name"),
            });
        }
    }
    Ok(ObjectKey::new(kind, *namespace, *name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kind_namespace_name_and_path() {
        let (key, path) =
            LocalSources::parse_one("OCIRepository/cert-manager/infra=../d2-infra/x").unwrap();
        assert_eq!(
            key,
            ObjectKey::new(FluxKind::OciRepository, "cert-manager", "infra")
        );
        assert_eq!(path, PathBuf::from("../d2-infra/x"));
        let (key, _) = LocalSources::parse_one("git/flux-system/apps=.").unwrap();
        assert_eq!(key.kind, FluxKind::GitRepository);
    }

    #[test]
    fn refuses_what_does_not_read() {
        for bad in [
            "GitRepository/apps=../x",
            "GitRepository/a/b",
            "=x",
            "GitRepository/a/b=",
        ] {
            assert!(
                matches!(
                    LocalSources::parse_one(bad),
                    Err(LocalSourceError::Syntax { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            LocalSources::parse_one("HelmRepository/a/b=x"),
            Err(LocalSourceError::Kind { .. })
        ));
        assert!(matches!(
            LocalSources::parse_one("GitRepository/A/b=x"),
            Err(LocalSourceError::Name { .. })
        ));
    }

    #[test]
    fn reads_the_sources_of_capstan_yaml() {
        let file = Path::new("repo/.capstan.yaml");
        let sources = from_config(
            file,
            "check: {kubeVersion: '1.33'}\nsources:\n  GitRepository/flux-system/infra: ../infra\n",
        )
        .unwrap();
        let key = ObjectKey::new(FluxKind::GitRepository, "flux-system", "infra");
        assert_eq!(sources.get(&key), Some(Path::new("infra")));
        assert!(from_config(file, "plan: {}\n").unwrap().is_empty());
        let bad = from_config(file, "sources:\n  Git/x: ../infra\n").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "repo/.capstan.yaml: document 0, field sources.Git/x: \"Git/x\": expected KIND/NAMESPACE/NAME=PATH (e.g. GitRepository/flux-system/infra=../infra)"
        );
        let bad = from_config(file, "sources: [a]\n").unwrap_err();
        assert!(
            bad.to_string().contains("field sources: expected a map"),
            "{bad}"
        );
    }

    #[test]
    fn one_source_one_folder() {
        let key = ObjectKey::new(FluxKind::GitRepository, "a", "b");
        let mut sources = LocalSources::none();
        sources.insert(key.clone(), "x/".into()).unwrap();
        sources.insert(key.clone(), "x".into()).unwrap();
        assert!(sources.insert(key.clone(), "y".into()).is_err());
        let other = {
            let mut o = LocalSources::none();
            o.insert(key.clone(), "z".into()).unwrap();
            o
        };
        assert_eq!(sources.or(other).get(&key), Some(Path::new("x")));
    }
}
