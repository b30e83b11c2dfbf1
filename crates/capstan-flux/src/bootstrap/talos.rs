//! Talos behind a trait: config generation, applying a machine config per node (maintenance
//! mode for a new node), etcd bootstrap, the kubeconfig, the health check. The implementation
//! here drives the tools the seeds use, `talhelper` and `talosctl`; a native gRPC client can
//! take its place behind [`Talos`]. [`run_talos_step`] is the step itself, idempotent: a node
//! already configured takes the config again (Talos applies it without reboot when unchanged)
//! and an etcd already bootstrapped is not an error.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{TalosNode, TalosStep};

/// A Talos operation that failed; the message is the tool's, without secrets (machine configs
/// are passed as files, never on the command line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} {node}: {message}")]
pub struct TalosError {
    pub operation: &'static str,
    pub node: String,
    pub message: String,
}

/// What a bootstrap needs from Talos.
pub trait Talos {
    /// Generates machine configs from a talconfig into `out_dir` (talhelper genconfig).
    fn generate(&self, talconfig: &Path, out_dir: &Path) -> Result<(), TalosError>;
    /// True when the node answers in maintenance mode (no config yet).
    fn in_maintenance(&self, node: &str) -> bool;
    /// Applies a machine config; `insecure` for a node in maintenance mode.
    fn apply_config(&self, node: &str, config: &Path, insecure: bool) -> Result<(), TalosError>;
    /// Bootstraps etcd; `Ok(false)` when it already was.
    fn bootstrap(&self, node: &str) -> Result<bool, TalosError>;
    /// Writes the cluster's kubeconfig to `out`.
    fn kubeconfig(&self, node: &str, out: &Path) -> Result<(), TalosError>;
    /// Waits until the cluster is healthy.
    fn health(&self, node: &str, timeout_seconds: u64) -> Result<(), TalosError>;
}

/// `talosctl` (and `talhelper` for generation), run in the repository root.
#[derive(Debug, Clone)]
pub struct TalosCli {
    pub talosctl: PathBuf,
    pub talhelper: Option<PathBuf>,
    /// The talosconfig for authenticated calls.
    pub talosconfig: PathBuf,
    /// The repository root (the working directory).
    pub root: PathBuf,
}

impl TalosCli {
    fn run(&self, program: &Path, args: &[&str]) -> Result<String, String> {
        let output = Command::new(program)
            .args(args)
            .current_dir(&self.root)
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    fn talosctl(&self, node: &str, args: &[&str]) -> Result<String, String> {
        let config = self.talosconfig.to_string_lossy().into_owned();
        let mut all = vec!["--talosconfig", &config, "--nodes", node];
        all.extend_from_slice(args);
        self.run(&self.talosctl, &all)
    }
}

impl Talos for TalosCli {
    fn generate(&self, talconfig: &Path, out_dir: &Path) -> Result<(), TalosError> {
        let error = |message: String| TalosError {
            operation: "genconfig",
            node: talconfig.display().to_string(),
            message,
        };
        let talhelper = self
            .talhelper
            .as_ref()
            .ok_or_else(|| error("talhelper is not on the PATH".into()))?;
        let config = talconfig.to_string_lossy().into_owned();
        let out = out_dir.to_string_lossy().into_owned();
        self.run(
            talhelper,
            &["genconfig", "--config-file", &config, "--out-dir", &out],
        )
        .map(|_| ())
        .map_err(error)
    }

    fn in_maintenance(&self, node: &str) -> bool {
        self.run(
            &self.talosctl,
            &[
                "version",
                "--insecure",
                "--nodes",
                node,
                "--endpoints",
                node,
            ],
        )
        .is_ok()
    }

    fn apply_config(&self, node: &str, config: &Path, insecure: bool) -> Result<(), TalosError> {
        let file = config.to_string_lossy().into_owned();
        let result = if insecure {
            self.run(
                &self.talosctl,
                &[
                    "apply-config",
                    "--insecure",
                    "--nodes",
                    node,
                    "--file",
                    &file,
                ],
            )
        } else {
            self.talosctl(node, &["apply-config", "--file", &file])
        };
        result.map(|_| ()).map_err(|message| TalosError {
            operation: "apply-config",
            node: node.to_owned(),
            message,
        })
    }

    fn bootstrap(&self, node: &str) -> Result<bool, TalosError> {
        match self.talosctl(node, &["bootstrap"]) {
            Ok(_) => Ok(true),
            // The gRPC status code talosctl prints when etcd is already bootstrapped.
            Err(message) if message.contains("AlreadyExists") => Ok(false),
            Err(message) => Err(TalosError {
                operation: "bootstrap",
                node: node.to_owned(),
                message,
            }),
        }
    }

    fn kubeconfig(&self, node: &str, out: &Path) -> Result<(), TalosError> {
        let out = out.to_string_lossy().into_owned();
        self.talosctl(node, &["kubeconfig", "--force", &out])
            .map(|_| ())
            .map_err(|message| TalosError {
                operation: "kubeconfig",
                node: node.to_owned(),
                message,
            })
    }

    fn health(&self, node: &str, timeout_seconds: u64) -> Result<(), TalosError> {
        let timeout = format!("{timeout_seconds}s");
        self.talosctl(node, &["health", "--wait-timeout", &timeout])
            .map(|_| ())
            .map_err(|message| TalosError {
                operation: "health",
                node: node.to_owned(),
                message,
            })
    }
}

/// What a talos step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalosReport {
    /// Nodes configured from maintenance mode.
    pub installed: Vec<String>,
    /// Nodes that took the config again.
    pub reapplied: Vec<String>,
    /// False when etcd was already bootstrapped.
    pub bootstrapped: bool,
}

/// Runs a talos step: generate (with a talconfig), apply per node, bootstrap etcd on one
/// control-plane node, fetch the kubeconfig, await health.
pub fn run_talos_step(
    talos: &dyn Talos,
    step: &TalosStep,
    nodes: &[TalosNode],
    timeout_seconds: u64,
) -> Result<TalosReport, TalosError> {
    if let Some(talconfig) = &step.talconfig {
        talos.generate(talconfig, &step.config_dir)?;
    }
    let mut report = TalosReport {
        installed: Vec::new(),
        reapplied: Vec::new(),
        bootstrapped: false,
    };
    for node in nodes {
        let maintenance = talos.in_maintenance(&node.address);
        talos.apply_config(&node.address, &node.config, maintenance)?;
        if maintenance {
            report.installed.push(node.address.clone());
        } else {
            report.reapplied.push(node.address.clone());
        }
    }
    let first = step
        .bootstrap_node
        .clone()
        .or_else(|| {
            nodes
                .iter()
                .find(|n| n.control_plane)
                .map(|n| n.address.clone())
        })
        .ok_or_else(|| TalosError {
            operation: "bootstrap",
            node: String::new(),
            message: "no control-plane node".into(),
        })?;
    report.bootstrapped = talos.bootstrap(&first)?;
    talos.kubeconfig(&first, &step.kubeconfig)?;
    talos.health(&first, timeout_seconds)?;
    Ok(report)
}
