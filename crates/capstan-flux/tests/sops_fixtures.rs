//! SOPS decryption against fixtures made by the real sops 3.11 (see
//! `tests/fixtures/sops/regenerate.sh`): every case decrypts to what `sops --decrypt` wrote,
//! and every tampered file, wrong key or missing key is a clear error.

use std::path::PathBuf;

use capstan_core::Value;
use capstan_flux::sops::{self, Format, Keys, SopsError};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sops")
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(dir().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn text(relative: &str) -> String {
    String::from_utf8(read(relative)).expect("fixture is UTF-8")
}

fn keys(name: &str) -> Keys {
    Keys::parse(&text(&format!("keys/{name}.txt")), name, false).expect("test key parses")
}

fn documents(relative: &str) -> Vec<Value> {
    let bytes = read(relative);
    if relative.ends_with(".json") {
        return vec![serde_json::from_slice(&bytes).expect("JSON fixture")];
    }
    capstan_core::yaml::parse_documents(&String::from_utf8(bytes).expect("UTF-8"))
        .expect("YAML fixture")
}

/// Equality that treats numbers by value (`3` and `3.0`, `1.5e+10` and `15000000000`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

const DOCUMENT_CASES: &[&str] = &[
    "secret-regex.yaml",
    "secret-all.yaml",
    "secret-unencrypted-regex.yaml",
    "types.yaml",
    "types-mac-only.yaml",
    "suffix.yaml",
    "encsuffix.yaml",
    "multidoc.yaml",
    "configmap.json",
    "configmap-regex.json",
    "key-groups-one.yaml",
];

#[test]
fn documents_decrypt_to_what_sops_decrypts() {
    let keys = keys("test-key");
    for case in DOCUMENT_CASES {
        let encrypted = documents(&format!("encrypted/{case}"));
        let expected = documents(&format!("expected/{case}"));
        let decrypted = sops::decrypt_documents(&encrypted, &keys, case)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(decrypted.len(), expected.len(), "{case}");
        for (got, want) in decrypted.iter().zip(&expected) {
            assert!(same(got, want), "{case}:\n got {got}\nwant {want}");
        }
        if encrypted.len() == 1 {
            assert!(sops::is_encrypted(&encrypted[0]), "{case}");
            let resource = sops::decrypt_resource(&encrypted[0], &keys, case)
                .expect("decrypts")
                .expect("changed");
            assert!(same(&resource, &expected[0]), "{case}");
        }
    }
}

/// Every file decrypts to exactly the bytes `sops --decrypt` writes (comments included).
const FILE_CASES: &[(&str, Format)] = &[
    ("types.yaml", Format::Yaml),
    ("types-mac-only.yaml", Format::Yaml),
    ("secret-regex.yaml", Format::Yaml),
    ("secret-all.yaml", Format::Yaml),
    ("secret-unencrypted-regex.yaml", Format::Yaml),
    ("suffix.yaml", Format::Yaml),
    ("encsuffix.yaml", Format::Yaml),
    ("multidoc.yaml", Format::Yaml),
    ("configmap.json", Format::Json),
    ("configmap-regex.json", Format::Json),
    ("app.env", Format::Dotenv),
    ("blob.bin", Format::Binary),
    ("sample.ini", Format::Ini),
];

#[test]
fn files_decrypt_to_the_bytes_sops_writes() {
    let keys = keys("test-key");
    for (case, format) in FILE_CASES {
        let decrypted =
            sops::decrypt_file(&read(&format!("encrypted/{case}")), *format, &keys, case)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
        let expected = read(&format!("expected/{case}"));
        assert!(
            decrypted == expected,
            "{case}:\n--- got\n{}\n--- want\n{}",
            String::from_utf8_lossy(&decrypted),
            String::from_utf8_lossy(&expected)
        );
    }
}

#[test]
fn format_detection_matches_the_fixtures() {
    assert_eq!(
        Format::detect(&read("encrypted/app.env")),
        Some(Format::Dotenv)
    );
    assert_eq!(
        Format::detect(&read("encrypted/secret-all.yaml")),
        Some(Format::Yaml)
    );
    assert_eq!(
        Format::detect(&read("encrypted/blob.bin")),
        Some(Format::Json)
    );
    assert_eq!(
        Format::detect(&read("encrypted/configmap.json")),
        Some(Format::Json)
    );
    assert_eq!(
        Format::detect(&read("encrypted/sample.ini")),
        Some(Format::Ini)
    );
    assert_eq!(Format::detect(&read("plain/app.env")), None);
}

#[test]
fn secret_data_entries_holding_sops_files_are_decrypted() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "generated"},
        "data": {
            "app.env": b64.encode(read("encrypted/app.env")),
            "blob": b64.encode(read("encrypted/blob.bin")),
            "config.json": b64.encode(read("encrypted/configmap.json")),
            "plain": b64.encode("not encrypted"),
        },
    });
    let keys = keys("test-key");
    let out = sops::decrypt_resource(&secret, &keys, "generated")
        .expect("decrypts")
        .expect("changed");
    let entry = |k: &str| {
        b64.decode(out["data"][k].as_str().expect("string"))
            .expect("base64")
    };
    assert_eq!(entry("app.env"), read("expected/app.env"));
    assert_eq!(entry("blob"), read("expected/blob.bin"));
    assert_eq!(entry("config.json"), read("expected/configmap.json"));
    assert_eq!(entry("plain"), b"not encrypted");

    // Without keys: an error from decrypt_resource, and masked entries from mask_resource.
    assert!(sops::decrypt_resource(&secret, &Keys::none(), "generated").is_err());
    let masked = sops::mask_resource(&secret);
    let masked_entry = |k: &str| {
        b64.decode(masked["data"][k].as_str().expect("string"))
            .expect("base64")
    };
    assert_eq!(masked_entry("app.env"), sops::MASK.as_bytes());
    assert_eq!(masked_entry("plain"), b"not encrypted");
    assert_eq!(
        masked["metadata"]["annotations"][sops::NOT_DECRYPTED_ANNOTATION],
        sops::NOT_DECRYPTED
    );
    let plain = serde_json::json!({"kind": "Secret", "data": {"a": b64.encode("x")}});
    assert_eq!(sops::mask_resource(&plain), plain);
}

