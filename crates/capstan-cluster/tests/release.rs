//! The release engine against kube-fake over HTTPS, read and driven by the real helm 4 CLI
//! (`capstan_testkit::oracle("helm")`; skipped with a message when it is absent, unless CI
//! requires it): capstan installs and upgrades `tests/data/release/webapp` (hooks included) and
//! `helm list/get values/history/rollback` agree; capstan upgrades a release `helm install`
//! made; an unchanged run writes nothing; `maxHistory` trims; a failing hook Job fails the
//! release with a typed error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use capstan_cluster::Cluster;
use capstan_cluster::kube_api::KubeApi;
use capstan_cluster::release::hooks::{HookError, HookEvent};
use capstan_cluster::release::{
    Failure, InstallRequest, ReleaseAction, ReleaseError, RollbackRequest, Status,
    UninstallRequest, current, list_history, rollback, uninstall, upgrade_install,
};
use capstan_core::{Map, OsFs, Value};
use capstan_flux::helm::{HelmBinary, TemplateFlags};
use serde_json::json;

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/release/webapp")
}

struct Fixture {
    server: kube_fake::Handle,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    cluster: KubeApi,
    helm: PathBuf,
}

impl Fixture {
    async fn new() -> Option<Fixture> {
        let helm = capstan_testkit::oracle("helm")?;
        let options = kube_fake::Options {
            controller_delay: Duration::from_millis(20),
            ..kube_fake::Options::default()
        };
        let server = kube_fake::Server::start(options)
            .await
            .expect("kube-fake starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("kubeconfig");
        let cluster = KubeApi::connect(Some(&kubeconfig), None)
            .await
            .expect("connects");
        cluster
            .apply(
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
                false,
            )
            .await
            .expect("namespace");
        Some(Fixture {
            server,
            dir,
            kubeconfig,
            cluster,
            helm,
        })
    }

    fn renderer(&self) -> HelmBinary {
        HelmBinary {
            command: self.helm.clone(),
            flags: TemplateFlags::default(),
        }
    }

    /// Runs the helm CLI (off the runtime's threads: kube-fake serves it in this process).
    async fn helm(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new(&self.helm);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .env("HELM_CACHE_HOME", self.dir.path().join("helm-cache"))
            .env("HELM_CONFIG_HOME", self.dir.path().join("helm-config"))
            .env("HELM_DATA_HOME", self.dir.path().join("helm-data"));
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("joins")
            .expect("helm runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "helm {args:?}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    async fn helm_ok(&self, args: &[&str]) -> String {
        self.helm(args).await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn helm_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let text = self.helm_ok(&all).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    async fn install(
        &self,
        values: &Map,
    ) -> Result<capstan_cluster::release::ReleaseOutcome, ReleaseError> {
        self.install_with(values, None).await
    }

    async fn install_with(
        &self,
        values: &Map,
        max_history: Option<i64>,
    ) -> Result<capstan_cluster::release::ReleaseOutcome, ReleaseError> {
        let chart = chart();
        let req = InstallRequest {
            release: "web",
            namespace: "apps",
            storage_namespace: "apps",
            chart_dir: &chart,
            fs: &OsFs,
            values,
            max_history,
            wait: true,
            timeout: Duration::from_secs(30),
        };
        upgrade_install(&self.cluster, &self.renderer(), &req).await
    }

    fn object(&self, kind: &str, name: &str) -> Option<Value> {
        let api_version = match kind {
            "Deployment" => "apps/v1",
            "Job" => "batch/v1",
            _ => "v1",
        };
        self.server
            .side_door()
            .get(&kube_fake::ObjectRef::new(api_version, kind, "apps", name))
    }

    /// (version, status) of every stored version, from the Secrets' labels.
    fn secrets(&self) -> Vec<(u32, String)> {
        let mut out: Vec<(u32, String)> = (1..=20)
            .filter_map(|v| {
                let s = self.object("Secret", &format!("sh.helm.release.v1.web.v{v}"))?;
                Some((v, s["metadata"]["labels"]["status"].as_str()?.to_owned()))
            })
            .collect();
        out.sort();
        out
    }
}

fn values(v: Value) -> Map {
    v.as_object().cloned().unwrap_or_default()
}

/// `helm history` as (revision, status, description).
async fn helm_history(f: &Fixture) -> Vec<(i64, String, String)> {
    let h = f.helm_json(&["history", "web", "-n", "apps"]).await;
    h.as_array()
        .expect("history list")
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().expect("revision"),
                r["status"].as_str().unwrap_or("").to_owned(),
                r["description"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capstan_installs_and_upgrades_and_helm_reads_and_rolls_back() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let v1 = values(json!({"greeting": "hi <there> & all", "extra": true}));
    let out = f.install(&v1).await.expect("installs");
    assert_eq!(out.action, ReleaseAction::Installed);
    assert_eq!((out.version, out.status), (1, Status::Deployed));
    assert_eq!(
        (out.chart.as_str(), out.chart_version.as_str()),
        ("webapp", "0.1.0")
    );

    // Storage as Helm writes it.
    let secret = f
        .object("Secret", "sh.helm.release.v1.web.v1")
        .expect("v1 stored");
    assert_eq!(secret["type"], "helm.sh/release.v1");
    let labels = &secret["metadata"]["labels"];
    assert_eq!(
        (
            &labels["name"],
            &labels["owner"],
            &labels["status"],
            &labels["version"]
        ),
        (
            &json!("web"),
            &json!("helm"),
            &json!("deployed"),
            &json!("1")
        )
    );
    assert!(labels["modifiedAt"].is_string(), "{labels}");
    // Objects: rendered as an install, applied by the field manager helm, owned by the release.
    let cm = f.object("ConfigMap", "web-config").expect("configmap");
    assert_eq!(cm["data"]["isInstall"], "true");
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "Helm"
    );
    assert_eq!(
        cm["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "web"
    );
    let managers: Vec<&str> = cm["metadata"]["managedFields"]
        .as_array()
        .expect("managed fields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["helm"]);
    // The chart's CRD was created before its custom resource was applied.
    let widget = f
        .server
        .side_door()
        .get(&kube_fake::ObjectRef::new(
            "example.com/v1",
            "Widget",
            "apps",
            "web",
        ))
        .expect("the custom resource");
    assert_eq!(widget["spec"]["size"], 1);
    // Hooks: the Job ran and stays (before-hook-creation); the post hook was deleted.
    assert!(f.object("Job", "web-migrate").is_some(), "the hook Job");
    assert!(
        f.object("ConfigMap", "web-post").is_none(),
        "hook-succeeded deletes it"
    );

    // The stored release is the one `helm install` would store, but for times, status and the
    // hooks' runs.
    let ours = list_history(&f.cluster, "web", "apps")
        .await
        .expect("reads")[0]
        .json()
        .clone();
    let values_file = f.dir.path().join("v1.json");
    std::fs::write(&values_file, Value::Object(v1.clone()).to_string()).expect("values");
    let chart_dir = chart().to_string_lossy().into_owned();
    let theirs = f
        .helm_json(&[
            "install",
            "web",
            &chart_dir,
            "-n",
            "apps",
            "--dry-run=client",
            "--values",
            &values_file.to_string_lossy(),
        ])
        .await;
    for field in [
        "name",
        "namespace",
        "version",
        "config",
        "manifest",
        "apply_method",
    ] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
    assert_eq!(ours["info"]["notes"], theirs["info"]["notes"]);
    assert_eq!(
        ours["info"]["notes"], "web says hi <there> & all.\n",
        "rendered with the values"
    );
    for field in ["metadata", "lock", "values", "schema"] {
        assert_eq!(
            ours["chart"][field], theirs["chart"][field],
            "chart.{field}"
        );
    }
    let strip = |v: &Value, keep: &[&str]| -> Vec<Value> {
        v.as_array()
            .expect("a list")
            .iter()
            .map(|t| {
                Value::Object(
                    keep.iter()
                        .map(|k| ((*k).to_owned(), t[*k].clone()))
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(
        strip(&ours["chart"]["templates"], &["name", "data"]),
        strip(&theirs["chart"]["templates"], &["name", "data"])
    );
    assert_eq!(
        strip(&ours["chart"]["files"], &["name", "data"]),
        strip(&theirs["chart"]["files"], &["name", "data"])
    );
    let hook_fields = ["name", "kind", "path", "manifest", "events", "weight"];
    assert_eq!(
        strip(&ours["hooks"], &hook_fields),
        strip(&theirs["hooks"], &hook_fields)
    );
    assert_eq!(ours["hooks"][0]["last_run"]["phase"], "Succeeded");

    let list = f.helm_json(&["list", "-n", "apps"]).await;
    assert_eq!(list[0]["name"], "web", "{list}");
    assert_eq!(list[0]["revision"], "1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "webapp-0.1.0");
    assert_eq!(list[0]["app_version"], "1.0");
    let got = f.helm_json(&["get", "values", "web", "-n", "apps"]).await;
    assert_eq!(got, Value::Object(v1.clone()));
    let notes = f.helm_ok(&["get", "notes", "web", "-n", "apps"]).await;
    assert!(notes.contains("web says hi <there> & all."), "{notes}");

    // Upgrade: `extra` is no longer rendered, so it is deleted.
    let v2 = values(json!({"greeting": "hey"}));
    let out = f.install(&v2).await.expect("upgrades");
    assert_eq!(out.action, ReleaseAction::Upgraded { from: 1 });
    assert_eq!(out.version, 2);
    assert_eq!(
        out.deleted
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["web-extra"]
    );
    assert!(out.kept.is_empty());
    assert!(f.object("ConfigMap", "web-extra").is_none());
    let cm = f.object("ConfigMap", "web-config").expect("configmap");
    assert_eq!(
        (&cm["data"]["isUpgrade"], &cm["data"]["greeting"]),
        (&json!("true"), &json!("hey"))
    );
    assert_eq!(
        f.secrets(),
        [(1, "superseded".to_owned()), (2, "deployed".to_owned())]
    );
    let h = helm_history(&f).await;
    assert_eq!(
        h.iter()
            .map(|(r, s, _)| (*r, s.as_str()))
            .collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed")]
    );
    assert_eq!(h[0].2, "Install complete");
    assert_eq!(h[1].2, "Upgrade complete");

    // The same inputs again: unchanged, and not one write.
    let door = f.server.side_door();
    door.reset_counters();
    let out = f.install(&v2).await.expect("unchanged");
    assert_eq!(out.action, ReleaseAction::Unchanged);
    assert_eq!(out.version, 2);
    let counters = door.counters();
    assert_eq!(counters.writes(), 0, "{counters:?}");

    // helm rolls capstan's release back, and capstan upgrades cleanly after it.
    f.helm_ok(&[
        "rollback",
        "web",
        "1",
        "-n",
        "apps",
        "--wait",
        "--timeout",
        "30s",
    ])
    .await;
    let h = helm_history(&f).await;
    assert_eq!(
        h.iter()
            .map(|(r, s, _)| (*r, s.as_str()))
            .collect::<Vec<_>>(),
        [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    );
    assert_eq!(h[2].2, "Rollback to 1");
    let got = f.helm_json(&["get", "values", "web", "-n", "apps"]).await;
    assert_eq!(got, Value::Object(v1.clone()));
    assert!(
        f.object("ConfigMap", "web-extra").is_some(),
        "rollback re-created it"
    );
    let deployed = current(&f.cluster, "web", "apps")
        .await
        .expect("reads")
        .expect("deployed");
    assert_eq!(deployed.version(), 3);

    let v4 = values(json!({"greeting": "again", "replicas": 2, "kept": true}));
    let out = f
        .install(&v4)
        .await
        .expect("upgrades after helm's rollback");
    assert_eq!(out.action, ReleaseAction::Upgraded { from: 3 });
    assert_eq!(out.version, 4);
    let h = helm_history(&f).await;
    assert_eq!(
        h.iter()
            .map(|(r, s, _)| (*r, s.as_str()))
            .collect::<Vec<_>>(),
        [
            (1, "superseded"),
            (2, "superseded"),
            (3, "superseded"),
            (4, "deployed")
        ]
    );
    let deploy = f.object("Deployment", "web").expect("deployment");
    assert_eq!(deploy["spec"]["replicas"], 2);

    // capstan's own rollback, which helm reads too.
    let out = rollback(
        &f.cluster,
        &RollbackRequest {
            release: "web",
            storage_namespace: "apps",
            to: Some(2),
            max_history: Some(0),
            wait: true,
            timeout: Duration::from_secs(30),
        },
    )
    .await
    .expect("rolls back");
    assert_eq!(out.action, ReleaseAction::RolledBack { to: 2 });
    assert_eq!(out.version, 5);
    // Version 2 has no `web-kept`; its resource policy keeps it.
    assert_eq!(
        out.kept.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["web-kept"]
    );
    assert!(f.object("ConfigMap", "web-kept").is_some());
    assert_eq!(
        f.object("Deployment", "web").expect("deployment")["spec"]["replicas"],
        1
    );
    let h = helm_history(&f).await;
    assert_eq!(
        h.last().map(|(r, s, d)| (*r, s.as_str(), d.as_str())),
        Some((5, "deployed", "Rollback to 2"))
    );
    let got = f.helm_json(&["get", "values", "web", "-n", "apps"]).await;
    assert_eq!(got, Value::Object(v2.clone()));
    // And helm upgrades what capstan last wrote.
    let chart = chart().to_string_lossy().into_owned();
    f.helm_ok(&[
        "upgrade",
        "web",
        &chart,
        "-n",
        "apps",
        "--set",
        "greeting=helm",
    ])
    .await;
    let list = f.helm_json(&["list", "-n", "apps"]).await;
    assert_eq!(list[0]["revision"], "6", "{list}");

    // Uninstall removes the objects (the kept one stays) and the history.
    let gone = uninstall(
        &f.cluster,
        &UninstallRequest {
            release: "web",
            storage_namespace: "apps",
            keep_history: false,
            timeout: Duration::from_secs(30),
        },
    )
    .await
    .expect("uninstalls");
    assert!(gone.deleted.iter().any(|r| r.name == "web-config"));
    assert!(f.object("ConfigMap", "web-config").is_none());
    assert!(f.object("ConfigMap", "web-kept").is_some());
    assert!(f.secrets().is_empty());
    assert!(
        list_history(&f.cluster, "web", "apps")
            .await
            .expect("reads")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capstan_upgrades_a_release_helm_installed() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let chart = chart().to_string_lossy().into_owned();
    f.helm_ok(&[
        "install",
        "web",
        &chart,
        "-n",
        "apps",
        "--set",
        "greeting=from-helm",
        "--wait",
        "--timeout",
        "30s",
    ])
    .await;
    let out = f
        .install(&values(json!({"greeting": "from-capstan"})))
        .await
        .expect("upgrades helm's release");
    assert_eq!(out.action, ReleaseAction::Upgraded { from: 1 });
    assert_eq!(out.version, 2);
    let h = helm_history(&f).await;
    assert_eq!(
        h.iter()
            .map(|(r, s, _)| (*r, s.as_str()))
            .collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed")]
    );
    let cm = f.object("ConfigMap", "web-config").expect("configmap");
    assert_eq!(cm["data"]["greeting"], "from-capstan");
    let managers: Vec<&str> = cm["metadata"]["managedFields"]
        .as_array()
        .expect("managed fields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["helm"], "one manager, no conflict");
    let got = f.helm_json(&["get", "values", "web", "-n", "apps"]).await;
    assert_eq!(got, json!({"greeting": "from-capstan"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_history_trims_the_oldest_versions() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    for (i, greeting) in ["a", "b", "c", "d"].into_iter().enumerate() {
        let out = f
            .install_with(&values(json!({"greeting": greeting})), Some(2))
            .await
            .expect("installs or upgrades");
        assert_eq!(out.version as usize, i + 1);
    }
    assert_eq!(
        f.secrets(),
        [(3, "superseded".to_owned()), (4, "deployed".to_owned())]
    );
    let h = helm_history(&f).await;
    assert_eq!(h.iter().map(|(r, _, _)| *r).collect::<Vec<_>>(), [3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_job_fails_the_release() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    f.install(&values(json!({}))).await.expect("installs");
    f.server.side_door().set_override(
        &kube_fake::ObjectRef::new("batch/v1", "Job", "apps", "web-migrate"),
        kube_fake::Override {
            fail: true,
            ..Default::default()
        },
    );
    let err = f
        .install(&values(json!({"greeting": "broken"})))
        .await
        .expect_err("the hook fails");
    let ReleaseError::Failed {
        version: 2,
        failure,
        ..
    } = &err
    else {
        panic!("unexpected: {err:?}");
    };
    match failure.as_ref() {
        Failure::Hook(HookError::Failed { event, name, .. }) => {
            assert_eq!(*event, HookEvent::PreUpgrade);
            assert_eq!(name, "web-migrate");
        }
        other => panic!("unexpected: {other:?}"),
    }
    assert_eq!(
        f.secrets(),
        [(1, "deployed".to_owned()), (2, "failed".to_owned())]
    );
    let h = helm_history(&f).await;
    assert_eq!(h[1].1, "failed");
    assert!(
        h[1].2
            .starts_with("Upgrade \"web\" failed: pre-upgrade hooks failed"),
        "{}",
        h[1].2
    );
    // The objects were not touched by the failed upgrade.
    let cm = f.object("ConfigMap", "web-config").expect("configmap");
    assert_eq!(cm["data"]["greeting"], "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_cannot_be_recorded_says_so() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    f.install(&values(json!({}))).await.expect("installs");
    let door = f.server.side_door();
    door.set_override(
        &kube_fake::ObjectRef::new("batch/v1", "Job", "apps", "web-migrate"),
        kube_fake::Override {
            fail: true,
            ..Default::default()
        },
    );
    // Version 2 is created pending; writing its failure (a patch) is refused.
    door.inject(kube_fake::Fault {
        verb: Some("patch".into()),
        path: Some("sh.helm.release.v1.web.v2".into()),
        skip: None,
        count: None,
        action: kube_fake::FaultAction::Error {
            code: 500,
            message: "etcd unavailable".into(),
        },
    });
    let err = f
        .install(&values(json!({"greeting": "broken"})))
        .await
        .expect_err("the hook fails");
    let ReleaseError::Failed {
        version: 2,
        unrecorded: Some(_),
        ..
    } = &err
    else {
        panic!("unexpected: {err:?}");
    };
    let text = err.to_string();
    assert!(
        text.contains("pre-upgrade") && text.contains("could not be updated"),
        "{text}"
    );
    door.clear_faults();
    // What the record shows is what it says: still pending, as the message warned.
    assert_eq!(
        f.secrets(),
        [
            (1, "deployed".to_owned()),
            (2, "pending-upgrade".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_helm_does_not_own_is_not_adopted() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    f.cluster
        .apply(
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "web-config", "namespace": "apps"}, "data": {"a": "1"}}),
            false,
        )
        .await
        .expect("someone else's object");
    let door = f.server.side_door();
    door.reset_counters();
    let err = f.install(&values(json!({}))).await.expect_err("refused");
    match &err {
        ReleaseError::Ownership { object, reason, .. } => {
            assert_eq!(object, "ConfigMap/apps/web-config");
            assert!(reason.contains("app.kubernetes.io/managed-by"), "{reason}");
        }
        other => panic!("unexpected: {other:?}"),
    }
    assert_eq!(door.counters().writes(), 0, "nothing is half-applied");
    assert!(f.secrets().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_install_is_upgraded_over_as_helm_does() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let job = kube_fake::ObjectRef::new("batch/v1", "Job", "apps", "web-migrate");
    let door = f.server.side_door();
    door.set_override(
        &job,
        kube_fake::Override {
            fail: true,
            ..Default::default()
        },
    );
    let err = f
        .install(&values(json!({})))
        .await
        .expect_err("the hook fails");
    assert!(
        matches!(&err, ReleaseError::Failed { version: 1, .. }),
        "{err:?}"
    );
    let h = helm_history(&f).await;
    assert_eq!(h[0].1, "failed");
    assert!(
        h[0].2
            .starts_with("Release \"web\" failed: failed pre-install"),
        "{}",
        h[0].2
    );
    assert!(
        f.object("ConfigMap", "web-config").is_none(),
        "nothing applied"
    );
    door.set_override(&job, kube_fake::Override::default());
    let out = f.install(&values(json!({}))).await.expect("upgrades");
    assert_eq!(out.action, ReleaseAction::Upgraded { from: 1 });
    let h = helm_history(&f).await;
    assert_eq!(
        h.iter()
            .map(|(r, s, _)| (*r, s.as_str()))
            .collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed")]
    );
    assert!(f.object("ConfigMap", "web-config").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_object_is_put_back_by_a_new_version() {
    let Some(f) = Fixture::new().await else {
        return;
    };
    let v = values(json!({"greeting": "same"}));
    f.install(&v).await.expect("installs");
    let cm = capstan_cluster::ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: "apps".into(),
        name: "web-config".into(),
    };
    assert!(f.cluster.delete(&cm).await.expect("deletes"));
    let out = f.install(&v).await.expect("upgrades");
    assert_eq!(out.action, ReleaseAction::Upgraded { from: 1 });
    assert!(f.object("ConfigMap", "web-config").is_some(), "put back");
    let out = f.install(&v).await.expect("unchanged now");
    assert_eq!(out.action, ReleaseAction::Unchanged);
}
