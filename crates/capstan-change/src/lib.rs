//! What a change does: object diff, change sets, and the decision framework's classification
//! (phase, risk, approval, procedure), as pure functions that return data.
//!
//! - [`diff`]: the structural diff of two renderings, Secret masking, and its renderers.
//! - [`analysis`]: what the cluster and Flux will do with a change (wedges, data loss,
//!   privileges, outages, prune/suspend/order), one analysis per file.
//! - [`compare`]: two revisions opened, rendered with `capstan-flux`'s build and compared.
//! - [`plan`]: the seeds' decision rules over a diff, and the procedure each verdict needs.
//! - [`images`]: the container images objects run, and what a change does to them.

pub mod analysis;
pub mod compare;
pub mod diff;
pub mod images;
pub mod plan;
