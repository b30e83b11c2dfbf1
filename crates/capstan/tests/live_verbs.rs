//! The live verbs from the command line against kube-fake: `get --live`, `reconcile`, `suspend`
//! / `resume`, `events`, `tree`, `trace`, `status` and `why`, their output snapshot-tested, and
//! the one-line errors for what does not exist or cannot be reached.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

const NS: &str = "flux-system";

fn capstan() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_capstan"));
    c.env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env("USER", "tester");
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(kubeconfig: &Path, args: &[&str]) -> Run {
    let out = capstan()
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .expect("capstan runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn crd(group: &str, version: &str, kind: &str) -> Value {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_ascii_lowercase(), "listKind": format!("{kind}List")},
            "versions": [{"name": version, "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

const KINDS: [(&str, &str, &str); 5] = [
    ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
    ("source.toolkit.fluxcd.io", "v1", "HelmChart"),
    ("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
    ("source.toolkit.fluxcd.io", "v1", "GitRepository"),
    ("source.toolkit.fluxcd.io", "v1", "HelmRepository"),
];

struct Cluster {
    server: kube_fake::Handle,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

fn r(kind: &str, name: &str) -> kube_fake::ObjectRef {
    let (g, v, k) = KINDS
        .iter()
        .find(|(_, _, k)| *k == kind)
        .copied()
        .expect("known kind");
    kube_fake::ObjectRef::new(&format!("{g}/{v}"), k, NS, name)
}

/// kube-fake with Flux's CRDs, a source, a Kustomization, a HelmRelease and their statuses.
fn cluster() -> Cluster {
    let options = kube_fake::Options {
        controller_delay: Duration::from_millis(20),
        ..kube_fake::Options::default()
    };
    let server = kube_fake::Server::spawn(options).expect("kube-fake starts");
    let door = server.side_door();
    door.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .expect("ns");
    for (g, v, k) in KINDS {
        door.put(crd(g, v, k)).expect("crd");
    }
    for (g, _, k) in KINDS {
        let name = format!("{}s.{g}", k.to_ascii_lowercase());
        let crd_ref = kube_fake::ObjectRef::new(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            &name,
        );
        let established = || {
            door.get(&crd_ref).is_some_and(|c| {
                c.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    })
            })
        };
        for _ in 0..500 {
            if established() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(established(), "{name} never established");
    }
    door.put(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}))
        .expect("node");
    door.write_status(&kube_fake::ObjectRef::new("v1", "Node", "", "node-1"),
        json!({"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]})).expect("node status");
    door.put(
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "fleet", "namespace": NS},
        "spec": {"url": "https://github.com/example/fleet", "interval": "1m"}}),
    )
    .expect("git");
    door.put(
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "charts", "namespace": NS},
        "spec": {"url": "https://charts.example.com", "interval": "1h"}}),
    )
    .expect("helm repo");
    door.put(
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": NS},
        "spec": {"interval": "10m", "path": "./apps", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "fleet"}}}),
    )
    .expect("ks");
    door.put(
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"interval": "10m", "chart": {"spec": {"chart": "web", "version": "1.2.3",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}}}),
    )
    .expect("hr");
    door.write_status(&r("GitRepository", "fleet"), json!({
        "artifact": {"revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored artifact for revision 'main@sha1:01234567'"}]})).expect("status");
    door.flux_ready(
        &r("HelmRepository", "charts"),
        true,
        "Succeeded",
        "stored artifact: revision 'sha256:9f8e'",
    )
    .expect("status");
    door.put(json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "flux-system-web", "namespace": NS},
        "spec": {"chart": "web", "version": "1.2.3", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}})).expect("chart");
    door.write_status(&r("HelmChart", "flux-system-web"), json!({
        "artifact": {"revision": "1.2.3"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "ChartPullSucceeded", "message": "pulled 'web' chart with version '1.2.3'"}]})).expect("status");
    door.write_status(&r("Kustomization", "apps"), json!({
        "lastAppliedRevision": "main@sha1:0123456789abcdef0123456789abcdef01234567",
        "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied revision: main@sha1:01234567"}],
        "inventory": {"entries": [{"id": "_web__Namespace", "v": "v1"}, {"id": "flux-system_web_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"}]}})).expect("status");
    door.write_status(&r("HelmRelease", "web"), json!({
        "history": [{"name": "web", "namespace": "web", "version": 1, "chartVersion": "1.2.3"}],
        "conditions": [{"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "Helm upgrade failed: timed out waiting for the condition"}]})).expect("status");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = server
        .write_kubeconfig(&dir.path().join("kubeconfig"))
        .expect("kubeconfig");
    Cluster {
        server,
        kubeconfig,
        _dir: dir,
    }
}

/// Stands in for Flux's controllers on one object: handles the next request token after a delay,
/// writing `ready` (or a failure) as the controller would.
fn handle_next_request(
    c: &Cluster,
    kind: &'static str,
    name: &'static str,
    ready: bool,
    reason: &'static str,
    message: &'static str,
) -> std::thread::JoinHandle<()> {
    let door = c.server.side_door().clone();
    std::thread::spawn(move || {
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(100));
            let Some(o) = door.get(&r(kind, name)) else {
                continue;
            };
            let token = o
                .pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
                .and_then(Value::as_str);
            let handled = o
                .pointer("/status/lastHandledReconcileAt")
                .and_then(Value::as_str);
            let Some(token) = token.filter(|t| Some(*t) != handled) else {
                continue;
            };
            let mut status = o.get("status").cloned().unwrap_or(json!({}));
            status["lastHandledReconcileAt"] = json!(token);
            status["observedGeneration"] = o
                .pointer("/metadata/generation")
                .cloned()
                .unwrap_or(json!(1));
            status["conditions"] = json!([{"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": reason, "message": message}]);
            door.write_status(&r(kind, name), status).expect("status");
            return;
        }
    })
}

fn normalise(text: &str) -> String {
    // Ages and times vary from run to run.
    let mut out = String::new();
    for line in text.lines() {
        let mut l = line.to_owned();
        if let Some(i) = l.find(" ago: ") {
            let start = l[..i].rfind(' ').map_or(0, |s| s + 1);
            l.replace_range(start..i, "<age>");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn get_live_lists_as_flux_get_does() {
    let c = cluster();
    let all = run(&c.kubeconfig, &["get", "all", "--live"]);
    assert_eq!(all.code, 1, "a HelmRelease is failing: {}", all.stderr);
    insta::assert_snapshot!("get_all_live", all.stdout);
    let ks = run(&c.kubeconfig, &["get", "ks", "--live", "-A", "-o", "wide"]);
    assert_eq!(ks.code, 0, "{}", ks.stderr);
    insta::assert_snapshot!("get_ks_live_wide", ks.stdout);
    let sources = run(&c.kubeconfig, &["get", "sources", "--live", "-o", "json"]);
    let rows: Value = serde_json::from_str(&sources.stdout).expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(3));
    let other = run(&c.kubeconfig, &["get", "ks", "--live", "-n", "default"]);
    assert!(
        other.stderr.contains("-A lists every namespace"),
        "{}",
        other.stderr
    );
    let missing = run(&c.kubeconfig, &["get", "hr", "nope", "--live"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("no HelmRelease named nope in namespace flux-system"),
        "{}",
        missing.stderr
    );
}

#[test]
fn reconcile_waits_and_reports_success_and_failure() {
    let c = cluster();
    let stand_in = handle_next_request(
        &c,
        "Kustomization",
        "apps",
        true,
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:89abcdef",
    );
    let ok = run(
        &c.kubeconfig,
        &["reconcile", "ks", "apps", "--timeout", "20s"],
    );
    stand_in.join().expect("stand-in");
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    insta::assert_snapshot!("reconcile_ks", ok.stdout);

    let stand_in = handle_next_request(
        &c,
        "HelmRelease",
        "web",
        false,
        "UpgradeFailed",
        "Helm upgrade failed: image pull back-off",
    );
    let failed = run(
        &c.kubeconfig,
        &["reconcile", "hr", "web", "--force", "--timeout", "20s"],
    );
    stand_in.join().expect("stand-in");
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    insta::assert_snapshot!("reconcile_hr_failed", failed.stdout);

    let source = run(
        &c.kubeconfig,
        &["reconcile", "source", "git", "fleet", "--timeout", "1s"],
    );
    assert_eq!(source.code, 2);
    assert!(
        source
            .stderr
            .contains("the request was not handled yet (is the controller running?)"),
        "{}",
        source.stderr
    );
    let unknown = run(&c.kubeconfig, &["reconcile", "pods", "x"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("unknown kind \"pods\""),
        "{}",
        unknown.stderr
    );
}

#[test]
fn suspend_with_a_reason_shows_in_status_events_and_resume() {
    let c = cluster();
    let suspended = run(
        &c.kubeconfig,
        &[
            "suspend",
            "ks",
            "apps",
            "--reason",
            "restoring the database by hand",
        ],
    );
    assert_eq!(suspended.code, 0, "{}", suspended.stderr);
    insta::assert_snapshot!("suspend_ks", suspended.stdout);
    let refused = run(&c.kubeconfig, &["reconcile", "ks", "apps"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("resume it first: capstan resume ks apps -n flux-system"),
        "{}",
        refused.stderr
    );
    let status = run(&c.kubeconfig, &["status"]);
    assert_eq!(status.code, 1);
    insta::assert_snapshot!("status_with_override", normalise(&status.stdout));
    let events = run(&c.kubeconfig, &["events", "ks/apps"]);
    assert!(
        events.stdout.contains("Suspended")
            && events.stdout.contains("restoring the database by hand"),
        "{}",
        events.stdout
    );
    // Without a repository the drift cannot be checked: resume refuses unless --force.
    let empty = tempfile::tempdir().expect("tempdir");
    let refused = run(
        &c.kubeconfig,
        &[
            "resume",
            "ks",
            "apps",
            "--path",
            &empty.path().display().to_string(),
        ],
    );
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("or --force to resume without the check"),
        "{}",
        refused.stderr
    );
    let stand_in = handle_next_request(
        &c,
        "Kustomization",
        "apps",
        true,
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:01234567",
    );
    let resumed = run(
        &c.kubeconfig,
        &[
            "resume",
            "ks",
            "apps",
            "--force",
            "--path",
            &empty.path().display().to_string(),
            "--timeout",
            "20s",
        ],
    );
    stand_in.join().expect("stand-in");
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stdout.contains("resumed and reconciled"),
        "{}",
        resumed.stdout
    );
    let live = c
        .server
        .side_door()
        .get(&r("Kustomization", "apps"))
        .expect("exists");
    assert!(
        live.pointer("/metadata/annotations/capstan.io~1resumed-without-alignment")
            .is_some()
    );
}

#[test]
fn tree_trace_and_why() {
    let c = cluster();
    let tree = run(&c.kubeconfig, &["tree", "ks/apps"]);
    assert_eq!(tree.code, 0, "{}", tree.stderr);
    insta::assert_snapshot!("tree_ks", tree.stdout);
    let trace = run(&c.kubeconfig, &["trace", "hr/web", "-n", NS]);
    insta::assert_snapshot!("trace_hr", trace.stdout);
    let why = run(&c.kubeconfig, &["why", "hr/web"]);
    assert_eq!(why.code, 1);
    insta::assert_snapshot!("why_hr", why.stdout);
    // apps applies the failing HelmRelease: that is where it is stuck.
    let why = run(&c.kubeconfig, &["why", "ks/apps"]);
    assert_eq!(why.code, 1, "{}", why.stdout);
    assert!(
        why.stdout.contains("capstan why hr web -n flux-system"),
        "{}",
        why.stdout
    );
    let bad = run(&c.kubeconfig, &["why", "apps"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("expected KIND/NAME"), "{}", bad.stderr);
}

#[test]
fn an_unreachable_cluster_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    )
    .expect("write");
    let out = run(&kubeconfig, &["status"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: connecting to the cluster"),
        "{}",
        out.stderr
    );
}

/// Flux's controllers as kube-fake holds them: a Deployment labelled part-of=flux and one pod
/// each, with the JSON lines the controllers write (and a line that is not JSON).
fn flux_controllers(c: &Cluster) {
    let door = c.server.side_door();
    let line = |ts: &str, level: &str, kind: &str, name: &str, msg: &str, error: &str| {
        let mut l = json!({"level": level, "ts": ts, "msg": msg, "controllerKind": kind,
            "controllerGroup": "toolkit.fluxcd.io", "name": name, "namespace": NS, "reconcileID": "0b1c"});
        if !error.is_empty() {
            l["error"] = json!(error);
        }
        l.to_string()
    };
    let logs = [
        (
            "kustomize-controller",
            vec![
                r#"{"level":"info","ts":"2026-12-04T18:00:00.000Z","msg":"starting manager"}"#
                    .to_owned(),
                "W1204 18:00:00.100000 1 client_config.go:1] not JSON".to_owned(),
                line(
                    "2026-12-04T18:00:05.000Z",
                    "info",
                    "Kustomization",
                    "apps",
                    "server-side apply completed",
                    "",
                ),
                line(
                    "2026-12-04T18:00:06.000Z",
                    "info",
                    "Kustomization",
                    "infra",
                    "server-side apply completed",
                    "",
                ),
                line(
                    "2026-12-04T18:01:05.000Z",
                    "info",
                    "Kustomization",
                    "apps",
                    "Reconciliation finished in 1.2s, next run in 10m0s",
                    "",
                ),
            ],
        ),
        (
            "helm-controller",
            vec![
                line(
                    "2026-12-04T18:00:03.000Z",
                    "info",
                    "HelmRelease",
                    "web",
                    "release out-of-sync with desired state",
                    "",
                ),
                line(
                    "2026-12-04T18:00:09.000Z",
                    "error",
                    "HelmRelease",
                    "web",
                    "Reconciler error",
                    "Helm upgrade failed: timed out waiting for the condition",
                ),
            ],
        ),
        (
            "source-controller",
            vec![
                line(
                    "2026-12-04T18:00:01.000Z",
                    "info",
                    "GitRepository",
                    "fleet",
                    "stored artifact for commit 'add web'",
                    "",
                ),
                line(
                    "2026-12-04T18:00:02.000Z",
                    "info",
                    "HelmRepository",
                    "charts",
                    "stored fetched index",
                    "",
                ),
            ],
        ),
    ];
    for (controller, lines) in logs {
        door.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": controller, "namespace": NS, "labels": {"app.kubernetes.io/part-of": "flux", "app.kubernetes.io/component": controller}},
            "spec": {"selector": {"matchLabels": {"app": controller}},
                "template": {"metadata": {"labels": {"app": controller}},
                    "spec": {"containers": [{"name": "manager", "image": format!("ghcr.io/fluxcd/{controller}")}]}}}}))
            .expect("deployment");
        let pod = format!("{controller}-6b7c8d9f5-x2x4z");
        door.put(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "namespace": NS, "labels": {"app": controller}},
            "spec": {"containers": [{"name": "manager", "image": format!("ghcr.io/fluxcd/{controller}")}]}}))
            .expect("pod");
        door.append_log(&kube_fake::LogWrite {
            namespace: NS.into(),
            pod,
            container: "manager".into(),
            previous: false,
            text: lines.join("\n"),
        });
    }
}

