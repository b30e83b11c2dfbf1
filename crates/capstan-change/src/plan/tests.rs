//! Table tests: one case per branch of the decision tree and per default rule family.

use serde_json::{Value, json};

use super::*;
use crate::diff::{DiffOptions, Rendered, Side, diff};

fn ks(name: &str) -> Producer {
    Producer::new(ProducerKind::Kustomization, "flux-system", name)
}

/// A plan for objects changing under a Kustomization at `dir` and files changing.
fn plan_for(dir: &str, before: Vec<Value>, after: Vec<Value>, files: Vec<ChangedFile>) -> Plan {
    let side = |objects: Vec<Value>| Side {
        rendered: vec![Rendered {
            producer: ks("it"),
            prune: true,
            outcome: Ok(objects),
        }],
        error: None,
        ..Default::default()
    };
    let report = diff(&side(before), &side(after), &DiffOptions::default());
    let mut places = BTreeMap::new();
    places.insert(
        ks("it"),
        ProducerPlace {
            dir: dir.to_owned(),
            kustomization: "it".to_owned(),
        },
    );
    let input = PlanInput {
        files,
        diff: report,
        places,
        order: vec![],
        facts: Default::default(),
        bootstrap: vec![],
    };
    classify(&input, &default_rules())
}

fn file(path: &str, fields: &[&str]) -> ChangedFile {
    ChangedFile {
        path: path.to_owned(),
        change: FileChange::Changed,
        fields: fields.iter().map(|s| s.to_string()).collect(),
        kustomizations: vec![],
    }
}

fn obj(api: &str, kind: &str, ns: Option<&str>, name: &str, spec: Value) -> Value {
    let mut metadata = json!({"name": name});
    if let Some(ns) = ns {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec})
}

fn verdict(plan: &Plan) -> (Phase, Risk, Approval, Vec<&str>) {
    let v = plan.verdict.as_ref().expect("a verdict");
    let rules = plan
        .items
        .iter()
        .filter(|i| i.counted)
        .map(|i| i.rule.as_str())
        .collect();
    (v.phase, v.risk, v.approval, rules)
}

