//! One Flux Kustomization, built as kustomize-controller v1 builds it, in two stages.
//!
//! [`build_manifests`] is the part that needs only the repository: the controller's kustomization
//! file ([`super::overlay`]) laid over the path, `kustomize build` with no load restrictions and
//! the legacy order, the API-convention check (every object has apiVersion, kind and name), then
//! SOPS decryption of each object when `spec.decryption` is set — or, without an age key, the
//! encrypted values masked and the object marked "not decrypted".
//!
//! [`post_build`] needs the variables (which may come from objects other Kustomizations render):
//! post-build substitution, then what the controller does before applying — `commonMetadata`
//! labels and annotations written over the objects' own, and the owner labels
//! `kustomize.toolkit.fluxcd.io/name` and `/namespace`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan_core::{Fs, Map, ResourceId, Value};

use super::decrypt_sources::DecryptingFs;
use super::layered_fs::LayeredFs;
use super::{BuiltObject, overlay};
use crate::sops::{self, Keys};
use crate::substitute::{self, PostBuild, SubstituteOptions};

/// The owner-name label.
pub const NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// The owner-namespace label.
pub const NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";

/// Why a Kustomization did not build.
#[derive(Debug, thiserror::Error)]
pub enum KsBuildError {
    #[error("{0}")]
    Overlay(#[from] overlay::OverlayError),
    #[error("kustomize build failed: {0}")]
    Kustomize(#[from] capstan_kustomize::Error),
    #[error("failed to decode Kubernetes apiVersion, kind and name from object {index} ({id})")]
    Convention { index: usize, id: String },
    #[error("decryption failed for '{id}': {source}")]
    Decrypt {
        id: String,
        #[source]
        source: sops::SopsError,
    },
    #[error("{0}")]
    Substitute(#[from] substitute::SubstituteError),
}

/// The result of the repository-only stage.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    pub objects: Vec<BuiltObject>,
    /// Objects whose SOPS-encrypted values were masked for want of a key.
    pub not_decrypted: Vec<ResourceId>,
}

/// Builds `dir` (a path the `fs` understands) for the Kustomization `ks` (its manifest).
/// `root` is the repository root origins are made relative to.
/// How a build fetches remote kustomize resources: from the cache only, or through the run's
/// record of the network's reachability (shared with the chart fetcher).
pub struct RemoteFetch {
    pub offline: bool,
    pub network: std::sync::Arc<capstan_core::network::Reachability>,
}

pub fn build_manifests(
    fs: &dyn Fs,
    root: &Path,
    dir: &Path,
    ks: &Value,
    keys: &Keys,
    remote: &RemoteFetch,
) -> Result<Manifests, KsBuildError> {
    let decrypt = ks.pointer("/spec/decryption").is_some_and(|d| !d.is_null());
    let decrypting = DecryptingFs::new(fs, keys);
    let source_fs: &dyn Fs = if decrypt { &decrypting } else { fs };
    let layered = LayeredFs::new(source_fs);
    let (file, text) = overlay::flux_kustomization(fs, dir, ks)?;
    layered.put(&file, text);
    let options = capstan_kustomize::Options {
        load_restrictor: capstan_kustomize::LoadRestrictor::None,
        offline: remote.offline,
        network: remote.network.clone(),
        ..capstan_kustomize::Options::default()
    };
    let resmap = capstan_kustomize::build(&layered, dir, &options)?;
    let mut out = Manifests::default();
    for (index, resource) in resmap.into_resources().into_iter().enumerate() {
        let id = ResourceId::of(&resource.object);
        if id.kind.is_empty()
            || id.name.is_empty()
            || resource
                .object
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            return Err(KsBuildError::Convention {
                index,
                id: id.to_string(),
            });
        }
        let mut object = resource.object;
        // encrypted in Git: what decryption or masking below removes
        let encrypted = sops::is_encrypted(&object);
        if decrypt {
            if keys.is_empty()
                && sops::is_encrypted(&object)
                && !sops::is_decryption_disabled(&object)
            {
                object = sops::mask_resource(&object);
                out.not_decrypted.push(id.clone());
            } else {
                match sops::decrypt_resource(&object, keys, &id.to_string()) {
                    Ok(Some(decrypted)) => object = decrypted,
                    Ok(None) => {}
                    Err(sops::SopsError::NoKeys { .. }) => {
                        object = sops::mask_resource(&object);
                        out.not_decrypted.push(id.clone());
                    }
                    Err(source) => {
                        return Err(KsBuildError::Decrypt {
                            id: id.to_string(),
                            source,
                        });
                    }
                }
            }
        }
        let file = resource.source.as_deref().map(|p| relative_to(root, p));
        out.objects.push(BuiltObject {
            object,
            file,
            document: resource.document,
            line: resource.line,
            encrypted,
        });
    }
    Ok(out)
}

fn relative_to(root: &Path, path: &Path) -> PathBuf {
    let path = capstan_core::fs::normalize(path);
    let root = capstan_core::fs::normalize(root);
    if root == Path::new(".") {
        return path;
    }
    path.strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or(path)
}

/// Substitution, `commonMetadata` and owner labels over the built objects. `vars` are the
/// Kustomization's resolved variables (see [`PostBuild::variables`]); `None` when it has no
/// `postBuild`.
pub fn post_build(
    ks: &Value,
    objects: Vec<BuiltObject>,
    post: Option<(&PostBuild, &BTreeMap<String, String>)>,
    options: SubstituteOptions,
) -> Result<Vec<BuiltObject>, KsBuildError> {
    let name = ks
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let namespace = ks
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let common_labels = string_map(ks.pointer("/spec/commonMetadata/labels"));
    let common_annotations = string_map(ks.pointer("/spec/commonMetadata/annotations"));
    let mut out = Vec::with_capacity(objects.len());
    for mut built in objects {
        if let Some((post, vars)) = post
            && let Some(substituted) =
                substitute::substitute_object(&built.object, vars, post.strategy, options)?
        {
            built.object = substituted;
        }
        set_metadata(&mut built.object, "labels", &common_labels);
        set_metadata(&mut built.object, "annotations", &common_annotations);
        let owner = [
            (NAME_LABEL.to_owned(), name.clone()),
            (NAMESPACE_LABEL.to_owned(), namespace.clone()),
        ];
        set_metadata(&mut built.object, "labels", &owner);
        out.push(built);
    }
    Ok(out)
}

fn string_map(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set_metadata(object: &mut Value, field: &str, entries: &[(String, String)]) {
    if entries.is_empty() {
        return;
    }
    let Value::Object(map) = object else { return };
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    let Value::Object(metadata) = metadata else {
        return;
    };
    let target = metadata
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (k, v) in entries {
            target.insert(k.clone(), Value::String(v.clone()));
        }
    }
}
