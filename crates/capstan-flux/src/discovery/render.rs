//! How discovery turns a Kustomization's directory into objects: the [`Renderer`] trait, the
//! kustomization kustomize-controller generates for a directory that has none, and a
//! [`RecordingFs`] that notes which files a render read.
//!
//! Discovery never reads manifests itself past the entry-point scan; it asks a renderer, so the
//! objects it finds are the objects kustomize would emit (namespaces set by `namespace:`,
//! objects pulled in through `resources:` and components, patches applied).

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use capstan_core::{Fs, Value};

/// The file names kustomize recognises as a kustomization, in its order of preference.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// One object a render produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedObject {
    pub value: Value,
    /// The file the object came from, when the renderer knows it.
    pub file: Option<PathBuf>,
    /// The index of the document in that file.
    pub document: Option<usize>,
}

/// Why a directory could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    pub message: String,
    /// The file at fault, when known.
    pub file: Option<PathBuf>,
    /// The 1-based line in that file, when known.
    pub line: Option<usize>,
}

impl RenderError {
    pub fn new(message: impl Into<String>) -> RenderError {
        RenderError {
            message: message.into(),
            file: None,
            line: None,
        }
    }

    pub fn in_file(mut self, file: impl Into<PathBuf>) -> RenderError {
        self.file = Some(file.into());
        self
    }
}

/// Renders a directory as kustomize-controller would before post-build steps: with its own
/// kustomization file, or with the one Flux generates (see [`generated_resources`]).
pub trait Renderer: Send + Sync {
    fn render(&self, fs: &dyn Fs, dir: &Path) -> Result<Vec<RenderedObject>, RenderError>;
}

/// The kustomization file in `dir`, if there is one.
pub fn kustomization_file(fs: &dyn Fs, dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| fs.is_file(path))
}

/// The `resources:` of the kustomization kustomize-controller generates for a directory without
/// one: every `.yaml`/`.yml` file below `dir`, recursively and in lexical order, except that a
/// sub-directory holding a kustomization file is listed as a directory and not descended into.
/// Like Go's `filepath.Walk`, symbolic links to directories are not followed (so a symlink loop
/// ends there). Entries are relative to `dir`. Flux rejects a listed file that does not decode
/// as Kubernetes YAML; the renderer that reads the files reports that.
pub fn generated_resources(fs: &dyn Fs, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    walk_generated(fs, dir, dir, &mut out)?;
    Ok(out)
}

fn walk_generated(fs: &dyn Fs, base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let real_dir = fs.canonicalize(dir).ok();
    for entry in fs.read_dir(dir)? {
        let relative = entry.strip_prefix(base).unwrap_or(&entry).to_path_buf();
        if fs.is_dir(&entry) {
            if is_symlink(fs, real_dir.as_deref(), &entry) {
                continue;
            }
            if kustomization_file(fs, &entry).is_some() {
                out.push(relative);
            } else {
                walk_generated(fs, base, &entry, out)?;
            }
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(relative);
        }
    }
    Ok(())
}

/// True when `entry` resolves somewhere other than where it sits in `real_dir`.
fn is_symlink(fs: &dyn Fs, real_dir: Option<&Path>, entry: &Path) -> bool {
    let (Some(real_dir), Some(name)) = (real_dir, entry.file_name()) else {
        return false;
    };
    fs.canonicalize(entry)
        .is_ok_and(|real| real != real_dir.join(name))
}

/// An [`Fs`] that passes every call through and remembers which files were read, so discovery
/// knows which manifests a Kustomization covers.
pub struct RecordingFs<'a> {
    inner: &'a dyn Fs,
    read: Mutex<BTreeSet<PathBuf>>,
}

impl<'a> RecordingFs<'a> {
    pub fn new(inner: &'a dyn Fs) -> RecordingFs<'a> {
        RecordingFs {
            inner,
            read: Mutex::new(BTreeSet::new()),
        }
    }

    /// The files read so far, normalised.
    pub fn files_read(&self) -> BTreeSet<PathBuf> {
        self.read.lock().map(|set| set.clone()).unwrap_or_default()
    }
}

impl Fs for RecordingFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let bytes = self.inner.read(path)?;
        if let Ok(mut set) = self.read.lock() {
            set.insert(capstan_core::fs::normalize(path));
        }
        Ok(bytes)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.inner.is_dir(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.inner.is_file(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        self.inner.read_dir(path)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.inner.canonicalize(path)
    }
}
