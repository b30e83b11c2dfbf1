//! A check's input from `capstan-flux`'s build outcome, as it is: each Kustomization and
//! HelmRelease becomes a [`Unit`] with its effective manifest (as its parent applies it; an entry
//! point's own declaration), its typed status, and its objects with their provenance (file,
//! document, line, encrypted-at-source). Nothing is read again and no message text is
//! interpreted.

use std::collections::HashMap;

use capstan_core::{Diagnostic, Location, ResourceId, Severity, Value};
use capstan_flux::build::{BuildReport, BuildResult, Status};

use crate::input::{CheckInput, Rendered, Unit, UnitKind, UnitStatus};

/// The Flux manifests the build rendered, by (kind, namespace, name), with where they came from.
type Manifests = HashMap<(String, String, String), (Value, Location)>;

/// Maps a build report to check units.
pub fn input_of(report: &BuildReport) -> CheckInput {
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
    let mut manifests = Manifests::new();
    for result in report.kustomizations.iter().chain(&report.helm_releases) {
        for built in &result.objects {
            let id = ResourceId::of(&built.object);
            if !id.group.ends_with("toolkit.fluxcd.io") {
                continue;
            }
            if matches!(id.kind.as_str(), "Kustomization" | "HelmRelease") {
                let location = built.location();
                manifests
                    .entry((
                        id.kind.clone(),
                        id.namespace.clone().unwrap_or_default(),
                        id.name.clone(),
                    ))
                    .or_insert_with(|| (built.object.clone(), location));
            } else if id.group.starts_with("source.") {
                input.sources.push(built.object.clone());
            }
        }
    }
    for (kind, results) in [
        (UnitKind::Kustomization, &report.kustomizations),
        (UnitKind::HelmRelease, &report.helm_releases),
    ] {
        for result in results {
            input.units.push(unit_of(kind, result, &manifests));
        }
    }
    input
}

fn unit_of(kind: UnitKind, result: &BuildResult, manifests: &Manifests) -> Unit {
    let flux_kind = match kind {
        UnitKind::Kustomization => "Kustomization",
        UnitKind::HelmRelease => "HelmRelease",
    };
    let key = (
        flux_kind.to_owned(),
        result.key.namespace.clone(),
        result.key.name.clone(),
    );
    // as the parent applies it (after its substitution); else as declared (an entry point)
    let (manifest, location) = match manifests.get(&key) {
        Some(found) => found.clone(),
        None if !result.effective.manifest.is_null() => {
            let mut manifest = result.effective.manifest.clone();
            if manifest.pointer("/metadata/namespace").is_none()
                && let Some(meta) = manifest.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.insert("namespace".into(), result.key.namespace.clone().into());
            }
            (manifest, result.declared.clone())
        }
        None => {
            let api = match kind {
                UnitKind::Kustomization => "kustomize.toolkit.fluxcd.io/v1",
                UnitKind::HelmRelease => "helm.toolkit.fluxcd.io/v2",
            };
            let manifest = serde_json::json!({"apiVersion": api, "kind": flux_kind,
                "metadata": {"name": result.key.name, "namespace": result.key.namespace}});
            (manifest, result.declared.clone())
        }
    };
    let mut unit = Unit::new(kind, manifest);
    unit.location = location;
    unit.cluster = Some(result.cluster.clone());
    unit.status = status_of(result, &unit.location);
    unit.objects = result
        .objects
        .iter()
        .map(|built| Rendered {
            object: built.object.clone(),
            location: built.location(),
            encrypted: built.encrypted,
        })
        .collect();
    unit
}

/// The unit's status from the typed outcome: left out (suspended, source or chart out of reach,
/// changed-only) is SKIPPED with the reason; a failure whose every reason is out of the
/// repository's hands (a chart registry unreachable) too; any other failure is FAIL.
fn status_of(result: &BuildResult, location: &Location) -> UnitStatus {
    match result.status {
        Status::Rendered => UnitStatus::Rendered,
        Status::Suspended => UnitStatus::Skipped("suspended".to_owned()),
        Status::Skipped | Status::Unchanged => UnitStatus::Skipped(result.errors.join("; ")),
        Status::Failed
            if !result.reasons.is_empty() && result.reasons.iter().all(|r| r.is_skip()) =>
        {
            UnitStatus::Skipped(format!("chart not available: {}", result.errors.join("; ")))
        }
        Status::Failed => UnitStatus::Failed(
            result
                .errors
                .iter()
                .enumerate()
                .map(|(i, message)| {
                    let code = result
                        .reasons
                        .get(i)
                        .map(|r| r.code())
                        .unwrap_or("flux/build-failed");
                    Diagnostic::new(code, Severity::Error, message.clone()).at(location.clone())
                })
                .collect(),
        ),
    }
}
