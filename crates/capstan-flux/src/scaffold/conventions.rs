//! The repository's own conventions, learned from what is already there, so a scaffolded app
//! looks like its neighbours: which file lists the apps' Flux Kustomizations (the apps file) and
//! which folder holds their manifests, how those Kustomizations are named and configured
//! (interval, source, namespace, the dependsOn every app shares), the ingress domain, class and
//! ClusterIssuer, the storage class PVCs use, how Namespaces are protected, and how sequences are
//! indented. Where the repository shows nothing, the seeds' workflow is the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan_core::{Fs, Value};

use super::ScaffoldError;
use super::index::{FluxKustomization, RepoIndex};

/// Where to look for the apps file: an explicit file, or a cluster folder under `clusters/`.
#[derive(Debug, Clone, Default)]
pub struct Locate {
    pub cluster: Option<String>,
    pub apps_file: Option<PathBuf>,
}

/// What scaffolding copies from the repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Conventions {
    /// `clusters/NAME` when the repository has one (or `--cluster` named it).
    pub cluster_dir: Option<PathBuf>,
    /// The file that lists the apps' Flux Kustomizations, relative to the root.
    pub apps_file: PathBuf,
    /// The folder the apps' manifests live in (`apps`).
    pub apps_dir: PathBuf,
    /// Prefix of an app's Kustomization name (`apps-` → `apps-NAME`).
    pub name_prefix: String,
    pub api_version: String,
    pub ks_namespace: Option<String>,
    pub interval: String,
    pub source_ref: Value,
    /// Spec fields every existing app sets to the same value (`retryInterval`, `timeout`, `wait`).
    pub shared_spec: Vec<(String, Value)>,
    /// The dependsOn entries every existing app has.
    pub depends_on: Vec<String>,
    /// The Kustomization that provides the storage class PVCs use, an app with storage needs it.
    pub storage_provider: Option<String>,
    /// The Kustomization that provides the ingress class, an app with an Ingress needs it.
    pub ingress_provider: Option<String>,
    pub domain: Option<String>,
    pub cluster_issuer: Option<String>,
    pub ingress_class: Option<String>,
    pub storage_class: Option<String>,
    pub namespace_prune_disabled: bool,
    pub namespace_name_label: bool,
    /// True when block sequences are indented under their key (`key:\n  - a`).
    pub indent_sequences: bool,
    /// The app Kustomizations already in the apps file.
    pub siblings: Vec<String>,
    /// One line per convention saying where it came from.
    pub notes: Vec<String>,
}

impl Conventions {
    /// Conventions of a namespace folder of a nested layout: its apps listed in `apps_file`, their
    /// manifests under `apps_dir`, nothing learnt from siblings (no prefix, shared spec, providers
    /// or ingress/storage settings); callers fill in what they know.
    pub(crate) fn nested(
        apps_file: PathBuf,
        apps_dir: PathBuf,
        ks_namespace: Option<String>,
    ) -> Conventions {
        Conventions {
            cluster_dir: None,
            apps_file,
            apps_dir,
            name_prefix: String::new(),
            api_version: String::new(),
            ks_namespace,
            interval: String::new(),
            source_ref: Value::Null,
            shared_spec: Vec::new(),
            depends_on: Vec::new(),
            storage_provider: None,
            ingress_provider: None,
            domain: None,
            cluster_issuer: None,
            ingress_class: None,
            storage_class: None,
            namespace_prune_disabled: false,
            namespace_name_label: false,
            indent_sequences: true,
            siblings: Vec::new(),
            notes: Vec::new(),
        }
    }
}

const SHARED_FIELDS: &[&str] = &["retryInterval", "timeout", "wait"];

