//! `check` over a repository in one call: read its `.capstan.yaml`, build it with
//! `capstan-flux` (as `capstan build all` does: charts through the same fetcher and cache), map
//! the typed outcome to units ([`crate::from_build`]) and run every schema and rule over them.

use std::path::{Path, PathBuf};

use capstan_core::Fs;
use capstan_flux::build::{BuildError, BuildOptions, build_all};

use crate::check::{DEFAULT_KUBE_VERSION, Sources, rule_ids};
use crate::config::{Config, ConfigError};
use crate::{Report, check, input_of, schema};

/// Why a repository could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error("{}: cannot read: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("building {}: {source}", .path.display())]
    Build {
        path: PathBuf,
        #[source]
        source: BuildError,
    },
    #[error(transparent)]
    Schema(#[from] schema::Error),
    /// Nothing to check: saying "0 errors" about it would be a clean verdict about nothing.
    #[error("{}", capstan_flux::discovery::nothing_to_discover(.path))]
    NoFluxObjects { path: PathBuf },
}

/// Checks the repository at `root` (an absolute path `fs` reads). `kube_version` overrides
/// `check.kubeVersion` of `.capstan.yaml` (default [`DEFAULT_KUBE_VERSION`]).
pub fn check_repository(
    fs: &dyn Fs,
    root: &Path,
    build: &BuildOptions,
    kube_version: Option<&str>,
) -> Result<Report, RepositoryError> {
    let config = read_config(fs, root)?;
    let kube_version = kube_version
        .map(str::to_owned)
        .or_else(|| config.kube_version.clone())
        .unwrap_or_else(|| DEFAULT_KUBE_VERSION.to_owned());
    let report = build_all(fs, root, build).map_err(|source| RepositoryError::Build {
        path: root.to_path_buf(),
        source,
    })?;
    if report.kustomizations.is_empty() && report.helm_releases.is_empty() {
        return Err(RepositoryError::NoFluxObjects {
            path: root.to_path_buf(),
        });
    }
    let input = input_of(&report);
    let sources = Sources {
        fs,
        root: root.to_path_buf(),
    };
    Ok(check(&input, &config, &kube_version, Some(&sources))?)
}

/// The `check` section of `.capstan.yaml` at the repository root (defaults when absent).
pub fn read_config(fs: &dyn Fs, root: &Path) -> Result<Config, RepositoryError> {
    let path = root.join(".capstan.yaml");
    if !fs.is_file(&path) {
        return Ok(Config::default());
    }
    let text = fs
        .read_to_string(&path)
        .map_err(|source| RepositoryError::Read { path, source })?;
    Ok(Config::parse(&text, &rule_ids())?)
}
