//! `capstan apply ks NAME|all`: what `build` renders, applied to the cluster by server-side
//! apply in Flux's stages — only drifted objects are sent — then pruned (`--prune`) and waited
//! for (`--wait`). Prints one line per Kustomization and a summary; exit 1 when any failed.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use capstan_cluster::engine::{Action, Event, Outcome, Protected, UnitReport};
use capstan_cluster::{Engine, Options};
use clap::{Args, ValueEnum};

use super::Exit;
use super::live::{self, ClusterArgs};

/// What `capstan apply` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyKind {
    /// One Flux Kustomization (NAME).
    #[value(name = "ks", alias = "kustomization")]
    Kustomization,
    /// Every Kustomization, in dependency waves.
    All,
}

/// Kinds prune leaves alone unless named here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtectedKind {
    Namespace,
    Pvc,
    Crd,
}

/// Flags of `capstan apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[arg(value_enum)]
    pub kind: ApplyKind,
    /// The Kustomization (with `ks`).
    pub name: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Ask the server what would change (server-side dry-run); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete what the previous apply recorded and the repository no longer renders (only for
    /// Kustomizations with spec.prune: true).
    #[arg(long)]
    pub prune: bool,
    /// Also prune these kinds, which are kept by default (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub prune_protected: Vec<ProtectedKind>,
    /// Wait for every applied object to be ready, whatever spec.wait says.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait for health (default: each Kustomization's spec.timeout), e.g. 5m.
    #[arg(long, value_parser = super::parse_duration)]
    pub timeout: Option<Duration>,
    /// A field manager whose changes capstan takes over, as it does kubectl's: its fields are
    /// folded into capstan's and reverted or removed as Git says (repeatable;
    /// kustomize-controller's flag of the same name). Other managers' fields stay theirs.
    #[arg(long = "override-manager", value_name = "NAME")]
    pub override_managers: Vec<String>,
}

pub fn run(args: ApplyArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let name = match (args.kind, &args.name) {
        (ApplyKind::Kustomization, None) => {
            anyhow::bail!("apply ks needs a NAME (or use `apply all`)")
        }
        (ApplyKind::All, Some(n)) => anyhow::bail!("apply all takes no NAME (got {n})"),
        (_, n) => n.as_deref(),
    };
    let units = live::units(&args.cluster, name)?;
    // progress on a terminal only, never in CI (crate::terminal)
    let progress = crate::terminal::get().progress.then(|| {
        Arc::new(|event: &Event| match event {
            Event::UnitStarted { owner, objects } => {
                eprintln!("▸ {}/{}: {objects} objects", owner.namespace, owner.name)
            }
            Event::Waiting { owner, pending } => eprintln!(
                "  {}/{}: waiting for {pending} objects",
                owner.namespace, owner.name
            ),
            _ => {}
        }) as capstan_cluster::engine::Progress
    });
    let options = Options {
        dry_run: args.dry_run,
        prune: args.prune,
        allow_prune: Protected {
            namespaces: args.prune_protected.contains(&ProtectedKind::Namespace),
            pvcs: args.prune_protected.contains(&ProtectedKind::Pvc),
            crds: args.prune_protected.contains(&ProtectedKind::Crd),
        },
        wait: args.wait,
        timeout: args.timeout,
        progress,
        prune_orphans: args.kind == ApplyKind::All && args.cluster.namespace.is_none(),
        override_managers: args.override_managers,
        // The commit being applied, for dependsOn's same-source revision rule; none outside git.
        revision: capstan_core::git::resolve_revision(&args.cluster.path, "HEAD")
            .ok()
            .map(|commit| format!("sha1:{commit}")),
        ..Options::default()
    };
    let runtime = live::runtime()?;
    let reports = runtime.block_on(async {
        let cluster = live::connect(&args.cluster).await?;
        let mut engine = Engine::new(&cluster, options);
        anyhow::Ok(engine.apply_all(&units).await)
    })?;
    print(&reports, args.dry_run, out)?;
    Ok(
        if reports
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Ready | Outcome::Suspended))
        {
            Exit::Clean
        } else {
            Exit::Findings
        },
    )
}

fn print(reports: &[UnitReport], dry_run: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let suffix = if dry_run { " (server dry run)" } else { "" };
    let mut totals = [0usize; 5];
    for report in reports {
        let counts = [
            report.count(Action::Created),
            report.count(Action::Configured),
            report.count(Action::Unchanged),
            report.pruned.len(),
            report.kept.len(),
        ];
        for (t, c) in totals.iter_mut().zip(counts) {
            *t += c;
        }
        let state = match &report.outcome {
            Outcome::Ready => "ready".to_owned(),
            Outcome::Failed => "FAILED".to_owned(),
            Outcome::Suspended => "suspended (not applied)".to_owned(),
            Outcome::DependencyNotReady(deps) => format!(
                "not applied: dependency not ready ({})",
                deps.iter()
                    .map(|d| format!("{}/{}", d.namespace, d.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        writeln!(
            out,
            "{}/{}: {state}: {} created, {} configured, {} unchanged, {} pruned, {} kept{suffix}",
            report.owner.namespace,
            report.owner.name,
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4]
        )?;
        for o in &report.objects {
            if o.action == Action::Failed {
                let file = o
                    .file
                    .as_ref()
                    .map(|f| format!(" ({})", f.display()))
                    .unwrap_or_default();
                let error = o
                    .error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| "failed".into());
                let fields = o
                    .error
                    .as_ref()
                    .filter(|e| !e.fields.is_empty())
                    .map(|e| format!(" [field {}]", e.fields.join(", ")))
                    .unwrap_or_default();
                writeln!(out, "  ✗ {}{file}: {error}{fields}", o.object)?;
            } else if o.recreated {
                writeln!(
                    out,
                    "  ↻ {} recreated (immutable field changed, force enabled)",
                    o.object
                )?;
            }
        }
        for o in &report.pruned {
            writeln!(out, "  - {o} pruned")?;
        }
        for k in &report.kept {
            let why = match k.reason {
                capstan_cluster::engine::KeptReason::PruneOff => {
                    "no longer rendered; kept (prune with --prune and spec.prune: true)".to_owned()
                }
                capstan_cluster::engine::KeptReason::NotOwned => {
                    "not pruned: its owner labels name another Kustomization".to_owned()
                }
                capstan_cluster::engine::KeptReason::Disabled => {
                    "not pruned: prune disabled on the object".to_owned()
                }
                capstan_cluster::engine::KeptReason::Protected => {
                    "kept: Namespaces, PVCs and CRDs are pruned only with --prune-protected"
                        .to_owned()
                }
                capstan_cluster::engine::KeptReason::DeleteFailed => format!(
                    "delete failed ({}); stays in the inventory",
                    k.error
                        .as_ref()
                        .map(|e| e.message.as_str())
                        .unwrap_or("unknown")
                ),
                capstan_cluster::engine::KeptReason::ApplyFailed => {
                    "not pruned: the apply failed".to_owned()
                }
            };
            writeln!(out, "  = {} {why}", k.object)?;
        }
        for e in &report.errors {
            writeln!(out, "  ✗ {e}")?;
        }
        for note in &report.notes {
            writeln!(out, "  · {note}")?;
        }
    }
    writeln!(
        out,
        "summary: {} created, {} configured, {} unchanged, {} pruned, {} kept{suffix}",
        totals[0], totals[1], totals[2], totals[3], totals[4]
    )
}
