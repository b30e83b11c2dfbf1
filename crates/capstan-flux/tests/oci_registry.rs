//! Charts pulled from a real OCI registry (docker-registry on 127.0.0.1, charts pushed with the
//! oracle helm): HelmRepository `type: oci` by exact version and range, OCIRepository by tag,
//! semver (+ filter), digest and `latest`, and every failure a registry can produce — missing
//! tag or repository, no matching version, no chart layer, a corrupted blob, a corrupt archive,
//! an unreachable registry.

#[path = "support/registry.rs"]
mod registry;

use std::time::Duration;

use capstan_flux::charts::oci::{
    Client, ClientOptions, LayerChoice, OciError, OciReference, pull_helm_repository_chart,
    pull_oci_repository_chart,
};
use registry::Registry;

fn client() -> Client {
    Client::new(ClientOptions {
        plain_http: true,
        timeout: Duration::from_secs(20),
        credentials: None,
    })
}

fn semver(range: &str, filter: Option<&str>) -> OciReference {
    OciReference::Semver {
        range: range.into(),
        filter: filter.map(Into::into),
    }
}

#[test]
fn pulls_by_tag_semver_digest_and_helm_repository() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let d123 = registry.push_chart("charts", "demo", "1.2.3");
    registry.push_chart("charts", "demo", "1.3.0+build.1");
    registry.push_chart("charts", "demo", "2.0.0-rc.1");
    let d110 = registry.push_chart("charts", "demo", "1.1.0");
    let url = format!("oci://{}/charts/demo", registry.host);
    let base = format!("oci://{}/charts", registry.host);
    let client = client();
    let any = LayerChoice::Selector(None);

    // OCIRepository by tag: the manifest digest helm printed, the archive's own metadata.
    let pulled =
        pull_oci_repository_chart(&client, &url, &OciReference::Tag("1.2.3".into()), &any).unwrap();
    assert_eq!(
        (pulled.chart.name.as_str(), pulled.chart.version.as_str()),
        ("demo", "1.2.3")
    );
    assert_eq!(pulled.manifest_digest, d123);
    assert_eq!(pulled.tag.as_deref(), Some("1.2.3"));
    let archive_digest = format!("sha256:{}", sha256_hex(&pulled.chart.archive));
    assert_eq!(pulled.chart.digest, archive_digest);
    assert_eq!(pulled.layer_digest, archive_digest);

    // By digest: no tag involved.
    let pinned =
        pull_oci_repository_chart(&client, &url, &OciReference::Digest(d110.clone()), &any)
            .unwrap();
    assert_eq!(pinned.chart.version, "1.1.0");
    assert_eq!(pinned.tag, None);
    assert_eq!(pinned.manifest_digest, d110);

    // Semver against raw tags: `1.3.0_build.1` is not a version to source-controller.
    let by_range =
        pull_oci_repository_chart(&client, &url, &semver(">=1.0.0", None), &any).unwrap();
    assert_eq!(by_range.chart.version, "1.2.3");
    let filtered =
        pull_oci_repository_chart(&client, &url, &semver("*", Some(r"^1\.1\.")), &any).unwrap();
    assert_eq!(filtered.chart.version, "1.1.0");

    // A selector naming the chart layer explicitly.
    let selected = pull_oci_repository_chart(
        &client,
        &url,
        &OciReference::Tag("1.1.0".into()),
        &LayerChoice::Selector(Some(
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip".into(),
        )),
    )
    .unwrap();
    assert_eq!(selected.chart.version, "1.1.0");

    // HelmRepository type oci: exact version (with + stored as _), and a range over `_` tags.
    let exact = pull_helm_repository_chart(&client, &base, "demo", "1.3.0+build.1").unwrap();
    assert_eq!(exact.chart.version, "1.3.0+build.1");
    assert_eq!(exact.tag.as_deref(), Some("1.3.0_build.1"));
    let ranged = pull_helm_repository_chart(&client, &base, "demo", ">=1.2.0").unwrap();
    assert_eq!(ranged.chart.version, "1.3.0+build.1");

    // `latest` when no ref is given, and it does not exist here.
    let err =
        pull_oci_repository_chart(&client, &url, &OciReference::from_spec(None), &any).unwrap_err();
    assert!(matches!(err, OciError::ManifestNotFound { .. }), "{err}");
    assert!(err.to_string().contains("\"latest\""), "{err}");

    // Missing tag, missing chart, nothing in range (tags listed).
    let err = pull_helm_repository_chart(&client, &base, "demo", "9.9.9").unwrap_err();
    assert!(
        err.to_string().contains("no manifest for \"9.9.9\""),
        "{err}"
    );
    let err = pull_helm_repository_chart(&client, &base, "nope", ">=1").unwrap_err();
    assert!(matches!(err, OciError::RepositoryNotFound { .. }), "{err}");
    assert!(err.to_string().contains("charts/nope"), "{err}");
    let err = pull_oci_repository_chart(&client, &url, &semver(">=5.0.0", None), &any).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, OciError::NoMatchingTag { .. }), "{text}");
    assert!(text.contains("no tag matches \">=5.0.0\""), "{text}");
    assert!(text.contains("1.2.3") && text.contains("1.1.0"), "{text}");
}

