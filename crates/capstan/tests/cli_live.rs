//! `capstan apply`, `drift` and `diff --live` as a user runs them: the binary against kube-fake
//! through a kubeconfig, on `examples/home-ops` (the CRDs Flux and the charts would install, and
//! the chart workloads its health checks name, loaded first as fixtures).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/home-ops")
}

fn capstan(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .output()
        .expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None if lower.ends_with('s') => format!("{lower}es"),
        None => format!("{lower}s"),
    }
}

fn fixtures(door: &kube_fake::SideDoor, path: &Path) {
    let (code, out, err) = capstan(&[
        "build",
        "ks",
        "--path",
        path.to_str().expect("utf-8"),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let results: Value = serde_json::from_str(&out).expect("json");
    let mut kinds = BTreeSet::new();
    for result in results.as_array().expect("list") {
        for o in result["objects"].as_array().into_iter().flatten() {
            let api = o["object"]["apiVersion"].as_str().unwrap_or("");
            let kind = o["object"]["kind"].as_str().unwrap_or("");
            if let Some((group, version)) = api.rsplit_once('/')
                && !group.ends_with("k8s.io")
                && group != "apps"
            {
                let namespaced = o["object"]["metadata"].get("namespace").is_some();
                kinds.insert((
                    group.to_owned(),
                    version.to_owned(),
                    kind.to_owned(),
                    namespaced,
                ));
            }
        }
    }
    for (group, version, kind, namespaced) in &kinds {
        let plural = plural(kind);
        door.put(json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
            "metadata":{"name": format!("{plural}.{group}")},
            "spec":{"group": group, "scope": if *namespaced {"Namespaced"} else {"Cluster"},
                "names":{"kind": kind, "plural": plural, "singular": kind.to_ascii_lowercase(), "listKind": format!("{kind}List")},
                "versions":[{"name": version, "served": true, "storage": true, "subresources": {"status": {}},
                    "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields": true}}}]}}))
            .expect("CRD fixture");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for (group, _, kind, _) in &kinds {
        let r = kube_fake::ObjectRef::new(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            &format!("{}.{group}", plural(kind)),
        );
        while !door
            .get(&r)
            .is_some_and(|c| c.to_string().contains("Established"))
        {
            assert!(Instant::now() < deadline, "{kind} not established");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // What the charts would create and the health checks name.
    for (kind, ns, name) in [
        ("Deployment", "cert-manager", "cert-manager-webhook"),
        ("DaemonSet", "longhorn-system", "longhorn-manager"),
    ] {
        door.put(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns}}))
            .expect("namespace");
        let labels = json!({"app": name});
        door.put(json!({"apiVersion":"apps/v1","kind":kind,"metadata":{"name":name,"namespace":ns},
            "spec":{"replicas":1,"selector":{"matchLabels":labels},"template":{"metadata":{"labels":labels},
                "spec":{"containers":[{"name":"c","image":"chart:1"}]}}}}))
            .expect("workload");
    }
}

#[test]
fn apply_twice_then_drift_and_diff_live_are_clean() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = kube_fake::Server::spawn(kube_fake::Options {
        controller_delay: Duration::from_millis(20),
        ..kube_fake::Options::default()
    })
    .expect("kube-fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = server
        .write_kubeconfig(&dir.path().join("kubeconfig"))
        .expect("kubeconfig");
    let kubeconfig = kubeconfig.to_str().expect("utf-8");
    let path = example();
    let path = path.to_str().expect("utf-8");
    fixtures(server.side_door(), Path::new(path));

    let (code, out, err) = capstan(&[
        "apply",
        "all",
        "--path",
        path,
        "--kubeconfig",
        kubeconfig,
        "--timeout",
        "60s",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("flux-system/apps-whoami: ready:"), "{out}");
    assert!(
        out.lines()
            .last()
            .is_some_and(|l| l.starts_with("summary: ") && !l.starts_with("summary: 0 created")),
        "{out}"
    );

    server.side_door().reset_counters();
    let (code, out, err) = capstan(&["apply", "all", "--path", path, "--kubeconfig", kubeconfig]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.lines()
            .last()
            .is_some_and(|l| l.starts_with("summary: 0 created, 0 configured")),
        "{out}"
    );
    assert_eq!(
        server.side_door().counters().writes(),
        0,
        "a second apply writes nothing"
    );

    let (code, out, err) = capstan(&["drift", "--path", path, "--kubeconfig", kubeconfig]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("flux-system/apps-whoami: 4 in sync, 0 drifted, 0 missing, 0 stale"),
        "{out}"
    );

    let (code, out, err) = capstan(&[
        "diff",
        "ks",
        "--live",
        "--path",
        path,
        "--kubeconfig",
        kubeconfig,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("\"state\": \"insync\""), "{out}");
}