#[test]
fn table() {
    let deploy = |image: &str| {
        obj(
            "apps/v1",
            "Deployment",
            Some("whoami"),
            "whoami",
            json!({"image": image}),
        )
    };
    let hr = |name: &str, ns: &str, version: &str, values: Value| {
        obj(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            Some(ns),
            name,
            json!({"chart": {"spec": {"chart": name, "version": version}}, "values": values}),
        )
    };
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<Value>,
        Vec<Value>,
        Vec<ChangedFile>,
        (Phase, Risk, Approval, Vec<&'a str>),
    );
    let cases: Vec<Case> = vec![
        (
            "app update → GitOps Low (not-foundation)",
            "apps/whoami",
            vec![deploy("a:1")],
            vec![deploy("a:2")],
            vec![],
            (
                Phase::GitOps,
                Risk::Low,
                Approval::SelfApproved,
                vec!["applications"],
            ),
        ),
        (
            "app added → GitOps Low",
            "apps/whoami",
            vec![],
            vec![deploy("a:1")],
            vec![],
            (
                Phase::GitOps,
                Risk::Low,
                Approval::SelfApproved,
                vec!["applications"],
            ),
        ),
        (
            "infrastructure → GitOps Medium",
            "infrastructure/ingress-nginx",
            vec![hr("ingress-nginx", "ingress-nginx", "4.1", json!({}))],
            vec![hr("ingress-nginx", "ingress-nginx", "4.2", json!({}))],
            vec![],
            (
                Phase::GitOps,
                Risk::Medium,
                Approval::PeerReview,
                vec!["infrastructure"],
            ),
        ),
        (
            "talos patch → Bootstrap High (os-access)",
            ".",
            vec![],
            vec![],
            vec![file(
                "talos/patches/cluster.yaml",
                &["machine.network.nameservers[1.1.1.1]"],
            )],
            (
                Phase::Bootstrap,
                Risk::High,
                Approval::LeadApproval,
                vec!["talos-config"],
            ),
        ),
        (
            "pod CIDR → Bootstrap Critical",
            ".",
            vec![],
            vec![],
            vec![file("talconfig.yaml", &["clusterPodNets[10.244.0.0/16]"])],
            (
                Phase::Bootstrap,
                Risk::Critical,
                Approval::TeamApproval,
                vec!["talos-cluster-network"],
            ),
        ),
        (
            "flux-system → Bootstrap High (not-via-api)",
            ".",
            vec![],
            vec![],
            vec![file(
                "clusters/home-ops/flux-system/gotk-components.yaml",
                &[],
            )],
            (
                Phase::Bootstrap,
                Risk::High,
                Approval::LeadApproval,
                vec!["flux-system"],
            ),
        ),
        (
            "cilium version → Bootstrap High",
            "infrastructure/bootstrap/cilium",
            vec![hr("cilium", "kube-system", "1.17.6", json!({}))],
            vec![hr("cilium", "kube-system", "1.18.0", json!({}))],
            vec![],
            (
                Phase::Bootstrap,
                Risk::High,
                Approval::LeadApproval,
                vec!["cni-version"],
            ),
        ),
        (
            "cilium values → Hybrid Medium (split)",
            "infrastructure/bootstrap/cilium",
            vec![hr(
                "cilium",
                "kube-system",
                "1.18.0",
                json!({"bpf": {"masquerade": false}}),
            )],
            vec![hr(
                "cilium",
                "kube-system",
                "1.18.0",
                json!({"bpf": {"masquerade": true}}),
            )],
            vec![],
            (
                Phase::Hybrid,
                Risk::Medium,
                Approval::PeerReview,
                vec!["cni-core-values"],
            ),
        ),
        (
            "BGP peers → GitOps Medium (foundation-via-api)",
            "infrastructure/cilium-bgp",
            vec![obj(
                "cilium.io/v2",
                "CiliumBGPClusterConfig",
                None,
                "bgp",
                json!({"asn": 1}),
            )],
            vec![obj(
                "cilium.io/v2",
                "CiliumBGPClusterConfig",
                None,
                "bgp",
                json!({"asn": 2}),
            )],
            vec![],
            (
                Phase::GitOps,
                Risk::Medium,
                Approval::PeerReview,
                vec!["cni-bgp-and-pools"],
            ),
        ),
        (
            "secret foundation → Bootstrap High",
            "infrastructure/bootstrap/external-secrets",
            vec![hr("external-secrets", "external-secrets", "0.1", json!({}))],
            vec![hr("external-secrets", "external-secrets", "0.2", json!({}))],
            vec![],
            (
                Phase::Bootstrap,
                Risk::High,
                Approval::LeadApproval,
                vec!["secret-foundation"],
            ),
        ),
        (
            "authentication → GitOps High",
            "infrastructure/authentik",
            vec![hr("authentik", "authentik", "1", json!({}))],
            vec![hr("authentik", "authentik", "2", json!({}))],
            vec![],
            (
                Phase::GitOps,
                Risk::High,
                Approval::LeadApproval,
                vec!["authentication"],
            ),
        ),
        (
            "network policy → GitOps High",
            "apps/whoami",
            vec![],
            vec![obj(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                Some("whoami"),
                "deny",
                json!({}),
            )],
            vec![],
            (
                Phase::GitOps,
                Risk::High,
                Approval::LeadApproval,
                vec!["network-policy"],
            ),
        ),
        (
            "database cluster → GitOps High",
            "apps/home-automation",
            vec![obj(
                "postgresql.cnpg.io/v1",
                "Cluster",
                Some("ha"),
                "db",
                json!({"instances": 1}),
            )],
            vec![obj(
                "postgresql.cnpg.io/v1",
                "Cluster",
                Some("ha"),
                "db",
                json!({"instances": 3}),
            )],
            vec![],
            (
                Phase::GitOps,
                Risk::High,
                Approval::LeadApproval,
                vec!["database"],
            ),
        ),
        (
            "storage class → GitOps Medium",
            "infrastructure/longhorn",
            vec![],
            vec![obj(
                "storage.k8s.io/v1",
                "StorageClass",
                None,
                "fast",
                json!(null),
            )],
            vec![],
            (
                Phase::GitOps,
                Risk::Medium,
                Approval::PeerReview,
                vec!["storage-class"],
            ),
        ),
        (
            "dashboard in infrastructure → Low",
            "infrastructure/monitoring",
            vec![],
            vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d", "namespace": "monitoring", "labels": {"grafana_dashboard": "1"}}}),
            ],
            vec![],
            (
                Phase::GitOps,
                Risk::Low,
                Approval::SelfApproved,
                vec!["dashboards"],
            ),
        ),
        (
            "namespace deleted → Critical",
            "apps/whoami",
            vec![obj("v1", "Namespace", None, "whoami", json!(null))],
            vec![],
            vec![],
            (
                Phase::GitOps,
                Risk::Critical,
                Approval::TeamApproval,
                vec!["applications"],
            ),
        ),
        (
            "PVC deleted → Critical",
            "apps/whoami",
            vec![obj(
                "v1",
                "PersistentVolumeClaim",
                Some("whoami"),
                "data",
                json!({}),
            )],
            vec![],
            vec![],
            (
                Phase::GitOps,
                Risk::Critical,
                Approval::TeamApproval,
                vec!["applications"],
            ),
        ),
        (
            "deployment deleted → Medium",
            "apps/whoami",
            vec![deploy("a")],
            vec![],
            vec![],
            (
                Phase::GitOps,
                Risk::Medium,
                Approval::PeerReview,
                vec!["applications"],
            ),
        ),
        (
            "CRD changed → High",
            "infrastructure/cert-manager",
            vec![obj(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                "certificates.cert-manager.io",
                json!({"v": 1}),
            )],
            vec![obj(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                "certificates.cert-manager.io",
                json!({"v": 2}),
            )],
            vec![],
            (
                Phase::GitOps,
                Risk::High,
                Approval::LeadApproval,
                vec!["infrastructure"],
            ),
        ),
        (
            "bootstrap and gitops together → Hybrid verdict",
            "apps/whoami",
            vec![deploy("a:1")],
            vec![deploy("a:2")],
            vec![file("talos/patches/cluster.yaml", &[])],
            (
                Phase::Hybrid,
                Risk::High,
                Approval::LeadApproval,
                vec!["applications", "talos-config"],
            ),
        ),
        (
            "file no kustomization reads",
            ".",
            vec![],
            vec![],
            vec![file("README.md", &[])],
            (
                Phase::GitOps,
                Risk::Low,
                Approval::SelfApproved,
                vec!["file"],
            ),
        ),
    ];
    for (name, dir, before, after, files, expected) in cases {
        let plan = plan_for(dir, before, after, files);
        assert_eq!(verdict(&plan), expected, "{name}");
    }
}

