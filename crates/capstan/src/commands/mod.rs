//! One module per command; each writes to the `impl Write` it is given and returns the exit code.

use std::io::Write;

use crate::cli::{Cli, Command};

mod app;
pub mod apply;
pub mod bootstrap;
pub mod build;
mod check;
pub mod completion;
pub mod diff;
pub mod drift;
mod get;
mod get_hint;
mod graph;
pub mod helm_flags;
pub mod hook;
pub mod images;
pub mod kustomize;
pub mod live;
pub mod plan;
mod selector;
pub mod skip;
pub mod sources;
pub mod vars;
pub mod verbs;
pub mod version;

/// A `--timeout` value: a Go duration as Flux writes them (`90s`, `5m`, `1h30m`).
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    capstan_flux::model::parse_go_duration(text)
        .ok_or_else(|| format!("not a duration: {text} (e.g. 90s, 5m, 1h)"))
}

/// The process exit code of a command that ran: 0 clean, 1 findings. Failures (2) are errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Clean,
    Findings,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Clean => std::process::ExitCode::SUCCESS,
            Exit::Findings => std::process::ExitCode::from(1),
        }
    }
}

pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Version(args) => version::run(&args, out),
        Command::Completion(args) => completion::completion(&args, out),
        Command::Hook(args) => hook::run(&args, out),
        Command::Man(args) => completion::man(&args, out),
        Command::Get(args) => get::run(&args, out),
        Command::Graph(args) => graph::run(&args, out),
        Command::Check(args) => check::run(&args, out),
        Command::App(args) => app::run(args, out),
        Command::Kustomize(args) => kustomize::run(args, out),
        Command::Build(args) => build::run(args, out),
        Command::Diff(args) => diff::run(args, out),
        Command::Plan(args) => plan::run(args, out),
        Command::Bootstrap(args) => bootstrap::run(args, out),
        Command::Apply(args) => apply::run(args, out),
        Command::Drift(args) => drift::run(args, out),
        Command::Reconcile(args) => verbs::reconcile::run(&args, out),
        Command::Suspend(args) => verbs::suspend::suspend(&args, out),
        Command::Resume(args) => verbs::suspend::resume(&args, out),
        Command::Events(args) => verbs::events::run(&args, out),
        Command::Logs(args) => verbs::logs::run(&args, out),
        Command::Tree(args) => verbs::tree::run(&args, out),
        Command::Trace(args) => verbs::trace::run(&args, out),
        Command::Status(args) => verbs::status::run(&args, out),
        Command::Why(args) => verbs::why::run(&args, out),
    }
}
