//! One module per command; each writes to the `impl Write` it is given and returns the exit code.

use std::io::Write;

use crate::cli::{Cli, Command};

mod app;
pub mod apply;
pub mod build;
mod check;
pub mod diff;
pub mod drift;
mod get;
mod graph;
pub mod kustomize;
pub mod live;
pub mod plan;

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
        Command::Version => {
            writeln!(out, "capstan {}", env!("CARGO_PKG_VERSION"))?;
            Ok(Exit::Clean)
        }
        Command::Get(args) => get::run(&args, out),
        Command::Graph(args) => graph::run(&args, out),
        Command::Check(args) => check::run(&args, out),
        Command::App(args) => app::run(args, out),
        Command::Kustomize(args) => kustomize::run(args, out),
        Command::Build(args) => build::run(args, out),
        Command::Diff(args) => diff::run(args, out),
        Command::Plan(args) => plan::run(args, out),
        Command::Apply(args) => apply::run(args, out),
        Command::Drift(args) => drift::run(args, out),
    }
}
