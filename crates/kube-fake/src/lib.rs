//! An in-memory Kubernetes API server for capstan's tests: the real HTTP API over HTTPS with a
//! generated CA and bearer-token auth on loopback. It serves discovery, CRUD, server-side apply
//! with managed fields (checked against Kubernetes' structured-merge-diff), the status
//! subresource, finalizers, namespace termination, garbage collection, CRD establishment,
//! list/watch with bookmarks and 410, pod logs, and plays the built-in controllers after a short delay.
//! A side door ([`SideDoor`]) lets tests count requests, inject faults and steer controllers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kube_fake::{ObjectRef, Options, Override, Server};
//! // In-process, on a free loopback port, controllers on (200 ms).
//! let server = Server::start(Options::default()).await?;
//! // A kube-rs client from its kubeconfig (or write it to a file for kubectl, helm, capstan).
//! let kc = kube::config::Kubeconfig::from_yaml(server.kubeconfig())?;
//! let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
//! let client = kube::Client::try_from(config)?;
//! // Steer it: a Deployment that never becomes ready, then count requests.
//! let door = server.side_door();
//! door.set_override(&ObjectRef::new("apps/v1", "Deployment", "apps", "web"), Override { never_ready: true, ..Default::default() });
//! door.reset_counters();
//! // ... run the engine with `client` ...
//! assert_eq!(door.counters().writes(), 0);
//! # let _ = client; Ok(()) }
//! ```
//!
//! Synchronous tests use [`Server::spawn`] (its own runtime). The side door is also served over
//! HTTP under `/__kube-fake` with the same token: `GET /counters`, `POST /counters/reset`,
//! `POST|DELETE /faults`, `POST /overrides`, `POST /status`, `POST /objects`, `POST /logs`,
//! `POST /compact`.

pub mod controllers;
pub mod defaults;
pub mod delete;
pub mod discovery;
pub mod http;
pub mod logs;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod proto;
pub mod registry;
pub mod sidedoor;
pub mod ssa;
pub mod status;
pub mod store;
pub mod tls;
pub mod watch;
pub mod write;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use sidedoor::{Counters, Fault, FaultAction, LogWrite, ObjectRef, Override, SideDoor};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// The bearer token (random when absent).
    pub token: Option<String>,
    /// Play the built-in controllers.
    pub controllers: bool,
    /// How often the controllers run (each change is acted on within this delay).
    pub controller_delay: Duration,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// The kubeconfig's default namespace.
    pub namespace: String,
    /// Print each request to stderr (for debugging a client).
    pub log_requests: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            controllers: true,
            controller_delay: Duration::from_millis(200),
            bookmark_interval: Duration::from_secs(5),
            namespace: "default".into(),
            log_requests: false,
        }
    }
}

/// Starts servers.
pub struct Server;

impl Server {
    /// Starts a server on the current tokio runtime. It runs until the handle is dropped.
    pub async fn start(options: Options) -> Result<Handle, Error> {
        let creds = tls::generate(options.token.clone())?;
        let listener = tokio::net::TcpListener::bind(options.listen).await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Mutex::new(store::Store::new()));
        let shared = Arc::new(http::Shared {
            store: store.clone(),
            token: creds.token.clone(),
            addr,
            bookmark_every: options.bookmark_interval,
            log_requests: options.log_requests,
        });
        let mut tasks = vec![tokio::spawn(http::serve(
            listener,
            creds.server_config.clone(),
            shared,
        ))];
        if options.controllers {
            tasks.push(tokio::spawn(controllers::run(
                store.clone(),
                options.controller_delay,
            )));
        }
        let kubeconfig = tls::kubeconfig(addr, &creds.ca_pem, &creds.token, &options.namespace);
        Ok(Handle {
            addr,
            kubeconfig,
            token: creds.token,
            ca_pem: creds.ca_pem,
            side: SideDoor { store },
            tasks,
            runtime: None,
        })
    }

    /// Starts a server on a runtime of its own (for synchronous tests). Must not be called from
    /// inside a tokio runtime.
    pub fn spawn(options: Options) -> Result<Handle, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let mut handle = rt.block_on(Server::start(options))?;
        handle.runtime = Some(rt);
        Ok(handle)
    }
}

/// A running server. Dropping it stops the server.
pub struct Handle {
    addr: SocketAddr,
    kubeconfig: String,
    token: String,
    ca_pem: String,
    side: SideDoor,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Handle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The kubeconfig text (context `kube-fake`).
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// Writes the kubeconfig to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<PathBuf> {
        std::fs::write(path, &self.kubeconfig)?;
        Ok(path.to_path_buf())
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The CA certificate (PEM) the server certificate chains to.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn side_door(&self) -> &SideDoor {
        &self.side
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
