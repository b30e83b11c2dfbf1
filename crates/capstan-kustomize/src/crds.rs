//! The `crds:` field: OpenAPI definition files whose `x-kubernetes-object-ref-*` extensions
//! add name-reference field specs for custom kinds.

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::loader::Loader;

/// Reads the field specs the CRD files at `paths` declare.
pub fn load_config(_loader: &Loader<'_>, paths: &[String]) -> Result<TransformerConfig> {
    if paths.is_empty() {
        return Ok(TransformerConfig::default());
    }
    Err(Error::Unsupported {
        message: "capstan does not support the kustomization field 'crds' yet".into(),
    })
}
