//! Table tests of object matching, grouping, pruning, stripping and one-sided failures.

use serde_json::json;

use super::*;

fn ks(name: &str) -> Producer {
    Producer::new(ProducerKind::Kustomization, "flux-system", name)
}

fn hr(name: &str) -> Producer {
    Producer::new(ProducerKind::HelmRelease, "default", name)
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data})
}

fn side(entries: Vec<(Producer, bool, Result<Vec<Value>, String>)>) -> Side {
    Side {
        rendered: entries
            .into_iter()
            .map(|(producer, prune, outcome)| Rendered {
                producer,
                prune,
                outcome,
            })
            .collect(),
        error: None,
        ..Default::default()
    }
}

/// One line per object (`group producer: change id [fields]`), and one per failure.
fn summary(report: &DiffReport) -> Vec<String> {
    let mut lines: Vec<String> = report
        .side_failures
        .iter()
        .map(|f| format!("{} failed: {}", f.side, f.error))
        .collect();
    for group in &report.groups {
        for failure in &group.failures {
            lines.push(format!(
                "{}: {} failed: {}",
                group.producer.name, failure.side, failure.error
            ));
        }
        for object in &group.objects {
            let fields: Vec<&str> = object.fields.iter().map(|f| f.path.as_str()).collect();
            let moved = object
                .moved_from
                .as_ref()
                .map(|p| format!(" (from {})", p.name))
                .unwrap_or_default();
            lines.push(format!(
                "{}: {:?} {}{moved} {fields:?}",
                group.producer.name, object.change, object.id
            ));
        }
    }
    lines
}

#[test]
fn table() {
    let a1 = cm("a", json!({"k": "1"}));
    let a2 = cm("a", json!({"k": "2"}));
    let b = cm("b", json!({}));
    type Entries = Vec<(Producer, bool, Result<Vec<Value>, String>)>;
    let cases: Vec<(&str, Entries, Entries, Vec<&str>)> = vec![
        (
            "no change",
            vec![(ks("apps"), true, Ok(vec![a1.clone()]))],
            vec![(ks("apps"), true, Ok(vec![a1.clone()]))],
            vec![],
        ),
        (
            "changed object",
            vec![(ks("apps"), true, Ok(vec![a1.clone(), b.clone()]))],
            vec![(ks("apps"), true, Ok(vec![b.clone(), a2.clone()]))],
            vec!["apps: Changed ConfigMap/default/a [\"data.k\"]"],
        ),
        (
            "added object",
            vec![(ks("apps"), true, Ok(vec![]))],
            vec![(ks("apps"), true, Ok(vec![b.clone()]))],
            vec!["apps: Added ConfigMap/default/b []"],
        ),
        (
            "removed under prune is deleted",
            vec![(ks("apps"), true, Ok(vec![b.clone()]))],
            vec![(ks("apps"), true, Ok(vec![]))],
            vec!["apps: Deleted ConfigMap/default/b []"],
        ),
        (
            "removed without prune is orphaned",
            vec![(ks("apps"), false, Ok(vec![b.clone()]))],
            vec![(ks("apps"), false, Ok(vec![]))],
            vec!["apps: Orphaned ConfigMap/default/b []"],
        ),
        (
            "prune disabled per object",
            vec![(
                ks("apps"),
                true,
                Ok(vec![json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "x", "annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"}}})]),
            )],
            vec![(ks("apps"), true, Ok(vec![]))],
            vec!["apps: Orphaned Namespace/x []"],
        ),
        (
            "helm's keep policy orphans what a release stops rendering",
            vec![(
                hr("web"),
                true,
                Ok(vec![json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "x", "annotations": {"helm.sh/resource-policy": "keep"}}})]),
            )],
            vec![(hr("web"), true, Ok(vec![]))],
            vec!["web: Orphaned Namespace/x []"],
        ),
        (
            "a release does not read flux's prune annotation",
            vec![(
                hr("web"),
                true,
                Ok(vec![json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "x", "annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"}}})]),
            )],
            vec![(hr("web"), true, Ok(vec![]))],
            vec!["web: Deleted Namespace/x []"],
        ),
        (
            "whole kustomization removed",
            vec![
                (ks("apps"), true, Ok(vec![b.clone()])),
                (ks("infra"), true, Ok(vec![])),
            ],
            vec![(ks("infra"), true, Ok(vec![]))],
            vec!["apps: Deleted ConfigMap/default/b []"],
        ),
        (
            "object moved between kustomizations",
            vec![
                (ks("apps"), true, Ok(vec![a1.clone()])),
                (ks("infra"), true, Ok(vec![])),
            ],
            vec![
                (ks("apps"), true, Ok(vec![])),
                (ks("infra"), true, Ok(vec![a1.clone()])),
            ],
            vec!["infra: Changed ConfigMap/default/a (from apps) []"],
        ),
        (
            "head fails to render: not everything removed",
            vec![
                (ks("apps"), true, Ok(vec![a1.clone(), b.clone()])),
                (ks("infra"), true, Ok(vec![a1.clone()])),
            ],
            vec![
                (
                    ks("apps"),
                    true,
                    Err("apps/kustomization.yaml: missing resource".into()),
                ),
                (ks("infra"), true, Ok(vec![a1.clone()])),
            ],
            vec!["apps: head failed: apps/kustomization.yaml: missing resource"],
        ),
        (
            "base fails to render: not everything added",
            vec![(ks("apps"), true, Err("broken".into()))],
            vec![(ks("apps"), true, Ok(vec![a1.clone(), b.clone()]))],
            vec!["apps: base failed: broken"],
        ),
        (
            "chart bump noise is stripped",
            vec![(
                ks("apps"),
                true,
                Ok(vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "labels": {"helm.sh/chart": "d-1.0.0", "app.kubernetes.io/version": "1.0.0"}},
                "spec": {"template": {"metadata": {"annotations": {"checksum/config": "aaa"}}}}})]),
            )],
            vec![(
                ks("apps"),
                true,
                Ok(vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "labels": {"helm.sh/chart": "d-1.1.0", "app.kubernetes.io/version": "1.1.0"}},
                "spec": {"template": {"metadata": {"annotations": {"checksum/config": "bbb"}}}}})]),
            )],
            vec![],
        ),
        (
            "api version change is a field change",
            vec![(
                ks("apps"),
                true,
                Ok(vec![
                    json!({"apiVersion": "example.com/v1beta1", "kind": "Thing", "metadata": {"name": "t"}}),
                ]),
            )],
            vec![(
                ks("apps"),
                true,
                Ok(vec![
                    json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}}),
                ]),
            )],
            vec!["apps: Changed Thing.example.com/t [\"apiVersion\"]"],
        ),
    ];
    for (name, base, head, expected) in cases {
        let report = diff(&side(base), &side(head), &DiffOptions::default());
        assert_eq!(summary(&report), expected, "{name}");
    }
}

