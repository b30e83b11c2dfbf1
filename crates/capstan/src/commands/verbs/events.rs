//! `capstan events [KIND/NAME]`: the Events of a namespace (or `-A`), or of one object, oldest
//! first, as `flux events` and `kubectl get events` show them.

use std::io::Write;

use capstan_cluster::verbs::events::{self, For};
use capstan_cluster::verbs::kinds::FluxKind;
use capstan_cluster::verbs::trace::api_version_of;
use clap::Args;

use super::{Connection, cell, slash, table};
use crate::commands::Exit;

/// Flags of `capstan events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only Events about this object (`ks/apps`, `hr/web`, `Pod/web-1`).
    pub target: Option<String>,
    #[arg(
        short = 'n',
        long,
        default_value = "flux-system",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: String,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// JSON instead of a table.
    #[arg(short = 'o', long, value_parser = ["table", "json"], default_value = "table")]
    pub output: String,
    #[command(flatten)]
    pub connection: Connection,
}

pub fn run(args: &EventsArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (kind, name) = match &args.target {
        Some(t) => {
            let (kind, name) = slash(t)?;
            let kind = FluxKind::parse(&kind)
                .map(|k| k.kind().to_owned())
                .or_else(|| api_version_of(&kind).map(|(_, k)| k.to_owned()))
                .unwrap_or(kind);
            (Some(kind), Some(name))
        }
        None => (None, None),
    };
    let filter = For {
        namespace: (!args.all_namespaces).then(|| args.namespace.clone()),
        kind,
        name,
    };
    let (runtime, api) = args.connection.connect()?;
    let rows = runtime.block_on(events::events(&api, &filter))?;
    if args.output == "json" {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
        return Ok(Exit::Clean);
    }
    if rows.is_empty() {
        writeln!(
            out,
            "no events{}",
            if args.all_namespaces {
                String::new()
            } else {
                format!(" in namespace {} (-A for every namespace)", args.namespace)
            }
        )?;
        return Ok(Exit::Clean);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|e| {
            let mut r = Vec::new();
            if args.all_namespaces {
                r.push(e.namespace.clone());
            }
            r.extend([
                e.last_seen.clone(),
                e.kind.clone(),
                e.reason.clone(),
                e.object.clone(),
                cell(&e.message, 100),
            ]);
            r
        })
        .collect();
    let mut header = Vec::new();
    if args.all_namespaces {
        header.push("NAMESPACE");
    }
    header.extend(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
    write!(out, "{}", table(&header, &cells))?;
    Ok(Exit::Clean)
}
