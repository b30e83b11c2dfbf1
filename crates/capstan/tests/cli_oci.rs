//! `capstan build` end to end against a real OCI registry (docker-registry on 127.0.0.1, charts
//! pushed with the oracle helm): a HelmRepository of `type: oci` resolving a range against the
//! registry's tags, a HelmRelease `chartRef` to an OCIRepository pinned by tag, another to a tag
//! the registry lacks (its failure is reported, the rest renders); then `--offline` renders the
//! same from the chart cache and reports the missing one as skipped; a moved tag is followed. Skipped when docker-registry
//! or helm is absent, unless `CAPSTAN_REQUIRE_REGISTRY=1`.

#[path = "support/build_json.rs"]
mod build_json;
#[path = "../../capstan-flux/tests/support/registry.rs"]
mod registry;

use std::path::Path;

use build_json::{capstan, config_map, flux_system, release, write};
use registry::Registry;

fn flux_repo(root: &Path, host: &str) {
    flux_system(root);
    write(
        root,
        "clusters/dev/releases.yaml",
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: flux-system}}
spec: {{type: oci, url: oci://{host}/charts, insecure: true, interval: 1h, timeout: 20s}}
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {{name: demo, namespace: flux-system}}
spec: {{url: oci://{host}/charts/demo, insecure: true, interval: 1h, ref: {{tag: 1.2.3}}}}
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {{name: gone, namespace: flux-system}}
spec: {{url: oci://{host}/charts/demo, insecure: true, interval: 1h, ref: {{tag: 9.9.9}}}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: ranged, namespace: flux-system}}
spec:
  interval: 1h
  chart:
    spec: {{chart: demo, version: \"^1.0.0\", sourceRef: {{kind: HelmRepository, name: charts}}}}
  values: {{greeting: from-ranged}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: pinned, namespace: flux-system}}
spec:
  interval: 1h
  chartRef: {{kind: OCIRepository, name: demo}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: missing, namespace: flux-system}}
spec:
  interval: 1h
  chartRef: {{kind: OCIRepository, name: gone}}
"
        ),
    );
}

#[test]
fn build_pulls_oci_charts_then_works_offline() {
    let Some(registry) = Registry::start() else {
        return;
    };
    registry.push_chart("charts", "demo", "1.2.3");
    registry.push_chart("charts", "demo", "1.3.0");
    registry.push_chart("charts", "demo", "2.0.0");
    let helm = registry.helm.to_string_lossy().into_owned();
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    flux_repo(repo.path(), &registry.host);
    let common = [
        "--path",
        repo.path().to_str().unwrap(),
        "--chart-cache",
        cache.path().to_str().unwrap(),
        "--helm-binary",
        &helm,
        "-o",
        "json",
    ];

    let (code, online, stderr) = capstan(&[&["build", "hr"][..], &common].concat());
    assert_eq!(code, 2, "one release fails: {stderr}");
    let ranged = release(&online, "ranged");
    assert_eq!(ranged["status"], "rendered", "{ranged:#}");
    assert_eq!(config_map(ranged)["metadata"]["name"], "ranged-demo");
    assert_eq!(config_map(ranged)["data"]["version"], "1.3.0");
    assert_eq!(config_map(ranged)["data"]["greeting"], "from-ranged");
    let pinned = release(&online, "pinned");
    assert_eq!(pinned["status"], "rendered", "{pinned:#}");
    assert_eq!(config_map(pinned)["data"]["version"], "1.2.3");
    assert_eq!(
        config_map(pinned)["data"]["greeting"],
        "hello from 1.2.3",
        "the chart's own values.yaml"
    );
    let missing = release(&online, "missing");
    assert_eq!(missing["status"], "failed", "{missing:#}");
    let error = missing["errors"][0].as_str().unwrap();
    assert!(
        error.contains("9.9.9") && error.contains("charts/demo"),
        "{error}"
    );

    // Offline: the same objects from the cache; the missing tag is reported, never fetched.
    let (code, offline, stderr) = capstan(&[&["build", "hr", "--offline"][..], &common].concat());
    assert_eq!(code, 0, "{stderr}");
    for name in ["ranged", "pinned"] {
        assert_eq!(
            config_map(release(&offline, name)),
            config_map(release(&online, name)),
            "{name}"
        );
    }
    let missing = release(&offline, "missing");
    assert_eq!(missing["status"], "skipped", "{missing:#}");
    let error = missing["errors"][0].as_str().unwrap();
    assert!(
        error.contains("9.9.9") && error.contains("OCIRepository/flux-system/gone"),
        "{error}"
    );

    // The tag moves (1.2.3 re-pointed at 1.3.0's manifest): online, the next build reads the
    // tag's manifest again and replaces the cached archive; a cache keyed by tag alone would
    // keep rendering the old chart.
    let media = "application/vnd.oci.image.manifest.v1+json";
    let (status, _, manifest) = registry
        .request(
            "GET",
            "/v2/charts/demo/manifests/1.3.0",
            &[("Accept", media)],
            b"",
        )
        .unwrap();
    assert_eq!(status, 200);
    let (status, _, body) = registry
        .request(
            "PUT",
            "/v2/charts/demo/manifests/1.2.3",
            &[("Content-Type", media)],
            &manifest,
        )
        .unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let (_, moved, stderr) = capstan(&[&["build", "hr"][..], &common].concat());
    let pinned = release(&moved, "pinned");
    assert_eq!(pinned["status"], "rendered", "{stderr}");
    assert_eq!(config_map(pinned)["data"]["version"], "1.3.0");
    let (_, offline, _) = capstan(&[&["build", "hr", "--offline"][..], &common].concat());
    assert_eq!(
        config_map(release(&offline, "pinned"))["data"]["version"],
        "1.3.0",
        "the cache now holds what the tag points at"
    );

    // Offline with the registry gone still renders from the cache.
    drop(registry);
    let (code, again, stderr) = capstan(&[&["build", "hr", "--offline"][..], &common].concat());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        config_map(release(&again, "ranged")),
        config_map(release(&online, "ranged"))
    );
}
