//! Flux's repository model: discovery of sources, Kustomizations and HelmReleases from a Git
//! tree, and the build semantics of kustomize-controller and helm-controller.

pub mod substitute;
