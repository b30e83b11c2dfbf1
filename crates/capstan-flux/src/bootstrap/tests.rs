use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan_core::{Fs, MemFs, OsFs, Value};

use super::resolve::check_machine;
use super::status::need_digests;
use super::*;

fn example_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/home-ops")
}

/// The example repository in memory, so a test can change a file.
fn example_in_memory() -> MemFs {
    fn walk(fs: &MemFs, from: &Path, to: &Path) {
        for entry in std::fs::read_dir(from).expect("example folder reads") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let target = to.join(entry.file_name());
            if path.is_dir() {
                walk(fs, &path, &target);
            } else {
                fs.add_file(&target, std::fs::read(&path).expect("file reads"));
            }
        }
    }
    let fs = MemFs::new();
    walk(&fs, &example_root(), Path::new("/repo"));
    fs
}

fn load(fs: &dyn Fs, root: &Path) -> ResolvedPlan {
    let text = fs
        .read_to_string(&root.join(PLAN_FILE))
        .expect("plan reads");
    let plan = parse_plan(Path::new(PLAN_FILE), &text).expect("plan parses");
    resolve(fs, root, &plan).unwrap_or_else(|e| panic!("plan resolves: {e:?}"))
}

/// A journal in which every step succeeded with its current inputs.
fn all_done(plan: &ResolvedPlan) -> Journal {
    let mut journal = Journal::new(&plan.plan.name);
    for step in &plan.steps {
        journal.start(
            step,
            need_digests(plan, &step.step.name),
            "2026-12-04T10:00:00Z",
        );
        journal.finish(
            &step.step.name,
            StepOutcome::Succeeded,
            None,
            "2026-12-04T10:01:00Z",
        );
    }
    journal
}

struct FakeMachine {
    programs: Vec<&'static str>,
    vars: BTreeMap<&'static str, &'static str>,
}

impl Machine for FakeMachine {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| (*v).to_owned())
    }
    fn which(&self, program: &str) -> Option<PathBuf> {
        self.programs
            .contains(&program)
            .then(|| PathBuf::from(format!("/fake/{program}")))
    }
}

#[test]
fn example_plan_orders_steps_and_reads_cilium_from_its_helmrelease() {
    let plan = load(&OsFs, &example_root());
    let order: Vec<&str> = plan.steps.iter().map(|s| s.step.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "talos",
            "cilium",
            "onepassword-namespace",
            "onepassword-credentials",
            "onepassword-connect-token",
            "external-secrets",
            "onepassword-connect",
            "flux",
            "flux-git-credentials",
            "gitops-ready"
        ]
    );
    let cilium = plan.step("cilium").expect("cilium step");
    let helm = cilium.helm.as_ref().expect("a helm install");
    assert_eq!(helm.release, "cilium");
    assert_eq!(helm.namespace, "kube-system");
    assert_eq!(helm.version.as_deref(), Some("1.18.4"));
    assert_eq!(
        helm.chart,
        ChartRef::Repository {
            url: "https://helm.cilium.io".into(),
            name: "cilium".into()
        }
    );
    // Values come from the cilium-values ConfigMap the Kustomization generates.
    assert_eq!(helm.values.get("k8sServicePort"), Some(&Value::from(7445)));
    assert!(
        cilium
            .input_paths
            .contains(&PathBuf::from("infrastructure/bootstrap/cilium")),
        "{:?}",
        cilium.input_paths
    );
    let talos = plan.step("talos").expect("talos step");
    assert_eq!(talos.talos_nodes.len(), 3);
    assert_eq!(
        talos.talos_nodes[0].config,
        PathBuf::from("clusterconfig/home-ops-home-ops-cp-01.yaml")
    );
    assert!(
        talos
            .input_paths
            .contains(&PathBuf::from("talos/patches/cluster.yaml"))
    );
    assert!(talos.input_paths.contains(&PathBuf::from("talconfig.yaml")));
}

#[test]
fn status_moves_from_pending_to_done() {
    let plan = load(&OsFs, &example_root());
    let empty = plan_status(&plan, &Journal::new("home-ops"));
    assert!(empty.iter().all(|s| s.state == StepState::Pending));
    assert_eq!(empty[0].reasons, ["never applied"]);
    let done = plan_status(&plan, &all_done(&plan));
    assert!(done.iter().all(|s| s.state == StepState::Done), "{done:?}");
}

