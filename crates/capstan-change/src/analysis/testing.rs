//! Fixtures for the analyses' tests: two YAML texts (base and head) whose documents are split
//! into producers by `# producer: ks|hr NAMESPACE/NAME [noprune]` comment lines (the default is
//! the pruning Kustomization `flux-system/apps`), diffed, analysed, and rendered for a snapshot.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use capstan_core::ResourceId;

use super::{Analysis, ChangeFacts, Context, SideFacts};
use crate::diff::{DiffOptions, Producer, ProducerKind, Rendered, Side, diff};

fn producer(header: &str) -> (Producer, bool) {
    let mut words = header.split_whitespace();
    let kind = match words.next() {
        Some("hr") => ProducerKind::HelmRelease,
        _ => ProducerKind::Kustomization,
    };
    let (ns, name) = words
        .next()
        .and_then(|n| n.split_once('/'))
        .unwrap_or(("flux-system", "apps"));
    let prune = words.next() != Some("noprune");
    (Producer::new(kind, ns, name), prune)
}

/// Reads a fixture side: its producers and the file each object comes from.
pub(crate) fn side(file: &str, text: &str) -> SideFacts {
    let mut sections: Vec<(Producer, bool, String)> = Vec::new();
    let mut current = (producer("").0, String::new());
    let mut prune = true;
    let mut started = false;
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("# producer: ") {
            if started {
                sections.push((current.0.clone(), prune, std::mem::take(&mut current.1)));
            }
            let (p, pr) = producer(header);
            current.0 = p;
            prune = pr;
            started = true;
            // keep the line so line numbers stay those of the file
            current.1.push_str("---\n");
            continue;
        }
        started = true;
        current.1.push_str(line);
        current.1.push('\n');
    }
    sections.push((current.0, prune, current.1));
    let mut side = Side::default();
    let mut files = BTreeMap::new();
    for (producer, prune, text) in sections {
        let objects: Vec<_> = capstan_core::yaml::parse_documents(&text)
            .expect("fixture YAML")
            .into_iter()
            .filter(|v| !v.is_null())
            .collect();
        for object in &objects {
            files.insert(ResourceId::of(object), file.to_owned());
        }
        match side.rendered.iter_mut().find(|r| r.producer == producer) {
            Some(r) => r.outcome.as_mut().expect("ok").extend(objects),
            None => side.rendered.push(Rendered {
                producer,
                prune,
                outcome: Ok(objects),
            }),
        }
    }
    let mut facts = SideFacts::new(side, files);
    // the text as parsed: producer headers read as document separators
    let parsed: String = text
        .lines()
        .map(|l| {
            if l.starts_with("# producer: ") {
                "---"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    facts.texts.insert(file.to_owned(), parsed);
    facts
}

/// Runs one analysis over a fixture pair and renders its findings.
pub(crate) fn snapshot(analysis: &dyn Analysis, base: &str, head: &str) -> String {
    let facts = ChangeFacts {
        base: side("base.yaml", base),
        head: side("head.yaml", head),
    };
    let report = diff(&facts.base.side, &facts.head.side, &DiffOptions::default());
    let cx = Context {
        diff: &report,
        facts: &facts,
        files: &[],
    };
    let mut hits = Vec::new();
    analysis.run(&cx, &mut hits);
    let meta = analysis.meta();
    let mut out = String::new();
    for hit in hits {
        let risk = hit.risk.unwrap_or(meta.risk);
        let finding = super::place(&cx, meta, hit, risk, &BTreeMap::new());
        let _ = writeln!(
            out,
            "{} [{}] {} {}",
            finding.risk, finding.category, finding.object, finding.field
        );
        let _ = writeln!(out, "  at:     {}", finding.location().unwrap_or_default());
        let _ = writeln!(out, "  reason: {}", finding.reason);
        for step in &finding.procedure {
            let _ = writeln!(out, "  {:?}: {}", step.when, step.text);
        }
        if let Some(note) = &finding.note {
            let _ = writeln!(out, "  note:   {note}");
        }
    }
    if out.is_empty() {
        out.push_str("no findings\n");
    }
    out
}

/// The fixture test of one analysis: `fixtures/<id>/{base,head}.yaml`, snapshot `<id>`.
macro_rules! fixture_test {
    ($analysis:expr, $id:literal) => {
        #[cfg(test)]
        mod fixture {
            #[test]
            fn fixture() {
                let text = crate::analysis::testing::snapshot(
                    &$analysis,
                    include_str!(concat!("fixtures/", $id, "/base.yaml")),
                    include_str!(concat!("fixtures/", $id, "/head.yaml")),
                );
                insta::assert_snapshot!($id, text);
            }
        }
    };
}
pub(crate) use fixture_test;
