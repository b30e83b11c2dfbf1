//! `capstan why KIND/NAME`: walks source → dependencies → build → apply → health → events for a
//! Kustomization or HelmRelease (a source: its fetch) and names the first link that is stuck, with the commands that
//! show more. Exit 0 when nothing is stuck, 1 when something is.

use std::io::Write;

use capstan_cluster::verbs::kinds::FluxKind;
use capstan_cluster::verbs::why;
use clap::Args;

use super::{Connection, slash};
use crate::commands::Exit;

/// Flags of `capstan why`.
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The Kustomization or HelmRelease (`ks/apps`, `hr/web`), or a source (`gitrepository/fleet`).
    pub target: String,
    #[arg(short = 'n', long, default_value = "flux-system")]
    pub namespace: String,
    /// JSON instead of text.
    #[arg(short = 'o', long, value_parser = ["human", "json"], default_value = "human")]
    pub output: String,
    #[command(flatten)]
    pub connection: Connection,
}

pub fn run(args: &WhyArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (kind, name) = slash(&args.target)?;
    let kind = FluxKind::parse(&kind).ok_or_else(|| {
        anyhow::anyhow!(
            "why walks a Kustomization, a HelmRelease or a source (ks/NAME, hr/NAME, gitrepository/NAME…), not {kind:?}"
        )
    })?;
    let (runtime, api) = args.connection.connect()?;
    let d = runtime.block_on(why::why(&api, kind, &args.namespace, &name))?;
    if args.output == "json" {
        serde_json::to_writer_pretty(&mut *out, &d)?;
        writeln!(out)?;
    } else {
        for step in &d.steps {
            writeln!(
                out,
                "{} {}: {}",
                if step.ok { "✔" } else { "✗" },
                step.check,
                step.detail
            )?;
        }
        match &d.stuck {
            None => writeln!(out, "nothing is stuck")?,
            Some(stuck) => {
                writeln!(
                    out,
                    "\nstuck at {}: {}",
                    serde_json::to_value(stuck.link)?.as_str().unwrap_or(""),
                    stuck.message
                )?;
                writeln!(out, "more:")?;
                for cmd in &stuck.next {
                    writeln!(out, "  {cmd}")?;
                }
            }
        }
    }
    Ok(if d.stuck.is_some() {
        Exit::Findings
    } else {
        Exit::Clean
    })
}
