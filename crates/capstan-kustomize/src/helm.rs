//! `helmCharts:`: inflating a chart with `helm template`, as kustomize's
//! HelmChartInflationGenerator does, only with `--enable-helm`.

use crate::error::{Error, Result};
use crate::kustomization::{HelmChart, HelmGlobals};
use crate::loader::Loader;
use crate::resmap::ResMap;

/// Renders one chart.
pub fn inflate(loader: &Loader<'_>, _globals: &HelmGlobals, _chart: &HelmChart) -> Result<ResMap> {
    if !loader.options().enable_helm {
        return Err(Error::Helm {
            message: "must specify --enable-helm".into(),
        });
    }
    Err(Error::Unsupported {
        message: "capstan does not support helmCharts yet".into(),
    })
}
