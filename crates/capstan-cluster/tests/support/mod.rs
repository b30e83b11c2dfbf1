//! Shared by the tests that run the engine over HTTPS: a kube-fake server (or a real cluster),
//! the example repository rendered into units, CRD fixtures, and small edits.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan_cluster::drift::{DriftReport, State};
use capstan_cluster::kube_api::KubeApi;
use capstan_cluster::unit::{Desired, Unit};
use capstan_cluster::{Cluster, Engine, ObjectRef, Options};
use capstan_core::OsFs;
use capstan_flux::build::{BuildOptions, build_all};
use serde_json::{Value, json};

pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/home-ops")
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

pub async fn start_fake() -> kube_fake::Handle {
    let options = kube_fake::Options {
        controller_delay: Duration::from_millis(20),
        ..kube_fake::Options::default()
    };
    kube_fake::Server::start(options)
        .await
        .expect("kube-fake starts")
}

pub async fn connect(server: &kube_fake::Handle, dir: &Path) -> KubeApi {
    let path = server
        .write_kubeconfig(&dir.join(".kubeconfig"))
        .expect("kubeconfig");
    KubeApi::connect(Some(&path), None).await.expect("connects")
}

pub fn engine_options() -> Options {
    Options {
        poll: Duration::from_millis(50),
        stage_timeout: Duration::from_secs(20),
        timeout: Some(Duration::from_secs(30)),
        ..Options::default()
    }
}

/// The repository's Kustomizations as units (HelmReleases are objects, not rendered).
pub fn render(repo: &Path) -> Vec<Unit> {
    let options = BuildOptions {
        render_helm_releases: false,
        ..BuildOptions::default()
    };
    let report = build_all(&OsFs, repo, &options).expect("builds");
    let units = capstan_cluster::from_build(&report);
    for u in &units {
        assert!(u.errors.is_empty(), "{}: {:?}", u.owner.name, u.errors);
    }
    units
}

fn builtin(group: &str) -> bool {
    group.is_empty()
        || group.ends_with(".k8s.io") && !group.starts_with("snapshot")
        || ["apps", "batch", "policy", "autoscaling"].contains(&group)
}

fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// CRDs for every custom kind the units apply (namespaced when the objects carry a namespace),
/// accepting any fields: what Flux's and the charts' CRDs would provide.
pub fn crd_fixtures(units: &[Unit]) -> Vec<Value> {
    let mut kinds = BTreeSet::new();
    for u in units {
        for d in &u.objects {
            if let Some(r) = ObjectRef::of(&d.object)
                && !builtin(&r.group)
            {
                kinds.insert((r.group, r.version, r.kind, !r.namespace.is_empty()));
            }
        }
    }
    kinds.insert((
        "kustomize.toolkit.fluxcd.io".into(),
        "v1".into(),
        "Kustomization".into(),
        true,
    ));
    kinds
        .into_iter()
        .map(|(group, version, kind, namespaced)| {
            let plural = plural(&kind);
            json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
                "metadata":{"name": format!("{plural}.{group}")},
                "spec":{"group": group, "scope": if namespaced {"Namespaced"} else {"Cluster"},
                    "names":{"kind": kind, "plural": plural, "singular": kind.to_ascii_lowercase(), "listKind": format!("{kind}List")},
                    "versions":[{"name": version, "served": true, "storage": true,
                        "subresources": {"status": {}},
                        "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields": true}}}]}})
        })
        .collect()
}

/// Applies the CRD fixtures and waits until they are served.
pub async fn install_fixtures<C: Cluster>(cluster: &C, units: &[Unit]) {
    let fixtures = crd_fixtures(units);
    let owner = capstan_cluster::normalize::Owner {
        name: "fixtures".into(),
        namespace: "test".into(),
    };
    let unit = Unit::new(
        owner,
        fixtures
            .into_iter()
            .map(|object| Desired { object, file: None })
            .collect(),
    );
    let report = Engine::new(cluster, engine_options()).apply(&unit).await;
    assert!(report.errors.is_empty(), "fixtures: {:?}", report.errors);
}

