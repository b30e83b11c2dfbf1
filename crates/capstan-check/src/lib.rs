//! Validation (schemas and policies), object diff and change classification, as pure functions
//! that return findings as data.

pub mod diff;
pub mod plan;
