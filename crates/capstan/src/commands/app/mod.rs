//! `capstan app add|remove`: plan with `capstan_flux::scaffold`, show the plan, and apply it
//! all or nothing ([`transaction`]).

mod add;
mod remove;
mod transaction;

use std::io::Write;

use capstan_flux::scaffold::{ChangeSet, FileChange};

use super::Exit;
use crate::cli::{AppArgs, AppCommand};

/// How `app` builds the repository to check a change and preview a prune: as `build all` does,
/// with the helm binary when there is one and the user's substitution variables.
fn build_options(
    vars: &super::vars::VarArgs,
    sources: capstan_flux::source::LocalSources,
) -> anyhow::Result<capstan_flux::build::BuildOptions> {
    use capstan_flux::helm::{HelmBinary, HelmRenderer};
    Ok(capstan_flux::build::BuildOptions {
        helm: HelmBinary::find(None)
            .map(|h| std::sync::Arc::new(h) as std::sync::Arc<dyn HelmRenderer>),
        discovery: vars.discovery(sources)?,
        ..capstan_flux::build::BuildOptions::default()
    })
}

pub fn run(args: AppArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match args.command {
        AppCommand::Add(args) => add::run(*args, out),
        AppCommand::Remove(args) => remove::run(args, out),
    }
}

/// One line per change: `create apps/x/deployment.yaml`, with a summary for modifications.
fn write_summary(out: &mut dyn Write, changes: &ChangeSet, what: &str) -> anyhow::Result<()> {
    for change in changes.iter() {
        let detail = match change {
            FileChange::Modify { before, after, .. } => {
                let (added, removed) = line_counts(before, after);
                format!(" (+{added} -{removed} lines: {what})")
            }
            _ => String::new(),
        };
        writeln!(
            out,
            "  {:<6} {}{detail}",
            change.verb(),
            change.path().display()
        )?;
    }
    Ok(())
}

fn line_counts(before: &str, after: &str) -> (usize, usize) {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut added = 0;
    let mut removed = 0;
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    (added, removed)
}

/// Every change in full: new files as they will be written, modifications as a unified diff,
/// deletions by name.
fn write_dry_run(out: &mut dyn Write, changes: &ChangeSet) -> anyhow::Result<()> {
    for change in changes.iter() {
        let path = change.path().display().to_string();
        match change {
            FileChange::Create { contents, .. } => {
                writeln!(out, "==> create {path}")?;
                out.write_all(contents.as_bytes())?;
            }
            FileChange::Modify { before, after, .. } => {
                writeln!(out, "==> modify {path}")?;
                let diff = similar::TextDiff::from_lines(before, after);
                write!(
                    out,
                    "{}",
                    diff.unified_diff()
                        .context_radius(3)
                        .header(&format!("a/{path}"), &format!("b/{path}"))
                )?;
            }
            FileChange::Delete { .. } => {
                writeln!(out, "==> delete {path}")?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}
