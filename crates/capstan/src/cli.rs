//! The command line, as clap structures. Resolution of flags into settings happens in each
//! command's module.

use clap::{Parser, Subcommand};

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
}
