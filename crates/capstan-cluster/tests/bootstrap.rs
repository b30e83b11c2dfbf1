//! The bootstrap runner on `examples/home-ops/bootstrap.yaml`, from nothing to every gate
//! green: talos through a fake `talosctl`/`talhelper` that "fetches" the test cluster's
//! kubeconfig, 1Password through a fake `op`, charts from a chart cache holding stand-ins,
//! rendered by the real helm. A second run skips every step and writes nothing (kube-fake's
//! counters); secret values appear nowhere but in the Secrets. Set `CAPSTAN_E2E_KUBECONFIG` to
//! run against a disposable real cluster instead of kube-fake (the write count is then not
//! asserted: only kube-fake counts server-side).

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use capstan_cluster::bootstrap::{self, Selection, Settings, StepRunOutcome};
use capstan_cluster::kube_api::KubeApi;
use capstan_cluster::unit::{Desired, Unit};
use capstan_cluster::{Cluster, Engine, ObjectRef};
use capstan_flux::bootstrap::Machine;
use capstan_flux::charts::{ChartCache, Charts};
use capstan_testkit::bootstrap::{OP_VALUE_MARK, chart_archive, fake_tools};
use serde_json::{Value, json};
use support::*;

/// The machine of the test: the fake tools' folder as the path, and its own variables.
struct FakeMachine {
    bin: PathBuf,
    vars: Vec<(String, String)>,
}

impl Machine for FakeMachine {
    fn var(&self, name: &str) -> Option<String> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn which(&self, program: &str) -> Option<PathBuf> {
        let path = self.bin.join(program);
        path.is_file().then_some(path)
    }
}

/// The charts the example's HelmReleases name, as stand-ins in a chart cache.
pub fn stand_in_charts(cache: &Path) {
    let cache = ChartCache::new(cache);
    for (url, chart, version) in [
        ("https://helm.cilium.io", "cilium", "1.18.4"),
        (
            "https://charts.external-secrets.io",
            "external-secrets",
            "0.18.2",
        ),
        (
            "https://1password.github.io/connect-helm-charts",
            "connect",
            "2.0.2",
        ),
    ] {
        cache
            .put(url, chart, version, &chart_archive(chart, version))
            .expect("cached");
    }
}

fn crd(group: &str, kind: &str) -> Value {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
        "metadata":{"name": format!("{plural}.{group}")},
        "spec":{"group": group, "scope": "Namespaced",
            "names":{"kind": kind, "plural": plural, "singular": kind.to_ascii_lowercase(), "listKind": format!("{kind}List")},
            "versions":[{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields": true}}}]}})
}

/// Flux's CRDs the example's gotk-components would carry (the example keeps only its Namespace).
async fn flux_crds<C: Cluster>(cluster: &C) {
    let owner = capstan_cluster::normalize::Owner {
        name: "fixtures".into(),
        namespace: "test".into(),
    };
    let unit = Unit::new(
        owner,
        [
            crd("source.toolkit.fluxcd.io", "GitRepository"),
            crd("kustomize.toolkit.fluxcd.io", "Kustomization"),
        ]
        .into_iter()
        .map(|object| Desired { object, file: None })
        .collect(),
    );
    let report = Engine::new(cluster, engine_options()).apply(&unit).await;
    assert!(report.errors.is_empty(), "fixtures: {:?}", report.errors);
}

/// What Flux's controllers would do once the engine is applied: a kustomize-controller
/// Deployment, and the flux-system Kustomization reporting Ready.
fn spawn_flux_stand_in(cluster: Arc<KubeApi>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let namespace = ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            namespace: String::new(),
            name: "flux-system".into(),
        };
        let deployment = ObjectRef {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: "flux-system".into(),
            name: "kustomize-controller".into(),
        };
        let ks = ObjectRef {
            group: "kustomize.toolkit.fluxcd.io".into(),
            version: "v1".into(),
            kind: "Kustomization".into(),
            namespace: "flux-system".into(),
            name: "flux-system".into(),
        };
        loop {
            if matches!(cluster.get(&namespace).await, Ok(Some(_)))
                && matches!(cluster.get(&deployment).await, Ok(None))
            {
                let labels = json!({"app": "kustomize-controller"});
                let _ = cluster
                    .apply(
                        &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": "kustomize-controller", "namespace": "flux-system"},
                            "spec": {"selector": {"matchLabels": labels},
                                "template": {"metadata": {"labels": labels},
                                    "spec": {"containers": [{"name": "manager", "image": "registry.k8s.io/pause:3.10"}]}}}}),
                        false,
                    )
                    .await;
            }
            if let Ok(Some(live)) = cluster.get(&ks).await
                && capstan_cluster::kstatus::condition(&live, "Ready").is_none()
            {
                use kube::api::{Api, DynamicObject, Patch, PatchParams};
                use kube::discovery::ApiResource;
                let ar = ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
                    "kustomize.toolkit.fluxcd.io",
                    "v1",
                    "Kustomization",
                ));
                let api: Api<DynamicObject> =
                    Api::namespaced_with(cluster.client().clone(), "flux-system", &ar);
                let generation = live
                    .pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1));
                let _ = api
                    .patch_status(
                        "flux-system",
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": {"observedGeneration": generation,
                            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                                "message": "Applied revision: main@sha1:0", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})),
                    )
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// A test's cluster: kube-fake, or the real one `CAPSTAN_E2E_KUBECONFIG` names.
struct TestCluster {
    fake: Option<kube_fake::Handle>,
    kubeconfig: PathBuf,
}

