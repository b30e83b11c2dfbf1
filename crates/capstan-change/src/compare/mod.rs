//! Comparing two revisions of a repository: opening them ([`revisions`]), rendering each with
//! `capstan-flux`'s build ([`rendering`]) and comparing the renders ([`sides`]) — what `diff`,
//! `plan` and the live engine share.

pub mod rendering;
pub mod revisions;
pub mod sides;

pub use rendering::{OptionsFactory, Rendering, UnitFacts, render};
pub use revisions::{ChangedFiles, OpenError, Opened, Revisions, changed_fields, open};
pub use sides::{Compared, affected, compare_sides, plan_files};
