//! What the build does with objects that exist only at runtime and with undefined variables:
//! a `substituteFrom`/`valuesFrom` object the repository arranges to exist (an ExternalSecret's
//! target, …; see [`crate::operator::runtime`]) stands in as a placeholder with a note; an
//! undefined variable is reported with what the repository's own Flux does with it.

use std::collections::BTreeMap;

use capstan_core::{Diagnostic, ResourceId, Severity, Value};

use super::BuiltObject;
use super::kustomization::KsBuildError;
use crate::discovery::Cluster;
use crate::model::ObjectKey;
use crate::operator::runtime::{RuntimeObject, placeholder};
use crate::operator::version::SubstitutionPolicy;
use crate::substitute::undefined::{referenced_without_default, undefined_variables};
use crate::substitute::{ExpandError, PostBuild, SubstituteError};

/// The runtime-only object of that kind, namespace and name, if the cluster has one.
pub(super) fn find<'c>(
    cluster: &'c Cluster,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Option<&'c RuntimeObject> {
    cluster
        .runtime_objects
        .iter()
        .find(|r| r.kind == kind && r.namespace == namespace && r.name == name)
}

/// The stand-in a HelmRelease's `valuesFrom` reads for a runtime-only object: every key the
/// release asks of it is present — a `targetPath` entry's value as its `<runtime:KEY>`
/// placeholder, a whole values document as an empty map (its values are unknown, so the chart
/// renders with its defaults there) — with the keys the producer lists besides.
pub(super) fn values_placeholder(object: &RuntimeObject, release: &Value) -> Value {
    let mut manifest = object.placeholder();
    let field = if object.kind == "Secret" {
        "stringData"
    } else {
        "data"
    };
    let entries = release
        .pointer("/spec/valuesFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            r.get("kind").and_then(Value::as_str) == Some(object.kind.as_str())
                && r.get("name").and_then(Value::as_str) == Some(object.name.as_str())
        });
    for reference in entries {
        let key = reference
            .get("valuesKey")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .unwrap_or("values.yaml");
        let whole = reference
            .get("targetPath")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        let value = if whole {
            "{}".to_owned()
        } else {
            placeholder(key)
        };
        if let Some(data) = manifest.get_mut(field).and_then(Value::as_object_mut) {
            data.insert(key.to_owned(), Value::String(value));
        }
    }
    manifest
}

/// The note a result carries when it read a runtime-only object.
pub(super) fn note(object: &RuntimeObject) -> String {
    format!(
        "{} {}/{} exists only at runtime (made by {}): its values are rendered as <runtime:KEY> placeholders",
        object.kind, object.namespace, object.name, object.producer
    )
}

/// With an open runtime object (its keys not all listed) among `used`, each variable the objects
/// use without definition is taken to come from it, as a placeholder.
pub(super) fn fill_open(
    used: &[RuntimeObject],
    objects: &[BuiltObject],
    vars: &mut BTreeMap<String, String>,
) {
    if !used.iter().any(RuntimeObject::is_open) {
        return;
    }
    for built in objects {
        for name in referenced_without_default(&built.object) {
            vars.entry(name.clone())
                .or_insert_with(|| placeholder(&name));
        }
    }
}

/// One `flux/undefined-variable` finding per variable and object, saying what Flux does.
pub(super) fn undefined_findings(
    key: &ObjectKey,
    post: &PostBuild,
    vars: &BTreeMap<String, String>,
    objects: &[BuiltObject],
    policy: &SubstitutionPolicy,
) -> Vec<Diagnostic> {
    if vars.is_empty() && post.strategy == crate::substitute::Strategy::WithVariables {
        return Vec::new(); // nothing is substituted at all
    }
    let mut out = Vec::new();
    for built in objects {
        for name in undefined_variables(&built.object, vars) {
            let location = built.location();
            out.push(
                Diagnostic::new(
                    "flux/undefined-variable",
                    if policy.strict {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    format!(
                        "{key}: ${{{name}}} in {} is not defined; {} ({})",
                        ResourceId::of(&built.object),
                        policy.consequence(),
                        policy.reason
                    ),
                )
                .at(location),
            );
        }
    }
    out
}

/// A post-build failure as text, saying why an undefined variable fails.
pub(super) fn explain_failure(error: KsBuildError, policy: &SubstitutionPolicy) -> String {
    match &error {
        KsBuildError::Substitute(SubstituteError::Expand {
            source: ExpandError::Unset { .. },
            ..
        }) => format!("{error}; {} ({})", policy.consequence(), policy.reason),
        _ => error.to_string(),
    }
}
