//! A scan of the repository for what scaffolding needs to know: every Flux Kustomization (with
//! the file and document it lives in, so it can be edited in place), Namespaces, Ingress hosts
//! and PersistentVolumeClaims.
//!
//! The scan reads every `.yaml`/`.yml` file through [`Fs`], skipping hidden directories and Helm
//! chart templates (which are not YAML until rendered). A file that does not parse is recorded
//! in [`RepoIndex::unreadable`] and the scan goes on; commands decide whether it matters (it does
//! when it is the apps file).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use capstan_core::{Fs, Value};

use super::documents::segments;

/// A Flux Kustomization (`kustomize.toolkit.fluxcd.io`) found in the repository.
#[derive(Debug, Clone, PartialEq)]
pub struct FluxKustomization {
    /// File relative to the repository root.
    pub file: PathBuf,
    /// Index of the document's segment in the file (see [`super::documents::segments`]).
    pub segment: usize,
    pub name: String,
    pub namespace: Option<String>,
    /// `spec.path` as written.
    pub path: Option<String>,
    /// `spec.dependsOn[].name` (with their namespaces, when given).
    pub depends_on: Vec<(String, Option<String>)>,
    pub object: Value,
}

impl FluxKustomization {
    /// `spec.path` as a path relative to the repository root (`./apps/x` → `apps/x`).
    pub fn repo_path(&self) -> Option<PathBuf> {
        self.path.as_deref().map(repo_relative)
    }

    /// `spec.prune` (required by the v1 API; absent is read as false, as the controller does).
    pub fn prune(&self) -> bool {
        self.object
            .pointer("/spec/prune")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// `./a/b/` → `a/b`; `/a/b` → `a/b`; `.` → empty.
pub fn repo_relative(path: &str) -> PathBuf {
    let normalized = capstan_core::fs::normalize(Path::new(path.trim_start_matches('/')));
    if normalized == Path::new(".") {
        PathBuf::new()
    } else {
        normalized
    }
}

/// Something found at a place in the repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    pub file: PathBuf,
    pub segment: usize,
    pub value: T,
}

/// What an Ingress declares that conventions are learned from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressInfo {
    pub hosts: Vec<String>,
    pub class: Option<String>,
    pub cluster_issuer: Option<String>,
}

/// A Namespace object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceInfo {
    pub name: String,
    pub prune_disabled: bool,
    pub name_label: bool,
}

/// The scan's result.
#[derive(Debug, Clone, Default)]
pub struct RepoIndex {
    pub kustomizations: Vec<FluxKustomization>,
    pub namespaces: Vec<Found<NamespaceInfo>>,
    pub ingresses: Vec<Found<IngressInfo>>,
    /// `spec.storageClassName` of each PVC (None when it uses the default class).
    pub pvcs: Vec<Found<Option<String>>>,
    /// Names of StorageClasses.
    pub storage_classes: Vec<Found<String>>,
    /// Names of IngressClasses.
    pub ingress_classes: Vec<Found<String>>,
    /// Names of cert-manager ClusterIssuers.
    pub cluster_issuers: Vec<Found<String>>,
    /// Files that could not be read or parsed, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

const MAX_DEPTH: usize = 32;

impl RepoIndex {
    /// Scans every YAML file under `root`.
    pub fn scan(fs: &dyn Fs, root: &Path) -> RepoIndex {
        let mut index = RepoIndex::default();
        let mut visited = BTreeSet::new();
        index.walk(fs, root, root, 0, &mut visited);
        index
    }

    fn walk(
        &mut self,
        fs: &dyn Fs,
        root: &Path,
        dir: &Path,
        depth: usize,
        visited: &mut BTreeSet<PathBuf>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        // A symlink loop would revisit a directory under another name.
        if let Ok(real) = fs.canonicalize(dir)
            && !visited.insert(real)
        {
            return;
        }
        let entries = match fs.read_dir(dir) {
            Ok(entries) => entries,
            Err(error) => {
                self.unreadable.push((
                    relative(root, dir),
                    format!("cannot list directory: {error}"),
                ));
                return;
            }
        };
        let is_chart = entries
            .iter()
            .any(|e| e.file_name().is_some_and(|n| n == "Chart.yaml"));
        for entry in entries {
            let Some(file_name) = entry.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            if fs.is_dir(&entry) {
                if is_chart && (file_name == "templates" || file_name == "charts") {
                    continue;
                }
                self.walk(fs, root, &entry, depth + 1, visited);
            } else if file_name.ends_with(".yaml") || file_name.ends_with(".yml") {
                self.read_file(fs, root, &entry);
            }
        }
    }

