//! Policy rules (the seeds' practices) and Flux integrity checks, one rule per file.
//!
//! A rule declares its id, default severity and documentation ([`RuleMeta`]) and reports
//! [`Hit`]s over the whole [`CheckInput`]; the check engine applies `.capstan.yaml` (enabled,
//! severity, allow-lists) and the `capstan.io/ignore` annotation, and turns hits into findings.
//! `docs/rules.md` is generated from the metadata by [`markdown`].

mod bootstrap_phase;
mod container_resources;
mod flux_object_owned_twice;
mod flux_prune_pvc;
mod flux_short_interval;
mod flux_timeout_interval;
mod flux_wait_health_checks;
mod helm_chart_pinned;
mod image_pinned;
mod ingress_host_tls;
mod namespace_no_prune;
mod no_plaintext_secret;
mod pvc_protection_finalizer;

use capstan_core::{Severity, Value};

use crate::config::RuleConfig;
use crate::input::{CheckInput, Rendered, Unit};

/// A rule's identity and documentation.
#[derive(Debug)]
pub struct RuleMeta {
    pub id: &'static str,
    pub severity: Severity,
    /// One line: what the rule requires.
    pub summary: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// A manifest that violates the rule.
    pub example: &'static str,
    /// How to fix it, or what the clean version looks like.
    pub fix: &'static str,
    /// The rule's own `.capstan.yaml` options (empty when it has none).
    pub options: &'static str,
}

/// One violation: in which unit, which object (or the unit's own manifest when `None`), what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub unit: usize,
    pub object: Option<usize>,
    pub message: String,
    pub field: Option<String>,
}

impl Hit {
    pub fn object(unit: usize, object: usize, message: impl Into<String>) -> Hit {
        Hit {
            unit,
            object: Some(object),
            message: message.into(),
            field: None,
        }
    }

    pub fn unit(unit: usize, message: impl Into<String>) -> Hit {
        Hit {
            unit,
            object: None,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Hit {
        self.field = Some(field.into());
        self
    }
}

/// A policy rule or integrity check.
pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, input: &CheckInput, config: &RuleConfig, out: &mut Vec<Hit>);
}

/// Every rule, in documentation order.
pub fn all() -> Vec<&'static dyn Rule> {
    vec![
        &pvc_protection_finalizer::PvcProtectionFinalizer,
        &no_plaintext_secret::NoPlaintextSecret,
        &namespace_no_prune::NamespaceNoPrune,
        &image_pinned::ImagePinned,
        &ingress_host_tls::IngressHostTls,
        &container_resources::ContainerResources,
        &helm_chart_pinned::HelmChartPinned,
        &bootstrap_phase::BootstrapPhase,
        &flux_object_owned_twice::FluxObjectOwnedTwice,
        &flux_timeout_interval::FluxTimeoutInterval,
        &flux_short_interval::FluxShortInterval,
        &flux_wait_health_checks::FluxWaitHealthChecks,
        &flux_prune_pvc::FluxPrunePvc,
    ]
}

/// Calls `f(unit index, object index, unit, object)` for every rendered object.
pub(crate) fn each_object<'a>(
    input: &'a CheckInput,
    mut f: impl FnMut(usize, usize, &'a Unit, &'a Rendered),
) {
    for (u, unit) in input.units.iter().enumerate() {
        for (o, rendered) in unit.objects.iter().enumerate() {
            f(u, o, unit, rendered);
        }
    }
}

pub(crate) use capstan_core::workload::{group_of, kind_of, pod_spec};

pub(crate) fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// True when Flux will not prune the object (`kustomize.toolkit.fluxcd.io/prune: disabled`,
/// matched case-insensitively as kustomize-controller does).
pub(crate) fn prune_disabled(object: &Value) -> bool {
    let label = object
        .pointer("/metadata/labels")
        .and_then(|a| a.get("kustomize.toolkit.fluxcd.io/prune"))
        .and_then(Value::as_str);
    annotation(object, "kustomize.toolkit.fluxcd.io/prune")
        .or(label)
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

/// Every container of a pod spec (init containers included) with its field path.
pub(crate) fn containers<'a>(spec: &'a Value, base: &str) -> Vec<(&'a Value, String)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers"] {
        for (i, container) in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            out.push((container, format!("{base}.{list}[{i}]")));
        }
    }
    out
}

/// Parses a Go duration (`1h30m`, `90s`, `500ms`) into seconds.
pub(crate) fn duration_seconds(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit..];
    }
    Some(total)
}

/// `docs/rules.md`: one section per rule from its metadata.
pub fn markdown() -> String {
    let mut out = String::from(
        "# capstan check rules\n\n<!-- Generated from crates/capstan-check/src/rules by `CAPSTAN_UPDATE_DOCS=1 cargo test -p capstan-check --test rules_doc`. Do not edit by hand. -->\n\n\
         Every rule can be configured in the repository's `.capstan.yaml`:\n\n\
         ```yaml\ncheck:\n  rules:\n    RULE-ID:\n      enabled: false          # turn the rule off\n      severity: warning       # error, warning or info\n      allow: [\"Kind/namespace/name\"]  # globs over objects the rule skips\n```\n\n\
         A single object opts out with the annotation `capstan.io/ignore: RULE-ID[,RULE-ID...]` (or `*`).\n\n\
         Schema findings (`schema/unknown-field`, `schema/wrong-type`, `schema/missing-field`, `schema/invalid-value`,\n\
         `schema/not-served`, `schema/unknown-kind`) and discovery findings (`flux/missing-source`, `flux/missing-path`,\n\
         `flux/missing-dependency`, `flux/dependency-cycle`, `flux/build-failed`, …) are reported as well; they are not\n\
         configurable rules.\n\n| rule | default | summary |\n|---|---|---|\n",
    );
    let rules = all();
    for rule in &rules {
        let m = rule.meta();
        out.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            m.id,
            m.id.replace('/', ""),
            m.severity,
            m.summary
        ));
    }
    for rule in &rules {
        let m = rule.meta();
        out.push_str(&format!(
            "\n## {}\n\n{}\n\n**Default severity:** {}\n\n**Why.** {}\n\n",
            m.id, m.summary, m.severity, m.why
        ));
        out.push_str(&format!(
            "**Example (flagged):**\n\n```yaml\n{}\n```\n\n**Fix.** {}\n",
            m.example.trim_end(),
            m.fix
        ));
        if !m.options.is_empty() {
            out.push_str(&format!("\n**Options.** {}\n", m.options));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_seconds("1h30m"), Some(5400.0));
        assert_eq!(duration_seconds("30s"), Some(30.0));
        assert_eq!(duration_seconds("1.5m"), Some(90.0));
        assert_eq!(duration_seconds("500ms"), Some(0.5));
        assert_eq!(duration_seconds("ten"), None);
        assert_eq!(duration_seconds(""), None);
    }

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<&str> = all().iter().map(|r| r.meta().id).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
