//! CLI snapshot of `capstan build` over `tests/fixtures/sourceignore`: files excluded by
//! `.sourceignore` (root and subdirectory rules) and by the default exclusions do not exist for
//! the build — a generated kustomization skips them, and a `resources:` entry naming one fails.

use std::path::Path;

#[test]
fn build_respects_sourceignore() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = capstan_testkit::command(env!("CARGO_BIN_EXE_capstan"))
        .args(["build", "ks", "--path", "tests/fixtures/sourceignore"])
        .current_dir(manifest_dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("capstan runs");
    let real_dir = manifest_dir
        .canonicalize()
        .expect("the crate directory exists");
    let text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
    .replace(&real_dir.display().to_string(), "<crate>")
    .replace(&manifest_dir.display().to_string(), "<crate>");
    insta::assert_snapshot!("build_sourceignore", text);
}
