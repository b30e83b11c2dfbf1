//! `capstan status`: the whole cluster on one screen — nodes, Flux objects not Ready, suspended
//! objects and open overrides with their age, failed Helm releases, Namespaces stuck
//! Terminating, PVCs not Bound, and drift when `--path` names the repository. Exit 1 when
//! something needs attention (a section that could not be read counts).

use std::io::Write;
use std::path::PathBuf;

use capstan_cluster::Engine;
use capstan_cluster::verbs::status::{self, DriftState, Status};
use clap::Args;

use super::{Connection, cell};
use crate::commands::Exit;
use crate::commands::live::{self, ClusterArgs};

/// Flags of `capstan status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The repository: compare it with the cluster and list drift (without it, drift is not checked).
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// The cluster folder when the repository holds several.
    #[arg(long)]
    pub cluster: Option<String>,
    /// JSON instead of text.
    #[arg(short = 'o', long, value_parser = ["human", "json"], default_value = "human")]
    pub output: String,
    #[command(flatten)]
    pub connection: Connection,
}

pub fn run(args: &StatusArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let drift = match &args.path {
        None => DriftState::NotChecked {
            why: "no --path given; `capstan status --path REPO` compares the repository with the cluster".into(),
        },
        Some(path) => match drift(args, path) {
            Ok(d) => d,
            Err(e) => DriftState::NotChecked { why: format!("{e:#}") },
        },
    };
    let (runtime, api) = args.connection.connect()?;
    let now = super::now();
    let status = runtime.block_on(status::status(&api, drift));
    if args.output == "json" {
        serde_json::to_writer_pretty(&mut *out, &status)?;
        writeln!(out)?;
    } else {
        human(&status, &now, out)?;
    }
    Ok(if status.needs_attention() {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

fn drift(args: &StatusArgs, path: &std::path::Path) -> anyhow::Result<DriftState> {
    let cluster_args = ClusterArgs {
        path: path.to_path_buf(),
        cluster: args.cluster.clone(),
        kubeconfig: args.connection.kubeconfig.clone(),
        context: args.connection.context.clone(),
        namespace: None,
        all_namespaces: true,
        sops_age_key_file: None,
    };
    let units = live::units(&cluster_args, None)?;
    let runtime = live::runtime()?;
    let report = runtime.block_on(async {
        let cluster = live::connect(&cluster_args).await?;
        let mut engine = Engine::new(&cluster, capstan_cluster::Options::default());
        anyhow::Ok(engine.drift(&units).await)
    })?;
    use capstan_cluster::drift::State;
    let drifted = report
        .objects()
        .filter(|o| {
            matches!(
                o.state,
                State::Drifted { .. } | State::Missing | State::Stale
            )
        })
        .map(|o| format!("{} {}/{}", o.object.kind, o.object.namespace, o.object.name))
        .collect();
    let not_compared = report
        .objects()
        .filter(|o| matches!(o.state, State::Unknown { .. }))
        .count();
    Ok(DriftState::Compared {
        drifted,
        not_compared,
    })
}

/// How long ago an RFC 3339 time was, roughly (`3h`, `2d`).
fn age(since: &str, now: &str) -> String {
    let parse = |t: &str| t.parse::<capstan_cluster::verbs::Timestamp>().ok();
    match (parse(since), parse(now)) {
        (Some(a), Some(b)) => {
            let secs = b.as_second() - a.as_second();
            match secs {
                s if s < 120 => format!("{s}s"),
                s if s < 7200 => format!("{}m", s / 60),
                s if s < 172_800 => format!("{}h", s / 3600),
                s => format!("{}d", s / 86_400),
            }
        }
        _ => "?".into(),
    }
}

fn human(s: &Status, now: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let ready = s.nodes.iter().filter(|n| n.ready).count();
    if s.nodes.is_empty() {
        writeln!(out, "Nodes: none registered")?;
    } else {
        writeln!(out, "Nodes: {ready}/{} Ready", s.nodes.len())?;
    }
    for n in s.nodes.iter().filter(|n| !n.ready) {
        writeln!(out, "  ✗ {}: {}", n.name, cell(&n.message, 100))?;
    }
    if s.not_ready.is_empty() {
        writeln!(out, "Flux: every object Ready")?;
    } else {
        writeln!(out, "Flux: {} not Ready", s.not_ready.len())?;
        for r in &s.not_ready {
            writeln!(
                out,
                "  ✗ {} {}/{}: {} {}",
                r.kind.kind(),
                r.namespace,
                r.name,
                r.reason,
                cell(&r.message, 100)
            )?;
        }
    }
    for k in &s.not_served {
        writeln!(out, "  note: {} not served (CRD not installed)", k.kind())?;
    }
    if !s.suspended.is_empty() {
        writeln!(out, "Suspended: {}", s.suspended.len())?;
        for r in &s.suspended {
            match &r.over {
                Some(o) => writeln!(
                    out,
                    "  ⏸ {} {}/{}: override by {} {} ago: {}",
                    r.row.kind.kind(),
                    r.row.namespace,
                    r.row.name,
                    o.by,
                    age(&o.at, now),
                    o.reason
                )?,
                None => writeln!(
                    out,
                    "  ⏸ {} {}/{} (no override recorded)",
                    r.row.kind.kind(),
                    r.row.namespace,
                    r.row.name
                )?,
            }
        }
    }
    match &s.drift {
        DriftState::NotChecked { why } => writeln!(out, "Drift: not checked — {why}")?,
        DriftState::Compared {
            drifted,
            not_compared,
        } => {
            if drifted.is_empty() && *not_compared == 0 {
                writeln!(out, "Drift: none")?;
            } else {
                writeln!(
                    out,
                    "Drift: {} object(s){}",
                    drifted.len(),
                    if *not_compared > 0 {
                        format!(", {not_compared} not compared")
                    } else {
                        String::new()
                    }
                )?;
                for d in drifted {
                    writeln!(out, "  ~ {d}")?;
                }
                writeln!(out, "  see: capstan drift --path <repo>")?;
            }
        }
    }
    if !s.failed_releases.is_empty() {
        writeln!(out, "Helm releases failed: {}", s.failed_releases.len())?;
        for r in &s.failed_releases {
            writeln!(out, "  ✗ {}/{} revision {}", r.namespace, r.name, r.version)?;
        }
    }
    if !s.terminating_namespaces.is_empty() {
        writeln!(
            out,
            "Namespaces stuck Terminating: {}",
            s.terminating_namespaces.join(", ")
        )?;
    }
    if !s.unbound_claims.is_empty() {
        writeln!(out, "PVCs not Bound: {}", s.unbound_claims.len())?;
        for c in &s.unbound_claims {
            writeln!(out, "  ✗ {c}")?;
        }
    }
    for u in &s.unread {
        writeln!(out, "not read: {}: {}", u.section, u.error)?;
    }
    Ok(())
}
