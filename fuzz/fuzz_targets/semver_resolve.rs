//! Any constraint and candidates: `resolve` answers or names the constraint, never panics; the
//! version it picks is one of the candidates.
#![no_main]

use capstan_flux::charts::semver;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (constraint, rest) = text.split_once('\n').unwrap_or((text, ""));
    let candidates: Vec<&str> = rest.split('\n').collect();
    match semver::resolve(constraint, candidates.iter().copied()) {
        Ok(Some(picked)) => assert!(candidates.contains(&picked)),
        Ok(None) => {}
        Err(e) => assert_eq!(e.constraint, constraint),
    }
    for pair in candidates.windows(2) {
        let _ = semver::compare_versions(pair[0], pair[1]);
    }
});
