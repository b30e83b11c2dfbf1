//! Any text: parsing never panics, and whatever parses prints and parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(docs) = capstan_core::yaml::parse_documents(text) else { return };
    for doc in &docs {
        let printed = capstan_core::yaml::to_yaml(doc);
        let reparsed = capstan_core::yaml::parse_document(&printed);
        assert!(reparsed.is_ok(), "printed YAML does not parse: {printed}");
    }
});
