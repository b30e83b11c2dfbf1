//! The reference folder `../shared` (corpus, conformance cases, tools): `$CAPSTAN_SHARED`, then
//! `../shared` beside the workspace, then `/work/shared`. Tests read it in place and skip when it
//! is absent (a fresh clone has none).

use std::path::{Path, PathBuf};

/// The `../shared` folder, when there is one.
pub fn shared() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [
        std::env::var_os("CAPSTAN_SHARED").map(PathBuf::from),
        Some(workspace.join("../shared")),
        Some(PathBuf::from("/work/shared")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.join("corpus").is_dir())
}

/// `../shared/corpus/NAME`, or `None` with a message when it is absent.
pub fn corpus(name: &str) -> Option<PathBuf> {
    let Some(shared) = shared() else {
        eprintln!("skipping: ../shared is absent (set CAPSTAN_SHARED)");
        return None;
    };
    let dir = shared.join("corpus").join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}
