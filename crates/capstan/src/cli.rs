//! The command line, as clap structures. Resolution of flags into settings happens in each
//! command's module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A GitOps engine for Kubernetes that reads Flux repositories unchanged.
///
/// capstan discovers, renders, checks and diffs a Flux-style cluster repository offline, and
/// classifies every change as Bootstrap or GitOps phase with its risk and approval.
///
/// Which side a verb reads: verbs marked [cluster] read the cluster (--kubeconfig, --context);
/// `get` and `diff` read it when given --live; every other verb reads only the repository (no
/// cluster, no kubeconfig). `apply`, `drift`, `diff --live`, `resume` and `status --path` read
/// both: the repository for what should be, the cluster for what is. Only `apply`, `reconcile`,
/// `suspend` and `resume` write to the cluster.
#[derive(Debug, Parser)]
#[command(
    name = "capstan",
    version = crate::commands::version::LONG,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// When to colour output: auto (a terminal, unless NO_COLOR is set), always, never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: crate::terminal::ColorChoice,
    /// Write what the command prints on stdout to this file instead (created or replaced).
    #[arg(long, global = true, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version and the git revision it was built from.
    Version(crate::commands::version::VersionArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell).
    Completion(crate::commands::completion::CompletionArgs),
    /// The checks pre-commit runs (see .pre-commit-hooks.yaml).
    Hook(crate::commands::hook::HookArgs),
    /// Print a manual page, or write one for every command with --out-dir.
    Man(crate::commands::completion::ManArgs),
    /// Add or remove an application: the seeds' app workflows as one safe command.
    App(AppArgs),
    /// Build a kustomization directory, as `kubectl kustomize` does.
    Kustomize(crate::commands::kustomize::KustomizeArgs),
    /// Render Flux Kustomizations and HelmReleases offline, as the controllers would apply them.
    Build(crate::commands::build::BuildArgs),
    /// Show what a change does to the rendered objects, per Kustomization and HelmRelease.
    Diff(crate::commands::diff::DiffArgs),
    /// [cluster] Apply what `build` renders: server-side apply in Flux's stages, inventory, prune,
    /// health. Reads the repository and writes to the cluster.
    Apply(crate::commands::apply::ApplyArgs),
    /// [cluster] The repository against the cluster: what is missing, drifted or stale; `-o patch`
    /// writes the cluster's values back as repository edits. Reads both, writes neither.
    Drift(crate::commands::drift::DriftArgs),
    /// [cluster] Ask Flux to reconcile an object now (`ks NAME`, `hr NAME`, `source git NAME`) and
    /// wait until its controller has handled the request. Writes one annotation.
    Reconcile(crate::commands::verbs::reconcile::ReconcileArgs),
    /// [cluster] Suspend reconciliation of an object; `--reason` records an emergency override
    /// (who, when, why) on the object and as an Event.
    Suspend(crate::commands::verbs::suspend::SuspendArgs),
    /// [cluster] Resume a suspended object, after showing the drift made while it was suspended
    /// (compared with the repository at --path), then reconcile and wait.
    Resume(crate::commands::verbs::suspend::ResumeArgs),
    /// [cluster] The Events of a namespace or of one object (`ks/apps`, `Pod/web-1`).
    Events(crate::commands::verbs::events::EventsArgs),
    /// [cluster] The Flux controllers' log lines about an object (`ks/apps`), a kind or a namespace,
    /// by level, in time order; `--follow` streams them, as `flux logs` does.
    Logs(crate::commands::verbs::logs::LogsArgs),
    /// [cluster] What a Kustomization or HelmRelease manages, from its inventory and Helm releases;
    /// what a source feeds.
    Tree(crate::commands::verbs::tree::TreeArgs),
    /// [cluster] Which Kustomization or HelmRelease manages an object, up to its source and revision.
    Trace(crate::commands::verbs::trace::TraceArgs),
    /// [cluster] The cluster at a glance: nodes, Flux objects not Ready, overrides, drift, failed
    /// Helm releases, stuck namespaces, unbound PVCs. Exit 1 when something needs attention.
    Status(crate::commands::verbs::status::StatusArgs),
    /// [cluster] Where a Kustomization, HelmRelease or source is stuck: source, dependencies, build,
    /// health, events — the first link that is, and the commands that show more.
    Why(crate::commands::verbs::why::WhyArgs),
    /// Classify a change: phase (Bootstrap/GitOps/Hybrid), risk, approval and procedure.
    Plan(crate::commands::plan::PlanArgs),
    /// The Bootstrap phase as a plan: Talos, the CNI, secrets and the GitOps engine, in order,
    /// health-gated, re-running only what changed.
    Bootstrap(crate::commands::bootstrap::BootstrapArgs),
    /// List the Flux objects a repository declares, as `flux get` lists them in a cluster.
    Get(GetArgs),
    /// Show the dependsOn graph of Kustomizations and HelmReleases: apply waves, cycles, and
    /// dependencies, sources and paths that are missing.
    Graph(GraphArgs),
    /// Render the whole repository and report what is wrong before it reaches the cluster:
    /// strict schemas, the seeds' policies and Flux integrity, PASS/FAIL per Kustomization.
    Check(CheckArgs),
}