#[test]
fn nothing_changed_has_no_verdict() {
    let plan = plan_for("apps/x", vec![], vec![], vec![]);
    assert!(plan.verdict.is_none() && plan.procedure.is_empty());
}

#[test]
fn procedures_follow_the_phase() {
    let hr = |values: Value| {
        obj(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            Some("kube-system"),
            "cilium",
            json!({"chart": {"spec": {"chart": "cilium", "version": "1"}}, "values": values}),
        )
    };
    let plan = plan_for(
        "infrastructure/bootstrap/cilium",
        vec![hr(json!({"a": 1}))],
        vec![hr(json!({"a": 2}))],
        vec![],
    );
    let steps = &plan.procedure;
    assert!(
        steps[0].starts_with("Bootstrap: Re-deploy the CNI core"),
        "{steps:?}"
    );
    assert!(steps[1].starts_with("Verify:"), "{steps:?}");
    let merge = steps.iter().position(|s| s == "Merge").expect("merge");
    assert_eq!(steps[merge + 1], "capstan reconcile ks it --with-source");
    assert!(
        steps[merge - 1].starts_with("Review: Peer review"),
        "{steps:?}"
    );

    let gitops = plan_for(
        "apps/a",
        vec![],
        vec![obj("v1", "ConfigMap", Some("a"), "c", json!(null))],
        vec![],
    );
    assert_eq!(
        gitops.procedure,
        vec![
            "Review: Self-approved (through a pull request)",
            "Merge",
            "capstan reconcile ks it --with-source",
            "Watch until Ready: capstan get ks it --live --watch"
        ]
    );
}

