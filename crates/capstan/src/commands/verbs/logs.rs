//! `capstan logs [KIND/NAME]`: the Flux controllers' log lines about an object (or a kind, a
//! namespace, every namespace), filtered by level, in time order; `--follow` streams them.

use std::io::Write;

use anyhow::Context as _;
use capstan_cluster::verbs::kinds::{FluxKind, known_kinds};
use capstan_cluster::verbs::logs::{self, Entry, Filter, LEVELS, LogOptions};
use clap::Args;

use super::{Connection, slash};
use crate::commands::Exit;

/// Flags of `capstan logs`.
#[derive(Debug, Args)]
#[command(after_help = "\
The controllers are the Deployments labelled app.kubernetes.io/part-of=flux in --flux-namespace; \
one pod of each is read. Their JSON lines name the object they are about; other lines are counted, \
not shown. Without --follow the lines of every controller are merged in time order.

Examples:
  capstan logs ks/apps                      what kustomize-controller said about Kustomization apps
  capstan logs hr/web -n apps --level error the errors about HelmRelease apps/web
  capstan logs --kind GitRepository -A      every GitRepository, every namespace
  capstan logs -A --follow --since 5m       stream everything, starting five minutes back")]
pub struct LogsArgs {
    /// Only lines about this object (`ks/apps`, `hr/web`, `gitrepository/fleet`).
    #[arg(conflicts_with_all = ["kind", "name"])]
    pub target: Option<String>,
    /// Only lines about objects of this kind (`Kustomization`, `hr`, `GitRepository`…).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only lines about objects of this name.
    #[arg(long)]
    pub name: Option<String>,
    /// The namespace of the objects the lines are about.
    #[arg(
        short = 'n',
        long,
        default_value = "flux-system",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: String,
    /// Objects in every namespace, and lines about no object (controller start-up…).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// The namespace the Flux controllers run in.
    #[arg(long, default_value = "flux-system", value_name = "NAMESPACE")]
    pub flux_namespace: String,
    /// Only lines of this level.
    #[arg(long, value_parser = LEVELS)]
    pub level: Option<String>,
    /// The last N lines of each controller's log, counted before filtering (as flux and kubectl
    /// count them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub tail: Option<i64>,
    /// Only lines newer than this (a Go duration: 30s, 5m, 2h).
    #[arg(long, value_name = "DURATION", value_parser = crate::commands::parse_duration, conflicts_with = "since_time")]
    pub since: Option<std::time::Duration>,
    /// Only lines after this time (RFC 3339: 2026-12-04T18:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since_time: Option<capstan_cluster::verbs::Timestamp>,
    /// Keep streaming new lines until interrupted (or the controllers' pods go away).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// `json`: one JSON object per line (controller, ts, level, kind, namespace, name, msg, error).
    #[arg(short = 'o', long, value_parser = ["text", "json"], default_value = "text")]
    pub output: String,
    #[command(flatten)]
    pub connection: Connection,
}

fn parse_time(text: &str) -> Result<capstan_cluster::verbs::Timestamp, String> {
    text.parse()
        .map_err(|_| format!("not an RFC 3339 time: {text} (e.g. 2026-12-04T18:00:00Z)"))
}

/// The Kind a user's word names (`ks`, `hr`, `gitrepository`…), as the controllers log it.
fn kind_of(word: &str) -> anyhow::Result<String> {
    FluxKind::parse(word)
        .map(|k| k.kind().to_owned())
        .with_context(|| format!("unknown kind {word:?}; capstan knows {}", known_kinds()))
}

fn line(e: &Entry, output: &str) -> anyhow::Result<String> {
    if output == "json" {
        return Ok(serde_json::to_string(e)?);
    }
    let object = if e.kind.is_empty() && e.name.is_empty() {
        format!("[{}]", e.controller)
    } else {
        e.object()
    };
    let error = if e.error.is_empty() {
        String::new()
    } else {
        format!(": {}", e.error)
    };
    Ok(format!("{} {:<5} {object} {}{error}", e.ts, e.level, e.msg))
}

pub fn run(args: &LogsArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (kind, name) = match (&args.target, &args.kind) {
        (Some(t), _) => {
            let (kind, name) = slash(t)?;
            (Some(kind_of(&kind)?), Some(name))
        }
        (None, Some(k)) => (Some(kind_of(k)?), args.name.clone()),
        (None, None) => (None, args.name.clone()),
    };
    let filter = Filter {
        kind,
        name,
        namespace: (!args.all_namespaces).then(|| args.namespace.clone()),
        level: args.level.clone(),
    };
    let options = LogOptions {
        tail_lines: args.tail,
        // Rounded to the second, as flux does; `0s` asks for no limit.
        since_seconds: args
            .since
            .filter(|d| !d.is_zero())
            .map(|d| (d.as_secs_f64().round() as i64).max(1)),
        since_time: args.since_time,
        ..LogOptions::default()
    };
    let (runtime, api) = args.connection.connect()?;
    let controllers = runtime.block_on(logs::controllers(&api, &args.flux_namespace))?;
    let about = describe(&filter);
    if args.follow {
        let mut failed = None;
        let unread = runtime.block_on(logs::follow(
            &api,
            &args.flux_namespace,
            &controllers,
            &options,
            &filter,
            |e| {
                let written = line(e, &args.output)
                    .and_then(|l| Ok(writeln!(out, "{l}").and_then(|_| out.flush())?));
                match written {
                    Ok(()) => true,
                    Err(err) => {
                        failed = Some(err);
                        false
                    }
                }
            },
        ));
        if let Some(err) = failed {
            return Err(err.context("writing the log"));
        }
        return Ok(report_unread(&unread));
    }
    let collected = runtime.block_on(logs::collect(
        &api,
        &args.flux_namespace,
        &controllers,
        &options,
        &filter,
    ));
    for e in &collected.entries {
        writeln!(out, "{}", line(e, &args.output)?)?;
    }
    if collected.entries.is_empty() && args.output == "text" {
        let read: Vec<&str> = controllers
            .iter()
            .filter(|c| !collected.unread.iter().any(|u| u.controller == c.name))
            .map(|c| c.name.as_str())
            .collect();
        writeln!(
            out,
            "no log lines {about} among the {} lines read from {}",
            collected.lines,
            if read.is_empty() {
                "no controller".to_owned()
            } else {
                read.join(", ")
            }
        )?;
    }
    Ok(report_unread(&collected.unread))
}

/// What the filter asks for, in words.
fn describe(f: &Filter) -> String {
    let mut parts = Vec::new();
    match (&f.kind, &f.name) {
        (Some(k), Some(n)) => parts.push(format!("about {k} {n}")),
        (Some(k), None) => parts.push(format!("about {k} objects")),
        (None, Some(n)) => parts.push(format!("about objects named {n}")),
        (None, None) => {}
    }
    match &f.namespace {
        Some(ns) => parts.push(format!("in namespace {ns}")),
        None => parts.push("in any namespace".into()),
    }
    if let Some(l) = &f.level {
        parts.push(format!("at level {l}"));
    }
    parts.join(" ")
}

/// Controllers not read make the output incomplete: said on stderr, exit 1.
fn report_unread(unread: &[logs::Unread]) -> Exit {
    for u in unread {
        eprintln!(
            "warning: the log of {} was not read: {}",
            u.controller, u.why
        );
    }
    if unread.is_empty() {
        Exit::Clean
    } else {
        Exit::Findings
    }
}
