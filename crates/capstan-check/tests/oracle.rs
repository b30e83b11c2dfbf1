//! Baseline against the oracle: each manifest under `tests/data/schema` must get the same
//! verdict (valid / invalid) from capstan as from `kubernetes-validate --strict -k 1.33.0`.
//! Skips with a message when the oracle is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_check::schema::{Outcome, SchemaSet};

fn oracle() -> Option<PathBuf> {
    capstan_testkit::oracle("kubernetes-validate")
}

#[test]
fn verdicts_match_kubernetes_validate() {
    let Some(oracle) = oracle() else {
        eprintln!(
            "kubernetes-validate not found (run /work/shared/tools/install-oracles.sh): skipping"
        );
        return;
    };
    let set = SchemaSet::new("1.33").expect("embedded 1.33 schemas");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schema");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("test data")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let object = capstan_core::yaml::parse_document(&text).expect("parse");
        let ours = match set.validate(&object) {
            Outcome::Checked(errors) => errors.is_empty(),
            other => panic!("{}: {other:?}", file.display()),
        };
        let status = Command::new(&oracle)
            .args(["--strict", "--quiet", "-k", "1.33.0"])
            .arg(&file)
            .output()
            .expect("oracle runs");
        let theirs = status.status.success();
        assert_eq!(
            ours,
            theirs,
            "{}: capstan says valid={ours}, kubernetes-validate says valid={theirs}: {}",
            file.display(),
            String::from_utf8_lossy(&status.stdout)
        );
        let expected_valid = file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("valid-"));
        assert_eq!(ours, expected_valid, "{}", file.display());
    }
}
