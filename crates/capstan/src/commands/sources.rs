//! `--source KIND/NS/NAME=PATH` on every command that renders a repository offline, resolved
//! together with the `sources` map of the repository's `.capstan.yaml` into the
//! [`LocalSources`] discovery follows (see `docs/capstan-yaml.md`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use capstan_flux::source::LocalSources;
use capstan_flux::source::local::from_config;
use clap::Args;

/// Where the content of sources from elsewhere is checked out.
#[derive(Debug, Clone, Default, Args)]
pub struct SourceArgs {
    /// Render a GitRepository, OCIRepository or Bucket that Flux fetches from elsewhere from a
    /// local folder: KIND/NAMESPACE/NAME=PATH (repeatable; PATH relative to the working
    /// directory). Adds to, and wins over, the `sources` of the repository's .capstan.yaml.
    #[arg(long = "source", value_name = "KIND/NS/NAME=PATH")]
    pub sources: Vec<String>,
}

impl SourceArgs {
    /// The mappings of the flags, then of `.capstan.yaml` at `repository` or the nearest folder
    /// above it that has one (up to the Git work tree's root).
    /// A folder inside `repository` is kept relative to it (each side of a diff then maps its
    /// own); any other is absolute.
    pub fn resolve(&self, repository: &Path) -> anyhow::Result<LocalSources> {
        let inside = std::fs::canonicalize(repository).ok();
        let placed = |absolute: PathBuf| -> PathBuf {
            match inside
                .as_deref()
                .and_then(|r| absolute.strip_prefix(r).ok())
            {
                Some(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
                Some(relative) => relative.to_path_buf(),
                None => absolute,
            }
        };
        let mut flags = LocalSources::none();
        for text in &self.sources {
            // flux-local's `--sources NAME[=PATH]`: the kind and namespace are missing
            let name = text.split_once('=').map_or(text.as_str(), |(name, _)| name);
            anyhow::ensure!(
                name.contains('/'),
                "--source {text}: expected KIND/NAMESPACE/NAME=PATH, e.g. \
                 GitRepository/flux-system/{name}=./k8s (flux-local's `--sources {text}`); the \
                 repository's own GitRepository needs no --source"
            );
            let (key, path) = LocalSources::parse_one(text).context("--source")?;
            let absolute = std::fs::canonicalize(&path).with_context(|| {
                format!(
                    "--source {text}: {} is not a readable folder",
                    path.display()
                )
            })?;
            anyhow::ensure!(
                absolute.is_dir(),
                "--source {text}: {} is not a folder",
                path.display()
            );
            flags.insert(key, placed(absolute)).context("--source")?;
        }
        let Some(file) = config_file(repository) else {
            return Ok(flags);
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("{}: cannot read", file.display()))?;
        let mut configured = LocalSources::none();
        for (key, path) in from_config(&file, &text)?.iter() {
            let absolute = std::fs::canonicalize(path)
                .ok()
                .filter(|p| p.is_dir())
                .with_context(|| {
                    format!(
                        "{}: document 0, field sources.{key}: {} is not a folder",
                        file.display(),
                        path.display()
                    )
                })?;
            configured.insert(key.clone(), placed(absolute))?;
        }
        Ok(flags.or(configured))
    }
}

/// The `.capstan.yaml` that applies to `path`: its own, else the nearest above it, stopping at
/// the Git work tree's root.
fn config_file(path: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(path).ok()?;
    for dir in start.ancestors() {
        let file = dir.join(".capstan.yaml");
        if file.is_file() {
            return Some(file);
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}
