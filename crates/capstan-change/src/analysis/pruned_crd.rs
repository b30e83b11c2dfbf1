//! `pruned-crd`: a CustomResourceDefinition deleted by prune. The API server deletes every custom
//! resource of its kind in every namespace with it; the finding counts the ones the repository
//! still renders and says that live objects nobody renders go too. A CRD a chart stops rendering
//! is deleted by Helm only when the chart templates it (Helm never deletes its `crds/`
//! directory's): the finding says both, and how to tell which.

use capstan_core::Value;

use super::{
    Analysis, AnalysisMeta, Category, Context, Hit, Step, group_of, keep_annotation, kind_of,
};
use crate::diff::{ObjectChange, Producer, ProducerKind, Which};
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
            let producer = &group.producer;
            let mut reason = match producer.kind {
                ProducerKind::Kustomization => format!(
                    "deleted by prune: the API server deletes every {kind}.{crd_group} in the cluster with it"
                ),
                // Helm never deletes what a chart's crds/ directory installed; a CRD the chart
                // templates is deleted like any other object, and the rendering does not say which
                ProducerKind::HelmRelease => format!(
                    "gone from the chart of {producer}: if the chart templates it, Helm deletes it on upgrade and the API server deletes every {kind}.{crd_group} in the cluster with it; if it came from the chart's crds/ directory, Helm leaves it (and its objects) in place"
                ),
            };
            if rendered > 0 {
                reason.push_str(&format!(
                    "; the repository still renders {rendered} of them, which then fail to apply"
                ));
            }
            let step = match producer.kind {
                ProducerKind::Kustomization => format!(
                    "Count what goes: kubectl get {} -A; to keep the definition, {} and merge that first",
                    object.id.name,
                    keep_annotation(producer, "it")
                ),
                ProducerKind::HelmRelease => format!(
                    "Check whether Helm deletes it: helm get manifest {} -n {} lists it only when the chart templates it (the crds/ directory's are not listed, and stay); count what goes: kubectl get {} -A; to keep it, {} and merge that first",
                    release_name(cx, producer),
                    storage_namespace(cx, producer),
                    object.id.name,
                    keep_annotation(producer, "it")
                ),
            };
            let hit = Hit::on(group, object, "spec.names.kind")
                .reason(reason)
                .step(Step::before(step));
            // not certain: the crds/ directory's stay
            out.push(match producer.kind {
                ProducerKind::Kustomization => hit,
                ProducerKind::HelmRelease => hit.risk(Risk::High),
            });
        }
    }
}

/// The Helm release name of a HelmRelease: `spec.releaseName`, else (with a target namespace)
/// `TARGETNAMESPACE-NAME`, else its name — as helm-controller names it.
fn release_name(cx: &Context<'_>, producer: &Producer) -> String {
    let spec = |p: &str| {
        release_manifest(cx, producer)
            .and_then(|o| o.pointer(&format!("/spec/{p}")))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    spec("releaseName")
        .or_else(|| spec("targetNamespace").map(|ns| format!("{ns}-{}", producer.name)))
        .unwrap_or_else(|| producer.name.clone())
}

/// The namespace Helm keeps the release's history in: `spec.storageNamespace`, else the
/// HelmRelease's own namespace.
fn storage_namespace(cx: &Context<'_>, producer: &Producer) -> String {
    release_manifest(cx, producer)
        .and_then(|o| o.pointer("/spec/storageNamespace"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| producer.namespace.clone())
}

/// The HelmRelease's own manifest as the base side renders it.
fn release_manifest<'a>(cx: &Context<'a>, producer: &Producer) -> Option<&'a Value> {
    cx.facts
        .side(Which::Base)
        .objects()
        .map(|(_, o)| o)
        .find(|o| {
            kind_of(o) == "HelmRelease"
                && o.pointer("/metadata/name").and_then(Value::as_str) == Some(&producer.name)
                && o.pointer("/metadata/namespace").and_then(Value::as_str)
                    == Some(&producer.namespace)
        })
}

#[cfg(test)]
super::testing::fixture_test!(super::PrunedCrd, "pruned-crd");
