//! `capstan diff ks|hr|all [NAME]`: what a change does to the objects the repository renders,
//! grouped under the Kustomization or HelmRelease that produces them.
//!
//! The working tree is compared with `--base REV` (read from git's object database, no checkout)
//! or `--path-orig DIR`; with neither, with the merge-base of the branch's upstream, else `HEAD`.
//! By default only the Kustomizations whose inputs changed are rendered on the old side and
//! compared (`--full` renders and compares everything). Exit 0: no difference; 1: differences;
//! 2: failure (including a side that fails to render).

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use capstan_check::diff::render::{Format, RenderOptions, render};
use capstan_check::diff::{AttrFilter, DiffOptions, DiffReport, Producer, ProducerKind, diff};

use super::Exit;
use super::compare::{self, Opened, Revisions, Selection};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Flux Kustomizations.
    Ks,
    /// HelmReleases.
    Hr,
    /// Everything.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Human,
    Markdown,
    Json,
    Diff,
    Html,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// What to compare.
    #[arg(value_enum)]
    pub target: Target,
    /// Only this Kustomization or HelmRelease.
    pub name: Option<String>,
    /// The repository (the new side).
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The old side: a git revision of the repository, read without a checkout.
    #[arg(long, conflicts_with = "path_orig")]
    pub base: Option<String>,
    /// The old side: another directory.
    #[arg(long)]
    pub path_orig: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "human")]
    pub output: DiffFormat,
    /// Render and compare every Kustomization, not only those whose inputs changed.
    #[arg(long)]
    pub full: bool,
    /// Also leave out labels/annotations matching this pattern (`*` wildcards); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub strip_attr: Vec<String>,
    /// Keep labels/annotations matching this pattern even when stripped by default; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub keep_attr: Vec<String>,
}

/// Both sides rendered and compared.
pub struct Compared {
    pub base: Opened,
    pub head: Opened,
    pub files: Vec<(PathBuf, capstan_check::plan::FileChange)>,
    pub base_rendering: compare::Rendering,
    pub head_rendering: compare::Rendering,
    pub report: DiffReport,
}

/// Opens, renders and compares the two sides (shared with `plan`).
pub fn compare_sides(
    revisions: &Revisions<'_>,
    full: bool,
    options: &DiffOptions,
) -> anyhow::Result<Compared> {
    let (base, head) = compare::open(revisions)?;
    let files = compare::changed_files(&base, &head);
    if !full && files.is_empty() {
        let empty = compare::Rendering::default();
        return Ok(Compared {
            base,
            head,
            files,
            base_rendering: empty,
            head_rendering: compare::Rendering::default(),
            report: DiffReport::default(),
        });
    }
    let mut head_rendering = compare::render(&head, None);
    let (base_rendering, report) = if full {
        let base_rendering = compare::render(&base, None);
        let report = diff(&base_rendering.side, &head_rendering.side, options);
        (base_rendering, report)
    } else {
        let selected = compare::affected(&files, &[&head_rendering]);
        let selection = Selection {
            producers: &selected,
            files: &files,
        };
        let base_rendering = compare::render(&base, Some(&selection));
        let mut chosen: BTreeSet<Producer> = selected.clone();
        chosen.extend(
            base_rendering
                .side
                .rendered
                .iter()
                .map(|r| r.producer.clone()),
        );
        let mut head_side = head_rendering.side.clone();
        head_side.rendered.retain(|r| chosen.contains(&r.producer));
        let report = diff(&base_rendering.side, &head_side, options);
        head_rendering.side = head_side;
        (base_rendering, report)
    };
    Ok(Compared {
        base,
        head,
        files,
        base_rendering,
        head_rendering,
        report,
    })
}

/// Keeps the groups the target and name ask for.
fn filter(report: &mut DiffReport, target: Target, name: Option<&str>) {
    report.groups.retain(|g| {
        let kind_ok = match target {
            Target::All => true,
            Target::Ks => g.producer.kind == ProducerKind::Kustomization,
            Target::Hr => g.producer.kind == ProducerKind::HelmRelease,
        };
        kind_ok && name.is_none_or(|n| g.producer.name == n)
    });
}

fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

pub fn run(args: DiffArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let revisions = Revisions {
        path: &args.path,
        base: args.base.as_deref(),
        path_orig: args.path_orig.as_deref(),
    };
    let options = DiffOptions {
        attrs: AttrFilter::new(&args.strip_attr, &args.keep_attr),
    };
    let mut compared = compare_sides(&revisions, args.full, &options)?;
    filter(&mut compared.report, args.target, args.name.as_deref());
    let format = match args.output {
        DiffFormat::Human => Format::Human,
        DiffFormat::Markdown => Format::Markdown,
        DiffFormat::Json => Format::Json,
        DiffFormat::Diff => Format::Unified,
        DiffFormat::Html => Format::Html,
    };
    let render_options = RenderOptions {
        color: format == Format::Human && color_wanted(),
        title: format!("{} → {}", compared.base.label, compared.head.label),
        ..RenderOptions::default()
    };
    out.write_all(render(&compared.report, format, &render_options).as_bytes())?;
    if compared.report.has_failures() {
        anyhow::bail!("a side failed to render (see above)");
    }
    Ok(if compared.report.is_empty() {
        Exit::Clean
    } else {
        Exit::Findings
    })
}
