//! `capstan get ks|hr|sources|all [NAME]`: the Flux objects a repository declares, listed the
//! way `flux get` lists them in a cluster — filtered to `-n NAMESPACE` (default `flux-system`)
//! unless `-A` — as a table, a wide table, the manifests as YAML, or JSON.
//!
//! Exit code 1 when discovery reports errors (missing paths or sources, files that do not
//! read); they are printed on stderr. A NAME that matches nothing is a failure (2).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use capstan_core::{OsFs, Severity, Value};
use capstan_flux::discovery::{self, Cluster, Discovery, Options};
use capstan_flux::model::FluxObject;
use capstan_flux::source::{SourceStatus, source_url};
use serde_json::json;

use super::Exit;
use crate::cli::{GetArgs, GetFormat, GetKind};

/// Discovers the repository at `path` with the default renderer.
pub(crate) fn discover_repository(path: &Path, options: &Options) -> anyhow::Result<Discovery> {
    let fs = OsFs;
    let absolute =
        std::fs::canonicalize(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let renderer = discovery::default_renderer();
    Ok(discovery::discover(
        &fs,
        &absolute,
        renderer.as_ref(),
        options,
    )?)
}

/// Prints discovery's findings on stderr; returns whether any is an error.
pub(crate) fn report_diagnostics(discovery: &Discovery) -> bool {
    let mut errors = false;
    for diagnostic in discovery.all_diagnostics() {
        errors |= diagnostic.severity == Severity::Error;
        eprintln!("{diagnostic}");
    }
    errors
}

/// One row of output: the columns of the table and the record of the JSON form.
struct Row {
    cells: Vec<String>,
    json: Value,
    raw: Value,
}

pub fn run(args: &GetArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    if args.live || args.kubeconfig.is_some() || args.context.is_some() {
        return super::verbs::get::run(args, out);
    }
    if args.kind == GetKind::Images {
        return super::images::get(args, out);
    }
    let selector = super::selector::LabelSelector::parse_all(&args.selector)?;
    let discovery = discover_repository(
        &args.path,
        &args.vars.discovery(args.sources.resolve(&args.path)?)?,
    )?;
    let errors = report_diagnostics(&discovery);
    if let Some(focus) = &discovery.focus {
        eprintln!(
            "note: {} is inside the repository at {}; showing what is declared in or applies {}, \
             and what those apply",
            args.path.display(),
            discovery.root.display(),
            focus.display()
        );
    }
    if discovery
        .clusters
        .iter()
        .all(|c| c.kustomizations.is_empty())
    {
        eprintln!(
            "{}",
            capstan_flux::discovery::nothing_to_discover(&discovery.root)
        );
    }
    let multi_cluster = discovery.clusters.len() > 1;
    let wide = args.output == GetFormat::Wide;
    let kinds: &[GetKind] = match args.kind {
        GetKind::All => &[
            GetKind::Kustomizations,
            GetKind::HelmReleases,
            GetKind::Sources,
        ],
        kind => std::slice::from_ref(match kind {
            GetKind::Kustomizations => &GetKind::Kustomizations,
            GetKind::HelmReleases => &GetKind::HelmReleases,
            _ => &GetKind::Sources,
        }),
    };
    // every namespace is listed, then the rows outside -n are counted for the hint and dropped
    let keep = |_namespace: &str, name: &str| args.name.as_deref().is_none_or(|n| n == name);
    let mut sections = Vec::new();
    let mut elsewhere = super::get_hint::Elsewhere::default();
    for &kind in kinds {
        let mut rows = Vec::new();
        for cluster in &discovery.clusters {
            rows.extend(rows_of(kind, &focused(&discovery, cluster), wide, &keep));
        }
        rows.retain(|row| selector.matches(row.raw.pointer("/metadata/labels")));
        rows.retain(|row| {
            let namespace = row.json["namespace"].as_str().unwrap_or_default();
            let inside = args.all_namespaces || namespace == args.namespace;
            if !inside {
                elsewhere.add(namespace);
            }
            inside
        });
        sections.push((kind, rows));
    }
    if let Some(hint) = elsewhere.hint(args) {
        eprintln!("{hint}");
    }
    let total: usize = sections.iter().map(|(_, rows)| rows.len()).sum();
    if let Some(name) = &args.name
        && total == 0
    {
        anyhow::bail!("no {} named {name} found{}", what(args.kind), scope(args));
    }
    match args.output {
        GetFormat::Table | GetFormat::Wide => {
            let mut first = true;
            for (kind, rows) in &sections {
                if rows.is_empty() {
                    if args.kind != GetKind::All {
                        eprintln!("no {} found{}", what(*kind), scope(args));
                    }
                    continue;
                }
                if !first {
                    writeln!(out)?;
                }
                first = false;
                let mut header: Vec<&str> = Vec::new();
                if multi_cluster {
                    header.push("CLUSTER");
                }
                header.extend(headers(*kind, wide));
                let cells: Vec<Vec<String>> = rows
                    .iter()
                    .map(|row| {
                        let mut cells = Vec::new();
                        if multi_cluster {
                            cells.push(row.json["cluster"].as_str().unwrap_or_default().to_owned());
                        }
                        cells.extend(row.cells.iter().cloned());
                        cells
                    })
                    .collect();
                write_table(out, &header, &cells)?;
            }
        }
        GetFormat::Yaml => {
            let manifests: Vec<&Value> = sections
                .iter()
                .flat_map(|(_, rows)| rows.iter().map(|r| &r.raw))
                .collect();
            out.write_all(capstan_core::yaml::to_yaml_stream(manifests).as_bytes())?;
        }
        GetFormat::Json => {
            let records: Vec<&Value> = sections
                .iter()
                .flat_map(|(_, rows)| rows.iter().map(|r| &r.json))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &records)?;
            writeln!(out)?;
        }
    }
    Ok(if errors { Exit::Findings } else { Exit::Clean })
}

