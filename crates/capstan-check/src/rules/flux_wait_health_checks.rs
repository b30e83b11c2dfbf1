//! `flux/wait-health-checks`: a Kustomization does not set both `wait: true` and `healthChecks`;
//! with `wait` kustomize-controller checks every applied object and ignores `healthChecks`.

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta};
use crate::config::RuleConfig;
use crate::input::{CheckInput, UnitKind};

pub struct FluxWaitHealthChecks;

static META: RuleMeta = RuleMeta {
    id: "flux/wait-health-checks",
    severity: Severity::Warning,
    summary: "A Kustomization does not combine `wait: true` with `healthChecks` (they are ignored).",
    why: "With `wait: true` the controller waits for every object it applied and silently ignores the \
          `healthChecks` list: the list suggests a check that never runs as written.",
    example: "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\nspec:\n  wait: true\n  healthChecks:\n  - {apiVersion: apps/v1, kind: Deployment, name: web, namespace: default}\n",
    fix: "Keep one of them: `wait: true` alone, or `healthChecks` without `wait`.",
    options: "",
};

impl Rule for FluxWaitHealthChecks {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        for (u, unit) in input.units.iter().enumerate() {
            if unit.kind != UnitKind::Kustomization
                || unit.spec("wait").and_then(Value::as_bool) != Some(true)
            {
                continue;
            }
            if unit
                .spec("healthChecks")
                .and_then(Value::as_array)
                .is_some_and(|l| !l.is_empty())
            {
                out.push(
                    Hit::unit(u, "wait: true makes the controller ignore healthChecks")
                        .field("spec.healthChecks"),
                );
            }
        }
    }
}
