//! `pruned-namespace`: a Namespace deleted by prune. Kubernetes deletes everything inside it —
//! volumes included — whoever applied it: the finding lists the objects other Kustomizations or
//! HelmReleases render into it, which their owners will see vanish.

use std::collections::BTreeMap;

use capstan_core::ResourceId;

use super::{Analysis, AnalysisMeta, Category, Context, Hit, Step, deleted_by, keep_annotation};
use crate::diff::{ObjectChange, Which};
use crate::plan::Risk;

pub struct PrunedNamespace;

static META: AnalysisMeta = AnalysisMeta {
    id: "pruned-namespace",
    category: Category::LosesData,
    risk: Risk::Critical,
    summary: "A Namespace is deleted by prune: everything in it goes, including what other Kustomizations apply there.",
};

impl Analysis for PrunedNamespace {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if object.change != ObjectChange::Deleted
                || !object.id.group.is_empty()
                || object.id.kind != "Namespace"
            {
                continue;
            }
            let ns = object.id.name.as_str();
            // what the head side still renders into the namespace, by producer
            let mut others: BTreeMap<String, Vec<ResourceId>> = BTreeMap::new();
            for (producer, value) in cx.facts.side(Which::Head).objects() {
                let id = ResourceId::of(value);
                if id.namespace.as_deref() == Some(ns) {
                    others.entry(producer.to_string()).or_default().push(id);
                }
            }
            let claims = cx
                .facts
                .side(Which::Base)
                .objects()
                .filter(|(_, v)| {
                    let id = ResourceId::of(v);
                    id.namespace.as_deref() == Some(ns) && id.kind == "PersistentVolumeClaim"
                })
                .count();
            let mut reason = format!(
                "{}: Kubernetes deletes every object in namespace {ns}",
                deleted_by(&group.producer)
            );
            if claims > 0 {
                reason.push_str(&format!(
                    ", {claims} volume claim(s) rendered there included"
                ));
            }
            if !others.is_empty() {
                let list: Vec<String> = others
                    .iter()
                    .map(|(p, ids)| format!("{p} ({} object(s), e.g. {})", ids.len(), ids[0]))
                    .collect();
                reason.push_str(&format!(
                    "; still rendered into it by {}: they are deleted too and fail to apply until the namespace exists again",
                    list.join(", ")
                ));
            }
            out.push(
                Hit::on(group, object, "metadata.name")
                    .reason(reason)
                    .step(Step::before(format!(
                        "List what lives there: kubectl get all,pvc -n {ns}; to keep it, {} and merge that first",
                        keep_annotation(&group.producer, &format!("Namespace {ns}"))
                    ))),
            );
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::PrunedNamespace, "pruned-namespace");
