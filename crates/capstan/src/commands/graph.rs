//! `capstan graph`: the dependsOn DAG of each cluster's Kustomizations and HelmReleases, with
//! apply waves (levels), every cycle with all its members, and dependsOn targets, sources and
//! `spec.path` folders that are missing, each with the file that names it.
//!
//! Formats: `text` (waves and problems), `dot` (Graphviz), `mermaid` (a flowchart) and `json`.
//! Exit code 1 when there is a cycle or anything missing.

use std::io::Write;

use capstan_core::{Diagnostic, Severity};
use capstan_flux::graph::DependencyGraph;
use capstan_flux::model::{FluxKind, ObjectKey};
use serde_json::json;

use super::Exit;
use super::get::discover_repository;
use crate::cli::{GraphArgs, GraphFormat};

pub fn run(args: &GraphArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let discovery = discover_repository(
        &args.path,
        &args.vars.discovery(args.sources.resolve(&args.path)?)?,
    )?;
    let mut findings = false;
    let mut clusters = Vec::new();
    for cluster in &discovery.clusters {
        let graph = DependencyGraph::of(cluster);
        let mut problems: Vec<Diagnostic> = graph.diagnostics();
        problems.extend(cluster.diagnostics.iter().cloned());
        findings |= problems.iter().any(|d| d.severity == Severity::Error);
        clusters.push((cluster.name.clone(), graph, problems));
    }
    let mut repository_problems: Vec<Diagnostic> = discovery.diagnostics.clone();
    findings |= repository_problems
        .iter()
        .any(|d| d.severity == Severity::Error);
    match args.output {
        GraphFormat::Text => {
            let (own, shared) = split_shared(&clusters);
            write_text(out, &clusters, &own, &shared, &mut repository_problems)?
        }
        GraphFormat::Dot => write_dot(out, &clusters)?,
        GraphFormat::Mermaid => write_mermaid(out, &clusters)?,
        GraphFormat::Json => {
            let value: Vec<_> = clusters
                .iter()
                .map(|(name, graph, problems)| {
                    let waves: Vec<Vec<&ObjectKey>> =
                        graph.waves().iter().map(|wave| wave.iter().map(|n| &n.key).collect()).collect();
                    json!({"cluster": name, "nodes": graph.nodes, "waves": waves, "cycles": graph.cycles,
                           "missing": graph.missing, "diagnostics": problems})
                })
                .collect();
            serde_json::to_writer_pretty(
                &mut *out,
                &json!({"clusters": value, "diagnostics": repository_problems}),
            )?;
            writeln!(out)?;
        }
    }
    if args.output != GraphFormat::Text && args.output != GraphFormat::Json {
        let (own, shared) = split_shared(&clusters);
        for problem in own.iter().flatten() {
            eprintln!("{problem}");
        }
        for (problem, _) in &shared {
            eprintln!("{problem}");
        }
        for problem in &repository_problems {
            eprintln!("{problem}");
        }
    }
    Ok(if findings {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

fn short(key: &ObjectKey) -> String {
    format!("{}/{}", key.namespace, key.name)
}

/// A problem in a file several clusters share (a common `infrastructure/` folder) is found once
/// per cluster. Splits each cluster's problems into its own (found in that cluster only) and
/// the shared ones, each listed once with the clusters it was found in.
type Problems<'a> = (
    Vec<Vec<&'a Diagnostic>>,
    Vec<(&'a Diagnostic, Vec<&'a str>)>,
);

fn split_shared(clusters: &[(String, DependencyGraph, Vec<Diagnostic>)]) -> Problems<'_> {
    let mut seen: Vec<(&Diagnostic, Vec<&str>)> = Vec::new();
    for (name, _, problems) in clusters {
        for problem in problems {
            match seen.iter_mut().find(|(known, _)| *known == problem) {
                Some((_, names)) => {
                    if !names.contains(&name.as_str()) {
                        names.push(name);
                    }
                }
                None => seen.push((problem, vec![name])),
            }
        }
    }
    let shared: Vec<_> = seen
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .collect();
    let mut own = Vec::new();
    for (_, _, problems) in clusters {
        let mut mine: Vec<&Diagnostic> = Vec::new();
        for problem in problems {
            if !shared.iter().any(|(known, _)| *known == problem) && !mine.contains(&problem) {
                mine.push(problem);
            }
        }
        own.push(mine);
    }
    (own, shared)
}

fn write_text(
    out: &mut dyn Write,
    clusters: &[(String, DependencyGraph, Vec<Diagnostic>)],
    own: &[Vec<&Diagnostic>],
    shared: &[(&Diagnostic, Vec<&str>)],
    repository_problems: &mut [Diagnostic],
) -> std::io::Result<()> {
    for (index, ((name, graph, _), problems)) in clusters.iter().zip(own).enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "cluster {name}")?;
        for (kind, title) in [
            (FluxKind::Kustomization, "Kustomizations"),
            (FluxKind::HelmRelease, "HelmReleases"),
        ] {
            let waves: Vec<Vec<_>> = graph
                .waves()
                .into_iter()
                .map(|wave| {
                    wave.into_iter()
                        .filter(|n| n.key.kind == kind)
                        .collect::<Vec<_>>()
                })
                .collect();
            let count: usize = waves.iter().map(Vec::len).sum();
            if count == 0 {
                continue;
            }
            writeln!(out, "  {title}")?;
            for (level, wave) in waves.iter().enumerate().filter(|(_, w)| !w.is_empty()) {
                writeln!(out, "    wave {level}")?;
                for node in wave {
                    if node.depends_on.is_empty() {
                        writeln!(out, "      {}", short(&node.key))?;
                    } else {
                        let deps: Vec<String> = node.depends_on.iter().map(short).collect();
                        writeln!(out, "      {}  <- {}", short(&node.key), deps.join(", "))?;
                    }
                }
            }
        }
        if !problems.is_empty() {
            writeln!(out, "  problems")?;
            for problem in problems {
                let text = problem.to_string().replace('\n', "\n    ");
                writeln!(out, "    {text}")?;
            }
        }
    }
    if !shared.is_empty() {
        writeln!(out)?;
        writeln!(out, "problems found in several clusters")?;
        for (problem, names) in shared {
            let text = problem.to_string().replace('\n', "\n    ");
            writeln!(out, "  in {}:", names.join(", "))?;
            writeln!(out, "    {text}")?;
        }
    }
    if !repository_problems.is_empty() {
        writeln!(out, "problems outside any cluster")?;
        for problem in repository_problems.iter() {
            writeln!(out, "  {}", problem.to_string().replace('\n', "\n  "))?;
        }
    }
    Ok(())
}

