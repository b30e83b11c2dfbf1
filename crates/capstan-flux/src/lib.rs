//! Flux's repository model: discovery of sources, Kustomizations and HelmReleases from a Git
//! tree, and the build semantics of kustomize-controller and helm-controller.
//!
//! - [`bootstrap`]: the bootstrap plan — steps, needs, inputs and their digests, the journal.
//! - [`model`]: the Flux objects as typed structs.
//! - [`scaffold`]: `app add` / `app remove` planned as pure file changes.
//! - [`sops`]: SOPS decryption (age + AES-256-GCM).
//! - [`discovery`]: every Flux object a cluster repository declares, found from its entry points.
//! - [`graph`]: the dependsOn graph, its waves, cycles and missing dependencies.
//! - [`source`]: which source a reference names and whether it is the repository itself.
//! - [`charts`]: remote charts — HTTP and OCI chart sources, the chart cache, semver constraints.
//! - [`build`]: `capstan build` — Kustomizations and HelmReleases rendered as the controllers would.
//! - [`helm`]: HelmRelease values and the `helm` rendering backend.
//! - [`substitute`]: post-build variable substitution in Flux's envsubst dialect.
//! - [`operator`]: the Flux Operator — FluxInstance roots, ResourceSets, Flux versions.

pub mod bootstrap;
pub mod build;
pub mod charts;
pub mod discovery;
pub(crate) mod glob;
pub mod graph;
pub mod helm;
pub mod model;
pub mod operator;
pub mod scaffold;
pub mod scope;
pub mod sops;
pub mod source;
pub mod substitute;

pub use discovery::{Discovery, discover};
pub use model::{FluxKind, FluxObject, ObjectKey};
