//! Keeps `examples/home-ops` what the seeds describe and what every command runs on: Flux finds
//! its parts, every folder builds (with capstan's kustomize engine, and identically with the
//! `kubectl kustomize` oracle when it is installed), the in-repo chart renders with the `helm`
//! oracle, and the seeds' practices hold in every rendered object — PVCs protected, Namespaces
//! never pruned, no Secret committed, ingress hosts on one domain with cert-manager TLS, images
//! and charts pinned, containers with requests and limits, Bootstrap components never pruned.

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_core::{OsFs, Value};
use capstan_flux::discovery::KustomizeRenderer;
use capstan_flux::discovery::{Options as DiscoveryOptions, discover};
use capstan_kustomize::{LoadRestrictor, Options};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/home-ops")
}

fn options() -> Options {
    Options {
        load_restrictor: LoadRestrictor::None,
        ..Options::default()
    }
}

/// Every folder with a kustomization file that is not a Component.
fn kustomization_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![example()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                if !text.contains("kind: Component") {
                    out.push(dir.clone());
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn flux_finds_every_part() {
    let discovery = discover(
        &OsFs,
        &example(),
        &KustomizeRenderer::default(),
        &DiscoveryOptions::default(),
    )
    .unwrap();
    let errors: Vec<String> = discovery
        .all_diagnostics()
        .filter(|d| d.severity == capstan_core::Severity::Error)
        .map(|d| format!("{}: {}", d.location, d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(discovery.clusters.len(), 1);
    let cluster = &discovery.clusters[0];
    let mut names: Vec<&str> = cluster
        .kustomizations
        .iter()
        .map(|k| k.found.key.name.as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "apps-home-automation",
            "apps-whoami",
            "bootstrap-cilium",
            "bootstrap-external-secrets",
            "bootstrap-onepassword-connect",
            "flux-system",
            "infrastructure-authentik",
            "infrastructure-cert-manager",
            "infrastructure-cert-manager-issuers",
            "infrastructure-cilium-bgp",
            "infrastructure-cilium-pools",
            "infrastructure-cloudnative-pg",
            "infrastructure-cnpg-barman-plugin",
            "infrastructure-external-dns",
            "infrastructure-ingress-nginx",
            "infrastructure-longhorn",
            "infrastructure-monitoring",
            "infrastructure-notifications",
            "infrastructure-secret-stores",
        ]
    );
    assert!(cluster.kustomizations.iter().all(|k| k.dir_exists));
    let mut releases: Vec<String> = cluster
        .helm_releases
        .iter()
        .map(|h| format!("{}/{}", h.found.key.namespace, h.found.key.name))
        .collect();
    releases.sort();
    assert_eq!(
        releases,
        [
            "authentik/authentik",
            "cert-manager/cert-manager",
            "cnpg-system/cloudnative-pg",
            "cnpg-system/plugin-barman-cloud",
            "external-dns/external-dns",
            "external-secrets/external-secrets",
            "home-automation/home-assistant",
            "ingress-nginx/ingress-nginx",
            "kube-system/cilium",
            "longhorn-system/longhorn",
            "monitoring/kube-prometheus-stack",
            "onepassword/onepassword-connect",
        ]
    );

    // The features later commands need are all present.
    let ks = |name: &str| {
        &cluster
            .kustomizations
            .iter()
            .find(|k| k.found.key.name == name)
            .unwrap()
            .found
            .raw
    };
    let monitoring = ks("infrastructure-monitoring");
    assert!(monitoring.pointer("/spec/components/0").is_some());
    assert!(monitoring.pointer("/spec/postBuild/substitute").is_some());
    assert!(
        monitoring
            .pointer("/spec/postBuild/substituteFrom/0")
            .is_some()
    );
    // Bootstrap components are never pruned by Flux.
    for k in &cluster.kustomizations {
        if k.found.key.name.starts_with("bootstrap-") {
            assert_eq!(
                k.found.raw.pointer("/spec/prune"),
                Some(&Value::Bool(false))
            );
        }
    }
}

/// Every object every folder renders.
fn all_objects() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for dir in kustomization_dirs() {
        let resmap = capstan_kustomize::build(&OsFs, &dir, &options())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for object in resmap.objects() {
            out.push((dir.clone(), object.clone()));
        }
    }
    out
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

#[test]
fn the_seeds_practices_hold() {
    let mut problems = Vec::new();
    for (dir, object) in all_objects() {
        let dir = dir.strip_prefix(example()).unwrap().display().to_string();
        let kind = str_at(&object, "/kind").unwrap_or("");
        let name = str_at(&object, "/metadata/name").unwrap_or("");
        let mut problem = |what: &str| problems.push(format!("{dir}: {kind} {name}: {what}"));
        match kind {
            "Secret" => problem("a plaintext Secret; use an ExternalSecret"),
            "Namespace"
                if str_at(
                    &object,
                    "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune",
                ) != Some("disabled") =>
            {
                problem("Namespace without kustomize.toolkit.fluxcd.io/prune: disabled");
            }
            "PersistentVolumeClaim" => {
                let finalizers = object
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array);
                if !finalizers
                    .is_some_and(|f| f.iter().any(|v| v == "kubernetes.io/pvc-protection"))
                {
                    problem("PVC without the kubernetes.io/pvc-protection finalizer");
                }
                if str_at(
                    &object,
                    "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune",
                ) != Some("disabled")
                {
                    problem("PVC that Flux would prune");
                }
            }
            "Ingress" => {
                if str_at(
                    &object,
                    "/metadata/annotations/cert-manager.io~1cluster-issuer",
                )
                .is_none()
                {
                    problem("Ingress without a cert-manager ClusterIssuer");
                }
                for rule in object
                    .pointer("/spec/rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let host = str_at(rule, "/host").unwrap_or("");
                    if !host.ends_with(".lab.example.com") {
                        problem(&format!("host {host} is not on lab.example.com"));
                    }
                }
                if object.pointer("/spec/tls/0/secretName").is_none() {
                    problem("Ingress without TLS");
                }
            }
            "HelmRelease" => {
                let source = str_at(&object, "/spec/chart/spec/sourceRef/kind");
                if source == Some("HelmRepository")
                    && str_at(&object, "/spec/chart/spec/version").is_none()
                {
                    problem("chart version not pinned");
                }
            }
            _ => {}
        }
        let containers = object
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array);
        for container in containers.into_iter().flatten() {
            let image = str_at(container, "/image").unwrap_or("");
            let tag = image.rsplit('/').next().unwrap_or("");
            if !(tag.contains(':') || image.contains("@sha256:")) || tag.ends_with(":latest") {
                problem(&format!("image {image} is not pinned"));
            }
            if container.pointer("/resources/requests").is_none()
                || container.pointer("/resources/limits").is_none()
            {
                problem("container without resource requests and limits");
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

fn oracle(name: &str) -> Option<PathBuf> {
    capstan_testkit::oracle(name)
}

#[test]
fn every_folder_builds_as_kubectl_kustomize_builds_it() {
    let Some(kubectl) = oracle("kubectl") else {
        eprintln!(
            "skipping: the kubectl oracle is not installed (../shared/tools/install-oracles.sh)"
        );
        return;
    };
    let mut mismatches = Vec::new();
    for dir in kustomization_dirs() {
        let output = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let ours = capstan_kustomize::render(
            &capstan_kustomize::build(&OsFs, &dir, &Default::default()).unwrap(),
        );
        if ours.as_bytes() != output.stdout.as_slice() {
            mismatches.push(dir.strip_prefix(example()).unwrap().display().to_string());
        }
    }
    assert!(
        mismatches.is_empty(),
        "capstan kustomize differs from kubectl kustomize in {mismatches:#?}"
    );
}

#[test]
fn the_in_repo_chart_renders_with_helm() {
    let Some(helm) = oracle("helm") else {
        eprintln!(
            "skipping: the helm oracle is not installed (../shared/tools/install-oracles.sh)"
        );
        return;
    };
    let output = Command::new(helm)
        .args(["template", "home-assistant"])
        .arg(example().join("charts/home-assistant"))
        .args([
            "--namespace",
            "home-automation",
            "--set",
            "ingress.enabled=true",
            "--set",
            "ingress.host=home-assistant.lab.example.com",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let docs = capstan_core::yaml::parse_documents(&text).unwrap();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| str_at(d, "/kind")).collect();
    assert_eq!(
        kinds,
        ["PersistentVolumeClaim", "Service", "Deployment", "Ingress"]
    );
    assert!(text.contains("- kubernetes.io/pvc-protection"));
    assert!(text.contains("@sha256:"));
}