#[test]
fn changing_cilium_values_marks_cilium_and_its_dependents_changed() {
    let fs = example_in_memory();
    let root = Path::new("/repo");
    let before = load(&fs, root);
    let journal = all_done(&before);
    let values = root.join("infrastructure/bootstrap/cilium/helm-values.yaml");
    let text = fs.read_to_string(&values).expect("values read");
    fs.add_file(&values, text.replace("replicas: 2", "replicas: 3"));
    let after = load(&fs, root);
    let status = plan_status(&after, &journal);
    let changed: Vec<&str> = status
        .iter()
        .filter(|s| s.state == StepState::Changed)
        .map(|s| s.name.as_str())
        .collect();
    let mut expected = vec!["cilium"];
    expected.extend(after.dependents("cilium"));
    assert_eq!(changed, expected);
    assert!(!changed.contains(&"talos"));
    let cilium = status.iter().find(|s| s.name == "cilium").expect("cilium");
    assert_eq!(cilium.reasons, ["values changed"]);
    let es = status
        .iter()
        .find(|s| s.name == "external-secrets")
        .expect("external-secrets");
    assert_eq!(es.reasons, ["needs cilium, which changed"]);
}

#[test]
fn a_talos_patch_changes_the_talos_step_and_everything_after() {
    let fs = example_in_memory();
    let root = Path::new("/repo");
    let journal = all_done(&load(&fs, root));
    fs.add_file(root.join("talos/patches/cluster.yaml"), "cluster: {}\n");
    let status = plan_status(&load(&fs, root), &journal);
    assert!(status.iter().all(|s| s.state == StepState::Changed));
    assert!(
        status[0]
            .reasons
            .contains(&"file:talos/patches/cluster.yaml changed".to_owned()),
        "{:?}",
        status[0].reasons
    );
}

#[test]
fn an_interrupted_run_resumes_where_it_stopped() {
    let plan = load(&OsFs, &example_root());
    let mut journal = all_done(&plan);
    // The run after a change re-applied cilium, then was killed while external-secrets ran.
    let mut changed = plan.clone();
    changed.steps[1].digest = "re-applied".into();
    journal.start(&changed.steps[1], need_digests(&changed, "cilium"), "t2");
    journal.finish("cilium", StepOutcome::Succeeded, None, "t3");
    journal.start(
        changed.step("external-secrets").expect("step"),
        need_digests(&changed, "external-secrets"),
        "t4",
    );
    let status = plan_status(&changed, &journal);
    let s = |name: &str| status.iter().find(|s| s.name == name).expect("step");
    assert_eq!(s("talos").state, StepState::Done);
    assert_eq!(s("cilium").state, StepState::Done);
    assert_eq!(s("external-secrets").state, StepState::Pending);
    assert_eq!(s("onepassword-namespace").state, StepState::Changed);
    assert_eq!(
        s("onepassword-namespace").reasons,
        ["cilium was re-applied since this step ran"]
    );
    assert_eq!(s("onepassword-connect").state, StepState::Pending);
}

#[test]
fn journal_round_trips_and_holds_no_values() {
    let plan = load(&OsFs, &example_root());
    let journal = all_done(&plan);
    let text = journal.to_json();
    assert_eq!(Journal::from_json(&text).expect("reads"), journal);
    assert!(!text.contains("7445"), "values are digested, not written");
    assert!(
        !text.contains("op://"),
        "secret references are digested too"
    );
    assert!(Journal::from_json("{\"version\": 9, \"plan\": \"x\"}").is_err());
}

fn plan_text(steps: &str) -> String {
    format!(
        "apiVersion: bootstrap.capstan.dev/v1alpha1\nkind: BootstrapPlan\nmetadata: {{name: t}}\nspec:\n  steps:\n{steps}"
    )
}

fn parse_error(steps: &str) -> String {
    parse_plan(Path::new("bootstrap.yaml"), &plan_text(steps))
        .expect_err("must not parse")
        .to_string()
}

