//! The oracle tools (kubectl, helm, sops, age, kubernetes-validate): `$CAPSTAN_ORACLES/bin`, then
//! `PATH`, then `~/.cache/capstan-oracles/bin` (where `../shared/tools/install-oracles.sh` puts
//! them).

use std::ffi::OsString;
use std::path::PathBuf;

/// The directories searched for an oracle, in order.
pub fn oracle_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("CAPSTAN_ORACLES").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir).join("bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cache/capstan-oracles/bin"));
    }
    dirs
}

/// True when CI requires the oracles (it exports `CAPSTAN_ORACLES`): a missing tool is then a
/// failure, not a skip.
pub fn required() -> bool {
    std::env::var_os("CAPSTAN_ORACLES").is_some_and(|d| !d.is_empty())
}

/// The path of the oracle `name`, or `None` (with a message on stderr) when it is not installed.
///
/// # Panics
/// When it is absent and [`required`] holds.
pub fn oracle(name: &str) -> Option<PathBuf> {
    if let Some(found) = find(name) {
        return Some(found);
    }
    assert!(
        !required(),
        "{name} not found under $CAPSTAN_ORACLES/bin, PATH or ~/.cache/capstan-oracles/bin, \
         and CI requires it"
    );
    eprintln!(
        "skipping: {name} is not installed (../shared/tools/install-oracles.sh puts it in \
         ~/.cache/capstan-oracles/bin)"
    );
    None
}

/// The path of `name` among [`oracle_dirs`], without a message or a requirement.
pub fn find(name: &str) -> Option<PathBuf> {
    oracle_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A `PATH` with the oracle directories first, for a `capstan` process a test starts (capstan
/// itself finds helm only on `PATH` or through `CAPSTAN_HELM`).
pub fn path_with_oracles() -> OsString {
    std::env::join_paths(oracle_dirs()).unwrap_or_default()
}

/// A command for the program at `program` (a test's `env!("CARGO_BIN_EXE_capstan")`) that finds
/// the oracles on its `PATH`, as it does in CI.
pub fn command(program: &str) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    command.env("PATH", path_with_oracles());
    command
}