/// An edit by another field manager, as `kubectl edit` makes it.
pub async fn edit_replicas(cluster: &KubeApi, r: &ObjectRef, replicas: i64) {
    use kube::api::{Api, Patch, PatchParams};
    use kube::discovery::ApiResource;
    let ar = ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        &r.group, &r.version, &r.kind,
    ));
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(cluster.client().clone(), &r.namespace, &ar);
    let params = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    api.patch(
        &r.name,
        &params,
        &Patch::Merge(json!({"spec": {"replicas": replicas}})),
    )
    .await
    .expect("edited");
}

/// Writes `drift -o patch`'s edits into the repository.
pub fn apply_patch(repo: &Path, report: &DriftReport) {
    for o in report.objects() {
        if let (State::Drifted { fields }, Some(file)) = (&o.state, &o.file) {
            let path = repo.join(file);
            let text = std::fs::read_to_string(&path).expect("read");
            let aligned = capstan_cluster::align::align(
                &file.display().to_string(),
                &text,
                &o.object,
                fields,
            )
            .expect("aligned");
            assert!(aligned.skipped.is_empty(), "{:?}", aligned.skipped);
            std::fs::write(&path, aligned.text).expect("write");
        }
    }
}

/// Drops the first YAML document of a file (an app's Flux Kustomization).
pub fn remove_first_document(path: &Path) {
    let text = std::fs::read_to_string(path).expect("read");
    let parts: Vec<&str> = text.split("\n---\n").collect();
    let rest = parts[2..].join("\n---\n");
    std::fs::write(path, format!("{}\n---\n{rest}", parts[0])).expect("write");
}

/// `Kind namespace/name` of every live object of the kinds the units apply (plus PVCs, Pods,
/// inventories).
pub async fn live_names<C: Cluster>(cluster: &C, units: &[Unit]) -> Vec<String> {
    let mut kinds = BTreeSet::new();
    for u in units {
        for d in &u.objects {
            if let Some(r) = ObjectRef::of(&d.object) {
                kinds.insert((r.group, r.version, r.kind));
            }
        }
    }
    kinds.insert((String::new(), "v1".into(), "ConfigMap".into()));
    kinds.insert((String::new(), "v1".into(), "PersistentVolumeClaim".into()));
    let mut out = Vec::new();
    for (group, version, kind) in kinds {
        for item in cluster
            .list(&group, &version, &kind)
            .await
            .unwrap_or_default()
        {
            let ns = item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            out.push(format!("{kind} {ns}/{name}"));
        }
    }
    out.sort();
    out
}

/// A cluster whose n-th request (1-based, counted from `arm`) fails with a 500, as a dropped
/// connection or an overloaded server would.
pub struct FailNth<'a, C> {
    pub inner: &'a C,
    pub count: std::sync::atomic::AtomicU64,
    pub fail_at: std::sync::atomic::AtomicU64,
}

impl<'a, C: Cluster> FailNth<'a, C> {
    pub fn new(inner: &'a C) -> Self {
        FailNth {
            inner,
            count: 0.into(),
            fail_at: 0.into(),
        }
    }