#[test]
fn either_recipient_decrypts() {
    let encrypted = documents("encrypted/multi-recipient.yaml");
    let expected = documents("expected/multi-recipient.yaml");
    for key in ["test-key", "test-key-2"] {
        let decrypted = sops::decrypt_document(&encrypted[0], &keys(key), "multi-recipient.yaml")
            .expect("decrypts");
        assert!(same(&decrypted, &expected[0]), "{key}");
    }
    // Several identities, only the last of which matches.
    let combined = format!(
        "{}\n{}",
        text("keys/wrong-key.txt"),
        text("keys/test-key-2.txt")
    );
    let keys = Keys::parse(&combined, "combined", false).expect("parses");
    assert_eq!(keys.len(), 2);
    sops::decrypt_document(&encrypted[0], &keys, "multi-recipient.yaml").expect("decrypts");
}

#[test]
fn tampered_files_are_rejected() {
    let keys = keys("test-key");
    let cases: &[(&str, &str)] = &[
        (
            "tampered-cleartext.yaml",
            "MAC mismatch in tampered-cleartext.yaml",
        ),
        ("tampered-mac.yaml", "MAC mismatch in tampered-mac.yaml"),
        (
            "tampered-lastmodified.yaml",
            "MAC mismatch in tampered-lastmodified.yaml",
        ),
        (
            "tampered-ciphertext.yaml",
            "field stringData.username: cannot decrypt: authentication failed",
        ),
        (
            "tampered-swapped.yaml",
            "field stringData.username: cannot decrypt: authentication failed",
        ),
    ];
    for (case, message) in cases {
        let doc = documents(&format!("encrypted/{case}"));
        let err = sops::decrypt_document(&doc[0], &keys, case)
            .expect_err(case)
            .to_string();
        assert!(err.contains(message), "{case}: {err}");
        let err = sops::decrypt_file(
            &read(&format!("encrypted/{case}")),
            Format::Yaml,
            &keys,
            case,
        )
        .expect_err(case)
        .to_string();
        assert!(err.contains(message), "{case}: {err}");
    }
}

