//! `capstan check`: renders every Kustomization (and HelmRelease) of the repository, validates
//! every object (strict schemas, the seeds' policies, Flux integrity) and reports PASS / FAIL /
//! SKIPPED per unit, each finding with its rule, severity, object and `file:line`.
//!
//! Formats: `human`, `json` (the report as data), `github` (workflow annotations). Exit 1 when
//! any finding is an error, 2 when the check itself could not run.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use capstan_check::{Report, UnitKind, Verdict, check_repository};
use capstan_core::{OsFs, Severity};
use capstan_flux::build::BuildOptions;
use capstan_flux::helm::{HelmBinary, HelmRenderer};
use capstan_flux::sops::Keys;

use super::Exit;
use crate::cli::{CheckArgs, CheckFormat};

pub fn run(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let fs = OsFs;
    let root = std::fs::canonicalize(&args.path)
        .with_context(|| format!("{}: cannot read", args.path.display()))?;
    let options = BuildOptions {
        keys: Keys::from_process_env_and_file(None, &fs).context("loading SOPS age keys")?,
        helm: HelmBinary::find(None).map(|h| Arc::new(h) as Arc<dyn HelmRenderer>),
        charts: Some(args.charts.fetcher()),
        discovery: capstan_flux::discovery::Options {
            sources: args.sources.resolve(&args.path)?,
            vars: args.vars.resolve()?,
            ..capstan_flux::discovery::Options::default()
        },
        ..BuildOptions::default()
    };
    let report = check_repository(&fs, &root, &options, args.kube_version.as_deref())?;
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