#[test]
fn parse_errors_name_file_document_and_field() {
    let cases = [
        (
            "    - name: a\n      helm: {helmRelease: kube-system/cilium, chart: x}\n",
            "bootstrap.yaml: document 0: spec.steps[0].helm.chart: unknown field",
        ),
        (
            "    - name: a\n",
            "bootstrap.yaml: document 0: spec.steps[0]: a step needs one of",
        ),
        (
            "    - name: a\n      wait: {objects: [{apiVersion: v1, kind: Pod, name: p}]}\n      manifests: {paths: [x]}\n",
            "spec.steps[0].wait: a step has exactly one kind",
        ),
        (
            "    - name: a\n      timeout: soon\n      manifests: {paths: [x]}\n",
            "spec.steps[0].timeout: \"soon\" is not a duration",
        ),
        (
            "    - name: a\n      manifests: {paths: [../outside]}\n",
            "spec.steps[0].manifests.paths[0]: must stay inside the repository",
        ),
        (
            "    - name: a\n      manifests: {paths: [x]}\n    - name: a\n      manifests: {paths: [y]}\n",
            "spec.steps[1].name: a step named \"a\" comes earlier",
        ),
        (
            "    - name: s\n      secret: {namespace: n, name: s, data: [{key: k, onePassword: vault/item}]}\n",
            "spec.steps[0].secret.data[0].onePassword: must be a secret reference",
        ),
        (
            "    - name: h\n      helm: {helmRelease: cilium}\n",
            "spec.steps[0].helm.helmRelease: \"cilium\" is not namespace/name",
        ),
    ];
    for (steps, expected) in cases {
        let message = parse_error(steps);
        assert!(message.contains(expected), "{message}\nwanted: {expected}");
    }
    let wrong_kind = parse_plan(
        Path::new("b.yaml"),
        "apiVersion: bootstrap.capstan.dev/v1alpha1\nkind: Plan\nspec: {steps: []}\n",
    )
    .expect_err("wrong kind");
    assert_eq!(wrong_kind.field, "kind");
}

fn resolve_errors(fs: &MemFs, steps: &str) -> Vec<String> {
    let plan = parse_plan(Path::new("bootstrap.yaml"), &plan_text(steps)).expect("parses");
    resolve(fs, Path::new("/r"), &plan)
        .expect_err("must not resolve")
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn resolve_reports_cycles_unknown_needs_and_missing_paths() {
    let fs = MemFs::new();
    fs.add_file(
        "/r/crds/a.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
    );
    let errors = resolve_errors(
        &fs,
        "    - name: a\n      needs: [b]\n      manifests: {paths: [crds]}\n    - name: b\n      needs: [a]\n      manifests: {paths: [crds]}\n",
    );
    assert_eq!(
        errors,
        ["bootstrap.yaml: document 0: spec.steps[0].needs: a cycle in needs among: a, b"]
    );
    let errors = resolve_errors(
        &fs,
        "    - name: a\n      needs: [nope]\n      manifests: {paths: [missing, crds]}\n",
    );
    assert_eq!(
        errors,
        [
            "bootstrap.yaml: document 0: spec.steps[0].needs[0]: no step is named \"nope\"",
            "bootstrap.yaml: document 0: spec.steps[0].manifests.paths[0]: missing: no such file or folder"
        ]
    );
}

#[test]
fn resolve_reports_a_helmrelease_that_does_not_exist() {
    let text = plan_text("    - name: c\n      helm: {helmRelease: kube-system/cilum}\n");
    let plan = parse_plan(Path::new("bootstrap.yaml"), &text).expect("parses");
    let errors = resolve(&OsFs, &example_root(), &plan).expect_err("no such release");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "spec.steps[0].helm.helmRelease");
    assert!(
        errors[0]
            .message
            .contains("no HelmRelease kube-system/cilum")
    );
}

#[test]
fn check_machine_reports_missing_programs_variables_and_unreadable_sops() {
    let fs = MemFs::new();
    fs.add_file("/r/talconfig.yaml", "clusterName: c\nnodes: []\n");
    fs.add_file("/r/plain.yaml", "token: not-encrypted\n");
    let text = plan_text(
        "    - name: t\n      talos: {talconfig: talconfig.yaml}\n    - name: s\n      secret:\n        namespace: n\n        name: s\n        data:\n          - {key: a, onePassword: op://v/i/f}\n          - {key: b, env: TOKEN}\n          - {key: c, sops: {file: plain.yaml, path: token}}\n          - {key: d, sops: {file: gone.yaml, path: token}}\n",
    );
    let plan = parse_plan(Path::new("bootstrap.yaml"), &text).expect("parses");
    let machine = FakeMachine {
        programs: vec![],
        vars: BTreeMap::new(),
    };
    let errors: Vec<String> = check_machine(
        &fs,
        Path::new("/r"),
        &plan,
        &machine,
        &crate::sops::Keys::none(),
    )
    .into_iter()
    .map(|e| format!("{}: {}", e.field, e.message))
    .collect();
    assert_eq!(
        errors,
        [
            "spec.steps[0].talos: talosctl is not on the PATH",
            "spec.steps[0].talos.talconfig: talhelper is not on the PATH",
            "spec.steps[1].secret.data[0]: op (the 1Password CLI) is not on the PATH",
            "spec.steps[1].secret.data[1]: the environment variable TOKEN is not set",
            "spec.steps[1].secret.data[2].sops: plain.yaml: not a SOPS-encrypted file",
            "spec.steps[1].secret.data[3].sops: gone.yaml: not found",
        ]
    );
    let ready = FakeMachine {
        programs: vec!["talosctl", "talhelper", "op"],
        vars: BTreeMap::from([("TOKEN", "s3cr3t")]),
    };
    let errors = check_machine(
        &fs,
        Path::new("/r"),
        &plan,
        &ready,
        &crate::sops::Keys::none(),
    );
    assert_eq!(errors.len(), 2, "only the two SOPS sources: {errors:?}");
    assert!(!format!("{errors:?}").contains("s3cr3t"));
}

