//! The Flux Operator's reference fleet (`controlplaneio-fluxcd+d2-fleet`) and a home-ops repository
//! installing Flux through the `flux-instance` chart (`mirceanton+home-ops`), read in place from
//! `../shared/corpus`: each FluxInstance is a cluster root of its own, and the tenants'
//! ResourceSets yield the Kustomizations and sources the operator would create (one snapshot per
//! cluster). Skips with a message when the corpus is absent.

use std::path::{Path, PathBuf};

use capstan_core::{OsFs, Value};
use capstan_flux::discovery::{Cluster, Discovery, KustomizeRenderer, Options, discover};

fn corpus(name: &str) -> Option<PathBuf> {
    capstan_testkit::shared::corpus(name)
}

fn run(path: &Path) -> Discovery {
    let path = std::fs::canonicalize(path).expect("corpus path resolves");
    discover(
        &OsFs,
        &path,
        &KustomizeRenderer::default(),
        &Options::default(),
    )
    .expect("discovery runs")
}

/// What a cluster holds, as a compact listing: each Kustomization and source with where it comes
/// from (file, or the ResourceSet and input that generated it) and what it points at.
fn listing(cluster: &Cluster) -> Value {
    let origin = |o: &capstan_flux::discovery::Origin| -> Value {
        match &o.generated_by {
            Some(g) => serde_json::json!({"generatedBy": g.to_string(),
                                          "file": o.file.as_ref().map(|f| f.display().to_string())}),
            None => serde_json::json!({"file": o.file.as_ref().map(|f| f.display().to_string())}),
        }
    };
    let kustomizations: Vec<Value> = cluster
        .kustomizations
        .iter()
        .map(|k| {
            serde_json::json!({
                "key": k.found.key.to_string(),
                "path": k.found.raw.pointer("/spec/path"),
                "sourceRef": k.found.raw.pointer("/spec/sourceRef"),
                "origin": origin(&k.found.origin),
            })
        })
        .collect();
    let sources: Vec<Value> = cluster
        .sources
        .iter()
        .map(|s| {
            serde_json::json!({
                "key": s.found.key.to_string(),
                "url": s.found.raw.pointer("/spec/url"),
                "ref": s.found.raw.pointer("/spec/ref"),
                "verify": s.found.raw.pointer("/spec/verify"),
                "origin": origin(&s.found.origin),
            })
        })
        .collect();
    let helm_releases: Vec<String> = cluster
        .helm_releases
        .iter()
        .map(|h| h.found.key.to_string())
        .collect();
    serde_json::json!({
        "cluster": cluster.name,
        "substitution": {"strict": cluster.substitution.strict, "reason": cluster.substitution.reason},
        "kustomizations": kustomizations,
        "sources": sources,
        "helmReleases": helm_releases,
    })
}

#[test]
fn d2_fleet_one_cluster_per_flux_instance() {
    let Some(repo) = corpus("controlplaneio-fluxcd+d2-fleet") else {
        return;
    };
    let discovery = run(&repo);
    let names: Vec<&str> = discovery.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "clusters/prod-eu",
            "clusters/prod-us",
            "clusters/staging",
            "clusters/update"
        ]
    );
    for cluster in &discovery.clusters {
        let duplicates: Vec<&str> = cluster
            .diagnostics
            .iter()
            .filter(|d| d.code == "flux/duplicate-object")
            .map(|d| d.message.as_str())
            .collect();
        assert!(duplicates.is_empty(), "{}: {duplicates:?}", cluster.name);
        // ResourceSets are expanded as their applier applies them: after its substitution.
        for ks in &cluster.kustomizations {
            let path = ks.found.raw.pointer("/spec/path").and_then(Value::as_str);
            assert!(
                !path.unwrap_or_default().contains("${"),
                "{}: {} keeps a variable in {path:?}",
                cluster.name,
                ks.found.key
            );
        }
        let name = cluster.name.replace('/', "-");
        insta::assert_yaml_snapshot!(format!("d2_fleet_{name}"), listing(cluster));
    }
}

#[test]
fn mirceanton_flux_instance_from_chart_values() {
    let Some(repo) = corpus("mirceanton+home-ops") else {
        return;
    };
    let discovery = run(&repo);
    assert_eq!(discovery.clusters.len(), 1);
    let cluster = &discovery.clusters[0];
    assert_eq!(cluster.name, "apps");
    let root = &cluster.kustomizations[0];
    assert_eq!(
        root.found.key.to_string(),
        "Kustomization/flux-system/flux-system"
    );
    assert!(root.found.origin.parent.is_none());
    // The flux-operator-manifests v0.46.0 artifact ships Flux 2.8 at most: not strict.
    assert!(!cluster.substitution.strict, "{:?}", cluster.substitution);
    assert!(cluster.substitution.reason.contains("v0.46.0"));
}
