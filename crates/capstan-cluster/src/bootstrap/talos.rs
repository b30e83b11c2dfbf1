//! The talos step: machine configs generated (talhelper, with a talconfig) and applied per node
//! (`--insecure` for a node in maintenance mode), etcd bootstrapped on one control-plane node,
//! the kubeconfig fetched, health awaited — `capstan_flux::bootstrap::talos::run_talos_step`
//! through the [`Talos`] trait, run off the async threads since the implementation starts
//! processes. Once it succeeded the runner connects with the kubeconfig it fetched.

use std::path::{Path, PathBuf};

use capstan_flux::bootstrap::talos::{Talos, TalosCli, TalosError, run_talos_step};
use capstan_flux::bootstrap::{Machine, TalosNode, TalosStep};

use super::StepError;
use super::wait::Gate;

/// `talosctl` and `talhelper` as the machine has them, run in the repository.
pub fn cli(root: &Path, step: &TalosStep, machine: &dyn Machine) -> TalosCli {
    TalosCli {
        talosctl: machine
            .which("talosctl")
            .unwrap_or_else(|| PathBuf::from("talosctl")),
        talhelper: machine.which("talhelper"),
        talosconfig: step
            .talosconfig
            .clone()
            .unwrap_or_else(|| step.config_dir.join("talosconfig")),
        root: root.to_path_buf(),
    }
}

/// Runs the step; the kubeconfig lands at `<root>/<step.kubeconfig>`.
pub async fn run<T: Talos + Send + 'static>(
    talos: T,
    root: &Path,
    step: &TalosStep,
    nodes: &[TalosNode],
    timeout_seconds: u64,
) -> Result<String, StepError> {
    if let Some(dir) = root.join(&step.kubeconfig).parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            StepError::Talos(TalosError {
                operation: "kubeconfig",
                node: String::new(),
                message: format!("{}: {e}", dir.display()),
            })
        })?;
    }
    let step = step.clone();
    let nodes = nodes.to_vec();
    let report =
        tokio::task::spawn_blocking(move || run_talos_step(&talos, &step, &nodes, timeout_seconds))
            .await
            .map_err(|e| {
                StepError::Talos(TalosError {
                    operation: "talos",
                    node: String::new(),
                    message: e.to_string(),
                })
            })??;
    Ok(format!(
        "{} node(s) installed, {} re-applied, etcd {}",
        report.installed.len(),
        report.reapplied.len(),
        if report.bootstrapped {
            "bootstrapped"
        } else {
            "already bootstrapped"
        }
    ))
}

/// The gate: the fetched kubeconfig is there and Talos reports the cluster healthy.
pub async fn gate<T: Talos + Send + 'static>(
    talos: T,
    root: &Path,
    step: &TalosStep,
    nodes: &[TalosNode],
) -> Gate {
    let kubeconfig = root.join(&step.kubeconfig);
    if !kubeconfig.is_file() {
        return Gate::failing(
            format!("kubeconfig {}", step.kubeconfig.display()),
            "not fetched",
        );
    }
    let Some(node) = step.bootstrap_node.clone().or_else(|| {
        nodes
            .iter()
            .find(|n| n.control_plane)
            .map(|n| n.address.clone())
    }) else {
        return Gate::failing("talos", "no control-plane node");
    };
    let shown = format!("talos health {node}");
    let result = tokio::task::spawn_blocking(move || talos.health(&node, 60)).await;
    match result {
        Ok(Ok(())) => Gate::ok(shown, "healthy"),
        Ok(Err(e)) => Gate::failing(shown, e.message),
        Err(e) => Gate::failing(shown, e.to_string()),
    }
}
