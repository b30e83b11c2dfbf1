//! `capstan get images` and `capstan diff images`: the container images every Kustomization and
//! HelmRelease runs (flux-local's `get cluster --only-images`), and which images a change adds,
//! removes or bumps (json for automation such as image-pull warmers or release notes).
//!
//! `get images` renders like `capstan build all`: a Kustomization lists the images of the objects
//! it applies itself, a HelmRelease those of its chart. What could not be rendered (no helm, a
//! chart not in the cache with `--offline`, a failing kustomization) is listed with its images
//! unknown (`?` in the table, `"images": null` and its `status` in json/yaml), named with the
//! reason on stderr, and makes the exit code 2, so a missing image is never reported as absent.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use capstan_change::diff::DiffReport;
use capstan_change::images::{ImageChangeKind, image_changes, images_of};
use capstan_core::{OsFs, Value};
use capstan_flux::build::{BuildOptions, Status, build_all};
use capstan_flux::sops::Keys;
use clap::Args;
use serde_json::json;

use super::Exit;
use super::build::ChartArgs;
use crate::cli::{GetArgs, GetFormat};

/// How `get images` renders (the same flags as `capstan build`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Rendering (get images)")]
pub struct RenderArgs {
    /// An age identity file for SOPS (also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY).
    #[arg(long, value_name = "FILE")]
    pub sops_age_key_file: Option<PathBuf>,
    /// The helm binary (also CAPSTAN_HELM; else helm on PATH).
    #[arg(long, value_name = "FILE")]
    pub helm_binary: Option<PathBuf>,
    #[command(flatten)]
    pub template: super::helm_flags::TemplateArgs,
    #[command(flatten)]
    pub charts: ChartArgs,
}

/// `capstan get images`.
pub fn get(args: &GetArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let selector = super::selector::LabelSelector::parse_all(&args.selector)?;
    let sources = args.sources.resolve(&args.path)?;
    let render = &args.render;
    let fs = OsFs;
    let keys = Keys::from_process_env_and_file(render.sops_age_key_file.as_deref(), &fs)
        .context("loading SOPS age keys")?;
    let discovery = args.vars.discovery(sources)?;
    let bar = crate::terminal::spinner("rendered");
    let ticker = bar.clone();
    let options = BuildOptions {
        keys,
        helm: render.template.flags.renderer(
            render.helm_binary.as_deref(),
            render.charts.registry_config.clone(),
        ),
        charts: Some(render.charts.fetcher()),
        kube_version: render.template.kube_version.clone(),
        api_versions: render.template.api_versions.clone(),
        discovery: discovery.clone(),
        progress: ticker
            .map(|bar| Arc::new(move |_: &capstan_flux::ObjectKey| bar.inc(1)) as Arc<_>),
        ..BuildOptions::default()
    };
    let report = build_all(&fs, &args.path, &options)
        .with_context(|| format!("building {}", args.path.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let labels = if selector.is_empty() {
        Default::default()
    } else {
        super::selector::flux_labels(&args.path, &discovery)?
    };
    let mut elsewhere = super::get_hint::Elsewhere::default();
    let results: Vec<_> = report
        .kustomizations
        .iter()
        .chain(&report.helm_releases)
        .filter(|r| args.name.as_ref().is_none_or(|n| &r.key.name == n))
        .filter(|r| selector.matches(labels.get(&r.key)))
        .filter(|r| {
            let inside = args.all_namespaces || r.key.namespace == args.namespace;
            if !inside {
                elsewhere.add(&r.key.namespace);
            }
            inside
        })
        .collect();
    if let Some(hint) = elsewhere.hint(args) {
        eprintln!("{hint}");
    }
    if let Some(name) = &args.name
        && results.is_empty()
    {
        anyhow::bail!("no Kustomization or HelmRelease named {name} found");
    }
    if results.is_empty() && !selector.is_empty() {
        anyhow::bail!(
            "no Kustomization or HelmRelease{} matches -l {}",
            if args.all_namespaces {
                String::new()
            } else {
                format!(" in namespace {}", args.namespace)
            },
            args.selector.join(",")
        );
    }
    let multi_cluster = {
        let mut clusters: Vec<&str> = results.iter().map(|r| r.cluster.as_str()).collect();
        clusters.dedup();
        clusters.len() > 1
    };
    let mut records = Vec::new();
    let mut not_rendered = Vec::new();
    for result in &results {
        let record = |status: &str, images: Value| {
            let mut record = json!({
                "cluster": result.cluster,
                "kind": result.key.kind.to_string(),
                "namespace": result.key.namespace,
                "name": result.key.name,
                "status": status,
                "images": images,
            });
            if status != "rendered" && !result.errors.is_empty() {
                record["error"] = json!(result.errors.join("; "));
            }
            record
        };
        match result.status {
            Status::Rendered => {}
            // not rendered: its images are unknown, and the listing says so (null, not [])
            Status::Suspended => {
                not_rendered.push(format!("suspended: {} (not rendered)", result.key));
                records.push(record("suspended", Value::Null));
                continue;
            }
            _ => {
                not_rendered.push(format!(
                    "not rendered: {}: {}",
                    result.key,
                    result.errors.join("; ")
                ));
                records.push(record("not rendered", Value::Null));
                continue;
            }
        }
        let mut images = std::collections::BTreeSet::new();
        for object in &result.objects {
            images.extend(images_of(&object.object));
        }
        if images.is_empty() {
            continue;
        }
        records.push(record("rendered", json!(images)));
    }
    match args.output {
        GetFormat::Table | GetFormat::Wide => {
            let mut header = Vec::new();
            if multi_cluster {
                header.push("CLUSTER");
            }
            header.extend(["KIND", "NAMESPACE", "NAME", "IMAGE"]);
            let mut rows = Vec::new();
            for record in &records {
                let unknown = [Value::String(format!(
                    "? (images unknown: {})",
                    text(&record["status"])
                ))];
                let images = match record["images"].as_array() {
                    Some(images) => images.as_slice(),
                    None => &unknown,
                };
                for image in images {
                    let mut row = Vec::new();
                    if multi_cluster {
                        row.push(text(&record["cluster"]));
                    }
                    row.extend([
                        text(&record["kind"]),
                        text(&record["namespace"]),
                        text(&record["name"]),
                        text(image),
                    ]);
                    rows.push(row);
                }
            }
            if rows.is_empty() {
                eprintln!("no images found");
            } else {
                super::get::write_table(out, &header, &rows)?;
            }
        }
        GetFormat::Yaml => {
            out.write_all(capstan_core::yaml::to_yaml(&Value::Array(records)).as_bytes())?
        }
        GetFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &records)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    for line in &not_rendered {
        eprintln!("{line}");
    }
    let failed = not_rendered
        .iter()
        .filter(|l| l.starts_with("not rendered"))
        .count();
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} not rendered: their images are not listed",
            results.len()
        );
    }
    Ok(Exit::Clean)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Formats of `capstan diff images`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagesFormat {
    Human,
    Markdown,
    Json,
    Yaml,
}

