//! `capstan suspend KIND NAME [--reason TEXT]` and `capstan resume KIND NAME`: flux's suspend and
//! resume, with the emergency override's audit trail. With `--reason`, suspend records who (the
//! kubeconfig user), when and why on the object and as an Event. Resume of a Kustomization first
//! compares the repository (`--path`) with the cluster: drift made while suspended is shown and the
//! resume refused until Git is aligned (`capstan drift --ks NAME -o patch`), unless `--force`,
//! which resumes anyway and records that it did.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use capstan_cluster::Engine;
use capstan_cluster::verbs::VerbError;
use capstan_cluster::verbs::kinds::FluxKind;
use capstan_cluster::verbs::reconcile::Options;
use capstan_cluster::verbs::suspend::{self, Alignment, Override};
use clap::Args;

use super::{Connection, kind_and_name, now};
use crate::commands::Exit;
use crate::commands::live::{self, ClusterArgs};

/// Flags of `capstan suspend`.
#[derive(Debug, Args)]
pub struct SuspendArgs {
    /// What to suspend: `ks NAME`, `hr NAME`, `source git|oci|helm|chart|bucket NAME`.
    #[arg(required = true, num_args = 2..=3, value_name = "KIND NAME")]
    pub target: Vec<String>,
    #[arg(short = 'n', long, default_value = "flux-system")]
    pub namespace: String,
    /// Why (an emergency override): recorded with who and when on the object and as an Event,
    /// and listed by `capstan status` until the object is resumed.
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

/// Flags of `capstan resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// What to resume: `ks NAME`, `hr NAME`, `source git|oci|helm|chart|bucket NAME`.
    #[arg(required = true, num_args = 2..=3, value_name = "KIND NAME")]
    pub target: Vec<String>,
    #[arg(short = 'n', long, default_value = "flux-system")]
    pub namespace: String,
    /// The repository, to show drift made while the Kustomization was suspended.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The cluster folder when the repository holds several.
    #[arg(long)]
    pub cluster: Option<String>,
    /// An age identity file for SOPS (also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY).
    #[arg(long)]
    pub sops_age_key_file: Option<PathBuf>,
    /// Resume although drift was found or could not be checked (recorded on the object).
    #[arg(long)]
    pub force: bool,
    /// How long to wait for the controller, e.g. 90s, 5m.
    #[arg(long, default_value = "5m", value_parser = crate::commands::parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub connection: Connection,
}

pub fn suspend(args: &SuspendArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (kind, name) = kind_and_name(&args.target)?;
    let (runtime, api) = args.connection.connect()?;
    let who = Override {
        by: args.connection.who(),
        reason: args.reason.clone(),
    };
    let done = runtime.block_on(suspend::suspend(
        &api,
        kind,
        &args.namespace,
        &name,
        &who,
        &now(),
    ))?;
    let verb = if done.changed {
        "suspended"
    } else {
        "was already suspended"
    };
    writeln!(out, "✔ {} {}/{name} {verb}", kind.kind(), args.namespace)?;
    if let Some(reason) = &args.reason {
        writeln!(out, "  override recorded: by {}, reason: {reason}", who.by)?;
        writeln!(
            out,
            "  when done (resume shows the drift to align into Git first): capstan resume {} {name} -n {}",
            kind.short(),
            args.namespace
        )?;
    }
    Ok(Exit::Clean)
}

