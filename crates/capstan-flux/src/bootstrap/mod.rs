//! The bootstrap plan: what must exist before GitOps can run (Talos, the CNI, the secret
//! foundation, the GitOps engine), declared in the repository as ordered, health-gated steps.
//!
//! This module is the pure half of `capstan bootstrap` — no cluster, no tokio, no process is
//! started — so `capstan-change` can classify a change to a step's inputs and the runner in
//! `capstan-cluster` can drive the same plan:
//!
//! - [`parse`]: the plan file (`bootstrap.yaml`) into a [`Plan`], errors naming file, document
//!   and field;
//! - [`resolve`]: the plan checked against the repository and the machine before anything is
//!   touched (cycles in `needs`, a HelmRelease or path that does not exist, a missing
//!   `talosctl`/`talhelper`/`op`, a secret source that cannot be read), each step with its input
//!   files and a digest of its inputs; a helm step naming a HelmRelease takes chart, version and
//!   values from it as helm-controller would merge them;
//! - [`journal`]: what each run recorded per step (inputs, result, timings);
//! - [`status`]: each step `done`, `pending` or `changed` (and why) against a journal, a changed
//!   step marking its dependents;
//! - [`secrets`], [`talos`]: the 1Password and Talos seams (traits, with the `op` and
//!   `talosctl`/`talhelper` CLIs as first implementations) the runner drives;
//! - [`render`]: the plan's status as text, a graph (dot, mermaid) or JSON.

pub mod journal;
pub mod parse;
pub mod render;
pub mod resolve;
pub mod secrets;
pub mod status;
pub mod talos;

use std::path::PathBuf;

use capstan_core::{Map, Value};

pub use journal::{Journal, JournalEntry, StepOutcome};
pub use parse::{PLAN_FILE, ParseError, parse_plan};
pub use resolve::{
    HelmInstall, Machine, ProcessMachine, ResolveError, ResolvedPlan, ResolvedStep, check_machine,
    resolve,
};
pub use secrets::{OnePassword, OpCli, SecretError, SecretValue};
pub use status::{StepState, StepStatus, plan_status};

/// The plan file's `apiVersion`.
pub const API_VERSION: &str = "bootstrap.capstan.dev/v1alpha1";
/// The plan file's `kind`.
pub const KIND: &str = "BootstrapPlan";

/// A bootstrap plan as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The plan file, relative to the repository root.
    pub file: PathBuf,
    /// `metadata.name`.
    pub name: String,
    pub journal: JournalSettings,
    /// The steps, in the order written (the order among steps `needs` does not rank).
    pub steps: Vec<Step>,
}

/// Where the journal is kept: a local file until the cluster exists, then a ConfigMap.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalSettings {
    /// Relative to the repository root.
    pub file: PathBuf,
    pub namespace: String,
    pub config_map: String,
}

impl Default for JournalSettings {
    fn default() -> JournalSettings {
        JournalSettings {
            file: PathBuf::from(".capstan/bootstrap-journal.json"),
            namespace: "kube-system".to_owned(),
            config_map: "capstan-bootstrap-journal".to_owned(),
        }
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    /// Steps that must be done (and healthy) first.
    pub needs: Vec<String>,
    /// How long the step's health gate may take, in seconds.
    pub timeout_seconds: u64,
    pub kind: StepKind,
    /// The field path of the step in the plan file (`spec.steps[2]`).
    pub field: String,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Talos(TalosStep),
    Manifests(ManifestsStep),
    Secret(SecretStep),
    Helm(HelmStep),
    Engine(EngineStep),
    Wait(WaitStep),
}

impl StepKind {
    /// The kind's name as the plan file spells it.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Talos(_) => "talos",
            StepKind::Manifests(_) => "manifests",
            StepKind::Secret(_) => "secret",
            StepKind::Helm(_) => "helm",
            StepKind::Engine(_) => "engine",
            StepKind::Wait(_) => "wait",
        }
    }
}

/// Talos machine configs applied per node, etcd bootstrapped, kubeconfig fetched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TalosStep {
    /// A talhelper `talconfig.yaml` to generate the configs from (needs `talhelper`).
    pub talconfig: Option<PathBuf>,
    /// Where the generated (or committed) machine configs are.
    pub config_dir: PathBuf,
    /// The talosconfig for authenticated calls; `<configDir>/talosconfig` by default.
    pub talosconfig: Option<PathBuf>,
    /// The nodes; read from the talconfig when not given.
    pub nodes: Vec<TalosNode>,
    /// The control-plane node etcd is bootstrapped on; the first control-plane node by default.
    pub bootstrap_node: Option<String>,
    /// Where the fetched kubeconfig is written, relative to the repository root.
    pub kubeconfig: PathBuf,
    /// More files or folders whose content is an input of the step (patches, extra manifests).
    pub inputs: Vec<PathBuf>,
}

