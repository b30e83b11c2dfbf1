//! `capstan build ks|hr|all [NAME]`: the objects Flux would apply, rendered without a cluster.
//! Charts from HelmRepositories are fetched into the chart cache (`--chart-cache`), or read from
//! it only (`--offline`). Objects go to stdout (YAML stream or JSON); failures, skipped and
//! suspended objects are reported on stderr; any failure makes the exit code 2 after everything
//! else has been printed.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use capstan_core::{OsFs, Value};
use capstan_flux::build::{BuildOptions, BuildReport, BuildResult, Status, build_all};
use capstan_flux::charts::{ChartCache, Charts};
use capstan_flux::sops::Keys;
use clap::{Args, ValueEnum};

use super::Exit;

/// What `capstan build` renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildKind {
    /// Flux Kustomizations.
    #[value(name = "ks", alias = "kustomization")]
    Kustomizations,
    /// HelmReleases.
    #[value(name = "hr", alias = "helmrelease")]
    HelmReleases,
    /// Every Kustomization and HelmRelease.
    All,
}

/// Output formats of `capstan build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildFormat {
    Yaml,
    Json,
}

/// Flags of `capstan build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// What to render.
    #[arg(value_enum)]
    pub kind: BuildKind,
    /// Only the Kustomization or HelmRelease with this name.
    pub name: Option<String>,
    /// The repository (or a folder in it) to read.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Only objects in this namespace (the Flux object's own namespace).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Every namespace (the default without -n; accepted as flux-local takes it).
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    pub output: BuildFormat,
    #[command(flatten)]
    pub skip: super::skip::SkipArgs,
    /// Let undefined `${var}` expand to nothing, as the flux CLI does by default (the controller
    /// fails the Kustomization; so does capstan unless this is given).
    #[arg(long)]
    pub no_strict_substitute: bool,
    /// An age identity file for SOPS (also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY).
    #[arg(long)]
    pub sops_age_key_file: Option<PathBuf>,
    /// The helm binary (also CAPSTAN_HELM; else helm on PATH).
    #[arg(long)]
    pub helm_binary: Option<PathBuf>,
    #[command(flatten)]
    pub template: super::helm_flags::TemplateArgs,
    /// Only Kustomizations and HelmReleases whose labels match (`key=value`, `key!=value`,
    /// `key`, `!key`; comma-separated or repeated: all must match).
    #[arg(
        short = 'l',
        long = "selector",
        visible_alias = "label-selector",
        value_name = "SELECTOR"
    )]
    pub selector: Vec<String>,
    #[command(flatten)]
    pub charts: ChartArgs,
    #[command(flatten)]
    pub sources: super::sources::SourceArgs,
    #[command(flatten)]
    pub vars: super::vars::VarArgs,
}

/// Where HelmRelease charts come from (`build`, `diff`, `plan`).
#[derive(Debug, Args)]
pub struct ChartArgs {
    /// The chart cache (default: $CAPSTAN_CACHE_DIR/charts, else $XDG_CACHE_HOME/capstan/charts,
    /// else ~/.cache/capstan/charts).
    #[arg(long, value_name = "DIR")]
    pub chart_cache: Option<PathBuf>,
    /// Use only charts already in the chart cache; never touch the network. Each missing chart
    /// is reported with its source, URL, version constraint and the cache path.
    #[arg(long)]
    pub offline: bool,
    /// The registry credentials file for OCI charts, read before helm's and docker's own
    /// (as helm --registry-config; default $HELM_REGISTRY_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
}

impl ChartArgs {
    /// The chart fetcher these flags ask for.
    pub fn fetcher(&self) -> Arc<Charts> {
        let root = self
            .chart_cache
            .clone()
            .or_else(capstan_flux::charts::cache::default_root);
        Arc::new(
            Charts::new(root.map(ChartCache::new), self.offline)
                .with_registry_config(self.registry_config.clone()),
        )
    }
}

/// The build settings `diff` and `plan` render each side with: SOPS keys from the environment
/// (values stay masked without them), the helm binary when there is one, charts as `flags` say,
/// the user's substitution variables in `discovery`.
pub fn side_options(
    flags: &ChartArgs,
    template: &super::helm_flags::TemplateArgs,
    discovery: capstan_flux::discovery::Options,
) -> impl Fn() -> BuildOptions + Sync + use<> {
    let charts = flags.fetcher();
    let helm = template.flags.renderer(None, flags.registry_config.clone());
    let (kube_version, api_versions) =
        (template.kube_version.clone(), template.api_versions.clone());
    move || BuildOptions {
        keys: Keys::from_process_env_and_file(None, &OsFs).unwrap_or_else(|_| Keys::none()),
        helm: helm.clone(),
        charts: Some(charts.clone()),
        kube_version: kube_version.clone(),
        api_versions: api_versions.clone(),
        discovery: discovery.clone(),
        ..BuildOptions::default()
    }
}