    pub fn arm(&self, n: u64) {
        self.count.store(0, std::sync::atomic::Ordering::SeqCst);
        self.fail_at.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn requests(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn tick(&self, what: &str) -> Result<(), capstan_cluster::ClusterError> {
        let n = self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if n == self.fail_at.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(capstan_cluster::ClusterError::new(
                capstan_cluster::cluster::Verb::Get,
                what,
                capstan_cluster::cluster::Reason::Unavailable,
                "injected fault",
            ));
        }
        Ok(())
    }
}

impl<C: Cluster> Cluster for FailNth<'_, C> {
    async fn scope(&self, r: &ObjectRef) -> Result<Option<bool>, capstan_cluster::ClusterError> {
        self.inner.scope(r).await
    }
    async fn refresh(&self) -> Result<(), capstan_cluster::ClusterError> {
        self.tick("discovery")?;
        self.inner.refresh().await
    }
    async fn list(
        &self,
        g: &str,
        v: &str,
        k: &str,
    ) -> Result<Vec<Value>, capstan_cluster::ClusterError> {
        self.tick(k)?;
        self.inner.list(g, v, k).await
    }
    async fn get(&self, r: &ObjectRef) -> Result<Option<Value>, capstan_cluster::ClusterError> {
        self.tick(&r.to_string())?;
        self.inner.get(r).await
    }
    async fn apply(
        &self,
        o: &Value,
        dry_run: bool,
    ) -> Result<Value, capstan_cluster::ClusterError> {
        self.tick("apply")?;
        self.inner.apply(o, dry_run).await
    }
    async fn patch_json(
        &self,
        r: &ObjectRef,
        p: &Value,
    ) -> Result<Value, capstan_cluster::ClusterError> {
        self.tick(&r.to_string())?;
        self.inner.patch_json(r, p).await
    }
    async fn apply_as(
        &self,
        o: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, capstan_cluster::ClusterError> {
        self.tick("apply")?;
        self.inner.apply_as(o, manager, force).await
    }
    async fn create(&self, o: &Value) -> Result<Value, capstan_cluster::ClusterError> {
        self.tick("create")?;
        self.inner.create(o).await
    }
    async fn delete(&self, r: &ObjectRef) -> Result<bool, capstan_cluster::ClusterError> {
        self.tick(&r.to_string())?;
        self.inner.delete(r).await
    }
}

/// Stands in for helm-controller: health-check targets no Kustomization renders (a chart's
/// Deployment or DaemonSet) are created, ready, once their namespace exists.
pub fn spawn_chart_stand_in(
    door: kube_fake::SideDoor,
    units: &[Unit],
) -> tokio::task::JoinHandle<()> {
    let rendered: BTreeSet<(String, String, String)> = units
        .iter()
        .flat_map(|u| &u.objects)
        .filter_map(|d| ObjectRef::of(&d.object))
        .map(|r| (r.kind, r.namespace, r.name))
        .collect();
    let targets: Vec<ObjectRef> = units
        .iter()
        .flat_map(|u| u.health_checks.clone())
        .filter(|r| {
            r.group == "apps"
                && !rendered.contains(&(r.kind.clone(), r.namespace.clone(), r.name.clone()))
        })
        .collect();
    tokio::spawn(async move {
        loop {
            for r in &targets {
                let ns = kube_fake::ObjectRef::new("v1", "Namespace", "", &r.namespace);
                let me =
                    kube_fake::ObjectRef::new(&r.api_version(), &r.kind, &r.namespace, &r.name);
                if door.get(&ns).is_none() || door.get(&me).is_some() {
                    continue;
                }
                let labels = json!({"app": r.name});
                let object = json!({"apiVersion": r.api_version(), "kind": r.kind,
                    "metadata": {"name": r.name, "namespace": r.namespace},
                    "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "chart:1"}]}}}});
                if let Ok(created) = door.put(object) {
                    let generation = created
                        .pointer("/metadata/generation")
                        .cloned()
                        .unwrap_or(json!(1));
                    let status = if r.kind == "DaemonSet" {
                        json!({"observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                            "updatedNumberScheduled": 1, "numberAvailable": 1, "numberReady": 1})
                    } else {
                        json!({"observedGeneration": generation, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                            "availableReplicas": 1, "conditions": [{"type": "Available", "status": "True"},
                            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]})
                    };
                    let _ = door.write_status(&me, status);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// The home-ops scenario on any cluster: cold apply in waves to Ready, a second run with no
/// write request (`writes` counts them), a kubectl-style edit found by drift and aligned into the
/// repository, an app removed and pruned exactly (its Namespace and PVC kept).
pub async fn home_ops_scenario(
    cluster: &KubeApi,
    repo: &Path,
    units: Vec<Unit>,
    writes: &dyn Fn() -> u64,
) {
    use capstan_cluster::engine::Outcome;
    struct Repo<'a>(&'a Path);
    impl Repo<'_> {
        fn path(&self) -> &Path {
            self.0
        }
    }
    let repo = Repo(repo);
    // Cold apply: every wave Ready.
    let reports = Engine::new(cluster, engine_options())
        .apply_all(&units)
        .await;
    for r in &reports {
        assert_eq!(
            r.outcome,
            Outcome::Ready,
            "{}/{}: {:?} {:?}",
            r.owner.namespace,
            r.owner.name,
            r.errors,
            r.objects
                .iter()
                .filter(|o| o.error.is_some())
                .collect::<Vec<_>>()
        );
    }

    // Second run: no write request at all.
    let writes_before = writes();
    let reports = Engine::new(cluster, engine_options())
        .apply_all(&units)
        .await;
    assert!(reports.iter().all(|r| r.outcome == Outcome::Ready));
    assert_eq!(
        writes() - writes_before,
        0,
        "a steady-state run made write requests"
    );

    // A kubectl-style edit shows in drift; drift -o patch's edit makes drift clean.
    let deploy = capstan_cluster::ObjectRef {
        group: "apps".into(),
        version: "v1".into(),
        kind: "Deployment".into(),
        namespace: "whoami".into(),
        name: "whoami".into(),
    };
    edit_replicas(cluster, &deploy, 3).await;
    let report = Engine::new(cluster, engine_options()).drift(&units).await;
    assert!(report.has_drift(), "edit not seen");
    let drifted: Vec<_> = report
        .objects()
        .filter(|o| matches!(o.state, capstan_cluster::drift::State::Drifted { .. }))
        .collect();
    assert_eq!(drifted.len(), 1, "{drifted:?}");
    apply_patch(repo.path(), &report);
    let units_after = render(repo.path());
    let report = Engine::new(cluster, engine_options())
        .drift(&units_after)
        .await;
    assert!(
        !report.has_drift(),
        "after aligning the repository: {:?}",
        report
            .objects()
            .filter(|o| !matches!(
                o.state,
                capstan_cluster::drift::State::InSync
                    | capstan_cluster::drift::State::Skipped { .. }
            ))
            .collect::<Vec<_>>()
    );

    // Remove an app from the repository: exactly its objects go; Namespace and PVC stay.
    let app = units
        .iter()
        .find(|u| u.owner.name == "apps-home-automation")
        .expect("the app");
    let mut expected: Vec<String> = app
        .objects
        .iter()
        .filter_map(|d| capstan_cluster::ObjectRef::of(&d.object))
        .filter(|r| r.kind != "Namespace" && r.kind != "PersistentVolumeClaim")
        .map(|r| format!("{} {}/{}", r.kind, r.namespace, r.name))
        .collect();
    expected.push("Kustomization flux-system/apps-home-automation".into());
    expected.push("ConfigMap capstan-system/inventory.flux-system.apps-home-automation".into());
    expected.sort();
    remove_first_document(
        &repo
            .path()
            .join("clusters/home-ops/infrastructure/apps.yaml"),
    );
    let before = live_names(cluster, &units).await;
    let units_removed = render(repo.path());
    let options = capstan_cluster::Options {
        prune: true,
        prune_orphans: true,
        ..engine_options()
    };
    let reports = Engine::new(cluster, options)
        .apply_all(&units_removed)
        .await;
    for r in &reports {
        assert_eq!(
            r.outcome,
            Outcome::Ready,
            "{}: {:?}",
            r.owner.name,
            r.errors
        );
    }
    let after = live_names(cluster, &units).await;
    let gone: Vec<String> = before
        .iter()
        .filter(|n| !after.contains(n))
        .cloned()
        .collect();
    let kept: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.kept
                .iter()
                .map(|k| format!("{} {:?}", k.object, k.reason))
        })
        .collect();
    assert_eq!(gone, expected, "kept: {kept:?}");
    assert!(after.contains(&"Namespace /home-automation".to_owned()));
    assert!(
        after
            .iter()
            .any(|n| n.starts_with("PersistentVolumeClaim home-automation/"))
    );
}
