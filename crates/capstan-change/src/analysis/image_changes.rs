//! `image-changes`: every container image that changes across the rendered workloads — app
//! containers, init containers and sidecars, and the images a chart bump pulls in, including the
//! workloads it adds — so a one-line chart bump shows what it really runs. Images are read by
//! the same rule `capstan get images` lists them by ([`crate::images::image_fields`]): custom
//! resources' `image`/`imageName` fields at any depth (their findings say the kind has no
//! schema), and none for Flux's own kinds.

use std::collections::BTreeMap;

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit, show};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct ImageChanges;

static META: AnalysisMeta = AnalysisMeta {
    id: "image-changes",
    category: Category::Flux,
    risk: Risk::Low,
    summary: "Container images that change, in every rendered workload (sidecars and chart images included).",
};

/// Images by field path: the same rule `capstan get images` lists them by.
fn images(object: &Value) -> BTreeMap<String, String> {
    crate::images::image_fields(object)
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