pub fn run(args: BuildArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let fs = OsFs;
    let keys = Keys::from_process_env_and_file(args.sops_age_key_file.as_deref(), &fs)
        .context("loading SOPS age keys")?;
    let helm = args.template.flags.renderer(
        args.helm_binary.as_deref(),
        args.charts.registry_config.clone(),
    );
    let selector = super::selector::LabelSelector::parse_all(&args.selector)?;
    let discovery = args.vars.discovery(args.sources.resolve(&args.path)?)?;
    let bar = progress_bar();
    let ticker = bar.clone();
    let options = BuildOptions {
        strict_substitute: !args.no_strict_substitute,
        keys,
        helm,
        render_helm_releases: args.kind != BuildKind::Kustomizations,
        charts: Some(args.charts.fetcher()),
        kube_version: args.template.kube_version.clone(),
        api_versions: args.template.api_versions.clone(),
        discovery: discovery.clone(),
        progress: ticker
            .map(|bar| Arc::new(move |_: &capstan_flux::ObjectKey| bar.inc(1)) as Arc<_>),
    };
    let report = build_all(&fs, &args.path, &options)
        .with_context(|| format!("building {}", args.path.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if report.kustomizations.is_empty() && report.helm_releases.is_empty() {
        anyhow::bail!(
            "{}",
            capstan_flux::discovery::nothing_to_discover(
                &std::fs::canonicalize(&args.path).unwrap_or_else(|_| args.path.clone())
            )
        );
    }
    for unused in report
        .diagnostics
        .iter()
        .filter(|d| d.code == capstan_flux::discovery::UNUSED_SOURCE_MAPPING)
    {
        eprintln!("{unused}");
    }
    if let Some(focus) = &report.focus {
        eprintln!(
            "note: {} is inside a repository whose entry point is above it; built what is \
             declared in or applies {}, and what those apply",
            args.path.display(),
            focus.display()
        );
    }
    let mut selected = select(&report, &args);
    if !selector.is_empty() {
        let labels = super::selector::flux_labels(&args.path, &discovery)?;
        selected.retain(|r| selector.matches(labels.get(&r.key)));
    }
    if selected.is_empty() && !selector.is_empty() {
        anyhow::bail!(
            "no {}{} matches -l {} under {}",
            match args.kind {
                BuildKind::Kustomizations => "Kustomization",
                BuildKind::HelmReleases => "HelmRelease",
                BuildKind::All => "Kustomization or HelmRelease",
            },
            args.name
                .as_deref()
                .map(|n| format!(" named {n}"))
                .unwrap_or_default(),
            args.selector.join(","),
            args.path.display()
        );
    }
    if selected.is_empty() && args.name.is_some() {
        anyhow::bail!(
            "no {} named {} found under {}",
            match args.kind {
                BuildKind::Kustomizations => "Kustomization",
                BuildKind::HelmReleases => "HelmRelease",
                BuildKind::All => "Kustomization or HelmRelease",
            },
            args.name.as_deref().unwrap_or_default(),
            args.path.display()
        );
    }
    let keep = |object: &Value| {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        args.skip.keeps(kind)
    };
    match args.output {
        BuildFormat::Yaml => {
            let objects: Vec<&Value> = selected
                .iter()
                .flat_map(|r| r.objects.iter().map(|o| &o.object))
                .filter(|o| keep(o))
                .collect();
            for object in objects {
                writeln!(out, "---")?;
                out.write_all(capstan_core::yaml::to_yaml(object).as_bytes())?;
            }
        }
        BuildFormat::Json => {
            let results: Vec<BuildResult> = selected
                .iter()
                .map(|r| {
                    let mut r = (*r).clone();
                    r.objects.retain(|o| keep(&o.object));
                    r
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &results)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    let mut failed = 0;
    let mut stderr = std::io::stderr().lock();
    // several clusters can hold objects of the same name: say which one
    let clusters: std::collections::BTreeSet<&str> =
        selected.iter().map(|r| r.cluster.as_str()).collect();
    for result in &selected {
        let key = if clusters.len() > 1 {
            format!("{} (cluster {})", result.key, result.cluster)
        } else {
            result.key.to_string()
        };
        match result.status {
            Status::Failed => {
                failed += 1;
                for error in &result.errors {
                    writeln!(stderr, "error: {error}")?;
                }
            }
            Status::Skipped | Status::Unchanged => {
                writeln!(stderr, "skipped: {key}: {}", result.errors.join("; "))?
            }
            Status::Suspended => writeln!(stderr, "suspended: {key} (not rendered)")?,
            Status::Rendered => {
                for id in &result.not_decrypted {
                    writeln!(
                        stderr,
                        "not decrypted: {id} in {} (no SOPS age key; values masked)",
                        result.key
                    )?;
                }
            }
        }
    }
    if let Some(outage) = &report.network {
        writeln!(stderr, "error: {outage}")?;
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} failed to build", selected.len());
    }
    Ok(Exit::Clean)
}

fn select<'a>(report: &'a BuildReport, args: &BuildArgs) -> Vec<&'a BuildResult> {
    let kustomizations = report
        .kustomizations
        .iter()
        .filter(|_| args.kind != BuildKind::HelmReleases);
    let releases = report
        .helm_releases
        .iter()
        .filter(|_| args.kind != BuildKind::Kustomizations);
    kustomizations
        .chain(releases)
        .filter(|r| args.name.as_ref().is_none_or(|n| &r.key.name == n))
        .filter(|r| {
            args.namespace
                .as_ref()
                .is_none_or(|n| &r.key.namespace == n)
        })
        .collect()
}

/// A spinner-style counter on stderr when it is a terminal (not in CI).
fn progress_bar() -> Option<indicatif::ProgressBar> {
    crate::terminal::spinner("built")
}
