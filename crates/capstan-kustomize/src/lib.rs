//! A pure kustomize v5.6 engine.
//!
//! Reads a kustomization through [`capstan_core::Fs`], runs kustomize's generators and
//! transformers in kustomize's order, and returns the resulting objects as a [`ResMap`];
//! [`render`] prints them exactly as `kubectl kustomize` does.
//!
//! ```no_run
//! use std::path::Path;
//! let fs = capstan_core::OsFs;
//! let resmap = capstan_kustomize::build(&fs, Path::new("deploy/overlay"), &Default::default())?;
//! print!("{}", capstan_kustomize::render(&resmap));
//! # Ok::<(), capstan_kustomize::Error>(())
//! ```
//!
//! Module map: [`loader`] (files, restrictions, cycles, remote bases) → [`target`] (one
//! kustomization: resources, generators, components, transformers) → [`transformers`] (the
//! built-in pipeline) → [`hash`], [`name_reference`] → [`sort`].

pub mod annotations;
pub mod config;
pub mod crds;
pub mod default_fieldspecs;
pub mod dotted_path;
pub mod error;
pub mod fieldpath;
pub mod generator;
pub mod hash;
pub mod helm;
pub mod images;
pub mod json6902;
pub mod kustomization;
pub mod labels;
pub mod loader;
pub mod name_reference;
pub mod namespace;
pub mod openapi;
pub mod origin;
pub mod patch;
pub mod plugins;
pub mod prefix_suffix;
pub mod remote;
pub mod replacements;
pub mod replicas;
pub mod resid;
pub mod resmap;
pub mod resource;
pub mod selector;
pub mod smp;
pub mod sort;
pub mod target;
pub mod transformations;
pub mod transformers;
pub mod vars;

use std::path::{Path, PathBuf};

use capstan_core::Fs;

pub use error::{Error, Result};
pub use kustomization::Kustomization;
pub use resid::{Gvk, ResId};
pub use resmap::ResMap;
pub use resource::Resource;

/// The output order when the kustomization has no `sortOptions` (`--reorder`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reorder {
    /// kustomize's legacy kind order (the `kubectl kustomize` default).
    #[default]
    Legacy,
    /// Input order.
    None,
}

/// Which files a kustomization may read (`--load-restrictor`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoadRestrictor {
    /// Only files in or below the kustomization's directory (`LoadRestrictionsRootOnly`).
    #[default]
    RootOnly,
    /// Any file (`LoadRestrictionsNone`).
    None,
}

/// Settings that change how a build behaves (`kubectl kustomize` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub reorder: Reorder,
    pub load_restrictor: LoadRestrictor,
    /// Run `helmCharts` through the `helm` binary (`--enable-helm`).
    pub enable_helm: bool,
    /// The `helm` command to run (`--helm-command`).
    pub helm_command: String,
    /// Where remote resources are cached; `None` for the default beside the chart cache
    /// ([`remote::cache_dir`]).
    pub remote_cache: Option<PathBuf>,
    /// Read remote resources from the cache only; a miss is an error naming the URL.
    pub offline: bool,
    /// The run's record of the network's reachability, shared with its other fetchers.
    pub network: std::sync::Arc<capstan_core::network::Reachability>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            reorder: Reorder::Legacy,
            load_restrictor: LoadRestrictor::RootOnly,
            enable_helm: false,
            helm_command: "helm".to_owned(),
            remote_cache: None,
            offline: false,
            network: std::sync::Arc::default(),
        }
    }
}

/// Builds the kustomization in `dir`, as `kubectl kustomize DIR` does.
pub fn build(fs: &dyn Fs, dir: &Path, options: &Options) -> Result<ResMap> {
    let loader = loader::Loader::new(fs, dir, options)?;
    let mut target = target::Target::load(loader)?;
    let mut resmap = target::make_customized_resmap(&mut target)?;
    sort::apply(
        &mut resmap,
        target.kustomization.sort_options.as_ref(),
        options.reorder,
    )?;
    origin::finish(&mut resmap, &target.kustomization.build_metadata);
    transformations::finish(&mut resmap, &target.kustomization.build_metadata);
    if target
        .kustomization
        .build_metadata
        .iter()
        .any(|b| b == "managedByLabel")
    {
        transformations::managed_by(&mut resmap);
    }
    Ok(resmap)
}

/// Prints a build result as `kubectl kustomize` prints it: documents in order, separated by
/// `---`, in kustomize's YAML form.
pub fn render(resmap: &ResMap) -> String {
    capstan_core::yaml::to_yaml_stream(resmap.objects())
}