#[test]
fn a_head_render_failure_blocks() {
    let side = |outcome: Result<Vec<Value>, String>| Side {
        rendered: vec![Rendered {
            producer: ks("apps"),
            prune: true,
            outcome,
        }],
        error: None,
        ..Default::default()
    };
    let report = diff(
        &side(Ok(vec![])),
        &side(Err("missing file".into())),
        &DiffOptions::default(),
    );
    let input = PlanInput {
        diff: report,
        ..PlanInput::default()
    };
    let plan = classify(&input, &default_rules());
    assert_eq!(plan.verdict.as_ref().map(|v| v.risk), Some(Risk::High));
    assert!(plan.items[0].reason.contains("missing file"));
}

#[test]
fn repository_rules_go_first() {
    let rules = RuleSet::from_config(
        ".capstan.yaml",
        "plan:\n  rules:\n    - name: payments\n      paths: ['apps/payments/**']\n      phase: GitOps\n      risk: Critical\n      branch: not-foundation\n      reason: money moves here\n",
    )
    .unwrap();
    let side = |objects: Vec<Value>| Side {
        rendered: vec![Rendered {
            producer: ks("it"),
            prune: true,
            outcome: Ok(objects),
        }],
        error: None,
        ..Default::default()
    };
    let report = diff(
        &side(vec![]),
        &side(vec![obj("v1", "ConfigMap", Some("p"), "c", json!(null))]),
        &DiffOptions::default(),
    );
    let mut places = BTreeMap::new();
    places.insert(
        ks("it"),
        ProducerPlace {
            dir: "apps/payments".into(),
            kustomization: "it".into(),
        },
    );
    let plan = classify(
        &PlanInput {
            diff: report,
            places,
            ..PlanInput::default()
        },
        &rules,
    );
    assert_eq!(
        plan.verdict.as_ref().map(|v| v.approval),
        Some(Approval::TeamApproval)
    );
    assert_eq!(plan.items[0].rule, "payments");
}

fn bootstrap_steps() -> Vec<BootstrapStep> {
    vec![
        BootstrapStep {
            name: "talos".into(),
            paths: vec!["talconfig.yaml".into(), "talos/patches/cluster.yaml".into()],
            helm_release: None,
            command: "capstan bootstrap apply --only talos".into(),
        },
        BootstrapStep {
            name: "cilium".into(),
            paths: vec!["infrastructure/bootstrap/cilium".into()],
            helm_release: Some(("kube-system".into(), "cilium".into())),
            command: "capstan bootstrap apply --only cilium".into(),
        },
    ]
}

#[test]
fn a_bootstrap_step_input_is_applied_by_that_step() {
    let plan = classify(
        &PlanInput {
            files: vec![file("talos/patches/cluster.yaml", &["machine.network"])],
            bootstrap: bootstrap_steps(),
            ..PlanInput::default()
        },
        &default_rules(),
    );
    let item = &plan.items[0];
    assert_eq!(item.phase, Phase::Bootstrap);
    assert!(item.risk >= Risk::High);
    let applies = "bootstrap step \"talos\" applies it: capstan bootstrap apply --only talos; preview: capstan bootstrap apply --only talos --dry-run";
    assert!(
        item.bootstrap
            .as_deref()
            .is_some_and(|b| b.contains(applies)),
        "{:?}",
        item.bootstrap
    );
    assert!(
        plan.procedure
            .iter()
            .any(|s| s.starts_with("Bootstrap: ") && s.contains(applies)),
        "{:?}",
        plan.procedure
    );
}

