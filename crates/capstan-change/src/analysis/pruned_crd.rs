//! `pruned-crd`: a CustomResourceDefinition deleted by prune. The API server deletes every custom
//! resource of its kind in every namespace with it; the finding counts the ones the repository
//! still renders and says that live objects nobody renders go too.

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit, Step, group_of, kind_of};
use crate::diff::{ObjectChange, Which};
use crate::plan::Risk;

pub struct PrunedCrd;

static META: AnalysisMeta = AnalysisMeta {
    id: "pruned-crd",
    category: Category::LosesData,
    risk: Risk::Critical,
    summary: "A CustomResourceDefinition is deleted by prune: every object of its kind is deleted with it.",
};

impl Analysis for PrunedCrd {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if object.change != ObjectChange::Deleted
                || object.id.group != "apiextensions.k8s.io"
                || object.id.kind != "CustomResourceDefinition"
            {
                continue;
            }
            let Some(before) = &object.before else {
                continue;
            };
            let text = |p: &str| before.pointer(p).and_then(Value::as_str).unwrap_or("");
            let (crd_group, kind) = (text("/spec/group"), text("/spec/names/kind"));
            let rendered = cx
                .facts
                .side(Which::Head)
                .objects()
                .filter(|(_, o)| group_of(o) == crd_group && kind_of(o) == kind)
                .count();
            let mut reason = format!(
                "deleted by prune: the API server deletes every {kind}.{crd_group} in the cluster with it"
            );
            if rendered > 0 {
                reason.push_str(&format!(
                    "; the repository still renders {rendered} of them, which then fail to apply"
                ));
            }
            out.push(
                Hit::on(group, object, "spec.names.kind")
                    .reason(reason)
                    .step(Step::before(format!(
                        "Count what goes: kubectl get {} -A; to keep the definition, annotate it kustomize.toolkit.fluxcd.io/prune: disabled and merge that first",
                        object.id.name
                    ))),
            );
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::PrunedCrd, "pruned-crd");
