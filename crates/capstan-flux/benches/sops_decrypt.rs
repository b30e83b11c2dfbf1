//! How long SOPS decryption takes: `cargo bench -p capstan-flux --bench sops_decrypt`.
//!
//! Decrypts the committed fixtures repeatedly (a Secret object, a multi-value document with
//! comments as a file, a dotenv file) and prints the mean time per decryption.

use std::path::PathBuf;
use std::time::Instant;

use capstan_flux::sops::{self, Format, Keys};

fn fixture(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sops")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn time(name: &str, iterations: u32, mut f: impl FnMut()) {
    f();
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per = start.elapsed() / iterations;
    println!("{name:<40} {per:>12.2?} per decryption ({iterations} runs)");
}

fn main() {
    let key_text = String::from_utf8(fixture("keys/test-key.txt")).expect("UTF-8");
    let keys = Keys::parse(&key_text, "test-key", false).expect("key");
    let secret_text = String::from_utf8(fixture("encrypted/secret-regex.yaml")).expect("UTF-8");
    let secret = capstan_core::yaml::parse_documents(&secret_text)
        .expect("YAML")
        .remove(0);
    time("decrypt_resource(Secret)", 2000, || {
        sops::decrypt_resource(&secret, &keys, "secret").expect("decrypts");
    });
    let types = fixture("encrypted/types.yaml");
    time("decrypt_file(types.yaml, YAML)", 2000, || {
        sops::decrypt_file(&types, Format::Yaml, &keys, "types").expect("decrypts");
    });
    let env = fixture("encrypted/app.env");
    time("decrypt_file(app.env, dotenv)", 2000, || {
        sops::decrypt_file(&env, Format::Dotenv, &keys, "env").expect("decrypts");
    });
    time("mask_resource(Secret)", 20000, || {
        std::hint::black_box(sops::mask_resource(&secret));
    });
}
