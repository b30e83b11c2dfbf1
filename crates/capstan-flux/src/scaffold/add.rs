//! Planning `app add`: validate every input, learn the repository's conventions, and return the
//! files to create plus the document to append to the apps file. Any refusal happens here,
//! before a single byte is written.

use std::path::{Path, PathBuf};

use capstan_core::Fs;

use super::changes::{ChangeSet, FileChange};
use super::conventions::{Conventions, Locate, learn};
use super::documents::append_document;
use super::index::RepoIndex;
use super::names::{check_dns1123_label, check_hostname, check_storage_size, parse_pinned_image};
use super::templates::{AppSpec, app_files, flux_kustomization};
use super::{ScaffoldError, list_names};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddRequest {
    pub name: String,
    pub image: String,
    pub port: u16,
    pub replicas: u32,
    pub namespace: Option<String>,
    /// Replaces the dependsOn learned from the other apps when given.
    pub depends_on: Option<Vec<String>>,
    /// A full host, or a single label that is put on the repository's domain.
    pub ingress_host: Option<String>,
    pub storage: Option<String>,
    pub locate: LocateArgs,
}

/// `--cluster` / `--apps-file`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocateArgs {
    pub cluster: Option<String>,
    pub apps_file: Option<PathBuf>,
}

impl LocateArgs {
    pub(crate) fn to_locate(&self) -> Locate {
        Locate {
            cluster: self.cluster.clone(),
            apps_file: self.apps_file.clone(),
        }
    }
}

/// The planned change and what it was based on.
#[derive(Debug, Clone)]
pub struct AddPlan {
    pub app: AppSpec,
    /// The app's folder, relative to the root.
    pub app_dir: PathBuf,
    pub conventions: Conventions,
    pub changes: ChangeSet,
    /// Things worth telling the user (a namespace reused, a dependency added).
    pub notes: Vec<String>,
}

/// Plans `app add` for the repository at `root`.
pub fn plan_add(fs: &dyn Fs, root: &Path, request: &AddRequest) -> Result<AddPlan, ScaffoldError> {
    // Inputs first: these need no repository.
    check_dns1123_label(&request.name).map_err(|reason| ScaffoldError::InvalidName {
        name: request.name.clone(),
        reason,
    })?;
    parse_pinned_image(&request.image).map_err(|reason| ScaffoldError::UnpinnedImage {
        image: request.image.clone(),
        reason,
    })?;
    if let Some(ns) = &request.namespace {
        check_dns1123_label(ns).map_err(|reason| invalid("--namespace", ns, reason))?;
    }
    if request.port == 0 {
        return Err(invalid("--port", "0", "ports run from 1 to 65535".into()));
    }
    if request.replicas == 0 {
        return Err(invalid(
            "--replicas",
            "0",
            "an app with no replicas serves nothing; use at least 1".into(),
        ));
    }
    if let Some(size) = &request.storage {
        check_storage_size(size).map_err(|reason| invalid("--storage", size, reason))?;
        if request.replicas > 1 {
            return Err(invalid(
                "--replicas",
                &request.replicas.to_string(),
                "--storage creates one ReadWriteOnce volume, which only one replica can mount; \
                 use --replicas 1"
                    .into(),
            ));
        }
    }

    if !fs.is_dir(root) {
        return Err(ScaffoldError::NotARepository(root.to_path_buf()));
    }
    let index = RepoIndex::scan(fs, root);
    // The per-app layout (apps/<namespace>/<app>/ks.yaml), unless an apps file is named.
    if request.locate.apps_file.is_none()
        && request.locate.cluster.is_none()
        && let Some(nested) = super::nested::detect(&index)
    {
        return super::nested::plan_add(fs, root, request, &nested);
    }
    let conventions = learn(fs, root, &index, &request.locate.to_locate())?;
    let mut notes = Vec::new();

    // The app must be new: no folder, no Kustomization of that name or path.
    let app_dir = conventions.apps_dir.join(&request.name);
    let kustomization_name = format!("{}{}", conventions.name_prefix, request.name);
    if fs.exists(&root.join(&app_dir)) {
        return Err(exists(
            request,
            format!("{} already exists", app_dir.display()),
        ));
    }
    if let Some(ks) = index
        .kustomizations
        .iter()
        .find(|k| k.name == kustomization_name || k.repo_path().as_deref() == Some(&app_dir))
    {
        return Err(exists(
            request,
            format!(
                "Flux Kustomization {} is declared in {}",
                ks.name,
                ks.file.display()
            ),
        ));
    }

    // The namespace: the app's own, unless it joins one declared elsewhere.
    let namespace = request
        .namespace
        .clone()
        .unwrap_or_else(|| request.name.clone());
    let existing_ns = index.namespaces.iter().find(|n| n.value.name == namespace);
    let mut depends_on = match &request.depends_on {
        Some(list) => list.clone(),
        None => {
            let mut list = conventions.depends_on.clone();
            let mut learned = |provider: &Option<String>, why: String| {
                if let Some(dep) = provider
                    && !list.contains(dep)
                {
                    notes.push(format!("dependsOn {dep} ({why})"));
                    list.push(dep.clone());
                }
            };
            if request.storage.is_some() {
                let class = conventions.storage_class.as_deref().unwrap_or("default");
                learned(
                    &conventions.storage_provider,
                    format!("it provides storage class {class}"),
                );
            }
            if request.ingress_host.is_some() {
                let class = conventions.ingress_class.as_deref().unwrap_or("default");
                learned(
                    &conventions.ingress_provider,
                    format!("it provides ingress class {class}"),
                );
            }
            list
        }
    };
    let create_namespace = match existing_ns {
        None => true,
        Some(found) if request.namespace.is_some() => {
            notes.push(format!(
                "namespace {namespace} is declared in {}; the app joins it",
                found.file.display()
            ));
            // Its owner must be applied first.
            if let Some(owner) = index.kustomizations_covering(&found.file).first()
                && !depends_on.contains(&owner.name)
            {
                notes.push(format!(
                    "dependsOn {} (it creates namespace {namespace})",
                    owner.name
                ));
                depends_on.push(owner.name.clone());
            }
            false
        }
        Some(found) => {
            return Err(exists(
                request,
                format!(
                    "namespace {namespace} is already declared in {}; pass --namespace \
                     {namespace} to deploy into it, or pick another name",
                    found.file.display()
                ),
            ));
        }
    };

    // Every dependsOn target must exist.
    let known = index.kustomization_names();
    for dep in &depends_on {
        check_dns1123_label(dep).map_err(|reason| invalid("--depends-on", dep, reason))?;
        if !known.contains(dep) {
            let suggestions: Vec<String> = known
                .iter()
                .filter(|k| k.contains(dep.as_str()) || dep.contains(k.as_str()))
                .cloned()
                .collect();
            let shown = if suggestions.is_empty() {
                &known
            } else {
                &suggestions
            };
            return Err(ScaffoldError::UnknownDependency {
                name: dep.clone(),
                known: if shown.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {}: {}",
                        if suggestions.is_empty() {
                            "known"
                        } else {
                            "did you mean"
                        },
                        list_names(shown, 12)
                    )
                },
            });
        }
    }
    let mut seen = Vec::new();
    depends_on.retain(|d| {
        let first = !seen.contains(d);
        seen.push(d.clone());
        first
    });

    // The ingress host, on the repository's domain, with a ClusterIssuer for its certificate.
    let host = match &request.ingress_host {
        None => None,
        Some(host) => Some(resolve_host(host, &conventions, &index)?),
    };

    let app = AppSpec {
        name: request.name.clone(),
        namespace,
        image: request.image.clone(),
        port: request.port,
        replicas: request.replicas,
        host,
        storage: request.storage.clone(),
        create_namespace,
        kustomization_name,
        depends_on,
    };

    let mut changes = ChangeSet::default();
    for (file, contents) in app_files(&app, &conventions) {
        changes.push(FileChange::Create {
            path: app_dir.join(file),
            contents,
        });
    }
    let path = format!("./{}", slash_path(&app_dir));
    let document = flux_kustomization(&app, &path, &conventions);
    let before = fs
        .read_to_string(&root.join(&conventions.apps_file))
        .map_err(|source| ScaffoldError::Read {
            path: conventions.apps_file.clone(),
            source,
        })?;
    let after = append_document(&before, &document);
    changes.push(FileChange::Modify {
        path: conventions.apps_file.clone(),
        before,
        after,
    });

    Ok(AddPlan {
        app,
        app_dir,
        conventions,
        changes,
        notes,
    })
}

