//! The small text parsers, one picked by the first byte: chart URL joining, `index.yaml`, OCI
//! references, `WWW-Authenticate` challenges, `.sourceignore` rules, `targetPath`. Never a panic.
#![no_main]

use std::path::Path;

use capstan_core::MemFs;
use capstan_flux::charts::http;
use capstan_flux::charts::oci::Repository;
use capstan_flux::charts::oci::auth::Challenge;
use capstan_flux::helm::set_value::set_target_path;
use capstan_flux::source::ignore::SourceIgnore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (first, second) = text.split_once('\n').unwrap_or((text, ""));
    match which % 6 {
        0 => {
            let url = http::chart_url(first, second);
            let _ = http::index_url(first);
            assert!(!url.is_empty());
        }
        1 => {
            let _ = http::Index::parse("https://x.test/index.yaml", text);
        }
        2 => {
            if let Ok(repo) = Repository::parse(text) {
                assert_eq!(Repository::parse(&repo.to_string()).ok(), Some(repo));
            }
        }
        3 => {
            let _ = Challenge::parse(text);
        }
        4 => {
            let fs = MemFs::new();
            fs.add_file(Path::new("repo/.sourceignore"), first.as_bytes().to_vec());
            if let Ok(ignore) = SourceIgnore::scan(&fs, Path::new("repo")) {
                let rules = ignore.rules_for(Some(first));
                let parts: Vec<&str> = second.split('/').filter(|p| !p.is_empty()).collect();
                let _ = rules.excludes(&parts, second.ends_with('/'));
            }
        }
        _ => {
            let mut values = capstan_core::Map::new();
            let _ = set_target_path(&mut values, first, second, which & 0x80 != 0);
        }
    }
});
