//! `service-selector`: a Service that selected pods before the change selects none after it —
//! its selector changed, or the pod labels of its workloads did — so it has no endpoints and
//! stops serving. Only pods rendered on each side are counted; a Service that matched none of
//! them before is not judged.

use capstan_core::{ResourceId, Value};

use super::pdb_blocks_eviction::selects;
use super::{Analysis, AnalysisMeta, Category, Context, Hit, kind_of, pod_labels};
use crate::diff::Which;
use crate::plan::Risk;

pub struct ServiceSelector;

static META: AnalysisMeta = AnalysisMeta {
    id: "service-selector",
    category: Category::TakesDown,
    risk: Risk::High,
    summary: "A Service no longer selects any of its pods.",
};

/// The rendered workloads a selector matches in a namespace on one side.
fn matching(
    cx: &Context<'_>,
    which: Which,
    namespace: Option<&str>,
    selector: &capstan_core::Map,
) -> Vec<ResourceId> {
    cx.facts
        .side(which)
        .objects()
        .filter(|(_, o)| kind_of(o) != "Service")
        .filter(|(_, o)| ResourceId::of(o).namespace.as_deref() == namespace)
        .filter(|(_, o)| pod_labels(o).is_some_and(|l| selects(selector, l)))
        .map(|(_, o)| ResourceId::of(o))
        .collect()
}

impl Analysis for ServiceSelector {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // the namespaces where something changed
        let touched: std::collections::BTreeSet<Option<String>> =
            cx.objects().map(|(_, o)| o.id.namespace.clone()).collect();
        let base_services: std::collections::BTreeMap<ResourceId, &Value> = cx
            .facts
            .side(Which::Base)
            .objects()
            .filter(|(_, o)| kind_of(o) == "Service" && super::group_of(o).is_empty())
            .map(|(_, o)| (ResourceId::of(o), o))
            .collect();
        for (producer, service) in cx.facts.side(Which::Head).objects() {
            if kind_of(service) != "Service" || !super::group_of(service).is_empty() {
                continue;
            }
            let id = ResourceId::of(service);
            if !touched.contains(&id.namespace) {
                continue;
            }
            let Some(selector) = service.pointer("/spec/selector").and_then(Value::as_object)
            else {
                continue;
            };
            let Some(old) = base_services
                .get(&id)
                .and_then(|s| s.pointer("/spec/selector"))
                .and_then(Value::as_object)
            else {
                continue;
            };
            let before = matching(cx, Which::Base, id.namespace.as_deref(), old);
            if before.is_empty()
                || !matching(cx, Which::Head, id.namespace.as_deref(), selector).is_empty()
            {
                continue;
            }
            let names: Vec<String> = before.iter().map(ToString::to_string).collect();
            out.push(
                Hit::at(producer, id.clone(), Which::Head, "spec.selector")
                    .reason(format!(
                        "selected the pods of {} before; after the change it selects no rendered pod, so it has no endpoints",
                        names.join(", ")
                    )),
            );
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::ServiceSelector, "service-selector");
