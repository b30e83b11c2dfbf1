//! Baseline against the real sops: random documents are encrypted by `sops --encrypt` (with
//! each encryption rule in turn), then capstan's decryption must give exactly the bytes
//! `sops --decrypt` gives, for YAML, JSON and dotenv. Skips when sops is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_core::{Map, Value};
use capstan_flux::sops::{self, Format, Keys};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sops")
}

fn find_sops() -> Option<PathBuf> {
    capstan_testkit::oracle("sops")
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "plain",
    "with space",
    "colon: inside",
    "trailing:",
    "#hash",
    "a #comment",
    "'quoted'",
    "\"dq\"",
    "yes",
    "no",
    "on",
    "off",
    "true",
    "null",
    "~",
    "42",
    "0x1F",
    "017",
    "1e3",
    "1.5",
    ".5",
    "2024-01-02",
    "1:20",
    "-",
    "- item",
    "--- doc",
    "?",
    "@at",
    "`tick",
    "%pct",
    "&anchor",
    "*alias",
    "!tag",
    "|pipe",
    ">gt",
    "[a, b]",
    "{a: b}",
    "a,b",
    "héllo ✓",
    "日本語",
    "tab\there",
    " leading",
    "trailing ",
    "multi\nline",
    "multi\nline\n",
    "ends\n\n",
    "\nleading newline",
    "back\\slash",
    "",
    "<html>&amp;",
    "emoji 🎉",
    "_key",
    "key_unencrypted",
    "x_secret",
    "a very long string that goes on and on well past eighty columns so that any folding would show up here",
];

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(7) {
        0 => Value::from(rng.next() as i64 % 100_000),
        1 => Value::from((rng.next() % 10_000) as f64 / 64.0),
        2 => Value::Bool(rng.below(2) == 0),
        3 => Value::Null,
        _ => Value::from(rng.pick(WORDS)),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match if depth > 2 { 9 } else { rng.below(10) } {
        0 | 1 => Value::Object(random_map(rng, depth + 1)),
        2 => {
            let n = rng.below(4);
            Value::Array((0..n).map(|_| random_value(rng, depth + 1)).collect())
        }
        _ => random_scalar(rng),
    }
}

fn random_map(rng: &mut Rng, depth: usize) -> Map {
    let mut map = Map::new();
    for _ in 0..1 + rng.below(5) {
        let key = match rng.below(3) {
            0 => rng.pick(WORDS).to_string(),
            _ => format!(
                "{}{}",
                rng.pick(&["data", "stringData", "name", "port", "token", "key"]),
                rng.below(50)
            ),
        };
        if key.is_empty() || key.contains('\n') || key == "sops" {
            continue;
        }
        let value = random_value(rng, depth);
        map.insert(key, value);
    }
    map
}

fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().expect("sops runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn recipient() -> String {
    let text = std::fs::read_to_string(fixtures().join("keys/test-key.txt")).expect("test key");
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string()
}

const RULES: &[&[&str]] = &[
    &[],
    &["--encrypted-regex", "^(data|stringData)"],
    &["--unencrypted-regex", "^name"],
    &["--unencrypted-suffix", "_unencrypted"],
    &["--encrypted-suffix", "_secret"],
    &["--encrypted-regex", "^(data|token)", "--mac-only-encrypted"],
];

