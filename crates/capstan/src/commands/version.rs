//! `capstan version`: the release and the git revision the binary was built from (recorded by
//! `build.rs`; `unknown` when built outside a checkout without `CAPSTAN_GIT_REVISION`).

use std::io::Write;

use clap::{Args, ValueEnum};

use super::Exit;

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision (12 hex digits) or `unknown`.
pub const REVISION: &str = env!("CAPSTAN_GIT_REVISION");
/// The revision's commit date (YYYY-MM-DD), empty when unknown.
pub const DATE: &str = env!("CAPSTAN_GIT_DATE");

/// `0.1.0 (abcdef012345 2026-12-04)`: what `--version` and `capstan version` print.
pub const LONG: &str = env!("CAPSTAN_VERSION_LONG");

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: VersionFormat,
}

pub fn run(args: &VersionArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match args.output {
        VersionFormat::Text => writeln!(out, "capstan {LONG}")?,
        VersionFormat::Json => {
            let value = serde_json::json!({
                "version": VERSION,
                "revision": REVISION,
                "date": DATE,
            });
            serde_json::to_writer_pretty(&mut *out, &value)?;
            writeln!(out)?;
        }
    }
    Ok(Exit::Clean)
}
