//! What the cluster verbs (`apply`, `drift`, `diff --live`) share: the connection flags, the
//! rendering of the repository into units, and the runtime they run the engine on.

use std::path::PathBuf;

use anyhow::Context as _;
use capstan_cluster::Unit;
use capstan_cluster::kube_api::KubeApi;
use capstan_core::OsFs;
use capstan_flux::build::{BuildOptions, build_all};
use capstan_flux::sops::Keys;
use clap::Args;

/// Where the cluster is and what of the repository to take.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The repository (or a folder in it) to read.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The cluster (entry point folder, e.g. clusters/production) when the repository has several.
    #[arg(long)]
    pub cluster: Option<String>,
    /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Only Kustomizations in this namespace (default for a named one: flux-system).
    #[arg(short = 'n', long, conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Kustomizations in every namespace (the default for `all`).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// An age identity file for SOPS (also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY).
    #[arg(long)]
    pub sops_age_key_file: Option<PathBuf>,
}

/// Renders the repository into units: the named Kustomization (and, with `with_dependencies`,
/// everything it depends on is left to the cluster), or all of them.
pub fn units(args: &ClusterArgs, name: Option<&str>) -> anyhow::Result<Vec<Unit>> {
    let fs = OsFs;
    let keys = Keys::from_process_env_and_file(args.sops_age_key_file.as_deref(), &fs)
        .context("loading SOPS age keys")?;
    let options = BuildOptions {
        keys,
        render_helm_releases: false,
        ..BuildOptions::default()
    };
    let report = build_all(&fs, &args.path, &options)
        .with_context(|| format!("building {}", args.path.display()))?;
    let mut clusters: Vec<&str> = report
        .kustomizations
        .iter()
        .map(|k| k.cluster.as_str())
        .collect();
    clusters.sort();
    clusters.dedup();
    let chosen = match (&args.cluster, clusters.as_slice()) {
        (Some(c), _) => {
            anyhow::ensure!(
                clusters.contains(&c.as_str()),
                "no cluster {c} under {} (found: {})",
                args.path.display(),
                clusters.join(", ")
            );
            Some(c.clone())
        }
        (None, [] | [_]) => None,
        (None, many) => anyhow::bail!(
            "{} holds several clusters ({}); choose one with --cluster",
            args.path.display(),
            many.join(", ")
        ),
    };
    let namespace = match (name, &args.namespace, args.all_namespaces) {
        (_, _, true) => None,
        (_, Some(ns), _) => Some(ns.clone()),
        (Some(_), None, _) => Some("flux-system".to_owned()),
        (None, None, _) => None,
    };
    let keep: Vec<bool> = report
        .kustomizations
        .iter()
        .map(|k| {
            chosen.as_ref().is_none_or(|c| *c == k.cluster)
                && namespace.as_ref().is_none_or(|ns| *ns == k.key.namespace)
                && name.is_none_or(|n| n == k.key.name)
        })
        .collect();
    let all = capstan_cluster::from_build(&report);
    let units: Vec<Unit> = all
        .into_iter()
        .filter(|u| {
            report.kustomizations.iter().zip(&keep).any(|(k, keep)| {
                *keep && k.key.name == u.owner.name && k.key.namespace == u.owner.namespace
            })
        })
        .collect();
    if let Some(name) = name {
        anyhow::ensure!(
            !units.is_empty(),
            "no Kustomization {}/{name} under {}",
            namespace.as_deref().unwrap_or("*"),
            args.path.display()
        );
    }
    Ok(units)
}

/// A runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Connects to the cluster the flags name.
pub async fn connect(args: &ClusterArgs) -> anyhow::Result<KubeApi> {
    KubeApi::connect(args.kubeconfig.as_deref(), args.context.as_deref())
        .await
        .context("connecting to the cluster")
}
