//! CLI snapshots of `capstan build` over `tests/fixtures/build`: substitution from an in-repo
//! ConfigMap, commonMetadata and owner labels, a strict-substitution failure that does not stop
//! the rest (exit 2), a suspended Kustomization, and an in-repo chart rendered with helm.

use std::path::Path;

fn capstan(args: &[&str]) -> String {
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env("NO_COLOR", "1")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .expect("capstan runs");
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const FIXTURE: &str = "tests/fixtures/build";

#[test]
fn build_kustomizations() {
    insta::assert_snapshot!("build_ks", capstan(&["build", "ks", "--path", FIXTURE]));
    insta::assert_snapshot!(
        "build_ks_apps",
        capstan(&[
            "build",
            "ks",
            "apps",
            "--path",
            FIXTURE,
            "-n",
            "flux-system"
        ])
    );
    insta::assert_snapshot!(
        "build_ks_relaxed",
        capstan(&[
            "build",
            "ks",
            "broken",
            "--path",
            FIXTURE,
            "--no-strict-substitute"
        ])
    );
    insta::assert_snapshot!(
        "build_ks_unknown",
        capstan(&["build", "ks", "nope", "--path", FIXTURE])
    );
}

fn helm() -> Option<std::path::PathBuf> {
    capstan_testkit::oracle("helm")
}

#[test]
fn build_helm_release_with_in_repo_chart() {
    let Some(helm) = helm() else {
        return;
    };
    let helm = helm.to_string_lossy().into_owned();
    insta::assert_snapshot!(
        "build_hr_hello",
        capstan(&[
            "build",
            "hr",
            "hello",
            "--path",
            FIXTURE,
            "--helm-binary",
            &helm,
            "-o",
            "json"
        ])
    );
}
