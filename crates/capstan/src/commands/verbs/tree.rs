//! `capstan tree KIND/NAME`: what a Kustomization or HelmRelease manages, from its inventory and
//! Helm release manifests, or what a source feeds, as an indented tree.

use std::io::Write;

use capstan_cluster::verbs::kinds::FluxKind;
use capstan_cluster::verbs::tree::{self, Node};
use clap::Args;

use super::{Connection, slash};
use crate::commands::Exit;

/// Flags of `capstan tree`.
#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The Kustomization or HelmRelease (`ks/apps`, `hr/web`), or a source (`gitrepository/fleet`:
    /// the Kustomizations, HelmCharts and HelmReleases it feeds).
    pub target: String,
    #[arg(short = 'n', long, default_value = "flux-system")]
    pub namespace: String,
    /// JSON instead of a tree.
    #[arg(short = 'o', long, value_parser = ["tree", "json"], default_value = "tree")]
    pub output: String,
    #[command(flatten)]
    pub connection: Connection,
}

pub fn run(args: &TreeArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let (kind, name) = slash(&args.target)?;
    let kind = FluxKind::parse(&kind).ok_or_else(|| {
        anyhow::anyhow!(
            "tree shows a Kustomization, a HelmRelease or a source (ks/NAME, hr/NAME, gitrepository/NAME…), not {kind:?}"
        )
    })?;
    let (runtime, api) = args.connection.connect()?;
    let root = if matches!(kind, FluxKind::Kustomization | FluxKind::HelmRelease) {
        runtime.block_on(tree::tree(&api, kind, &args.namespace, &name))?
    } else {
        runtime.block_on(tree::feeds(&api, kind, &args.namespace, &name))?
    };
    if args.output == "json" {
        serde_json::to_writer_pretty(&mut *out, &root)?;
        writeln!(out)?;
        return Ok(Exit::Clean);
    }
    print(&root, "", true, true, out)?;
    Ok(Exit::Clean)
}

fn label(node: &Node) -> String {
    let o = &node.object;
    let name = if o.namespace.is_empty() {
        o.name.clone()
    } else {
        format!("{}/{}", o.namespace, o.name)
    };
    match &node.note {
        Some(note)
            if node.children.is_empty()
                && !matches!(
                    note.as_str(),
                    "inventory" | "status.inventory" | "source of"
                ) =>
        {
            format!("{}/{name} ({note})", o.kind)
        }
        _ => format!("{}/{name}", o.kind),
    }
}

fn print(
    node: &Node,
    prefix: &str,
    last: bool,
    root: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if root {
        writeln!(out, "{}", label(node))?;
    } else {
        writeln!(
            out,
            "{prefix}{}{}",
            if last { "└── " } else { "├── " },
            label(node)
        )?;
    }
    let child_prefix = if root {
        String::new()
    } else {
        format!("{prefix}{}", if last { "    " } else { "│   " })
    };
    for (i, c) in node.children.iter().enumerate() {
        print(c, &child_prefix, i + 1 == node.children.len(), false, out)?;
    }
    Ok(())
}
