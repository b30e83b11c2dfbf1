//! Planning `app remove`: find the app's Flux Kustomization in the apps file, refuse when other
//! Kustomizations depend on it, and return the edit that cuts its document out (every other byte
//! of the file stays) plus, with `--delete-files`, the deletion of its folder.

use std::path::{Path, PathBuf};

use capstan_core::Fs;

use super::add::LocateArgs;
use super::changes::{ChangeSet, FileChange};
use super::conventions::{Conventions, learn};
use super::documents::{remove_segment, segments};
use super::index::{FluxKustomization, RepoIndex};
use super::names::check_dns1123_label;
use super::{ScaffoldError, list_names};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveRequest {
    /// The app's folder name, or its Kustomization's name.
    pub name: String,
    pub delete_files: bool,
    pub locate: LocateArgs,
}

/// The planned change.
#[derive(Debug, Clone)]
pub struct RemovePlan {
    /// The Kustomization being removed, as it is in the apps file.
    pub kustomization: FluxKustomization,
    pub conventions: Conventions,
    /// The folder deleted with `--delete-files`.
    pub deleted_dir: Option<PathBuf>,
    pub changes: ChangeSet,
}

/// Plans `app remove` for the repository at `root`.
pub fn plan_remove(
    fs: &dyn Fs,
    root: &Path,
    request: &RemoveRequest,
) -> Result<RemovePlan, ScaffoldError> {
    check_dns1123_label(&request.name).map_err(|reason| ScaffoldError::InvalidName {
        name: request.name.clone(),
        reason,
    })?;
    if !fs.is_dir(root) {
        return Err(ScaffoldError::NotARepository(root.to_path_buf()));
    }
    let index = RepoIndex::scan(fs, root);
    if request.locate.apps_file.is_none()
        && request.locate.cluster.is_none()
        && let Some(nested) = super::nested::detect(&index)
    {
        let (app, changes) = super::nested::plan_remove(fs, root, &request.name, &index, &nested)?;
        let conventions = Conventions::nested(
            app.namespace_dir.join("kustomization.yaml"),
            app.namespace_dir.clone(),
            app.ks.namespace.clone(),
        );
        return Ok(RemovePlan {
            deleted_dir: Some(app.dir.clone()),
            kustomization: app.ks,
            conventions,
            changes,
        });
    }
    let conventions = learn(fs, root, &index, &request.locate.to_locate())?;
    let app_dir = conventions.apps_dir.join(&request.name);
    let prefixed = format!("{}{}", conventions.name_prefix, request.name);
    let in_file: Vec<&FluxKustomization> = index
        .kustomizations
        .iter()
        .filter(|k| k.file == conventions.apps_file)
        .collect();
    let found = in_file
        .iter()
        .find(|k| k.name == request.name || k.name == prefixed)
        .or_else(|| {
            in_file
                .iter()
                .find(|k| k.repo_path().as_deref() == Some(app_dir.as_path()))
        });
    let Some(ks) = found.map(|k| (*k).clone()) else {
        let names: Vec<String> = in_file.iter().map(|k| k.name.clone()).collect();
        return Err(ScaffoldError::AppNotFound {
            name: request.name.clone(),
            apps_file: conventions.apps_file.clone(),
            known: if names.is_empty() {
                String::new()
            } else {
                format!(" (it lists {})", list_names(&names, 12))
            },
        });
    };

    let dependents: Vec<String> = index
        .kustomizations
        .iter()
        .filter(|k| !(k.file == ks.file && k.segment == ks.segment))
        .filter(|k| {
            k.depends_on.iter().any(|(name, ns)| {
                let ns = ns.as_ref().or(k.namespace.as_ref());
                *name == ks.name
                    && (ns.is_none() || ks.namespace.is_none() || ns == ks.namespace.as_ref())
            })
        })
        .map(|k| format!("{} ({})", k.name, k.file.display()))
        .collect();
    if !dependents.is_empty() {
        return Err(ScaffoldError::HasDependents {
            name: ks.name.clone(),
            dependents: list_names(&dependents, 10),
        });
    }

    let before = fs
        .read_to_string(&root.join(&conventions.apps_file))
        .map_err(|source| ScaffoldError::Read {
            path: conventions.apps_file.clone(),
            source,
        })?;
    let segs = segments(&before).map_err(|e| ScaffoldError::Yaml {
        path: conventions.apps_file.clone(),
        document: e.segment,
        line: e.line,
        message: e.message,
    })?;
    let after = remove_segment(&before, &segs, ks.segment).ok_or_else(|| ScaffoldError::Yaml {
        path: conventions.apps_file.clone(),
        document: ks.segment,
        line: 0,
        message: "the document moved while it was being read".into(),
    })?;
    let mut changes = ChangeSet::default();
    changes.push(FileChange::Modify {
        path: conventions.apps_file.clone(),
        before,
        after,
    });

    let deleted_dir = if request.delete_files {
        let dir = deletable_dir(&index, &conventions, &ks)?;
        let mut files = Vec::new();
        collect_files(fs, root, &root.join(&dir), 0, &mut files)?;
        for path in files {
            changes.push(deletion(fs, root, &path)?);
        }
        Some(dir)
    } else {
        None
    };

    Ok(RemovePlan {
        kustomization: ks,
        conventions,
        deleted_dir,
        changes,
    })
}

