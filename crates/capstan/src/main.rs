//! The `capstan` binary: flags in, settings resolved, one file per command under `commands/`.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (ring), before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = commands::run(cli, &mut out);
    let _ = out.flush();
    match result {
        Ok(code) => code.into(),
        Err(error) => {
            // A closed pipe (`capstan ... | head`) is not a failure.
            if error.chain().any(|cause| {
                cause
                    .downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
