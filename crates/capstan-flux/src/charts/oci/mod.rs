//! Charts from OCI registries, as source-controller pulls them: a HelmRepository of `type: oci`
//! (the chart is `<url>/<chart>`, `spec.chart.spec.version` an exact version or a semver range
//! matched against the tags, with Helm's `+` → `_` tag convention) and an OCIRepository named by
//! a HelmRelease's `spec.chartRef` (`spec.ref.digest`, else `semver` with `semverFilter`, else
//! `tag`, else `latest`; the layer chosen by `spec.layerSelector`). Every pull is checked end to
//! end: manifest and blob digests, then the archive itself ([`crate::charts::archive`]).
//!
//! - [`reference`]: `oci://host[:port]/path` addresses.
//! - [`auth`]: credentials (Secret, helm and docker config files) and challenges.
//! - [`client`]: the distribution API over `ureq`.
//! - [`load`]: these charts through the build's cache and offline mode.

pub mod auth;
pub mod client;
pub mod load;
pub mod reference;

use std::time::Duration;

use crate::charts::{FetchedChart, semver};
use crate::model::{OciLayerSelector, OciRepositoryRef};

pub use auth::Credentials;
pub use client::{Client, ClientOptions, Descriptor, Manifest};
pub use load::OciSource;
pub use reference::Repository;

/// The layer media type `helm push` gives a chart.
pub const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The chart layer media type of Helm 3's first OCI releases, still accepted by `helm pull`.
pub const LEGACY_HELM_CHART_LAYER: &str = "application/tar+gzip";
/// source-controller's default `spec.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Tags listed in a "no tag matches" error.
const TAGS_SHOWN: usize = 10;

/// Why an OCI chart could not be pulled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciError {
    #[error("invalid OCI URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("registry unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("repository {repository} not found in the registry")]
    RepositoryNotFound { repository: String },
    #[error("{repository}: no manifest for {reference:?} (tag or digest not found)")]
    ManifestNotFound {
        repository: String,
        reference: String,
    },
    #[error("{repository}: no tag matches {constraint:?}; tags: {}", list_tags(.tags))]
    NoMatchingTag {
        repository: String,
        constraint: String,
        tags: Vec<String>,
    },
    #[error("{repository}: invalid version constraint {constraint:?}: {reason}")]
    InvalidConstraint {
        repository: String,
        constraint: String,
        reason: String,
    },
    #[error("{repository}: invalid semverFilter {filter:?}: {reason}")]
    InvalidFilter {
        repository: String,
        filter: String,
        reason: String,
    },
    #[error("{repository}@{digest}: no {wanted} layer in the manifest (layers: {})", if .found.is_empty() { "none".to_owned() } else { .found.join(", ") })]
    NoChartLayer {
        repository: String,
        digest: String,
        wanted: String,
        found: Vec<String>,
    },
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{repository}@{digest}: corrupt chart archive: {reason}")]
    CorruptArchive {
        repository: String,
        digest: String,
        reason: String,
    },
    #[error("{repository}: access refused ({status}) {credentials}: {detail}")]
    AuthRefused {
        repository: String,
        status: u16,
        credentials: String,
        detail: String,
    },
    #[error("registry credentials in {origin}: {reason}")]
    Credentials { origin: String, reason: String },
    #[error("{url}: HTTP {status}: {detail}")]
    Http {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("{url}: unexpected response: {reason}")]
    BadResponse { url: String, reason: String },
}

fn list_tags(tags: &[String]) -> String {
    match tags.len() {
        0 => "none".into(),
        n if n <= TAGS_SHOWN => tags.join(", "),
        n => format!(
            "{}, … ({} more)",
            tags[..TAGS_SHOWN].join(", "),
            n - TAGS_SHOWN
        ),
    }
}

/// Which manifest of an OCIRepository to pull, in Flux's precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciReference {
    /// `spec.ref.digest`: the manifest digest itself.
    Digest(String),
    /// `spec.ref.semver` (+ `semverFilter`): the highest matching tag.
    Semver {
        range: String,
        filter: Option<String>,
    },
    /// `spec.ref.tag`, or `latest` when no ref is given.
    Tag(String),
}

