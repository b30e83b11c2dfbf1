//! `buildMetadata: [originAnnotations]`: the `config.kubernetes.io/origin` annotation naming
//! the file (and remote repository) each object came from, or the generator that made it.

use capstan_core::Value;

use crate::resmap::ResMap;
use crate::resource::Resource;

/// The annotation key.
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

/// Where an object came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub path: String,
    pub repo: String,
    pub git_ref: String,
    pub configured_in: String,
    pub configured_by_kind: String,
}

impl Origin {
    /// This origin with `path` appended (a remote URL restarts the path inside its repository).
    pub fn append(&self, path: &str) -> Origin {
        let mut out = self.clone();
        if let Some(remote) = crate::remote::parse(path) {
            out.repo = remote.clone_spec.clone();
            out.git_ref = if remote.git_ref == "HEAD" {
                String::new()
            } else {
                remote.git_ref.clone()
            };
            out.path = remote.root_path.clone();
            return out;
        }
        let joined = if out.path.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{}", out.path, path)
        };
        out.path = capstan_core::fs::normalize(std::path::Path::new(&joined))
            .to_string_lossy()
            .into_owned();
        out
    }

    /// The annotation text (YAML, fields in kustomize's order).
    pub fn to_annotation(&self) -> String {
        let mut out = String::new();
        if !self.path.is_empty() {
            out.push_str(&format!("path: {}\n", self.path));
        }
        if !self.repo.is_empty() {
            out.push_str(&format!("repo: {}\n", self.repo));
        }
        if !self.git_ref.is_empty() {
            out.push_str(&format!("ref: {}\n", self.git_ref));
        }
        if !self.configured_in.is_empty() {
            out.push_str(&format!("configuredIn: {}\n", self.configured_in));
        }
        if !self.configured_by_kind.is_empty() {
            out.push_str(&format!(
                "configuredBy:\n  apiVersion: builtin\n  kind: {}\n",
                self.configured_by_kind
            ));
        }
        out
    }
}

/// Sets the origin annotation on one resource.
pub fn set_origin_annotation(resource: &mut Resource, annotation: &str) {
    let meta = resource.metadata_mut();
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(capstan_core::Map::new()));
    crate::resource::ensure_object(annotations).insert(
        ORIGIN_ANNOTATION.into(),
        Value::String(annotation.to_owned()),
    );
}

/// Annotates generated resources with the generator that made them.
pub fn annotate_generated(
    mut resmap: ResMap,
    origin: &Origin,
    file_name: &str,
    generator_kind: &str,
) -> ResMap {
    let configured_in = if origin.path.is_empty() {
        file_name.to_owned()
    } else {
        format!("{}/{file_name}", origin.path)
    };
    let annotation = Origin {
        path: String::new(),
        repo: origin.repo.clone(),
        git_ref: origin.git_ref.clone(),
        configured_in,
        configured_by_kind: generator_kind.to_owned(),
    }
    .to_annotation();
    for resource in resmap.iter_mut() {
        set_origin_annotation(resource, &annotation);
    }
    resmap
}

/// Removes origin annotations unless `buildMetadata` asks to keep them.
pub fn finish(resmap: &mut ResMap, build_metadata: &[String]) {
    if build_metadata.iter().any(|b| b == "originAnnotations") {
        return;
    }
    for resource in resmap.iter_mut() {
        if resource.annotation(ORIGIN_ANNOTATION).is_none() {
            continue;
        }
        let meta = resource.metadata_mut();
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(ORIGIN_ANNOTATION);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
}
