//! Validation (schemas and policies), object diff and change classification, as pure functions
//! that return findings as data.
//!
//! - [`schema`]: strict validation against embedded Kubernetes/Flux schemas and rendered CRDs.
//! - [`rules`]: the seeds' policies and Flux integrity checks, one rule per file.
//! - [`check`]: the engine that runs both over a [`input::CheckInput`] into a [`check::Report`].
//! - [`config`]: the `check` section of `.capstan.yaml`.
//! - [`diff`] and [`plan`]: object diff and change classification.

pub mod check;
pub mod config;
pub mod diff;
pub mod input;
pub mod locate;
pub mod plan;
pub mod rules;
pub mod schema;

pub use check::{Finding, Report, Verdict, check};
pub use config::Config;
pub use input::{CheckInput, Rendered, Unit, UnitKind, UnitStatus};
