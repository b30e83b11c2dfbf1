//! The text of every file `app add` writes, as YAML in the repository's own style: keys in the
//! order people write them (apiVersion, kind, metadata, spec), block sequences indented or flush
//! as the apps file has them, scalars quoted only when they would otherwise read as something
//! other than a string.

use capstan_core::Value;
use capstan_core::yaml::resolves_to_non_string;

use super::conventions::Conventions;

/// A YAML node with its keys in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Scalar(String),
}

/// A string scalar, quoted when needed.
pub fn s(text: &str) -> Node {
    Node::Scalar(quote(text))
}

/// A number or boolean written as is.
pub fn raw(text: impl ToString) -> Node {
    Node::Scalar(text.to_string())
}

pub fn map<const N: usize>(entries: [(&str, Node); N]) -> Node {
    Node::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

pub fn seq(items: impl IntoIterator<Item = Node>) -> Node {
    Node::Seq(items.into_iter().collect())
}

/// Quotes a string scalar when a plain scalar would not read back as the same string.
pub fn quote(text: &str) -> String {
    const INDICATORS: &[char] = &[
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`',
    ];
    let needs_quotes = resolves_to_non_string(text)
        || text.starts_with(INDICATORS)
        || text.starts_with(' ')
        || text.ends_with(' ')
        || text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.chars().any(|c| c.is_control());
    if needs_quotes {
        serde_json::to_string(text).expect("a string always serialises")
    } else {
        text.to_owned()
    }
}

/// Converts a JSON value (as read from the repository) into a node, keeping key order.
pub fn from_value(value: &Value) -> Node {
    match value {
        Value::Object(map) => Node::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), from_value(v)))
                .collect(),
        ),
        Value::Array(items) => Node::Seq(items.iter().map(from_value).collect()),
        Value::String(text) => s(text),
        Value::Null => raw("null"),
        other => raw(other),
    }
}

/// Writes YAML text for nodes.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// `key:\n  - item` when true, `key:\n- item` when false.
    pub indent_sequences: bool,
}

impl Style {
    pub fn document(&self, node: &Node) -> String {
        let mut out = String::new();
        match node {
            Node::Map(entries) => self.write_map(&mut out, entries, 0),
            Node::Seq(items) => self.write_seq(&mut out, items, 0),
            Node::Scalar(text) => {
                out.push_str(text);
                out.push('\n');
            }
        }
        out
    }

    fn write_map(&self, out: &mut String, entries: &[(String, Node)], indent: usize) {
        for (key, value) in entries {
            out.push_str(&" ".repeat(indent));
            out.push_str(&quote(key));
            out.push(':');
            match value {
                Node::Scalar(text) => {
                    out.push(' ');
                    out.push_str(text);
                    out.push('\n');
                }
                Node::Map(inner) if inner.is_empty() => out.push_str(" {}\n"),
                Node::Seq(inner) if inner.is_empty() => out.push_str(" []\n"),
                Node::Map(inner) => {
                    out.push('\n');
                    self.write_map(out, inner, indent + 2);
                }
                Node::Seq(items) => {
                    out.push('\n');
                    let at = if self.indent_sequences {
                        indent + 2
                    } else {
                        indent
                    };
                    self.write_seq(out, items, at);
                }
            }
        }
    }

    fn write_seq(&self, out: &mut String, items: &[Node], indent: usize) {
        for item in items {
            match item {
                Node::Scalar(text) => {
                    out.push_str(&" ".repeat(indent));
                    out.push_str("- ");
                    out.push_str(text);
                    out.push('\n');
                }
                Node::Map(entries) if !entries.is_empty() => {
                    let mut inner = String::new();
                    self.write_map(&mut inner, entries, indent + 2);
                    out.push_str(&" ".repeat(indent));
                    out.push_str("- ");
                    out.push_str(&inner[indent + 2..]);
                }
                Node::Seq(inner) if !inner.is_empty() => {
                    let mut nested = String::new();
                    self.write_seq(&mut nested, inner, indent + 2);
                    out.push_str(&" ".repeat(indent));
                    out.push_str("- ");
                    out.push_str(&nested[indent + 2..]);
                }
                Node::Map(_) => {
                    out.push_str(&" ".repeat(indent));
                    out.push_str("- {}\n");
                }
                Node::Seq(_) => {
                    out.push_str(&" ".repeat(indent));
                    out.push_str("- []\n");
                }
            }
        }
    }
}

/// Everything about the app that the templates need, resolved and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    pub name: String,
    pub namespace: String,
    pub image: String,
    pub port: u16,
    pub replicas: u32,
    /// The full ingress host, when the app gets an Ingress.
    pub host: Option<String>,
    pub storage: Option<String>,
    /// False when the namespace already exists elsewhere in the repository.
    pub create_namespace: bool,
    /// The Flux Kustomization's name and dependsOn.
    pub kustomization_name: String,
    pub depends_on: Vec<String>,
}

/// The app's files, as (file name inside the app folder, contents), in kustomization order.
pub fn app_files(app: &AppSpec, conventions: &Conventions) -> Vec<(String, String)> {
    let style = Style {
        indent_sequences: conventions.indent_sequences,
    };
    let mut files = Vec::new();
    if app.create_namespace {
        files.push((
            "namespace.yaml".to_owned(),
            style.document(&namespace(app, conventions)),
        ));
    }
    if let Some(size) = &app.storage {
        files.push((
            "pvc.yaml".to_owned(),
            style.document(&pvc(app, size, conventions)),
        ));
    }
    files.push((
        "deployment.yaml".to_owned(),
        style.document(&deployment(app)),
    ));
    files.push(("service.yaml".to_owned(), style.document(&service(app))));
    if let Some(host) = &app.host {
        files.push((
            "ingress.yaml".to_owned(),
            style.document(&ingress(app, host, conventions)),
        ));
    }
    let resources = seq(files.iter().map(|(name, _)| s(name)));
    let kustomization = map([
        ("apiVersion", s("kustomize.config.k8s.io/v1beta1")),
        ("kind", s("Kustomization")),
        ("resources", resources),
    ]);
    files.push((
        "kustomization.yaml".to_owned(),
        style.document(&kustomization),
    ));
    files
}

fn namespace(app: &AppSpec, conventions: &Conventions) -> Node {
    let mut metadata = vec![("name".to_owned(), s(&app.namespace))];
    if conventions.namespace_name_label {
        metadata.push(("labels".to_owned(), map([("name", s(&app.namespace))])));
    }
    if conventions.namespace_prune_disabled {
        metadata.push((
            "annotations".to_owned(),
            map([("kustomize.toolkit.fluxcd.io/prune", s("disabled"))]),
        ));
    }
    map([
        ("apiVersion", s("v1")),
        ("kind", s("Namespace")),
        ("metadata", Node::Map(metadata)),
    ])
}

fn metadata(app: &AppSpec, name: &str) -> Node {
    map([("name", s(name)), ("namespace", s(&app.namespace))])
}

fn pvc(app: &AppSpec, size: &str, conventions: &Conventions) -> Node {
    let mut spec = vec![("accessModes".to_owned(), seq([s("ReadWriteOnce")]))];
    if let Some(class) = &conventions.storage_class {
        spec.push(("storageClassName".to_owned(), s(class)));
    }
    spec.push((
        "resources".to_owned(),
        map([("requests", map([("storage", s(size))]))]),
    ));
    map([
        ("apiVersion", s("v1")),
        ("kind", s("PersistentVolumeClaim")),
        (
            "metadata",
            map([
                ("name", s(&format!("{}-data", app.name))),
                ("namespace", s(&app.namespace)),
                // Flux never prunes the claim (its data outlives a refactor of the repository),
                // and Kubernetes never deletes it while a pod uses it.
                (
                    "annotations",
                    map([("kustomize.toolkit.fluxcd.io/prune", s("disabled"))]),
                ),
                ("finalizers", seq([s("kubernetes.io/pvc-protection")])),
            ]),
        ),
        ("spec", Node::Map(spec)),
    ])
}

fn deployment(app: &AppSpec) -> Node {
    let labels = || map([("app", s(&app.name))]);
    let mut container = vec![
        ("name".to_owned(), s(&app.name)),
        ("image".to_owned(), s(&app.image)),
        (
            "ports".to_owned(),
            seq([map([("name", s("http")), ("containerPort", raw(app.port))])]),
        ),
        (
            "resources".to_owned(),
            map([
                ("requests", map([("cpu", s("10m")), ("memory", s("64Mi"))])),
                ("limits", map([("memory", s("256Mi"))])),
            ]),
        ),
    ];
    let mut pod_spec = Vec::new();
    if app.storage.is_some() {
        container.push((
            "volumeMounts".to_owned(),
            seq([map([("name", s("data")), ("mountPath", s("/data"))])]),
        ));
    }
    pod_spec.push(("containers".to_owned(), seq([Node::Map(container)])));
    if app.storage.is_some() {
        pod_spec.push((
            "volumes".to_owned(),
            seq([map([
                ("name", s("data")),
                (
                    "persistentVolumeClaim",
                    map([("claimName", s(&format!("{}-data", app.name)))]),
                ),
            ])]),
        ));
    }
    let mut spec = vec![("replicas".to_owned(), raw(app.replicas))];
    if app.storage.is_some() {
        // A ReadWriteOnce volume cannot be attached to the old and the new pod at once.
        spec.push(("strategy".to_owned(), map([("type", s("Recreate"))])));
    }
    spec.push(("selector".to_owned(), map([("matchLabels", labels())])));
    spec.push((
        "template".to_owned(),
        map([
            ("metadata", map([("labels", labels())])),
            ("spec", Node::Map(pod_spec)),
        ]),
    ));
    map([
        ("apiVersion", s("apps/v1")),
        ("kind", s("Deployment")),
        ("metadata", metadata(app, &app.name)),
        ("spec", Node::Map(spec)),
    ])
}

fn service(app: &AppSpec) -> Node {
    map([
        ("apiVersion", s("v1")),
        ("kind", s("Service")),
        ("metadata", metadata(app, &app.name)),
        (
            "spec",
            map([
                ("selector", map([("app", s(&app.name))])),
                (
                    "ports",
                    seq([map([
                        ("name", s("http")),
                        ("port", raw(80)),
                        ("targetPort", s("http")),
                    ])]),
                ),
                ("type", s("ClusterIP")),
            ]),
        ),
    ])
}

fn ingress(app: &AppSpec, host: &str, conventions: &Conventions) -> Node {
    let mut metadata = vec![
        ("name".to_owned(), s(&app.name)),
        ("namespace".to_owned(), s(&app.namespace)),
    ];
    if let Some(issuer) = &conventions.cluster_issuer {
        metadata.push((
            "annotations".to_owned(),
            map([("cert-manager.io/cluster-issuer", s(issuer))]),
        ));
    }
    let mut spec = Vec::new();
    if let Some(class) = &conventions.ingress_class {
        spec.push(("ingressClassName".to_owned(), s(class)));
    }
    spec.push((
        "tls".to_owned(),
        seq([map([
            ("hosts", seq([s(host)])),
            ("secretName", s(&format!("{}-tls", app.name))),
        ])]),
    ));
    spec.push((
        "rules".to_owned(),
        seq([map([
            ("host", s(host)),
            (
                "http",
                map([(
                    "paths",
                    seq([map([
                        ("path", s("/")),
                        ("pathType", s("Prefix")),
                        (
                            "backend",
                            map([(
                                "service",
                                map([("name", s(&app.name)), ("port", map([("name", s("http"))]))]),
                            )]),
                        ),
                    ])]),
                )]),
            ),
        ])]),
    ));
    map([
        ("apiVersion", s("networking.k8s.io/v1")),
        ("kind", s("Ingress")),
        ("metadata", Node::Map(metadata)),
        ("spec", Node::Map(spec)),
    ])
}

/// The Flux Kustomization document appended to the apps file (without a leading `---`).
pub fn flux_kustomization(app: &AppSpec, path: &str, conventions: &Conventions) -> String {
    let mut metadata = vec![("name".to_owned(), s(&app.kustomization_name))];
    if let Some(ns) = &conventions.ks_namespace {
        metadata.push(("namespace".to_owned(), s(ns)));
    }
    let shared = |field: &str| {
        conventions
            .shared_spec
            .iter()
            .find(|(f, _)| f == field)
            .map(|(f, v)| (f.clone(), from_value(v)))
    };
    let mut spec = vec![("interval".to_owned(), s(&conventions.interval))];
    spec.extend(shared("retryInterval"));
    spec.extend(shared("timeout"));
    spec.push(("path".to_owned(), s(path)));
    spec.push(("prune".to_owned(), raw(true)));
    spec.extend(shared("wait"));
    spec.push(("sourceRef".to_owned(), from_value(&conventions.source_ref)));
    if !app.depends_on.is_empty() {
        spec.push((
            "dependsOn".to_owned(),
            seq(app.depends_on.iter().map(|d| map([("name", s(d))]))),
        ));
    }
    let doc = Node::Map(vec![
        ("apiVersion".to_owned(), s(&conventions.api_version)),
        ("kind".to_owned(), s("Kustomization")),
        ("metadata".to_owned(), Node::Map(metadata)),
        ("spec".to_owned(), Node::Map(spec)),
    ]);
    Style {
        indent_sequences: conventions.indent_sequences,
    }
    .document(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::yaml::parse_document;

    #[test]
    fn quoting() {
        assert_eq!(quote("nginx"), "nginx");
        assert_eq!(quote("true"), "\"true\"");
        assert_eq!(quote("80"), "\"80\"");
        assert_eq!(quote("a: b"), "\"a: b\"");
        assert_eq!(quote("*.x"), "\"*.x\"");
        assert_eq!(
            quote("ghcr.io/a/b:1.0@sha256:00"),
            "ghcr.io/a/b:1.0@sha256:00"
        );
    }

    #[test]
    fn styles_round_trip() {
        let node = map([
            (
                "a",
                seq([map([("b", s("c")), ("d", seq([s("e")]))]), s("f")]),
            ),
            ("g", map([("h", raw(1))])),
            ("empty", seq([])),
        ]);
        let indented = Style {
            indent_sequences: true,
        }
        .document(&node);
        assert_eq!(
            indented,
            "a:\n  - b: c\n    d:\n      - e\n  - f\ng:\n  h: 1\nempty: []\n"
        );
        let flush = Style {
            indent_sequences: false,
        }
        .document(&node);
        assert_eq!(
            flush,
            "a:\n- b: c\n  d:\n  - e\n- f\ng:\n  h: 1\nempty: []\n"
        );
        assert_eq!(
            parse_document(&indented).unwrap(),
            parse_document(&flush).unwrap()
        );
    }
}
