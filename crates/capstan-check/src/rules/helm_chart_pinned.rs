//! `helm-chart-pinned`: a HelmRelease names an exact chart version — `spec.chart.spec.version`
//! without ranges, or, with `chartRef`, an OCIRepository pinned to a tag, semver or digest.

use capstan_core::{ResourceId, Severity, Value};

use super::{Hit, Rule, RuleMeta};
use crate::config::RuleConfig;
use crate::input::{CheckInput, UnitKind};

pub struct HelmChartPinned;

static META: RuleMeta = RuleMeta {
    id: "helm-chart-pinned",
    severity: Severity::Error,
    summary: "HelmRelease chart versions are pinned to an exact version.",
    why: "A missing version or a range (`*`, `>=1.0`, `~1.2`, `1.x`) upgrades the release whenever the chart \
          repository publishes, without a commit, a review or a way back through Git.",
    example: "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\nspec:\n  chart:\n    spec:\n      chart: podinfo\n      version: \">=6.0.0\"\n      sourceRef: {kind: HelmRepository, name: podinfo}\n",
    fix: "Set `version: 6.7.1` (an exact version), or point `chartRef` at an OCIRepository with `ref.tag` or `ref.digest`.",
    options: "",
};

/// Why a version constraint is not exact, or `None`.
pub fn not_exact(version: &str) -> Option<String> {
    let v = version.trim();
    if v.is_empty() || v == "*" {
        return Some("no chart version (takes the newest)".to_owned());
    }
    let range = v.contains(['>', '<', '~', '^', '*', '|', ' ', ','])
        || v.split(['.', '-', '+'])
            .any(|p| p.eq_ignore_ascii_case("x"))
        || v.trim_start_matches('v').split('.').count() < 3;
    range.then(|| format!("chart version \"{v}\" is a range, not an exact version"))
}

impl Rule for HelmChartPinned {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        for (u, unit) in input.units.iter().enumerate() {
            if unit.kind != UnitKind::HelmRelease {
                continue;
            }
            if let Some(spec) = unit.manifest.pointer("/spec/chart/spec") {
                // Charts from a GitRepository or Bucket are pinned by the source's revision;
                // helm-controller ignores `version` for them.
                let source_kind = spec
                    .pointer("/sourceRef/kind")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if matches!(source_kind, "GitRepository" | "Bucket") {
                    continue;
                }
                let version = spec.get("version").and_then(Value::as_str).unwrap_or("");
                if let Some(problem) = not_exact(version) {
                    out.push(Hit::unit(u, problem).field("spec.chart.spec.version"));
                }
            } else if let Some(reference) = unit.manifest.pointer("/spec/chartRef") {
                let kind = reference.get("kind").and_then(Value::as_str).unwrap_or("");
                if kind != "OCIRepository" {
                    continue;
                }
                let name = reference.get("name").and_then(Value::as_str).unwrap_or("");
                let namespace = reference
                    .get("namespace")
                    .and_then(Value::as_str)
                    .or(unit.id.namespace.as_deref());
                let Some(repo) = input.sources.iter().find(|s| {
                    let id = ResourceId::of(s);
                    id.kind == "OCIRepository"
                        && id.name == name
                        && id.namespace.as_deref() == namespace
                }) else {
                    continue;
                };
                let r = repo.pointer("/spec/ref");
                let digest = r.and_then(|r| r.get("digest")).is_some();
                let tag = r.and_then(|r| r.get("tag")).and_then(Value::as_str);
                let semver = r.and_then(|r| r.get("semver")).and_then(Value::as_str);
                let problem = if digest {
                    None
                } else if let Some(semver) = semver {
                    not_exact(semver)
                } else {
                    match tag {
                        None => Some("no chart version (takes the newest)".to_owned()),
                        Some("latest") => Some("chart tag \"latest\" is not a version".to_owned()),
                        Some(_) => None,
                    }
                };
                if let Some(problem) = problem {
                    out.push(
                        Hit::unit(u, format!("OCIRepository {name}: {problem}"))
                            .field("spec.chartRef"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::not_exact;

    #[test]
    fn versions() {
        assert!(not_exact("1.2.3").is_none());
        assert!(not_exact("v1.2.3-rc.1").is_none());
        assert!(not_exact("").is_some());
        assert!(not_exact(">=1.0.0").is_some());
        assert!(not_exact("1.x").is_some());
        assert!(not_exact("1.2").is_some());
        assert!(not_exact("~1.2.3").is_some());
    }
}
