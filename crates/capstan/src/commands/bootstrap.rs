//! `capstan bootstrap plan|apply|status`: the repository's bootstrap plan (`bootstrap.yaml`)
//! checked before anything is touched, and each step shown done / pending / changed against the
//! journal. `plan` exits 0 when every step is done, 1 when some step would run, 2 when the
//! plan has problems (each printed with file, document and field). `apply --dry-run` lists the
//! steps a run would execute, in order; `apply` runs them through
//! `capstan_cluster::bootstrap` (exit 1 when a step failed); `status` shows the journal and
//! re-checks every step's health gate (exit 1 when one is not green).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::bail;
use capstan_cluster::bootstrap::{
    BootstrapError, RunEvent, Selection, Settings, StepRun, StepRunOutcome,
};
use capstan_core::OsFs;
use capstan_flux::bootstrap::{
    self, LoadError, ProcessMachine, ResolvedPlan, StepState, plan_status, render,
};
use capstan_flux::charts::Charts;
use capstan_flux::helm::HelmBinary;
use capstan_flux::sops::Keys;
use clap::{Args, Subcommand, ValueEnum};

use super::Exit;

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(subcommand)]
    pub command: BootstrapCommand,
}

#[derive(Debug, Subcommand)]
pub enum BootstrapCommand {
    /// Check the plan and show every step as done, pending or changed (and why), in order.
    Plan(PlanArgs),
    /// [cluster] Run the steps that are not done, in order, each gated on health; a run that was
    /// interrupted resumes at the step that did not finish.
    Apply(ApplyArgs),
    /// [cluster] Show the journal and re-check every step's health gate (exit 1 when one is not
    /// green): the check list after a power outage.
    Status(StatusArgs),
}

/// Output formats of `capstan bootstrap plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// The repository holding bootstrap.yaml.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Do not check the machine (talosctl, talhelper, op, environment variables, SOPS keys):
    /// for CI, where the plan is read but never run.
    #[arg(long)]
    pub skip_machine_checks: bool,
    /// An age key file for SOPS sources (also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY).
    #[arg(long)]
    pub sops_age_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: PlanFormat,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Show the steps that would run, in order, and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start at this step (it and every step after it in run order).
    #[arg(long, conflicts_with = "only")]
    pub from: Option<String>,
    /// Run only this step.
    #[arg(long)]
    pub only: Option<String>,
    #[command(flatten)]
    pub cluster: ConnectArgs,
    /// The helm binary that renders charts (also CAPSTAN_HELM; else helm on PATH).
    #[arg(long)]
    pub helm_binary: Option<PathBuf>,
    #[command(flatten)]
    pub charts: super::build::ChartArgs,
}

/// The cluster, when the plan has no talos step (with one, the kubeconfig it fetched).
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The kubeconfig file (default: the talos step's fetched kubeconfig, else $KUBECONFIG,
    /// ~/.kube/config, in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub cluster: ConnectArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: StatusFormat,
}

/// Output formats of `capstan bootstrap status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
}

pub fn run(args: BootstrapArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match args.command {
        BootstrapCommand::Plan(args) => plan(&args, out),
        BootstrapCommand::Apply(args) => apply(&args, out),
        BootstrapCommand::Status(args) => status(&args, out),
    }
}

fn load(common: &CommonArgs) -> anyhow::Result<Result<ResolvedPlan, Vec<String>>> {
    let keys;
    let machine = if common.skip_machine_checks {
        None
    } else {
        keys = Keys::from_process_env_and_file(common.sops_age_key_file.as_deref(), &OsFs)?;
        Some((&ProcessMachine as &dyn bootstrap::Machine, &keys))
    };
    match bootstrap::load(&OsFs, &common.path, machine) {
        Ok(plan) => Ok(Ok(plan)),
        Err(LoadError::Invalid(errors)) => Ok(Err(errors.iter().map(|e| e.to_string()).collect())),
        Err(LoadError::Parse(e)) => Ok(Err(vec![e.to_string()])),
        Err(e) => Err(e.into()),
    }
}

