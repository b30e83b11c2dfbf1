//! The command line, as clap structures. Resolution of flags into settings happens in each
//! command's module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A GitOps engine for Kubernetes that reads Flux repositories unchanged.
///
/// capstan discovers, renders, checks and diffs a Flux-style cluster repository offline, and
/// classifies every change as Bootstrap or GitOps phase with its risk and approval.
#[derive(Debug, Parser)]
#[command(
    name = "capstan",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version and exit.
    Version,
    /// Build a kustomization directory, as `kubectl kustomize` does.
    Kustomize(crate::commands::kustomize::KustomizeArgs),
    /// List the Flux objects a repository declares, as `flux get` lists them in a cluster.
    Get(GetArgs),
    /// Show the dependsOn graph of Kustomizations and HelmReleases: apply waves, cycles, and
    /// dependencies, sources and paths that are missing.
    Graph(GraphArgs),
}

/// What `capstan get` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetKind {
    /// Flux Kustomizations.
    #[value(name = "ks", alias = "kustomization", alias = "kustomizations")]
    Kustomizations,
    /// HelmReleases.
    #[value(name = "hr", alias = "helmrelease", alias = "helmreleases")]
    HelmReleases,
    /// GitRepository, OCIRepository, HelmRepository and Bucket sources.
    #[value(name = "sources", alias = "source")]
    Sources,
    /// All of the above.
    All,
}

/// Output formats of `capstan get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetFormat {
    Table,
    Wide,
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The kind of object to list.
    #[arg(value_enum)]
    pub kind: GetKind,
    /// Only the object with this name.
    pub name: Option<String>,
    /// The repository (or a folder in it) to read.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Only objects in this namespace.
    #[arg(
        short = 'n',
        long,
        default_value = "flux-system",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: String,
    /// Objects in every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: GetFormat,
}

/// Output formats of `capstan graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The repository (or a folder in it) to read.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: GraphFormat,
}
