//! `buildMetadata: [originAnnotations]`: the `config.kubernetes.io/origin` annotation naming
//! the file (and remote repository) each object came from, or the generator that made it.

use capstan_core::Value;

use crate::resmap::ResMap;
use crate::resource::Resource;

/// The annotation key.
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

/// The plugin (built-in or configured) that produced an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfiguredBy {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// Where an object came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub path: String,
    pub repo: String,
    pub git_ref: String,
    pub configured_in: String,
    pub configured_by: Option<ConfiguredBy>,
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

    /// The origin of objects a plugin generated: where the plugin was configured, and by what.
    pub fn generated(&self, configured_in: String, by: ConfiguredBy) -> Origin {
        Origin {
            path: String::new(),
            repo: self.repo.clone(),
            git_ref: self.git_ref.clone(),
            configured_in,
            configured_by: Some(by),
        }
    }

    /// The annotation text: YAML with kustomize's field order.
    pub fn to_annotation(&self) -> String {
        let mut out = String::new();
        let mut field = |indent: &str, key: &str, value: &str| {
            if !value.is_empty() {
                out.push_str(&format!("{indent}{key}: {}\n", scalar(value)));
            }
        };
        field("", "path", &self.path);
        field("", "repo", &self.repo);
        field("", "ref", &self.git_ref);
        field("", "configuredIn", &self.configured_in);
        if let Some(by) = &self.configured_by {
            out.push_str("configuredBy:\n");
            let mut field = |key: &str, value: &str| {
                if !value.is_empty() {
                    out.push_str(&format!("  {key}: {}\n", scalar(value)));
                }
            };
            field("apiVersion", &by.api_version);
            field("kind", &by.kind);
            field("name", &by.name);
            field("namespace", &by.namespace);
        }
        out
    }
}

/// A value as a single-line YAML scalar (quoted when plain text would not read back).
fn scalar(value: &str) -> String {
    let text = capstan_core::yaml::to_yaml(&Value::String(value.to_owned()));
    text.trim_end_matches('\n').to_owned()
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

/// Annotates generated resources with the origin `origin`.
pub fn annotate(mut resmap: ResMap, origin: &Origin) -> ResMap {
    let annotation = origin.to_annotation();
    for resource in resmap.iter_mut() {
        set_origin_annotation(resource, &annotation);
    }
    resmap
}

/// Annotates resources made by one of a kustomization's built-in generator fields.
pub fn annotate_generated(
    resmap: ResMap,
    origin: &Origin,
    file_name: &str,
    generator_kind: &str,
) -> ResMap {
    let configured_in = if origin.path.is_empty() {
        file_name.to_owned()
    } else {
        format!("{}/{file_name}", origin.path)
    };
    let by = ConfiguredBy {
        api_version: "builtin".into(),
        kind: generator_kind.into(),
        ..ConfiguredBy::default()
    };
    annotate(resmap, &origin.generated(configured_in, by))
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