/// One Talos node.
#[derive(Debug, Clone, PartialEq)]
pub struct TalosNode {
    pub address: String,
    /// Its machine config file; from the talconfig, `<configDir>/<clusterName>-<hostname>.yaml`.
    pub config: PathBuf,
    pub control_plane: bool,
}

/// Repository paths applied with capstan's staged apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestsStep {
    pub paths: Vec<PathBuf>,
    /// Health gate the applied objects (kstatus) before the step is done.
    pub wait: bool,
}

/// A Kubernetes Secret assembled from secret sources; its values are never printed.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretStep {
    pub namespace: String,
    pub name: String,
    /// `type`, `Opaque` by default.
    pub secret_type: String,
    pub data: Vec<SecretEntry>,
}

/// One key of a [`SecretStep`].
#[derive(Debug, Clone, PartialEq)]
pub struct SecretEntry {
    pub key: String,
    pub source: SecretSource,
}

/// Where a secret value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    /// A 1Password secret reference (`op://vault/item/field`), read with `op read`.
    OnePassword { reference: String },
    /// A value in a SOPS-encrypted YAML or JSON file, at a dotted path (`stringData.token`).
    Sops { file: PathBuf, path: String },
    /// An environment variable.
    Env { name: String },
}

/// A chart installed as a Helm release.
#[derive(Debug, Clone, PartialEq)]
pub enum HelmStep {
    /// Everything from a HelmRelease of the repository (`namespace/name`).
    FromHelmRelease { namespace: String, name: String },
    /// A chart given in the plan.
    Chart(ChartSpec),
}

/// A chart written out in the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub release: String,
    pub namespace: String,
    /// A chart folder in the repository, a `https://` repository URL or an `oci://` reference.
    pub chart: ChartRef,
    pub version: Option<String>,
    pub values: Map,
    /// Values files (repository paths), merged in order under `values`.
    pub values_files: Vec<PathBuf>,
}

/// Where a chart comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChartRef {
    /// A chart folder in the repository.
    Path(PathBuf),
    /// A chart in an HTTP(S) Helm repository.
    Repository { url: String, name: String },
    /// An OCI chart reference.
    Oci(String),
}

/// The GitOps engine, pointed at this repository.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineStep {
    /// `flux-system` manifests (gotk-components + gotk-sync) applied from a repository path.
    FluxManifests { path: PathBuf },
    /// The Flux Operator's chart, then a FluxInstance from a repository file.
    FluxOperator {
        instance: PathBuf,
        chart: Box<ChartSpec>,
    },
}

/// A health gate.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitStep {
    /// Objects that must be Current (kstatus).
    pub objects: Vec<ObjectRef>,
    /// CEL expressions over an object, each true when healthy.
    pub cel: Vec<CelGate>,
}

/// A named object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// A CEL expression evaluated with `self` bound to an object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CelGate {
    pub object: ObjectRef,
    pub expression: String,
}

/// Why a plan could not be loaded; every problem is reported, nothing was touched.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{} problem(s) in the bootstrap plan", .0.len())]
    Invalid(Vec<ResolveError>),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
}

/// Reads `bootstrap.yaml` at `root`, resolves it against the repository and, when `machine` is
/// given, checks what a run needs from the machine (programs, variables, SOPS files).
pub fn load(
    fs: &dyn capstan_core::Fs,
    root: &std::path::Path,
    machine: Option<(&dyn Machine, &crate::sops::Keys)>,
) -> Result<ResolvedPlan, LoadError> {
    let file = PathBuf::from(PLAN_FILE);
    let text = fs
        .read_to_string(&root.join(&file))
        .map_err(|source| LoadError::Read {
            file: file.clone(),
            source,
        })?;
    let plan = parse_plan(&file, &text)?;
    let mut errors = Vec::new();
    let resolved = match resolve(fs, root, &plan) {
        Ok(resolved) => Some(resolved),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if let Some((machine, keys)) = machine {
        errors.extend(check_machine(fs, root, &plan, machine, keys));
    }
    match resolved {
        Some(resolved) if errors.is_empty() => Ok(resolved),
        _ => Err(LoadError::Invalid(errors)),
    }
}

/// The local journal of a plan (`spec.journal.file`); an empty one when the file is absent.
pub fn read_local_journal(
    fs: &dyn capstan_core::Fs,
    root: &std::path::Path,
    plan: &Plan,
) -> Result<Journal, LoadError> {
    let path = root.join(&plan.journal.file);
    if !fs.is_file(&path) {
        return Ok(Journal::new(&plan.name));
    }
    let text = fs.read_to_string(&path).map_err(|source| LoadError::Read {
        file: plan.journal.file.clone(),
        source,
    })?;
    Ok(Journal::from_json(&text)?)
}

/// The values a step sends, with every secret kept out: what the journal and `plan` may show.
pub type Inputs = std::collections::BTreeMap<String, Value>;

#[cfg(test)]
mod tests;
