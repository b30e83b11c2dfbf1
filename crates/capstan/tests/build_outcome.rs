//! Regression tests of issue 12 (one build outcome every command trusts), each a small repository
//! written here: an entry point's own spec reaches check, diff and plan; a SOPS-encrypted Secret
//! is known as encrypted; a change to a unit that cannot be rendered is never "no differences";
//! `app remove` reads the namespace the parent gives the app's Kustomization; a folder with no
//! Flux objects is an error. Snapshots hold exit code, stdout and stderr.

use std::path::Path;

use capstan_testkit::git::{self, commit_all, init_and_commit, write_tree};

/// Runs capstan with `args` in `dir`; exit code, stdout and stderr with `dir` redacted.
fn capstan(dir: &Path, args: &[&str]) -> String {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .expect("capstan runs");
    let shown = dir.display().to_string();
    let real = std::fs::canonicalize(dir)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let clean = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).replace(&real, "<repo>");
        redact_commit(&text.replace(&shown, "<repo>"))
    };
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        clean(&output.stdout),
        clean(&output.stderr)
    )
}

/// `base 1a2b3c4d5e6f (HEAD)` → `base <commit> (HEAD)`.
fn redact_commit(text: &str) -> String {
    match text.find("base ") {
        Some(at)
            if text[at + 5..]
                .chars()
                .take(12)
                .all(|c| c.is_ascii_hexdigit()) =>
        {
            format!("{}base <commit>{}", &text[..at], &text[at + 17..])
        }
        _ => text.to_owned(),
    }
}

const SOURCE: &str = "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: ssh://git@example.com/lab
";

/// A root sync file whose Kustomization `app` (prune: true) no other Kustomization renders.
fn entry_point_repo(dir: &Path) {
    write_tree(
        dir,
        &[
            (
                "clusters/lab/sync.yaml",
                &format!(
                    "{SOURCE}---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: app
  namespace: flux-system
spec:
  interval: 10m
  path: ./app
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"
                ),
            ),
            (
                "app/kustomization.yaml",
                "resources: [namespace.yaml, pvc.yaml, settings.yaml]\n",
            ),
            (
                "app/namespace.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n",
            ),
            (
                "app/pvc.yaml",
                "apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: team
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
",
            ),
            (
                "app/settings.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\ndata:\n  a: \"1\"\n",
            ),
        ],
    );
}

