//! `image-changes`: every container image that changes across the rendered workloads — app
//! containers, init containers and sidecars, and the images a chart bump pulls in, including the
//! workloads it adds — so a one-line chart bump shows what it really runs. Kinds capstan has no schema for (operators' custom
//! resources) are searched for `image`/`imageName` fields and say so.

use std::collections::BTreeMap;

use capstan_core::Value;

use super::{
    Analysis, AnalysisMeta, Category, Context, Hit, containers, has_schema, pod_spec, show,
};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct ImageChanges;

static META: AnalysisMeta = AnalysisMeta {
    id: "image-changes",
    category: Category::Flux,
    risk: Risk::Low,
    summary: "Container images that change, in every rendered workload (sidecars and chart images included).",
};

/// Images by field path.
fn images(object: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some((spec, base)) = pod_spec(object) {
        for (_, container, path) in containers(spec, base) {
            if let Some(image) = container.get("image").and_then(Value::as_str) {
                out.insert(format!("{path}.image"), image.to_owned());
            }
        }
    } else if !has_schema(super::group_of(object)) {
        search(object.get("spec").unwrap_or(&Value::Null), "spec", &mut out);
    }
    out
}

fn search(value: &Value, path: &str, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let child = format!("{path}.{key}");
                match (key.as_str(), v) {
                    ("image" | "imageName", Value::String(s)) => {
                        out.insert(child, s.clone());
                    }
                    _ => search(v, &child, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let label = item
                    .get("name")
                    .and_then(Value::as_str)
                    .map(|n| format!("{path}[name={n}]"))
                    .unwrap_or_else(|| format!("{path}[{i}]"));
                search(item, &label, out);
            }
        }
        _ => {}
    }
}

impl Analysis for ImageChanges {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            // a workload a chart bump (or any change to a unit already there) adds: its images
            // run for the first time; a whole new unit's are its own review
            if object.change == ObjectChange::Added && group.in_base {
                if let Some(after) = &object.after {
                    for (field, image) in images(after) {
                        out.push(
                            Hit::on(group, object, field)
                                .reason(format!("new workload in {}: runs {image}", group.producer))
                                .unschematized(&object.id),
                        );
                    }
                }
                continue;
            }
            if object.change != ObjectChange::Changed {
                continue;
            }
            let (Some(before), Some(after)) = (&object.before, &object.after) else {
                continue;
            };
            let (old, new) = (images(before), images(after));
            for (field, image) in &new {
                let was = old.get(field);
                if was == Some(image) {
                    continue;
                }
                let reason = match was {
                    Some(was) => format!("{was} → {image}"),
                    None => format!("new container image {image}"),
                };
                out.push(
                    Hit::on(group, object, field.clone())
                        .reason(reason)
                        .unschematized(&object.id),
                );
            }
            for (field, image) in &old {
                if !new.contains_key(field) {
                    out.push(
                        Hit::on(group, object, field.clone())
                            .reason(format!(
                                "container with image {} removed",
                                show(&Value::String(image.clone()))
                            ))
                            .unschematized(&object.id),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::ImageChanges, "image-changes");