async fn test_cluster(dir: &Path) -> TestCluster {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(path) = std::env::var_os("CAPSTAN_E2E_KUBECONFIG") {
        return TestCluster {
            fake: None,
            kubeconfig: PathBuf::from(path),
        };
    }
    let fake = start_fake().await;
    let kubeconfig = fake
        .write_kubeconfig(&dir.join("cluster.kubeconfig"))
        .expect("kubeconfig");
    TestCluster {
        fake: Some(fake),
        kubeconfig,
    }
}

fn settings(repo: &Path, bin: &Path, cache: &Path) -> Option<Settings> {
    let Some(helm) = capstan_testkit::oracle("helm") else {
        eprintln!(
            "skipped: the oracle helm is not installed (/work/shared/tools/install-oracles.sh)"
        );
        return None;
    };
    Some(Settings {
        root: repo.to_path_buf(),
        kubeconfig: None,
        context: None,
        selection: Selection::All,
        keys: capstan_flux::sops::Keys::none(),
        check_machine: true,
        machine: Arc::new(FakeMachine {
            bin: bin.to_path_buf(),
            vars: Vec::new(),
        }),
        helm: capstan_flux::helm::HelmBinary::find(Some(&helm))
            .map(|h| Arc::new(h) as Arc<dyn capstan_flux::helm::HelmRenderer>),
        charts: Arc::new(Charts::new(Some(ChartCache::new(cache)), true)),
        poll: Duration::from_millis(100),
        progress: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_plan_from_nothing_to_green_then_nothing_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).expect("repo");
    copy_tree(&example(), &repo);
    let cluster = test_cluster(dir.path()).await;
    let bin = fake_tools(dir.path(), &cluster.kubeconfig);
    let cache = dir.path().join("charts");
    stand_in_charts(&cache);
    let Some(settings) = settings(&repo, &bin, &cache) else {
        return;
    };
    let api = Arc::new(
        KubeApi::connect(Some(&cluster.kubeconfig), None)
            .await
            .expect("connects"),
    );
    flux_crds(api.as_ref()).await;
    let stand_in = spawn_flux_stand_in(api.clone());

    let report = bootstrap::apply(&settings).await.expect("runs");
    for step in &report.steps {
        assert!(
            matches!(step.outcome, StepRunOutcome::Succeeded { .. }),
            "{step:?}"
        );
    }
    assert_eq!(report.steps.len(), 10, "{report:?}");
    let status = bootstrap::status(&settings).await.expect("status");
    assert!(status.green(), "{status:#?}");

    // Again: every step done, nothing written.
    if let Some(fake) = &cluster.fake {
        fake.side_door().reset_counters();
    }
    let again = bootstrap::apply(&settings).await.expect("runs");
    for step in &again.steps {
        assert!(
            matches!(step.outcome, StepRunOutcome::Skipped { .. }),
            "{step:?}"
        );
    }
    if let Some(fake) = &cluster.fake {
        let counters = fake.side_door().counters();
        assert_eq!(counters.writes(), 0, "{counters:?}");
    }

    // Secret values only in the Secrets.
    let journal = std::fs::read_to_string(repo.join(".capstan/bootstrap-journal.json"))
        .expect("journal file");
    let map = api
        .get(&ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "kube-system".into(),
            name: "capstan-bootstrap-journal".into(),
        })
        .await
        .expect("get")
        .expect("journal ConfigMap");
    let shown = format!("{report:?}{again:?}{status:?}{journal}{map}");
    assert!(!shown.contains(OP_VALUE_MARK), "a secret value leaked");
    let secret = api
        .get(&ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Secret".into(),
            namespace: "onepassword".into(),
            name: "onepassword-connect-token".into(),
        })
        .await
        .expect("get")
        .expect("the Secret");
    let token = secret["data"]["token"].as_str().expect("token");
    assert!(!shown.contains(token), "a secret value leaked (base64)");
    stand_in.abort();
}

