//! Golden builds for kz-core's transformers and generators (namespace with RoleBinding subjects,
//! prefix/suffix with name references, labels and commonLabels variants, annotations,
//! ConfigMap/Secret generators with options and overlay merge/replace, components, custom
//! configurations, legacy sort, kustomize's output form): each folder of `tests/data/core` is a
//! kustomization written for capstan, loaded into a `MemFs`, with what `kubectl kustomize
//! --reorder none` printed for it (`expected.yaml`, from `tools/oracle_golden.py`). Error cases
//! have the oracle's `expected.err` and a `fragment.txt` both messages contain.

use std::path::{Path, PathBuf};

use capstan_core::{Fs, MemFs, OsFs};
use capstan_kustomize::{Options, Reorder, build, render};

fn load_tree(fs: &MemFs, disk: &Path, at: &Path) {
    for entry in OsFs.read_dir(disk).expect("readable case folder") {
        let name = entry.file_name().expect("entry has a name");
        if entry.is_dir() {
            load_tree(fs, &entry, &at.join(name));
        } else {
            fs.add_file(at.join(name), OsFs.read(&entry).expect("readable file"));
        }
    }
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/core");
    let mut dirs: Vec<PathBuf> = OsFs
        .read_dir(&root)
        .expect("tests/data/core exists")
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn core_goldens_match_kustomize() {
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
        let fs = MemFs::new();
        let root = Path::new("/case");
        load_tree(&fs, &case, root);
        let got = build(&fs, root, &options).map(|r| render(&r));
        match std::fs::read_to_string(case.join("expected.yaml")) {
            Ok(want) => match got {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{name}: output differs\n--- want\n{want}\n--- got\n{got}"
                )),
                Err(e) => failures.push(format!("{name}: unexpected error {e}")),
            },
            Err(_) => {
                let fragment =
                    std::fs::read_to_string(case.join("fragment.txt")).unwrap_or_default();
                let oracle = std::fs::read_to_string(case.join("expected.err")).unwrap_or_default();
                assert!(
                    oracle.contains(&fragment),
                    "{name}: fragment not in the oracle's message"
                );
                match got {
                    Err(e) if e.to_string().contains(&fragment) => {}
                    Err(e) => failures.push(format!("{name}: error {e:?} lacks {fragment:?}")),
                    Ok(out) => failures.push(format!("{name}: expected an error, got\n{out}")),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
