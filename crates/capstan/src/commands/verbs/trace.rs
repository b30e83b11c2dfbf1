//! `capstan trace KIND/NAME`: which Kustomization or HelmRelease manages an object, and the
//! source and revision it came from. Common kinds are known (`deployment/web`); others take
//! `--api-version`.

use std::io::Write;

use capstan_cluster::id::ObjectRef;
use capstan_cluster::verbs::trace::{self, api_version_of, healthy};
use clap::Args;

use super::{Connection, slash};
use crate::commands::Exit;

/// Flags of `capstan trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The object (`deployment/web`, `Pod/web-1`, `ks/apps`).
    pub target: String,
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The object's apiVersion, for kinds capstan does not know by name (e.g. cert-manager.io/v1).
    #[arg(long)]
    pub api_version: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

pub fn run(args: &TraceArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (kind, name) = slash(&args.target)?;
    let (api_version, kind) = match (&args.api_version, api_version_of(&kind)) {
        (Some(v), _) => (v.clone(), kind),
        (None, Some((v, k))) => (v.to_owned(), k.to_owned()),
        (None, None) => anyhow::bail!(
            "capstan does not know the kind {kind:?} by name; give its --api-version (e.g. --api-version cert-manager.io/v1)"
        ),
    };
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let cluster_scoped = matches!(
        kind.as_str(),
        "Namespace" | "ClusterRole" | "ClusterRoleBinding" | "CustomResourceDefinition"
    );
    let start = ObjectRef {
        group: group.into(),
        version: version.into(),
        kind,
        namespace: if cluster_scoped {
            String::new()
        } else {
            args.namespace.clone()
        },
        name,
    };
    let (runtime, api) = args.connection.connect()?;
    let chain = runtime.block_on(trace::trace(&api, start))?;
    let Some(first) = chain.first() else {
        anyhow::bail!("nothing to trace");
    };
    if !first.found {
        anyhow::bail!(
            "{} {}/{} not found",
            first.object.kind,
            args.namespace,
            first.object.name
        );
    }
    for (i, link) in chain.iter().enumerate() {
        let o = &link.object;
        let at = if o.namespace.is_empty() {
            o.name.clone()
        } else {
            format!("{}/{}", o.namespace, o.name)
        };
        if i > 0 {
            writeln!(out, "  ↑ via {}", link.via)?;
        }
        write!(out, "{} {at}", o.kind)?;
        match (&link.flux, link.found) {
            (_, false) => writeln!(out, "  (not found)")?,
            (Some(row), true) => {
                writeln!(out)?;
                if !row.revision.is_empty() {
                    writeln!(out, "    revision: {}", row.revision)?;
                }
                writeln!(
                    out,
                    "    ready:    {} {}{}",
                    row.ready,
                    row.reason,
                    if row.message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", row.message)
                    }
                )?;
                if row.suspended {
                    writeln!(out, "    suspended")?;
                }
            }
            (None, true) => writeln!(out)?,
        }
        if let Some(url) = &link.url {
            writeln!(out, "    url:      {url}")?;
        }
    }
    if chain.iter().any(|l| l.flux.is_some()) && chain.iter().all(healthy) {
        Ok(Exit::Clean)
    } else if chain.iter().all(|l| l.flux.is_none()) {
        writeln!(out, "no Flux object manages it (no owner labels)")?;
        Ok(Exit::Findings)
    } else {
        Ok(Exit::Findings)
    }
}
