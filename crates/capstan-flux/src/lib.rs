//! Flux's repository model: discovery of sources, Kustomizations and HelmReleases from a Git
//! tree, and the build semantics of kustomize-controller and helm-controller.
//!
//! - [`model`]: the Flux objects as typed structs.

pub mod model;
pub mod sops;

pub use model::{FluxKind, FluxObject, ObjectKey};
