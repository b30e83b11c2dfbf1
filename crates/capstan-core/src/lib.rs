//! The ground every other capstan crate stands on: the object model ([`ResourceId`], resource
//! values as order-preserving JSON), the multi-document YAML codec ([`yaml`]), the filesystem
//! abstraction every renderer reads through ([`Fs`], with [`OsFs`] and [`MemFs`]), and the
//! [`Diagnostic`] shape that errors and findings are reported in.
//!
//! With the `git` feature, [`git::GitTreeFs`] reads a revision straight from a repository's object
//! database.
//!
//! [`network`] remembers, for the whole run, that the network was found unreachable.
//!
//! Nothing here performs I/O except [`OsFs`] (and the `git` module), and nothing here knows about kustomize or Flux.

pub mod diagnostic;
pub mod fs;
#[cfg(feature = "git")]
pub mod git;
pub mod go_json;
pub mod network;
pub mod resource;
pub mod wildcard;
pub mod workload;
pub mod yaml;

pub use diagnostic::{Diagnostic, Location, Severity};
pub use fs::{Fs, MemFs, OsFs};
pub use resource::ResourceId;

/// A Kubernetes object (or any YAML document) as an order-preserving JSON value.
pub type Value = serde_json::Value;
/// A JSON object with insertion order preserved.
pub type Map = serde_json::Map<String, serde_json::Value>;
