//! Kustomizations on a Bucket (source.toolkit.fluxcd.io v1 and v1beta2): the content lives in
//! object storage, so the build reports them clearly instead of rendering or dropping them, and
//! the rest of the build goes on.

use std::path::Path;

use capstan_core::MemFs;
use capstan_flux::build::{BuildOptions, Status, build_all};

const SYNC: &str = "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {url: 'https://example.com/repo', ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {path: ./clusters/prod, sourceRef: {kind: GitRepository, name: flux-system}}
";

fn bucket(api: &str, name: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/{api}\nkind: Bucket\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  bucketName: manifests\n  endpoint: minio.example.com\n  interval: 5m\n  ignore: '*.md'\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: from-{name}, namespace: flux-system}}\nspec: {{path: ./apps, sourceRef: {{kind: Bucket, name: {name}}}}}\n"
    )
}

#[test]
fn kustomizations_on_buckets_are_reported_not_rendered() {
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", SYNC.to_owned()),
        ("clusters/prod/v1.yaml", bucket("v1", "store")),
        ("clusters/prod/v1beta2.yaml", bucket("v1beta2", "legacy")),
        // The same path exists in this repository: it must not be rendered in the Bucket's stead.
        (
            "apps/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local}\n".to_owned(),
        ),
    ]);
    let report = build_all(&fs, Path::new("."), &BuildOptions::default()).expect("build runs");
    for name in ["from-store", "from-legacy"] {
        let result = report
            .kustomizations
            .iter()
            .find(|k| k.key.name == name)
            .unwrap_or_else(|| panic!("{name} is reported: {report:#?}"));
        assert_eq!(result.status, Status::Skipped, "{name}");
        assert!(result.objects.is_empty(), "{name}");
        let message = result.errors.join("\n");
        assert!(
            message.contains("Bucket/flux-system/")
                && message.contains("Bucket contents are in remote object storage")
                && message.contains("not rendered"),
            "{name}: {message}"
        );
    }
    let root = report
        .kustomizations
        .iter()
        .find(|k| k.key.name == "flux-system")
        .expect("root");
    assert_eq!(root.status, Status::Rendered, "{:?}", root.errors);
    assert!(!report.has_failures(), "a skipped Bucket is not a failure");
}
