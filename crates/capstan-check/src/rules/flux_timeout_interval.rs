//! `flux/timeout-interval`: a Kustomization's `timeout` is not longer than its `interval` unless
//! a `retryInterval` says how soon to retry after a failure.

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta, duration_seconds};
use crate::config::RuleConfig;
use crate::input::{CheckInput, UnitKind};

pub struct FluxTimeoutInterval;

static META: RuleMeta = RuleMeta {
    id: "flux/timeout-interval",
    severity: Severity::Warning,
    summary: "A Kustomization's `timeout` is not longer than its `interval` without a `retryInterval`.",
    why: "A failed reconciliation is retried after `retryInterval`, which defaults to `interval`: with a timeout \
          longer than the interval, runs pile up behind each other and a failure is retried before the previous \
          attempt could even time out.",
    example: "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\nspec:\n  interval: 5m\n  timeout: 10m\n",
    fix: "Shorten `timeout` to at most `interval`, or set `retryInterval` explicitly.",
    options: "",
};

impl Rule for FluxTimeoutInterval {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        for (u, unit) in input.units.iter().enumerate() {
            if unit.kind != UnitKind::Kustomization || unit.spec("retryInterval").is_some() {
                continue;
            }
            let seconds = |f: &str| {
                unit.spec(f)
                    .and_then(Value::as_str)
                    .and_then(duration_seconds)
            };
            if let (Some(timeout), Some(interval)) = (seconds("timeout"), seconds("interval"))
                && timeout > interval
            {
                out.push(
                    Hit::unit(
                        u,
                        format!(
                            "timeout ({}) is longer than interval ({}) and no retryInterval is set",
                            unit.spec("timeout").and_then(Value::as_str).unwrap_or(""),
                            unit.spec("interval").and_then(Value::as_str).unwrap_or("")
                        ),
                    )
                    .field("spec.timeout"),
                );
            }
        }
    }
}
