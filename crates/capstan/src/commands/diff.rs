//! `capstan diff ks|hr|all [NAME]`: what a change does to the objects the repository renders,
//! grouped under the Kustomization or HelmRelease that produces them.
//!
//! The working tree is compared with `--base REV` (read from git's object database, no checkout)
//! or `--path-orig DIR`; with neither, with the merge-base of the branch's upstream, else `HEAD`.
//! By default (changed-only mode) each side renders only the Kustomizations the changed files
//! can reach, and everything when that cannot be told (see
//! [`capstan_change::compare::compare_sides`]); `--full` renders and compares everything.
//! Exit 0: no difference; 1: differences; 2: failure (including a side that fails to render,
//! and a unit the change touches that could not be compared, unless `--allow-skipped`). A
//! producer the change does not touch failing the same way on both sides is a warning.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use capstan_change::compare::{Revisions, compare_sides};
use capstan_change::diff::render::{Format, RenderOptions, render};
use capstan_change::diff::{AttrFilter, DiffOptions, DiffReport, ProducerKind};

use super::Exit;
use super::build::ChartArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Flux Kustomizations.
    Ks,
    /// HelmReleases.
    Hr,
    /// Everything.
    All,
    /// The container images the change adds, removes or bumps (-o json for automation).
    Images,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Human,
    Markdown,
    /// The report as JSON (flux-local's `-o object` is accepted).
    #[value(alias = "object")]
    Json,
    Diff,
    Html,
    /// The report (as -o json) in YAML.
    Yaml,
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
    /// Only Kustomizations and HelmReleases in this namespace (their own namespace).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Every namespace (the default without -n; accepted as flux-local takes it).
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "human")]
    pub output: DiffFormat,
    /// Render and compare every Kustomization, not only those whose inputs changed.
    #[arg(long)]
    pub full: bool,
    /// Also leave out labels/annotations matching this pattern (`*` wildcards); repeatable or
    /// comma-separated (flux-local's `--strip-attrs A,B` is accepted).
    #[arg(
        long,
        value_name = "PATTERN",
        visible_alias = "strip-attrs",
        value_delimiter = ','
    )]
    pub strip_attr: Vec<String>,
    /// Keep labels/annotations matching this pattern even when stripped by default; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub keep_attr: Vec<String>,
    /// Lines of context around each change in diffs (-o diff, markdown).
    #[arg(short = 'u', long, value_name = "N", default_value_t = 3)]
    pub unified: usize,
    /// Cut each object's diff at this many bytes (0: no limit), saying how much was left out.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub limit_bytes: usize,
    /// Only Kustomizations and HelmReleases whose labels match on either side (`key=value`,
    /// `key!=value`, `key`, `!key`; comma-separated or repeated: all must match).
    #[arg(
        short = 'l',
        long = "selector",
        visible_alias = "label-selector",
        value_name = "SELECTOR"
    )]
    pub selector: Vec<String>,
    /// Accept units the change touches that could not be compared (skipped, or failing the
    /// same way on both sides): they are still listed, but do not make the exit code 2.
    #[arg(long)]
    pub allow_skipped: bool,
    #[command(flatten)]
    pub charts: ChartArgs,
    #[command(flatten)]
    pub skip: super::skip::SkipArgs,
    #[command(flatten)]
    pub template: super::helm_flags::TemplateArgs,
    #[command(flatten)]
    pub vars: super::vars::VarArgs,
    #[command(flatten)]
    pub sources: super::sources::SourceArgs,
    /// Compare the repository with the cluster instead of another revision (as `capstan drift`;
    /// reads the cluster, writes nothing).
    #[arg(long, conflicts_with_all = ["base", "path_orig"])]
    pub live: bool,
    /// With --live: the kubeconfig file.
    #[arg(long, value_name = "FILE", requires = "live")]
    pub kubeconfig: Option<PathBuf>,
    /// With --live: the kubeconfig context.
    #[arg(long, requires = "live")]
    pub context: Option<String>,
    /// With --live: the cluster folder when the repository has several.
    #[arg(long, requires = "live")]
    pub cluster: Option<String>,
}

/// Keeps the groups the target and name ask for.
fn filter(report: &mut DiffReport, target: Target, name: Option<&str>) {
    report.groups.retain(|g| {
        let kind_ok = match target {
            Target::All | Target::Images => true,
            Target::Ks => g.producer.kind == ProducerKind::Kustomization,
            Target::Hr => g.producer.kind == ProducerKind::HelmRelease,
        };
        kind_ok && name.is_none_or(|n| g.producer.name == n)
    });
}

/// What the change touches that could not be compared, for the error line; `None` when all was.
fn not_compared(report: &DiffReport) -> Option<String> {
    let (units, files) = (report.not_compared.len(), report.unseen_files.len());
    match (units, files) {
        (0, 0) => None,
        (units, 0) => Some(format!("{units} unit(s) the change touches")),
        (0, files) => Some(format!(
            "{files} changed file(s) outside the compared folder"
        )),
        (units, files) => Some(format!(
            "{units} unit(s) and {files} changed file(s) outside the compared folder"
        )),
    }
}

/// Leaves out the objects of skipped kinds (`--skip-secrets`, `--skip-crds`, `--skip-kinds`),
/// and the groups left with nothing to show; render failures and what was not compared stay.
/// Returns how many changed objects were left out.
fn skip_kinds(report: &mut DiffReport, skip: &super::skip::SkipArgs) -> usize {
    let mut hidden = 0;
    for group in &mut report.groups {
        let before = group.objects.len();
        group.objects.retain(|o| skip.keeps(&o.id.kind));
        hidden += before - group.objects.len();
    }
    report
        .groups
        .retain(|g| !g.objects.is_empty() || !g.failures.is_empty());
    report.hidden += hidden;
    hidden
}

