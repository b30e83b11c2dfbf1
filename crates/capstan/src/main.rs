//! The `capstan` binary: flags in, settings resolved, one file per command under `commands/`.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod terminal;

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (ring), before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    terminal::init(cli.color);
    let result = match cli.output_file.clone() {
        Some(path) => match std::fs::File::create(&path) {
            Ok(file) => {
                let mut out = io::BufWriter::new(file);
                let result = commands::run(cli, &mut out);
                match (result, out.flush()) {
                    (Ok(_), Err(e)) => {
                        Err(anyhow::Error::new(e).context(format!("writing {}", path.display())))
                    }
                    (result, _) => result,
                }
            }
            Err(e) => Err(anyhow::Error::new(e)
                .context(format!("cannot create --output-file {}", path.display()))),
        },
        None => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            let result = commands::run(cli, &mut out);
            let _ = out.flush();
            result
        }
    };
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