/// What `capstan get` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetKind {
    /// Flux Kustomizations.
    #[value(name = "ks", alias = "kustomization", alias = "kustomizations")]
    Kustomizations,
    /// HelmReleases.
    #[value(name = "hr", alias = "helmrelease", alias = "helmreleases")]
    HelmReleases,
    /// GitRepository, OCIRepository, HelmRepository and Bucket sources.
    #[value(name = "sources", alias = "source")]
    Sources,
    /// All of the above.
    All,
    /// The container images each Kustomization and HelmRelease runs (renders the repository).
    #[value(name = "images", alias = "image")]
    Images,
}

/// Output formats of `capstan get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetFormat {
    Table,
    Wide,
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The kind of object to list.
    #[arg(value_enum)]
    pub kind: GetKind,
    /// Only the object with this name.
    pub name: Option<String>,
    /// The repository (or a folder in it) to read.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Only objects in this namespace.
    #[arg(
        short = 'n',
        long,
        default_value = "flux-system",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: String,
    /// Objects in every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: GetFormat,
    /// Only objects whose labels match (`key=value`, `key!=value`, `key`, `!key`; comma-separated
    /// or repeated: all must match).
    #[arg(
        short = 'l',
        long = "selector",
        visible_alias = "label-selector",
        value_name = "SELECTOR"
    )]
    pub selector: Vec<String>,
    #[command(flatten)]
    pub render: crate::commands::images::RenderArgs,
    #[command(flatten)]
    pub sources: crate::commands::sources::SourceArgs,
    /// Read the cluster instead of the repository (as `flux get` does).
    #[arg(long)]
    pub live: bool,
    /// With --live: print the table again whenever it changes, until interrupted.
    #[arg(short = 'w', long, requires = "live")]
    pub watch: bool,
    /// With --live: the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// With --live: the kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    #[command(flatten)]
    pub vars: crate::commands::vars::VarArgs,
}

/// Output formats of `capstan graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The repository (or a folder in it) to read.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: GraphFormat,
    #[command(flatten)]
    pub vars: crate::commands::vars::VarArgs,
    #[command(flatten)]
    pub sources: crate::commands::sources::SourceArgs,
}

#[derive(Debug, Args)]
pub struct AppArgs {
    #[command(subcommand)]
    pub command: AppCommand,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Scaffold apps/NAME (namespace, deployment, service, kustomization; an Ingress and a PVC on
    /// request) and register its Flux Kustomization in the cluster's apps file.
    Add(Box<AppAddArgs>),
    /// Take an app's Flux Kustomization out of the apps file, after showing what Flux will prune.
    Remove(AppRemoveArgs),
}

/// Where the repository is and which apps file to edit.
#[derive(Debug, Args)]
pub struct AppLocateArgs {
    /// The repository root.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The cluster folder under clusters/ whose apps file to edit (needed when there are several).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The file that lists the apps' Flux Kustomizations, when it cannot be found on its own.
    #[arg(long, value_name = "FILE")]
    pub apps_file: Option<PathBuf>,
    /// Print every file that would be written or changed, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub vars: crate::commands::vars::VarArgs,
    #[command(flatten)]
    pub sources: crate::commands::sources::SourceArgs,
}

#[derive(Debug, Args)]
pub struct AppAddArgs {
    /// The app's name (a DNS-1123 label): its folder, namespace, Deployment and Service.
    pub name: String,
    /// The container image, pinned: IMAGE:TAG (not latest) or IMAGE@sha256:DIGEST.
    #[arg(long)]
    pub image: String,
    /// The port the container listens on.
    #[arg(long, default_value_t = 80)]
    pub port: u16,
    #[arg(long, default_value_t = 1)]
    pub replicas: u32,
    /// Deploy into this namespace (an existing one is joined, not created).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Flux Kustomizations to depend on; defaults to the dependsOn every existing app shares.
    #[arg(long, value_name = "KS,...", value_delimiter = ',')]
    pub depends_on: Option<Vec<String>>,
    /// Add an Ingress with cert-manager TLS: a name (put on the repository's domain) or a full host.
    #[arg(long, value_name = "HOST")]
    pub ingress_host: Option<String>,
    /// Add a PersistentVolumeClaim of this size (e.g. 1Gi), mounted at /data.
    #[arg(long, value_name = "SIZE")]
    pub storage: Option<String>,
    #[command(flatten)]
    pub locate: AppLocateArgs,
}

#[derive(Debug, Args)]
pub struct AppRemoveArgs {
    /// The app's folder name or its Flux Kustomization's name.
    pub name: String,
    /// Also delete the app's folder.
    #[arg(long)]
    pub delete_files: bool,
    #[command(flatten)]
    pub locate: AppLocateArgs,
}

/// Output formats of `capstan check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Verdicts per Kustomization and HelmRelease, then findings with file:line.
    Human,
    /// The report as JSON.
    Json,
    /// GitHub Actions workflow annotations.
    Github,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The repository to check.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "human")]
    pub output: CheckFormat,
    /// The Kubernetes version whose schemas built-in kinds are validated against
    /// (default: `check.kubeVersion` in .capstan.yaml, else 1.33).
    #[arg(long)]
    pub kube_version: Option<String>,
    #[command(flatten)]
    pub charts: crate::commands::build::ChartArgs,
    #[command(flatten)]
    pub sources: crate::commands::sources::SourceArgs,
    #[command(flatten)]
    pub vars: crate::commands::vars::VarArgs,
}
