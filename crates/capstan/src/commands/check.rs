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
use std::sync::Arc;

use capstan_core::{Diagnostic, Fs, Location, OsFs, ResourceId, Severity, Value};
use capstan_flux::build::{BuildOptions, BuildReport, Status, build_all};
use capstan_flux::helm::{HelmBinary, HelmRenderer};
use capstan_flux::sops::Keys;

use super::Exit;
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
    if input.units.is_empty() && input.diagnostics.is_empty() {
        // nothing checked is not "clean"
        anyhow::bail!(
            "no Flux Kustomization or HelmRelease found under {}: run check in a Flux repository, or pass --path to one",
            args.path.display()
        );
    }
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

/// Builds every Kustomization and HelmRelease (as `capstan build all`) into check units.
pub(crate) fn gather(fs: &dyn Fs, root: &Path) -> anyhow::Result<CheckInput> {
    let keys = Keys::from_process_env_and_file(None, fs).context("loading SOPS age keys")?;
    let helm = HelmBinary::find(None).map(|h| Arc::new(h) as Arc<dyn HelmRenderer>);
    let options = BuildOptions {
        keys,
        helm,
        ..BuildOptions::default()
    };
    let report =
        build_all(fs, root, &options).with_context(|| format!("building {}", root.display()))?;
    Ok(input_of(fs, root, &report))
}

/// Maps a build report to check units. A unit's own manifest is the one its parent rendered
/// (post-substitution, as Flux applies it); entry points are found in their own output.
pub(crate) fn input_of(fs: &dyn Fs, root: &Path, report: &BuildReport) -> CheckInput {
    // Render failures are the unit's own FAIL; discovery's note about them would repeat it.
    let mut input = CheckInput {
        diagnostics: report
            .diagnostics
            .iter()
            .filter(|d| d.code != "flux/build-failed")
            .cloned()
            .collect(),
        ..CheckInput::default()
    };
    let mut manifests: HashMap<(String, String, String), (Value, Location)> = HashMap::new();
    for result in report.kustomizations.iter().chain(&report.helm_releases) {
        for built in &result.objects {
            let kind = built
                .object
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("");
            let id = ResourceId::of(&built.object);
            if id.group.ends_with("toolkit.fluxcd.io") {
                let location = Location {
                    file: built.file.as_deref().map(|f| relative(root, &root.join(f))),
                    ..Location::default()
                };
                if matches!(kind, "Kustomization" | "HelmRelease") {
                    manifests
                        .entry((
                            kind.to_owned(),
                            id.namespace.clone().unwrap_or_default(),
                            id.name.clone(),
                        ))
                        .or_insert_with(|| (built.object.clone(), location));
                } else if id.group.starts_with("source.") {
                    input.sources.push(built.object.clone());
                }
            }
        }
    }
    for (kind, results) in [
        (UnitKind::Kustomization, &report.kustomizations),
        (UnitKind::HelmRelease, &report.helm_releases),
    ] {
        for result in results {
            let flux_kind = match kind {
                UnitKind::Kustomization => "Kustomization",
                UnitKind::HelmRelease => "HelmRelease",
            };
            let key = (
                flux_kind.to_owned(),
                result.key.namespace.clone(),
                result.key.name.clone(),
            );
            let (manifest, location) = manifests.get(&key).cloned().unwrap_or_else(|| {
                let api = match kind {
                    UnitKind::Kustomization => "kustomize.toolkit.fluxcd.io/v1",
                    UnitKind::HelmRelease => "helm.toolkit.fluxcd.io/v2",
                };
                let manifest = serde_json::json!({"apiVersion": api, "kind": flux_kind,
                    "metadata": {"name": result.key.name, "namespace": result.key.namespace}});
                (manifest, Location::default())
            });
            let mut unit = Unit::new(kind, manifest);
            unit.location = location;
            unit.cluster = Some(result.cluster.clone());
            unit.status = match result.status {
                Status::Rendered => UnitStatus::Rendered,
                Status::Suspended => UnitStatus::Skipped("suspended".to_owned()),
                Status::Skipped | Status::Unchanged => {
                    UnitStatus::Skipped(result.errors.join("; "))
                }
                Status::Failed
                    if kind == UnitKind::HelmRelease
                        && result.errors.iter().all(|e| unreachable_chart(e)) =>
                {
                    UnitStatus::Skipped(format!(
                        "chart not available offline: {}",
                        result.errors.join("; ")
                    ))
                }
                Status::Failed => UnitStatus::Failed(
                    result
                        .errors
                        .iter()
                        .map(|e| {
                            let code = if e.contains("variable not set") {
                                "flux/undefined-variable"
                            } else {
                                "flux/build-failed"
                            };
                            Diagnostic::new(code, Severity::Error, e.clone())
                                .at(unit.location.clone())
                        })
                        .collect(),
                ),
            };
            unit.objects = result
                .objects
                .iter()
                .map(|built| {
                    let location = Location {
                        file: built.file.as_deref().map(|f| relative(root, &root.join(f))),
                        ..Location::default()
                    };
                    let encrypted = is_encrypted(fs, root, &built.object, &location);
                    Rendered {
                        object: built.object.clone(),
                        location,
                        encrypted,
                    }
                })
                .collect();
            input.units.push(unit);
        }
    }
    input
}

/// True for HelmRelease errors that only say the chart cannot be had offline (remote repository,
/// no helm binary), which make the release SKIPPED rather than FAILED.
fn unreachable_chart(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    [
        "not found at",
        "not reachable",
        "helm not found",
        "remote",
        "offline",
        "chart cache",
        "not this repository",
    ]
    .iter()
    .any(|m| e.contains(m))
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
