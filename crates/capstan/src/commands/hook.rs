//! `capstan hook kustomize [FILE]...`: the pre-commit hook that builds every kustomization the
//! given files belong to (the nearest folder at or above each file holding a
//! `kustomization.yaml`, `kustomization.yml` or `Kustomization`), so a broken overlay fails the
//! commit that breaks it. Files outside a kustomization's folder may be read, as
//! kustomize-controller allows. Nothing is printed for a kustomization that builds; each failure is
//! one line naming the folder and kustomize's error. Exit 0: all built; 1: some failed; 2: no
//! files given (run by hand: it says what to run instead).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use capstan_core::OsFs;
use clap::{Args, Subcommand};

use super::Exit;

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub command: HookCommand,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Build the kustomizations the given files belong to (pre-commit passes the staged files).
    Kustomize(HookKustomizeArgs),
}

#[derive(Debug, Args)]
pub struct HookKustomizeArgs {
    /// Changed files; each is built with the nearest kustomization at or above it.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Do not look above this folder for a kustomization (default: the current directory).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

pub fn run(args: &HookArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match &args.command {
        HookCommand::Kustomize(args) => kustomize(args, out),
    }
}

/// The kustomization folder `file` belongs to: the nearest at or above it, not above `root`.
pub fn owning_kustomization(root: &Path, file: &Path) -> Option<PathBuf> {
    let start = if file.is_dir() { file } else { file.parent()? };
    let root = normalise(root);
    let mut dir = normalise(start);
    loop {
        if KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file()) {
            return Some(dir);
        }
        if dir == root || !dir.pop() || !dir.starts_with(&root) {
            return None;
        }
    }
}

fn normalise(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut clean = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    clean
}

fn kustomize(args: &HookKustomizeArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::ensure!(
        !args.files.is_empty(),
        "no files given: pre-commit passes the changed files (.pre-commit-hooks.yaml); to build \
         one folder, run `capstan kustomize DIR`"
    );
    let dirs: BTreeSet<PathBuf> = args
        .files
        .iter()
        .filter_map(|file| owning_kustomization(&args.root, file))
        .collect();
    let cwd = normalise(Path::new("."));
    // as kustomize-controller builds: files outside the kustomization's folder may be read
    let options = capstan_kustomize::Options {
        load_restrictor: capstan_kustomize::LoadRestrictor::None,
        ..capstan_kustomize::Options::default()
    };
    let mut failed = 0;
    let mut first: Option<PathBuf> = None;
    for dir in &dirs {
        let shown = dir.strip_prefix(&cwd).unwrap_or(dir);
        let shown = if shown.as_os_str().is_empty() {
            Path::new(".")
        } else {
            shown
        };
        if let Err(error) = capstan_kustomize::build(&OsFs, dir, &options) {
            failed += 1;
            first.get_or_insert_with(|| shown.to_path_buf());
            writeln!(out, "{}: {error}", shown.display())?;
        }
    }
    if failed > 0 {
        writeln!(
            out,
            "{failed} of {} kustomizations failed to build; see one with `capstan kustomize {}`",
            dirs.len(),
            first.unwrap_or_default().display()
        )?;
        return Ok(Exit::Findings);
    }
    Ok(Exit::Clean)
}
