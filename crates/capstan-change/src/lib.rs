//! What a change does: object diff, change sets, and the decision framework's classification
//! (phase, risk, approval, procedure), as pure functions that return data.
//!
//! - [`diff`]: the structural diff of two renderings, Secret masking, and its renderers.
//! - [`compare`]: two revisions opened, rendered with `capstan-flux`'s build and compared.
//! - [`plan`]: the seeds' decision rules over a diff, and the procedure each verdict needs.

pub mod compare;
pub mod diff;
pub mod plan;
