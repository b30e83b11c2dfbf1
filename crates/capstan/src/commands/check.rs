//! `capstan check`: renders every Kustomization (and HelmRelease) of the repository, validates
//! every object (strict schemas, the seeds' policies, Flux integrity) and reports PASS / FAIL /
//! SKIPPED per unit, each finding with its rule, severity, object and `file:line`.
//!
//! Formats: `human`, `json` (the report as data), `github` (workflow annotations). Exit 1 when
//! any finding is an error, 2 when the check itself could not run.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use capstan_check::check::{DEFAULT_KUBE_VERSION, Sources, rule_ids};
use capstan_check::{CheckInput, Config, Rendered, Report, Unit, UnitKind, UnitStatus, Verdict};
use capstan_core::{Fs, Location, OsFs, Severity, Value};
use capstan_flux::discovery;
use capstan_flux::graph::DependencyGraph;

use super::Exit;
use super::get::discover_repository;
use crate::cli::{CheckArgs, CheckFormat};

pub fn run(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let fs = OsFs;
    let root = std::fs::canonicalize(&args.path)
        .with_context(|| format!("{}: cannot read", args.path.display()))?;
    let config = read_config(&fs, &root)?;
    let kube_version = args
        .kube_version
        .clone()
        .or_else(|| config.kube_version.clone())
        .unwrap_or_else(|| DEFAULT_KUBE_VERSION.to_owned());
    let input = gather(&fs, &root)?;
    let sources = Sources {
        fs: &fs,
        root: root.clone(),
    };
    let report = capstan_check::check(&input, &config, &kube_version, Some(&sources))?;
    match args.output {
        CheckFormat::Human => write_human(out, &report)?,
        CheckFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        CheckFormat::Github => write_github(out, &report)?,
    }
    Ok(if report.has_errors() {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

/// The `check` section of `.capstan.yaml` at the repository root (defaults when absent).
fn read_config(fs: &dyn Fs, root: &Path) -> anyhow::Result<Config> {
    let path = root.join(".capstan.yaml");
    if !fs.is_file(&path) {
        return Ok(Config::default());
    }
    let text = fs
        .read_to_string(&path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(Config::parse(&text, &rule_ids())?)
}

fn relative(root: &Path, file: &Path) -> PathBuf {
    file.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| file.to_path_buf())
}

/// Discovers the repository and renders each Kustomization's directory into check units.
pub(crate) fn gather(fs: &dyn Fs, root: &Path) -> anyhow::Result<CheckInput> {
    let discovery = discover_repository(root)?;
    let renderer = discovery::default_renderer();
    let mut input = CheckInput::default();
    let mut rendered_dirs: HashMap<PathBuf, Result<Vec<Rendered>, String>> = HashMap::new();
    for diagnostic in &discovery.diagnostics {
        input.diagnostics.push(diagnostic.clone());
    }
    for cluster in &discovery.clusters {
        input
            .diagnostics
            .extend(DependencyGraph::of(cluster).diagnostics());
        // Render failures become the unit's own FAIL below.
        input.diagnostics.extend(
            cluster
                .diagnostics
                .iter()
                .filter(|d| d.code != "flux/build-failed")
                .cloned(),
        );
        input
            .sources
            .extend(cluster.sources.iter().map(|s| s.found.raw.clone()));
        for ks in &cluster.kustomizations {
            let mut unit = Unit::new(UnitKind::Kustomization, ks.found.raw.clone());
            unit.location = location_of(root, &ks.found.origin);
            match (&ks.dir, ks.dir_exists) {
                (Some(dir), true) => {
                    let dir = root.join(dir);
                    let result = rendered_dirs.entry(dir.clone()).or_insert_with(|| {
                        renderer
                            .render(fs, &dir)
                            .map(|objects| {
                                objects
                                    .into_iter()
                                    .map(|o| {
                                        let location = Location {
                                            file: o
                                                .file
                                                .as_deref()
                                                .map(|f| relative(root, &root.join(f))),
                                            document: o.document,
                                            ..Location::default()
                                        };
                                        let encrypted = is_encrypted(fs, root, &o.value, &location);
                                        Rendered {
                                            object: o.value,
                                            location,
                                            encrypted,
                                        }
                                    })
                                    .collect()
                            })
                            .map_err(|e| e.message)
                    });
                    match result {
                        Ok(objects) => {
                            unit.objects = objects.clone();
                            apply_target_namespace(&mut unit);
                        }
                        Err(message) => {
                            let diagnostic = capstan_core::Diagnostic::new(
                                "flux/build-failed",
                                Severity::Error,
                                message.clone(),
                            )
                            .at(unit.location.clone());
                            unit.status = UnitStatus::Failed(vec![diagnostic]);
                        }
                    }
                }
                (Some(_), false) => {
                    unit.status = UnitStatus::Skipped("spec.path does not exist".to_owned())
                }
                (None, _) => {
                    unit.status = UnitStatus::Skipped("source is not this repository".to_owned())
                }
            }
            input.units.push(unit);
        }
        for hr in &cluster.helm_releases {
            let mut unit = Unit::new(UnitKind::HelmRelease, hr.found.raw.clone());
            unit.location = location_of(root, &hr.found.origin);
            unit.status =
                UnitStatus::Skipped("chart rendering is not wired into check yet".to_owned());
            input.units.push(unit);
        }
    }
    Ok(input)
}

/// `spec.targetNamespace` sets the namespace of every namespaced object, as kustomize-controller does.
fn apply_target_namespace(unit: &mut Unit) {
    let Some(ns) = unit
        .spec("targetNamespace")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    for rendered in &mut unit.objects {
        let kind = rendered
            .object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        if matches!(
            kind,
            "Namespace"
                | "CustomResourceDefinition"
                | "ClusterRole"
                | "ClusterRoleBinding"
                | "StorageClass"
                | "PriorityClass"
        ) {
            continue;
        }
        if let Some(meta) = rendered
            .object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        {
            meta.insert("namespace".to_owned(), Value::String(ns.clone()));
        }
    }
}

fn location_of(root: &Path, origin: &discovery::Origin) -> Location {
    let mut location = origin.location();
    location.file = location.file.map(|f| relative(root, &root.join(f)));
    location
}

/// True when the object's source document carries SOPS metadata.
fn is_encrypted(fs: &dyn Fs, root: &Path, object: &Value, location: &Location) -> bool {
    if object.get("sops").is_some() {
        return true;
    }
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return false;
    }
    let (Some(file), Some(document)) = (&location.file, location.document) else {
        return false;
    };
    let Ok(text) = fs.read_to_string(&root.join(file)) else {
        return false;
    };
    capstan_core::yaml::parse_documents(&text)
        .ok()
        .and_then(|docs| docs.get(document).map(|d| d.get("sops").is_some()))
        .unwrap_or(false)
}

fn unit_label(report: &Report, unit: usize) -> String {
    let u = &report.units[unit];
    let kind = match u.kind {
        UnitKind::Kustomization => "Kustomization",
        UnitKind::HelmRelease => "HelmRelease",
    };
    format!("{kind} {}/{}", u.namespace.as_deref().unwrap_or(""), u.name)
}

fn write_human(out: &mut dyn Write, report: &Report) -> anyhow::Result<()> {
    for (i, unit) in report.units.iter().enumerate() {
        let verdict = match unit.verdict {
            Verdict::Pass => "PASS   ",
            Verdict::Fail => "FAIL   ",
            Verdict::Skipped => "SKIPPED",
        };
        let detail = match &unit.reason {
            Some(reason) => format!(" ({reason})"),
            None => format!(" ({} objects)", unit.objects),
        };
        writeln!(out, "{verdict} {}{detail}", unit_label(report, i))?;
        for finding in report.findings.iter().filter(|f| f.unit == Some(i)) {
            write_finding(out, finding, "    ")?;
        }
    }
    let loose: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.unit.is_none())
        .collect();
    if !loose.is_empty() {
        writeln!(out, "repository:")?;
        for finding in loose {
            write_finding(out, finding, "    ")?;
        }
    }
    writeln!(out, "{}", report.summary())?;
    Ok(())
}

fn write_finding(
    out: &mut dyn Write,
    finding: &capstan_check::Finding,
    indent: &str,
) -> anyhow::Result<()> {
    let object = finding
        .object
        .as_deref()
        .map(|o| format!("{o}: "))
        .unwrap_or_default();
    writeln!(
        out,
        "{indent}{}[{}] {object}{}",
        finding.severity, finding.rule, finding.message
    )?;
    if let Some(file) = &finding.location.file {
        match finding.location.line {
            Some(line) => writeln!(out, "{indent}  --> {}:{line}", file.display())?,
            None => writeln!(out, "{indent}  --> {}", file.display())?,
        }
    }
    Ok(())
}

/// GitHub Actions workflow commands: `::error file=…,line=…,title=…::message`.
fn write_github(out: &mut dyn Write, report: &Report) -> anyhow::Result<()> {
    for finding in &report.findings {
        let level = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = Vec::new();
        if let Some(file) = &finding.location.file {
            props.push(format!(
                "file={}",
                escape_property(&file.display().to_string())
            ));
            if let Some(line) = finding.location.line {
                props.push(format!("line={line}"));
            }
        }
        props.push(format!("title={}", escape_property(&finding.rule)));
        let object = finding
            .object
            .as_deref()
            .map(|o| format!("{o}: "))
            .unwrap_or_default();
        writeln!(
            out,
            "::{level} {}::{}",
            props.join(","),
            escape_data(&format!("{object}{}", finding.message))
        )?;
    }
    writeln!(out, "{}", report.summary())?;
    Ok(())
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