fn resolve_host(
    host: &str,
    conventions: &Conventions,
    index: &RepoIndex,
) -> Result<String, ScaffoldError> {
    let full = if host.contains('.') {
        host.to_owned()
    } else {
        match &conventions.domain {
            Some(domain) => format!("{host}.{domain}"),
            None => {
                return Err(invalid(
                    "--ingress-host",
                    host,
                    "the repository has no Ingress to learn its domain from; give the full \
                     host name (app.example.com)"
                        .into(),
                ));
            }
        }
    };
    check_hostname(&full).map_err(|reason| invalid("--ingress-host", host, reason))?;
    if let Some(domain) = &conventions.domain
        && full
            .strip_suffix(&format!(".{domain}"))
            .is_none_or(|app| app.contains('.'))
    {
        return Err(invalid(
            "--ingress-host",
            host,
            format!(
                "hosts in this repository are <app>.{domain}; use --ingress-host NAME or \
                 NAME.{domain}"
            ),
        ));
    }
    if let Some(taken) = index
        .ingresses
        .iter()
        .find(|i| i.value.hosts.contains(&full))
    {
        return Err(invalid(
            "--ingress-host",
            host,
            format!("{full} is already served by {}", taken.file.display()),
        ));
    }
    if conventions.cluster_issuer.is_none() {
        return Err(invalid(
            "--ingress-host",
            host,
            "the repository has no cert-manager ClusterIssuer to issue its TLS certificate".into(),
        ));
    }
    Ok(full)
}

pub(super) fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

pub(super) fn invalid(flag: &'static str, value: &str, reason: String) -> ScaffoldError {
    ScaffoldError::InvalidFlag {
        flag,
        value: value.to_owned(),
        reason,
    }
}

fn exists(request: &AddRequest, what: String) -> ScaffoldError {
    ScaffoldError::AppExists {
        name: request.name.clone(),
        what,
    }
}
