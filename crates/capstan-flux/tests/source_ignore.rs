//! `.sourceignore`, `spec.ignore` and the default exclusions, end to end through discovery and
//! build: a file source-controller leaves out of the artifact does not exist for the build.

use std::path::Path;

use capstan_core::MemFs;
use capstan_flux::build::{BuildOptions, BuildReport, BuildResult, Status, build_all};

fn sync(ignore: &str) -> String {
    format!(
        "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec:
  url: https://example.com/repo
  ref: {{branch: main}}
{ignore}---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flux-system, namespace: flux-system}}
spec:
  path: ./clusters/prod
  sourceRef: {{kind: GitRepository, name: flux-system}}
"
    )
}

const APPS: &str = "\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  path: ./apps
  sourceRef: {kind: GitRepository, name: flux-system}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: listed, namespace: flux-system}
spec:
  path: ./listed
  sourceRef: {kind: GitRepository, name: flux-system}
";

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\n")
}

fn repo(ignore: &str, extra: &[(&str, String)]) -> MemFs {
    let fs = MemFs::from_files([
        ("clusters/prod/flux-system/gotk-sync.yaml", sync(ignore)),
        ("clusters/prod/apps.yaml", APPS.to_owned()),
        // No kustomization.yaml: the controller generates one over the artifact's YAML.
        ("apps/web.yaml", cm("web")),
        ("apps/draft.yaml", cm("draft")),
        ("apps/wip/also.yaml", cm("wip")),
        ("apps/.sops.yaml", "creation_rules: []\n".to_owned()),
        // A kustomization.yaml listing a file.
        (
            "listed/kustomization.yaml",
            "resources: [kept.yaml, draft.yaml]\n".to_owned(),
        ),
        ("listed/kept.yaml", cm("kept")),
        ("listed/draft.yaml", cm("listed-draft")),
    ]);
    for (path, text) in extra {
        fs.add_file(path, text);
    }
    fs
}

fn build(fs: &MemFs) -> BuildReport {
    build_all(fs, Path::new("."), &BuildOptions::default()).expect("build runs")
}

fn find<'a>(report: &'a BuildReport, name: &str) -> &'a BuildResult {
    report
        .kustomizations
        .iter()
        .find(|k| k.key.name == name)
        .unwrap_or_else(|| panic!("no {name}: {report:#?}"))
}

fn names(result: &BuildResult) -> Vec<String> {
    let mut names: Vec<String> = result
        .objects
        .iter()
        .filter_map(|o| {
            o.object
                .pointer("/metadata/name")?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

#[test]
fn without_rules_only_the_defaults_apply() {
    let report = build(&repo("", &[]));
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Rendered, "{:?}", apps.errors);
    assert_eq!(names(apps), ["draft", "web", "wip"]);
    assert_eq!(names(find(&report, "listed")), ["kept", "listed-draft"]);
}

#[test]
fn sourceignore_hides_files_from_generated_and_listed_resources() {
    let fs = repo(
        "",
        &[
            (".sourceignore", "draft.yaml\n**/.sops.yaml\n".to_owned()),
            ("apps/.sourceignore", "wip/\n".to_owned()),
        ],
    );
    let report = build(&fs);
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Rendered, "{:?}", apps.errors);
    assert_eq!(names(apps), ["web"]);
    // A resources entry naming an ignored file fails, as kustomize-controller's build does.
    let listed = find(&report, "listed");
    assert_eq!(listed.status, Status::Failed);
    let error = listed.errors.join("\n");
    assert!(error.contains("draft.yaml"), "{error}");
}

#[test]
fn spec_ignore_of_the_source_applies_and_can_reinclude() {
    let ignore =
        "  ignore: |\n    /*\n    !/clusters\n    !/apps\n    apps/web.yaml\n    .sops.yaml\n";
    let report = build(&repo(ignore, &[]));
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Rendered, "{:?}", apps.errors);
    assert_eq!(names(apps), ["draft", "wip"]);
    // `listed/` is outside what the rules re-include: the path does not exist in the artifact.
    let listed = find(&report, "listed");
    assert_eq!(listed.status, Status::Failed, "{listed:?}");
}

#[test]
fn default_exclusions_drop_sops_config_but_own_rules_keep_it() {
    // `.sops.yaml` is not a Kubernetes object: with the default exclusions it is not in the
    // artifact; a comment-only .sourceignore holds no rule, so the defaults stay.
    let fs = repo("", &[(".sourceignore", "# only a comment\n".to_owned())]);
    assert_eq!(names(find(&build(&fs), "apps")), ["draft", "web", "wip"]);
    // Rules of the repository's own replace the defaults: `.sops.yaml` is in the artifact, the
    // generated kustomization lists it, and the build fails as the controller's does.
    let fs = repo("", &[(".sourceignore", "*.md\n".to_owned())]);
    let report = build(&fs);
    let apps = find(&report, "apps");
    assert_eq!(apps.status, Status::Failed);
    assert!(
        apps.errors.join("\n").contains(".sops.yaml"),
        "{:?}",
        apps.errors
    );
}