/// `capstan diff images`: the image changes of a compared report. Exit 1 when there are any.
/// Units not compared are named on stderr; the caller makes them exit 2.
pub fn diff(
    report: &DiffReport,
    format: ImagesFormat,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let changes = image_changes(report);
    // what could not be compared is said on stderr in every format: its images are unknown
    for failure in &report.side_failures {
        eprintln!(
            "! the {} side could not be rendered: {}",
            failure.side, failure.error
        );
    }
    let mut failed_groups = 0;
    for group in &report.groups {
        for failure in &group.failures {
            eprintln!(
                "! {} fails to render on the {} side, its image changes unknown: {}",
                group.producer, failure.side, failure.error
            );
        }
        failed_groups += usize::from(!group.failures.is_empty());
    }
    for unit in &report.not_compared {
        eprintln!(
            "! {} not compared, its image changes unknown: {}",
            unit.producer, unit.reason
        );
    }
    for file in &report.unseen_files {
        eprintln!(
            "! {file} not compared: outside the compared folder, and nothing compared reads it"
        );
    }
    for failure in &report.unchanged_failures {
        eprintln!(
            "warning: {} fails to render on both sides, unchanged: {}",
            failure.producer, failure.error
        );
    }
    match format {
        ImagesFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &changes)?;
            writeln!(out)?;
        }
        ImagesFormat::Yaml => {
            let value = serde_json::to_value(&changes)?;
            out.write_all(capstan_core::yaml::to_yaml(&value).as_bytes())?;
        }
        ImagesFormat::Human | ImagesFormat::Markdown => {
            let line = |c: &capstan_change::images::ImageChange| match c.change {
                ImageChangeKind::Added => format!("+ {}", c.to.as_deref().unwrap_or_default()),
                ImageChangeKind::Removed => format!("- {}", c.from.as_deref().unwrap_or_default()),
                ImageChangeKind::Bumped => format!(
                    "~ {} → {}",
                    c.from.as_deref().unwrap_or_default(),
                    c.to.as_deref().unwrap_or_default()
                ),
            };
            let markdown = format == ImagesFormat::Markdown;
            let unknown = report.not_compared.len()
                + report.unseen_files.len()
                + report.side_failures.len()
                + failed_groups;
            if changes.is_empty() && unknown > 0 {
                writeln!(
                    out,
                    "no image changes in what was compared; {unknown} not compared, their images unknown"
                )?;
            } else if changes.is_empty() {
                writeln!(out, "no image changes")?;
            } else if markdown {
                writeln!(out, "| change | image | in |")?;
                writeln!(out, "|---|---|---|")?;
                for c in &changes {
                    writeln!(
                        out,
                        "| {:?} | `{}` | {} `{}` |",
                        c.change,
                        line(c),
                        c.producer,
                        c.object
                    )?;
                }
            } else {
                let mut last = String::new();
                for c in &changes {
                    let place = format!("{}  {}", c.producer, c.object);
                    if place != last {
                        writeln!(out, "{place}")?;
                        last = place;
                    }
                    writeln!(out, "  {}", line(c))?;
                }
            }
        }
    }
    Ok(if changes.is_empty() {
        Exit::Clean
    } else {
        Exit::Findings
    })
}