impl OciReference {
    /// The reference `spec.ref` selects.
    pub fn from_spec(reference: Option<&OciRepositoryRef>) -> OciReference {
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        match reference {
            Some(r) if nonempty(&r.digest).is_some() => {
                OciReference::Digest(nonempty(&r.digest).unwrap_or_default())
            }
            Some(r) if nonempty(&r.semver).is_some() => OciReference::Semver {
                range: nonempty(&r.semver).unwrap_or_default(),
                filter: nonempty(&r.semver_filter),
            },
            Some(r) if nonempty(&r.tag).is_some() => {
                OciReference::Tag(nonempty(&r.tag).unwrap_or_default())
            }
            _ => OciReference::Tag("latest".into()),
        }
    }
}

/// Which layer of the manifest is the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerChoice {
    /// A HelmRepository chart: the Helm chart layer (current or legacy media type), as `helm
    /// pull` requires.
    HelmChart,
    /// An OCIRepository: `spec.layerSelector.mediaType` when set; else the Helm chart layer
    /// when there is one, else the first layer (source-controller's default).
    Selector(Option<String>),
}

impl LayerChoice {
    pub fn from_selector(selector: Option<&OciLayerSelector>) -> LayerChoice {
        LayerChoice::Selector(
            selector
                .and_then(|s| s.media_type.clone())
                .filter(|m| !m.is_empty()),
        )
    }

    fn pick<'m>(
        &self,
        repository: &Repository,
        manifest: &'m Manifest,
    ) -> Result<&'m Descriptor, OciError> {
        let with = |media: &str| manifest.layers.iter().find(|l| l.media_type == media);
        let found = match self {
            LayerChoice::HelmChart => {
                with(HELM_CHART_LAYER).or_else(|| with(LEGACY_HELM_CHART_LAYER))
            }
            LayerChoice::Selector(Some(media)) => with(media),
            LayerChoice::Selector(None) => {
                with(HELM_CHART_LAYER).or_else(|| manifest.layers.first())
            }
        };
        found.ok_or_else(|| OciError::NoChartLayer {
            repository: repository.to_string(),
            digest: manifest.digest.clone(),
            wanted: match self {
                LayerChoice::Selector(Some(media)) => media.clone(),
                _ => HELM_CHART_LAYER.to_owned(),
            },
            found: manifest
                .layers
                .iter()
                .map(|l| l.media_type.clone())
                .collect(),
        })
    }
}

/// A chart pulled from a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledChart {
    /// The repository it came from (`oci://host/path`).
    pub repository: Repository,
    /// The tag it was resolved through, when it was not pinned by digest.
    pub tag: Option<String>,
    /// The manifest digest (the source's revision, Flux's `tag@digest`).
    pub manifest_digest: String,
    /// The layer digest the archive was checked against.
    pub layer_digest: String,
    /// The archive, with `Chart.yaml`'s name and version and its `sha256:` digest.
    pub chart: FetchedChart,
}

/// Client options for a source: plain HTTP for `insecure`, its `spec.timeout`, its credentials.
pub fn client_options(
    insecure: bool,
    timeout: Option<&crate::model::Duration>,
    credentials: Option<Credentials>,
) -> ClientOptions {
    ClientOptions {
        plain_http: insecure,
        timeout: timeout
            .and_then(crate::model::Duration::parse)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_TIMEOUT),
        credentials,
    }
}

/// The tag of `<base>/<chart>` that a HelmRepository's `version` selects: an exact version is
/// used as it is (no listing, as source-controller does), anything else (`""` meaning `*`) is
/// matched against the tags read back with `_` as `+`, the highest match winning.
pub fn resolve_helm_chart_tag(
    client: &Client,
    repository: &Repository,
    version: &str,
) -> Result<String, OciError> {
    let version = version.trim();
    let constraint = if version.is_empty() { "*" } else { version };
    if semver::is_exact(constraint) {
        return Ok(constraint.replace('+', "_"));
    }
    let tags = client.tags(repository)?;
    let versions: Vec<String> = tags.iter().map(|t| t.replace('_', "+")).collect();
    match semver::resolve(constraint, versions.iter().map(String::as_str)) {
        Ok(Some(chosen)) => Ok(chosen.replace('+', "_")),
        Ok(None) => Err(OciError::NoMatchingTag {
            repository: repository.to_string(),
            constraint: constraint.to_owned(),
            tags: newest_first(&versions),
        }),
        Err(e) => Err(OciError::InvalidConstraint {
            repository: repository.to_string(),
            constraint: constraint.to_owned(),
            reason: e.reason,
        }),
    }
}