/// A plan without talos on a given kubeconfig: a namespace, then a Secret from a SOPS file and
/// the environment. The decrypted values reach the Secret and nothing else; a Secret deleted
/// behind the journal's back is noticed and applied again; `--only` re-runs a done step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sops_and_env_secrets_reach_the_secret_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    let sops = Path::new(env!("CARGO_MANIFEST_DIR")).join("../capstan-flux/tests/fixtures/sops");
    std::fs::create_dir_all(repo.join("secrets")).expect("repo");
    std::fs::copy(
        sops.join("encrypted/secret-all.yaml"),
        repo.join("secrets/app.sops.yaml"),
    )
    .expect("copy");
    std::fs::write(
        repo.join("namespace.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n",
    )
    .expect("write");
    std::fs::write(
        repo.join("bootstrap.yaml"),
        "apiVersion: bootstrap.capstan.dev/v1alpha1\nkind: BootstrapPlan\nmetadata:\n  name: t\nspec:\n  steps:\n    - name: ns\n      manifests:\n        paths: [namespace.yaml]\n    - name: creds\n      needs: [ns]\n      secret:\n        namespace: apps\n        name: creds\n        data:\n          - {key: password, sops: {file: secrets/app.sops.yaml, path: stringData.password}}\n          - {key: token, sops: {file: secrets/app.sops.yaml, path: data.token}}\n          - {key: env, env: CAPSTAN_BOOTSTRAP_TEST_SECRET}\n",
    )
    .expect("write");
    let env_value = "envvalue-Qk7w";
    let cluster = test_cluster(dir.path()).await;
    let keys_text = std::fs::read_to_string(sops.join("keys/test-key.txt")).expect("key");
    let mut settings = Settings {
        root: repo.clone(),
        kubeconfig: Some(cluster.kubeconfig.clone()),
        context: None,
        selection: Selection::All,
        keys: capstan_flux::sops::Keys::parse(&keys_text, "test-key.txt", false).expect("keys"),
        check_machine: true,
        machine: Arc::new(FakeMachine {
            bin: dir.path().join("no-bin"),
            vars: vec![("CAPSTAN_BOOTSTRAP_TEST_SECRET".into(), env_value.into())],
        }),
        helm: None,
        charts: Arc::new(Charts::new(None, true)),
        poll: Duration::from_millis(100),
        progress: None,
    };
    let report = bootstrap::apply(&settings).await.expect("runs");
    assert!(!report.failed(), "{report:?}");
    let api = KubeApi::connect(Some(&cluster.kubeconfig), None)
        .await
        .expect("connects");
    let secret_ref = ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Secret".into(),
        namespace: "apps".into(),
        name: "creds".into(),
    };
    let secret = api.get(&secret_ref).await.expect("get").expect("Secret");
    let decode = |key: &str| {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret["data"][key].as_str().expect("value"))
            .expect("base64");
        String::from_utf8(bytes).expect("utf-8")
    };
    assert_eq!(decode("password"), "s3cr3t: with colon & ampersand");
    assert_eq!(decode("token"), "token-value");
    assert_eq!(decode("env"), env_value);

    // Deleted behind the journal's back: the next run sees it and applies it again.
    api.delete(&secret_ref).await.expect("deleted");
    let again = bootstrap::apply(&settings).await.expect("runs");
    assert!(
        matches!(again.steps[0].outcome, StepRunOutcome::Skipped { .. }),
        "{again:?}"
    );
    assert!(
        matches!(again.steps[1].outcome, StepRunOutcome::Succeeded { .. }),
        "{again:?}"
    );
    assert!(api.get(&secret_ref).await.expect("get").is_some());

    // --only runs a done step again.
    settings.selection = Selection::Only("creds".into());
    let only = bootstrap::apply(&settings).await.expect("runs");
    assert_eq!(only.steps.len(), 1, "{only:?}");
    assert!(matches!(
        only.steps[0].outcome,
        StepRunOutcome::Succeeded { .. }
    ));
    settings.selection = Selection::All;
    let status = bootstrap::status(&settings).await.expect("status");
    assert!(status.green(), "{status:#?}");

    let journal =
        std::fs::read_to_string(repo.join(".capstan/bootstrap-journal.json")).expect("journal");
    let map = api
        .get(&ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "kube-system".into(),
            name: "capstan-bootstrap-journal".into(),
        })
        .await
        .expect("get")
        .expect("journal ConfigMap");
    let shown = format!("{report:?}{again:?}{only:?}{status:?}{journal}{map}");
    for value in ["s3cr3t", "token-value", env_value] {
        assert!(!shown.contains(value), "{value} leaked");
    }
    for key in ["password", "token", "env"] {
        let encoded = secret["data"][key].as_str().expect("value");
        assert!(!shown.contains(encoded), "{key} leaked (base64)");
    }
}

