//! The errors `check` reports on the corpus repositories, rule by rule, each reviewed as a real
//! finding (the reasons are in the comments). A new error, or one gone, fails here so it is
//! reviewed again. The corpus is read in place (`../shared/corpus`); each repository is skipped
//! with a message when absent. Offline, with no chart cache: remote charts are not rendered.

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_check::check_repository;
use capstan_core::{OsFs, Severity};
use capstan_flux::build::BuildOptions;
use capstan_flux::charts::Charts;

fn errors_by_rule(name: &str) -> Option<BTreeMap<String, usize>> {
    let repo = capstan_testkit::shared::corpus(name)?;
    let root = std::fs::canonicalize(repo).expect("corpus path resolves");
    let options = BuildOptions {
        charts: Some(Arc::new(Charts::new(None, true))),
        ..BuildOptions::default()
    };
    let report = check_repository(&OsFs, &root, &options, None).expect("check runs");
    let mut counts = BTreeMap::new();
    for finding in report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
    {
        *counts.entry(finding.rule.clone()).or_default() += 1;
    }
    Some(counts)
}

fn expect(name: &str, expected: &[(&str, usize)]) {
    let Some(counts) = errors_by_rule(name) else {
        return;
    };
    let expected: BTreeMap<String, usize> = expected
        .iter()
        .map(|(rule, n)| ((*rule).to_owned(), *n))
        .collect();
    assert_eq!(counts, expected, "{name}");
}

#[test]
fn mirceanton_home_ops() {
    expect(
        "mirceanton+home-ops",
        &[
            // CronJob github-actions/renovate-cache-purge runs `busybox` with no tag: latest.
            ("image-pinned", 1),
            // Four cache claims on openebs-zfs-cache (reclaimPolicy unset: Delete) in
            // Kustomizations with prune: true and no prune: disabled. The fifth claim of the
            // review, steam-sunshine-games, is bound to a Retain PersistentVolume: not flagged.
            ("flux/prune-pvc", 4),
        ],
    );
}

#[test]
fn d2_fleet() {
    // Operator kinds as Alert/Receiver sources are accepted where the operator runs.
    expect("controlplaneio-fluxcd+d2-fleet", &[]);
}

#[test]
fn buroa_k8s_gitops() {
    expect(
        "buroa+k8s-gitops",
        &[
            // configMapGenerator files (repository.config, maddy.conf) the corpus snapshot does
            // not hold (it keeps YAML and JSON only): kustomize fails as it would on that tree.
            ("flux/build-failed", 2),
            // Kopiur-restored claims on ceph-block (reclaimPolicy: Delete in the rook-ceph
            // values) with prune: true and no prune: disabled.
            ("flux/prune-pvc", 16),
        ],
    );
}

#[test]
fn flux2_kustomize_helm_example() {
    expect(
        "fluxcd+flux2-kustomize-helm-example",
        &[
            // Version ranges (">=1.0.0", "1.x", ">= 1.8.0-rc.0"), once per cluster (staging,
            // production).
            ("helm-chart-pinned", 6),
            // Namespaces cert-manager, envoy-gateway-system, podinfo in prune: true
            // Kustomizations without prune: disabled, once per cluster.
            ("namespace-no-prune", 6),
        ],
    );
}
