//! Flux's repository model: discovery of sources, Kustomizations and HelmReleases from a Git
//! tree, and the build semantics of kustomize-controller and helm-controller.
//!
//! - [`model`]: the Flux objects as typed structs.
//! - [`scaffold`]: `app add` / `app remove` planned as pure file changes.
//! - [`sops`]: SOPS decryption (age + AES-256-GCM).

pub mod model;
pub mod scaffold;
pub mod sops;

pub use model::{FluxKind, FluxObject, ObjectKey};
