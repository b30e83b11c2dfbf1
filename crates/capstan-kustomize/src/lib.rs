//! A pure kustomize v5.6 engine.
//!
//! Reads a kustomization through [`capstan_core::Fs`], runs kustomize's generators and
//! transformers in kustomize's order, and returns the resulting objects; printing them in
//! `kubectl kustomize`'s exact form is [`capstan_core::yaml::to_yaml_stream`].

pub mod openapi;
pub mod smp;
pub mod json6902;