/// The engine step through the Flux Operator: its chart (a repository folder) installed as a
/// Helm release, then the FluxInstance applied and waited for; a second run skips it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_operator_engine_installs_the_chart_then_the_instance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    capstan_testkit::bootstrap::write_chart(&repo.join("charts"), "flux-operator", "0.30.0");
    std::fs::write(
        repo.join("flux-instance.yaml"),
        "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n  namespace: flux-system\nspec:\n  distribution:\n    version: \"2.x\"\n",
    )
    .expect("write");
    std::fs::write(
        repo.join("bootstrap.yaml"),
        "apiVersion: bootstrap.capstan.dev/v1alpha1\nkind: BootstrapPlan\nmetadata:\n  name: t\nspec:\n  steps:\n    - name: flux\n      engine:\n        fluxOperator:\n          instance: flux-instance.yaml\n          chart:\n            release: flux-operator\n            namespace: flux-system\n            chart: charts/flux-operator\n            values: {replicas: 1}\n",
    )
    .expect("write");
    let cluster = test_cluster(dir.path()).await;
    let Some(mut settings) = settings(
        &repo,
        &dir.path().join("no-bin"),
        &dir.path().join("charts"),
    ) else {
        return;
    };
    settings.kubeconfig = Some(cluster.kubeconfig.clone());
    let api = KubeApi::connect(Some(&cluster.kubeconfig), None)
        .await
        .expect("connects");
    let owner = capstan_cluster::normalize::Owner {
        name: "fixtures".into(),
        namespace: "test".into(),
    };
    let crds = Unit::new(
        owner,
        vec![Desired {
            object: crd("fluxcd.controlplane.io", "FluxInstance"),
            file: None,
        }],
    );
    let fixtures = Engine::new(&api, engine_options()).apply(&crds).await;
    assert!(fixtures.errors.is_empty(), "{:?}", fixtures.errors);

    let report = bootstrap::apply(&settings).await.expect("runs");
    assert!(
        matches!(&report.steps[0].outcome, StepRunOutcome::Succeeded { summary } if summary.contains("installed")),
        "{report:?}"
    );
    let instance = ObjectRef {
        group: "fluxcd.controlplane.io".into(),
        version: "v1".into(),
        kind: "FluxInstance".into(),
        namespace: "flux-system".into(),
        name: "flux".into(),
    };
    assert!(api.get(&instance).await.expect("get").is_some());
    let release = ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Secret".into(),
        namespace: "flux-system".into(),
        name: "sh.helm.release.v1.flux-operator.v1".into(),
    };
    assert!(api.get(&release).await.expect("get").is_some());
    let again = bootstrap::apply(&settings).await.expect("runs");
    assert!(
        matches!(again.steps[0].outcome, StepRunOutcome::Skipped { .. }),
        "{again:?}"
    );
    let status = bootstrap::status(&settings).await.expect("status");
    assert!(status.green(), "{status:#?}");
}