#[test]
fn secret_values_never_print() {
    let value = secrets::SecretValue::new(b"hunter2".to_vec());
    assert_eq!(format!("{value:?} {value}"), "<redacted> <redacted>");
    assert_eq!(value.expose(), b"hunter2");
}

#[test]
fn renders_text_and_graphs() {
    let plan = load(&OsFs, &example_root());
    let status = plan_status(&plan, &Journal::new("home-ops"));
    let text = render::text(&plan, &status);
    assert!(text.starts_with("bootstrap plan home-ops (bootstrap.yaml): 10 steps\n"));
    assert!(text.contains("  2. cilium"));
    assert!(text.ends_with("0 done, 0 changed, 10 pending\n"));
    let dot = render::dot(&status);
    assert!(dot.contains("\"talos\" -> \"cilium\";"));
    let mermaid = render::mermaid(&status);
    assert!(mermaid.contains("onepassword_namespace --> onepassword_credentials"));
    let json: Value = serde_json::from_str(&render::json(&plan, &status)).expect("json");
    assert_eq!(json["steps"][1]["state"], "pending");
}

/// A fake program: a shell script that logs its arguments to `log` and runs `body`.
#[cfg(unix)]
fn fake_program(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let log = dir.join("calls.log");
    let script = format!(
        "#!/bin/sh\necho \"{name} $*\" >> '{}'\n{body}\n",
        log.display()
    );
    std::fs::write(&path, script).expect("script writes");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[cfg(unix)]
#[test]
fn talos_step_drives_talhelper_and_talosctl_and_reruns_cleanly() {
    use talos::{TalosCli, run_talos_step};
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("bootstrapped");
    // Node .11 is in maintenance mode until configured; etcd bootstraps once.
    let talosctl = fake_program(
        dir.path(),
        "talosctl",
        &format!(
            "case \"$*\" in\n\
             *'version --insecure --nodes 10.0.0.11'*) [ -f '{s}.11' ] && exit 1; exit 0;;\n\
             *'version --insecure'*) exit 1;;\n\
             *'apply-config --insecure --nodes 10.0.0.11'*) touch '{s}.11';;\n\
             *bootstrap*) [ -f '{s}' ] && {{ echo 'rpc error: code = AlreadyExists desc = etcd data directory is not empty' >&2; exit 1; }}; touch '{s}';;\n\
             *kubeconfig*) echo 'apiVersion: v1' > \"$7\";;\n\
             esac",
            s = state.display()
        ),
    );
    let talhelper = fake_program(dir.path(), "talhelper", "exit 0");
    let cli = TalosCli {
        talosctl,
        talhelper: Some(talhelper),
        talosconfig: PathBuf::from("clusterconfig/talosconfig"),
        root: dir.path().to_path_buf(),
    };
    let step = TalosStep {
        talconfig: Some(PathBuf::from("talconfig.yaml")),
        config_dir: PathBuf::from("clusterconfig"),
        kubeconfig: dir.path().join("kubeconfig"),
        ..TalosStep::default()
    };
    let nodes = [
        TalosNode {
            address: "10.0.0.11".into(),
            config: PathBuf::from("clusterconfig/c-cp1.yaml"),
            control_plane: true,
        },
        TalosNode {
            address: "10.0.0.12".into(),
            config: PathBuf::from("clusterconfig/c-w1.yaml"),
            control_plane: false,
        },
    ];
    let first = run_talos_step(&cli, &step, &nodes, 60).expect("first run");
    assert_eq!(first.installed, ["10.0.0.11"]);
    assert_eq!(first.reapplied, ["10.0.0.12"]);
    assert!(first.bootstrapped);
    assert!(dir.path().join("kubeconfig").is_file());
    let second = run_talos_step(&cli, &step, &nodes, 60).expect("second run");
    assert_eq!(second.installed, Vec::<String>::new());
    assert!(
        !second.bootstrapped,
        "etcd already bootstrapped is not an error"
    );
    let log = std::fs::read_to_string(dir.path().join("calls.log")).expect("log");
    let calls: Vec<&str> = log.lines().collect();
    assert_eq!(
        calls[..8],
        [
            "talhelper genconfig --config-file talconfig.yaml --out-dir clusterconfig",
            "talosctl version --insecure --nodes 10.0.0.11 --endpoints 10.0.0.11",
            "talosctl apply-config --insecure --nodes 10.0.0.11 --file clusterconfig/c-cp1.yaml",
            "talosctl version --insecure --nodes 10.0.0.12 --endpoints 10.0.0.12",
            "talosctl --talosconfig clusterconfig/talosconfig --nodes 10.0.0.12 apply-config --file clusterconfig/c-w1.yaml",
            "talosctl --talosconfig clusterconfig/talosconfig --nodes 10.0.0.11 bootstrap",
            &format!(
                "talosctl --talosconfig clusterconfig/talosconfig --nodes 10.0.0.11 kubeconfig --force {}",
                dir.path().join("kubeconfig").display()
            ),
            "talosctl --talosconfig clusterconfig/talosconfig --nodes 10.0.0.11 health --wait-timeout 60s",
        ]
    );
}

#[cfg(unix)]
#[test]
fn op_reads_references_and_its_failures_carry_no_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let op = fake_program(
        dir.path(),
        "op",
        "case \"$3\" in\n\
         op://home-ops/connect/token) printf 'tok-3f9a1c77e2';;\n\
         *) echo \"[ERROR] could not read secret '$3': item not found\" >&2; exit 1;;\n\
         esac",
    );
    let cli = secrets::OpCli { program: op };
    let value = cli.read("op://home-ops/connect/token").expect("reads");
    assert_eq!(value.expose(), b"tok-3f9a1c77e2");
    assert_eq!(format!("{value:?}"), "<redacted>");
    let error = cli
        .read("op://home-ops/missing/token")
        .expect_err("missing");
    assert!(error.to_string().contains("item not found"), "{error}");
    assert!(!error.to_string().contains("tok-3f9a1c77e2"));
}