#[test]
fn an_entry_points_prune_reaches_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    entry_point_repo(dir.path());
    let out = capstan(dir.path(), &["check", "--offline"]);
    assert!(out.contains("namespace-no-prune"), "{out}");
    assert!(out.contains("flux/prune-pvc"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn an_entry_points_prune_reaches_diff_and_plan() {
    if !git::available() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    entry_point_repo(dir.path());
    init_and_commit(dir.path(), "seed");
    std::fs::remove_file(dir.path().join("app/settings.yaml")).expect("rm");
    write_tree(
        dir.path(),
        &[(
            "app/kustomization.yaml",
            "resources: [namespace.yaml, pvc.yaml]\n",
        )],
    );
    let diff = capstan(dir.path(), &["diff", "all", "--base", "HEAD", "--offline"]);
    assert!(diff.contains("deleted"), "{diff}");
    insta::assert_snapshot!("entry_point_diff", diff);
    let plan = capstan(dir.path(), &["plan", "--base", "HEAD", "--offline"]);
    insta::assert_snapshot!("entry_point_plan", plan);
}

const AGE_RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

#[test]
fn an_encrypted_secret_is_not_plaintext_with_or_without_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let encrypted = format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: sealed
  namespace: team
type: Opaque
stringData:
  password: ENC[AES256_GCM,data:c2VjcmV0,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
sops:
  age:
    - recipient: {AGE_RECIPIENT}
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        YWdl
        -----END AGE ENCRYPTED FILE-----
  lastmodified: \"2026-01-01T00:00:00Z\"
  mac: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
  encrypted_regex: ^(data|stringData)$
  version: 3.11.0
"
    );
    write_tree(
        dir.path(),
        &[
            (
                "clusters/lab/sync.yaml",
                &format!(
                    "{SOURCE}---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: secrets
  namespace: flux-system
spec:
  interval: 10m
  path: ./secrets
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  decryption:
    provider: sops
    secretRef:
      name: sops-age
"
                ),
            ),
            (
                "secrets/kustomization.yaml",
                "resources: [sealed.yaml, plain.yaml]\n",
            ),
            ("secrets/sealed.yaml", &encrypted),
            (
                "secrets/plain.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\n  namespace: team\nstringData:\n  password: hunter2\n",
            ),
        ],
    );
    let out = capstan(dir.path(), &["check", "--offline"]);
    let plaintext: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("no-plaintext-secret"))
        .collect();
    assert_eq!(plaintext.len(), 1, "{out}");
    assert!(plaintext[0].contains("plain"), "{out}");
    assert!(!plaintext[0].contains("sealed"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_change_to_a_unit_failing_on_both_sides_is_not_compared() {
    if !git::available() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            (
                "clusters/lab/sync.yaml",
                &format!(
                    "{SOURCE}---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: web
  namespace: flux-system
spec:
  interval: 10m
  path: ./web
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substitute:
      CLUSTER: lab
"
                ),
            ),
            ("web/kustomization.yaml", "resources: [deploy.yaml]\n"),
            (
                "web/deploy.yaml",
                "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${APP_NAMESPACE}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27.0
",
            ),
        ],
    );
    init_and_commit(dir.path(), "seed");
    let text = std::fs::read_to_string(dir.path().join("web/deploy.yaml")).expect("read");
    std::fs::write(
        dir.path().join("web/deploy.yaml"),
        text.replace("nginx:1.27.0", "nginx:1.27.1"),
    )
    .expect("write");
    let out = capstan(dir.path(), &["diff", "all", "--base", "HEAD", "--offline"]);
    assert!(!out.starts_with("exit: 0"), "{out}");
    assert!(!out.contains("no differences\n"), "{out}");
    assert!(out.contains("not compared"), "{out}");
    insta::assert_snapshot!(out);
    let allowed = capstan(
        dir.path(),
        &[
            "diff",
            "all",
            "--base",
            "HEAD",
            "--offline",
            "--allow-skipped",
        ],
    );
    assert!(allowed.contains("not compared"), "{allowed}");
    insta::assert_snapshot!("not_compared_allowed", allowed);
    // a commit elsewhere leaves the failing unit a warning
    commit_all(dir.path(), "bump");
    write_tree(dir.path(), &[("README.md", "lab\n")]);
    let untouched = capstan(
        dir.path(),
        &["diff", "all", "--base", "HEAD", "--offline", "--full"],
    );
    assert!(!untouched.contains("not compared"), "{untouched}");
}

#[test]
fn app_remove_reads_the_namespace_the_parent_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            (
                "clusters/lab/flux-system/gotk-sync.yaml",
                &format!(
                    "{SOURCE}---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/lab
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"
                ),
            ),
            (
                "clusters/lab/flux-system/kustomization.yaml",
                "resources: [gotk-sync.yaml]\n",
            ),
            (
                "clusters/lab/kustomization.yaml",
                "namespace: flux-system\nresources: [flux-system, apps.yaml]\n",
            ),
            (
                "clusters/lab/apps.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: store
spec:
  interval: 10m
  path: ./apps/store
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
",
            ),
            (
                "apps/store/kustomization.yaml",
                "resources: [namespace.yaml, pvc.yaml, settings.yaml]\n",
            ),
            (
                "apps/store/namespace.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: store\n",
            ),
            (
                "apps/store/pvc.yaml",
                "apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: store
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
",
            ),
            (
                "apps/store/settings.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: store\n",
            ),
        ],
    );
    let out = capstan(
        dir.path(),
        &[
            "app",
            "remove",
            "store",
            "--dry-run",
            "--path",
            ".",
            "--apps-file",
            "clusters/lab/apps.yaml",
        ],
    );
    assert!(!out.contains("(the render is empty)"), "{out}");
    assert!(out.contains("PersistentVolumeClaim store/data"), "{out}");
    assert!(out.contains("ConfigMap store/settings"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_folder_without_flux_objects_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[(
            "plain/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        )],
    );
    let out = capstan(dir.path(), &["check", "--offline"]);
    assert!(out.starts_with("exit: 2"), "{out}");
    insta::assert_snapshot!(out);
}