/// The cluster with only what lies in the folder asked for and what that applies (everything
/// without a focus).
fn focused(discovery: &Discovery, cluster: &Cluster) -> Cluster {
    let mut out = cluster.clone();
    let Some(kept) = discovery.focused_keys() else {
        return out;
    };
    out.kustomizations.retain(|k| kept.contains(&k.found.key));
    out.helm_releases.retain(|h| kept.contains(&h.found.key));
    out.sources.retain(|s| kept.contains(&s.found.key));
    out
}

fn what(kind: GetKind) -> &'static str {
    match kind {
        GetKind::Kustomizations => "Kustomization",
        GetKind::HelmReleases => "HelmRelease",
        GetKind::Sources => "source",
        GetKind::All => "object",
        GetKind::Images => "image",
    }
}

fn scope(args: &GetArgs) -> String {
    let mut scope = if args.all_namespaces {
        String::new()
    } else {
        format!(" in namespace {}", args.namespace)
    };
    if !args.selector.is_empty() {
        scope.push_str(&format!(" matching -l {}", args.selector.join(",")));
    }
    scope
}

fn headers(kind: GetKind, wide: bool) -> Vec<&'static str> {
    let (base, extra): (&[&str], &[&str]) = match kind {
        GetKind::Kustomizations => (
            &[
                "NAMESPACE",
                "NAME",
                "PATH",
                "SOURCE",
                "DEPENDS ON",
                "SUSPENDED",
            ],
            &["INTERVAL", "PRUNE", "WAIT", "TARGET NAMESPACE", "FILE"],
        ),
        GetKind::HelmReleases => (
            &[
                "NAMESPACE",
                "NAME",
                "CHART",
                "VERSION",
                "SOURCE",
                "DEPENDS ON",
                "SUSPENDED",
            ],
            &["INTERVAL", "RELEASE", "TARGET NAMESPACE", "FILE"],
        ),
        _ => (
            &["NAMESPACE", "NAME", "KIND", "URL", "REF", "SUSPENDED"],
            &["INTERVAL", "FILE"],
        ),
    };
    let mut out = base.to_vec();
    if wide {
        out.extend_from_slice(extra);
    }
    out
}

