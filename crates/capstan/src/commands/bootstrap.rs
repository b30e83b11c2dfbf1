//! `capstan bootstrap plan|apply`: the repository's bootstrap plan (`bootstrap.yaml`) checked
//! before anything is touched, and each step shown done / pending / changed against the
//! journal. `plan` exits 0 when every step is done, 1 when some step would run, 2 when the
//! plan has problems (each printed with file, document and field). `apply --dry-run` lists the
//! steps a run would execute, in order; a live `apply` needs the cluster runner.

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use capstan_core::OsFs;
use capstan_flux::bootstrap::{
    self, LoadError, ProcessMachine, ResolvedPlan, StepState, plan_status, render,
};
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
    /// Run the steps that are not done, in order, each gated on health.
    Apply(ApplyArgs),
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
}

pub fn run(args: BootstrapArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match args.command {
        BootstrapCommand::Plan(args) => plan(&args, out),
        BootstrapCommand::Apply(args) => apply(&args, out),
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
    let start = args
        .from
        .as_ref()
        .and_then(|from| status.iter().position(|s| &s.name == from))
        .unwrap_or(0);
    let selected: Vec<_> = status
        .iter()
        .skip(start)
        .filter(|s| args.only.as_ref().is_none_or(|only| &s.name == only))
        .filter(|s| args.only.is_some() || args.from.is_some() || s.state != StepState::Done)
        .collect();
    if !args.dry_run {
        bail!(
            "the live bootstrap runner is not in this build; `capstan bootstrap apply --dry-run` shows what it would run"
        );
    }
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