#[test]
fn a_secret_step_becomes_a_secret_whose_values_appear_nowhere_else() {
    let fs = MemFs::new();
    let root = Path::new("/r");
    let text = plan_text(
        "    - name: creds\n      secret:\n        namespace: onepassword\n        name: onepassword-credentials\n        data:\n          - {key: token, env: CONNECT_TOKEN}\n          - {key: credentials.json, onePassword: op://home-ops/connect/credentials}\n",
    );
    fs.add_file(root.join(PLAN_FILE), &text);
    let plan = load(&fs, root);
    let machine = FakeMachine {
        programs: vec!["op"],
        vars: BTreeMap::from([("CONNECT_TOKEN", "env-secret-81f0d2")]),
    };
    struct FakeOp;
    impl OnePassword for FakeOp {
        fn read(&self, _: &str) -> Result<SecretValue, SecretError> {
            Ok(SecretValue::new(b"op-secret-c4a9e0".to_vec()))
        }
    }
    let step = plan.step("creds").expect("step");
    let StepKind::Secret(secret) = &step.step.kind else {
        panic!("a secret step");
    };
    let manifest = secrets::secret_manifest(
        secret,
        &fs,
        root,
        &crate::sops::Keys::none(),
        &machine,
        &FakeOp,
    )
    .expect("reads every source");
    assert_eq!(manifest["metadata"]["name"], "onepassword-credentials");
    assert_eq!(manifest["data"]["token"], "ZW52LXNlY3JldC04MWYwZDI=");
    let mut journal = all_done(&plan);
    journal.finish("creds", StepOutcome::Failed, Some("boom".into()), "t");
    let status = plan_status(&plan, &journal);
    let everything = format!(
        "{}{}{}{}{:?}",
        render::text(&plan, &status),
        render::json(&plan, &status),
        render::dot(&status),
        journal.to_json(),
        plan,
    );
    for value in [
        "env-secret-81f0d2",
        "op-secret-c4a9e0",
        "ZW52LXNlY3JldC04MWYwZDI=",
    ] {
        assert!(!everything.contains(value), "{value} leaked");
    }
}
