//! Where a missing path probably is: a Kustomization's `spec.path` that does not exist at the
//! repository root but does under exactly one of its folders — the usual sign that the source's
//! artifact is built from that folder (an OCI artifact pushed from `kubernetes/`, a Bucket synced
//! from a subfolder), so the user is told which folder to map with `--source`.

use std::path::{Path, PathBuf};

use capstan_core::Fs;

/// How deep below the root a folder holding the path is looked for.
const DEPTH: usize = 2;

/// The one folder under `root` (at most [`DEPTH`] levels down) below which `spec` exists as a
/// folder; `None` when there is none or more than one.
pub(crate) fn folder_holding(fs: &dyn Fs, root: &Path, spec: &Path) -> Option<PathBuf> {
    let mut found = Vec::new();
    let mut level = vec![root.to_path_buf()];
    for _ in 0..DEPTH {
        let mut next = Vec::new();
        for dir in &level {
            let mut children = fs.read_dir(dir).unwrap_or_default();
            children.sort();
            for child in children {
                let hidden = child
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_none_or(|n| n.starts_with('.'));
                if hidden || !fs.is_dir(&child) {
                    continue;
                }
                if fs.is_dir(&child.join(spec)) {
                    found.push(child.clone());
                }
                next.push(child);
            }
        }
        level = next;
    }
    // A folder found below another found one is the same tree seen twice.
    let outermost: Vec<&PathBuf> = found
        .iter()
        .filter(|f| !found.iter().any(|o| o != *f && f.starts_with(o)))
        .collect();
    match outermost.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// What to say when `path` declares no Flux Kustomization, here or in a folder above that
/// applies it: which folder to point at, or how to render it from the repository that applies it.
pub fn nothing_to_discover(path: &Path) -> String {
    format!(
        "{path}: no Flux Kustomization is declared here, nor above it in the same repository: \
         point --path at the repository holding the cluster's entry point (its flux-system \
         Kustomization or FluxInstance); if another repository's Flux applies this folder (an \
         OCI artifact or GitRepository made from it), render it from there with \
         --source KIND/NAMESPACE/NAME={path}",
        path = path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::MemFs;

    #[test]
    fn finds_the_one_folder_holding_the_path() {
        let fs = MemFs::new();
        fs.add_file("r/kubernetes/clusters/prod/ks.yaml", "");
        fs.add_file("r/docs/readme.md", "");
        assert_eq!(
            folder_holding(&fs, Path::new("r"), Path::new("clusters/prod")),
            Some(PathBuf::from("r/kubernetes"))
        );
        fs.add_file("r/old/clusters/prod/ks.yaml", "");
        assert_eq!(
            folder_holding(&fs, Path::new("r"), Path::new("clusters/prod")),
            None
        );
        assert_eq!(
            folder_holding(&fs, Path::new("r"), Path::new("nowhere")),
            None
        );
    }
}
