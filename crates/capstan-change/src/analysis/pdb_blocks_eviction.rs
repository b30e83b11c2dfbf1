//! `pdb-blocks-eviction`: a PodDisruptionBudget that now allows no eviction at all
//! (`maxUnavailable: 0`, `minAvailable: 100%`, or `minAvailable` at least the replicas of the
//! workloads it selects). Node drains — upgrades, reboots — then wait on it forever. A budget
//! over a DaemonSet (one pod per node) or an autoscaled workload that leaves its replicas out is
//! not judged by count: the repository does not say how many pods run.

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit, Step, kind_of, pod_labels};
use crate::diff::{ObjectChange, Which};
use crate::plan::Risk;

pub struct PdbBlocksEviction;

static META: AnalysisMeta = AnalysisMeta {
    id: "pdb-blocks-eviction",
    category: Category::TakesDown,
    risk: Risk::Medium,
    summary: "A PodDisruptionBudget forbids every eviction: node drains hang.",
};

/// True when the selector's match labels are all on the labels.
pub(crate) fn selects(selector: &capstan_core::Map, labels: &capstan_core::Map) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Why the budget allows no eviction, given the side's rendered objects.
fn blocks(cx: &Context<'_>, which: Which, pdb: &Value) -> Option<(String, String)> {
    let spec = pdb.get("spec")?;
    let zero =
        |v: &Value| v.as_i64() == Some(0) || v.as_str() == Some("0%") || v.as_str() == Some("0");
    if let Some(max) = spec.get("maxUnavailable")
        && zero(max)
    {
        return Some(("spec.maxUnavailable".into(), "maxUnavailable: 0".into()));
    }
    let min = spec.get("minAvailable")?;
    if min.as_str() == Some("100%") {
        return Some(("spec.minAvailable".into(), "minAvailable: 100%".into()));
    }
    let min = min.as_i64()?;
    let namespace = pdb.pointer("/metadata/namespace");
    let selector = spec
        .pointer("/selector/matchLabels")
        .and_then(Value::as_object)?;
    let objects: Vec<&Value> = cx
        .facts
        .side(which)
        .objects()
        .map(|(_, o)| o)
        .filter(|o| o.pointer("/metadata/namespace") == namespace)
        .collect();
    // The pods each selected workload runs; `None` when the repository cannot tell (a
    // DaemonSet runs one per node, an autoscaler sets the replicas of a workload that leaves
    // them out): then the budget is not judged.
    let replicas: Vec<Option<i64>> = objects
        .iter()
        .filter(|o| !matches!(kind_of(o), "Pod" | "Job" | "CronJob"))
        .filter(|o| pod_labels(o).is_some_and(|l| selects(selector, l)))
        .map(|o| match (kind_of(o), o.pointer("/spec/replicas")) {
            ("DaemonSet", _) => None,
            (_, Some(n)) => n.as_i64(),
            (_, None) if autoscaled(&objects, o) => None,
            (_, None) => Some(1),
        })
        .collect();
    let replicas: Vec<i64> = replicas.into_iter().collect::<Option<_>>()?;
    let total: i64 = replicas.iter().sum();
    (!replicas.is_empty() && min >= total).then(|| {
        (
            "spec.minAvailable".into(),
            format!("minAvailable: {min} with {total} replica(s) selected"),
        )
    })
}

/// True when a HorizontalPodAutoscaler among `objects` scales `workload`.
fn autoscaled(objects: &[&Value], workload: &Value) -> bool {
    let name = workload.pointer("/metadata/name");
    objects.iter().any(|o| {
        kind_of(o) == "HorizontalPodAutoscaler"
            && o.pointer("/spec/scaleTargetRef/kind")
                .and_then(Value::as_str)
                == Some(kind_of(workload))
            && o.pointer("/spec/scaleTargetRef/name") == name
    })
}

impl Analysis for PdbBlocksEviction {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if object.id.group != "policy"
                || object.id.kind != "PodDisruptionBudget"
                || !matches!(object.change, ObjectChange::Added | ObjectChange::Changed)
            {
                continue;
            }
            let Some(after) = &object.after else { continue };
            let Some((field, why)) = blocks(cx, Which::Head, after) else {
                continue;
            };
            if object
                .before
                .as_ref()
                .is_some_and(|b| blocks(cx, Which::Base, b).is_some())
            {
                continue;
            }
            out.push(
                Hit::on(group, object, field)
                    .reason(format!("{why}: no pod it selects may be evicted, so node drains (upgrades, reboots) hang"))
                    .step(Step::before("Leave room for one eviction (maxUnavailable: 1, or minAvailable below the replicas)")),
            );
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::PdbBlocksEviction, "pdb-blocks-eviction");