fn encrypt_and_compare(
    sops_bin: &Path,
    dir: &Path,
    name: &str,
    input_type: &str,
    output_type: &str,
    rules: &[&str],
) {
    let keys_file = fixtures().join("keys/test-key.txt");
    let keys = Keys::parse(
        &std::fs::read_to_string(&keys_file).expect("key"),
        "test-key",
        false,
    )
    .expect("key");
    let encrypted = run(Command::new(sops_bin)
        .args([
            "--encrypt",
            "--age",
            &recipient(),
            "--input-type",
            input_type,
            "--output-type",
            output_type,
        ])
        .args(rules)
        .arg(dir.join(name)));
    let encrypted_path = dir.join(format!("{name}.enc"));
    std::fs::write(&encrypted_path, &encrypted).expect("write");
    let decrypted = Command::new(sops_bin)
        .env("SOPS_AGE_KEY_FILE", &keys_file)
        .args([
            "--decrypt",
            "--input-type",
            output_type,
            "--output-type",
            output_type,
        ])
        .arg(&encrypted_path)
        .output()
        .expect("sops runs");
    if !decrypted.status.success() {
        // sops 3.11 writes some keys (a tab, a leading `- `) in YAML it cannot read back.
        eprintln!(
            "skipping {name}: sops cannot decrypt its own output: {}",
            String::from_utf8_lossy(&decrypted.stderr)
        );
        return;
    }
    let expected = decrypted.stdout;
    let format = match output_type {
        "yaml" => Format::Yaml,
        "json" => Format::Json,
        "ini" => Format::Ini,
        _ => Format::Dotenv,
    };
    let got = sops::decrypt_file(&encrypted, format, &keys, name)
        .unwrap_or_else(|e| panic!("{name} {rules:?}: {e}"));
    assert!(
        got == expected,
        "{name} {rules:?}\n--- encrypted\n{}\n--- capstan\n{}\n--- sops\n{}",
        String::from_utf8_lossy(&encrypted),
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
}

/// Writes a mapping as block YAML with comments before some keys and sequence items (scalars
/// as JSON strings, which YAML reads as double-quoted scalars).
fn write_commented_yaml(out: &mut String, map: &Map, indent: usize, rng: &mut Rng) {
    for (key, value) in map {
        if rng.below(3) == 0 {
            out.push_str(&format!(
                "{}# about {}\n",
                " ".repeat(indent),
                key.replace('\n', " ")
            ));
        }
        let key = serde_json::to_string(key).expect("json");
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push_str(&format!("{}{key}:\n", " ".repeat(indent)));
                write_commented_yaml(out, inner, indent + 2, rng);
            }
            Value::Array(items)
                if !items.is_empty() && items.iter().all(|i| !i.is_object() && !i.is_array()) =>
            {
                out.push_str(&format!("{}{key}:\n", " ".repeat(indent)));
                for item in items {
                    if rng.below(3) == 0 {
                        out.push_str(&format!("{}  # an item\n", " ".repeat(indent)));
                    }
                    out.push_str(&format!(
                        "{}  - {}\n",
                        " ".repeat(indent),
                        serde_json::to_string(item).expect("json")
                    ));
                }
            }
            Value::Array(_) | Value::Object(_) => {
                out.push_str(&format!(
                    "{}{key}: {}\n",
                    " ".repeat(indent),
                    serde_json::to_string(value).expect("json")
                ));
            }
            scalar => {
                out.push_str(&format!(
                    "{}{key}: {}\n",
                    " ".repeat(indent),
                    serde_json::to_string(scalar).expect("json")
                ));
            }
        }
    }
}

#[test]
fn random_documents_decrypt_like_sops() {
    let Some(sops_bin) = find_sops() else {
        eprintln!(
            "skipping: sops not found on PATH, $CAPSTAN_ORACLES/bin or ~/.cache/capstan-oracles/bin"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // CAPSTAN_SOPS_ORACLE_ROUNDS raises the number of random documents for a longer hunt.
    let rounds = std::env::var("CAPSTAN_SOPS_ORACLE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(12);
    let mut rng = Rng(std::env::var("CAPSTAN_SOPS_ORACLE_SEED")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0xcafe_f00d));
    for round in 0..rounds {
        let document = Value::Object(random_map(&mut rng, 0));
        let name = format!("doc{round}.json");
        std::fs::write(
            dir.path().join(&name),
            serde_json::to_vec(&document).expect("json"),
        )
        .expect("write");
        let rules = RULES[round % RULES.len()];
        let output = if round % 3 == 2 { "json" } else { "yaml" };
        encrypt_and_compare(&sops_bin, dir.path(), &name, "json", output, rules);
    }
    for round in 0..4 {
        let mut lines = String::new();
        for i in 0..1 + rng.below(6) {
            if rng.below(4) == 0 {
                lines.push_str("# a comment\n");
            }
            let value = rng.pick(WORDS).replace('\n', "\\n");
            lines.push_str(&format!("KEY_{i}={value}\n"));
        }
        let name = format!("env{round}.env");
        std::fs::write(dir.path().join(&name), lines).expect("write");
        encrypt_and_compare(
            &sops_bin,
            dir.path(),
            &name,
            "dotenv",
            "dotenv",
            RULES[round % 4],
        );
    }
    for round in 0..6 {
        let mut text = String::new();
        let mut map = random_map(&mut rng, 0);
        while map.is_empty() {
            map = random_map(&mut rng, 0);
        }
        write_commented_yaml(&mut text, &map, 0, &mut rng);
        if rng.below(2) == 0 {
            text.push_str("# the end\n");
        }
        let name = format!("commented{round}.yaml");
        std::fs::write(dir.path().join(&name), text).expect("write");
        encrypt_and_compare(
            &sops_bin,
            dir.path(),
            &name,
            "yaml",
            "yaml",
            RULES[round % RULES.len()],
        );
    }
    for round in 0..4 {
        let mut text = String::new();
        for section in 0..1 + rng.below(3) {
            if rng.below(3) == 0 {
                text.push_str("; about this section\n");
            }
            text.push_str(&format!("[section_{section}]\n"));
            for i in 0..1 + rng.below(4) {
                if rng.below(4) == 0 {
                    text.push_str("# about this key\n");
                }
                let value = rng.pick(&[
                    "plain",
                    "with space",
                    "yes",
                    "42",
                    "a:b",
                    "héllo",
                    "x_secret",
                    "",
                ]);
                let key = rng.pick(&["name", "port", "token", "key_unencrypted", "data"]);
                text.push_str(&format!("{key}{i} = {value}\n"));
            }
        }
        let name = format!("ini{round}.ini");
        std::fs::write(dir.path().join(&name), text).expect("write");
        encrypt_and_compare(&sops_bin, dir.path(), &name, "ini", "ini", RULES[round % 4]);
    }
}
