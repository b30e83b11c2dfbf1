//! `capstan kustomize DIR`: a drop-in for `kubectl kustomize` — the same stdout byte for byte,
//! a non-zero exit with kustomize's wording on failure.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use capstan_core::OsFs;
use capstan_kustomize::{LoadRestrictor, Options, Reorder};
use clap::{Args, ValueEnum};

use super::Exit;

/// Flags of `capstan kustomize`.
#[derive(Debug, Args)]
pub struct KustomizeArgs {
    /// The kustomization directory to build.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output order when the kustomization has no `sortOptions`.
    #[arg(long, value_enum, default_value = "legacy")]
    pub reorder: ReorderFlag,
    /// Which files a kustomization may read.
    #[arg(long, value_enum, default_value = "LoadRestrictionsRootOnly")]
    pub load_restrictor: LoadRestrictorFlag,
    /// Inflate `helmCharts` with the `helm` binary.
    #[arg(long)]
    pub enable_helm: bool,
    /// The helm command to run.
    #[arg(long, default_value = "helm")]
    pub helm_command: String,
    /// Accepted for compatibility; capstan never runs external plugins.
    #[arg(long)]
    pub enable_alpha_plugins: bool,
    /// Write the output to this file instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReorderFlag {
    Legacy,
    None,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LoadRestrictorFlag {
    #[value(name = "LoadRestrictionsRootOnly")]
    RootOnly,
    #[value(name = "LoadRestrictionsNone")]
    None,
}

pub fn run(args: KustomizeArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let options = Options {
        reorder: match args.reorder {
            ReorderFlag::Legacy => Reorder::Legacy,
            ReorderFlag::None => Reorder::None,
        },
        load_restrictor: match args.load_restrictor {
            LoadRestrictorFlag::RootOnly => LoadRestrictor::RootOnly,
            LoadRestrictorFlag::None => LoadRestrictor::None,
        },
        enable_helm: args.enable_helm,
        helm_command: args.helm_command,
        ..Options::default()
    };
    let resmap = capstan_kustomize::build(&OsFs, &args.dir, &options)?;
    let text = capstan_kustomize::render(&resmap);
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(Exit::Clean)
}
