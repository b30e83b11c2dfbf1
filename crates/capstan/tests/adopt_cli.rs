//! What a new user meets first: `capstan version` with the git revision, shell completions that
//! load, manual pages for every command, `--output-file`, colour and CI quietness, the `get`
//! hint that names `-A`, label selectors, and `get images`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn capstan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(workspace())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("capstan runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn version_names_the_git_revision() {
    let output = capstan(&["version"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("capstan {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(workspace())
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        // built from this checkout: the revision is HEAD's (or a later commit's build, never
        // "unknown")
        assert!(!text.contains("(unknown"), "{text}");
        let json: serde_json::Value =
            serde_json::from_slice(&capstan(&["version", "-o", "json"]).stdout).expect("json");
        let revision = json["revision"].as_str().expect("revision");
        assert_eq!(revision.len(), 12, "{json}");
        assert!(revision.chars().all(|c| c.is_ascii_hexdigit()), "{json}");
    }
    let flag = stdout(&capstan(&["--version"]));
    assert_eq!(flag, text, "--version and `capstan version` agree");
}

#[test]
fn completions_for_every_shell_and_a_one_line_error_otherwise() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let output = capstan(&["completion", shell]);
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(text.contains("capstan"), "{shell}");
        for sub in ["build", "diff", "completion", "get"] {
            assert!(text.contains(sub), "{shell} completes {sub}");
        }
    }
    let output = capstan(&["completion", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bash, zsh, fish, powershell"), "{err}");
}

#[test]
fn bash_completion_loads() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipped: bash is not installed");
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_capstan"));
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args([
            "-c",
            "source <(capstan completion bash); complete -p capstan",
        ])
        .env("PATH", path)
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("capstan"), "{}", stdout(&output));
}

/// The commands and subcommands clap knows, as `capstan-app-add` names.
fn page_names(help: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if line.trim().is_empty() || !line.starts_with("  ") {
                break;
            }
            if line.starts_with("   ") {
                continue; // a wrapped description
            }
            if let Some(word) = line.split_whitespace().next()
                && word != "help"
            {
                names.push(word.to_owned());
            }
        }
    }
    names
}