pub fn resume(args: &ResumeArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (kind, name) = kind_and_name(&args.target)?;
    let alignment = if kind == FluxKind::Kustomization {
        match drift_since(args, &name) {
            Ok(drifted) if drifted.is_empty() => {
                writeln!(
                    out,
                    "✔ no drift between {} and the cluster",
                    args.path.display()
                )?;
                Alignment::Aligned
            }
            Ok(drifted) => {
                writeln!(
                    out,
                    "drift made while {}/{name} was suspended:",
                    args.namespace
                )?;
                for line in &drifted {
                    writeln!(out, "  {line}")?;
                }
                if !args.force {
                    writeln!(out, "align Git with the cluster first:")?;
                    writeln!(
                        out,
                        "  capstan drift --ks {name} -n {} --path {} -o patch > align.patch && git apply align.patch",
                        args.namespace,
                        args.path.display()
                    )?;
                    writeln!(
                        out,
                        "then resume again, or pass --force to resume and let Git overwrite these changes"
                    )?;
                    return Ok(Exit::Findings);
                }
                writeln!(
                    out,
                    "--force: resuming; Git will overwrite these changes (recorded on the object)"
                )?;
                Alignment::Forced
            }
            Err(e) if args.force => {
                writeln!(
                    out,
                    "drift not checked ({e:#}); --force: resuming anyway (recorded on the object)"
                )?;
                Alignment::Forced
            }
            Err(e) => {
                anyhow::bail!(
                    "could not compare {} with the cluster before resuming: {e:#}\n(pass --path to the repository, or --force to resume without the check)",
                    args.path.display()
                );
            }
        }
    } else if args.force {
        Alignment::Forced
    } else {
        writeln!(
            out,
            "note: drift is compared for Kustomizations only; {} resumed without it",
            kind.kind()
        )?;
        Alignment::Aligned
    };
    let (runtime, api) = args.connection.connect()?;
    let options = Options {
        timeout: args.timeout,
        ..Options::default()
    };
    let how = suspend::Resumption {
        by: args.connection.who(),
        alignment,
    };
    match runtime.block_on(suspend::resume(
        &api,
        kind,
        &args.namespace,
        &name,
        &how,
        &options,
        &now,
    )) {
        Ok(done) => {
            writeln!(
                out,
                "✔ {} {}/{name} resumed and reconciled{}",
                kind.kind(),
                args.namespace,
                if done.row.revision.is_empty() {
                    String::new()
                } else {
                    format!(": revision {}", done.row.revision)
                }
            )?;
            Ok(Exit::Clean)
        }
        Err(VerbError::Failed { row }) => {
            writeln!(
                out,
                "✗ {} {}/{name} resumed; reconcile failed: {}: {}",
                kind.kind(),
                args.namespace,
                row.reason,
                row.message
            )?;
            Ok(Exit::Findings)
        }
        Err(e) => Err(e.into()),
    }
}

/// The objects of the Kustomization whose live state differs from the repository.
fn drift_since(args: &ResumeArgs, name: &str) -> anyhow::Result<Vec<String>> {
    let cluster_args = ClusterArgs {
        path: args.path.clone(),
        cluster: args.cluster.clone(),
        kubeconfig: args.connection.kubeconfig.clone(),
        context: args.connection.context.clone(),
        namespace: Some(args.namespace.clone()),
        all_namespaces: false,
        sops_age_key_file: args.sops_age_key_file.clone(),
    };
    let units = live::units(&cluster_args, Some(name))?;
    let runtime = live::runtime()?;
    let report = runtime.block_on(async {
        let cluster = live::connect(&cluster_args).await?;
        let mut engine = Engine::new(&cluster, capstan_cluster::Options::default());
        anyhow::Ok(engine.drift(&units).await)
    })?;
    if report.incomplete() && !report.has_drift() {
        anyhow::bail!("some objects could not be compared");
    }
    Ok(report
        .objects()
        .filter(|o| {
            !matches!(
                o.state,
                capstan_cluster::drift::State::InSync
                    | capstan_cluster::drift::State::Skipped { .. }
            )
        })
        .map(|o| {
            format!(
                "{} {}/{}: {}",
                o.object.kind,
                o.object.namespace,
                o.object.name,
                describe(&o.state)
            )
        })
        .collect())
}

fn describe(state: &capstan_cluster::drift::State) -> String {
    use capstan_cluster::drift::State;
    match state {
        State::InSync => "in sync".into(),
        State::Missing => "missing from the cluster".into(),
        State::Drifted { fields } => format!(
            "{} field(s) changed: {}",
            fields.len(),
            fields
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        State::Stale => "no longer in the repository (apply --prune deletes it)".into(),
        State::Skipped { .. } => "skipped".into(),
        State::Unknown { error } => format!("not compared: {error}"),
    }
}
