//! `suspended`: what `spec.suspend` does to the change. Changes read by a suspended Kustomization
//! or HelmRelease do not roll out (capstan does not render them: the diff cannot show them);
//! flipping `suspend` back to false applies everything parked meanwhile at once (its objects
//! appear as added, since the suspended side was not rendered); suspending stops rollouts.

use super::{Analysis, AnalysisMeta, Category, Context, Hit, Step, producer_id};
use crate::diff::{ObjectChange, Producer, ProducerKind, Which};
use crate::plan::Risk;

pub struct Suspended;

static META: AnalysisMeta = AnalysisMeta {
    id: "suspended",
    category: Category::Flux,
    risk: Risk::Medium,
    summary: "Changes under a suspended unit do not roll out; resuming applies everything at once.",
};

fn unit_of(id: &capstan_core::ResourceId, parent: &Producer) -> Option<Producer> {
    let kind = match (id.group.as_str(), id.kind.as_str()) {
        ("kustomize.toolkit.fluxcd.io", "Kustomization") => ProducerKind::Kustomization,
        ("helm.toolkit.fluxcd.io", "HelmRelease") => ProducerKind::HelmRelease,
        _ => return None,
    };
    let ns = id
        .namespace
        .clone()
        .unwrap_or_else(|| parent.namespace.clone());
    Some(Producer::new(kind, ns, id.name.clone()))
}

fn under(file: &str, dir: &str) -> bool {
    dir == "." || file == dir || file.starts_with(&format!("{dir}/"))
}

impl Analysis for Suspended {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        // flips of spec.suspend
        for (group, object) in cx.objects() {
            if object.change != ObjectChange::Changed {
                continue;
            }
            let Some(unit) = unit_of(&object.id, &group.producer) else {
                continue;
            };
            let flag = |v: &Option<capstan_core::Value>| {
                v.as_ref()
                    .and_then(|v| v.pointer("/spec/suspend"))
                    .and_then(|s| s.as_bool())
                    .unwrap_or(false)
            };
            let (was, now) = (flag(&object.before), flag(&object.after));
            if was && !now {
                let released = cx
                    .facts
                    .side(Which::Head)
                    .objects()
                    .filter(|(p, _)| **p == unit)
                    .count();
                let shown = if released > 0 {
                    format!(
                        " ({released} object(s) rendered now; the diff does not compare a unit suspended on one side)"
                    )
                } else {
                    String::new()
                };
                out.push(
                    Hit::on(group, object, "spec.suspend")
                        .reason(format!(
                            "{unit} is resumed: everything changed while it was suspended is applied at once{shown}"
                        ))
                        .step(Step::before(format!(
                            "Review everything {unit} applies: capstan diff {} {} --base HEAD --full",
                            unit.kind.short(),
                            unit.name
                        ))),
                );
            } else if !was && now {
                out.push(
                    Hit::on(group, object, "spec.suspend")
                        .reason(format!(
                            "{unit} is suspended: no change to it rolls out until it is resumed"
                        ))
                        .risk(Risk::Low),
                );
            } else if now && unit.kind == ProducerKind::HelmRelease {
                out.push(
                    Hit::on(group, object, object.fields.first().map(|f| f.path.clone()).unwrap_or_default())
                        .reason(format!("{unit} is suspended: this change to it does not roll out until it is resumed")),
                );
            }
        }
        // changed files read by a Kustomization that stays suspended
        let head = cx.facts.side(Which::Head);
        for (producer, unit) in &head.units {
            if !unit.suspend || producer.kind != ProducerKind::Kustomization {
                continue;
            }
            let was_suspended = cx
                .facts
                .side(Which::Base)
                .units
                .get(producer)
                .is_some_and(|u| u.suspend);
            if !was_suspended {
                continue; // judged above as it flips
            }
            let Some(dir) = &unit.path else { continue };
            let files: Vec<&str> = cx
                .files
                .iter()
                .map(|f| f.path.as_str())
                .filter(|f| under(f, dir))
                .collect();
            let Some(first) = files.first() else { continue };
            let mut hit = Hit::at(producer, producer_id(producer), Which::Head, "spec.suspend").reason(format!(
                "{producer} is suspended: {} changed file(s) under {dir} ({}) do not roll out, and capstan does not render them",
                files.len(),
                files.iter().take(5).copied().collect::<Vec<_>>().join(", ")
            ));
            hit.file = Some((*first).to_owned());
            out.push(hit);
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::Suspended, "suspended");