fn color_wanted() -> bool {
    crate::terminal::get().color
}

pub fn run(args: DiffArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    if args.live {
        return live(args, out);
    }
    let revisions = Revisions {
        path: &args.path,
        base: args.base.as_deref(),
        path_orig: args.path_orig.as_deref(),
    };
    let options = DiffOptions {
        attrs: AttrFilter::new(&args.strip_attr, &args.keep_attr),
    };
    let selector = super::selector::LabelSelector::parse_all(&args.selector)?;
    let discovery = args.vars.discovery(args.sources.resolve(&args.path)?)?;
    let build = super::build::side_options(&args.charts, &args.template, discovery.clone());
    let mut compared = compare_sides(&revisions, args.full, &options, &build)?;
    filter(&mut compared.report, args.target, args.name.as_deref());
    if let Some(namespace) = &args.namespace {
        // A namespace that holds no unit on either side is a typo, not "no differences".
        let known = [&compared.base_rendering, &compared.head_rendering]
            .iter()
            .any(|r| r.units.keys().any(|p| &p.namespace == namespace));
        anyhow::ensure!(
            known,
            "no Kustomization or HelmRelease is in namespace {namespace} on either side (-n); \
             -A compares every namespace"
        );
        compared
            .report
            .groups
            .retain(|g| &g.producer.namespace == namespace);
        compared
            .report
            .not_compared
            .retain(|u| &u.producer.namespace == namespace);
    }
    if !args.skip.is_empty() {
        let hidden = skip_kinds(&mut compared.report, &args.skip);
        if hidden > 0 {
            eprintln!("{hidden} changed object(s) of skipped kinds not shown (--skip-…)");
        }
    }
    if !selector.is_empty() {
        let matched = super::selector::retain_groups(
            &mut compared.report,
            &selector,
            &compared.base,
            &compared.head,
            &discovery,
        );
        anyhow::ensure!(
            matched > 0,
            "no Kustomization or HelmRelease matches -l {} on either side",
            args.selector.join(",")
        );
    }
    if args.target == Target::Images {
        let format = match args.output {
            DiffFormat::Human => super::images::ImagesFormat::Human,
            DiffFormat::Markdown => super::images::ImagesFormat::Markdown,
            DiffFormat::Json => super::images::ImagesFormat::Json,
            DiffFormat::Yaml => super::images::ImagesFormat::Yaml,
            DiffFormat::Diff | DiffFormat::Html => {
                anyhow::bail!("diff images prints -o human, markdown, json or yaml")
            }
        };
        let exit = super::images::diff(&compared.report, format, out)?;
        if compared.report.has_failures() {
            anyhow::bail!("a side failed to render: its images are not compared (see above)");
        }
        if let Some(what) = not_compared(&compared.report)
            && !args.allow_skipped
        {
            anyhow::bail!(
                "{what} could not be compared, their image changes unknown (see above); \
                 --allow-skipped accepts that"
            );
        }
        return Ok(exit);
    }
    let format = match args.output {
        DiffFormat::Human => Format::Human,
        DiffFormat::Markdown => Format::Markdown,
        DiffFormat::Json | DiffFormat::Yaml => Format::Json,
        DiffFormat::Diff => Format::Unified,
        DiffFormat::Html => Format::Html,
    };
    let render_options = RenderOptions {
        color: format == Format::Human && color_wanted(),
        title: format!("{} → {}", compared.base.label, compared.head.label),
        context: args.unified,
        limit_bytes: args.limit_bytes,
        ..RenderOptions::default()
    };
    if args.output == DiffFormat::Yaml {
        let value = serde_json::to_value(&compared.report)?;
        out.write_all(capstan_core::yaml::to_yaml(&value).as_bytes())?;
    } else {
        out.write_all(render(&compared.report, format, &render_options).as_bytes())?;
    }
    if compared.report.has_failures() {
        anyhow::bail!("a side failed to render (see above)");
    }
    if let Some(what) = not_compared(&compared.report)
        && !args.allow_skipped
    {
        if matches!(args.output, DiffFormat::Json | DiffFormat::Yaml) {
            for file in &compared.report.unseen_files {
                eprintln!(
                    "! {file} not compared: outside the compared folder, and nothing compared \
                     reads it (compare from the repository's root to see its effect)"
                );
            }
        }
        anyhow::bail!("{what} could not be compared (see above); --allow-skipped accepts that");
    }
    // Objects hidden by --skip-… are still differences: the exit code counts them.
    Ok(
        if compared.report.is_empty() && compared.report.hidden == 0 {
            Exit::Clean
        } else {
            Exit::Findings
        },
    )
}

/// `diff --live`: the drift report, for Kustomizations (HelmReleases are not rendered live yet).
fn live(args: DiffArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::ensure!(
        args.target != Target::Hr,
        "diff hr --live: HelmReleases are not compared with the cluster yet; use `diff ks --live`"
    );
    let output = match args.output {
        DiffFormat::Human => super::drift::DriftFormat::Human,
        DiffFormat::Json => super::drift::DriftFormat::Json,
        other => anyhow::bail!("diff --live prints human or json, not {other:?}"),
    };
    let drift = super::drift::DriftArgs {
        kustomization: args.name,
        cluster: super::live::ClusterArgs {
            path: args.path,
            cluster: args.cluster,
            kubeconfig: args.kubeconfig,
            context: args.context,
            namespace: args.namespace,
            all_namespaces: false,
            sops_age_key_file: None,
        },
        output,
        override_managers: Vec::new(),
    };
    super::drift::run(drift, out)
}