    fn read_file(&mut self, fs: &dyn Fs, root: &Path, path: &Path) {
        let rel = relative(root, path);
        let text = match fs.read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                self.unreadable.push((rel, error.to_string()));
                return;
            }
        };
        let segs = match segments(&text) {
            Ok(segs) => segs,
            Err(error) => {
                self.unreadable
                    .push((rel, format!("line {}: {}", error.line, error.message)));
                return;
            }
        };
        for (segment, seg) in segs.into_iter().enumerate() {
            if let Some(document) = seg.document {
                self.add_object(&rel, segment, document);
            }
        }
    }

    fn add_object(&mut self, file: &Path, segment: usize, object: Value) {
        let api_version = str_at(&object, "/apiVersion").unwrap_or_default();
        let kind = str_at(&object, "/kind").unwrap_or_default();
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        let name = str_at(&object, "/metadata/name").unwrap_or_default();
        fn at<T>(file: &Path, segment: usize, value: T) -> Found<T> {
            Found {
                file: file.to_path_buf(),
                segment,
                value,
            }
        }
        match (group, kind.as_str()) {
            ("kustomize.toolkit.fluxcd.io", "Kustomization") if !name.is_empty() => {
                let depends_on = object
                    .pointer("/spec/dependsOn")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|d| {
                        let name = str_at(d, "/name")?;
                        Some((name, str_at(d, "/namespace")))
                    })
                    .collect();
                self.kustomizations.push(FluxKustomization {
                    file: file.to_path_buf(),
                    segment,
                    namespace: str_at(&object, "/metadata/namespace"),
                    path: str_at(&object, "/spec/path"),
                    name,
                    depends_on,
                    object,
                });
            }
            ("", "Namespace") if !name.is_empty() => {
                let prune_disabled = str_at(
                    &object,
                    "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune",
                )
                .is_some_and(|v| v.eq_ignore_ascii_case("disabled"));
                let name_label =
                    str_at(&object, "/metadata/labels/name").as_deref() == Some(name.as_str());
                self.namespaces.push(at(
                    file,
                    segment,
                    NamespaceInfo {
                        name,
                        prune_disabled,
                        name_label,
                    },
                ));
            }
            ("networking.k8s.io", "Ingress") => {
                let mut hosts: Vec<String> = object
                    .pointer("/spec/rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| str_at(r, "/host"))
                    .collect();
                hosts.dedup();
                self.ingresses.push(at(
                    file,
                    segment,
                    IngressInfo {
                        hosts,
                        class: str_at(&object, "/spec/ingressClassName"),
                        cluster_issuer: str_at(
                            &object,
                            "/metadata/annotations/cert-manager.io~1cluster-issuer",
                        ),
                    },
                ));
            }
            ("storage.k8s.io", "StorageClass") if !name.is_empty() => {
                self.storage_classes.push(at(file, segment, name));
            }
            ("networking.k8s.io", "IngressClass") if !name.is_empty() => {
                self.ingress_classes.push(at(file, segment, name));
            }
            ("cert-manager.io", "ClusterIssuer") if !name.is_empty() => {
                self.cluster_issuers.push(at(file, segment, name));
            }
            ("", "PersistentVolumeClaim") => {
                self.pvcs
                    .push(at(file, segment, str_at(&object, "/spec/storageClassName")));
            }
            _ => {}
        }
    }

    /// Every Kustomization name, sorted and deduplicated.
    pub fn kustomization_names(&self) -> Vec<String> {
        let names: BTreeSet<String> = self.kustomizations.iter().map(|k| k.name.clone()).collect();
        names.into_iter().collect()
    }

    /// The Kustomizations whose `spec.path` contains `file` (relative to the root): the ones that
    /// apply it, as far as a path prefix tells.
    pub fn kustomizations_covering(&self, file: &Path) -> Vec<&FluxKustomization> {
        let mut covering: Vec<&FluxKustomization> = self
            .kustomizations
            .iter()
            .filter(|k| k.repo_path().is_some_and(|p| file.starts_with(&p)))
            .collect();
        // The most specific path first.
        covering.sort_by_key(|k| {
            std::cmp::Reverse(k.repo_path().map_or(0, |p| p.components().count()))
        });
        covering
    }
}

pub(crate) fn str_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::MemFs;

    #[test]
    fn scans_objects_and_skips_chart_templates() {
        let fs = MemFs::from_files([
            (
                "repo/clusters/c/apps.yaml",
                "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps-a\n  namespace: flux-system\nspec:\n  path: ./apps/a\n  dependsOn:\n    - name: infra\n",
            ),
            (
                "repo/apps/a/ns.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {name: a}\n  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\n",
            ),
            (
                "repo/apps/a/ing.yaml",
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: a\n  annotations: {cert-manager.io/cluster-issuer: le}\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: a.example.com\n",
            ),
            ("repo/charts/x/Chart.yaml", "apiVersion: v2\nname: x\n"),
            ("repo/charts/x/templates/d.yaml", "{{ if .Values.x }}\n"),
            ("repo/broken.yaml", "a: [\n"),
            ("repo/.git/config.yaml", "a: [\n"),
        ]);
        let index = RepoIndex::scan(&fs, Path::new("repo"));
        assert_eq!(index.kustomizations.len(), 1);
        let ks = &index.kustomizations[0];
        assert_eq!(ks.name, "apps-a");
        assert_eq!(ks.segment, 0);
        assert_eq!(ks.repo_path(), Some(PathBuf::from("apps/a")));
        assert_eq!(ks.depends_on, [("infra".to_owned(), None)]);
        assert_eq!(
            index.namespaces[0].value,
            NamespaceInfo {
                name: "a".into(),
                prune_disabled: true,
                name_label: true
            }
        );
        assert_eq!(index.ingresses[0].value.hosts, ["a.example.com"]);
        assert_eq!(index.unreadable.len(), 1);
        assert_eq!(index.unreadable[0].0, PathBuf::from("broken.yaml"));
        assert_eq!(
            index
                .kustomizations_covering(Path::new("apps/a/ns.yaml"))
                .len(),
            1
        );
    }
}
