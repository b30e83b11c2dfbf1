//! OCI charts through the build's [`Charts`] fetcher: the same cache, offline mode and single
//! fetch per chart per build as HTTP HelmRepositories. A HelmRepository chart (`type: oci`) is
//! cached under its version (Helm's `_` tags read back as `+`); an OCIRepository chart under the
//! tag or digest its `spec.ref` resolves to, the archive's `Chart.yaml` naming the version.
//! Online, an OCIRepository tag is resolved to its manifest on every build (tags move), and the
//! cached archive is used only when it is still the layer the tag points at. Offline, an exact
//! version, tag or digest is read from the cache; a range or semver ref takes the highest cached
//! match; nothing touches the network.

use std::sync::Arc;

use super::{
    Client, LayerChoice, OciError, OciReference, Repository, pull_chart,
    pull_helm_repository_chart, resolve_helm_chart_tag, resolve_oci_reference,
};
use crate::charts::{ChartError, ChartKey, Charts, LoadedChart, semver};

/// An OCI source as a build sees it: its URL, its object name for messages, and a client
/// configured with its `insecure`, `timeout` and credentials.
pub struct OciSource {
    /// `HelmRepository/<ns>/<name>` or `OCIRepository/<ns>/<name>`.
    pub name: String,
    /// `oci://host/path`.
    pub url: String,
    pub client: Client,
}

fn registry_error(error: OciError) -> ChartError {
    ChartError::Registry {
        unreachable: matches!(error, OciError::Unreachable { .. }),
        message: error.to_string(),
    }
}

impl Charts {
    /// `chart` at `constraint` from a HelmRepository of `type: oci`.
    pub fn oci_helm_chart(
        &self,
        source: &OciSource,
        chart: &str,
        constraint: &str,
    ) -> Result<Arc<LoadedChart>, ChartError> {
        let constraint = constraint.trim();
        let constraint = if constraint.is_empty() {
            "*"
        } else {
            constraint
        };
        let repository = Repository::parse(&source.url)
            .and_then(|r| r.join(chart))
            .map_err(registry_error)?;
        let url = repository.to_string();
        let miss = || self.offline_miss(&source.name, &source.url, chart, constraint);
        let exact = constraint.trim_start_matches('=').trim();
        let version = if semver::is_exact(exact) {
            exact.to_owned()
        } else if self.is_offline() {
            self.cached_version(&source.url, chart, constraint)?
                .ok_or_else(miss)?
        } else {
            resolve_helm_chart_tag(&source.client, &repository, constraint)
                .map_err(registry_error)?
                .replace('_', "+")
        };
        let key = ChartKey::new(&source.url, chart, &version);
        self.load(&key, None, &url, || {
            if self.is_offline() {
                return Err(miss());
            }
            pull_helm_repository_chart(&source.client, &source.url, chart, &version)
                .map(|pulled| pulled.chart)
                .map_err(registry_error)
        })
    }

    /// The chart an OCIRepository's `spec.ref` selects (HelmRelease `spec.chartRef`).
    pub fn oci_repository_chart(
        &self,
        source: &OciSource,
        reference: &OciReference,
        layer: &LayerChoice,
    ) -> Result<Arc<LoadedChart>, ChartError> {
        let repository = Repository::parse(&source.url).map_err(registry_error)?;
        // The chart's name is only known from the archive; the cache directory is named after
        // the repository's last path segment.
        let dir = repository
            .name
            .rsplit('/')
            .next()
            .unwrap_or(&repository.name)
            .to_owned();
        let wanted = match reference {
            OciReference::Digest(d) => d.clone(),
            OciReference::Tag(t) => t.clone(),
            OciReference::Semver { range, .. } => range.clone(),
        };
        let miss = || self.offline_miss(&source.name, &source.url, &dir, &wanted);
        let resolved = match reference {
            OciReference::Semver { range, .. } if self.is_offline() => self
                .cached_version(&source.url, &dir, range)?
                .ok_or_else(miss)?,
            _ if self.is_offline() => wanted.clone(),
            _ => resolve_oci_reference(&source.client, &repository, reference)
                .map_err(registry_error)?,
        };
        let key = ChartKey::new(&source.url, &dir, &resolved);
        if self.is_offline() || super::reference::is_digest(&resolved) {
            // A digest is immutable; offline, the cache is all there is.
            return self.load(&key, None, &source.url, || {
                if self.is_offline() {
                    return Err(miss());
                }
                let manifest = source
                    .client
                    .manifest(&repository, &resolved)
                    .map_err(registry_error)?;
                pull_chart(&source.client, &repository, None, &manifest, layer)
                    .map(|pulled| pulled.chart)
                    .map_err(registry_error)
            });
        }
        // A tag can move (`latest`, a re-pushed tag): its manifest is read on every build, as
        // source-controller does, and the cached archive is used only when it is the layer the
        // tag points at now (else it is fetched again and replaced).
        let manifest = source
            .client
            .manifest(&repository, &resolved)
            .map_err(registry_error)?;
        let layer_digest = layer
            .pick(&repository, &manifest)
            .map_err(registry_error)?
            .digest
            .clone();
        self.load(&key, Some(&layer_digest), &source.url, || {
            pull_chart(
                &source.client,
                &repository,
                Some(&resolved),
                &manifest,
                layer,
            )
            .map(|pulled| pulled.chart)
            .map_err(registry_error)
        })
    }
}
