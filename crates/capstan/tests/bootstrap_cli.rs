//! `capstan bootstrap apply` and `status` as a user runs them, on `examples/home-ops`: the real
//! binary against kube-fake, with a fake `talosctl`/`talhelper`/`op` first on its PATH, the
//! example's charts as stand-ins in a chart cache, the oracle helm rendering them, and a
//! stand-in for Flux's controllers (kustomize-controller's Deployment, the flux-system
//! Kustomization reporting Ready).
//!
//! - from nothing to every gate green, then a second apply that skips every step and makes no
//!   write request (kube-fake's counters);
//! - killed at the start and at the end of each step in turn (SIGKILL to the child, held at the
//!   step boundary by `CAPSTAN_BOOTSTRAP_TEST_PAUSE`), each re-run resumes, and the cluster ends
//!   as an uninterrupted run leaves it;
//! - killed inside cilium's Helm release (its objects applied, the release stored
//!   `pending-install`), the re-run unlocks that release as helm-controller does and finishes;
//! - `op`'s values appear in no output, journal or journal ConfigMap.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use capstan_flux::charts::ChartCache;
use capstan_testkit::bootstrap::{OP_VALUE_MARK, chart_archive, fake_tools};
use serde_json::{Value, json};

const STEPS: [&str; 10] = [
    "talos",
    "cilium",
    "onepassword-namespace",
    "onepassword-credentials",
    "onepassword-connect-token",
    "external-secrets",
    "onepassword-connect",
    "flux",
    "flux-git-credentials",
    "gitops-ready",
];

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/home-ops")
}

