//! kustomize-controller's `DecryptSources`: before the kustomize build, SOPS-encrypted files a
//! Kustomization's generators read (secretGenerator `files:` and `envs:` sources — dotenv, INI,
//! binary, YAML or JSON) are decrypted, when `spec.decryption` is set and a key is at hand.
//! capstan does it as an [`Fs`] layer: a file that carries SOPS metadata and is not itself a
//! Kubernetes manifest (manifests are decrypted object by object after the build, as the
//! controller does) reads back decrypted. Without keys files pass through unchanged.

use std::io;
use std::path::{Path, PathBuf};

use capstan_core::Fs;

use crate::sops::{Format, Keys, decrypt_source};

/// See the module documentation.
pub struct DecryptingFs<'a> {
    inner: &'a dyn Fs,
    keys: &'a Keys,
}

impl<'a> DecryptingFs<'a> {
    pub fn new(inner: &'a dyn Fs, keys: &'a Keys) -> DecryptingFs<'a> {
        DecryptingFs { inner, keys }
    }
}

/// True when a YAML or JSON document names a `kind` at its top level (a manifest).
fn is_manifest(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .any(|line| line.starts_with("kind:") || line.trim_start().starts_with("\"kind\":"))
}

impl Fs for DecryptingFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let bytes = self.inner.read(path)?;
        if self.keys.is_empty() {
            return Ok(bytes);
        }
        let Some(format) = Format::detect(&bytes) else {
            return Ok(bytes);
        };
        if matches!(format, Format::Yaml | Format::Json) && is_manifest(&bytes) {
            return Ok(bytes);
        }
        match decrypt_source(&bytes, format, self.keys, &path.display().to_string()) {
            Ok(Some(plain)) => Ok(plain),
            Ok(None) => Ok(bytes),
            Err(e) => Err(io::Error::other(format!(
                "decrypting {}: {e}",
                path.display()
            ))),
        }
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
