//! What capstan's tests share, in one place: finding the oracle tools ([`oracle`]), building git
//! repositories ([`git`]) and locating the reference folder `../shared` ([`shared`]).
//!
//! Tests only (publish = false): production code never searches for oracles. A test that needs a
//! tool asks [`oracle`] and skips with a clear message when it is absent — unless CI said the
//! tools must be there (`CAPSTAN_ORACLES` is set, as `.ci/run` does), in which case a missing tool
//! fails the test instead of letting it pass unseen.

pub mod bootstrap;
pub mod git;
pub mod oracle;
pub mod shared;

pub use oracle::{command, oracle, oracle_dirs};
pub use shared::shared;
