//! A small tree of files from the fuzzer's bytes (sections separated by `\0`: the kustomization
//! first, then `name\nbody` files): building it never panics.
#![no_main]

use std::path::Path;

use capstan_core::MemFs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut sections = text.split('\0');
    let fs = MemFs::new();
    fs.add_file("/root/kustomization.yaml", sections.next().unwrap_or(""));
    for section in sections.take(8) {
        let (name, body) = section.split_once('\n').unwrap_or((section, ""));
        let name = name.trim_matches('/');
        if !name.is_empty() && !name.contains("..") {
            fs.add_file(Path::new("/root").join(name), body);
        }
    }
    let options = capstan_kustomize::Options::default();
    if let Ok(resmap) = capstan_kustomize::build(&fs, Path::new("/root"), &options) {
        let _ = capstan_kustomize::render(&resmap);
    }
});
