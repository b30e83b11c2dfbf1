//! `ExternalArtifact`s built by Flux's source-watcher `ArtifactGenerator`
//! (`source.extensions.fluxcd.io/v1beta1`): an artifact assembled from paths of other sources.
//!
//! When every source an artifact copies from is this repository, the artifact is a rearranged
//! view of it: [`ArtifactFs`] presents that view, so a Kustomization whose `sourceRef` is the
//! ExternalArtifact renders exactly the files the generator would copy. Supported copy rules:
//! `@alias/dir/**` (a tree, into `to/`), `@alias/path` (one file or directory) and `@alias/dir/*`
//! with an extension glob such as `*.yaml` (the matching files).

use std::io;
use std::path::{Component, Path, PathBuf};

use capstan_core::fs::normalize;
use capstan_core::{Fs, Value};

use crate::model::SourceRef;

/// One `copy` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRule {
    /// The source alias the rule copies from.
    pub alias: String,
    /// The path in that source, without the glob.
    pub from: PathBuf,
    /// What the glob selects.
    pub selection: Selection,
    /// The destination in the artifact.
    pub to: PathBuf,
    /// True when `to` ends with `/` (copy *into* it).
    pub into: bool,
}

/// What part of `from` a rule copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `from` itself (a file, or a directory with everything below it).
    Path,
    /// `from/**`: everything below the directory.
    Tree,
    /// `from/*SUFFIX`: the files directly in the directory whose names end with SUFFIX.
    Files(String),
}

/// An artifact a generator declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedArtifact {
    pub namespace: String,
    pub name: String,
    /// The generator's name.
    pub generator: String,
    /// Alias → source reference.
    pub sources: Vec<(String, SourceRef)>,
    pub copy: Vec<CopyRule>,
}

/// Reads the artifacts of an ArtifactGenerator manifest; rules that do not parse are errors.
pub fn generated_artifacts(
    generator: &Value,
    namespace: &str,
) -> Result<Vec<GeneratedArtifact>, String> {
    let name = generator
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut sources = Vec::new();
    for source in generator
        .pointer("/spec/sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let alias = source
            .get("alias")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let reference: SourceRef =
            serde_json::from_value(source.clone()).map_err(|e| format!("spec.sources: {e}"))?;
        sources.push((alias, reference));
    }
    let mut out = Vec::new();
    for artifact in generator
        .pointer("/spec/artifacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let artifact_name = artifact
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut copy = Vec::new();
        for rule in artifact
            .get("copy")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let from = rule.get("from").and_then(Value::as_str).unwrap_or_default();
            let to = rule.get("to").and_then(Value::as_str).unwrap_or_default();
            copy.push(parse_rule(from, to).ok_or_else(|| {
                format!("artifact {artifact_name}: unsupported copy from {from} to {to}")
            })?);
        }
        out.push(GeneratedArtifact {
            namespace: namespace.to_owned(),
            name: artifact_name,
            generator: name.clone(),
            sources: sources.clone(),
            copy,
        });
    }
    Ok(out)
}

fn parse_rule(from: &str, to: &str) -> Option<CopyRule> {
    let from = from.strip_prefix('@')?;
    let (alias, path) = from.split_once('/').unwrap_or((from, ""));
    let to_path = to.strip_prefix("@artifact")?;
    let into = to_path.ends_with('/') || to_path.is_empty();
    let to = relative_clean(to_path)?;
    let (from, selection) = if let Some(dir) =
        path.strip_suffix("/**")
            .or(if path == "**" { Some("") } else { None })
    {
        (dir, Selection::Tree)
    } else if let Some((dir, pattern)) = path
        .rsplit_once('/')
        .or(Some(("", path)))
        .filter(|(_, p)| p.starts_with('*'))
    {
        let suffix = pattern.strip_prefix('*')?;
        if suffix.contains(['*', '?', '[']) {
            return None;
        }
        (dir, Selection::Files(suffix.to_owned()))
    } else {
        if path.contains(['*', '?', '[']) {
            return None;
        }
        (path, Selection::Path)
    };
    Some(CopyRule {
        alias: alias.to_owned(),
        from: relative_clean(from)?,
        selection,
        to,
        into,
    })
}

/// A relative path without `.`/`..` escaping; `None` when it escapes.
fn relative_clean(path: &str) -> Option<PathBuf> {
    let normalized = normalize(Path::new(path.trim_start_matches('/')));
    if normalized
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return None;
    }
    Some(if normalized == Path::new(".") {
        PathBuf::new()
    } else {
        normalized
    })
}

/// A read-only view of an artifact: paths under `root` map to the real files the copy rules
/// select. Rules apply in order; a later rule's files win over an earlier one's at the same path.
pub struct ArtifactFs<'a> {
    inner: &'a dyn Fs,
    root: PathBuf,
    /// (destination in the artifact, real path, selection, whether the destination is a directory)
    mounts: Vec<(PathBuf, PathBuf, Selection)>,
}

