//! `reconcile-timing`: a Flux object's `interval`, `retryInterval` or `timeout` changes — how
//! soon drift is corrected, how long an apply (and its health checks) may take before it counts
//! as failed. A timeout longer than the interval is said too.

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit, show};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct ReconcileTiming;

static META: AnalysisMeta = AnalysisMeta {
    id: "reconcile-timing",
    category: Category::Flux,
    risk: Risk::Low,
    summary: "A Flux object's interval or timeout changes.",
};

fn seconds(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        total += number
            * match &rest[..unit] {
                "h" => 3600.0,
                "m" => 60.0,
                "s" => 1.0,
                "ms" => 0.001,
                _ => return None,
            };
        rest = &rest[unit..];
    }
    Some(total)
}

impl Analysis for ReconcileTiming {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if object.change != ObjectChange::Changed
                || !object.id.group.ends_with(".toolkit.fluxcd.io")
            {
                continue;
            }
            let (Some(before), Some(after)) = (&object.before, &object.after) else {
                continue;
            };
            for field in ["interval", "retryInterval", "timeout"] {
                let pointer = format!("/spec/{field}");
                let (b, a) = (before.pointer(&pointer), after.pointer(&pointer));
                if b == a {
                    continue;
                }
                let what = match field {
                    "interval" => "how often it is reconciled and drift corrected",
                    "retryInterval" => "how soon a failed reconcile is retried",
                    _ => "how long an apply and its health checks may take",
                };
                let mut reason = format!(
                    "{field} {} → {}: {what}",
                    show(b.unwrap_or(&Value::Null)),
                    show(a.unwrap_or(&Value::Null))
                );
                let secs = |p: &str| after.pointer(p).and_then(Value::as_str).and_then(seconds);
                if let (Some(t), Some(i)) = (secs("/spec/timeout"), secs("/spec/interval"))
                    && t > i
                {
                    reason.push_str("; the timeout is now longer than the interval");
                }
                out.push(Hit::on(group, object, format!("spec.{field}")).reason(reason));
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::ReconcileTiming, "reconcile-timing");
