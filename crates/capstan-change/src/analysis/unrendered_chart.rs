//! `unrendered-chart`: a HelmRelease whose chart or values change, or a chart source whose
//! reference moves (an OCIRepository tag, a HelmChart version), while capstan could not render
//! the release on the new side (its chart out of reach offline, or its render skipped). The
//! objects the bump changes — images, immutable fields, privileges — are then not analysed, and
//! the finding says so rather than letting the plan look clean.

use capstan_core::{ResourceId, Value};

use super::{Analysis, AnalysisMeta, Category, ChangeFacts, Context, Hit, show};
use crate::diff::{ObjectChange, Producer, ProducerKind, Which};
use crate::plan::Risk;

pub struct UnrenderedChart;

static META: AnalysisMeta = AnalysisMeta {
    id: "unrendered-chart",
    category: Category::Flux,
    risk: Risk::Low,
    summary: "A chart bump whose release capstan could not render: its objects are not analysed.",
};

fn unrendered(cx: &Context<'_>, release: &Producer) -> bool {
    release_unrendered(cx.facts, release)
}

/// True when the release is neither rendered nor suspended on the new side.
pub(crate) fn release_unrendered(facts: &ChangeFacts, release: &Producer) -> bool {
    let head = facts.side(Which::Head);
    !head.rendered(release) && !head.side.suspended.contains(release)
}

/// The HelmReleases the new side renders whose `chartRef` names the chart source `source`
/// (an OCIRepository or HelmChart in `namespace`), each once.
pub(crate) fn chart_source_users(
    facts: &ChangeFacts,
    source: &ResourceId,
    namespace: &str,
) -> Vec<Producer> {
    let mut users: Vec<Producer> = facts
        .side(Which::Head)
        .objects()
        .filter(|(_, o)| super::kind_of(o) == "HelmRelease")
        .filter_map(|(p, o)| {
            let id = ResourceId::of(o);
            let release_ns = id.namespace.unwrap_or_else(|| p.namespace.clone());
            let text = |f: &str| {
                o.pointer(&format!("/spec/chartRef/{f}"))
                    .and_then(Value::as_str)
            };
            let names_it = text("kind") == Some(source.kind.as_str())
                && text("name") == Some(source.name.as_str())
                && text("namespace").unwrap_or(&release_ns) == namespace;
            names_it.then(|| Producer::new(ProducerKind::HelmRelease, release_ns, id.name))
        })
        .collect();
    users.sort();
    users.dedup();
    users
}

impl Analysis for UnrenderedChart {
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
            let namespace = object
                .id
                .namespace
                .clone()
                .unwrap_or_else(|| group.producer.namespace.clone());
            match (object.id.group.as_str(), object.id.kind.as_str()) {
                ("helm.toolkit.fluxcd.io", "HelmRelease") => {
                    let release =
                        Producer::new(ProducerKind::HelmRelease, namespace, object.id.name.clone());
                    let Some(field) = object.fields.iter().map(|f| f.path.as_str()).find(|p| {
                        p.starts_with("spec.chart")
                            || p.starts_with("spec.values")
                            || p.starts_with("spec.chartRef")
                    }) else {
                        continue;
                    };
                    if !unrendered(cx, &release) {
                        continue;
                    }
                    let version = |v: &Value| {
                        v.pointer("/spec/chart/spec/version")
                            .cloned()
                            .unwrap_or(Value::Null)
                    };
                    let mut parts = Vec::new();
                    if version(before) != version(after) {
                        parts.push(format!(
                            "chart version {} → {}",
                            show(&version(before)),
                            show(&version(after))
                        ));
                    }
                    // the app images its values pin (Renovate bumps them with the chart)
                    for change in &object.fields {
                        if let (true, crate::diff::FieldChangeKind::Modified { before, after }) =
                            (is_image_value(&change.path), &change.kind)
                        {
                            parts.push(format!(
                                "{} {} → {}",
                                change.path,
                                show(before),
                                show(after)
                            ));
                        }
                    }
                    let what = if !parts.is_empty() {
                        parts.join("; ")
                    } else {
                        match object
                            .fields
                            .iter()
                            .find(|f| f.path == field)
                            .map(|f| &f.kind)
                        {
                            Some(crate::diff::FieldChangeKind::Modified { before, after }) => {
                                format!("{field} {} → {}", show(before), show(after))
                            }
                            _ => format!("{field} changes"),
                        }
                    };
                    out.push(Hit::on(group, object, field).reason(format!(
                        "{what}, but {release} is not rendered here (its chart is out of reach offline, or its render was skipped): the objects it changes — images, immutable fields, privileges — are not analysed"
                    )));
                }
                ("source.toolkit.fluxcd.io", "OCIRepository" | "HelmChart") => {
                    let Some(field) = object.fields.iter().map(|f| f.path.as_str()).find(|p| {
                        p.starts_with("spec.ref")
                            || p.starts_with("spec.version")
                            || p.starts_with("spec.url")
                    }) else {
                        continue;
                    };
                    let users = chart_source_users(cx.facts, &object.id, &namespace);
                    let skipped: Vec<String> = users
                        .iter()
                        .filter(|u| unrendered(cx, u))
                        .map(ToString::to_string)
                        .collect();
                    let pointer = format!("/{}", field.replace('.', "/"));
                    let what = format!(
                        "{field} {} → {}",
                        show(before.pointer(&pointer).unwrap_or(&Value::Null)),
                        show(after.pointer(&pointer).unwrap_or(&Value::Null))
                    );
                    let reason = if users.is_empty() {
                        format!(
                            "{what}: no rendered HelmRelease names it in chartRef; what it feeds is not analysed"
                        )
                    } else if skipped.is_empty() {
                        return_rendered(&what, &users)
                    } else {
                        let (take, are, they) = if skipped.len() == 1 {
                            ("takes", "is", "it changes")
                        } else {
                            ("take", "are", "they change")
                        };
                        format!(
                            "{what}: {} {take} the new artifact but {are} not rendered here: the objects {they} are not analysed",
                            skipped.join(", ")
                        )
                    };
                    if users.is_empty() || !skipped.is_empty() {
                        out.push(Hit::on(group, object, field).reason(reason));
                    }
                }
                _ => {}
            }
        }
    }
}

/// A field of a release's values that pins an app image: `…image`, `…Image`, `…tag`,
/// `…Tag`, or an image's `repository`/`digest`.
fn is_image_value(path: &str) -> bool {
    let Some(values) = path.strip_prefix("spec.values.") else {
        return false;
    };
    let mut keys = values.rsplit('.');
    let last = keys.next().unwrap_or(values);
    let parent = keys.next().unwrap_or("");
    matches!(last, "image" | "tag")
        || last.ends_with("Image")
        || last.ends_with("Tag")
        || (matches!(last, "repository" | "digest")
            && (parent == "image" || parent.ends_with("Image")))
}

fn return_rendered(what: &str, users: &[Producer]) -> String {
    let names: Vec<String> = users.iter().map(ToString::to_string).collect();
    let take = if users.len() == 1 { "takes" } else { "take" };
    format!(
        "{what}: {} {take} the new artifact (rendered and analysed)",
        names.join(", ")
    )
}

#[cfg(test)]
super::testing::fixture_test!(super::UnrenderedChart, "unrendered-chart");
