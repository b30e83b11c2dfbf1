//! Golden builds for the patch-family transformers (patches, patchesStrategicMerge,
//! patchesJson6902, images, replicas, replacements, vars): each folder of `tests/data/golden`
//! is a kustomization written for capstan, with what `kubectl kustomize --reorder none` printed
//! for it (`expected.yaml`) or the error it gave (`expected.err`), produced by
//! `tools/oracle_golden.py`.

use std::path::{Path, PathBuf};

use capstan_core::OsFs;
use capstan_kustomize::{Options, Reorder, build, render};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("tests/data/golden exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The part of kustomize's error to look for: the last line of its message, without the
/// `error: ` prefix or the echo of a plugin's configuration that precedes `` `: ``.
fn oracle_error(text: &str) -> String {
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let last = last.strip_prefix("error: ").unwrap_or(last);
    last.strip_prefix("`: ").unwrap_or(last).to_owned()
}

#[test]
fn golden_builds_match_kustomize() {
    let options = Options {
        reorder: Reorder::None,
        ..Options::default()
    };
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 10, "golden cases missing");
    for case in all {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let got = build(&OsFs, &case, &options).map(|r| render(&r));
        if let Ok(want) = std::fs::read_to_string(case.join("expected.yaml")) {
            match got {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{name}: output differs\n--- want\n{want}\n--- got\n{got}"
                )),
                Err(e) => failures.push(format!("{name}: unexpected error {e}")),
            }
            continue;
        }
        let want = oracle_error(
            &std::fs::read_to_string(case.join("expected.err")).expect("expected.err"),
        );
        match got {
            Err(e) if e.to_string().contains(&want) => {}
            Err(e) => failures.push(format!("{name}: error {e:?} does not contain {want:?}")),
            Ok(_) => failures.push(format!("{name}: expected the error {want:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
