//! `build_all` with SOPS: an encrypted Secret (produced by the real sops 3.11, see
//! `tests/fixtures/sops`) decrypted with the age key, masked and marked without one, a failure
//! with the wrong key — and a decrypted value feeding `substituteFrom`.

use std::path::Path;

use capstan_core::{MemFs, Value};
use capstan_flux::build::{BuildOptions, BuildReport, Status, build_all};
use capstan_flux::sops::{Keys, MASK, NOT_DECRYPTED_ANNOTATION};

fn fixture(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sops")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn repo() -> MemFs {
    let ks = "\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: secrets, namespace: flux-system}
spec:
  path: ./secrets
  sourceRef: {kind: GitRepository, name: flux-system}
  decryption: {provider: sops}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: apps}
spec:
  path: ./app
  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  postBuild:
    substituteFrom:
      - {kind: Secret, name: app-credentials}
";
    MemFs::from_files([
        ("clusters/dev/ks.yaml", ks.to_owned()),
        ("secrets/secret.yaml", fixture("encrypted/secret-regex.yaml")),
        (
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: apps}\ndata: {user: '${username}'}\n".to_owned(),
        ),
    ])
}

fn build(keys: Keys) -> BuildReport {
    let options = BuildOptions {
        keys,
        ..BuildOptions::default()
    };
    build_all(&repo(), Path::new("."), &options).expect("build runs")
}

fn result<'a>(report: &'a BuildReport, name: &str) -> &'a capstan_flux::build::BuildResult {
    report
        .kustomizations
        .iter()
        .find(|r| r.key.name == name)
        .unwrap_or_else(|| panic!("{name}: {report:#?}"))
}

fn keys(file: &str) -> Keys {
    Keys::parse(&fixture(&format!("keys/{file}")), file, false).expect("key parses")
}

#[test]
fn decrypts_with_the_key_and_feeds_substitution() {
    let report = build(keys("test-key.txt"));
    let secrets = result(&report, "secrets");
    assert_eq!(secrets.status, Status::Rendered, "{secrets:#?}");
    let secret = &secrets.objects[0].object;
    assert_eq!(secret["stringData"]["username"], "admin");
    assert!(secret.get("sops").is_none());
    assert!(secrets.not_decrypted.is_empty());
    let app = result(&report, "app");
    assert_eq!(app.status, Status::Rendered, "{app:#?}");
    assert_eq!(app.objects[0].object["data"]["user"], "admin");
}

#[test]
fn masks_without_a_key() {
    let report = build(Keys::none());
    let secrets = result(&report, "secrets");
    assert_eq!(secrets.status, Status::Rendered, "{secrets:#?}");
    let secret = &secrets.objects[0].object;
    assert_eq!(secret["stringData"]["username"], MASK);
    assert!(
        secret["metadata"]["annotations"]
            .get(NOT_DECRYPTED_ANNOTATION)
            .is_some()
    );
    assert_eq!(secrets.not_decrypted.len(), 1);
    // the masked value feeds substitution and parses as the plain string it is
    let app = result(&report, "app");
    assert_eq!(app.status, Status::Rendered, "{app:#?}");
    assert_eq!(app.objects[0].object["data"]["user"], MASK);
    let text = serde_json::to_string(&report).expect("serialises");
    assert!(
        !text.contains("admin") && !text.contains("s3cr3t"),
        "no plaintext anywhere"
    );
    let _: &Value = secret;
}

#[test]
fn wrong_key_fails_that_kustomization_only() {
    let report = build(keys("wrong-key.txt"));
    let secrets = result(&report, "secrets");
    assert_eq!(secrets.status, Status::Failed);
    assert!(
        secrets.errors[0].contains("decryption failed"),
        "{:?}",
        secrets.errors
    );
    assert!(
        !secrets.errors[0].contains("AGE-SECRET-KEY"),
        "no key material in errors"
    );
}

#[test]
fn secret_generator_sources_are_decrypted_before_the_build() {
    let fs = MemFs::from_files([
        (
            "clusters/dev/ks.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: gen, namespace: flux-system}\nspec:\n  path: ./gen\n  sourceRef: {kind: GitRepository, name: flux-system}\n  decryption: {provider: sops}\n".to_owned(),
        ),
        (
            "gen/kustomization.yaml",
            "secretGenerator:\n  - name: db\n    namespace: apps\n    envs: [app.env]\ngeneratorOptions:\n  disableNameSuffixHash: true\n".to_owned(),
        ),
        ("gen/app.env", fixture("encrypted/app.env")),
    ]);
    let options = BuildOptions {
        keys: keys("test-key.txt"),
        ..BuildOptions::default()
    };
    let report = build_all(&fs, Path::new("."), &options).expect("build runs");
    let generated = result(&report, "gen");
    assert_eq!(generated.status, Status::Rendered, "{generated:#?}");
    let data = &generated.objects[0].object["data"];
    let user = data["DB_USER"].as_str().expect("DB_USER generated");
    let decoded = capstan_flux::substitute::base64_decode(user).expect("base64");
    assert_eq!(
        String::from_utf8(decoded).expect("utf-8"),
        fixture("expected/app.env")
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("DB_USER=")
    );
}