#[test]
fn a_bootstrap_step_gitops_adopts_is_hybrid() {
    let side = |objects: Vec<Value>| Side {
        rendered: vec![Rendered {
            producer: ks("bootstrap-cilium"),
            prune: false,
            outcome: Ok(objects),
        }],
        error: None,
        ..Default::default()
    };
    let cm = |replicas: u32| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "cilium-values", "namespace": "kube-system"},
               "data": {"values.yaml": format!("operator:\n  replicas: {replicas}\n")}})
    };
    let report = diff(
        &side(vec![cm(2)]),
        &side(vec![cm(3)]),
        &DiffOptions::default(),
    );
    let mut places = BTreeMap::new();
    places.insert(
        ks("bootstrap-cilium"),
        ProducerPlace {
            dir: "infrastructure/bootstrap/cilium".into(),
            kustomization: "bootstrap-cilium".into(),
        },
    );
    let plan = classify(
        &PlanInput {
            diff: report,
            places,
            bootstrap: bootstrap_steps(),
            ..PlanInput::default()
        },
        &default_rules(),
    );
    let item = &plan.items[0];
    assert_eq!(item.phase, Phase::Hybrid);
    assert!(
        item.bootstrap.as_deref().is_some_and(|b| b.contains(
            "bootstrap step \"cilium\" applies it: capstan bootstrap apply --only cilium; preview: capstan bootstrap apply --only cilium --dry-run"
        )),
        "{:?}",
        item.bootstrap
    );
    assert_eq!(plan.verdict.as_ref().map(|v| v.phase), Some(Phase::Hybrid));
}

#[test]
fn a_file_no_kustomization_reads_is_unknown_without_any_kustomization() {
    let input = PlanInput {
        files: vec![file(
            "components/cert-manager/release.yaml",
            &["spec.ref.tag"],
        )],
        diff: DiffReport::default(),
        places: BTreeMap::new(),
        order: vec![],
        facts: Default::default(),
        bootstrap: vec![],
    };
    let plan = classify(&input, &default_rules());
    assert_eq!(plan.unknown.len(), 1, "{:?}", plan.unknown);
    assert_eq!(
        plan.unknown[0].producer,
        "components/cert-manager/release.yaml"
    );
    assert!(
        plan.items[0]
            .reason
            .starts_with("no Flux Kustomization is declared in this repository"),
        "{}",
        plan.items[0].reason
    );
    // with a Kustomization in the repository, a file none reads has no effect
    let plan = plan_for("apps", vec![], vec![], vec![file("docs/example.yaml", &[])]);
    assert!(plan.unknown.is_empty());
    assert_eq!(
        plan.items[0].reason,
        "not read by any Kustomization: no effect on the cluster"
    );
}

#[test]
fn an_unrendered_release_taking_a_changed_chart_source_is_unknown() {
    let source = |tag: &str| {
        obj(
            "source.toolkit.fluxcd.io/v1",
            "OCIRepository",
            Some("apps"),
            "podinfo",
            json!({"url": "oci://example.com/charts/podinfo", "ref": {"tag": tag}}),
        )
    };
    let release = |name: &str, chart: &str| {
        obj(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            Some("apps"),
            name,
            json!({"chartRef": {"kind": "OCIRepository", "name": chart}}),
        )
    };
    let side = |tag: &str| Side {
        rendered: vec![Rendered {
            producer: ks("apps"),
            prune: true,
            outcome: Ok(vec![
                source(tag),
                release("podinfo", "podinfo"),
                release("other", "other-chart"),
            ]),
        }],
        error: None,
        ..Default::default()
    };
    let (base, head) = (side("6.7.0"), side("6.8.0"));
    let report = diff(&base, &head, &DiffOptions::default());
    let mut places = BTreeMap::new();
    places.insert(
        ks("apps"),
        ProducerPlace {
            dir: "apps".to_owned(),
            kustomization: "apps".to_owned(),
        },
    );
    let facts = crate::analysis::ChangeFacts {
        base: crate::analysis::SideFacts::new(base, BTreeMap::new()),
        head: crate::analysis::SideFacts::new(head, BTreeMap::new()),
    };
    let input = PlanInput {
        files: vec![],
        diff: report,
        places,
        order: vec![],
        facts,
        bootstrap: vec![],
    };
    let plan = classify(&input, &default_rules());
    let unknown: Vec<&str> = plan.unknown.iter().map(|u| u.producer.as_str()).collect();
    // the release whose chartRef names the changed source, not the other one
    assert_eq!(unknown, vec!["HelmRelease/apps/podinfo"]);
    assert!(
        plan.unknown[0]
            .reason
            .contains("takes the changed chart of OCIRepository/apps/podinfo"),
        "{}",
        plan.unknown[0].reason
    );
}
