//! Golden cases for strategic merge: each folder of `tests/data/smp` holds `resource.yaml`,
//! `patch.yaml` and what `kubectl kustomize` produced from them (`tools/oracle_golden.py`).

use std::path::{Path, PathBuf};

use capstan_core::yaml::parse_documents;
use serde_json::json;

use super::*;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/smp");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("tests/data/smp exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn read_one(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("case file readable");
    parse_documents(&text).expect("case file parses").remove(0)
}

#[test]
fn golden_cases_match_kustomize() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 50, "expected the golden cases to be present");
    for case in all {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let resource = read_one(&case.join("resource.yaml"));
        let patch = read_one(&case.join("patch.yaml"));
        let got = merge(&patch, &resource);
        if case.join("expected.err").exists() {
            let want = std::fs::read_to_string(case.join("expected.err")).expect("readable");
            match got {
                Err(e) if want.contains(&e.message) => {}
                other => failures.push(format!("{name}: want error {want:?}, got {other:?}")),
            }
            continue;
        }
        let text = std::fs::read_to_string(case.join("expected.yaml")).expect("readable");
        let want = parse_documents(&text)
            .expect("expected parses")
            .into_iter()
            .next();
        match got {
            Ok(got) if got == want => {}
            other => failures.push(format!(
                "{name}:\n want {}\n got  {:?}",
                want.map(|w| w.to_string()).unwrap_or_default(),
                other.map(|o| o.map(|v| v.to_string()))
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn patch_null_on_missing_field_is_dropped() {
    let target = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let patch = json!({"metadata": {"labels": null}, "data": {"a": null}});
    let got = merge(&patch, &target).expect("merges").expect("kept");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}})
    );
}

#[test]
fn target_nulls_survive_an_unrelated_patch() {
    let target =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": null});
    let patch = json!({"metadata": {"labels": {"a": "b"}}});
    let got = merge(&patch, &target).expect("merges").expect("kept");
    assert_eq!(got["data"], Value::Null);
    assert_eq!(got["metadata"]["labels"]["a"], "b");
}

#[test]
fn kind_mismatch_is_an_error() {
    let target = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
    let patch = json!({"data": ["x"]});
    let e = merge(&patch, &target).expect_err("map vs list");
    assert!(e.message.contains("wrong node kind"), "{}", e.message);
}
