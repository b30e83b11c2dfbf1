//! Reading files and entering directories the way kustomize's file loader does: paths are
//! relative to the kustomization's root, files outside the root are refused under
//! `LoadRestrictionsRootOnly`, a directory that contains (or is) one already being built is a
//! cycle, and remote resources go through [`crate::remote`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_core::Fs;
use capstan_core::fs::normalize;

use crate::error::{Error, Result};
use crate::remote::{self, RemoteTarget};
use crate::{LoadRestrictor, Options};

/// The filesystem a loader reads: the caller's, or the checkout of a remote repository.
#[derive(Clone)]
pub enum FsRef<'a> {
    Borrowed(&'a dyn Fs),
    Owned(Arc<dyn Fs>),
}

impl FsRef<'_> {
    pub fn get(&self) -> &dyn Fs {
        match self {
            FsRef::Borrowed(fs) => *fs,
            FsRef::Owned(fs) => fs.as_ref(),
        }
    }
}

/// A loader rooted at one kustomization directory.
#[derive(Clone)]
pub struct Loader<'a> {
    fs: FsRef<'a>,
    root: PathBuf,
    restrictor: LoadRestrictor,
    /// Roots of the kustomizations that led here, outermost first (for cycle detection).
    referrers: Vec<PathBuf>,
    /// The remote repository this loader's root lies in, if any.
    repo: Option<RemoteTarget>,
    options: &'a Options,
    /// The OpenAPI schema strategic merges use, shared by the whole build (kz-patch's
    /// [`crate::openapi::SchemaSlot`]).
    openapi: crate::openapi::SchemaSlot,
}

impl std::fmt::Debug for Loader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader").field("root", &self.root).finish()
    }
}

/// True for `http://` and `https://` URLs.
pub fn is_remote_file(path: &str) -> bool {
    path.starts_with("http://") || path.starts_with("https://")
}

