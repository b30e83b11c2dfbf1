//! Charts for HelmReleases fetched from their sources.

pub mod oci;
