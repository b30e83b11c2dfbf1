//! `kube-fake`: runs the in-memory Kubernetes API server, writes its kubeconfig, prints its
//! address, and serves until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// An in-memory Kubernetes API server for tests (HTTPS, bearer token, server-side apply).
#[derive(Parser)]
#[command(name = "kube-fake", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the kubeconfig for kubectl, helm and capstan.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Do not play the built-in controllers (rollouts, Jobs, PVCs, CRDs, namespaces, GC).
    #[arg(long)]
    no_controllers: bool,
    /// Delay, in milliseconds, before the controllers act on a change.
    #[arg(long, default_value_t = 200)]
    controller_delay_ms: u64,
    /// Use this bearer token instead of a random one.
    #[arg(long)]
    token: Option<String>,
    /// Print each request to stderr.
    #[arg(long)]
    log_requests: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let options = kube_fake::Options {
        listen: args.listen,
        token: args.token,
        controllers: !args.no_controllers,
        controller_delay: Duration::from_millis(args.controller_delay_ms),
        log_requests: args.log_requests,
        ..kube_fake::Options::default()
    };
    let server = kube_fake::Server::start(options)
        .await
        .context("starting the server")?;
    server
        .write_kubeconfig(&args.kubeconfig)
        .with_context(|| format!("writing the kubeconfig to {}", args.kubeconfig.display()))?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", server.url())?;
    out.flush()?;
    tokio::signal::ctrl_c().await?;
    drop(server);
    Ok(())
}
