//! Discovery over the real repositories in `../shared/corpus`, read in place: flux-local's test
//! clusters against that tool's own golden snapshots (`tests/tool/__snapshots__/test_get_ks.ambr`,
//! `test_get_hr.ambr`), and counts checked by hand for buroa/k8s-gitops and Flux's
//! flux2-kustomize-helm-example. Skips with a message when the corpus is absent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use capstan_core::OsFs;
use capstan_flux::discovery::{Discovery, KustomizeRenderer, Options, discover};

fn shared_dir() -> Option<PathBuf> {
    capstan_testkit::shared()
}

fn corpus(name: &str) -> Option<PathBuf> {
    let dir = shared_dir()?.join("corpus").join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}

fn run(path: &Path) -> Discovery {
    let path = std::fs::canonicalize(path).expect("corpus path resolves");
    discover(
        &OsFs,
        &path,
        &KustomizeRenderer::default(),
        &Options::default(),
    )
    .expect("discovery runs")
}

/// The tables of a syrupy `.ambr` file, by test name: each row as column → cell.
fn ambr_tables(text: &str) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("# name: ") else {
            continue;
        };
        let mut rows = Vec::new();
        let mut header: Option<Vec<String>> = None;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == "# ---" {
                break;
            }
            if line.is_empty() || line == "'''" {
                continue;
            }
            let cells: Vec<String> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            match &header {
                None => header = Some(cells),
                Some(columns) => rows.push(columns.iter().cloned().zip(cells).collect()),
            }
        }
        if header
            .as_ref()
            .is_some_and(|h| h.contains(&"NAME".to_owned()))
        {
            out.insert(name.to_owned(), rows);
        } else {
            out.insert(name.to_owned(), Vec::new());
        }
    }
    out
}

/// Kustomizations flux-local shows that capstan finds differently, by design (see the note).
fn known_deviation(case: &str, name: &str) -> bool {
    // cluster5: infra-controllers lives in namespace `controllers` and its sourceRef names
    // GitRepository `flux-system` without a namespace, so Flux looks in `controllers`, where no
    // such source exists: capstan reports a missing source and does not follow the path.
    // cluster11: the source is an ExternalArtifact from an ArtifactGenerator over two
    // GitRepositories that are not in the repository; capstan does not follow it.
    // cluster2, cluster4: `flux` syncs from a remote OCIRepository; flux-local leaves it out, capstan lists
    // it (with its remote source) and does not follow its path.
    // cluster3: `namespaces` and `tenants` sync from a remote OCIRepository whose artifact
    // flux-local assumes is built from the cluster folder; capstan does not follow remote
    // artifacts. flux-local's snapshot for this case also leaves out the bootstrap `flux-system`.
    // cluster5's HelmReleases sit below that unfollowed infra-controllers.
    if case.contains("[cluster3]") || case == "test_get_hr[cluster5]" {
        return true;
    }
    matches!(
        (case, name),
        ("test_get_ks[cluster5-all]", "infra-controllers")
            | ("test_get_ks[cluster11]", "apps")
            | ("test_get_ks[cluster2]" | "test_get_ks[cluster4]", "flux")
    )
}