impl<'a> Loader<'a> {
    /// A loader at `dir`, which must be a directory.
    pub fn new(fs: &'a dyn Fs, dir: &Path, options: &'a Options) -> Result<Loader<'a>> {
        let root = confirm_dir(fs, dir)?;
        Ok(Loader {
            fs: FsRef::Borrowed(fs),
            root,
            restrictor: options.load_restrictor,
            referrers: Vec::new(),
            repo: None,
            options,
            openapi: crate::openapi::SchemaSlot::default(),
        })
    }

    /// The OpenAPI schema slot of this build.
    pub fn openapi(&self) -> &crate::openapi::SchemaSlot {
        &self.openapi
    }

    /// The directory this loader reads from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn fs(&self) -> &dyn Fs {
        self.fs.get()
    }

    pub fn options(&self) -> &'a Options {
        self.options
    }

    /// The remote repository this loader's root lies in, if any.
    pub fn repo(&self) -> Option<&RemoteTarget> {
        self.repo.as_ref()
    }

    /// Resolves `path` against the root and applies the load restrictor.
    pub fn resolve(&self, path: &str) -> Result<PathBuf> {
        let joined = normalize(&self.root.join(path));
        match self.restrictor {
            LoadRestrictor::None => Ok(joined),
            LoadRestrictor::RootOnly => {
                let fs = self.fs();
                if fs.is_dir(&joined) {
                    return Err(Error::msg(format!(
                        "'{}' must resolve to a file",
                        joined.display()
                    )));
                }
                let real = fs.canonicalize(&joined).map_err(|source| Error::Io {
                    path: joined.clone(),
                    source,
                })?;
                let dir = real.parent().unwrap_or(Path::new("/"));
                if !dir.starts_with(&self.root) {
                    return Err(Error::RootEscape {
                        path: joined,
                        root: self.root.clone(),
                    });
                }
                Ok(real)
            }
        }
    }

    /// Reads a file relative to the root (or a remote URL).
    pub fn load(&self, path: &str) -> Result<Vec<u8>> {
        if is_remote_file(path) {
            return remote::fetch_file(path, self.options);
        }
        let resolved = self.resolve(path)?;
        self.fs().read(&resolved).map_err(|source| Error::Io {
            path: resolved,
            source,
        })
    }

    /// Reads a file as UTF-8 text.
    pub fn load_string(&self, path: &str) -> Result<String> {
        let bytes = self.load(path)?;
        String::from_utf8(bytes).map_err(|e| Error::msg(format!("{path}: not valid UTF-8: {e}")))
    }

    /// A loader for a sub-kustomization at `path` (a directory or a remote repository).
    pub fn child(&self, path: &str) -> Result<Loader<'a>> {
        if path.is_empty() {
            return Err(Error::msg("new root cannot be empty"));
        }
        if let Some(target) = remote::parse(path) {
            for referrer in self.repo.iter() {
                if referrer.raw.starts_with(&target.raw) {
                    return Err(Error::msg(format!(
                        "cycle detected: URI '{}' referenced by previous URI '{}'",
                        target.raw, referrer.raw
                    )));
                }
            }
            let (fs, root) = remote::checkout(&target, self.options)?;
            let mut referrers = self.referrers.clone();
            referrers.push(self.root.clone());
            return Ok(Loader {
                fs: FsRef::Owned(fs),
                root,
                restrictor: LoadRestrictor::RootOnly,
                referrers,
                repo: Some(target),
                options: self.options,
                openapi: self.openapi.clone(),
            });
        }
        if Path::new(path).is_absolute() {
            return Err(Error::msg(format!("new root '{path}' cannot be absolute")));
        }
        let root = confirm_dir(self.fs(), &self.root.join(path))
            .map_err(|e| Error::msg(format!("must build at directory: {e}")))?;
        if let Some(repo) = &self.repo
            && !root.starts_with(&repo.checkout_dir)
        {
            return Err(Error::msg(format!(
                "security; bases in kustomizations found in cloned git repos must be within the repo, but base '{}' is outside '{}'",
                root.display(),
                repo.checkout_dir.display()
            )));
        }
        for visited in self.referrers.iter().chain(std::iter::once(&self.root)) {
            if visited.starts_with(&root) {
                return Err(Error::Cycle {
                    candidate: root,
                    visited: visited.clone(),
                });
            }
        }
        let mut referrers = self.referrers.clone();
        referrers.push(self.root.clone());
        Ok(Loader {
            fs: self.fs.clone(),
            root,
            restrictor: self.restrictor,
            referrers,
            repo: self.repo.clone(),
            options: self.options,
            openapi: self.openapi.clone(),
        })
    }
}

/// Canonicalises `dir` and checks it is a directory.
fn confirm_dir(fs: &dyn Fs, dir: &Path) -> Result<PathBuf> {
    let normalized = normalize(dir);
    let real = fs
        .canonicalize(&normalized)
        .map_err(|_| Error::msg(format!("'{}' doesn't exist", normalized.display())))?;
    if !fs.is_dir(&real) {
        return Err(Error::msg(format!(
            "'{}' is not a directory",
            normalized.display()
        )));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::MemFs;

    #[test]
    fn root_only_refuses_escape() {
        let fs = MemFs::from_files([("/r/app/kustomization.yaml", "x"), ("/r/secret.yaml", "y")]);
        let options = Options::default();
        let loader = Loader::new(&fs, Path::new("/r/app"), &options).unwrap();
        let err = loader.load("../secret.yaml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("security; file '/r/secret.yaml' is not in or below '/r/app'"),
            "{err}"
        );
        let open = Options {
            load_restrictor: LoadRestrictor::None,
            ..Options::default()
        };
        let loader = Loader::new(&fs, Path::new("/r/app"), &open).unwrap();
        assert_eq!(loader.load("../secret.yaml").unwrap(), b"y");
    }

    #[test]
    fn detects_cycles() {
        let fs = MemFs::from_files([("/r/a/b/kustomization.yaml", "x")]);
        let options = Options::default();
        let a = Loader::new(&fs, Path::new("/r/a"), &options).unwrap();
        let b = a.child("b").unwrap();
        let err = b.child("..").unwrap_err();
        assert!(err.to_string().starts_with("cycle detected"), "{err}");
        assert!(a.child(".").is_err());
    }
}