fn node_label(key: &ObjectKey) -> String {
    let kind = if key.kind == FluxKind::HelmRelease {
        "hr"
    } else {
        "ks"
    };
    format!("{kind} {}/{}", key.namespace, key.name)
}

fn write_dot(
    out: &mut dyn Write,
    clusters: &[(String, DependencyGraph, Vec<Diagnostic>)],
) -> std::io::Result<()> {
    writeln!(out, "digraph dependsOn {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [shape=box];")?;
    for (index, (name, graph, _)) in clusters.iter().enumerate() {
        writeln!(out, "  subgraph cluster_{index} {{")?;
        writeln!(out, "    label={};", quote(name))?;
        let id = |key: &ObjectKey| quote(&format!("{name}:{}", node_label(key)));
        for node in &graph.nodes {
            let style = if node.wave.is_none() {
                ", color=red"
            } else {
                ""
            };
            writeln!(
                out,
                "    {} [label={}{style}];",
                id(&node.key),
                quote(&node_label(&node.key))
            )?;
        }
        for node in &graph.nodes {
            for dependency in &node.depends_on {
                writeln!(out, "    {} -> {};", id(&node.key), id(dependency))?;
            }
        }
        for missing in &graph.missing {
            let target = quote(&format!(
                "{name}:missing {}",
                node_label(&missing.dependency)
            ));
            writeln!(
                out,
                "    {target} [label={}, style=dashed, color=red];",
                quote(&format!("missing {}", node_label(&missing.dependency)))
            )?;
            writeln!(
                out,
                "    {} -> {target} [style=dashed, color=red];",
                id(&missing.dependant)
            )?;
        }
        writeln!(out, "  }}")?;
    }
    writeln!(out, "}}")
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn write_mermaid(
    out: &mut dyn Write,
    clusters: &[(String, DependencyGraph, Vec<Diagnostic>)],
) -> std::io::Result<()> {
    writeln!(out, "flowchart LR")?;
    for (base, (name, graph, _)) in clusters.iter().enumerate() {
        writeln!(
            out,
            "  subgraph c{base}[\"cluster {}\"]",
            mermaid_text(name)
        )?;
        let ids: std::collections::HashMap<&ObjectKey, String> = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (&n.key, format!("n{base}_{i}")))
            .collect();
        for node in &graph.nodes {
            writeln!(
                out,
                "    {}[\"{}\"]",
                ids[&node.key],
                mermaid_text(&node_label(&node.key))
            )?;
        }
        for node in &graph.nodes {
            for dependency in &node.depends_on {
                writeln!(out, "    {} --> {}", ids[&node.key], ids[dependency])?;
            }
        }
        for (i, missing) in graph.missing.iter().enumerate() {
            let target = format!("m{base}_{i}");
            writeln!(
                out,
                "    {target}[\"missing {}\"]",
                mermaid_text(&node_label(&missing.dependency))
            )?;
            writeln!(out, "    {} -.-> {target}", ids[&missing.dependant])?;
        }
        for node in graph.nodes.iter().filter(|n| n.wave.is_none()) {
            writeln!(out, "    style {} stroke:#d00", ids[&node.key])?;
        }
        writeln!(out, "  end")?;
    }
    Ok(())
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}
