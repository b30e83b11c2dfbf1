//! `helm template` switches shared by the commands that render HelmReleases (`build`,
//! `get images`, `diff`, `plan`): the ones flux-local users pass to its helm backend. A value
//! helm would refuse (`--kube-version banana`) is refused here, once, naming the flag, instead
//! of failing every HelmRelease.

use std::path::PathBuf;
use std::sync::Arc;

use capstan_flux::helm::{HelmBinary, HelmRenderer, TemplateFlags};
use clap::Args;

#[derive(Debug, Clone, Default, Args)]
pub struct HelmFlags {
    /// Render with `.Release.IsUpgrade` set instead of `.Release.IsInstall` (helm --is-upgrade).
    #[arg(long)]
    pub is_upgrade: bool,
    /// Leave hook-annotated templates out of the output (helm --no-hooks).
    #[arg(long)]
    pub no_hooks: bool,
}

/// The Kubernetes version and API versions charts see, with [`HelmFlags`]: what `build`,
/// `get images`, `diff` and `plan` take.
#[derive(Debug, Clone, Default, Args)]
pub struct TemplateArgs {
    /// Kubernetes version for `helm template --kube-version` (e.g. 1.33 or v1.33.2).
    #[arg(long, value_parser = kube_version, value_name = "VERSION")]
    pub kube_version: Option<String>,
    /// Extra API versions for `helm template --api-versions` (comma-separated).
    #[arg(short = 'a', long, value_delimiter = ',', value_parser = api_version)]
    pub api_versions: Vec<String>,
    #[command(flatten)]
    pub flags: HelmFlags,
}

/// `--kube-version`: `[v]MAJOR.MINOR[.PATCH][-PRE][+BUILD]`, as helm reads it.
pub fn kube_version(text: &str) -> Result<String, String> {
    let core = text.strip_prefix('v').unwrap_or(text);
    let core = core.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    if (2..=3).contains(&parts.len()) && parts.iter().all(numeric) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "not a Kubernetes version: expected MAJOR.MINOR[.PATCH], e.g. 1.33 or v1.33.2 (got {text:?})"
        ))
    }
}

/// `--api-versions`: `GROUP/VERSION` or `GROUP/VERSION/KIND` (`v1` for the core group).
pub fn api_version(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let word = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if parts.len() <= 3 && parts.iter().all(word) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "not an API version: expected GROUP/VERSION or GROUP/VERSION/KIND, e.g. monitoring.coreos.com/v1 (got {text:?})"
        ))
    }
}

impl HelmFlags {
    /// The helm binary (`explicit`, `CAPSTAN_HELM`, `PATH`) with these flags and the registry
    /// config file, or `None` when there is none.
    pub fn renderer(
        &self,
        explicit: Option<&std::path::Path>,
        registry_config: Option<PathBuf>,
    ) -> Option<Arc<dyn HelmRenderer>> {
        HelmBinary::find(explicit).map(|helm| {
            Arc::new(helm.with_flags(TemplateFlags {
                is_upgrade: self.is_upgrade,
                no_hooks: self.no_hooks,
                registry_config,
            })) as Arc<dyn HelmRenderer>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_versions_helm_reads_and_ones_it_refuses() {
        for good in ["1.33", "v1.33.2", "1.31.0-gke.100", "1.30.1+k3s1"] {
            assert_eq!(kube_version(good).as_deref(), Ok(good));
        }
        for bad in ["banana", "1", "1.x", "v", "1.2.3.4", ""] {
            let error = kube_version(bad).expect_err(bad);
            assert!(error.contains("e.g. 1.33"), "{error}");
        }
    }

    #[test]
    fn api_versions() {
        for good in ["v1", "monitoring.coreos.com/v1", "example.com/v1/Widget"] {
            assert!(api_version(good).is_ok(), "{good}");
        }
        for bad in ["bad api", "", "a//b", "a/b/c/d"] {
            assert!(api_version(bad).is_err(), "{bad}");
        }
    }
}
