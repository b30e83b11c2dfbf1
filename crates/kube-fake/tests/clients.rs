//! Real clients against kube-fake: kubectl (`apply --server-side`, conflicts and
//! `--force-conflicts`, `get -o yaml` managed fields, `wait`, `scale`, `delete`, CRDs and their
//! custom resources, namespace deletion, `explain` over `/openapi/v3`'s field schemas and
//! `--validate=strict`) and helm 4 (`install --wait`, `list`, `uninstall`).
//! The tools come from `CAPSTAN_ORACLES` (or PATH); without them the tests skip with a message,
//! unless `CAPSTAN_ORACLES` is set, when they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kube_fake::{Options, Server};

fn tool(name: &str) -> Option<PathBuf> {
    capstan_testkit::oracle(name)
}

struct Fixture {
    server: kube_fake::Handle,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let server = Server::spawn(Options::default()).expect("server starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("kubeconfig");
        Fixture {
            server,
            dir,
            kubeconfig,
        }
    }

    fn run(&self, bin: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .env("HELM_CACHE_HOME", self.dir.path().join("helm-cache"))
            .env("HELM_CONFIG_HOME", self.dir.path().join("helm-config"))
            .env("HELM_DATA_HOME", self.dir.path().join("helm-data"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("tool runs");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("tool output")
    }

    fn ok(&self, bin: &Path, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(bin, args, stdin);
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{}{}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
";

#[test]
fn kubectl_server_side_apply_wait_scale_and_delete() {
    let Some(kubectl) = tool("kubectl") else {
        eprintln!(
            "skipped: kubectl not found (install it with ../shared/tools/install-oracles.sh)"
        );
        return;
    };
    let f = Fixture::new();
    let out = f.ok(
        &kubectl,
        &["apply", "--server-side", "-f", "-"],
        Some(DEPLOYMENT),
    );
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let yaml = f.ok(
        &kubectl,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "yaml",
            "--show-managed-fields",
        ],
        None,
    );
    assert!(
        yaml.contains("manager: kubectl") && yaml.contains("operation: Apply"),
        "{yaml}"
    );
    assert!(
        yaml.contains(r#"k:{"containerPort":80,"protocol":"TCP"}"#),
        "{yaml}"
    );
    // The controllers write the rollout's status after a short delay: wait for it, so the
    // resourceVersion read next is the settled one (as it would have to be on a real cluster).
    f.ok(
        &kubectl,
        &[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "--timeout=20s",
        ],
        None,
    );
    let rv = f.ok(
        &kubectl,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
        None,
    );

    // The same apply again writes nothing.
    f.server.side_door().reset_counters();
    f.ok(
        &kubectl,
        &["apply", "--server-side", "-f", "-"],
        Some(DEPLOYMENT),
    );
    let rv2 = f.ok(
        &kubectl,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
        None,
    );
    assert_eq!(rv, rv2, "an unchanged apply keeps the resourceVersion");
    assert_eq!(f.server.side_door().counters().verb("apply"), 1);

    // Another manager changing an owned field conflicts, then takes it with --force-conflicts.
    let changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3");
    let out = f.run(
        &kubectl,
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&changed),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas"#),
        "{err}"
    );
    f.ok(
        &kubectl,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&changed),
    );
    let replicas = f.ok(
        &kubectl,
        &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"],
        None,
    );
    assert_eq!(replicas, "3");

    // The controllers roll it out.
    f.ok(
        &kubectl,
        &[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "--timeout=20s",
        ],
        None,
    );
    f.ok(&kubectl, &["scale", "deploy/web", "--replicas=1"], None);
    f.ok(
        &kubectl,
        &[
            "wait",
            "--for=jsonpath={.status.readyReplicas}=1",
            "deploy/web",
            "--timeout=20s",
        ],
        None,
    );
    f.ok(&kubectl, &["delete", "deploy", "web"], None);
    let out = f.run(&kubectl, &["get", "deploy", "web"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains(r#"deployments.apps "web" not found"#));
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              tags: {type: array, items: {type: string}, x-kubernetes-list-type: set}
";

#[test]
fn kubectl_crds_become_established_and_namespaces_finalize() {
    let Some(kubectl) = tool("kubectl") else {
        eprintln!("skipped: kubectl not found");
        return;
    };
    let f = Fixture::new();
    f.ok(&kubectl, &["apply", "--server-side", "-f", "-"], Some(CRD));
    f.ok(
        &kubectl,
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=20s",
        ],
        None,
    );
    f.ok(&kubectl, &["create", "namespace", "team"], None);
    let cr = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: team}\nspec: {size: 2, tags: [a, b]}\n";
    f.ok(&kubectl, &["apply", "--server-side", "-f", "-"], Some(cr));
    let size = f.ok(
        &kubectl,
        &[
            "get",
            "wd",
            "w",
            "-n",
            "team",
            "-o",
            "jsonpath={.spec.size}",
        ],
        None,
    );
    assert_eq!(size, "2");
    let yaml = f.ok(
        &kubectl,
        &[
            "get",
            "widget",
            "w",
            "-n",
            "team",
            "-o",
            "yaml",
            "--show-managed-fields",
        ],
        None,
    );
    assert!(
        yaml.contains(r#"v:"a": {}"#),
        "set-list items are owned by value:\n{yaml}"
    );
    // Deleting the namespace takes its contents with it.
    f.ok(
        &kubectl,
        &["delete", "namespace", "team", "--timeout=20s"],
        None,
    );
    let out = f.run(&kubectl, &["get", "namespace", "team"], None);
    assert!(!out.status.success());
}

#[test]
fn helm_installs_lists_and_uninstalls() {
    let Some(helm) = tool("helm") else {
        eprintln!("skipped: helm not found (install it with ../shared/tools/install-oracles.sh)");
        return;
    };
    let f = Fixture::new();
    let chart = f.dir.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(
        chart.join("templates/all.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .Release.Name }}-cm'}\ndata: {a: '1'}\n---\n".to_string()
            + &DEPLOYMENT.replace("name: web\n  labels", "name: '{{ .Release.Name }}-web'\n  labels"),
    )
    .expect("template");
    let chart_path = chart.to_string_lossy().into_owned();
    let out = f.ok(
        &helm,
        &["install", "demo", &chart_path, "--wait", "--timeout", "30s"],
        None,
    );
    assert!(out.contains("STATUS: deployed"), "{out}");
    let list = f.ok(&helm, &["list"], None);
    assert!(list.contains("demo") && list.contains("deployed"), "{list}");
    let door = f.server.side_door();
    let secret = door
        .get(&kube_fake::ObjectRef::new(
            "v1",
            "Secret",
            "default",
            "sh.helm.release.v1.demo.v1",
        ))
        .expect("the release secret");
    assert_eq!(secret["type"], "helm.sh/release.v1");
    assert_eq!(secret["metadata"]["labels"]["status"], "deployed");
    let cm = door
        .get(&kube_fake::ObjectRef::new(
            "v1",
            "ConfigMap",
            "default",
            "demo-cm",
        ))
        .expect("configmap");
    assert_eq!(
        cm["metadata"]["managedFields"][0]["manager"], "helm",
        "helm 4 applies server-side"
    );
    f.ok(&helm, &["uninstall", "demo"], None);
    assert!(
        door.get(&kube_fake::ObjectRef::new(
            "v1",
            "ConfigMap",
            "default",
            "demo-cm"
        ))
        .is_none()
    );
}

/// `/openapi/v3` carries field schemas: `kubectl explain` walks built-in and custom kinds
/// (types from the 1.33 table and from the CRD's schema), and `kubectl apply --validate=strict`
/// rejects an unknown field (kubectl leaves the check to the server, which the document says
/// supports `fieldValidation`) while accepting a valid object.
#[test]
fn kubectl_explain_and_strict_validation_read_the_schemas() {
    let Some(kubectl) = tool("kubectl") else {
        eprintln!("skipped: kubectl not found");
        return;
    };
    let f = Fixture::new();
    let replicas = f.ok(&kubectl, &["explain", "deployment.spec.replicas"], None);
    assert!(replicas.contains("FIELD: replicas <integer>"), "{replicas}");
    let containers = f.ok(&kubectl, &["explain", "pods.spec.containers"], None);
    assert!(
        containers.contains("FIELD: containers <[]Container>"),
        "{containers}"
    );
    assert!(containers.contains("image\t<string>"), "{containers}");
    let recursive = f.ok(
        &kubectl,
        &["explain", "deployment.spec.strategy", "--recursive"],
        None,
    );
    assert!(recursive.contains("maxSurge"), "{recursive}");

    f.ok(&kubectl, &["apply", "--server-side", "-f", "-"], Some(CRD));
    f.ok(
        &kubectl,
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=20s",
        ],
        None,
    );
    let widget = f.ok(&kubectl, &["explain", "widget.spec"], None);
    assert!(widget.contains("size\t<integer>"), "{widget}");
    assert!(widget.contains("tags\t<[]string>"), "{widget}");
    let meta = f.ok(&kubectl, &["explain", "widget.metadata.labels"], None);
    assert!(meta.contains("<map[string]string>"), "{meta}");

    let bad = DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  replicaz: 3\n");
    let out = f.run(
        &kubectl,
        &["apply", "--validate=strict", "-f", "-"],
        Some(&bad),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unknown field is refused");
    assert!(stderr.contains("replicaz"), "{stderr}");
    f.ok(
        &kubectl,
        &["apply", "--validate=strict", "-f", "-"],
        Some(DEPLOYMENT),
    );
}