#[test]
fn corrupted_blob_is_caught_by_the_digest_check() {
    let Some(registry) = Registry::start() else {
        return;
    };
    registry.push_chart("charts", "demo", "1.0.0");
    let url = format!("oci://{}/charts/demo", registry.host);
    let client = client();
    let good = pull_oci_repository_chart(
        &client,
        &url,
        &OciReference::Tag("1.0.0".into()),
        &LayerChoice::Selector(None),
    )
    .unwrap();
    // Same size, different bytes: only the digest can tell.
    let file = registry.blob_file(&good.layer_digest);
    let mut bytes = std::fs::read(&file).unwrap();
    for b in bytes.iter_mut().skip(10).take(64) {
        *b ^= 0xff;
    }
    std::fs::write(&file, &bytes).unwrap();
    let err = pull_oci_repository_chart(
        &client,
        &url,
        &OciReference::Tag("1.0.0".into()),
        &LayerChoice::Selector(None),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&good.layer_digest), "{err}");
}

#[test]
fn artifacts_without_a_chart() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let client = client();
    let flux = "application/vnd.cncf.flux.content.v1.tar+gzip";
    registry.push_artifact("charts/other", "1.0.0", &[(flux, b"not a chart")]);
    registry.push_artifact(
        "charts/broken",
        "1.0.0",
        &[(
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            b"\x1f\x8b garbage that is no gzip stream",
        )],
    );
    let base = format!("oci://{}/charts", registry.host);

    // HelmRepository: helm requires the chart layer.
    let err = pull_helm_repository_chart(&client, &base, "other", "1.0.0").unwrap_err();
    assert!(matches!(err, OciError::NoChartLayer { .. }), "{err}");
    assert!(err.to_string().contains(flux), "{err}");
    // OCIRepository with a selector the manifest does not have.
    let err = pull_oci_repository_chart(
        &client,
        &format!("{base}/other"),
        &OciReference::Tag("1.0.0".into()),
        &LayerChoice::Selector(Some("application/x-nothing".into())),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no application/x-nothing layer"),
        "{err}"
    );
    // Without a selector the first layer is taken, and found not to be a chart.
    let err = pull_oci_repository_chart(
        &client,
        &format!("{base}/other"),
        &OciReference::Tag("1.0.0".into()),
        &LayerChoice::Selector(None),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::CorruptArchive { .. }), "{err}");
    // A chart layer whose bytes match their digest but are no archive.
    let err = pull_helm_repository_chart(&client, &base, "broken", "1.0.0").unwrap_err();
    assert!(matches!(err, OciError::CorruptArchive { .. }), "{err}");
    assert!(err.to_string().contains("corrupt chart archive"), "{err}");
}

#[test]
fn unreachable_registry() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let url = format!("oci://{}/charts/demo", registry.host);
    drop(registry);
    let err = pull_oci_repository_chart(
        &client(),
        &url,
        &OciReference::Tag("1.0.0".into()),
        &LayerChoice::Selector(None),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("registry unreachable at http://127.0.0.1:"),
        "{err}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(bytes))
}