/// Learns the conventions of the repository at `root`.
pub fn learn(
    fs: &dyn Fs,
    root: &Path,
    index: &RepoIndex,
    locate: &Locate,
) -> Result<Conventions, ScaffoldError> {
    let (cluster_dir, apps_file) = locate_apps_file(fs, root, index, locate)?;
    let in_file: Vec<&FluxKustomization> = index
        .kustomizations
        .iter()
        .filter(|k| k.file == apps_file)
        .collect();
    let apps_dir = mode(in_file.iter().filter_map(|k| {
        let path = k.repo_path()?;
        let parent = path.parent()?.to_path_buf();
        is_apps_folder(&parent).then_some(parent)
    }))
    .unwrap_or_else(|| PathBuf::from("apps"));
    let siblings: Vec<&FluxKustomization> = in_file
        .iter()
        .copied()
        .filter(|k| {
            k.repo_path()
                .is_some_and(|p| p.parent() == Some(apps_dir.as_path()))
        })
        .collect();

    let mut notes = vec![format!(
        "apps file {} ({} app Kustomization{})",
        apps_file.display(),
        siblings.len(),
        if siblings.len() == 1 { "" } else { "s" }
    )];
    notes.push(format!("apps folder {}/", apps_dir.display()));

    let name_prefix = learn_prefix(&siblings);
    let api_version = mode(siblings.iter().filter_map(|k| {
        k.object
            .get("apiVersion")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }))
    .unwrap_or_else(|| "kustomize.toolkit.fluxcd.io/v1".to_owned());
    let ks_namespace = mode(siblings.iter().filter_map(|k| k.namespace.clone()))
        .or_else(|| (siblings.is_empty()).then(|| "flux-system".to_owned()));
    let interval = mode(
        siblings
            .iter()
            .filter_map(|k| super::index::str_at(&k.object, "/spec/interval")),
    )
    .unwrap_or_else(|| "10m0s".to_owned());
    let source_ref = mode(
        siblings
            .iter()
            .filter_map(|k| k.object.pointer("/spec/sourceRef").cloned()),
    )
    .unwrap_or_else(|| serde_json::json!({"kind": "GitRepository", "name": "flux-system"}));
    let shared_spec = SHARED_FIELDS
        .iter()
        .filter_map(|field| {
            let first = siblings
                .first()?
                .object
                .pointer(&format!("/spec/{field}"))?;
            siblings
                .iter()
                .all(|k| k.object.pointer(&format!("/spec/{field}")) == Some(first))
                .then(|| ((*field).to_owned(), first.clone()))
        })
        .collect();
    let depends_on = common_depends_on(&siblings);
    notes.push(format!(
        "Kustomization {}NAME in {}, interval {interval}{}",
        name_prefix,
        ks_namespace.as_deref().unwrap_or("the parent's namespace"),
        if depends_on.is_empty() {
            String::new()
        } else {
            format!(
                ", dependsOn {} (shared by every app)",
                depends_on.join(", ")
            )
        }
    ));

    let (domain, domain_count) = match configured_domain(fs, root) {
        Some(domain) => (Some(domain), 0),
        None => learn_domain(index),
    };
    if let Some(domain) = &domain {
        notes.push(if domain_count == 0 {
            format!("domain {domain} (from .capstan.yaml)")
        } else {
            format!(
                "domain {domain} (from {domain_count} Ingress host{})",
                if domain_count == 1 { "" } else { "s" }
            )
        });
    }
    let ingress_class = mode(index.ingresses.iter().filter_map(|i| i.value.class.clone()));
    let cluster_issuer = mode(
        index
            .ingresses
            .iter()
            .filter_map(|i| i.value.cluster_issuer.clone()),
    )
    .or_else(|| {
        let names: Vec<&String> = index.cluster_issuers.iter().map(|f| &f.value).collect();
        names
            .iter()
            .find(|n| n.contains("prod"))
            .or(names.first())
            .map(|n| (*n).clone())
    });
    if let Some(issuer) = &cluster_issuer {
        notes.push(format!(
            "TLS from ClusterIssuer {issuer}{}",
            ingress_class
                .as_deref()
                .map(|c| format!(", ingress class {c}"))
                .unwrap_or_default()
        ));
    }
    let storage_class = mode(
        index
            .pvcs
            .iter()
            .filter(|p| p.file.starts_with(&apps_dir))
            .filter_map(|p| p.value.clone()),
    );
    let storage_provider = storage_class
        .as_deref()
        .and_then(|class| provider(index, &index.storage_classes, class));
    let ingress_provider = ingress_class
        .as_deref()
        .and_then(|class| provider(index, &index.ingress_classes, class));
    let app_namespaces: Vec<_> = index
        .namespaces
        .iter()
        .filter(|n| n.file.starts_with(&apps_dir))
        .collect();
    let majority = |count: usize| app_namespaces.is_empty() || count * 2 > app_namespaces.len();
    let namespace_prune_disabled = majority(
        app_namespaces
            .iter()
            .filter(|n| n.value.prune_disabled)
            .count(),
    );
    let namespace_name_label =
        majority(app_namespaces.iter().filter(|n| n.value.name_label).count());
    if namespace_prune_disabled {
        notes.push("Namespaces carry kustomize.toolkit.fluxcd.io/prune: disabled".to_owned());
    }

    let apps_text = fs
        .read_to_string(&root.join(&apps_file))
        .map_err(|source| ScaffoldError::Read {
            path: apps_file.clone(),
            source,
        })?;
    let indent_sequences = learn_sequence_indent(&apps_text).unwrap_or(true);

    Ok(Conventions {
        cluster_dir,
        apps_file,
        apps_dir,
        name_prefix,
        api_version,
        ks_namespace,
        interval,
        source_ref,
        shared_spec,
        depends_on,
        storage_provider,
        ingress_provider,
        domain,
        cluster_issuer,
        ingress_class,
        storage_class,
        namespace_prune_disabled,
        namespace_name_label,
        indent_sequences,
        siblings: siblings.iter().map(|k| k.name.clone()).collect(),
        notes,
    })
}