impl<'a> ArtifactFs<'a> {
    /// A view rooted at `root` (a path that does not exist in `inner`), with each rule's alias
    /// already resolved to the real directory it reads from.
    pub fn new(inner: &'a dyn Fs, root: PathBuf, rules: &[(CopyRule, PathBuf)]) -> ArtifactFs<'a> {
        let mut mounts = Vec::new();
        for (rule, source_root) in rules {
            let real = normalize(&source_root.join(&rule.from));
            let destination = match rule.selection {
                Selection::Path if rule.into => rule
                    .to
                    .join(rule.from.file_name().map(PathBuf::from).unwrap_or_default()),
                _ => rule.to.clone(),
            };
            mounts.push((destination, real, rule.selection.clone()));
        }
        ArtifactFs {
            inner,
            root: normalize(&root),
            mounts,
        }
    }

    fn relative(&self, path: &Path) -> Option<PathBuf> {
        let path = normalize(path);
        path.strip_prefix(&self.root).ok().map(Path::to_path_buf)
    }

    /// The real path behind an artifact path, when one rule maps it.
    pub fn real_path(&self, path: &Path) -> Option<PathBuf> {
        let relative = self.relative(path)?;
        for (destination, real, selection) in self.mounts.iter().rev() {
            let Ok(rest) = relative.strip_prefix(destination) else {
                continue;
            };
            let candidate = if rest.as_os_str().is_empty() {
                real.clone()
            } else {
                real.join(rest)
            };
            let selected = match selection {
                Selection::Path | Selection::Tree => true,
                Selection::Files(suffix) => {
                    rest.components().count() == 1
                        && rest.to_str().is_some_and(|n| n.ends_with(suffix.as_str()))
                        && self.inner.is_file(&candidate)
                }
            };
            if selected && self.inner.exists(&candidate) {
                return Some(candidate);
            }
        }
        None
    }

    /// True when `path` is a directory only because a mount lies below it.
    fn is_mount_parent(&self, path: &Path) -> bool {
        self.relative(path).is_some_and(|relative| {
            self.mounts.iter().any(|(destination, _, _)| {
                destination.starts_with(&relative) && *destination != relative
            })
        })
    }
}

impl Fs for ArtifactFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.real_path(path) {
            Some(real) => self.inner.read(&real),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: not in the artifact", path.display()),
            )),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.is_mount_parent(path)
            || self
                .real_path(path)
                .is_some_and(|real| self.inner.is_dir(&real))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.real_path(path)
            .is_some_and(|real| self.inner.is_file(&real))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let Some(relative) = self.relative(path) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: not in the artifact", path.display()),
            ));
        };
        let base = normalize(path);
        let mut entries = Vec::new();
        for (destination, _, _) in &self.mounts {
            if let Ok(rest) = destination.strip_prefix(&relative)
                && let Some(first) = rest.components().next()
            {
                entries.push(base.join(first));
            }
        }
        if let Some(real) = self.real_path(path).filter(|real| self.inner.is_dir(real)) {
            for entry in self.inner.read_dir(&real)? {
                if let Some(name) = entry.file_name() {
                    let virtual_entry = base.join(name);
                    if self.exists(&virtual_entry) {
                        entries.push(virtual_entry);
                    }
                }
            }
        }
        if entries.is_empty() && !self.is_dir(path) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: not in the artifact", path.display()),
            ));
        }
        entries.sort();
        entries.dedup();
        Ok(entries)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        if self.exists(path) {
            Ok(normalize(path))
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: not in the artifact", path.display()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::MemFs;

    #[test]
    fn parses_copy_rules() {
        let rule = parse_rule("@repo/apps/base/**", "@artifact/base/").unwrap();
        assert_eq!(
            (rule.alias.as_str(), rule.from.as_path(), rule.to.as_path()),
            ("repo", Path::new("apps/base"), Path::new("base"))
        );
        assert_eq!(rule.selection, Selection::Tree);
        assert_eq!(
            parse_rule("@repo/x/*.yaml", "@artifact/")
                .unwrap()
                .selection,
            Selection::Files(".yaml".into())
        );
        assert_eq!(
            parse_rule("@repo/x/file.yaml", "@artifact/y/")
                .unwrap()
                .selection,
            Selection::Path
        );
        assert!(parse_rule("@repo/../etc/**", "@artifact/").is_none());
        assert!(parse_rule("repo/x", "@artifact/").is_none());
    }

    #[test]
    fn artifact_view_maps_paths() {
        let fs = MemFs::from_files([
            ("apps/base/app/kustomization.yaml", "resources: [cm.yaml]"),
            ("apps/base/app/cm.yaml", "x"),
            (
                "apps/production/kustomization.yaml",
                "resources: [../base/app]",
            ),
            ("infra/a.yaml", "a"),
            ("infra/b.txt", "b"),
        ]);
        let rules = [
            (
                parse_rule("@repo/apps/base/**", "@artifact/base/").unwrap(),
                PathBuf::from("."),
            ),
            (
                parse_rule("@repo/apps/production/**", "@artifact/production/").unwrap(),
                PathBuf::from("."),
            ),
            (
                parse_rule("@repo/infra/*.yaml", "@artifact/infra/").unwrap(),
                PathBuf::from("."),
            ),
        ];
        let view = ArtifactFs::new(&fs, PathBuf::from("@artifact"), &rules);
        assert!(view.is_dir(Path::new("@artifact")));
        assert_eq!(
            view.read_to_string(Path::new("@artifact/base/app/cm.yaml"))
                .unwrap(),
            "x"
        );
        assert!(view.is_file(Path::new(
            "@artifact/production/../base/app/kustomization.yaml"
        )));
        assert!(view.is_file(Path::new("@artifact/infra/a.yaml")));
        assert!(!view.exists(Path::new("@artifact/infra/b.txt")));
        assert_eq!(
            view.read_dir(Path::new("@artifact")).unwrap(),
            vec![
                PathBuf::from("@artifact/base"),
                PathBuf::from("@artifact/infra"),
                PathBuf::from("@artifact/production")
            ]
        );
        assert_eq!(
            view.real_path(Path::new("@artifact/base/app/cm.yaml")),
            Some(PathBuf::from("apps/base/app/cm.yaml"))
        );
    }
}
