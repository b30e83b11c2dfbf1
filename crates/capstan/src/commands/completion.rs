//! `capstan completion SHELL` and `capstan man`: shell completions and manual pages generated
//! from the clap definitions, so they always match the flags the binary accepts.
//!
//! Completions go to stdout (`source <(capstan completion bash)`). Manual pages: one per command
//! and subcommand (`capstan.1`, `capstan-build.1`, `capstan-app-add.1`, …) written with
//! `--out-dir`, or one page on stdout (`capstan man diff | man -l -`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Exit;

/// The shells completions are generated for.
const SHELLS: [(&str, Shell); 4] = [
    ("bash", Shell::Bash),
    ("zsh", Shell::Zsh),
    ("fish", Shell::Fish),
    ("powershell", Shell::PowerShell),
];

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: String,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (e.g. `diff`, `app add`); the top page when empty.
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Write every page (capstan.1, capstan-build.1, …) into this directory instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

fn command() -> clap::Command {
    crate::cli::Cli::command()
}

pub fn completion(args: &CompletionArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let wanted = args.shell.to_ascii_lowercase();
    let Some((_, shell)) = SHELLS.iter().find(|(name, _)| *name == wanted) else {
        anyhow::bail!(
            "no completions for shell {:?}: use one of bash, zsh, fish, powershell \
             (e.g. `source <(capstan completion bash)`)",
            args.shell
        );
    };
    let mut cmd = command();
    clap_complete::generate(*shell, &mut cmd, "capstan", out);
    Ok(Exit::Clean)
}

pub fn man(args: &ManArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut written = Vec::new();
        write_pages(&cmd, dir, &mut written)?;
        for path in written {
            writeln!(out, "{}", path.display())?;
        }
        return Ok(Exit::Clean);
    }
    let mut page = cmd;
    for name in &args.command {
        let Some(sub) = page.find_subcommand(name).cloned() else {
            anyhow::bail!(
                "{name:?} is not a command of {:?}: see `capstan --help`; \
                 `capstan man --out-dir DIR` writes every page",
                page.get_name()
            );
        };
        page = sub;
    }
    clap_mangen::Man::new(page).render(out)?;
    Ok(Exit::Clean)
}

/// Writes the page of `cmd` and of each of its visible subcommands, depth first.
fn write_pages(
    cmd: &clap::Command,
    dir: &std::path::Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone());
    let path = page
        .generate_to(dir)
        .with_context(|| format!("writing a manual page into {}", dir.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
