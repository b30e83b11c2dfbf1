//! The `dependsOn` graph of a cluster's Kustomizations and HelmReleases: apply waves (levels),
//! cycles with all their members, and dependencies that name nothing — as data.
//!
//! A Kustomization's `dependsOn` names Kustomizations and a HelmRelease's names HelmReleases
//! (unless the entry gives another `kind`); the namespace defaults to the dependant's.

use std::collections::{BTreeMap, HashMap};

use capstan_core::{Diagnostic, Location, Severity};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::discovery::{Cluster, Origin};
use crate::model::{DependencyRef, FluxKind, ObjectKey};

/// A `dependsOn` entry that names no object in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingDependency {
    pub dependant: ObjectKey,
    pub dependency: ObjectKey,
    pub location: Location,
}

/// One node: an object, its dependencies, and the wave it applies in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GraphNode {
    pub key: ObjectKey,
    /// The dependencies that exist, in `dependsOn` order.
    pub depends_on: Vec<ObjectKey>,
    /// 0 for objects without dependencies, else one more than the highest dependency's wave.
    /// `None` for members of a cycle and objects that depend on one.
    pub wave: Option<usize>,
    #[serde(skip)]
    pub origin: Origin,
}

/// The graph of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DependencyGraph {
    pub nodes: Vec<GraphNode>,
    /// Each cycle's members, in a deterministic order (sorted, smallest first).
    pub cycles: Vec<Vec<ObjectKey>>,
    pub missing: Vec<MissingDependency>,
}

impl DependencyGraph {
    /// Builds the graph of a discovered cluster.
    pub fn of(cluster: &Cluster) -> DependencyGraph {
        let mut entries: Vec<(ObjectKey, &[DependencyRef], Origin)> = Vec::new();
        for ks in &cluster.kustomizations {
            entries.push((
                ks.found.key.clone(),
                &ks.found.object.spec.depends_on,
                ks.found.origin.clone(),
            ));
        }
        for release in &cluster.helm_releases {
            entries.push((
                release.found.key.clone(),
                &release.found.object.spec.depends_on,
                release.found.origin.clone(),
            ));
        }
        DependencyGraph::from_entries(entries)
    }

    fn from_entries(entries: Vec<(ObjectKey, &[DependencyRef], Origin)>) -> DependencyGraph {
        let mut graph: DiGraph<usize, ()> = DiGraph::new();
        let mut index: HashMap<ObjectKey, NodeIndex> = HashMap::new();
        for (position, (key, _, _)) in entries.iter().enumerate() {
            index
                .entry(key.clone())
                .or_insert_with(|| graph.add_node(position));
        }
        let mut out = DependencyGraph::default();
        for (key, depends_on, origin) in &entries {
            let mut resolved = Vec::new();
            for (position, dependency) in depends_on.iter().enumerate() {
                let kind = dependency
                    .kind
                    .as_deref()
                    .and_then(FluxKind::parse)
                    .unwrap_or(key.kind);
                let target = ObjectKey::new(
                    kind,
                    dependency.namespace_or(&key.namespace),
                    dependency.name.clone(),
                );
                match index.get(&target) {
                    Some(&to) => {
                        graph.update_edge(index[key], to, ());
                        resolved.push(target);
                    }
                    None => out.missing.push(MissingDependency {
                        dependant: key.clone(),
                        dependency: target,
                        location: origin
                            .location()
                            .with_field(format!("spec.dependsOn[{position}]")),
                    }),
                }
            }
            out.nodes.push(GraphNode {
                key: key.clone(),
                depends_on: resolved,
                wave: None,
                origin: origin.clone(),
            });
        }
        // Cycles: strongly connected components with more than one member, or a self-loop.
        let mut in_cycle = vec![false; entries.len()];
        for component in tarjan_scc(&graph) {
            let looped = component.len() > 1 || graph.contains_edge(component[0], component[0]);
            if looped {
                let mut members: Vec<ObjectKey> = component
                    .iter()
                    .map(|&n| entries[graph[n]].0.clone())
                    .collect();
                members.sort();
                for &n in &component {
                    in_cycle[graph[n]] = true;
                }
                out.cycles.push(members);
            }
        }
        out.cycles.sort();
        // Waves by memoised longest path; a cycle poisons everything that depends on it.
        let mut memo: BTreeMap<usize, Option<usize>> = BTreeMap::new();
        for position in 0..entries.len() {
            let wave = wave_of(&graph, &index, &entries, &in_cycle, position, &mut memo, 0);
            out.nodes[position].wave = wave;
        }
        out
    }

