//! The check engine: schema validation of every rendered object, the policy rules and Flux
//! integrity checks, discovery's findings, and build failures, gathered into one [`Report`]
//! with a PASS / FAIL / SKIPPED verdict per Kustomization and HelmRelease.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use capstan_core::{Diagnostic, Fs, Location, ResourceId, Severity, Value};

use crate::config::{Config, glob_match, ignored_by_annotation};
use crate::input::{CheckInput, UnitKind, UnitStatus};
use crate::locate::line_of;
use crate::rules;
use crate::schema::{self, Outcome, SchemaSet};

/// The Kubernetes version validated against when neither the flag nor `.capstan.yaml` names one.
pub const DEFAULT_KUBE_VERSION: &str = "1.33";

/// One finding.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// Rule or error id, e.g. `image-pinned`, `schema/unknown-field`, `flux/missing-source`.
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    /// The object the finding is about (the Kustomization/HelmRelease itself for unit-level findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Index into [`Report::units`] of the Kustomization or HelmRelease it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<usize>,
    #[serde(skip_serializing_if = "Location::is_empty")]
    pub location: Location,
}

/// PASS / FAIL / SKIPPED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
    Skipped,
}

/// One Kustomization or HelmRelease in the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitReport {
    pub kind: UnitKind,
    pub namespace: Option<String>,
    pub name: String,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub objects: usize,
}

/// Everything a check found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub kube_version: String,
    pub units: Vec<UnitReport>,
    pub findings: Vec<Finding>,
    /// Rendered objects checked.
    pub objects: usize,
    pub kustomizations: usize,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// Findings per rule id, for summaries.
    pub fn counts_by_rule(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for f in &self.findings {
            *counts.entry(f.rule.as_str()).or_default() += 1;
        }
        let mut out: Vec<(String, usize)> =
            counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        out.sort();
        out
    }

    /// `N errors, M warnings in K objects from L Kustomizations`, then how many units were not
    /// checked (skipped; each SKIPPED line says why): nothing was said about their objects.
    pub fn summary(&self) -> String {
        let mut summary = format!(
            "{} errors, {} warnings in {} objects from {} Kustomizations",
            self.count(Severity::Error),
            self.count(Severity::Warning),
            self.objects,
            self.kustomizations
        );
        let skipped = self
            .units
            .iter()
            .filter(|u| u.verdict == Verdict::Skipped)
            .count();
        if skipped > 0 {
            summary.push_str(&format!(
                "; {skipped} not checked (SKIPPED above: suspended, or their source or chart out of reach)"
            ));
        }
        summary
    }
}

/// Ids every configurable rule answers to (for `.capstan.yaml` validation).
pub fn rule_ids() -> Vec<&'static str> {
    rules::all().iter().map(|r| r.meta().id).collect()
}

/// Where source files are read from to put line numbers on findings.
pub struct Sources<'a> {
    pub fs: &'a dyn Fs,
    /// The repository root that relative locations are relative to.
    pub root: PathBuf,
}

fn display_id(id: &ResourceId) -> String {
    id.to_string()
}

