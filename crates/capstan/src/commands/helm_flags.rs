//! `helm template` switches shared by the commands that render HelmReleases (`build`,
//! `get images`): the ones flux-local users pass to its helm backend.

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
