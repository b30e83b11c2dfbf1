//! Validation (schemas and policies), as pure functions that return findings as data.
//!
//! - [`schema`]: strict validation against embedded Kubernetes/Flux schemas and rendered CRDs.
//! - [`rules`]: the seeds' policies and Flux integrity checks, one rule per file.
//! - [`check`]: the engine that runs both over a [`input::CheckInput`] into a [`check::Report`].
//! - [`config`]: the `check` section of `.capstan.yaml`.

pub mod check;
pub mod config;
pub mod input;
pub mod locate;
pub mod rules;
pub mod schema;

pub use check::{Finding, Report, Verdict, check};
pub use config::Config;
pub use input::{CheckInput, Rendered, Unit, UnitKind, UnitStatus};