/// Runs every check over `input`.
pub fn check(
    input: &CheckInput,
    config: &Config,
    kube_version: &str,
    sources: Option<&Sources<'_>>,
) -> Result<Report, schema::Error> {
    let mut schemas = SchemaSet::new(kube_version)?;
    let runs_operator = input.units.iter().any(|u| {
        schema::flux_operator::runs_flux_operator(&u.manifest)
            || u.objects
                .iter()
                .any(|r| schema::flux_operator::runs_flux_operator(&r.object))
    });
    if runs_operator {
        schemas.widen_for_flux_operator()?;
    }
    for unit in &input.units {
        for rendered in &unit.objects {
            if rendered.object.get("kind").and_then(Value::as_str)
                == Some("CustomResourceDefinition")
            {
                schemas.add_crd(&rendered.object);
            }
        }
    }
    let mut findings: Vec<Finding> = Vec::new();
    let mut unknown_kinds: BTreeSet<(String, String)> = BTreeSet::new();

    for (u, unit) in input.units.iter().enumerate() {
        if let UnitStatus::Failed(errors) = &unit.status {
            for error in errors {
                findings.push(Finding {
                    rule: error.code.clone(),
                    severity: error.severity,
                    message: error.message.clone(),
                    object: Some(display_id(&unit.id)),
                    unit: Some(u),
                    location: if error.location.is_empty() {
                        unit.location.clone()
                    } else {
                        error.location.clone()
                    },
                });
            }
        }
        for rendered in &unit.objects {
            let object = &rendered.object;
            let id = ResourceId::of(object);
            let mut push =
                |rule: &str, severity: Severity, message: String, field: Option<String>| {
                    if ignored_by_annotation(object, rule) {
                        return;
                    }
                    let mut location = rendered.location.clone();
                    location.field = field;
                    findings.push(Finding {
                        rule: rule.to_owned(),
                        severity,
                        message,
                        object: Some(display_id(&id)),
                        unit: Some(u),
                        location,
                    });
                };
            match schemas.validate(object) {
                Outcome::Checked(errors) => {
                    for e in errors {
                        push(
                            e.problem.code(),
                            Severity::Error,
                            format!("{}: {}", e.field, e.message),
                            Some(e.field),
                        );
                    }
                }
                Outcome::NotServed => push(
                    "schema/not-served",
                    Severity::Error,
                    format!(
                        "{} {} is not served by Kubernetes {}",
                        id.api_version(),
                        id.kind,
                        schemas.kube_version()
                    ),
                    None,
                ),
                Outcome::NoSchema => {
                    if unknown_kinds.insert((id.api_version(), id.kind.clone())) {
                        push(
                            "schema/unknown-kind",
                            Severity::Warning,
                            format!(
                                "no schema for {} {} (no CRD for it in the repository): not validated",
                                id.api_version(),
                                id.kind
                            ),
                            None,
                        );
                    }
                }
            }
        }
    }

    for rule in rules::all() {
        let meta = rule.meta();
        let rule_config = config.rule(meta.id);
        if rule_config.enabled == Some(false) {
            continue;
        }
        let severity = rule_config.severity.unwrap_or(meta.severity);
        let mut hits = Vec::new();
        rule.check(input, &rule_config, &mut hits);
        for hit in hits {
            let Some(unit) = input.units.get(hit.unit) else {
                continue;
            };
            let (object, mut location) = match hit.object.and_then(|o| unit.objects.get(o)) {
                Some(rendered) => (&rendered.object, rendered.location.clone()),
                None => (&unit.manifest, unit.location.clone()),
            };
            let id = ResourceId::of(object);
            let name = match &id.namespace {
                Some(ns) => format!("{}/{}/{}", id.kind, ns, id.name),
                None => format!("{}/{}", id.kind, id.name),
            };
            if ignored_by_annotation(object, meta.id)
                || rule_config.allow.iter().any(|g| glob_match(g, &name))
            {
                continue;
            }
            location.field = hit.field;
            findings.push(Finding {
                rule: meta.id.to_owned(),
                severity,
                message: hit.message,
                object: Some(display_id(&id)),
                unit: Some(hit.unit),
                location,
            });
        }
    }

    for diagnostic in &input.diagnostics {
        findings.push(finding_of(diagnostic, input));
    }

    if let Some(sources) = sources {
        locate_lines(&mut findings, sources);
    }

    let units = input
        .units
        .iter()
        .enumerate()
        .map(|(u, unit)| {
            let (verdict, reason) = match &unit.status {
                UnitStatus::Skipped(reason) => (Verdict::Skipped, Some(reason.clone())),
                UnitStatus::Failed(_) => (Verdict::Fail, Some("build failed".to_owned())),
                UnitStatus::Rendered => {
                    let failed = findings
                        .iter()
                        .any(|f| f.unit == Some(u) && f.severity == Severity::Error);
                    (if failed { Verdict::Fail } else { Verdict::Pass }, None)
                }
            };
            UnitReport {
                kind: unit.kind,
                namespace: unit.id.namespace.clone(),
                name: unit.id.name.clone(),
                verdict,
                reason,
                objects: unit.objects.len(),
            }
        })
        .collect();
    Ok(Report {
        kube_version: schemas.kube_version().to_owned(),
        units,
        findings,
        objects: input.units.iter().map(|u| u.objects.len()).sum(),
        kustomizations: input
            .units
            .iter()
            .filter(|u| u.kind == UnitKind::Kustomization)
            .count(),
    })
}

/// A discovery or graph diagnostic, attached to the unit declared at its location when there is one.
fn finding_of(diagnostic: &Diagnostic, input: &CheckInput) -> Finding {
    let unit = input.units.iter().position(|u| {
        u.location.file.is_some()
            && u.location.file == diagnostic.location.file
            && u.location.document == diagnostic.location.document
    });
    Finding {
        rule: diagnostic.code.clone(),
        severity: diagnostic.severity,
        message: diagnostic.message.clone(),
        object: unit.map(|u| display_id(&input.units[u].id)),
        unit,
        location: diagnostic.location.clone(),
    }
}

/// Fills in the line of every finding that names a field of a document the build located (file
/// and document index come from the build's outcome, [`capstan_flux::build::BuiltObject`]): the
/// field's line when it is found in the document, else the document's. A finding with no field
/// keeps the document's line the build recorded.
fn locate_lines(findings: &mut [Finding], sources: &Sources<'_>) {
    let mut texts: HashMap<PathBuf, Option<String>> = HashMap::new();
    for finding in findings {
        let location = &mut finding.location;
        let (Some(file), Some(document)) = (location.file.clone(), location.document) else {
            continue;
        };
        if location.field.is_none() && location.line.is_some() {
            continue;
        }
        let path: PathBuf = if file.is_absolute() {
            file
        } else {
            sources.root.join(file)
        };
        let text = texts
            .entry(path.clone())
            .or_insert_with(|| sources.fs.read_to_string(Path::new(&path)).ok());
        let Some(text) = text else { continue };
        if let Some(line) = line_of(text, document, location.field.as_deref()) {
            location.line = Some(line);
        }
    }
}
