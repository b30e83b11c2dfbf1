//! The change analyses as commits on a copy of `examples/home-ops`, built one by one in a
//! temporary git repository: for each, `capstan plan --base HEAD -o json` must report the
//! finding (analysis, risk, the file and line that cause it) and the procedure step it adds,
//! the markdown shows the findings above the per-object list (snapshots), and `--fail-on` keys on
//! findings as on risk levels.

use std::path::{Path, PathBuf};

use serde_json::Value;

use capstan_testkit::git::{self as support_git, copy_tree, git};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs capstan in the repository; returns (exit code, stdout).
fn capstan(repo: &Path, args: &[&str]) -> (i32, String) {
    let cache = repo.with_file_name("chart-cache");
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .arg("--path")
        .arg(repo)
        .arg("--offline")
        .arg("--chart-cache")
        .arg(&cache)
        // remote charts are out of reach on purpose: their units are listed, not compared
        .arg("--allow-skipped")
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs");
    let stdout =
        String::from_utf8_lossy(&output.stdout).replace(&repo.display().to_string(), "<repo>");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() != Some(2),
        "capstan {args:?} failed: {stderr}\n{stdout}"
    );
    (output.status.code().unwrap_or(-1), stdout)
}

/// `base 1a2b3c4d5e6f (HEAD)` → `base <commit> (HEAD)`.
fn redact_commits(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("base ") {
        let (head, tail) = rest.split_at(at + 5);
        out.push_str(head);
        let hex = tail.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        if hex == 12 {
            out.push_str("<commit>");
            rest = &tail[12..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn edit(repo: &Path, file: &str, from: &str, to: &str) {
    let path = repo.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(text.contains(from), "{file} does not contain {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

type Change = fn(&Path);

/// One expected finding: analysis, risk, the file:line prefix it names (if any), a procedure
/// step (substring) the plan must list.
struct Expect {
    analysis: &'static str,
    risk: &'static str,
    location: Option<&'static str>,
    step: Option<&'static str>,
}

const MOSQUITTO_PVC: &str = "apps/home-automation/mosquitto/pvc.yaml";
const WHOAMI: &str = "apps/whoami/deployment.yaml";
const APPS: &str = "clusters/home-ops/infrastructure/apps.yaml";

fn scenarios() -> Vec<(&'static str, Change, Vec<Expect>, &'static str)> {
    vec![
        (
            "wedge-claim-storage-class",
            |r| {
                edit(
                    r,
                    MOSQUITTO_PVC,
                    "storageClassName: longhorn",
                    "storageClassName: longhorn-fast",
                )
            },
            vec![Expect {
                analysis: "immutable-field",
                risk: "High",
                location: Some("apps/home-automation/mosquitto/pvc.yaml:13"),
                step: Some(
                    "After merging: kubectl delete persistentvolumeclaim mosquitto-data -n home-automation",
                ),
            }],
            "High",
        ),
        (
            "wedge-selector-forced",
            |r| {
                edit(
                    r,
                    WHOAMI,
                    "      app: whoami\n  template",
                    "      app: whoami-v2\n  template",
                );
                edit(
                    r,
                    WHOAMI,
                    "        app: whoami\n    spec",
                    "        app: whoami-v2\n    spec",
                );
                edit(
                    r,
                    WHOAMI,
                    "  namespace: whoami\nspec:",
                    "  namespace: whoami\n  annotations:\n    kustomize.toolkit.fluxcd.io/force: enabled\nspec:",
                );
            },
            vec![
                Expect {
                    analysis: "immutable-field",
                    risk: "High",
                    location: Some("apps/whoami/deployment.yaml:"),
                    step: Some(
                        "Before merging: Accept that recreating Deployment.apps/whoami/whoami deletes its pods",
                    ),
                },
                Expect {
                    analysis: "service-selector",
                    risk: "High",
                    location: Some("apps/whoami/service.yaml:"),
                    step: None,
                },
            ],
            "High",
        ),
        (
            "loses-data-claim-pruned",
            |r| {
                edit(
                    r,
                    MOSQUITTO_PVC,
                    "    kustomize.toolkit.fluxcd.io/prune: disabled\n",
                    "",
                );
                // the opt-out goes in its own commit, then the claim
                git(r, &["commit", "-q", "-am", "claim without prune opt-out"]);
                edit(
                    r,
                    "apps/home-automation/mosquitto/kustomization.yaml",
                    "  - pvc.yaml\n",
                    "",
                );
            },
            vec![Expect {
                analysis: "pruned-volume",
                risk: "Critical",
                location: Some("apps/home-automation/mosquitto/pvc.yaml:"),
                step: Some(
                    "Before merging: To keep the data: annotate PersistentVolumeClaim/home-automation/mosquitto-data",
                ),
            }],
            "Critical",
        ),
        (
            "widens-privileges",
            |r| {
                edit(
                    r,
                    WHOAMI,
                    "            allowPrivilegeEscalation: false\n",
                    "            allowPrivilegeEscalation: false\n            privileged: true\n",
                );
                edit(
                    r,
                    WHOAMI,
                    "    spec:\n      containers:",
                    "    spec:\n      hostNetwork: true\n      containers:",
                );
            },
            vec![Expect {
                analysis: "pod-privileges",
                risk: "High",
                location: Some("apps/whoami/deployment.yaml:"),
                step: None,
            }],
            "High",
        ),
        (
            "takes-down",
            |r| {
                edit(r, WHOAMI, "  replicas: 2", "  replicas: 0");
                edit(
                    r,
                    "apps/whoami/ingress.yaml",
                    "  tls:\n    - hosts:\n        - whoami.lab.example.com\n      secretName: whoami-tls\n",
                    "",
                );
            },
            vec![
                Expect {
                    analysis: "replicas-zero",
                    risk: "High",
                    location: Some("apps/whoami/deployment.yaml:"),
                    step: None,
                },
                Expect {
                    analysis: "route-exposure",
                    risk: "High",
                    location: Some("apps/whoami/ingress.yaml:"),
                    step: None,
                },
            ],
            "High",
        ),
        (
            "flux-suspend-and-reorder",
            |r| {
                edit(
                    r,
                    APPS,
                    "  path: ./apps/whoami\n  prune: true\n",
                    "  path: ./apps/whoami\n  prune: true\n  suspend: true\n",
                );
                edit(
                    r,
                    APPS,
                    "    - name: infrastructure-cnpg-barman-plugin\n",
                    "",
                );
            },
            vec![
                Expect {
                    analysis: "suspended",
                    risk: "Low",
                    location: Some("clusters/home-ops/infrastructure/apps.yaml:"),
                    step: None,
                },
                Expect {
                    analysis: "dependency-order",
                    risk: "Medium",
                    location: Some("clusters/home-ops/infrastructure/apps.yaml:"),
                    step: None,
                },
            ],
            "Medium",
        ),
        (
            "flux-change-under-suspend",
            |r| edit(r, WHOAMI, "  replicas: 0", "  replicas: 3"),
            vec![Expect {
                analysis: "suspended",
                risk: "Medium",
                location: Some("apps/whoami/deployment.yaml"),
                step: None,
            }],
            "Medium",
        ),
        (
            "flux-resume",
            |r| {
                edit(
                    r,
                    APPS,
                    "  prune: true\n  suspend: true\n",
                    "  prune: true\n",
                )
            },
            vec![Expect {
                analysis: "suspended",
                risk: "Medium",
                location: Some("clusters/home-ops/infrastructure/apps.yaml:"),
                step: Some(
                    "Before merging: Review everything Kustomization/flux-system/apps-whoami applies: capstan diff ks apps-whoami --base HEAD --full",
                ),
            }],
            "Medium",
        ),
    ]
}

#[test]
fn analyses_on_home_ops() {
    if !support_git::available() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("home-ops");
    copy_tree(&workspace().join("examples/home-ops"), &repo);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "the example"]);

    for (name, change, expected, verdict_risk) in scenarios() {
        change(&repo);
        let (_, json) = capstan(&repo, &["plan", "--base", "HEAD", "-o", "json"]);
        let plan: Value = serde_json::from_str(&json).expect("plan json");
        let findings = plan["findings"].as_array().cloned().unwrap_or_default();
        let procedure: Vec<&str> = plan["procedure"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for want in &expected {
            let found = findings.iter().find(|f| {
                f["analysis"] == want.analysis
                    && f["risk"] == want.risk
                    && want.location.is_none_or(|l| {
                        let at = match (f["file"].as_str(), f["line"].as_u64()) {
                            (Some(file), Some(line)) => format!("{file}:{line}"),
                            (Some(file), None) => file.to_owned(),
                            _ => String::new(),
                        };
                        at.starts_with(l)
                    })
            });
            assert!(
                found.is_some(),
                "{name}: no {} finding at {:?} with risk {}:\n{json}",
                want.analysis,
                want.location,
                want.risk
            );
            if let Some(step) = want.step {
                assert!(
                    procedure.iter().any(|s| s.starts_with(step)),
                    "{name}: the procedure lacks {step:?}:\n{procedure:#?}"
                );
            }
        }
        assert_eq!(
            plan["verdict"]["risk"], verdict_risk,
            "{name}: verdict\n{json}"
        );
        // the gate keys on findings as on levels
        let analysis = expected[0].analysis;
        assert_eq!(
            capstan(&repo, &["plan", "--base", "HEAD", "--fail-on", analysis]).0,
            1,
            "{name}: --fail-on {analysis}"
        );
        let (_, markdown) = capstan(&repo, &["plan", "--base", "HEAD", "-o", "markdown"]);
        let findings_at = markdown.find("**Findings**").expect("findings section");
        let objects_at = markdown.find("| change |").unwrap_or(usize::MAX);
        assert!(findings_at < objects_at, "{name}: findings come first");
        insta::assert_snapshot!(name, redact_commits(&markdown));
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", name]);
    }
    // a clean step reaches no finding gate
    assert_eq!(
        capstan(
            &repo,
            &["plan", "--base", "HEAD", "--fail-on", "loses-data"]
        )
        .0,
        0
    );
}
