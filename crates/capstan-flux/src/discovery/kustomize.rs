//! The renderer discovery uses: capstan's kustomize engine, run as kustomize-controller runs it —
//! with no load restrictions and, for a directory without a kustomization file, over the
//! kustomization Flux generates (every YAML file below it, see
//! [`generated_resources`](super::render::generated_resources)).

use std::io;
use std::path::{Path, PathBuf};

use capstan_core::Fs;
use capstan_kustomize::{Error, LoadRestrictor, Options};

use super::render::{
    RenderError, RenderedObject, Renderer, generated_resources, kustomization_file,
};

/// Renders a directory through [`capstan_kustomize::build`].
#[derive(Debug, Clone)]
pub struct KustomizeRenderer {
    options: Options,
}

impl Default for KustomizeRenderer {
    fn default() -> KustomizeRenderer {
        // kustomize-controller builds with `LoadRestrictionsNone` and no plugins.
        let options = Options {
            load_restrictor: LoadRestrictor::None,
            ..Options::default()
        };
        KustomizeRenderer { options }
    }
}

impl Renderer for KustomizeRenderer {
    fn render(&self, fs: &dyn Fs, dir: &Path) -> Result<Vec<RenderedObject>, RenderError> {
        let resmap = if kustomization_file(fs, dir).is_some() {
            capstan_kustomize::build(fs, dir, &self.options)
        } else {
            let resources = generated_resources(fs, dir)
                .map_err(|e| RenderError::new(format!("{}: {e}", dir.display())))?;
            let mut text = String::from(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
            );
            for resource in &resources {
                text.push_str(&format!(
                    "- {}\n",
                    quote(&format!("./{}", resource.display()))
                ));
            }
            let overlay = OverlayFs::new(fs, dir.join("kustomization.yaml"), text.into_bytes());
            capstan_kustomize::build(&overlay, dir, &self.options)
        }
        .map_err(render_error)?;
        Ok(resmap
            .into_resources()
            .into_iter()
            .map(|resource| RenderedObject {
                value: resource.object,
                file: resource.source.map(|f| capstan_core::fs::normalize(&f)),
                document: resource.document,
            })
            .collect())
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The engine's error, located at the innermost file it names.
fn render_error(error: Error) -> RenderError {
    let message = error.to_string();
    let normalize = |path: &Path| capstan_core::fs::normalize(path);
    match error.root_cause() {
        Error::Yaml { file, line, source } => RenderError {
            message,
            file: Some(normalize(file)),
            line: line.or(source.line),
        },
        Error::InvalidKustomization { file, .. } => {
            RenderError::new(message).in_file(normalize(file))
        }
        Error::Io { path, .. } => RenderError::new(message).in_file(normalize(path)),
        _ => RenderError::new(message),
    }
}

/// A file system with one extra file laid over another: the kustomization Flux generates.
pub struct OverlayFs<'a> {
    inner: &'a dyn Fs,
    path: PathBuf,
    contents: Vec<u8>,
}

impl<'a> OverlayFs<'a> {
    pub fn new(inner: &'a dyn Fs, path: PathBuf, contents: Vec<u8>) -> OverlayFs<'a> {
        OverlayFs {
            inner,
            path: capstan_core::fs::normalize(&path),
            contents,
        }
    }

    fn is_overlay(&self, path: &Path) -> bool {
        capstan_core::fs::normalize(path) == self.path
    }
}

impl Fs for OverlayFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if self.is_overlay(path) {
            Ok(self.contents.clone())
        } else {
            self.inner.read(path)
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        !self.is_overlay(path) && self.inner.is_dir(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.is_overlay(path) || self.inner.is_file(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut entries = self.inner.read_dir(path)?;
        if self.path.parent() == Some(capstan_core::fs::normalize(path).as_path()) {
            let virtual_entry = path.join(self.path.file_name().unwrap_or_default());
            if !entries.iter().any(|e| self.is_overlay(e)) {
                entries.push(virtual_entry);
                entries.sort();
            }
        }
        Ok(entries)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        if self.is_overlay(path) {
            let parent = self.path.parent().unwrap_or(Path::new("."));
            let name = self.path.file_name().unwrap_or_default();
            return Ok(self.inner.canonicalize(parent)?.join(name));
        }
        self.inner.canonicalize(path)
    }
}