fn or_dash(text: impl Into<String>) -> String {
    let text = text.into();
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

fn yes_no(flag: bool) -> String {
    if flag { "True" } else { "False" }.to_owned()
}

fn source_cell(status: Option<&SourceStatus>, reference: String) -> String {
    match status {
        Some(SourceStatus::Missing { .. }) => format!("{reference} (missing)"),
        _ => reference,
    }
}

fn rows_of(
    kind: GetKind,
    cluster: &Cluster,
    wide: bool,
    keep: &dyn Fn(&str, &str) -> bool,
) -> Vec<Row> {
    let file_of = |origin: &discovery::Origin| {
        origin
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    match kind {
        GetKind::Kustomizations => {
            for ks in &cluster.kustomizations {
                let key = &ks.found.key;
                if !keep(&key.namespace, &key.name) {
                    continue;
                }
                let spec = &ks.found.object.spec;
                let depends: Vec<String> =
                    spec.depends_on.iter().map(ToString::to_string).collect();
                let mut cells = vec![
                    key.namespace.clone(),
                    key.name.clone(),
                    spec.path_or_root().to_owned(),
                    source_cell(Some(&ks.source), spec.source_ref.to_string()),
                    or_dash(depends.join(", ")),
                    yes_no(spec.suspend),
                ];
                if wide {
                    cells.extend([
                        or_dash(
                            spec.interval
                                .as_ref()
                                .map(|d| d.to_string())
                                .unwrap_or_default(),
                        ),
                        yes_no(spec.prune),
                        yes_no(spec.wait),
                        or_dash(spec.target_namespace.clone().unwrap_or_default()),
                        or_dash(file_of(&ks.found.origin)),
                    ]);
                }
                let json = json!({
                    "cluster": cluster.name, "kind": "Kustomization", "namespace": key.namespace, "name": key.name,
                    "path": spec.path_or_root(), "dir": ks.dir, "dirExists": ks.dir_exists,
                    "source": spec.source_ref.to_string(), "sourceStatus": ks.source,
                    "dependsOn": depends, "suspended": spec.suspend, "interval": spec.interval,
                    "prune": spec.prune, "wait": spec.wait, "targetNamespace": spec.target_namespace,
                    "origin": ks.found.origin,
                });
                rows.push(Row {
                    cells,
                    json,
                    raw: ks.found.raw.clone(),
                });
            }
        }
        GetKind::HelmReleases => {
            for release in &cluster.helm_releases {
                let key = &release.found.key;
                if !keep(&key.namespace, &key.name) {
                    continue;
                }
                let spec = &release.found.object.spec;
                let (chart, version) = match &spec.chart {
                    Some(chart) => (
                        chart.spec.chart.clone(),
                        chart.spec.version.clone().unwrap_or_else(|| "*".to_owned()),
                    ),
                    None => (
                        spec.chart_ref
                            .as_ref()
                            .map(|r| r.name.clone())
                            .unwrap_or_default(),
                        release
                            .chart_ref_version(&cluster.sources)
                            .unwrap_or_default(),
                    ),
                };
                let reference = spec
                    .chart_source()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let depends: Vec<String> =
                    spec.depends_on.iter().map(ToString::to_string).collect();
                let mut cells = vec![
                    key.namespace.clone(),
                    key.name.clone(),
                    or_dash(chart.clone()),
                    or_dash(version.clone()),
                    or_dash(source_cell(release.source.as_ref(), reference.clone())),
                    or_dash(depends.join(", ")),
                    yes_no(spec.suspend),
                ];
                if wide {
                    cells.extend([
                        or_dash(
                            spec.interval
                                .as_ref()
                                .map(|d| d.to_string())
                                .unwrap_or_default(),
                        ),
                        or_dash(spec.release_name.clone().unwrap_or_default()),
                        or_dash(spec.target_namespace.clone().unwrap_or_default()),
                        or_dash(file_of(&release.found.origin)),
                    ]);
                }
                let json = json!({
                    "cluster": cluster.name, "kind": "HelmRelease", "namespace": key.namespace, "name": key.name,
                    "chart": chart, "version": version, "source": reference, "sourceStatus": release.source,
                    "dependsOn": depends, "suspended": spec.suspend, "interval": spec.interval,
                    "releaseName": spec.release_name, "targetNamespace": spec.target_namespace,
                    "origin": release.found.origin,
                });
                rows.push(Row {
                    cells,
                    json,
                    raw: release.found.raw.clone(),
                });
            }
        }
        _ => {
            for source in &cluster.sources {
                let key = &source.found.key;
                if !keep(&key.namespace, &key.name) {
                    continue;
                }
                let object = &source.found.object;
                let url = if source.implied {
                    "(this repository)".to_owned()
                } else {
                    source_url(object).unwrap_or_default()
                };
                let (reference, interval) = match object {
                    FluxObject::GitRepository(o) => (
                        o.spec
                            .reference
                            .as_ref()
                            .map(|r| r.describe())
                            .unwrap_or_default(),
                        o.spec.interval.clone(),
                    ),
                    FluxObject::OciRepository(o) => (
                        o.spec
                            .reference
                            .as_ref()
                            .map(|r| r.describe())
                            .unwrap_or_default(),
                        o.spec.interval.clone(),
                    ),
                    FluxObject::HelmRepository(o) => (
                        o.spec.repository_type.clone().unwrap_or_default(),
                        o.spec.interval.clone(),
                    ),
                    FluxObject::Bucket(o) => (
                        o.spec.prefix.clone().unwrap_or_default(),
                        o.spec.interval.clone(),
                    ),
                    _ => (String::new(), None),
                };
                let mut cells = vec![
                    key.namespace.clone(),
                    key.name.clone(),
                    key.kind.to_string(),
                    or_dash(url.clone()),
                    or_dash(reference.clone()),
                    yes_no(object.suspended()),
                ];
                if wide {
                    cells.extend([
                        or_dash(interval.as_ref().map(|d| d.to_string()).unwrap_or_default()),
                        or_dash(file_of(&source.found.origin)),
                    ]);
                }
                let json = json!({
                    "cluster": cluster.name, "kind": key.kind, "namespace": key.namespace, "name": key.name,
                    "url": url, "ref": reference, "implied": source.implied, "suspended": object.suspended(),
                    "interval": interval, "origin": source.found.origin,
                });
                rows.push(Row {
                    cells,
                    json,
                    raw: source.found.raw.clone(),
                });
            }
        }
    }
    rows
}

/// Writes aligned columns separated by three spaces, without trailing blanks.
pub(crate) fn write_table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        text.trim_end().to_owned()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
