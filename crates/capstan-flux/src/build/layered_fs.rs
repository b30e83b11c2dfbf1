//! An [`Fs`] that lays an in-memory tree over another: files in the upper [`MemFs`] shadow the
//! lower tree's, directories are the union. Builds use it to put the kustomization file Flux
//! generates or rewrites (and decrypted secretGenerator sources) in place without touching the
//! repository.

use std::io;
use std::path::{Path, PathBuf};

use capstan_core::fs::normalize;
use capstan_core::{Fs, MemFs};

/// See the module documentation.
pub struct LayeredFs<'a> {
    lower: &'a dyn Fs,
    upper: MemFs,
}

impl<'a> LayeredFs<'a> {
    pub fn new(lower: &'a dyn Fs) -> LayeredFs<'a> {
        LayeredFs {
            lower,
            upper: MemFs::new(),
        }
    }

    /// Puts (or replaces) a file in the upper layer, under its path and under its directory's
    /// canonical path (kustomize resolves directories before it reads them).
    pub fn put(&self, path: &Path, contents: impl AsRef<[u8]>) {
        let contents = contents.as_ref();
        self.upper.add_file(normalize(path), contents);
        if let (Some(parent), Some(name)) = (path.parent(), path.file_name())
            && let Ok(real) = self.lower.canonicalize(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            })
            && real != normalize(parent)
        {
            self.upper.add_file(real.join(name), contents);
        }
    }
}

impl Fs for LayeredFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if self.upper.is_file(path) {
            return self.upper.read(path);
        }
        self.lower.read(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.lower.is_dir(path)
            || (self.upper.is_dir(path) && path != Path::new(".") && path != Path::new("/"))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.upper.is_file(path) || self.lower.is_file(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let lower = self.lower.read_dir(path);
        let upper = if self.upper.is_dir(&normalize(path)) {
            self.upper.read_dir(path).ok()
        } else {
            None
        };
        match (lower, upper) {
            (Ok(mut entries), Some(extra)) => {
                let base = path.to_path_buf();
                for entry in extra {
                    let name = entry.file_name().map(|n| base.join(n)).unwrap_or(entry);
                    if !entries.iter().any(|e| normalize(e) == normalize(&name)) {
                        entries.push(name);
                    }
                }
                entries.sort();
                Ok(entries)
            }
            (Ok(entries), None) => Ok(entries),
            (Err(_), Some(extra)) => Ok(extra),
            (Err(e), None) => Err(e),
        }
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        match self.lower.canonicalize(path) {
            Ok(p) => Ok(p),
            Err(e) => {
                if self.upper.exists(path) {
                    Ok(normalize(path))
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_shadows_lower_and_directories_merge() {
        let lower = MemFs::from_files([("app/kustomization.yaml", "old"), ("app/cm.yaml", "x")]);
        let fs = LayeredFs::new(&lower);
        fs.put(Path::new("app/kustomization.yaml"), "new");
        fs.put(Path::new("app/extra.yaml"), "y");
        assert_eq!(
            fs.read_to_string(Path::new("app/kustomization.yaml"))
                .unwrap(),
            "new"
        );
        assert_eq!(fs.read_to_string(Path::new("app/cm.yaml")).unwrap(), "x");
        assert_eq!(
            fs.read_dir(Path::new("app")).unwrap(),
            vec![
                PathBuf::from("app/cm.yaml"),
                PathBuf::from("app/extra.yaml"),
                PathBuf::from("app/kustomization.yaml")
            ]
        );
        assert!(
            lower
                .read_to_string(Path::new("app/kustomization.yaml"))
                .unwrap()
                == "old"
        );
    }
}
