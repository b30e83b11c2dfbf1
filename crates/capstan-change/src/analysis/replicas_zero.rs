//! `replicas-zero`: a workload scaled to zero replicas — the app stops serving when Flux applies
//! it. Kinds capstan has no schema for are judged by a `spec.replicas` field, and say so.

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct ReplicasZero;

static META: AnalysisMeta = AnalysisMeta {
    id: "replicas-zero",
    category: Category::TakesDown,
    risk: Risk::High,
    summary: "A workload is scaled to zero replicas.",
};

impl Analysis for ReplicasZero {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if object.change != ObjectChange::Changed {
                continue;
            }
            let (Some(before), Some(after)) = (&object.before, &object.after) else {
                continue;
            };
            let replicas = |v: &Value| v.pointer("/spec/replicas").and_then(Value::as_i64);
            let builtin = matches!(
                (object.id.group.as_str(), object.id.kind.as_str()),
                ("apps", "Deployment" | "StatefulSet" | "ReplicaSet")
                    | ("", "ReplicationController")
            );
            if !builtin && super::has_schema(&object.id.group) {
                continue;
            }
            // a workload without the field runs one replica; a custom kind's default is unknown
            let was = replicas(before).or(builtin.then_some(1));
            if replicas(after) == Some(0) && was.is_some_and(|n| n > 0) {
                out.push(
                    Hit::on(group, object, "spec.replicas")
                        .reason(format!(
                            "scaled from {} to 0: it stops serving when Flux applies the change",
                            was.unwrap_or(1)
                        ))
                        .unschematized(&object.id),
                );
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::ReplicasZero, "replicas-zero");
