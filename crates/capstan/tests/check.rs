//! `capstan check` end to end: for every rule and integrity check a small repository with a
//! violation (flagged with the right id, file and line) and a clean twin that passes.

use std::path::Path;

use serde_json::Value;

const SYNC: &str = "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  url: https://example.com/repo.git
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/test
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
";

const CLUSTER_KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- flux-system/gotk-sync.yaml
- apps.yaml
";

/// The apps Kustomization; `{extra}` is spliced into its spec.
fn apps_ks(extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system}}
{extra}"
    )
}

/// A repository whose `apps` Kustomization renders `apps/objects.yaml`.
fn repo(objects: &str, ks_extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    };
    write("clusters/test/flux-system/gotk-sync.yaml", SYNC);
    write("clusters/test/kustomization.yaml", CLUSTER_KUSTOMIZATION);
    write("clusters/test/apps.yaml", &apps_ks(ks_extra));
    write(
        "apps/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- objects.yaml\n",
    );
    write("apps/objects.yaml", objects);
    dir
}

fn run(path: &Path, format: &str) -> (i32, String) {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["check", "--offline", "--chart-cache"])
        .arg(path.join(".no-chart-cache"))
        .arg("--path")
        .arg(path)
        .args(["-o", format])
        .output()
        .expect("capstan runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        output.status.code().is_some(),
        "killed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), stdout)
}

fn findings(path: &Path) -> (i32, Vec<Value>) {
    let (code, stdout) = run(path, "json");
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("json: {e}\n{stdout}"));
    (
        code,
        report["findings"].as_array().cloned().unwrap_or_default(),
    )
}

/// Asserts `rule` is reported at `file:line`, and nowhere in the clean twin.
fn flagged(rule: &str, bad: &tempfile::TempDir, file: &str, line: u64, clean: &tempfile::TempDir) {
    let (_, found) = findings(bad.path());
    let hit = found
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("{rule} not reported; findings: {found:#?}"));
    assert_eq!(hit["location"]["file"], file, "{hit:#?}");
    assert_eq!(hit["location"]["line"], line, "{hit:#?}");
    let (_, clean_found) = findings(clean.path());
    assert!(
        !clean_found.iter().any(|f| f["rule"] == rule),
        "{rule} in the clean twin: {clean_found:#?}"
    );
}

const GOOD_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27.3
        resources:
          requests: {cpu: 10m, memory: 64Mi}
          limits: {memory: 128Mi}
";

#[test]
fn clean_repository_passes() {
    let clean = repo(GOOD_DEPLOYMENT, "");
    let (code, stdout) = run(clean.path(), "human");
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("PASS    Kustomization flux-system/apps (1 objects)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("0 errors, 0 warnings in 4 objects from 2 Kustomizations"),
        "{stdout}"
    );
}

#[test]
fn image_pinned() {
    let bad = repo(&GOOD_DEPLOYMENT.replace("nginx:1.27.3", "nginx:latest"), "");
    flagged(
        "image-pinned",
        &bad,
        "apps/objects.yaml",
        15,
        &repo(GOOD_DEPLOYMENT, ""),
    );
    let (code, stdout) = run(bad.path(), "human");
    assert_eq!(code, 1);
    assert!(
        stdout.contains("FAIL    Kustomization flux-system/apps"),
        "{stdout}"
    );
}

#[test]
fn container_resources() {
    let bad = GOOD_DEPLOYMENT.replace("        resources:\n          requests: {cpu: 10m, memory: 64Mi}\n          limits: {memory: 128Mi}\n", "");
    flagged(
        "container-resources",
        &repo(&bad, ""),
        "apps/objects.yaml",
        14,
        &repo(GOOD_DEPLOYMENT, ""),
    );
}

#[test]
fn opt_out_annotation_and_config() {
    let annotated = GOOD_DEPLOYMENT.replace("nginx:1.27.3", "nginx").replace(
        "  namespace: default\n",
        "  namespace: default\n  annotations:\n    capstan.io/ignore: image-pinned\n",
    );
    let (code, found) = findings(repo(&annotated, "").path());
    assert_eq!(code, 0, "{found:#?}");
    let configured = repo(&GOOD_DEPLOYMENT.replace("nginx:1.27.3", "nginx"), "");
    std::fs::write(
        configured.path().join(".capstan.yaml"),
        "check:\n  rules:\n    image-pinned: {severity: warning}\n",
    )
    .unwrap();
    let (code, found) = findings(configured.path());
    assert_eq!(code, 0);
    assert!(
        found
            .iter()
            .any(|f| f["rule"] == "image-pinned" && f["severity"] == "warning")
    );
}

