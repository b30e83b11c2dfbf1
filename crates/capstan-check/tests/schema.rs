//! Schema validation against the embedded Kubernetes and Flux schemas and a repository's CRDs.

use capstan_check::schema::{Outcome, Problem, SchemaSet};
use capstan_core::yaml::parse_document;

fn errors(set: &SchemaSet, yaml: &str) -> Vec<(Problem, String)> {
    let object = parse_document(yaml).expect("test YAML parses");
    match set.validate(&object) {
        Outcome::Checked(errors) => errors.into_iter().map(|e| (e.problem, e.field)).collect(),
        other => panic!("expected a checked outcome, got {other:?}"),
    }
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
";

#[test]
fn valid_builtin_kind_passes() {
    let set = SchemaSet::new("1.33").unwrap();
    assert_eq!(errors(&set, DEPLOYMENT), vec![]);
}

#[test]
fn builtin_kind_errors_carry_field_paths() {
    let set = SchemaSet::new("1.33").unwrap();
    let unknown = DEPLOYMENT.replace(
        "        image: nginx:1.27\n",
        "        image: nginx:1.27\n        imagePolicy: Always\n",
    );
    assert_eq!(
        errors(&set, &unknown),
        vec![(
            Problem::UnknownField,
            "spec.template.spec.containers[0].imagePolicy".into()
        )]
    );
    let wrong = DEPLOYMENT.replace("containerPort: 80", "containerPort: [80]");
    assert_eq!(
        errors(&set, &wrong),
        vec![(
            Problem::WrongType,
            "spec.template.spec.containers[0].ports[0].containerPort".into()
        )]
    );
    let missing = DEPLOYMENT.replace("      - name: web\n        image", "      - image");
    assert_eq!(
        errors(&set, &missing),
        vec![(
            Problem::MissingField,
            "spec.template.spec.containers[0].name".into()
        )]
    );
    let bad_name = DEPLOYMENT.replace("name: web\n  namespace", "name: Web_1\n  namespace");
    assert_eq!(
        errors(&set, &bad_name),
        vec![(Problem::InvalidValue, "metadata.name".into())]
    );
}

#[test]
fn kind_names_follow_their_rule() {
    let set = SchemaSet::new("1.33").unwrap();
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b\n";
    assert_eq!(
        errors(&set, ns),
        vec![(Problem::InvalidValue, "metadata.name".into())]
    );
    let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: system:x\nrules: []\n";
    assert_eq!(errors(&set, role), vec![]);
}

#[test]
fn flux_kind_is_validated() {
    let set = SchemaSet::new("1.33").unwrap();
    let ks = "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
";
    assert_eq!(errors(&set, ks), vec![]);
    let broken = ks
        .replace("  prune: true\n", "  prune: yes please\n  prnue: true\n")
        .replace("    name: flux-system\n", "");
    let found = errors(&set, &broken);
    assert!(
        found.contains(&(Problem::WrongType, "spec.prune".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&(Problem::UnknownField, "spec.prnue".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&(Problem::MissingField, "spec.sourceRef.name".into())),
        "{found:?}"
    );
    let bad_interval = ks.replace("interval: 10m", "interval: ten minutes");
    assert_eq!(
        errors(&set, &bad_interval),
        vec![(Problem::InvalidValue, "spec.interval".into())]
    );
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer}
              color: {type: string, enum: [red, blue]}
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
";

#[test]
fn crd_defined_kind_is_validated() {
    let mut set = SchemaSet::new("1.33").unwrap();
    assert_eq!(
        errors(&set, CRD),
        vec![],
        "the CRD itself is a valid built-in object"
    );
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3\n  extra: {anything: [1]}\n";
    assert_eq!(
        set.validate(&parse_document(widget).unwrap()),
        Outcome::NoSchema
    );
    assert_eq!(set.add_crd(&parse_document(CRD).unwrap()), 1);
    assert_eq!(errors(&set, widget), vec![]);
    let broken = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  labelz: {}\nspec:\n  size: big\n  colour: red\n";
    assert_eq!(
        errors(&set, broken),
        vec![
            (Problem::UnknownField, "metadata.labelz".into()),
            (Problem::WrongType, "spec.size".into()),
            (Problem::UnknownField, "spec.colour".into()),
        ]
    );
    let missing =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  color: green\n";
    assert_eq!(
        errors(&set, missing),
        vec![
            (Problem::MissingField, "spec.size".into()),
            (Problem::InvalidValue, "spec.color".into())
        ]
    );
}

#[test]
fn removed_builtin_versions_are_not_served() {
    let set = SchemaSet::new("1.33").unwrap();
    let psp =
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: x\nspec: {}\n";
    assert_eq!(
        set.validate(&parse_document(psp).unwrap()),
        Outcome::NotServed
    );
    assert!(SchemaSet::new("1.20").is_err());
    assert!(SchemaSet::new("v1.34.1").is_ok());
}

const OPERATOR_ALERT: &str = "apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: fleet
  namespace: flux-system
spec:
  providerRef:
    name: slack
  eventSources:
  - kind: FluxInstance
    name: flux
  - kind: ResourceSet
    name: '*'
  - kind: ResourceSetInputProvider
    name: '*'
";

#[test]
fn flux_operator_kinds_are_event_sources_only_where_the_operator_runs() {
    let mut set = SchemaSet::new("1.33").unwrap();
    let bootstrap: Vec<String> = errors(&set, OPERATOR_ALERT)
        .into_iter()
        .map(|(_, field)| field)
        .collect();
    assert_eq!(
        bootstrap,
        [
            "spec.eventSources[0].kind",
            "spec.eventSources[1].kind",
            "spec.eventSources[2].kind"
        ]
    );
    set.widen_for_flux_operator().unwrap();
    assert_eq!(errors(&set, OPERATOR_ALERT), vec![]);
    let receiver = "apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: fleet
  namespace: flux-system
spec:
  type: github
  secretRef:
    name: token
  resources:
  - kind: ResourceSet
    name: apps
";
    assert_eq!(errors(&set, receiver), vec![]);
    let still_wrong = OPERATOR_ALERT.replace("kind: FluxInstance", "kind: Deployment");
    assert_eq!(errors(&set, &still_wrong).len(), 1);
}