#[test]
fn man_pages_for_every_command_and_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = capstan(&["man", "--out-dir", dir.path().to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let top = stdout(&capstan(&["--help"]));
    let mut expected = vec!["capstan".to_owned()];
    for command in page_names(&top) {
        expected.push(format!("capstan-{command}"));
        let sub = stdout(&capstan(&[&command, "--help"]));
        for nested in page_names(&sub) {
            expected.push(format!("capstan-{command}-{nested}"));
        }
    }
    assert!(expected.len() > 12, "{expected:?}");
    for name in &expected {
        let page = dir.path().join(format!("{name}.1"));
        let text = std::fs::read_to_string(&page).unwrap_or_else(|_| panic!("{name}.1 written"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{name}.1 is roff"
        );
    }
    let diff = stdout(&capstan(&["man", "diff"]));
    assert!(diff.contains(".TH capstan-diff"), "{diff}");
    assert!(diff.contains("limit\\-bytes"), "the page lists the flags");
    let unknown = capstan(&["man", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(stderr(&unknown).lines().count(), 1, "{}", stderr(&unknown));
}

#[test]
fn output_file_takes_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ks.txt");
    let output = capstan(&[
        "get",
        "ks",
        "-A",
        "--path",
        "examples/home-ops",
        "--output-file",
        file.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let written = std::fs::read_to_string(&file).expect("written");
    assert!(written.starts_with("NAMESPACE"), "{written}");
    let same = stdout(&capstan(&[
        "get",
        "ks",
        "-A",
        "--path",
        "examples/home-ops",
    ]));
    assert_eq!(written, same);
    let bad = capstan(&[
        "version",
        "--output-file",
        dir.path().join("no/such/dir/x").to_str().expect("utf-8"),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--output-file"), "{}", stderr(&bad));
}

#[test]
fn get_hint_counts_other_namespaces_and_names_dash_a() {
    let output = capstan(&["get", "hr", "--path", "examples/home-ops"]);
    let err = stderr(&output);
    let hint = err
        .lines()
        .find(|l| l.contains("more in other namespaces"))
        .unwrap_or_else(|| panic!("a hint: {err}"));
    assert!(
        hint.ends_with("all namespaces: capstan get hr -A --path examples/home-ops"),
        "{hint}"
    );
    let all = stdout(&capstan(&[
        "get",
        "hr",
        "-A",
        "--path",
        "examples/home-ops",
    ]));
    let shown = stdout(&output).lines().skip(1).count();
    let total = all.lines().skip(1).count();
    let hidden: usize = hint
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert_eq!(shown + hidden, total, "{hint}\n{all}");
    insta::assert_snapshot!("get_hint", hint);
    // with -A there is nothing to hint at
    let quiet = capstan(&["get", "hr", "-A", "--path", "examples/home-ops"]);
    assert!(!stderr(&quiet).contains("more in other namespaces"));
}

#[test]
fn label_selectors_filter_get() {
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        repo.path().join("ks.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: a\n  namespace: flux-system\n  labels:\n    tier: apps\nspec:\n  interval: 1h\n  path: ./a\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: b\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./b\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    )
    .expect("write");
    for dir in ["a", "b"] {
        std::fs::create_dir(repo.path().join(dir)).expect("mkdir");
    }
    let path = repo.path().to_str().expect("utf-8");
    let names = |selector: &str| -> Vec<String> {
        let output = capstan(&["get", "ks", "--path", path, "-l", selector, "-o", "json"]);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("json: {}", stderr(&output)));
        json.as_array()
            .expect("array")
            .iter()
            .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(names("tier=apps"), ["a"]);
    assert_eq!(names("tier!=apps"), ["b"]);
    assert_eq!(names("!tier"), ["b"]);
    let bad = capstan(&["get", "ks", "--path", path, "-l", "tier in (a)"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("key=value"), "{}", stderr(&bad));
}

#[test]
fn get_images_lists_each_producers_images() {
    let output = capstan(&[
        "get",
        "images",
        "-A",
        "--path",
        "examples/home-ops",
        "-o",
        "json",
        "--offline",
        "--chart-cache",
        "/nonexistent-capstan-cache",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("json: {}", stderr(&output)));
    let records = json.as_array().expect("array");
    let whoami = records
        .iter()
        .find(|r| r["name"] == "apps-whoami")
        .unwrap_or_else(|| panic!("apps-whoami listed: {json}"));
    assert_eq!(whoami["kind"], "Kustomization");
    assert!(
        whoami["images"]
            .as_array()
            .expect("images")
            .iter()
            .any(|i| i.as_str().is_some_and(|i| i.contains("whoami"))),
        "{whoami}"
    );
    // HelmReleases with remote charts cannot render from an empty cache: named, exit 2
    if !stderr(&output).is_empty() {
        assert!(
            stderr(&output).contains("not rendered"),
            "{}",
            stderr(&output)
        );
        assert_eq!(output.status.code(), Some(2));
    }
}

/// A one-Kustomization repository whose ConfigMap holds `value`.
fn tiny_repo(dir: &Path, value: &str) {
    std::fs::create_dir_all(dir.join("app")).expect("mkdir");
    std::fs::write(
        dir.join("ks.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./app\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("app/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("app/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  a: \"1\"\n  b: \"2\"\n  c: \"3\"\n  d: \"4\"\n  e: \"5\"\n  value: {value}\n"),
    )
    .expect("write");
}

fn diff_of(args: &[&str], no_color: bool) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    tiny_repo(&old, "before");
    tiny_repo(&new, "after");
    let mut command = Command::new(env!("CARGO_BIN_EXE_capstan"));
    command
        .args(["diff", "ks", "--full", "--path"])
        .arg(&new)
        .arg("--path-orig")
        .arg(&old)
        .args(args)
        .env_remove("CLICOLOR_FORCE");
    if no_color {
        command.env("NO_COLOR", "1");
    } else {
        command.env_remove("NO_COLOR");
    }
    command.output().expect("capstan runs")
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let piped = diff_of(&[], false);
    assert_eq!(piped.status.code(), Some(1), "{}", stderr(&piped));
    assert!(!stdout(&piped).contains('\u{1b}'), "a pipe gets no colour");
    let forced = diff_of(&["--color", "always"], true);
    assert!(
        stdout(&forced).contains('\u{1b}'),
        "--color always wins over NO_COLOR"
    );
    let never = diff_of(&["--color", "never"], false);
    assert!(!stdout(&never).contains('\u{1b}'));
    let bad = capstan(&["--color", "sometimes", "version"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn diff_unified_context_limit_bytes_and_yaml() {
    let wide = stdout(&diff_of(&["-o", "diff", "-u", "10"], true));
    let narrow = stdout(&diff_of(&["-o", "diff", "--unified", "0"], true));
    assert!(wide.contains(" a: \"1\""), "ten lines of context: {wide}");
    assert!(!narrow.contains(" a: \"1\""), "no context: {narrow}");
    assert!(
        narrow.contains("-  value: before") && narrow.contains("+  value: after"),
        "{narrow}"
    );
    let cut = stdout(&diff_of(&["-o", "diff", "--limit-bytes", "80"], true));
    assert!(
        cut.contains("more bytes not shown (--limit-bytes 80)"),
        "{cut}"
    );
    let yaml = stdout(&diff_of(&["-o", "yaml"], true));
    assert!(yaml.contains("groups:"), "{yaml}");
    assert!(
        yaml.contains("kind: Kustomization") || yaml.contains("Kustomization"),
        "{yaml}"
    );
}

/// A one-Kustomization repository running `images` in one Deployment.
fn workload_repo(dir: &Path, images: &[&str]) {
    tiny_repo(dir, "same");
    let containers: String = images
        .iter()
        .enumerate()
        .map(|(i, image)| format!("        - name: c{i}\n          image: {image}\n"))
        .collect();
    std::fs::write(
        dir.join("app/deploy.yaml"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n{containers}"),
    )
    .expect("write");
    std::fs::write(
        dir.join("app/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n  - deploy.yaml\n",
    )
    .expect("write");
}

#[test]
fn diff_images_reports_bumps_additions_and_removals_as_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    workload_repo(&old, &["ghcr.io/example/web:1.0", "busybox:1.36"]);
    workload_repo(&new, &["ghcr.io/example/web:1.1", "redis:7"]);
    let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["diff", "images", "--full", "-o", "json", "--path"])
        .arg(&new)
        .arg("--path-orig")
        .arg(&old)
        .output()
        .expect("capstan runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let changes: Vec<(String, String, String)> = json
        .as_array()
        .expect("array")
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap_or_default().to_owned(),
                c["from"].as_str().unwrap_or("-").to_owned(),
                c["to"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expect = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        changes,
        [
            expect("removed", "busybox:1.36", "-"),
            expect(
                "bumped",
                "ghcr.io/example/web:1.0",
                "ghcr.io/example/web:1.1"
            ),
            expect("added", "-", "redis:7"),
        ]
    );
    assert_eq!(json[0]["producer"]["name"], "app");
    // no image change: exit 0 and an empty list
    let same = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["diff", "images", "--full", "-o", "json", "--path"])
        .arg(&old)
        .arg("--path-orig")
        .arg(&old)
        .output()
        .expect("capstan runs");
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert_eq!(String::from_utf8_lossy(&same.stdout).trim(), "[]");
}

#[test]
fn helm_flags_reach_helm_template() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args_file = dir.path().join("args.txt");
    let helm = dir.path().join("helm.sh");
    std::fs::write(
        &helm,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nexit 1\n",
            args_file.display()
        ),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let output = capstan(&[
        "build",
        "hr",
        "home-assistant",
        "-n",
        "home-automation",
        "--path",
        "examples/home-ops",
        "--helm-binary",
        helm.to_str().expect("utf-8"),
        "--is-upgrade",
        "--no-hooks",
        "--registry-config",
        "/etc/capstan-test/registry.json",
        "--kube-version",
        "1.31.0",
        "-a",
        "example.com/v1",
    ]);
    assert_eq!(output.status.code(), Some(2), "the stand-in helm fails");
    let args = std::fs::read_to_string(&args_file).expect("helm ran");
    for flag in [
        "--is-upgrade",
        "--no-hooks",
        "--registry-config /etc/capstan-test/registry.json",
        "--kube-version 1.31.0",
        "--api-versions example.com/v1",
    ] {
        assert!(args.contains(flag), "{flag} in {args}");
    }
}