fn plan(args: &PlanArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let plan = match load(&args.common)? {
        Ok(plan) => plan,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            bail!(
                "{} problem(s) in the bootstrap plan; nothing was touched",
                errors.len()
            );
        }
    };
    let journal = bootstrap::read_local_journal(&OsFs, &args.common.path, &plan.plan)?;
    let status = plan_status(&plan, &journal);
    let text = match args.output {
        PlanFormat::Text => render::text(&plan, &status),
        PlanFormat::Dot => render::dot(&status),
        PlanFormat::Mermaid => render::mermaid(&status),
        PlanFormat::Json => render::json(&plan, &status),
    };
    out.write_all(text.as_bytes())?;
    Ok(if status.iter().all(|s| s.state == StepState::Done) {
        Exit::Clean
    } else {
        Exit::Findings
    })
}

fn apply(args: &ApplyArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let selection = match (&args.from, &args.only) {
        (Some(from), _) => Selection::From(from.clone()),
        (None, Some(only)) => Selection::Only(only.clone()),
        (None, None) => Selection::All,
    };
    if args.dry_run {
        return dry_run(args, &selection, out);
    }
    let (mut settings, stop) = settings(&args.common, &args.cluster, selection)?;
    settings.helm = HelmBinary::find(args.helm_binary.as_deref())
        .map(|h| Arc::new(h) as Arc<dyn capstan_flux::helm::HelmRenderer>);
    settings.charts = args.charts.fetcher();
    let printer = Arc::new(Mutex::new(std::io::stderr()));
    settings.progress = Some(Arc::new(move |event: &RunEvent| {
        let mut err = printer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = match event {
            RunEvent::Started { step, kind, why } => {
                writeln!(err, "running {step} ({kind}): {why}")
            }
            RunEvent::Finished(run) => writeln!(err, "{}", run_line(run)),
            RunEvent::Warning(w) => writeln!(err, "warning: {w}"),
        };
        stop(event);
    }));
    let runtime = super::live::runtime()?;
    let report = match runtime.block_on(capstan_cluster::bootstrap::apply(&settings)) {
        Ok(report) => report,
        Err(BootstrapError::Load(e)) => return plan_problems(e),
        Err(e) => return Err(e.into()),
    };
    for run in &report.steps {
        writeln!(out, "{}", run_line(run))?;
    }
    let skipped = report
        .steps
        .iter()
        .filter(|s| matches!(s.outcome, StepRunOutcome::Skipped { .. }))
        .count();
    writeln!(
        out,
        "summary: {} ran, {} skipped (done), {}",
        report.ran(),
        skipped,
        if report.failed() {
            "a step failed"
        } else {
            "no failures"
        }
    )?;
    Ok(if report.failed() {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

fn run_line(run: &StepRun) -> String {
    match &run.outcome {
        StepRunOutcome::Skipped { reason } => format!("skipped {}: {reason}", run.step),
        StepRunOutcome::Succeeded { summary } => format!(
            "done {} ({}, {:.1}s): {summary}",
            run.step, run.kind, run.seconds
        ),
        StepRunOutcome::Failed { message } => format!(
            "failed {} ({}, {:.1}s): {message}",
            run.step, run.kind, run.seconds
        ),
        StepRunOutcome::NotRun { reason } => format!("not run {}: {reason}", run.step),
    }
}

/// Prints the plan's problems (file, document, field) and fails.
fn plan_problems(e: LoadError) -> anyhow::Result<Exit> {
    match e {
        LoadError::Invalid(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            bail!(
                "{} problem(s) in the bootstrap plan; nothing was touched",
                errors.len()
            );
        }
        other => Err(other.into()),
    }
}

/// A hook for the tests that kill a run at a step boundary: with
/// `CAPSTAN_BOOTSTRAP_TEST_PAUSE=start:STEP` (or `end:STEP`) the process says `paused` on
/// stderr when STEP was recorded as started (ended) and waits to be killed.
fn pause_hook() -> impl Fn(&RunEvent) + Send + Sync + 'static {
    let target = std::env::var("CAPSTAN_BOOTSTRAP_TEST_PAUSE").ok();
    move |event: &RunEvent| {
        let Some(target) = &target else { return };
        let at = match event {
            RunEvent::Started { step, .. } => format!("start:{step}"),
            RunEvent::Finished(run) => format!("end:{}", run.step),
            RunEvent::Warning(_) => return,
        };
        if &at == target {
            eprintln!("paused at {at}");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
    }
}

type Hook = Box<dyn Fn(&RunEvent) + Send + Sync>;

fn settings(
    common: &CommonArgs,
    cluster: &ConnectArgs,
    selection: Selection,
) -> anyhow::Result<(Settings, Hook)> {
    let keys = Keys::from_process_env_and_file(common.sops_age_key_file.as_deref(), &OsFs)?;
    Ok((
        Settings {
            root: common.path.clone(),
            kubeconfig: cluster.kubeconfig.clone(),
            context: cluster.context.clone(),
            selection,
            keys,
            check_machine: !common.skip_machine_checks,
            machine: Arc::new(ProcessMachine),
            helm: None,
            charts: Arc::new(Charts::new(None, true)),
            poll: std::time::Duration::from_secs(2),
            progress: None,
        },
        Box::new(pause_hook()),
    ))
}

fn status(args: &StatusArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (settings, _) = settings(&args.common, &args.cluster, Selection::All)?;
    let runtime = super::live::runtime()?;
    let report = match runtime.block_on(capstan_cluster::bootstrap::status(&settings)) {
        Ok(report) => report,
        Err(BootstrapError::Load(e)) => return plan_problems(e),
        Err(e) => return Err(e.into()),
    };
    match args.output {
        StatusFormat::Json => {
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        }
        StatusFormat::Text => {
            writeln!(
                out,
                "bootstrap plan {} (journal: {})",
                report.plan,
                report.journal.join(", ")
            )?;
            for step in &report.steps {
                let outcome = match step.outcome {
                    Some(o) => format!("{o:?}").to_lowercase(),
                    None => "never run".into(),
                };
                writeln!(
                    out,
                    "{} {} ({}): {}, last run {}{}",
                    if step.green() { "ok  " } else { "FAIL" },
                    step.step,
                    step.kind,
                    step.state.as_str(),
                    outcome,
                    step.finished_at
                        .as_ref()
                        .map(|t| format!(" at {t}"))
                        .unwrap_or_default()
                )?;
                for gate in &step.gates {
                    writeln!(
                        out,
                        "    {} {}: {}",
                        if gate.healthy { "green" } else { "red  " },
                        gate.object,
                        gate.message
                    )?;
                }
            }
            let red = report.steps.iter().filter(|s| !s.green()).count();
            writeln!(
                out,
                "summary: {} step(s), {}",
                report.steps.len(),
                if red == 0 {
                    "every gate green".to_owned()
                } else {
                    format!("{red} with a gate not green")
                }
            )?;
        }
    }
    Ok(if report.green() {
        Exit::Clean
    } else {
        Exit::Findings
    })
}

fn dry_run(args: &ApplyArgs, selection: &Selection, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let plan = match load(&args.common)? {
        Ok(plan) => plan,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            bail!(
                "{} problem(s) in the bootstrap plan; nothing was touched",
                errors.len()
            );
        }
    };
    for name in args.from.iter().chain(&args.only) {
        if plan.step(name).is_none() {
            bail!("no step is named {name:?} in {}", plan.plan.file.display());
        }
    }
    let journal = bootstrap::read_local_journal(&OsFs, &args.common.path, &plan.plan)?;
    let status = plan_status(&plan, &journal);
    let selected = capstan_cluster::bootstrap::select(&status, selection)?;
    for s in &selected {
        writeln!(
            out,
            "would run {} ({}): {}",
            s.name,
            s.kind,
            s.state.as_str()
        )?;
    }
    if selected.is_empty() {
        writeln!(out, "every step is done; nothing would run")?;
    }
    Ok(Exit::Clean)
}
