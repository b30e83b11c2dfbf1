use super::*;
use capstan_core::yaml::parse_document;

fn read(text: &str) -> Result<Option<FluxObject>, ModelError> {
    FluxObject::from_value(&parse_document(text).expect("test YAML parses"))
}

#[test]
fn reads_kustomization_v1() {
    let object = read(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  dependsOn: [{name: infra}, {name: crds, namespace: other}]
  postBuild:
    substitute: {DOMAIN: example.com}
    substituteFrom: [{kind: ConfigMap, name: vars, optional: true}]
  unknownField: ignored
",
    )
    .unwrap()
    .unwrap();
    let FluxObject::Kustomization(ks) = &object else {
        panic!("not a Kustomization: {object:?}")
    };
    assert_eq!(ks.spec.path_or_root(), "./apps");
    assert!(ks.spec.prune);
    assert_eq!(ks.spec.depends_on[1].to_string(), "other/crds");
    assert_eq!(
        ks.spec.interval.as_ref().and_then(Duration::parse),
        Some(std::time::Duration::from_secs(600))
    );
    assert_eq!(
        ks.spec.post_build.as_ref().unwrap().substitute["DOMAIN"],
        "example.com"
    );
    assert_eq!(
        object.key(),
        ObjectKey::new(FluxKind::Kustomization, "flux-system", "apps")
    );
    assert_eq!(
        ks.spec.source_ref.key("flux-system"),
        Some(ObjectKey::new(
            FluxKind::GitRepository,
            "flux-system",
            "flux-system"
        ))
    );
}

#[test]
fn reads_helmrelease_versions() {
    for version in ["v2", "v2beta2", "v2beta1"] {
        let object = read(&format!(
            "apiVersion: helm.toolkit.fluxcd.io/{version}
kind: HelmRelease
metadata: {{name: podinfo, namespace: apps}}
spec:
  chart:
    spec:
      chart: podinfo
      version: 6.x
      sourceRef: {{kind: HelmRepository, name: podinfo, namespace: flux-system}}
  values: {{replicas: 2}}
  valuesFrom: [{{kind: Secret, name: extra}}]
"
        ))
        .unwrap()
        .unwrap();
        let FluxObject::HelmRelease(hr) = object else {
            panic!("not a HelmRelease")
        };
        assert_eq!(
            hr.spec.chart_source().unwrap().to_string(),
            "HelmRepository/flux-system/podinfo"
        );
        assert_eq!(hr.spec.values_from[0].key(), "values.yaml");
    }
}

#[test]
fn reads_chart_ref() {
    let object = read(
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: cilium}
spec:
  chartRef: {kind: OCIRepository, name: cilium}
",
    )
    .unwrap()
    .unwrap();
    let FluxObject::HelmRelease(hr) = object else {
        panic!("not a HelmRelease")
    };
    assert_eq!(
        hr.spec
            .chart_source()
            .unwrap()
            .key("kube-system")
            .unwrap()
            .to_string(),
        "OCIRepository/kube-system/cilium"
    );
}

#[test]
fn reads_sources() {
    let git = read(
        "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {url: 'https://example.com/repo', ref: {branch: main}, interval: 1m}
",
    )
    .unwrap()
    .unwrap();
    assert_eq!(git.kind(), FluxKind::GitRepository);
    let oci = read(
        "apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: x}
spec: {url: 'oci://ghcr.io/x', ref: {tag: '1.0'}}
",
    )
    .unwrap()
    .unwrap();
    let FluxObject::OciRepository(oci) = oci else {
        panic!("not an OCIRepository")
    };
    assert_eq!(oci.spec.reference.unwrap().describe(), "1.0");
    let helm = read("apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: h}\nspec: {type: oci, url: 'oci://r'}\n")
        .unwrap()
        .unwrap();
    let FluxObject::HelmRepository(helm) = helm else {
        panic!("not a HelmRepository")
    };
    assert!(helm.spec.is_oci());
}

#[test]
fn other_kinds_are_not_flux_objects() {
    assert!(
        read("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
            .unwrap()
            .is_none()
    );
    assert!(
        read("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
            .unwrap()
            .is_none()
    );
    assert!(
        read("apiVersion: helm.toolkit.fluxcd.io/v9\nkind: HelmRelease\n")
            .unwrap()
            .is_none()
    );
}

#[test]
fn wrong_field_type_is_an_error() {
    let error = read(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: bad}
spec: {sourceRef: {kind: GitRepository, name: x}, prune: [1]}
",
    )
    .unwrap_err();
    assert_eq!(error.name, "bad");
    assert!(error.to_string().contains("Kustomization bad"), "{error}");
    let missing = read(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: m}\nspec: {}\n",
    );
    assert!(missing.is_err());
}

#[test]
fn parses_go_durations() {
    let secs = |s: &str| parse_go_duration(s).map(|d| d.as_secs_f64());
    assert_eq!(secs("1h30m"), Some(5400.0));
    assert_eq!(secs("5m0s"), Some(300.0));
    assert_eq!(secs("500ms"), Some(0.5));
    assert_eq!(secs("0"), Some(0.0));
    assert_eq!(secs("1.5h"), Some(5400.0));
    assert_eq!(secs("10"), None);
    assert_eq!(secs(""), None);
    assert_eq!(secs("1d"), None);
}

#[test]
fn post_build_substitute_null_is_accepted_as_flux_accepts_it() {
    let text = "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild:
    substitute: null
    substituteFrom: null
";
    let Some(FluxObject::Kustomization(ks)) = read(text).expect("reads") else {
        panic!("a Kustomization");
    };
    let post = ks.spec.post_build.expect("postBuild");
    assert!(post.substitute.is_empty() && post.substitute_from.is_empty());
}
