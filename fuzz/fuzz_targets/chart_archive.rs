//! Any bytes as a chart archive (the one reader HTTP and OCI charts share): an error or a chart, never a panic, and
//! nothing unpacked outside the chart directory.
#![no_main]

use capstan_core::Fs;
use capstan_flux::charts::archive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(unpacked) = archive::unpack(data, "web", None) {
        assert!(unpacked.fs.is_file(&unpacked.dir.join("Chart.yaml")));
    }
});