#[test]
fn a_side_that_fails_whole_is_reported_alone() {
    let base = Side {
        rendered: vec![],
        error: Some("cannot read revision".into()),
        ..Default::default()
    };
    let head = side(vec![(ks("apps"), true, Ok(vec![cm("a", json!({}))]))]);
    let report = diff(&base, &head, &DiffOptions::default());
    assert_eq!(summary(&report), vec!["base failed: cannot read revision"]);
    assert!(report.has_failures());
}

#[test]
fn keep_attr_brings_noise_back() {
    let make = |chart: &str| {
        side(vec![(
            ks("apps"),
            true,
            Ok(vec![
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "labels": {"helm.sh/chart": chart}}}),
            ]),
        )])
    };
    let options = DiffOptions {
        attrs: AttrFilter::new(&[], &["helm.sh/chart".into()]),
    };
    let report = diff(&make("a-1"), &make("a-2"), &options);
    assert_eq!(
        summary(&report),
        vec!["apps: Changed Service/s [\"metadata.labels[\\\"helm.sh/chart\\\"]\"]"]
    );
}

#[test]
fn secrets_are_masked_in_fields_and_objects() {
    let secret = |v: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "data": {"password": v}});
    let report = diff(
        &side(vec![(ks("apps"), true, Ok(vec![secret("c2VjcmV0MQ==")]))]),
        &side(vec![(ks("apps"), true, Ok(vec![secret("c2VjcmV0Mg==")]))]),
        &DiffOptions::default(),
    );
    let text = serde_json::to_string(&report).expect("json");
    assert!(!text.contains("c2VjcmV0"), "{text}");
    assert!(text.contains(mask::MASK_BEFORE) && text.contains(mask::MASK_AFTER));
}
