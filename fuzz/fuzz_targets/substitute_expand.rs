//! Any text: the post-build expander answers or reports an error, never panics, and what it
//! builds stays under its size bound.
#![no_main]

use capstan_flux::substitute::expand;
use libfuzzer_sys::fuzz_target;

fn lookup(name: &str) -> Option<String> {
    match name {
        "a" => Some("xx".into()),
        "b" => Some(String::new()),
        "c" => Some("a/b}c$é".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(out) = expand(text, &lookup) {
        assert!(out.len() <= text.len() + (64 << 20));
    }
});