#[test]
fn logs_filter_the_controllers_lines_by_object_and_level() {
    let c = cluster();
    // No controllers yet: one line, exit 2.
    let none = run(&c.kubeconfig, &["logs", "ks/apps"]);
    assert_eq!(none.code, 2, "{}", none.stdout);
    assert!(
        none.stderr
            .contains("no Flux controllers in namespace flux-system")
            && none.stderr.lines().count() == 1,
        "{}",
        none.stderr
    );
    flux_controllers(&c);
    let ks = run(&c.kubeconfig, &["logs", "ks/apps"]);
    assert_eq!(ks.code, 0, "{}", ks.stderr);
    insta::assert_snapshot!("logs_ks", ks.stdout);
    let hr = run(&c.kubeconfig, &["logs", "hr/web", "--level", "error"]);
    assert_eq!(hr.code, 0, "{}", hr.stderr);
    insta::assert_snapshot!("logs_hr_errors", hr.stdout);
    let source = run(&c.kubeconfig, &["logs", "gitrepository/fleet"]);
    assert_eq!(source.code, 0, "{}", source.stderr);
    insta::assert_snapshot!("logs_source", source.stdout);
    // Every namespace, merged in time order, with lines about no object; --tail counts each
    // controller's lines before filtering.
    let all = run(&c.kubeconfig, &["logs", "-A", "--tail", "5"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    insta::assert_snapshot!("logs_all_tail", all.stdout);
    let json_lines = run(
        &c.kubeconfig,
        &["logs", "--kind", "HelmRepository", "-o", "json"],
    );
    let parsed: Value = serde_json::from_str(json_lines.stdout.trim()).expect("one JSON line");
    assert_eq!(parsed["controller"], "source-controller");
    assert_eq!(parsed["name"], "charts");
    // Nothing matched: said, not silent.
    let nothing = run(&c.kubeconfig, &["logs", "ks/nope"]);
    assert_eq!(nothing.code, 0);
    assert_eq!(
        nothing.stdout,
        "no log lines about Kustomization nope in namespace flux-system among the 9 lines read from helm-controller, kustomize-controller, source-controller\n"
    );
    // Lines older than --since are not read.
    let recent = run(&c.kubeconfig, &["logs", "ks/apps", "--since", "1h"]);
    assert_eq!(recent.stdout, ks.stdout, "the lines were written just now");
    // Bad input: one line each, exit 2.
    for (args, says) in [
        (&["logs", "pods/x"][..], "unknown kind \"pods\""),
        (&["logs", "apps"][..], "expected KIND/NAME"),
        (&["logs", "--since", "soon"][..], "not a duration: soon"),
        (
            &["logs", "--since-time", "yesterday"][..],
            "not an RFC 3339 time",
        ),
        (&["logs", "--level", "loud"][..], "invalid value 'loud'"),
        (
            &["logs", "--flux-namespace", "nowhere"][..],
            "no Flux controllers in namespace nowhere",
        ),
    ] {
        let out = run(&c.kubeconfig, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn logs_follow_streams_new_lines() {
    use std::io::BufRead as _;
    let c = cluster();
    flux_controllers(&c);
    let mut child = capstan()
        .args(["logs", "ks/apps", "--follow", "--tail", "1", "--kubeconfig"])
        .arg(&c.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("capstan runs");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the last line");
    assert!(first.contains("Reconciliation finished"), "{first}");
    c.server.side_door().append_log(&kube_fake::LogWrite {
        namespace: NS.into(),
        pod: "kustomize-controller-6b7c8d9f5-x2x4z".into(),
        container: "manager".into(),
        previous: false,
        text: json!({"level": "info", "ts": "2026-12-04T18:11:05.000Z", "msg": "Reconciliation finished in 0.9s",
            "controllerKind": "Kustomization", "name": "apps", "namespace": NS}).to_string(),
    });
    let next = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the appended line");
    assert_eq!(
        next,
        "2026-12-04T18:11:05.000Z info  Kustomization/flux-system/apps Reconciliation finished in 0.9s"
    );
    child.kill().expect("stop the follow");
    child.wait().expect("reaped");
}

/// A repository with one Kustomization, `apps`, declaring namespace `web` and Deployment
/// `web/web` with 1 replica.
fn override_repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("tempdir");
    let files = [
        (
            "clusters/lab/flux-system/gotk-sync.yaml",
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: fleet\n  namespace: flux-system\nspec:\n  interval: 1m0s\n  ref:\n    branch: main\n  url: https://github.com/example/fleet\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/lab\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n",
        ),
        (
            "clusters/lab/flux-system/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-sync.yaml\n",
        ),
        (
            "clusters/lab/apps.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n",
        ),
        (
            "apps/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - namespace.yaml\n  - deployment.yaml\n",
        ),
        (
            "apps/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
        ),
        (
            "apps/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/example/web:1.0.0\n",
        ),
    ];
    for (path, text) in files {
        let path = repo.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    repo
}

/// The emergency override from start to end: suspend with a reason, a hand edit with kubectl,
/// `status` showing the override (its age and reason) and the drift, `resume` refusing and naming
/// `drift -o patch`, the patch applied to the repository, and `resume` finishing clean.
#[test]
fn the_override_cycle_end_to_end() {
    let Some(kubectl) = capstan_testkit::oracle("kubectl") else {
        return;
    };
    let c = cluster();
    let repo = override_repo();
    let path = repo.path().display().to_string();
    let scrub = |text: &str| normalise(&text.replace(&path, "REPO"));

    // What Flux applied from Git before the emergency (its own Kustomization Ready already).
    let door = c.server.side_door();
    door.put(
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "flux-system", "namespace": NS},
        "spec": {"interval": "10m", "path": "./clusters/lab", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "fleet"}}}),
    )
    .expect("ks");
    door.flux_ready(
        &r("Kustomization", "flux-system"),
        true,
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:01234567",
    )
    .expect("status");
    let applied = run(
        &c.kubeconfig,
        &["apply", "all", "--path", &path, "--timeout", "30s"],
    );
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);

    // 1. The override, with who and why.
    let suspended = run(
        &c.kubeconfig,
        &[
            "suspend",
            "ks",
            "apps",
            "--reason",
            "INC-42: scale web by hand",
        ],
    );
    assert_eq!(suspended.code, 0, "{}", suspended.stderr);

    // 2. The hand edit, as `kubectl edit` would make it.
    let edit = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(["-n", "web", "patch", "deployment", "web", "--type", "merge"])
        .args(["-p", r#"{"spec":{"replicas":3}}"#])
        .output()
        .expect("kubectl runs");
    assert!(
        edit.status.success(),
        "{}",
        String::from_utf8_lossy(&edit.stderr)
    );

    // 3. status: the open override with its age and reason, and the drift it made.
    let status = run(&c.kubeconfig, &["status", "--path", &path]);
    assert_eq!(status.code, 1, "{}", status.stderr);
    assert!(
        status.stdout.contains(" ago: INC-42: scale web by hand"),
        "{}",
        status.stdout
    );
    insta::assert_snapshot!("override_cycle_status", scrub(&status.stdout));

    // 4. resume refuses: it shows the drift and names the command that aligns Git.
    let refused = run(&c.kubeconfig, &["resume", "ks", "apps", "--path", &path]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    insta::assert_snapshot!("override_cycle_resume_refused", scrub(&refused.stdout));
    assert!(
        refused.stdout.contains(&format!(
            "capstan drift --ks apps -n flux-system --path {path} -o patch"
        )),
        "{}",
        refused.stdout
    );
    let still = c
        .server
        .side_door()
        .get(&r("Kustomization", "apps"))
        .expect("exists");
    assert_eq!(still.pointer("/spec/suspend"), Some(&json!(true)));

    // 5. The patch `drift -o patch` prints, applied to the repository.
    let patch = run(
        &c.kubeconfig,
        &[
            "drift",
            "--ks",
            "apps",
            "-n",
            "flux-system",
            "--path",
            &path,
            "-o",
            "patch",
        ],
    );
    assert_eq!(patch.code, 1, "drift is reported: {}", patch.stderr);
    insta::assert_snapshot!("override_cycle_patch", patch.stdout);
    std::fs::write(repo.path().join("align.patch"), &patch.stdout).expect("write patch");
    let git = Command::new("git")
        .current_dir(repo.path())
        .args(["apply", "align.patch"])
        .output()
        .expect("git runs");
    assert!(
        git.status.success(),
        "{}",
        String::from_utf8_lossy(&git.stderr)
    );
    std::fs::remove_file(repo.path().join("align.patch")).expect("rm");
    let deployment =
        std::fs::read_to_string(repo.path().join("apps/deployment.yaml")).expect("read");
    assert!(deployment.contains("replicas: 3"), "{deployment}");

    // 6. resume finds Git aligned, resumes, reconciles; no forced resumption recorded.
    let stand_in = handle_next_request(
        &c,
        "Kustomization",
        "apps",
        true,
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:89abcdef",
    );
    let resumed = run(
        &c.kubeconfig,
        &["resume", "ks", "apps", "--path", &path, "--timeout", "20s"],
    );
    stand_in.join().expect("stand-in");
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    insta::assert_snapshot!("override_cycle_resumed", scrub(&resumed.stdout));
    let live = c
        .server
        .side_door()
        .get(&r("Kustomization", "apps"))
        .expect("exists");
    assert_ne!(live.pointer("/spec/suspend"), Some(&json!(true)));
    let annotations = live
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(json!({}));
    assert!(
        !annotations.to_string().contains("capstan.io/override")
            && annotations
                .get("capstan.io/resumed-without-alignment")
                .is_none(),
        "{annotations}"
    );
    let status = run(&c.kubeconfig, &["status", "--path", &path]);
    assert!(
        !status.stdout.contains("INC-42"),
        "the override is closed: {}",
        status.stdout
    );
}

/// The latest Helm release of HelmRelease `web` as Helm stores it (the release JSON without
/// gzip, which Helm reads too), and Events about the HelmRelease and the GitRepository.
fn helm_release_and_events(c: &Cluster) {
    use base64::Engine as _;
    let door = c.server.side_door();
    let b64 = base64::engine::general_purpose::STANDARD;
    door.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}))
        .expect("ns");
    let manifest = "---\n# Source: web/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: web\n---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: web\n";
    let release = json!({"name": "web", "namespace": "web", "version": 1, "manifest": manifest,
        "info": {"status": "deployed"}, "chart": {"metadata": {"name": "web", "version": "1.2.3"}}});
    door.put(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.web.v1", "namespace": NS,
            "labels": {"owner": "helm", "name": "web", "version": "1", "status": "deployed"}},
        "data": {"release": b64.encode(b64.encode(release.to_string()))}}),
    )
    .expect("release");
    // What the release installed, labelled as helm-controller labels it.
    door.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "web",
            "labels": {"app.kubernetes.io/managed-by": "Helm", "helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": NS},
            "annotations": {"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1.2.3"}]}}}}))
    .expect("deployment");
    for (i, (kind, name, type_, reason, message)) in [
        (
            "GitRepository",
            "fleet",
            "Normal",
            "NewArtifact",
            "stored artifact for commit 'add web'",
        ),
        (
            "HelmRelease",
            "web",
            "Normal",
            "InstallSucceeded",
            "Helm install succeeded for release web/web.v1 with chart web@1.2.3",
        ),
        (
            "HelmRelease",
            "web",
            "Warning",
            "UpgradeFailed",
            "Helm upgrade failed: timed out waiting for the condition",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let at = format!("2026-12-04T18:0{i}:00Z");
        door.put(json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{name}.{i}"), "namespace": NS},
            "involvedObject": {"kind": kind, "name": name, "namespace": NS},
            "type": type_, "reason": reason, "message": message, "count": 1,
            "firstTimestamp": at, "lastTimestamp": at}))
            .expect("event");
    }
}

