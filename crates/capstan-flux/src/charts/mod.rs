//! Charts that live outside the repository: fetched from an HTTP HelmRepository (`http`) or an
//! OCI registry (`oci`), kept in an on-disk cache (`cache`) keyed by source, chart and version,
//! and unpacked into memory (`archive`) for rendering. Versions are picked with Helm's
//! constraint dialect ([`semver`]).

pub mod oci;
pub mod semver;

/// A chart archive as fetched from its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedChart {
    /// The chart's name (from the index, the OCI repository, or `Chart.yaml`).
    pub name: String,
    /// The resolved version.
    pub version: String,
    /// `sha256:<hex>` of [`FetchedChart::archive`].
    pub digest: String,
    /// The packaged chart (`.tgz`).
    pub archive: Vec<u8>,
}
