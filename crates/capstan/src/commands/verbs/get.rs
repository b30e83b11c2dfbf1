//! `capstan get ks|hr|sources|all [NAME] --live`: the Flux objects in the cluster with the columns
//! `flux get` shows; `-o wide|yaml|json`; `--watch` prints the table again whenever it changes.

use std::io::Write;
use std::time::Duration;

use capstan_cluster::verbs::get::{self, Listing, Query};
use capstan_cluster::verbs::kinds::FluxKind;

use super::{Connection, cell, table};
use crate::cli::{GetArgs, GetFormat, GetKind};
use crate::commands::Exit;

pub fn run(args: &GetArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    anyhow::ensure!(
        args.selector.is_empty(),
        "-l/--selector is not supported with --live yet; list without it, or use `kubectl get kustomizations,helmreleases -A -l SELECTOR`"
    );
    let kinds: Vec<FluxKind> = match args.kind {
        GetKind::Kustomizations => vec![FluxKind::Kustomization],
        GetKind::HelmReleases => vec![FluxKind::HelmRelease],
        GetKind::Sources => FluxKind::SOURCES.to_vec(),
        GetKind::All => FluxKind::ALL.to_vec(),
        GetKind::Images => anyhow::bail!("get images reads the repository; it has no --live form"),
    };
    let query = Query {
        namespace: (!args.all_namespaces).then(|| args.namespace.clone()),
        name: args.name.clone(),
        selector: Vec::new(),
    };
    let connection = Connection {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    let (runtime, api) = connection.connect()?;
    let mut last = String::new();
    loop {
        let listing = runtime.block_on(get::list(&api, &kinds, &query))?;
        let text = render(&listing, args)?;
        if text != last {
            write!(out, "{text}")?;
            out.flush()?;
            last = text;
        }
        if !args.watch {
            for kind in &listing.not_served {
                eprintln!(
                    "note: the cluster does not serve {} (Flux's CRD for it is not installed)",
                    kind.kind()
                );
            }
            if let Some(name) = &args.name
                && listing.rows.is_empty()
            {
                anyhow::bail!(
                    "no {} named {name} in {}",
                    kinds
                        .iter()
                        .map(|k| k.kind())
                        .collect::<Vec<_>>()
                        .join(" or "),
                    if args.all_namespaces {
                        "any namespace".to_owned()
                    } else {
                        format!("namespace {}", args.namespace)
                    }
                );
            }
            if listing.rows.is_empty() && !args.all_namespaces {
                eprintln!(
                    "no objects in namespace {}; -A lists every namespace",
                    args.namespace
                );
            }
            let failing = listing
                .rows
                .iter()
                .any(|r| !r.suspended && r.ready == "False");
            return Ok(if failing { Exit::Findings } else { Exit::Clean });
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn render(listing: &Listing, args: &GetArgs) -> anyhow::Result<String> {
    Ok(match args.output {
        GetFormat::Json => {
            let rows: Vec<serde_json::Value> = listing
                .rows
                .iter()
                .map(|r| {
                    serde_json::json!({"kind": r.kind.kind(), "namespace": r.namespace, "name": r.name,
                        "revision": r.revision, "suspended": r.suspended, "ready": r.ready,
                        "reason": r.reason, "message": r.message})
                })
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&rows)?)
        }
        GetFormat::Yaml => {
            let objects: Vec<&serde_json::Value> = listing.rows.iter().map(|r| &r.object).collect();
            capstan_core::yaml::to_yaml_stream(objects)
        }
        GetFormat::Table | GetFormat::Wide => {
            let wide = args.output == GetFormat::Wide;
            let several = listing
                .rows
                .iter()
                .map(|r| r.kind)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1;
            let mut header = Vec::new();
            if args.all_namespaces {
                header.push("NAMESPACE");
            }
            header.extend(["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]);
            if wide {
                header.push("REASON");
            }
            let rows: Vec<Vec<String>> = listing
                .rows
                .iter()
                .map(|r| {
                    let mut row = Vec::new();
                    if args.all_namespaces {
                        row.push(r.namespace.clone());
                    }
                    let name = if several {
                        format!("{}/{}", r.kind.kind(), r.name)
                    } else {
                        r.name.clone()
                    };
                    row.extend([
                        name,
                        r.revision.clone(),
                        if r.suspended { "True" } else { "False" }.to_owned(),
                        r.ready.clone(),
                        if wide {
                            r.message.clone()
                        } else {
                            cell(&r.message, 80)
                        },
                    ]);
                    if wide {
                        row.push(r.reason.clone());
                    }
                    row
                })
                .collect();
            table(&header, &rows)
        }
    })
}
