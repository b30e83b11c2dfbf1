//! `capstan reconcile ks|hr|source KIND NAME`: requests a reconcile as flux does and waits until
//! the controller has handled it; exit 1 when the object is not Ready afterwards.

use std::io::Write;
use std::time::Duration;

use capstan_cluster::verbs::VerbError;
use capstan_cluster::verbs::reconcile::{self, Options};
use clap::Args;

use super::{Connection, kind_and_name, now};
use crate::commands::Exit;

/// Flags of `capstan reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// What to reconcile: `ks NAME`, `hr NAME`, `source git|oci|helm|chart|bucket NAME`.
    #[arg(required = true, num_args = 2..=3, value_name = "KIND NAME")]
    pub target: Vec<String>,
    /// The object's namespace.
    #[arg(short = 'n', long, default_value = "flux-system")]
    pub namespace: String,
    /// Reconcile the source first.
    #[arg(long)]
    pub with_source: bool,
    /// HelmRelease: force a one-off install or upgrade (reconcile.fluxcd.io/forceAt).
    #[arg(long)]
    pub force: bool,
    /// HelmRelease: reset the failure counters (reconcile.fluxcd.io/resetAt).
    #[arg(long)]
    pub reset: bool,
    /// How long to wait for the controller, e.g. 90s, 5m.
    #[arg(long, default_value = "5m", value_parser = crate::commands::parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub connection: Connection,
}

pub fn run(args: &ReconcileArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (kind, name) = kind_and_name(&args.target)?;
    let (runtime, api) = args.connection.connect()?;
    let options = Options {
        with_source: args.with_source,
        force: args.force,
        reset: args.reset,
        timeout: args.timeout,
        ..Options::default()
    };
    writeln!(
        out,
        "► annotating {} {}/{name}",
        kind.kind(),
        args.namespace
    )?;
    let done = match runtime.block_on(reconcile::reconcile(
        &api,
        kind,
        &args.namespace,
        &name,
        &options,
        &now,
    )) {
        Ok(done) => done,
        Err(VerbError::Failed { row }) => {
            writeln!(
                out,
                "✗ {} {}/{name} reconciled and failed: {}: {}",
                kind.kind(),
                args.namespace,
                row.reason,
                row.message
            )?;
            return Ok(Exit::Findings);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(source) = &done.source {
        writeln!(
            out,
            "✔ source {} {}/{} reconciled: {}",
            source.kind.kind(),
            source.namespace,
            source.name,
            source.revision
        )?;
    }
    writeln!(
        out,
        "✔ {} {}/{name} reconciled{}{}",
        kind.kind(),
        args.namespace,
        if done.row.revision.is_empty() {
            String::new()
        } else {
            format!(": revision {}", done.row.revision)
        },
        if done.row.message.is_empty() {
            String::new()
        } else {
            format!(" ({})", done.row.message)
        },
    )?;
    Ok(Exit::Clean)
}
