//! `flux/short-interval`: Kustomization and HelmRelease intervals are at least a minute.

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta, duration_seconds};
use crate::config::RuleConfig;
use crate::input::CheckInput;

pub struct FluxShortInterval;

static META: RuleMeta = RuleMeta {
    id: "flux/short-interval",
    severity: Severity::Warning,
    summary: "Kustomization and HelmRelease intervals are at least one minute.",
    why: "Every reconciliation renders, dry-runs and diffs against the API server; below a minute the \
          controllers spend their time re-applying unchanged state and throttle everything else. Changes in \
          Git arrive through the source's own interval or a webhook anyway.",
    example: "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\nspec:\n  interval: 30s\n",
    fix: "Use `interval: 10m` or more (or at least `1m`), and a Receiver webhook for fast delivery.",
    options: "",
};

impl Rule for FluxShortInterval {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        for (u, unit) in input.units.iter().enumerate() {
            let Some(text) = unit.spec("interval").and_then(Value::as_str) else {
                continue;
            };
            if duration_seconds(text).is_some_and(|s| s < 60.0) {
                out.push(
                    Hit::unit(u, format!("interval {text} is shorter than one minute"))
                        .field("spec.interval"),
                );
            }
        }
    }
}