/// The folder `--delete-files` may delete: the Kustomization's own path, inside the apps folder,
/// applied by no other Kustomization.
fn deletable_dir(
    index: &RepoIndex,
    conventions: &Conventions,
    ks: &FluxKustomization,
) -> Result<PathBuf, ScaffoldError> {
    let refuse = |reason: String| ScaffoldError::InvalidFlag {
        flag: "--delete-files",
        value: ks.path.clone().unwrap_or_default(),
        reason,
    };
    let Some(dir) = ks.repo_path() else {
        return Err(refuse(format!("{} has no spec.path", ks.name)));
    };
    if !dir.starts_with(&conventions.apps_dir) || dir == conventions.apps_dir {
        return Err(refuse(format!(
            "only a folder inside {}/ is deleted, and {} is not one",
            conventions.apps_dir.display(),
            dir.display()
        )));
    }
    let others: Vec<String> = index
        .kustomizations
        .iter()
        .filter(|k| k.name != ks.name || k.file != ks.file)
        .filter(|k| {
            k.repo_path().is_some_and(|p| {
                !p.as_os_str().is_empty() && (p.starts_with(&dir) || dir.starts_with(&p))
            })
        })
        .map(|k| format!("{} ({})", k.name, k.file.display()))
        .collect();
    if !others.is_empty() {
        return Err(refuse(format!(
            "{} is also applied by {}",
            dir.display(),
            list_names(&others, 5)
        )));
    }
    Ok(dir)
}

/// The deletion of `path` (under `root`), holding its bytes so a revert restores them.
pub(super) fn deletion(fs: &dyn Fs, root: &Path, path: &Path) -> Result<FileChange, ScaffoldError> {
    let bytes = fs.read(path).map_err(|source| ScaffoldError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(FileChange::Delete {
        path: path.strip_prefix(root).unwrap_or(path).to_path_buf(),
        before: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Every file under `dir` (32 levels deep at most); a folder that cannot be read is an error,
/// so a removal never leaves files behind unsaid.
pub(super) fn collect_files(
    fs: &dyn Fs,
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
) -> Result<(), ScaffoldError> {
    if depth > 32 {
        return Ok(());
    }
    let entries = fs.read_dir(dir).map_err(|source| ScaffoldError::Read {
        path: dir.strip_prefix(root).unwrap_or(dir).to_path_buf(),
        source,
    })?;
    for entry in entries {
        if fs.is_dir(&entry) {
            collect_files(fs, root, &entry, depth + 1, out)?;
        } else {
            out.push(entry);
        }
    }
    Ok(())
}