/// Every verb on a HelmRelease and on sources (the Kustomization has its own tests above).
#[test]
fn every_verb_on_a_helmrelease_and_a_source() {
    let c = cluster();
    flux_controllers(&c);
    helm_release_and_events(&c);
    let ok = |out: &Run| format!("exit {}\n{}{}", out.code, out.stdout, out.stderr);

    // get
    insta::assert_snapshot!("hr_get", ok(&run(&c.kubeconfig, &["get", "hr", "--live"])));
    insta::assert_snapshot!(
        "source_get",
        ok(&run(&c.kubeconfig, &["get", "sources", "--live"]))
    );
    // events
    insta::assert_snapshot!("hr_events", ok(&run(&c.kubeconfig, &["events", "hr/web"])));
    insta::assert_snapshot!(
        "source_events",
        ok(&run(&c.kubeconfig, &["events", "gitrepository/fleet"]))
    );
    // tree: a HelmRelease's release manifest; what a source feeds, through a HelmChart
    insta::assert_snapshot!("hr_tree", ok(&run(&c.kubeconfig, &["tree", "hr/web"])));
    insta::assert_snapshot!(
        "source_tree",
        ok(&run(&c.kubeconfig, &["tree", "gitrepository/fleet"]))
    );
    insta::assert_snapshot!(
        "source_tree_helm",
        ok(&run(&c.kubeconfig, &["tree", "helmrepository/charts"]))
    );
    // trace: an object of the release up to its source; a source
    insta::assert_snapshot!(
        "hr_trace_deployment",
        ok(&run(
            &c.kubeconfig,
            &["trace", "deployment/web", "-n", "web"]
        ))
    );
    insta::assert_snapshot!(
        "source_trace",
        ok(&run(
            &c.kubeconfig,
            &["trace", "gitrepository/fleet", "-n", NS]
        ))
    );
    // logs
    insta::assert_snapshot!("hr_logs", ok(&run(&c.kubeconfig, &["logs", "hr/web"])));
    insta::assert_snapshot!(
        "source_logs",
        ok(&run(&c.kubeconfig, &["logs", "helmrepository/charts"]))
    );

    // reconcile a source
    let stand_in = handle_next_request(
        &c,
        "GitRepository",
        "fleet",
        true,
        "Succeeded",
        "stored artifact for revision 'main@sha1:89abcdef'",
    );
    let reconciled = run(
        &c.kubeconfig,
        &["reconcile", "source", "git", "fleet", "--timeout", "20s"],
    );
    stand_in.join().expect("stand-in");
    insta::assert_snapshot!("source_reconcile", ok(&reconciled));

    // why: a source that fetched, then one that cannot
    insta::assert_snapshot!(
        "source_why_ready",
        ok(&run(&c.kubeconfig, &["why", "gitrepository/fleet"]))
    );
    c.server
        .side_door()
        .flux_ready(
            &r("GitRepository", "fleet"),
            false,
            "GitOperationFailed",
            "failed to checkout and determine revision: authentication required",
        )
        .expect("status");
    insta::assert_snapshot!(
        "source_why_failing",
        ok(&run(&c.kubeconfig, &["why", "gitrepository/fleet"]))
    );

    // suspend both, status lists them, resume both
    insta::assert_snapshot!(
        "hr_suspend",
        ok(&run(
            &c.kubeconfig,
            &[
                "suspend",
                "hr",
                "web",
                "--reason",
                "pinning the chart by hand"
            ]
        ))
    );
    insta::assert_snapshot!(
        "source_suspend",
        ok(&run(&c.kubeconfig, &["suspend", "source", "git", "fleet"]))
    );
    let status = run(&c.kubeconfig, &["status"]);
    insta::assert_snapshot!("hr_and_source_status", normalise(&ok(&status)));
    let refused = run(&c.kubeconfig, &["why", "hr/web"]);
    assert!(
        refused
            .stdout
            .contains("capstan resume hr web -n flux-system"),
        "{}",
        refused.stdout
    );
    let stand_in = handle_next_request(
        &c,
        "HelmRelease",
        "web",
        true,
        "UpgradeSucceeded",
        "Helm upgrade succeeded for release web/web.v2 with chart web@1.2.4",
    );
    let resumed = run(&c.kubeconfig, &["resume", "hr", "web", "--timeout", "20s"]);
    stand_in.join().expect("stand-in");
    insta::assert_snapshot!("hr_resume", ok(&resumed));
    let stand_in = handle_next_request(
        &c,
        "GitRepository",
        "fleet",
        true,
        "Succeeded",
        "stored artifact for revision 'main@sha1:89abcdef'",
    );
    let resumed = run(
        &c.kubeconfig,
        &["resume", "source", "git", "fleet", "--timeout", "20s"],
    );
    stand_in.join().expect("stand-in");
    insta::assert_snapshot!("source_resume", ok(&resumed));
}