/// The tag or digest an OCIRepository's reference selects. Semver ranges are matched against
/// the tags as they are (no `_` rewriting, as source-controller), after `semverFilter`.
pub fn resolve_oci_reference(
    client: &Client,
    repository: &Repository,
    reference: &OciReference,
) -> Result<String, OciError> {
    match reference {
        OciReference::Digest(digest) => {
            if !reference::is_digest(digest) {
                return Err(OciError::InvalidUrl {
                    url: repository.to_string(),
                    reason: format!("spec.ref.digest {digest:?} is not a digest (sha256:<hex>)"),
                });
            }
            Ok(digest.clone())
        }
        OciReference::Tag(tag) => {
            if !reference::is_tag(tag) {
                return Err(OciError::InvalidUrl {
                    url: repository.to_string(),
                    reason: format!("spec.ref.tag {tag:?} is not a valid tag"),
                });
            }
            Ok(tag.clone())
        }
        OciReference::Semver { range, filter } => {
            let mut tags = client.tags(repository)?;
            if let Some(filter) = filter {
                let re = regex::Regex::new(filter).map_err(|e| OciError::InvalidFilter {
                    repository: repository.to_string(),
                    filter: filter.clone(),
                    reason: e.to_string(),
                })?;
                tags.retain(|t| re.is_match(t));
            }
            match semver::resolve(range, tags.iter().map(String::as_str)) {
                Ok(Some(chosen)) => Ok(chosen.to_owned()),
                Ok(None) => Err(OciError::NoMatchingTag {
                    repository: repository.to_string(),
                    constraint: range.clone(),
                    tags: newest_first(&tags),
                }),
                Err(e) => Err(OciError::InvalidConstraint {
                    repository: repository.to_string(),
                    constraint: range.clone(),
                    reason: e.reason,
                }),
            }
        }
    }
}

/// The manifest of `repository` at `reference` (a tag or a digest).
pub fn fetch_manifest(
    client: &Client,
    repository: &Repository,
    reference: &str,
) -> Result<Manifest, OciError> {
    client.manifest(repository, reference)
}

/// Downloads the chart layer of `manifest` and checks it is a chart archive.
pub fn pull_chart(
    client: &Client,
    repository: &Repository,
    tag: Option<&str>,
    manifest: &Manifest,
    layer: &LayerChoice,
) -> Result<PulledChart, OciError> {
    let descriptor = layer.pick(repository, manifest)?;
    let archive = client.blob(repository, descriptor)?;
    // The same checked unpacking the build renders from: a chart directory with a Chart.yaml
    // that names the chart and its version.
    let corrupt = |reason: String| OciError::CorruptArchive {
        repository: repository.to_string(),
        digest: descriptor.digest.clone(),
        reason,
    };
    let unpacked = crate::charts::archive::unpack(&archive, "chart", None).map_err(corrupt)?;
    if unpacked.version.is_empty() {
        return Err(corrupt("Chart.yaml has no version".into()));
    }
    let (name, version) = (unpacked.name, unpacked.version);
    Ok(PulledChart {
        repository: repository.clone(),
        tag: tag.map(str::to_owned),
        manifest_digest: manifest.digest.clone(),
        layer_digest: descriptor.digest.clone(),
        chart: FetchedChart {
            name,
            version,
            digest: client::digest_of("sha256:", &archive).expect("sha256 is supported"),
            archive,
        },
    })
}

/// A HelmRepository (`type: oci`) chart, resolved and pulled.
pub fn pull_helm_repository_chart(
    client: &Client,
    url: &str,
    chart: &str,
    version: &str,
) -> Result<PulledChart, OciError> {
    let repository = Repository::parse(url)?.join(chart)?;
    let tag = resolve_helm_chart_tag(client, &repository, version)?;
    let manifest = client.manifest(&repository, &tag)?;
    pull_chart(
        client,
        &repository,
        Some(&tag),
        &manifest,
        &LayerChoice::HelmChart,
    )
}