fn is_apps_folder(dir: &Path) -> bool {
    dir.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "apps" || n.starts_with("apps-") || n == "applications")
}

fn locate_apps_file(
    fs: &dyn Fs,
    root: &Path,
    index: &RepoIndex,
    locate: &Locate,
) -> Result<(Option<PathBuf>, PathBuf), ScaffoldError> {
    let cluster_dir = locate_cluster(fs, root, locate)?;
    if let Some(file) = &locate.apps_file {
        let rel = file.strip_prefix(root).unwrap_or(file).to_path_buf();
        if !fs.is_file(&root.join(&rel)) {
            return Err(ScaffoldError::AppsFileNotFound {
                searched: String::new(),
                reason: format!("{} does not exist", rel.display()),
            });
        }
        check_readable(index, &rel)?;
        return Ok((cluster_dir, rel));
    }
    let search = cluster_dir.clone().unwrap_or_default();
    let mut scores: BTreeMap<&Path, usize> = BTreeMap::new();
    for ks in &index.kustomizations {
        if !ks.file.starts_with(&search) {
            continue;
        }
        let in_apps = ks
            .repo_path()
            .and_then(|p| p.parent().map(is_apps_folder))
            .unwrap_or(false);
        if in_apps {
            *scores.entry(ks.file.as_path()).or_default() += 1;
        }
    }
    let searched = if search.as_os_str().is_empty() {
        String::new()
    } else {
        format!(" in {}", search.display())
    };
    let Some(best) = scores.values().copied().max() else {
        let broken: Vec<String> = index
            .unreadable
            .iter()
            .filter(|(f, _)| f.starts_with(&search))
            .map(|(f, why)| format!("{} ({why})", f.display()))
            .collect();
        let mut reason = "no file there declares a Flux Kustomization whose spec.path is in an \
                          apps folder (such as ./apps/NAME)"
            .to_owned();
        if !broken.is_empty() {
            reason.push_str(&format!(
                "; these files could not be read: {}",
                broken.join(", ")
            ));
        }
        return Err(ScaffoldError::AppsFileNotFound { searched, reason });
    };
    let tied: Vec<String> = scores
        .iter()
        .filter(|(_, n)| **n == best)
        .map(|(f, _)| f.display().to_string())
        .collect();
    if tied.len() > 1 {
        return Err(ScaffoldError::AppsFileNotFound {
            searched,
            reason: format!(
                "{} each list {best} app Kustomization{}",
                super::list_names(&tied, 5),
                if best == 1 { "" } else { "s" }
            ),
        });
    }
    let file = scores
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(f, _)| f.to_path_buf())
        .expect("the best score belongs to a file");
    check_readable(index, &file)?;
    Ok((cluster_dir, file))
}

fn check_readable(index: &RepoIndex, file: &Path) -> Result<(), ScaffoldError> {
    match index.unreadable.iter().find(|(f, _)| f == file) {
        Some((_, why)) => Err(ScaffoldError::AppsFileNotFound {
            searched: String::new(),
            reason: format!("{} cannot be read: {why}", file.display()),
        }),
        None => Ok(()),
    }
}

fn locate_cluster(
    fs: &dyn Fs,
    root: &Path,
    locate: &Locate,
) -> Result<Option<PathBuf>, ScaffoldError> {
    let clusters_dir = root.join("clusters");
    let found: Vec<String> = fs
        .read_dir(&clusters_dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| fs.is_dir(p))
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .filter(|n| !n.starts_with('.'))
        .collect();
    match &locate.cluster {
        Some(name) => {
            if found.iter().any(|f| f == name) {
                Ok(Some(Path::new("clusters").join(name)))
            } else if found.is_empty() {
                Err(ScaffoldError::Cluster(format!(
                    "--cluster {name}: the repository has no clusters/ folder"
                )))
            } else {
                Err(ScaffoldError::Cluster(format!(
                    "--cluster {name}: no clusters/{name} folder; the repository has {}",
                    super::list_names(&found, 10)
                )))
            }
        }
        None => match found.len() {
            0 => Ok(None),
            1 => Ok(Some(Path::new("clusters").join(&found[0]))),
            _ if locate.apps_file.is_some() => Ok(None),
            _ => Err(ScaffoldError::Cluster(format!(
                "the repository has several clusters ({}); pick one with --cluster NAME",
                super::list_names(&found, 10)
            ))),
        },
    }
}

