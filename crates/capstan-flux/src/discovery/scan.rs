//! The entry-point scan: every YAML file under the repository, read once, to find the
//! Kustomizations (and Flux Operator `FluxInstance`s) discovery starts from.
//!
//! Files that do not parse are skipped silently here (Helm chart templates are YAML files that
//! are not YAML); a render that reaches them reports them with file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use capstan_core::yaml::parse_documents;
use capstan_core::{Fs, Value};

/// A document the scan found that may start discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedDocument {
    pub value: Value,
    pub file: PathBuf,
    pub document: usize,
}

/// The YAML files below `dir` in lexical order, skipping hidden directories (`.git`, `.github`)
/// and following each real directory once (symlink loops end there).
pub fn yaml_files(fs: &dyn Fs, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut visited = BTreeSet::new();
    collect(fs, dir, &mut out, &mut visited);
    out
}

fn collect(fs: &dyn Fs, dir: &Path, out: &mut Vec<PathBuf>, visited: &mut BTreeSet<PathBuf>) {
    let real = fs.canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !visited.insert(real) {
        return;
    }
    let Ok(entries) = fs.read_dir(dir) else {
        return;
    };
    for entry in entries {
        let hidden = entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if fs.is_dir(&entry) {
            if !hidden {
                collect(fs, &entry, out, visited);
            }
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(entry);
        }
    }
}

/// The documents under `dir` whose kind is `Kustomization` (Flux's) or `FluxInstance`.
pub fn scan_entry_documents(fs: &dyn Fs, dir: &Path) -> Vec<ScannedDocument> {
    entry_documents(fs, &yaml_files(fs, dir))
}

/// The documents in `files` (from [`yaml_files`]) whose kind is `Kustomization` (Flux's) or
/// `FluxInstance`, and HelmReleases of the `flux-instance` chart (which create a FluxInstance).
pub fn entry_documents(fs: &dyn Fs, files: &[PathBuf]) -> Vec<ScannedDocument> {
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = fs.read_to_string(file) else {
            continue;
        };
        // Cheap pre-filter: most files name neither API group.
        if !text.contains("kustomize.toolkit.fluxcd.io")
            && !text.contains("fluxcd.controlplane.io")
            && !text.contains("flux-instance")
        {
            continue;
        }
        let Ok(documents) = parse_documents(&text) else {
            continue;
        };
        for (index, value) in documents.into_iter().enumerate() {
            let api_version = value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
            let wanted = (kind == "Kustomization"
                && api_version.starts_with("kustomize.toolkit.fluxcd.io/"))
                || (kind == "FluxInstance" && api_version.starts_with("fluxcd.controlplane.io/"))
                || crate::operator::fluxinstance::is_flux_instance_release(&value);
            if wanted {
                out.push(ScannedDocument {
                    value,
                    file: file.to_path_buf(),
                    document: index,
                });
            }
        }
    }
    out
}
