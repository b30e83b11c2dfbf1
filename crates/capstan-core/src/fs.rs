//! The filesystem abstraction renderers read through.
//!
//! Everything that renders (kustomize, Flux builds, checks) takes a `&dyn Fs`, so the same code
//! runs over the working tree ([`OsFs`]), an in-memory tree for tests ([`MemFs`]), or a git
//! revision read straight from the object database.
//!
//! Paths are plain [`Path`]s. Implementations accept absolute paths and paths relative to their
//! own root; [`normalize`] resolves `.` and `..` lexically, which is how kustomize treats paths
//! that do not exist on disk.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::RwLock;

/// Read-only access to a tree of files.
pub trait Fs: Send + Sync {
    /// The bytes of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// True when `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;

    /// True when `path` is a regular file.
    fn is_file(&self, path: &Path) -> bool;

    /// The entries of a directory as full paths, sorted by file name.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;

    /// The path with symlinks resolved, as used for load restrictions. Fails when it does not exist.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;

    /// A file as UTF-8 text.
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not valid UTF-8: {e}", path.display()),
            )
        })
    }

    /// True when `path` exists as a file or a directory.
    fn exists(&self, path: &Path) -> bool {
        self.is_file(path) || self.is_dir(path)
    }
}

/// Resolves `.` and `..` components lexically, without touching any filesystem.
/// A `..` at the root of an absolute path stays at the root; leading `..` of a relative path are kept.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(component),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// The real filesystem.
#[derive(Debug, Clone, Default)]
pub struct OsFs;

impl Fs for OsFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries = std::fs::read_dir(path)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        Ok(entries)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}

/// An in-memory tree of files, for tests and for content that does not live on disk.
///
/// Paths are normalised on the way in and out, so `a/./b` and `a/b` name the same file; directories
/// exist implicitly as the parents of files, or explicitly through [`MemFs::add_dir`].
#[derive(Debug, Default)]
pub struct MemFs {
    files: RwLock<BTreeMap<PathBuf, Vec<u8>>>,
    dirs: RwLock<BTreeMap<PathBuf, ()>>,
}

impl MemFs {
    pub fn new() -> MemFs {
        MemFs::default()
    }

    /// Builds a tree from `(path, contents)` pairs.
    pub fn from_files<P: AsRef<Path>, C: AsRef<[u8]>>(
        files: impl IntoIterator<Item = (P, C)>,
    ) -> MemFs {
        let fs = MemFs::new();
        for (path, contents) in files {
            fs.add_file(path, contents);
        }
        fs
    }

    /// Adds (or replaces) a file, creating its parent directories.
    pub fn add_file(&self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) {
        let path = normalize(path.as_ref());
        if let Some(parent) = path.parent() {
            self.add_dir(parent);
        }
        self.files
            .write()
            .expect("MemFs lock poisoned")
            .insert(path, contents.as_ref().to_vec());
    }

    /// Adds an empty directory and its parents.
    pub fn add_dir(&self, path: impl AsRef<Path>) {
        let mut dirs = self.dirs.write().expect("MemFs lock poisoned");
        let mut current = Some(normalize(path.as_ref()));
        while let Some(dir) = current {
            if dir.as_os_str().is_empty() {
                break;
            }
            current = dir.parent().map(Path::to_path_buf);
            dirs.insert(dir, ());
        }
    }

    fn not_found(path: &Path) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: no such file or directory", path.display()),
        )
    }
}

impl Fs for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let path = normalize(path);
        self.files
            .read()
            .expect("MemFs lock poisoned")
            .get(&path)
            .cloned()
            .ok_or_else(|| MemFs::not_found(&path))
    }

    fn is_dir(&self, path: &Path) -> bool {
        let path = normalize(path);
        path == Path::new(".")
            || path == Path::new("/")
            || self
                .dirs
                .read()
                .expect("MemFs lock poisoned")
                .contains_key(&path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files
            .read()
            .expect("MemFs lock poisoned")
            .contains_key(&normalize(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let dir = normalize(path);
        if !self.is_dir(&dir) {
            return Err(MemFs::not_found(&dir));
        }
        let is_child = |p: &Path| match p.parent() {
            Some(parent) if parent.as_os_str().is_empty() => dir == Path::new("."),
            Some(parent) => parent == dir,
            None => false,
        };
        let mut entries: Vec<PathBuf> = self
            .files
            .read()
            .expect("MemFs lock poisoned")
            .keys()
            .chain(self.dirs.read().expect("MemFs lock poisoned").keys())
            .filter(|p| is_child(p))
            .cloned()
            .collect();
        entries.sort();
        entries.dedup();
        Ok(entries)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let path = normalize(path);
        if self.exists(&path) {
            Ok(path)
        } else {
            Err(MemFs::not_found(&path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        assert_eq!(normalize(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(normalize(Path::new("../a/..")), PathBuf::from(".."));
        assert_eq!(normalize(Path::new("a/..")), PathBuf::from("."));
    }

    #[test]
    fn memfs_tree() {
        let fs = MemFs::from_files([
            ("base/kustomization.yaml", "resources: []"),
            ("base/cm.yaml", "x"),
        ]);
        assert!(fs.is_dir(Path::new("base")));
        assert!(fs.is_file(Path::new("base/./cm.yaml")));
        assert_eq!(
            fs.read_dir(Path::new("base")).unwrap(),
            vec![
                PathBuf::from("base/cm.yaml"),
                PathBuf::from("base/kustomization.yaml")
            ]
        );
        assert_eq!(
            fs.read_dir(Path::new(".")).unwrap(),
            vec![PathBuf::from("base")]
        );
        assert_eq!(fs.read_to_string(Path::new("base/cm.yaml")).unwrap(), "x");
        assert!(fs.read(Path::new("nope")).is_err());
    }
}