    /// The nodes grouped by wave, in order; nodes without a wave are left out.
    pub fn waves(&self) -> Vec<Vec<&GraphNode>> {
        let mut waves: Vec<Vec<&GraphNode>> = Vec::new();
        for node in &self.nodes {
            if let Some(wave) = node.wave {
                if waves.len() <= wave {
                    waves.resize_with(wave + 1, Vec::new);
                }
                waves[wave].push(node);
            }
        }
        waves
    }

    /// Cycles and missing dependencies as diagnostics.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for cycle in &self.cycles {
            let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
            let location = self
                .nodes
                .iter()
                .find(|n| n.key == cycle[0])
                .map(|n| n.origin.location().with_field("spec.dependsOn"))
                .unwrap_or_default();
            out.push(
                Diagnostic::new(
                    "flux/dependency-cycle",
                    Severity::Error,
                    format!(
                        "dependsOn cycle between {}: none of them can become ready",
                        names.join(", ")
                    ),
                )
                .at(location),
            );
        }
        for missing in &self.missing {
            out.push(
                Diagnostic::new(
                    "flux/missing-dependency",
                    Severity::Error,
                    format!(
                        "{} depends on {}, which is not in this cluster",
                        missing.dependant, missing.dependency
                    ),
                )
                .at(missing.location.clone()),
            );
        }
        out
    }
}

fn wave_of(
    graph: &DiGraph<usize, ()>,
    index: &HashMap<ObjectKey, NodeIndex>,
    entries: &[(ObjectKey, &[DependencyRef], Origin)],
    in_cycle: &[bool],
    position: usize,
    memo: &mut BTreeMap<usize, Option<usize>>,
    depth: usize,
) -> Option<usize> {
    if let Some(&wave) = memo.get(&position) {
        return wave;
    }
    if in_cycle[position] || depth > entries.len() {
        memo.insert(position, None);
        return None;
    }
    let node = index[&entries[position].0];
    let mut wave = Some(0);
    for dependency in graph.neighbors(node) {
        let dependency_wave = wave_of(
            graph,
            index,
            entries,
            in_cycle,
            graph[dependency],
            memo,
            depth + 1,
        );
        wave = match (wave, dependency_wave) {
            (Some(w), Some(d)) => Some(w.max(d + 1)),
            _ => None,
        };
    }
    memo.insert(position, wave);
    wave
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(name: &str) -> DependencyRef {
        DependencyRef {
            name: name.into(),
            ..DependencyRef::default()
        }
    }

    fn ks(name: &str) -> ObjectKey {
        ObjectKey::new(FluxKind::Kustomization, "flux-system", name)
    }

    #[test]
    fn waves_cycles_and_missing() {
        let none: Vec<DependencyRef> = vec![];
        let on_a = vec![dep("a")];
        let on_ab = vec![dep("a"), dep("b")];
        let on_d = vec![dep("d")];
        let on_c = vec![dep("c")];
        let on_ghost = vec![dep("ghost")];
        let graph = DependencyGraph::from_entries(vec![
            (ks("a"), &none, Origin::default()),
            (ks("b"), &on_a, Origin::default()),
            (ks("e"), &on_ab, Origin::default()),
            (ks("c"), &on_d, Origin::default()),
            (ks("d"), &on_c, Origin::default()),
            (ks("f"), &on_c, Origin::default()),
            (ks("g"), &on_ghost, Origin::default()),
        ]);
        let waves: Vec<Option<usize>> = graph.nodes.iter().map(|n| n.wave).collect();
        assert_eq!(
            waves,
            vec![Some(0), Some(1), Some(2), None, None, None, Some(0)]
        );
        assert_eq!(graph.cycles, vec![vec![ks("c"), ks("d")]]);
        assert_eq!(graph.missing.len(), 1);
        assert_eq!(graph.missing[0].dependency, ks("ghost"));
        assert_eq!(
            graph.missing[0].location.field.as_deref(),
            Some("spec.dependsOn[0]")
        );
        let diagnostics = graph.diagnostics();
        assert_eq!(diagnostics.len(), 2);
        assert!(
            diagnostics[0]
                .message
                .contains("Kustomization/flux-system/c, Kustomization/flux-system/d")
        );
    }

    #[test]
    fn self_dependency_is_a_cycle() {
        let on_self = vec![dep("a")];
        let graph = DependencyGraph::from_entries(vec![(ks("a"), &on_self, Origin::default())]);
        assert_eq!(graph.cycles, vec![vec![ks("a")]]);
        assert_eq!(graph.nodes[0].wave, None);
    }
}
