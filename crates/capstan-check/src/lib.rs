//! Validation (schemas and policies), as pure functions that return findings as data.
//!
//! - [`schema`]: strict validation against embedded Kubernetes/Flux schemas and rendered CRDs.
//! - [`rules`]: the seeds' policies and Flux integrity checks, one rule per file.
//! - [`check`]: the engine that runs both over a [`input::CheckInput`] into a [`check::Report`].
//! - [`config`]: the `check` section of `.capstan.yaml`.
//! - [`from_build`]: the input from `capstan-flux`'s build outcome.
//! - [`repository`]: all of it over a repository in one call.

pub mod check;
pub mod config;
pub mod from_build;
pub mod input;
pub mod locate;
pub mod repository;
pub mod rules;
pub mod schema;

pub use check::{Finding, Report, Verdict, check};
pub use config::Config;
pub use from_build::input_of;
pub use input::{CheckInput, Rendered, Unit, UnitKind, UnitStatus};
pub use repository::{RepositoryError, check_repository};