/// An OCIRepository's chart, resolved and pulled.
pub fn pull_oci_repository_chart(
    client: &Client,
    url: &str,
    reference: &OciReference,
    layer: &LayerChoice,
) -> Result<PulledChart, OciError> {
    let repository = Repository::parse(url)?;
    let resolved = resolve_oci_reference(client, &repository, reference)?;
    let manifest = client.manifest(&repository, &resolved)?;
    let tag = (!reference::is_digest(&resolved)).then_some(resolved.as_str());
    pull_chart(client, &repository, tag, &manifest, layer)
}

/// Tags that parse as versions, highest first, then the others: the order an error lists them.
fn newest_first(tags: &[String]) -> Vec<String> {
    let mut sorted = tags.to_vec();
    sorted.sort_by(|a, b| semver::compare_versions(b, a));
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_precedence() {
        let r = |d: Option<&str>, s: Option<&str>, t: Option<&str>| OciRepositoryRef {
            digest: d.map(Into::into),
            semver: s.map(Into::into),
            semver_filter: Some("^1".into()),
            tag: t.map(Into::into),
        };
        assert_eq!(
            OciReference::from_spec(Some(&r(Some("sha256:ab"), Some("*"), Some("x")))),
            OciReference::Digest("sha256:ab".into())
        );
        assert_eq!(
            OciReference::from_spec(Some(&r(None, Some(">=1"), Some("x")))),
            OciReference::Semver {
                range: ">=1".into(),
                filter: Some("^1".into())
            }
        );
        assert_eq!(
            OciReference::from_spec(Some(&r(Some(""), None, Some("x")))),
            OciReference::Tag("x".into())
        );
        assert_eq!(
            OciReference::from_spec(None),
            OciReference::Tag("latest".into())
        );
    }

    #[test]
    fn layer_choice() {
        let layer = |m: &str| Descriptor {
            media_type: m.into(),
            digest: "sha256:00".into(),
            size: 1,
            annotations: Default::default(),
        };
        let manifest = |layers: Vec<Descriptor>| Manifest {
            digest: "sha256:ff".into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            config: None,
            layers,
            annotations: Default::default(),
        };
        let repo = Repository::parse("oci://r/x").unwrap();
        let helm = manifest(vec![
            layer("application/vnd.cncf.helm.chart.provenance.v1.prov"),
            layer(HELM_CHART_LAYER),
        ]);
        assert_eq!(
            LayerChoice::HelmChart
                .pick(&repo, &helm)
                .unwrap()
                .media_type,
            HELM_CHART_LAYER
        );
        assert_eq!(
            LayerChoice::Selector(None)
                .pick(&repo, &helm)
                .unwrap()
                .media_type,
            HELM_CHART_LAYER
        );
        let other = manifest(vec![layer("application/vnd.cncf.flux.content.v1.tar+gzip")]);
        assert!(LayerChoice::Selector(None).pick(&repo, &other).is_ok());
        let err = LayerChoice::HelmChart
            .pick(&repo, &other)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no application/vnd.cncf.helm.chart.content.v1.tar+gzip layer"),
            "{err}"
        );
        assert!(err.contains("flux.content"), "{err}");
        let err = LayerChoice::Selector(Some("x/y".into()))
            .pick(&repo, &helm)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no x/y layer"), "{err}");
        let err = LayerChoice::Selector(None)
            .pick(&repo, &manifest(vec![]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("layers: none"), "{err}");
    }

    #[test]
    fn tag_lists_in_errors_are_bounded() {
        let tags: Vec<String> = (0..15).map(|i| format!("1.0.{i}")).collect();
        let err = OciError::NoMatchingTag {
            repository: "oci://r/x".into(),
            constraint: ">=2".into(),
            tags: newest_first(&tags),
        }
        .to_string();
        assert!(
            err.starts_with("oci://r/x: no tag matches \">=2\"; tags: 1.0.14, 1.0.13"),
            "{err}"
        );
        assert!(err.ends_with("(5 more)"), "{err}");
    }

    #[test]
    fn timeouts_from_spec() {
        let d = crate::model::Duration("90s".into());
        assert_eq!(
            client_options(true, Some(&d), None).timeout,
            Duration::from_secs(90)
        );
        assert_eq!(client_options(false, None, None).timeout, DEFAULT_TIMEOUT);
        assert!(client_options(true, None, None).plain_http);
    }
}