#[test]
fn wrong_key_is_a_clear_error_without_key_material() {
    let wrong = text("keys/wrong-key.txt");
    let keys = Keys::parse(&wrong, "keys/wrong-key.txt", false).expect("parses");
    let doc = documents("encrypted/secret-regex.yaml");
    let err = sops::decrypt_document(&doc[0], &keys, "secret-regex.yaml").expect_err("wrong key");
    assert!(matches!(err, SopsError::NoMatchingKey { .. }), "{err:?}");
    let message = format!("{err} {err:?} {keys:?}");
    assert!(message.contains("secret-regex.yaml"), "{message}");
    assert!(message.contains("age1"), "names the recipients: {message}");
    let secret_line = wrong
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("key line");
    assert!(!message.contains(secret_line), "{message}");
    assert!(!message.contains("AGE-SECRET-KEY"), "{message}");
    assert!(!message.contains("admin"), "no plaintext: {message}");
}

#[test]
fn no_key_masks_and_errors_clearly() {
    let doc = documents("encrypted/secret-regex.yaml");
    let err =
        sops::decrypt_document(&doc[0], &Keys::none(), "secret-regex.yaml").expect_err("no key");
    assert!(matches!(err, SopsError::NoKeys { .. }), "{err:?}");
    assert!(err.to_string().contains("SOPS_AGE_KEY"), "{err}");
    let masked = sops::mask_resource(&doc[0]);
    assert_eq!(masked["stringData"]["username"], sops::MASK);
    assert_eq!(masked["stringData"]["empty"], "");
    assert_eq!(masked["metadata"]["name"], "app-credentials");
    assert_eq!(
        masked["metadata"]["annotations"][sops::NOT_DECRYPTED_ANNOTATION],
        sops::NOT_DECRYPTED
    );
    assert!(masked.get("sops").is_none());
    assert!(!sops::is_encrypted(&masked));
}

#[test]
fn ini_tampering_is_caught() {
    let text = text("encrypted/sample.ini");
    let tampered = text.replacen("[server]", "[servers]", 1);
    let err = sops::decrypt_file(
        tampered.as_bytes(),
        Format::Ini,
        &keys("test-key"),
        "sample.ini",
    )
    .expect_err("the section name is additional data");
    assert!(err.to_string().contains("sample.ini"), "{err}");
}

#[test]
fn generator_sources_decrypt_only_when_encrypted() {
    let keys = keys("test-key");
    let env = sops::decrypt_source(
        &read("encrypted/app.env"),
        Format::for_env_source("app.env"),
        &keys,
        "app.env",
    )
    .expect("decrypts")
    .expect("encrypted");
    assert_eq!(env, read("expected/app.env"));
    let plain = sops::decrypt_source(&read("plain/app.env"), Format::Dotenv, &keys, "plain.env")
        .expect("no error");
    assert_eq!(plain, None);
    let blob = sops::decrypt_source(
        &read("encrypted/blob.bin"),
        Format::for_file_source("blob=blob.bin"),
        &keys,
        "b",
    )
    .expect("decrypts")
    .expect("encrypted");
    assert_eq!(blob, read("expected/blob.bin"));
}

#[test]
fn shamir_key_groups_need_the_threshold_of_groups() {
    let doc = documents("encrypted/key-groups-shamir.yaml");
    let expected = documents("expected/key-groups-shamir.yaml");
    let both = format!(
        "{}\n{}",
        text("keys/test-key.txt"),
        text("keys/test-key-2.txt")
    );
    let both_keys = Keys::parse(&both, "both", false).expect("parses");
    let decrypted = sops::decrypt_document(&doc[0], &both_keys, "shamir.yaml").expect("decrypts");
    assert!(same(&decrypted, &expected[0]));
    let bytes = sops::decrypt_file(
        &read("encrypted/key-groups-shamir.yaml"),
        Format::Yaml,
        &both_keys,
        "shamir.yaml",
    )
    .expect("decrypts");
    assert_eq!(bytes, read("expected/key-groups-shamir.yaml"));
    let err = sops::decrypt_document(&doc[0], &keys("test-key"), "shamir.yaml")
        .expect_err("one group is not enough");
    let message = err.to_string();
    assert!(
        message.contains("split over 2 key groups and 2 are needed"),
        "{message}"
    );
    assert!(message.contains("shamir.yaml"), "{message}");
}
