//! `capstan diff ks|hr|all [NAME]`: what a change does to the objects the repository renders,
//! grouped under the Kustomization or HelmRelease that produces them.
//!
//! The working tree is compared with `--base REV` (read from git's object database, no checkout)
//! or `--path-orig DIR`; with neither, with the merge-base of the branch's upstream, else `HEAD`.
//! By default (changed-only mode) each side renders only the Kustomizations the changed files
//! can reach, and everything when that cannot be told (see [`compare_sides`]); `--full` renders
//! and compares everything. Exit 0: no difference; 1: differences; 2: failure (including a side
//! that fails to render). A producer failing the same way on both sides is a warning.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use capstan_change::diff::render::{Format, RenderOptions, render};
use capstan_change::diff::{AttrFilter, DiffOptions, DiffReport, ProducerKind, diff};
use capstan_flux::scope::Scope;
use capstan_flux::{FluxKind, ObjectKey};

use super::Exit;
use super::build::ChartArgs;
use super::compare::{self, Opened, Revisions};
use capstan_flux::charts::Charts;

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
    #[command(flatten)]
    pub charts: ChartArgs,
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

/// Both sides rendered and compared.
pub struct Compared {
    pub base: Opened,
    pub head: Opened,
    pub files: Vec<(PathBuf, capstan_change::plan::FileChange)>,
    pub base_rendering: compare::Rendering,
    pub head_rendering: compare::Rendering,
    pub report: DiffReport,
}

/// Opens, renders and compares the two sides (shared with `plan`).
///
/// Changed-only mode (the default) renders, on each side, only the Kustomizations the changed
/// files can reach ([`capstan_flux::scope`]); a Kustomization rendered on one side and left out
/// on the other is then rendered there too. When a ConfigMap, Secret or Flux source differs, or
/// a producer fails on one side only, whatever reads it (`substituteFrom`, `valuesFrom`, a
/// HelmRelease's chart) may lie outside the scope: both sides are then rendered in full, so the
/// result is always the `--full` one.
pub fn compare_sides(
    revisions: &Revisions<'_>,
    full: bool,
    options: &DiffOptions,
    charts: &Arc<Charts>,
) -> anyhow::Result<Compared> {
    let (base, head, files) = compare::open(revisions)?;
    if !full && files.is_empty() {
        return Ok(Compared {
            base,
            head,
            files,
            base_rendering: compare::Rendering::default(),
            head_rendering: compare::Rendering::default(),
            report: DiffReport::default(),
        });
    }
    // each side names its files by absolute path under its own root (the base's git tree is
    // mounted where the working tree is; --path-orig is elsewhere)
    let scope_of = |side: &Opened| {
        let scope = Scope::new(files.iter().map(|(path, _)| side.root.join(path)));
        (!full && !scope.touches_ignore_rules()).then(|| Arc::new(scope))
    };
    let scopes = Scopes {
        base: scope_of(&base),
        head: scope_of(&head),
    };
    let (mut base_rendering, mut head_rendering) = render_both(&base, &head, &scopes, charts);
    if let (Some(base_scope), Some(head_scope)) = (&scopes.base, &scopes.head)
        && base_rendering.changed_only
        && head_rendering.changed_only
    {
        // what one side rendered, the other renders too
        let rendered = |r: &compare::Rendering| -> BTreeSet<ObjectKey> {
            r.side
                .rendered
                .iter()
                .filter(|r| r.producer.kind == ProducerKind::Kustomization)
                .map(|r| {
                    ObjectKey::new(
                        FluxKind::Kustomization,
                        r.producer.namespace.clone(),
                        r.producer.name.clone(),
                    )
                })
                .collect()
        };
        let base_needs: Vec<ObjectKey> = rendered(&head_rendering)
            .intersection(&base_rendering.left_out)
            .cloned()
            .collect();
        let head_needs: Vec<ObjectKey> = rendered(&base_rendering)
            .intersection(&head_rendering.left_out)
            .cloned()
            .collect();
        if !base_needs.is_empty() {
            let forced = Arc::new(base_scope.as_ref().clone().force(base_needs));
            base_rendering = compare::render(&base, Some(forced), charts);
        }
        if !head_needs.is_empty() {
            let forced = Arc::new(head_scope.as_ref().clone().force(head_needs));
            head_rendering = compare::render(&head, Some(forced), charts);
        }
    }
    let mut report = diff(&base_rendering.side, &head_rendering.side, options);
    let scoped = base_rendering.changed_only || head_rendering.changed_only;
    if scoped && reaches_beyond_scope(&report) {
        (base_rendering, head_rendering) = render_both(&base, &head, &Scopes::default(), charts);
        report = diff(&base_rendering.side, &head_rendering.side, options);
    }
    Ok(Compared {
        base,
        head,
        files,
        base_rendering,
        head_rendering,
        report,
    })
}

/// The changed-only scope of each side; `None` renders that side in full.
#[derive(Default)]
struct Scopes {
    base: Option<Arc<Scope>>,
    head: Option<Arc<Scope>>,
}

/// Renders the two sides side by side.
fn render_both(
    base: &Opened,
    head: &Opened,
    scopes: &Scopes,
    charts: &Arc<Charts>,
) -> (compare::Rendering, compare::Rendering) {
    std::thread::scope(|threads| {
        let base_job = threads.spawn(|| compare::render(base, scopes.base.clone(), charts));
        let head_rendering = compare::render(head, scopes.head.clone(), charts);
        let base_rendering = base_job.join().unwrap_or_else(|_| compare::Rendering {
            side: capstan_change::diff::Side {
                rendered: Vec::new(),
                error: Some("rendering the base side panicked".to_owned()),
            },
            ..compare::Rendering::default()
        });
        (base_rendering, head_rendering)
    })
}

/// True when a changed-only comparison found something whose readers it may not have rendered:
/// a ConfigMap, Secret or Flux source that differs, or a producer that fails on one side only
/// (its objects vanish from that side).
fn reaches_beyond_scope(report: &DiffReport) -> bool {
    report.groups.iter().any(|group| {
        let one_sided = group.failures.len() == 1;
        let read_elsewhere = group.objects.iter().any(|o| {
            (o.id.group.is_empty() && matches!(o.id.kind.as_str(), "ConfigMap" | "Secret"))
                || o.id.group == "source.toolkit.fluxcd.io"
        });
        one_sided || read_elsewhere
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
    let mut compared = compare_sides(&revisions, args.full, &options, &args.charts.fetcher())?;
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
            namespace: None,
            all_namespaces: false,
            sops_age_key_file: None,
        },
        output,
    };
    super::drift::run(drift, out)
}