/// The Kustomization that provides a class: the one applying the class object when the
/// repository declares it, otherwise the one whose name carries the class's name (the class of a
/// chart, such as Longhorn's `longhorn` or ingress-nginx's `nginx`).
fn provider(
    index: &RepoIndex,
    declared: &[super::index::Found<String>],
    class: &str,
) -> Option<String> {
    if let Some(found) = declared.iter().find(|f| f.value == class) {
        return index
            .kustomizations_covering(&found.file)
            .first()
            .map(|k| k.name.clone());
    }
    let family = class.split('-').next().unwrap_or(class);
    index
        .kustomizations
        .iter()
        .filter(|k| k.name.split('-').any(|part| part == family))
        .min_by_key(|k| k.name.len())
        .map(|k| k.name.clone())
}

fn learn_prefix(siblings: &[&FluxKustomization]) -> String {
    let prefixes: Vec<Option<String>> = siblings
        .iter()
        .map(|k| {
            let folder = k.repo_path()?.file_name()?.to_str()?.to_owned();
            k.name.strip_suffix(&folder).map(str::to_owned)
        })
        .collect();
    match prefixes.first() {
        None => "apps-".to_owned(),
        Some(Some(first)) if prefixes.iter().all(|p| p.as_ref() == Some(first)) => first.clone(),
        _ => String::new(),
    }
}

fn common_depends_on(siblings: &[&FluxKustomization]) -> Vec<String> {
    let Some(first) = siblings.first() else {
        return Vec::new();
    };
    first
        .depends_on
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| {
            siblings
                .iter()
                .all(|k| k.depends_on.iter().any(|(n, _)| n == name))
        })
        .collect()
}

/// The domain `.capstan.yaml` declares for `check` (`check.rules.ingress-host-tls.domain`).
fn configured_domain(fs: &dyn Fs, root: &Path) -> Option<String> {
    let text = fs.read_to_string(&root.join(".capstan.yaml")).ok()?;
    let config = capstan_core::yaml::parse_document(&text).ok()?;
    config
        .pointer("/check/rules/ingress-host-tls/domain")
        .and_then(Value::as_str)
        .map(|d| d.trim_start_matches('.').to_owned())
        .filter(|d| !d.is_empty())
}

fn learn_domain(index: &RepoIndex) -> (Option<String>, usize) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for ingress in &index.ingresses {
        for host in &ingress.value.hosts {
            if host.contains(['$', '{', '*']) {
                continue;
            }
            if let Some((_, domain)) = host.split_once('.')
                && domain.contains('.')
            {
                *counts.entry(domain.to_owned()).or_default() += 1;
            }
        }
    }
    let best = counts.values().copied().max().unwrap_or(0);
    let domain = counts
        .into_iter()
        .find(|(_, n)| *n == best && best > 0)
        .map(|(d, _)| d);
    (domain, best)
}

/// Whether `key:` followed by `- item` indents the item, by majority over the text.
pub(crate) fn learn_sequence_indent(text: &str) -> Option<bool> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut indented, mut flush) = (0usize, 0usize);
    for pair in lines.windows(2) {
        let (key, item) = (pair[0], pair[1]);
        let key_trim = key.trim_start();
        if key_trim.starts_with('#') || !key_trim.ends_with(':') || key_trim.starts_with("- ") {
            continue;
        }
        let item_trim = item.trim_start();
        if !item_trim.starts_with("- ") {
            continue;
        }
        let key_indent = key.len() - key_trim.len();
        let item_indent = item.len() - item_trim.len();
        if item_indent > key_indent {
            indented += 1;
        } else if item_indent == key_indent {
            flush += 1;
        }
    }
    match (indented, flush) {
        (0, 0) => None,
        (i, f) => Some(i >= f),
    }
}

/// The most frequent value; ties go to the one seen first.
fn mode<T: PartialEq>(values: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: Vec<(T, usize)> = Vec::new();
    for value in values {
        match counts.iter_mut().find(|(v, _)| *v == value) {
            Some((_, n)) => *n += 1,
            None => counts.push((value, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_indent() {
        assert_eq!(learn_sequence_indent("a:\n  - x\nb:\n  - y\n"), Some(true));
        assert_eq!(learn_sequence_indent("a:\n- x\nb:\n- y\n"), Some(false));
        assert_eq!(learn_sequence_indent("a: 1\n"), None);
    }

    #[test]
    fn mode_prefers_first_on_ties() {
        assert_eq!(mode(["b", "a", "a", "b"].into_iter()), Some("b"));
        assert_eq!(mode(["b", "a", "a"].into_iter()), Some("a"));
        assert_eq!(mode(std::iter::empty::<&str>()), None);
    }
}
