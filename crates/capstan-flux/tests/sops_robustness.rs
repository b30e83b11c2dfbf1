//! Bad input never panics: truncated and mutated SOPS files, malformed `ENC[...]` values, bad
//! base64 and metadata of the wrong shape all come back as errors (or, for harmless changes,
//! as results), never as a panic.

use std::path::PathBuf;

use capstan_core::Value;
use capstan_flux::sops::{self, Format, Keys};

fn fixture(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sops")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn keys() -> Keys {
    let text = String::from_utf8(fixture("keys/test-key.txt")).expect("UTF-8");
    Keys::parse(&text, "test-key", false).expect("parses")
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const FORMATS: [Format; 5] = [
    Format::Yaml,
    Format::Json,
    Format::Dotenv,
    Format::Binary,
    Format::Ini,
];

fn exercise(bytes: &[u8], keys: &Keys) {
    for format in FORMATS {
        let _ = sops::decrypt_file(bytes, format, keys, "fuzz");
    }
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(documents) = capstan_core::yaml::parse_documents(text)
    {
        let _ = sops::decrypt_documents(&documents, keys, "fuzz");
        for document in &documents {
            let _ = sops::decrypt_resource(document, keys, "fuzz");
            let _ = sops::mask_resource(document);
        }
    }
}

const CASES: &[&str] = &[
    "encrypted/secret-regex.yaml",
    "encrypted/types-mac-only.yaml",
    "encrypted/multidoc.yaml",
    "encrypted/configmap.json",
    "encrypted/app.env",
    "encrypted/blob.bin",
];

#[test]
fn truncated_files_never_panic() {
    let keys = keys();
    for case in CASES {
        let bytes = fixture(case);
        let step = (bytes.len() / 150).max(1);
        for end in (0..bytes.len()).step_by(step) {
            exercise(&bytes[..end], &keys);
        }
    }
}

#[test]
fn mutated_files_never_panic() {
    let keys = keys();
    let mut rng = Rng(0x5eed_50b5);
    let alphabet = b"ENC[]:,=+/\\\"'#-{}\n AZaz09_\t";
    for case in CASES {
        let original = fixture(case);
        for _ in 0..150 {
            let mut bytes = original.clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(bytes.len());
                match rng.below(3) {
                    0 => bytes[at] = alphabet[rng.below(alphabet.len())],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                }
            }
            exercise(&bytes, &keys);
        }
    }
}

#[test]
fn malformed_encrypted_values_are_errors() {
    let keys = keys();
    let text = String::from_utf8(fixture("encrypted/secret-regex.yaml")).expect("UTF-8");
    let document = capstan_core::yaml::parse_documents(&text)
        .expect("YAML")
        .remove(0);
    let good = document["stringData"]["username"]
        .as_str()
        .expect("string")
        .to_string();
    let (data, rest) = good.split_once(",iv:").expect("iv");
    let bad_values: Vec<Value> = vec![
        Value::from("ENC["),
        Value::from("ENC[AES256_GCM,data:,iv:,tag:,type:str]"),
        Value::from(format!("{data},iv:!!!notbase64,tag:AAAA,type:str]")),
        Value::from(format!("{data}=,iv:{rest}")),
        Value::from(good.replace("type:str", "type:nope")),
        Value::from(good.replace("type:str", "type:int")),
        Value::from(good.replace(",tag:", ",tag:AAAA")),
        Value::from(format!(
            "{data},iv:AAAA,{}",
            rest.split_once(',').expect("tag").1
        )),
        Value::from(good.trim_end_matches(']').to_string()),
        Value::from("not encrypted at all"),
        Value::from(42),
        Value::Bool(true),
        serde_json::json!({"nested": "map"}),
    ];
    for bad in bad_values {
        let mut doc = document.clone();
        doc["stringData"]["username"] = bad.clone();
        let result = sops::decrypt_document(&doc, &keys, "bad.yaml");
        match &bad {
            // A mapping in place of a value just moves the value: the MAC catches it.
            Value::Object(_) => assert!(result.is_err(), "{bad}"),
            _ => {
                let err = result.expect_err(&bad.to_string()).to_string();
                assert!(err.contains("bad.yaml"), "{err}");
            }
        }
    }
}

#[test]
fn metadata_of_the_wrong_shape_is_an_error() {
    let keys = keys();
    let text = String::from_utf8(fixture("encrypted/secret-regex.yaml")).expect("UTF-8");
    let document = capstan_core::yaml::parse_documents(&text)
        .expect("YAML")
        .remove(0);
    let replacements: Vec<(&str, Value)> = vec![
        ("/sops", Value::from("nope")),
        ("/sops", Value::Null),
        ("/sops/age", Value::from("nope")),
        ("/sops/age", serde_json::json!([])),
        ("/sops/age", serde_json::json!([{"recipient": "age1x"}])),
        ("/sops/age", serde_json::json!([42])),
        (
            "/sops/age/0/enc",
            Value::from(
                "-----BEGIN AGE ENCRYPTED FILE-----\ngarbage\n-----END AGE ENCRYPTED FILE-----\n",
            ),
        ),
        ("/sops/age/0/enc", Value::from("")),
        ("/sops/lastmodified", Value::from(12)),
        ("/sops/lastmodified", Value::from("yesterday")),
        ("/sops/mac", Value::from("")),
        (
            "/sops/mac",
            Value::from("ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]"),
        ),
        ("/sops/mac", serde_json::json!({"a": 1})),
        ("/sops/encrypted_regex", Value::from("(")),
        ("/sops/encrypted_regex", serde_json::json!([1])),
        ("/sops/mac_only_encrypted", Value::from("maybe")),
        (
            "/sops/key_groups",
            serde_json::json!([{"age": []}, {"pgp": []}]),
        ),
        ("/sops/key_groups", Value::from("x")),
    ];
    for (pointer, value) in replacements {
        let mut doc = document.clone();
        let (parent, last) = pointer.rsplit_once('/').expect("pointer");
        match doc.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.insert(last.to_string(), value.clone());
            }
            Some(Value::Array(items)) => {
                items[last.parse::<usize>().expect("index")] = value.clone()
            }
            _ => panic!("{parent} missing from the fixture"),
        }
        let err = sops::decrypt_document(&doc, &keys, "bad.yaml")
            .expect_err(&format!("{pointer} = {value}"));
        assert!(err.to_string().contains("bad.yaml"), "{err}");
    }
    let mut doc = document.clone();
    doc.as_object_mut().expect("object").remove("sops");
    assert!(sops::decrypt_document(&doc, &keys, "bad.yaml").is_err());
    assert!(sops::decrypt_document(&Value::from("scalar"), &keys, "bad.yaml").is_err());
}