#[test]
fn flux_local_kustomizations_match_its_snapshots() {
    let Some(flux_local) = corpus("allenporter+flux-local") else {
        return;
    };
    let text =
        std::fs::read_to_string(flux_local.join("tests/tool/__snapshots__/test_get_ks.ambr"))
            .expect("ambr");
    let mut compared = 0;
    for (case, rows) in ambr_tables(&text) {
        // Cases that select by other flags (paths, wide columns) repeat these.
        let Some(cluster) = case
            .strip_prefix("test_get_ks[")
            .and_then(|c| c.strip_suffix(']'))
        else {
            continue;
        };
        let (cluster, all) = match cluster.strip_suffix("-all") {
            Some(c) => (c, true),
            None => (cluster, false),
        };
        if !cluster.starts_with("cluster") || cluster.contains('-') || cluster == "cluster_path" {
            continue;
        }
        let discovery = run(&flux_local.join("tests/testdata").join(cluster));
        let found: BTreeSet<(String, String)> = discovery
            .clusters
            .iter()
            .flat_map(|c| c.kustomizations.iter())
            .filter(|k| all || k.found.key.namespace == "flux-system")
            .filter(|k| !known_deviation(&case, &k.found.key.name))
            .map(|k| {
                (
                    k.found.key.name.clone(),
                    k.dir
                        .as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String)> = rows
            .iter()
            .filter(|row| !known_deviation(&case, &row["NAME"]))
            .map(|row| (row["NAME"].clone(), row["PATH"].clone()))
            .collect();
        assert_eq!(found, expected, "{case}");
        compared += 1;
    }
    assert!(compared >= 9, "only {compared} flux-local cases compared");
}

#[test]
fn flux_local_helm_releases_match_its_snapshots() {
    let Some(flux_local) = corpus("allenporter+flux-local") else {
        return;
    };
    let text =
        std::fs::read_to_string(flux_local.join("tests/tool/__snapshots__/test_get_hr.ambr"))
            .expect("ambr");
    let mut compared = 0;
    for (case, rows) in ambr_tables(&text) {
        let Some(cluster) = case
            .strip_prefix("test_get_hr[")
            .and_then(|c| c.strip_suffix(']'))
        else {
            continue;
        };
        if !cluster.starts_with("cluster") || cluster.contains('-') {
            continue;
        }
        let discovery = run(&flux_local.join("tests/testdata").join(cluster));
        let found: BTreeSet<(String, String, String)> = discovery
            .clusters
            .iter()
            .flat_map(|c| c.helm_releases.iter())
            .filter(|r| !known_deviation(&case, &r.found.key.name))
            .map(|r| {
                let source = r
                    .found
                    .object
                    .spec
                    .chart_source()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                (
                    r.found.key.namespace.clone(),
                    r.found.key.name.clone(),
                    source,
                )
            })
            .collect();
        let expected: BTreeSet<(String, String, String)> = rows
            .iter()
            .filter(|row| !known_deviation(&case, &row["NAME"]))
            .map(|row| {
                (
                    row["NAMESPACE"].clone(),
                    row["NAME"].clone(),
                    row["SOURCE"].clone(),
                )
            })
            .collect();
        assert_eq!(found, expected, "{case}");
        compared += 1;
    }
    assert!(compared >= 8, "only {compared} flux-local cases compared");
}

#[test]
fn buroa_k8s_gitops() {
    let Some(repo) = corpus("buroa+k8s-gitops") else {
        return;
    };
    let discovery = run(&repo);
    assert_eq!(discovery.clusters.len(), 1);
    let cluster = &discovery.clusters[0];
    // No flux-system Kustomization (Flux Operator's FluxInstance is installed by a HelmRelease):
    // the entry points are the two Kustomizations of kubernetes/flux/cluster/ks.yaml.
    let roots: Vec<String> = cluster
        .kustomizations
        .iter()
        .filter(|k| k.found.origin.parent.is_none())
        .map(|k| k.found.key.to_string())
        .collect();
    assert_eq!(
        roots,
        [
            "Kustomization/flux-system/flux-repositories",
            "Kustomization/flux-system/cluster-apps"
        ]
    );
    // Counted by hand: one Flux Kustomization per ks.yaml entry under kubernetes/apps plus the two roots.
    assert_eq!(cluster.kustomizations.len(), 71);
    assert_eq!(cluster.helm_releases.len(), 60);
    // 32 OCIRepositories, 1 HelmRepository, and the implied bootstrap GitRepository.
    assert_eq!(cluster.sources.len(), 34);
    assert!(
        cluster
            .sources
            .iter()
            .any(|s| s.implied && s.found.key.name == "flux-system")
    );
    let echo = cluster
        .kustomizations
        .iter()
        .find(|k| k.found.key.name == "echo-server")
        .expect("echo-server");
    assert_eq!(echo.found.key.namespace, "networking");
    assert_eq!(
        echo.dir.as_deref(),
        Some(Path::new("kubernetes/apps/networking/echo-server/app"))
    );
    assert!(cluster.helm_releases.iter().all(|r| {
        r.source
            .as_ref()
            .is_some_and(|s| !matches!(s, capstan_flux::source::SourceStatus::Missing { .. }))
    }));
    let graph = capstan_flux::graph::DependencyGraph::of(cluster);
    assert!(graph.cycles.is_empty());
}

#[test]
fn flux2_kustomize_helm_example() {
    let Some(repo) = corpus("fluxcd+flux2-kustomize-helm-example") else {
        return;
    };
    let discovery = run(&repo);
    // gotk-sync.yaml is a placeholder in both clusters: the bootstrap Kustomizations are implied.
    let names: Vec<&str> = discovery.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["clusters/production", "clusters/staging"]);
    for cluster in &discovery.clusters {
        let mut kustomizations: Vec<&str> = cluster
            .kustomizations
            .iter()
            .map(|k| k.found.key.name.as_str())
            .collect();
        kustomizations.sort();
        assert_eq!(
            kustomizations,
            ["apps", "flux-system", "infra-configs", "infra-controllers"]
        );
    }
}

/// A syrupy `.ambr` block of `dict({...})`/`list([...])` as JSON.
fn ambr_value(text: &str, case: &str) -> Option<serde_json::Value> {
    let start = text.find(&format!("# name: {case}\n"))?;
    let body = text[start..].split_once('\n')?.1;
    let body = body.split("# ---").next()?;
    let json = body
        .replace("dict({", "{")
        .replace("})", "}")
        .replace("list([", "[")
        .replace("])", "]")
        .replace('\'', "\"");
    let json = regex::Regex::new(r",(\s*[}\]])")
        .expect("regex")
        .replace_all(&json, "$1")
        .into_owned();
    serde_json::from_str(&json).ok()
}

/// flux-local's `test_build_manifest`: for each Kustomization of `tests/testdata/cluster`, its
/// path and the HelmReleases, HelmRepositories and OCIRepositories its build applies.
#[test]
fn flux_local_build_manifest_matches_its_snapshot() {
    use capstan_flux::model::FluxObject;
    use serde_json::{Value, json};
    let Some(flux_local) = corpus("allenporter+flux-local") else {
        return;
    };
    let text = std::fs::read_to_string(flux_local.join("tests/__snapshots__/test_git_repo.ambr"))
        .expect("ambr");
    let expected = ambr_value(&text, "test_build_manifest").expect("test_build_manifest parses");
    let discovery = run(&flux_local.join("tests/testdata/cluster"));
    let cluster = &discovery.clusters[0];
    let mut kustomizations = Vec::new();
    for ks in &cluster.kustomizations {
        let key = &ks.found.key;
        let applied_by = |parent: &Option<capstan_flux::ObjectKey>| parent.as_ref() == Some(key);
        let releases: Vec<Value> = cluster
            .helm_releases
            .iter()
            .filter(|r| applied_by(&r.found.origin.parent))
            .map(|r| {
                let chart = r.found.object.spec.chart.as_ref().expect("chart");
                json!({"name": r.found.key.name, "namespace": r.found.key.namespace, "chart": {
                    "name": chart.spec.chart, "repo_kind": chart.spec.source_ref.kind,
                    "repo_name": chart.spec.source_ref.name,
                    "repo_namespace": chart.spec.source_ref.namespace_or(&r.found.key.namespace)}})
            })
            .collect();
        let helm_repos: Vec<Value> = cluster
            .sources
            .iter()
            .filter(|s| applied_by(&s.found.origin.parent))
            .filter_map(|s| match &s.found.object {
                FluxObject::HelmRepository(repo) => Some(json!({"name": s.found.key.name, "namespace": s.found.key.namespace,
                    "url": repo.spec.url, "repo_type": repo.spec.repository_type.clone().unwrap_or_else(|| "default".into())})),
                _ => None,
            })
            .collect();
        let oci_repos: Vec<Value> = cluster
            .sources
            .iter()
            .filter(|s| {
                applied_by(&s.found.origin.parent)
                    && matches!(s.found.object, FluxObject::OciRepository(_))
            })
            .map(|s| json!({"name": s.found.key.name, "namespace": s.found.key.namespace}))
            .collect();
        kustomizations.push(json!({"name": key.name, "namespace": key.namespace,
            "path": ks.dir.as_ref().map(|d| d.display().to_string()),
            "helm_releases": releases, "helm_repos": helm_repos, "oci_repos": oci_repos}));
    }
    // Compare the fields capstan discovers (flux-local also lists ConfigMaps and Secrets).
    let keep = |ks: &Value| -> Value {
        let sorted = |field: &str| {
            let mut items: Vec<Value> = ks[field].as_array().cloned().unwrap_or_default();
            items.sort_by_key(|v| v.to_string());
            Value::Array(items)
        };
        json!({"name": ks["name"], "namespace": ks["namespace"], "path": ks["path"],
               "helm_releases": sorted("helm_releases"), "helm_repos": sorted("helm_repos"), "oci_repos": sorted("oci_repos")})
    };
    let mut found: Vec<Value> = kustomizations.iter().map(keep).collect();
    let mut wanted: Vec<Value> = expected["clusters"][0]["kustomizations"]
        .as_array()
        .expect("kustomizations")
        .iter()
        .map(keep)
        .collect();
    found.sort_by_key(|v| v.to_string());
    wanted.sort_by_key(|v| v.to_string());
    assert_eq!(found, wanted);
}
