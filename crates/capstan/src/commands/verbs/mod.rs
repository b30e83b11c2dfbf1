//! Flux's verbs against a live cluster (`get --live`, `reconcile`, `suspend`, `resume`, `events`,
//! `logs`, `tree`, `trace`) and capstan's `status` and `why`: flags in, one `capstan_cluster::verbs` call,
//! a table out. They read (and `reconcile`/`suspend`/`resume` write) only the cluster; `resume`
//! and `status` also read the repository when given `--path`, to compare it with the cluster.

pub mod events;
pub mod get;
pub mod logs;
pub mod reconcile;
pub mod status;
pub mod suspend;
pub mod trace;
pub mod tree;
pub mod why;

use std::path::PathBuf;

use anyhow::Context as _;
use capstan_cluster::kube_api::KubeApi;
use capstan_cluster::verbs::kinds::{FluxKind, known_kinds};
use clap::Args;

/// Which cluster, as kubectl and flux take it.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
}

impl Connection {
    /// A runtime and a client for this cluster.
    pub fn connect(&self) -> anyhow::Result<(tokio::runtime::Runtime, KubeApi)> {
        let runtime = super::live::runtime()?;
        let api = runtime
            .block_on(KubeApi::connect(
                self.kubeconfig.as_deref(),
                self.context.as_deref(),
            ))
            .context("connecting to the cluster (check --kubeconfig and --context)")?;
        Ok((runtime, api))
    }

    /// Who is acting, for audit records: the kubeconfig user, else $USER.
    pub fn who(&self) -> String {
        capstan_cluster::kube_api::kubeconfig_user(
            self.kubeconfig.as_deref(),
            self.context.as_deref(),
        )
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
    }
}

/// Reads `ks`, `hr`, `source git` (two words) and the Kinds flux accepts; the name follows.
pub fn kind_and_name(words: &[String]) -> anyhow::Result<(FluxKind, String)> {
    let (kind, rest) = match words {
        [source, kind, rest @ ..] if source == "source" || source == "sources" => {
            (kind.as_str(), rest)
        }
        [kind, rest @ ..] => (kind.as_str(), rest),
        [] => anyhow::bail!("name a kind and an object: {}", known_kinds()),
    };
    let kind = FluxKind::parse(kind)
        .with_context(|| format!("unknown kind {kind:?}; capstan knows {}", known_kinds()))?;
    match rest {
        [name] => Ok((kind, name.clone())),
        [] => anyhow::bail!("name the {} to act on", kind.kind()),
        _ => anyhow::bail!("one {} at a time (got {})", kind.kind(), rest.join(" ")),
    }
}

/// Reads `KIND/NAME` (`ks/apps`, `HelmRelease/web`, `deployment/web`).
pub fn slash(target: &str) -> anyhow::Result<(String, String)> {
    let (kind, name) = target
        .split_once('/')
        .filter(|(k, n)| !k.is_empty() && !n.is_empty() && !n.contains('/'))
        .with_context(|| format!("expected KIND/NAME (e.g. ks/apps), got {target:?}"))?;
    Ok((kind.to_owned(), name.to_owned()))
}

pub use capstan_cluster::verbs::now;

/// Cuts a message to one table cell.
pub fn cell(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Left-aligned columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            out.push_str(c);
            if i + 1 < n {
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}
