//! `rollout-with-probes`: a container's image changes together with its probes or ports. Either
//! alone is routine; together, a probe or port that does not match what the new image serves
//! keeps the new pods from ever becoming Ready and stalls the rollout (and the Kustomization's
//! health check) — worth a look at the image's release notes. Jobs and CronJobs run to
//! completion and are not judged.

use std::collections::BTreeMap;

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit, Step, containers, pod_spec, show};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct RolloutWithProbes;

static META: AnalysisMeta = AnalysisMeta {
    id: "rollout-with-probes",
    category: Category::TakesDown,
    risk: Risk::Medium,
    summary: "A container's probes or ports change together with its image.",
};

const WATCHED: &[&str] = &["livenessProbe", "readinessProbe", "startupProbe", "ports"];

fn by_name(object: &Value) -> BTreeMap<String, (Value, String)> {
    let Some((spec, base)) = pod_spec(object) else {
        return BTreeMap::new();
    };
    containers(spec, base)
        .into_iter()
        .map(|(name, c, path)| (name, (c.clone(), path)))
        .collect()
}

impl Analysis for RolloutWithProbes {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            // A Job runs to completion: there is no rollout a probe or port could stall.
            if object.change != ObjectChange::Changed
                || (object.id.group == "batch"
                    && matches!(object.id.kind.as_str(), "Job" | "CronJob"))
            {
                continue;
            }
            let (Some(before), Some(after)) = (&object.before, &object.after) else {
                continue;
            };
            let old = by_name(before);
            for (name, (container, path)) in by_name(after) {
                let Some((was, _)) = old.get(&name) else {
                    continue;
                };
                let image = |c: &Value| c.get("image").cloned().unwrap_or(Value::Null);
                if image(was) == image(&container) {
                    continue;
                }
                for key in WATCHED {
                    if was.get(*key) == container.get(*key) {
                        continue;
                    }
                    let mut hit = Hit::on(group, object, format!("{path}.{key}")).reason(format!(
                        "{key} of container {name} change together with its image ({} → {}): if they do not match what the new image serves, its pods never become Ready",
                        show(&image(was)),
                        show(&image(&container))
                    ));
                    // `kubectl rollout status` knows only these kinds (a Job or CronJob has no
                    // rollout to watch).
                    if matches!(
                        object.id.kind.as_str(),
                        "Deployment" | "StatefulSet" | "DaemonSet"
                    ) && object.id.group == "apps"
                    {
                        hit = hit.step(Step::after(format!(
                            "Watch the rollout: kubectl rollout status {}",
                            super::kubectl_ref(&super::live_id(cx, &group.producer, &object.id))
                        )));
                    }
                    out.push(hit);
                }
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::RolloutWithProbes, "rollout-with-probes");