const PVC: &str = "apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: default
  annotations:
    kustomize.toolkit.fluxcd.io/prune: disabled
  finalizers: [kubernetes.io/pvc-protection]
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
";

#[test]
fn pvc_protection_finalizer() {
    let bad = PVC.replace("  finalizers: [kubernetes.io/pvc-protection]\n", "");
    flagged(
        "pvc-protection-finalizer",
        &repo(&bad, ""),
        "apps/objects.yaml",
        3,
        &repo(PVC, ""),
    );
}

#[test]
fn flux_prune_pvc() {
    let bad = PVC.replace(
        "  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\n",
        "",
    );
    flagged(
        "flux/prune-pvc",
        &repo(&bad, ""),
        "apps/objects.yaml",
        3,
        &repo(PVC, ""),
    );
}

#[test]
fn namespace_no_prune() {
    let good = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\n";
    let bad = "# media\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n";
    flagged(
        "namespace-no-prune",
        &repo(bad, ""),
        "apps/objects.yaml",
        4,
        &repo(good, ""),
    );
}

#[test]
fn no_plaintext_secret() {
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\nstringData:\n  password: hunter2\n";
    let good = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\nstringData:\n  password: ENC[AES256_GCM,data:abc,type:str]\nsops:\n  age: []\n  version: 3.11.0\n";
    flagged(
        "no-plaintext-secret",
        &repo(bad, ""),
        "apps/objects.yaml",
        12,
        &repo(good, ""),
    );
}

const INGRESS: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: grafana
  namespace: default
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt
spec:
  tls:
  - hosts: [grafana.example.com]
    secretName: grafana-tls
  rules:
  - host: grafana.example.com
";

#[test]
fn ingress_host_tls() {
    let with_domain = |objects: &str| {
        let dir = repo(objects, "");
        std::fs::write(
            dir.path().join(".capstan.yaml"),
            "check:\n  rules:\n    ingress-host-tls: {domain: example.com}\n",
        )
        .unwrap();
        dir
    };
    let bad = INGRESS.replace(
        "  - host: grafana.example.com",
        "  - host: grafana.other.org",
    );
    flagged(
        "ingress-host-tls",
        &with_domain(&bad),
        "apps/objects.yaml",
        13,
        &with_domain(INGRESS),
    );
}

#[test]
fn helm_chart_pinned() {
    let release = |version: &str| {
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: podinfo\n  namespace: default\nspec:\n  interval: 1h\n  url: https://example.com/charts\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: default\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: podinfo\n      version: \"{version}\"\n      sourceRef: {{kind: HelmRepository, name: podinfo}}\n"
        )
    };
    flagged(
        "helm-chart-pinned",
        &repo(&release(">=6.0.0"), ""),
        "apps/objects.yaml",
        20,
        &repo(&release("6.7.1"), ""),
    );
}

#[test]
fn bootstrap_phase() {
    let cilium = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: cilium\n  namespace: kube-system\nspec:\n  interval: 1h\n  url: https://helm.cilium.io\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: cilium\n  namespace: kube-system\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: cilium\n      version: 1.17.1\n      sourceRef: {kind: HelmRepository, name: cilium}\n";
    let bad = repo(cilium, "");
    let clean = repo(cilium, "");
    std::fs::write(
        clean.path().join(".capstan.yaml"),
        "check:\n  rules:\n    bootstrap-phase: {kustomizations: [flux-system/flux-system, flux-system/apps]}\n",
    )
    .unwrap();
    std::fs::write(
        clean.path().join("apps/objects.yaml"),
        cilium.replace("  namespace: kube-system\nspec:\n  interval: 10m", "  namespace: kube-system\n  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\nspec:\n  interval: 10m"),
    )
    .unwrap();
    flagged("bootstrap-phase", &bad, "apps/objects.yaml", 10, &clean);
}

#[test]
fn flux_object_owned_twice() {
    let bad = repo(GOOD_DEPLOYMENT, "");
    std::fs::write(
        bad.path().join("clusters/test/apps.yaml"),
        format!(
            "{}---\n{}",
            apps_ks(""),
            apps_ks("").replace("name: apps\n", "name: apps-again\n")
        ),
    )
    .unwrap();
    flagged(
        "flux/object-owned-twice",
        &bad,
        "apps/objects.yaml",
        1,
        &repo(GOOD_DEPLOYMENT, ""),
    );
}

