//! CLI snapshots of `capstan get` and `capstan graph` over the fixture repositories in
//! `tests/fixtures/`: exit code, stdout and stderr of each output format.

use std::path::Path;

fn capstan(args: &[&str]) -> String {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs");
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const SMALL: &str = "tests/fixtures/small";
const BROKEN: &str = "tests/fixtures/broken";

#[test]
fn get_kustomizations() {
    insta::assert_snapshot!("get_ks_table", capstan(&["get", "ks", "--path", SMALL]));
    insta::assert_snapshot!(
        "get_ks_wide",
        capstan(&["get", "ks", "--path", SMALL, "-o", "wide"])
    );
    insta::assert_snapshot!(
        "get_ks_yaml",
        capstan(&["get", "ks", "apps", "--path", SMALL, "-o", "yaml"])
    );
    insta::assert_snapshot!(
        "get_ks_json",
        capstan(&["get", "ks", "apps", "--path", SMALL, "-o", "json"])
    );
}

#[test]
fn get_helm_releases() {
    insta::assert_snapshot!(
        "get_hr_default_namespace",
        capstan(&["get", "hr", "--path", SMALL])
    );
    insta::assert_snapshot!(
        "get_hr_all_namespaces",
        capstan(&["get", "hr", "-A", "--path", SMALL])
    );
    insta::assert_snapshot!(
        "get_hr_namespace",
        capstan(&["get", "hr", "-n", "podinfo", "--path", SMALL, "-o", "wide"])
    );
    insta::assert_snapshot!(
        "get_hr_json",
        capstan(&[
            "get", "hr", "redis", "-n", "podinfo", "--path", SMALL, "-o", "json"
        ])
    );
}

#[test]
fn get_sources_and_all() {
    insta::assert_snapshot!(
        "get_sources_wide",
        capstan(&["get", "sources", "--path", SMALL, "-o", "wide"])
    );
    insta::assert_snapshot!("get_all", capstan(&["get", "all", "-A", "--path", SMALL]));
    insta::assert_snapshot!(
        "get_sources_yaml",
        capstan(&["get", "sources", "podinfo", "--path", SMALL, "-o", "yaml"])
    );
}

#[test]
fn get_failures_and_findings() {
    insta::assert_snapshot!(
        "get_unknown_name",
        capstan(&["get", "ks", "nothing", "--path", SMALL])
    );
    insta::assert_snapshot!(
        "get_missing_path",
        capstan(&["get", "ks", "--path", "tests/fixtures/does-not-exist"])
    );
    insta::assert_snapshot!("get_broken", capstan(&["get", "ks", "--path", BROKEN]));
}

#[test]
fn graph_formats() {
    insta::assert_snapshot!("graph_text", capstan(&["graph", "--path", SMALL]));
    insta::assert_snapshot!(
        "graph_dot",
        capstan(&["graph", "--path", SMALL, "-o", "dot"])
    );
    insta::assert_snapshot!(
        "graph_mermaid",
        capstan(&["graph", "--path", SMALL, "-o", "mermaid"])
    );
    insta::assert_snapshot!(
        "graph_json",
        capstan(&["graph", "--path", SMALL, "-o", "json"])
    );
}

#[test]
fn graph_reports_cycles_and_missing_pieces() {
    insta::assert_snapshot!("graph_broken_text", capstan(&["graph", "--path", BROKEN]));
    insta::assert_snapshot!(
        "graph_broken_mermaid",
        capstan(&["graph", "--path", BROKEN, "-o", "mermaid"])
    );
    insta::assert_snapshot!(
        "graph_broken_json",
        capstan(&["graph", "--path", BROKEN, "-o", "json"])
    );
}

#[test]
fn bundled_example() {
    let example = "../../examples/home-ops";
    if !Path::new(env!("CARGO_MANIFEST_DIR")).join(example).is_dir() {
        eprintln!("skipping: examples/home-ops is not in this checkout");
        return;
    }
    insta::assert_snapshot!(
        "example_get_all",
        capstan(&["get", "all", "-A", "--path", example])
    );
    insta::assert_snapshot!("example_graph", capstan(&["graph", "--path", example]));
}

/// A problem in a folder two clusters share is printed once, with both clusters named.
#[test]
fn graph_prints_a_shared_problem_once() {
    let text = capstan(&["graph", "--path", "tests/fixtures/shared"]);
    assert_eq!(text.matches("missing-operator").count(), 1, "{text}");
    insta::assert_snapshot!("graph_shared_text", text);
    let mermaid = capstan(&["graph", "--path", "tests/fixtures/shared", "-o", "mermaid"]);
    let stderr = mermaid.split("--- stderr").nth(1).unwrap_or_default();
    assert_eq!(stderr.matches("missing-operator").count(), 1, "{mermaid}");
}
