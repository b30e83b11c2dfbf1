//! The bootstrap runner: `capstan bootstrap apply` and `status` over the plan
//! `capstan_flux::bootstrap` resolves. The plan, its digests and the done / pending / changed
//! decision are pure and live there; this module does the I/O:
//!
//! - [`runner`]: the run — which steps run (the journal, then the cluster's word on the steps
//!   the journal calls done), each recorded in the journal when it starts and when it ends, so
//!   a run killed midway resumes at the step that did not finish; and `status`, which re-checks
//!   every step's health gate;
//! - [`journal_store`]: the journal in its local file and, once the cluster answers, in a
//!   ConfigMap;
//! - one file per step kind: [`talos`], [`manifests`], [`secret`], [`helm`], [`engine`],
//!   [`wait`].
//!
//! Secret values are read at the moment their Secret is applied and go nowhere else: not to the
//! journal (digests of where they come from only), not to the report, not to a message.

pub mod engine;
pub mod helm;
pub mod journal_store;
pub mod manifests;
pub mod runner;
pub mod secret;
pub mod talos;
pub mod wait;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use capstan_flux::bootstrap::secrets::SecretError;
use capstan_flux::bootstrap::talos::TalosError;
use capstan_flux::bootstrap::{LoadError, Machine};
use capstan_flux::charts::Charts;
use capstan_flux::helm::HelmRenderer;
use capstan_flux::sops::Keys;

use crate::cluster::ClusterError;

pub use journal_store::{JournalStore, StoreError};
pub use runner::{
    GateReport, RunEvent, RunReport, Selection, StatusReport, StepRun, StepRunOutcome, apply,
    select, status,
};

/// A progress callback.
pub type Progress = Arc<dyn Fn(&RunEvent) + Send + Sync>;

/// What a run needs besides the repository.
pub struct Settings {
    /// The repository holding `bootstrap.yaml`.
    pub root: PathBuf,
    /// The cluster's kubeconfig when the plan has no talos step (else the talos step's fetched
    /// one); `None`: `$KUBECONFIG`, `~/.kube/config`, in-cluster.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub selection: Selection,
    /// Age identities for SOPS sources.
    pub keys: Keys,
    /// Check the machine (programs, variables, SOPS sources) before a run, as `plan` does.
    pub check_machine: bool,
    /// Programs (`talosctl`, `talhelper`, `op`) and environment variables.
    pub machine: Arc<dyn Machine + Send + Sync>,
    /// Renders charts of helm steps; `None` fails a helm step (helm not found).
    pub helm: Option<Arc<dyn HelmRenderer>>,
    /// Fetches charts from HTTP and OCI repositories (through the chart cache).
    pub charts: Arc<Charts>,
    /// How often health is polled.
    pub poll: Duration,
    /// Told of each step's start and end (after the journal recorded it).
    pub progress: Option<Progress>,
}

/// Why a run stopped before its steps (a step's own failure is in the report).
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Journal(#[from] StoreError),
    #[error("no step is named {0:?} in the plan")]
    NoStep(String),
    #[error("step {step} needs {need}, which is {state}: run `capstan bootstrap apply` first")]
    NeedNotDone {
        step: String,
        need: String,
        state: &'static str,
    },
    #[error("connecting to the cluster: {0}")]
    Connect(String),
}

/// Why one step failed. Messages name objects and sources, never a secret value.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Talos(#[from] TalosError),
    #[error("rendering {path}: {message}")]
    Render { path: String, message: String },
    #[error("{0}")]
    Apply(String),
    #[error("chart {chart}: {message}")]
    Chart { chart: String, message: String },
    #[error("release {release}: {message}")]
    Release { release: String, message: String },
    #[error("not healthy after {seconds}s: {pending}")]
    Timeout { seconds: u64, pending: String },
    #[error("connecting to the cluster: {0}")]
    Connect(String),
}