#[test]
fn flux_timeouts_and_intervals() {
    let clean = repo(GOOD_DEPLOYMENT, "  timeout: 5m\n");
    flagged(
        "flux/timeout-interval",
        &repo(GOOD_DEPLOYMENT, "  timeout: 20m\n"),
        "clusters/test/apps.yaml",
        11,
        &clean,
    );
    let short = repo(GOOD_DEPLOYMENT, "").path().to_owned();
    let _ = short;
    let bad = repo(GOOD_DEPLOYMENT, "");
    std::fs::write(
        bad.path().join("clusters/test/apps.yaml"),
        apps_ks("").replace("interval: 10m", "interval: 30s"),
    )
    .unwrap();
    flagged(
        "flux/short-interval",
        &bad,
        "clusters/test/apps.yaml",
        7,
        &clean,
    );
    let waits = "  wait: true\n  healthChecks:\n  - {apiVersion: apps/v1, kind: Deployment, name: web, namespace: default}\n";
    flagged(
        "flux/wait-health-checks",
        &repo(GOOD_DEPLOYMENT, waits),
        "clusters/test/apps.yaml",
        12,
        &repo(GOOD_DEPLOYMENT, "  wait: true\n"),
    );
}

#[test]
fn flux_graph_findings() {
    let bad = repo(GOOD_DEPLOYMENT, "  dependsOn:\n  - name: nowhere\n");
    let (code, found) = findings(bad.path());
    assert_eq!(code, 1);
    let hit = found
        .iter()
        .find(|f| f["rule"] == "flux/missing-dependency")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(hit["location"]["file"], "clusters/test/apps.yaml");
    assert!(hit["location"]["line"].as_u64().is_some(), "{hit:#?}");
    let missing_path = repo(GOOD_DEPLOYMENT, "");
    std::fs::write(
        missing_path.path().join("clusters/test/apps.yaml"),
        apps_ks("").replace("./apps", "./nowhere"),
    )
    .unwrap();
    let (code, found) = findings(missing_path.path());
    assert_eq!(code, 1);
    assert!(
        found.iter().any(|f| f["rule"] == "flux/missing-path"),
        "{found:#?}"
    );
}

#[test]
fn schema_findings_in_a_repository() {
    let bad = GOOD_DEPLOYMENT.replace(
        "        image: nginx:1.27.3\n",
        "        image: nginx:1.27.3\n        imagePolicy: Always\n",
    );
    flagged(
        "schema/unknown-field",
        &repo(&bad, ""),
        "apps/objects.yaml",
        16,
        &repo(GOOD_DEPLOYMENT, ""),
    );
    let crd_kind = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\nspec: {}\n";
    let (code, found) = findings(repo(crd_kind, "").path());
    assert_eq!(code, 0);
    assert_eq!(
        found
            .iter()
            .filter(|f| f["rule"] == "schema/unknown-kind")
            .count(),
        1,
        "{found:#?}"
    );
}

#[test]
fn github_annotations() {
    let bad = repo(&GOOD_DEPLOYMENT.replace("nginx:1.27.3", "nginx"), "");
    let (code, stdout) = run(bad.path(), "github");
    assert_eq!(code, 1);
    assert!(stdout.contains("::error file=apps/objects.yaml,line=15,title=image-pinned::Deployment.apps/default/web: image \"nginx\" has no tag"), "{stdout}");
}

#[test]
fn broken_config_is_a_failure() {
    let dir = repo(GOOD_DEPLOYMENT, "");
    std::fs::write(
        dir.path().join(".capstan.yaml"),
        "check:\n  rules:\n    no-such-rule: {}\n",
    )
    .unwrap();
    let (code, _) = run(dir.path(), "human");
    assert_eq!(code, 2);
}

#[test]
fn flux_undefined_variable() {
    let substitute = "  postBuild:\n    substitute:\n      APP: web\n";
    let bad = repo(
        &GOOD_DEPLOYMENT.replace(
            "name: web\n  namespace",
            "name: ${APP}-${MISSING}\n  namespace",
        ),
        substitute,
    );
    let (code, found) = findings(bad.path());
    assert_eq!(code, 1);
    let hit = found
        .iter()
        .find(|f| f["rule"] == "flux/undefined-variable")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(
        hit["location"]["file"], "clusters/test/apps.yaml",
        "{hit:#?}"
    );
    assert_eq!(hit["location"]["line"], 1, "{hit:#?}");
    let clean = repo(
        &GOOD_DEPLOYMENT.replace("name: web\n  namespace", "name: ${APP}\n  namespace"),
        substitute,
    );
    let (code, found) = findings(clean.path());
    assert_eq!(code, 0, "{found:#?}");
}

#[test]
fn bundled_example_is_clean() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/home-ops");
    let (code, stdout) = run(&example, "human");
    assert_eq!(code, 0, "{stdout}");
}
