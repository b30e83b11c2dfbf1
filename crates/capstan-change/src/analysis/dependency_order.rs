//! `dependency-order`: a Kustomization's or HelmRelease's `dependsOn` changes, which reorders the
//! apply. A dependency dropped lets the unit apply before what it needed (CRDs, namespaces,
//! secrets) is Ready; one added makes it wait, and fail when the dependency never becomes Ready.

use std::collections::BTreeSet;

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit, UnitFacts};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct DependencyOrder;

static META: AnalysisMeta = AnalysisMeta {
    id: "dependency-order",
    category: Category::Flux,
    risk: Risk::Medium,
    summary: "A dependsOn change reorders the apply.",
};

impl Analysis for DependencyOrder {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            let flux = matches!(
                (object.id.group.as_str(), object.id.kind.as_str()),
                ("kustomize.toolkit.fluxcd.io", "Kustomization")
                    | ("helm.toolkit.fluxcd.io", "HelmRelease")
            );
            if !flux || object.change != ObjectChange::Changed {
                continue;
            }
            let deps = |v: &Option<Value>| -> BTreeSet<String> {
                v.as_ref()
                    .map(|v| UnitFacts::of(v, None).depends_on.into_iter().collect())
                    .unwrap_or_default()
            };
            let (before, after) = (deps(&object.before), deps(&object.after));
            let dropped: Vec<&String> = before.difference(&after).collect();
            let added: Vec<&String> = after.difference(&before).collect();
            if !dropped.is_empty() {
                out.push(Hit::on(group, object, "spec.dependsOn").reason(format!(
                    "no longer waits for {}: it may apply before what it needed from them is Ready",
                    dropped.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            if !added.is_empty() {
                out.push(
                    Hit::on(group, object, "spec.dependsOn")
                        .reason(format!(
                            "now waits for {} to be Ready before it applies",
                            added
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                        .risk(Risk::Low),
                );
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::DependencyOrder, "dependency-order");
