//! `helmCharts` inflation through the real `helm` binary: each folder of `tests/data/helm` is
//! a kustomization with a small local chart, and what `kubectl kustomize --enable-helm` printed
//! for it (`expected.yaml`) or the error it gave (`expected.err`). The goldens come from the
//! oracle helm (v4, behind a shim answering `version` with v3, since kustomize v5.6 refuses
//! v4), so the test prefers that binary; it skips with a message when no helm is found.

use std::path::{Path, PathBuf};

use capstan_core::{MemFs, OsFs};
use capstan_kustomize::{Options, build, render};

fn find_helm() -> Option<PathBuf> {
    capstan_testkit::oracle("helm")
}

fn options(helm: &Path) -> Options {
    Options {
        enable_helm: true,
        helm_command: helm.display().to_string(),
        ..Options::default()
    }
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/helm")
}

/// What each error case must say (kustomize's own text embeds temporary paths).
fn expected_error(name: &str) -> &'static str {
    match name {
        "err_norepo" => "no repo specified for pull, no chart found at",
        "err_pull" => {
            "cannot pull chart 'nothere' (version '1.2.3') from repo 'https://charts.example.invalid'"
        }
        "err_merge_option" => "valuesMerge must be one of [merge override replace]",
        other => panic!("no expected error written for {other}"),
    }
}

#[test]
fn charts_inflate_like_kustomize() {
    let Some(helm) = find_helm() else {
        eprintln!("skipping: no helm binary on PATH or in the oracle directory");
        return;
    };
    let options = options(&helm);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data())
        .expect("tests/data/helm exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "helm cases missing");
    let mut failures = Vec::new();
    for case in cases {
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
        } else {
            let want = expected_error(&name);
            match got {
                Err(e) if e.to_string().contains(want) => {}
                Err(e) => failures.push(format!("{name}: error {e:?} lacks {want:?}")),
                Ok(out) => failures.push(format!("{name}: expected an error, got\n{out}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A chart that lives only in memory is copied out for helm and renders the same.
#[test]
fn charts_inflate_from_memfs() {
    let Some(helm) = find_helm() else {
        eprintln!("skipping: no helm binary on PATH or in the oracle directory");
        return;
    };
    let case = data().join("options");
    let fs = MemFs::new();
    let mut stack = vec![case.clone()];
    while let Some(dir) = stack.pop() {
        fs.add_dir(&dir);
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                fs.add_file(&path, std::fs::read(&path).expect("readable file"));
            }
        }
    }
    let got = build(&fs, &case, &options(&helm))
        .map(|r| render(&r))
        .expect("builds");
    let want = std::fs::read_to_string(case.join("expected.yaml")).expect("golden");
    assert_eq!(got, want);
}

#[test]
fn helm_charts_need_enable_helm() {
    let err = build(&OsFs, &data().join("basic"), &Options::default()).expect_err("refused");
    assert!(err.to_string().contains("--enable-helm"), "{err}");
}

#[test]
fn missing_helm_binary_is_an_error() {
    let options = options(Path::new("/nonexistent/capstan-no-helm"));
    let err = build(&OsFs, &data().join("basic"), &options).expect_err("no helm");
    assert!(
        err.to_string()
            .contains("is '/nonexistent/capstan-no-helm' installed?"),
        "{err}"
    );
}