/// A kube-fake cluster, a copy of the example, the fake tools and the chart cache.
struct Setup {
    server: kube_fake::Handle,
    dir: tempfile::TempDir,
    helm: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Setup {
    fn new() -> Option<Setup> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let Some(helm) = capstan_testkit::oracle("helm") else {
            eprintln!(
                "skipped: the oracle helm is not installed (/work/shared/tools/install-oracles.sh)"
            );
            return None;
        };
        let server = kube_fake::Server::spawn(kube_fake::Options {
            controller_delay: Duration::from_millis(20),
            ..kube_fake::Options::default()
        })
        .expect("kube-fake");
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).expect("repo");
        capstan_testkit::git::copy_tree(&example(), &repo);
        let kubeconfig = server
            .write_kubeconfig(&dir.path().join("cluster.kubeconfig"))
            .expect("kubeconfig");
        fake_tools(dir.path(), &kubeconfig);
        let cache = ChartCache::new(dir.path().join("charts"));
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
        flux_crds(server.side_door());
        let stop = Arc::new(AtomicBool::new(false));
        let setup = Setup {
            server,
            dir,
            helm,
            stop,
        };
        setup.spawn_flux_stand_in();
        Some(setup)
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn command(&self, args: &[&str]) -> Command {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(env!("CARGO_BIN_EXE_capstan"));
        command
            .args(["bootstrap"])
            .args(args)
            .arg("--path")
            .arg(self.repo())
            .env("PATH", path)
            .env("CAPSTAN_HELM", &self.helm)
            .env_remove("KUBECONFIG")
            .env_remove("CAPSTAN_BOOTSTRAP_TEST_PAUSE");
        if args.first() == Some(&"apply") {
            command
                .arg("--chart-cache")
                .arg(self.dir.path().join("charts"))
                .arg("--offline");
        }
        command
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.command(args).output().expect("runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs `apply` held at `at` (`start:STEP` or `end:STEP`), then kills it; its stderr.
    fn apply_killed_at(&self, at: &str) -> String {
        let mut child = self
            .command(&["apply"])
            .env("CAPSTAN_BOOTSTRAP_TEST_PAUSE", at)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let stderr = child.stderr.take().expect("stderr");
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.expect("line");
            seen.push_str(&line);
            seen.push('\n');
            if line == format!("paused at {at}") {
                break;
            }
        }
        child.kill().expect("killed");
        let status = child.wait().expect("waited");
        assert!(
            seen.contains(&format!("paused at {at}")),
            "never reached {at} (exit {status}):\n{seen}"
        );
        seen
    }

    /// What Flux's controllers would do: kustomize-controller's Deployment once flux-system
    /// exists, the flux-system Kustomization Ready once it exists.
    fn spawn_flux_stand_in(&self) {
        let door = self.server.side_door().clone();
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            let ns = kube_fake::ObjectRef::new("v1", "Namespace", "", "flux-system");
            let deployment = kube_fake::ObjectRef::new(
                "apps/v1",
                "Deployment",
                "flux-system",
                "kustomize-controller",
            );
            let ks = kube_fake::ObjectRef::new(
                "kustomize.toolkit.fluxcd.io/v1",
                "Kustomization",
                "flux-system",
                "flux-system",
            );
            while !stop.load(Ordering::Relaxed) {
                if door.get(&ns).is_some() && door.get(&deployment).is_none() {
                    let labels = json!({"app": "kustomize-controller"});
                    let _ = door.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "kustomize-controller", "namespace": "flux-system"},
                        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels},
                                "spec": {"containers": [{"name": "manager", "image": "registry.k8s.io/pause:3.10"}]}}}}));
                }
                if let Some(live) = door.get(&ks)
                    && live.pointer("/status/conditions").is_none()
                {
                    let _ = door.flux_ready(&ks, true, "ReconciliationSucceeded", "Applied");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
    }

    /// The cluster as bootstrap leaves it: objects by kind and name, the Secrets' data, the
    /// journal's outcomes (not its times).
    fn state(&self) -> Vec<String> {
        let door = self.server.side_door();
        let mut out = Vec::new();
        for (api, kind, ns, name) in [
            ("v1", "Namespace", "", "onepassword"),
            ("v1", "Namespace", "", "flux-system"),
            ("v1", "Namespace", "", "external-secrets"),
            ("v1", "Secret", "onepassword", "onepassword-credentials"),
            ("v1", "Secret", "onepassword", "onepassword-connect-token"),
            ("v1", "Secret", "flux-system", "flux-system"),
            (
                "v1",
                "Secret",
                "kube-system",
                "sh.helm.release.v1.cilium.v1",
            ),
            (
                "v1",
                "Secret",
                "kube-system",
                "sh.helm.release.v1.cilium.v2",
            ),
            (
                "v1",
                "Secret",
                "external-secrets",
                "sh.helm.release.v1.external-secrets.v1",
            ),
            (
                "v1",
                "Secret",
                "onepassword",
                "sh.helm.release.v1.onepassword-connect.v1",
            ),
            ("apps/v1", "Deployment", "kube-system", "cilium"),
            (
                "apps/v1",
                "Deployment",
                "external-secrets",
                "external-secrets",
            ),
            (
                "apps/v1",
                "Deployment",
                "onepassword",
                "onepassword-connect",
            ),
            (
                "source.toolkit.fluxcd.io/v1",
                "GitRepository",
                "flux-system",
                "flux-system",
            ),
            (
                "kustomize.toolkit.fluxcd.io/v1",
                "Kustomization",
                "flux-system",
                "flux-system",
            ),
        ] {
            let found = door.get(&kube_fake::ObjectRef::new(api, kind, ns, name));
            let detail = match (&found, kind) {
                (Some(o), "Secret") if !name.starts_with("sh.helm") => o["data"].to_string(),
                (Some(o), "Secret") => o
                    .pointer("/metadata/labels/status")
                    .map(Value::to_string)
                    .unwrap_or_default(),
                (Some(_), _) => "present".into(),
                (None, _) => "absent".into(),
            };
            out.push(format!("{kind} {ns}/{name}: {detail}"));
        }
        let journal: Value = serde_json::from_str(
            &std::fs::read_to_string(self.repo().join(".capstan/bootstrap-journal.json"))
                .expect("journal"),
        )
        .expect("json");
        for step in STEPS {
            out.push(format!(
                "journal {step}: {} {}",
                journal["steps"][step]["outcome"], journal["steps"][step]["digest"]
            ));
        }
        out
    }

    fn journal_config_map(&self) -> String {
        self.server
            .side_door()
            .get(&kube_fake::ObjectRef::new(
                "v1",
                "ConfigMap",
                "kube-system",
                "capstan-bootstrap-journal",
            ))
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    fn assert_no_secret_values(&self, shown: &str) {
        let journal = std::fs::read_to_string(self.repo().join(".capstan/bootstrap-journal.json"))
            .unwrap_or_default();
        let all = format!("{shown}{journal}{}", self.journal_config_map());
        assert!(!all.contains(OP_VALUE_MARK), "a secret value leaked");
        let door = self.server.side_door();
        for (ns, name) in [
            ("onepassword", "onepassword-credentials"),
            ("onepassword", "onepassword-connect-token"),
            ("flux-system", "flux-system"),
        ] {
            let secret = door
                .get(&kube_fake::ObjectRef::new("v1", "Secret", ns, name))
                .expect("the Secret");
            for value in secret["data"].as_object().expect("data").values() {
                let value = value.as_str().expect("base64");
                assert!(!all.contains(value), "a secret value leaked (base64)");
            }
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn flux_crds(door: &kube_fake::SideDoor) {
    for (group, kind) in [
        ("source.toolkit.fluxcd.io", "GitRepository"),
        ("kustomize.toolkit.fluxcd.io", "Kustomization"),
    ] {
        let plural = format!("{}s", kind.to_ascii_lowercase());
        door.put(json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
            "metadata":{"name": format!("{plural}.{group}")},
            "spec":{"group": group, "scope": "Namespaced",
                "names":{"kind": kind, "plural": plural, "singular": kind.to_ascii_lowercase(), "listKind": format!("{kind}List")},
                "versions":[{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                    "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields": true}}}]}}))
            .expect("CRD");
        let r = kube_fake::ObjectRef::new(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            &format!("{plural}.{group}"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !door
            .get(&r)
            .is_some_and(|c| c.to_string().contains("Established"))
        {
            assert!(Instant::now() < deadline, "{kind} not established");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn apply_from_nothing_to_green_then_a_second_apply_writes_nothing() {
    let Some(setup) = Setup::new() else { return };
    let started = Instant::now();
    let (code, out, err) = setup.run(&["apply"]);
    eprintln!("first apply: {:?}", started.elapsed());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    for step in STEPS {
        assert!(out.contains(&format!("done {step} (")), "{step}:\n{out}");
    }
    assert!(out.contains("summary: 10 ran, 0 skipped"), "{out}");

    let (code, status_out, err) = setup.run(&["status"]);
    assert_eq!(code, 0, "stdout:\n{status_out}\nstderr:\n{err}");
    assert!(status_out.contains("every gate green"), "{status_out}");

    setup.server.side_door().reset_counters();
    let started = Instant::now();
    let (code, again, err2) = setup.run(&["apply"]);
    eprintln!("second apply: {:?}", started.elapsed());
    assert_eq!(code, 0, "stdout:\n{again}\nstderr:\n{err2}");
    assert!(again.contains("summary: 0 ran, 10 skipped"), "{again}");
    let counters = setup.server.side_door().counters();
    eprintln!("second apply's requests: {:?}", counters.verbs);
    assert_eq!(counters.writes(), 0, "{counters:?}");

    setup.assert_no_secret_values(&format!("{out}{err}{status_out}{again}{err2}"));
}

#[test]
fn killed_at_every_step_boundary_resumes_to_the_same_cluster() {
    let Some(reference) = Setup::new() else {
        return;
    };
    let (code, out, err) = reference.run(&["apply"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let expected = reference.state();
    drop(reference);

    let Some(setup) = Setup::new() else { return };
    let mut shown = String::new();
    for step in STEPS {
        // Killed once the step is recorded as started (interrupted mid-step), then once it is
        // recorded as done: each run resumes where the last one stopped.
        shown.push_str(&setup.apply_killed_at(&format!("start:{step}")));
        let journal = std::fs::read_to_string(setup.repo().join(".capstan/bootstrap-journal.json"))
            .expect("journal");
        assert!(
            journal.contains("\"started\""),
            "{step} is not recorded as started:\n{journal}"
        );
        let seen = setup.apply_killed_at(&format!("end:{step}"));
        assert!(
            seen.contains(&format!("running {step} (")),
            "the re-run did not resume at {step}:\n{seen}"
        );
        let before = STEPS.iter().position(|s| *s == step).unwrap_or(0);
        for done in &STEPS[..before] {
            assert!(
                !seen.contains(&format!("running {done} (")),
                "{done} ran again:\n{seen}"
            );
        }
        shown.push_str(&seen);
    }
    let (code, out, err) = setup.run(&["apply"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("summary: 0 ran, 10 skipped"), "{out}");
    assert_eq!(setup.state(), expected);
    shown.push_str(&out);
    shown.push_str(&err);
    setup.assert_no_secret_values(&shown);
}

#[test]
fn killed_inside_a_helm_release_resumes_past_helms_pending_lock() {
    let Some(setup) = Setup::new() else { return };
    let door = setup.server.side_door();
    // Hold the write that marks cilium's release deployed, so the run is killed with its objects
    // applied and the release stored pending-install.
    door.inject(kube_fake::Fault {
        verb: None,
        path: Some("/secrets/sh.helm.release.v1.cilium.v1".into()),
        skip: None,
        count: Some(1),
        action: kube_fake::FaultAction::Delay { millis: 120_000 },
    });
    let mut child = setup
        .command(&["apply"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let pending = kube_fake::ObjectRef::new(
        "v1",
        "Secret",
        "kube-system",
        "sh.helm.release.v1.cilium.v1",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !door.get(&pending).is_some_and(|s| {
        s.pointer("/metadata/labels/status").and_then(Value::as_str) == Some("pending-install")
    }) {
        assert!(
            Instant::now() < deadline,
            "cilium never became pending-install"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().expect("killed");
    child.wait().expect("waited");
    door.clear_faults();

    let (code, out, err) = setup.run(&["apply"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("skipped talos"), "{out}");
    assert!(out.contains("done cilium ("), "{out}");
    assert!(out.contains("left pending by the interrupted run"), "{out}");
    let (code, status, err) = setup.run(&["status"]);
    assert_eq!(code, 0, "stdout:\n{status}\nstderr:\n{err}");
    assert!(
        door.get(&kube_fake::ObjectRef::new(
            "apps/v1",
            "Deployment",
            "kube-system",
            "cilium"
        ))
        .is_some()
    );
}
