//! Reading the plan file. The file is one YAML document:
//!
//! ```yaml
//! apiVersion: bootstrap.capstan.dev/v1alpha1
//! kind: BootstrapPlan
//! metadata: {name: home-ops}
//! spec:
//!   steps:
//!     - name: cilium
//!       needs: [talos]
//!       helm: {helmRelease: kube-system/cilium}
//! ```
//!
//! Every step has a `name`, optional `needs` and `timeout`, and exactly one of `talos`,
//! `manifests`, `secret`, `helm`, `engine`, `wait`. Unknown fields are errors (a typo must not
//! silently drop a step's input). Errors name the file, the document and the field path.

use std::path::{Path, PathBuf};

use capstan_core::{Map, Value};

use super::{
    API_VERSION, CelGate, ChartRef, ChartSpec, EngineStep, HelmStep, JournalSettings, KIND,
    ManifestsStep, ObjectRef, Plan, SecretEntry, SecretSource, SecretStep, Step, StepKind,
    TalosNode, TalosStep, WaitStep,
};

/// The plan's file name at the repository root.
pub const PLAN_FILE: &str = "bootstrap.yaml";

/// The default health-gate timeout of a step: 10 minutes.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 600;

/// A plan file that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: document {document}: {field}: {message}", file.display())]
pub struct ParseError {
    pub file: PathBuf,
    pub document: usize,
    /// The field path, e.g. `spec.steps[2].helm.helmRelease`.
    pub field: String,
    pub message: String,
}

/// Parses a plan file's text. `file` is the path errors name (relative to the repository root).
pub fn parse_plan(file: &Path, text: &str) -> Result<Plan, ParseError> {
    let error = |field: &str, message: String| ParseError {
        file: file.to_path_buf(),
        document: 0,
        field: field.to_owned(),
        message,
    };
    let docs = capstan_core::yaml::parse_documents(text)
        .map_err(|e| error("(document)", format!("not valid YAML: {}", e.message)))?;
    let docs: Vec<(usize, Value)> = docs
        .into_iter()
        .enumerate()
        .filter(|(_, d)| !d.is_null())
        .collect();
    let (document, doc) = match docs.as_slice() {
        [one] => one.clone(),
        [] => return Err(error("(document)", "the file holds no plan".into())),
        [_, (second, _), ..] => {
            return Err(ParseError {
                file: file.to_path_buf(),
                document: *second,
                field: "(document)".into(),
                message: "the plan file holds one document".into(),
            });
        }
    };
    let reader = Reader {
        file,
        document,
        root: &doc,
    };
    reader.plan()
}

struct Reader<'a> {
    file: &'a Path,
    document: usize,
    root: &'a Value,
}

/// One mapping being read, with the fields it may have.
struct Fields<'a> {
    path: String,
    map: &'a Map,
}

impl Reader<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_path_buf(),
            document: self.document,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn fields<'v>(
        &self,
        path: &str,
        value: &'v Value,
        allowed: &[&str],
    ) -> Result<Fields<'v>, ParseError> {
        let Some(map) = value.as_object() else {
            return Err(self.error(path, "must be a mapping"));
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(self.error(
                &join(path, unknown),
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            ));
        }
        Ok(Fields {
            path: path.to_owned(),
            map,
        })
    }

    fn string(&self, f: &Fields<'_>, key: &str) -> Result<Option<String>, ParseError> {
        match f.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(self.error(&join(&f.path, key), "must not be empty")),
            Some(_) => Err(self.error(&join(&f.path, key), "must be a string")),
        }
    }

    fn required(&self, f: &Fields<'_>, key: &str) -> Result<String, ParseError> {
        self.string(f, key)?
            .ok_or_else(|| self.error(&join(&f.path, key), "is required"))
    }

    fn bool(&self, f: &Fields<'_>, key: &str, default: bool) -> Result<bool, ParseError> {
        match f.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.error(&join(&f.path, key), "must be true or false")),
        }
    }

    fn path(&self, f: &Fields<'_>, key: &str) -> Result<Option<PathBuf>, ParseError> {
        let Some(text) = self.string(f, key)? else {
            return Ok(None);
        };
        self.repo_path(&join(&f.path, key), &text).map(Some)
    }

    /// A path relative to the repository root that stays inside it.
    fn repo_path(&self, field: &str, text: &str) -> Result<PathBuf, ParseError> {
        let path = Path::new(text);
        if path.is_absolute() {
            return Err(self.error(field, "must be relative to the repository root"));
        }
        let normal = capstan_core::fs::normalize(path);
        if normal.starts_with("..") {
            return Err(self.error(field, "must stay inside the repository"));
        }
        Ok(if normal.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            normal
        })
    }

    fn list<'v>(&self, f: &Fields<'v>, key: &str) -> Result<Vec<(String, &'v Value)>, ParseError> {
        match f.map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{}[{i}]", join(&f.path, key)), v))
                .collect()),
            Some(_) => Err(self.error(&join(&f.path, key), "must be a list")),
        }
    }

    fn strings(&self, f: &Fields<'_>, key: &str) -> Result<Vec<(String, String)>, ParseError> {
        self.list(f, key)?
            .into_iter()
            .map(|(field, v)| match v {
                Value::String(s) if !s.is_empty() => Ok((field, s.clone())),
                _ => Err(self.error(&field, "must be a non-empty string")),
            })
            .collect()
    }

    fn paths(&self, f: &Fields<'_>, key: &str) -> Result<Vec<PathBuf>, ParseError> {
        self.strings(f, key)?
            .into_iter()
            .map(|(field, s)| self.repo_path(&field, &s))
            .collect()
    }

    fn plan(&self) -> Result<Plan, ParseError> {
        let top = self.fields("", self.root, &["apiVersion", "kind", "metadata", "spec"])?;
        let api_version = self.required(&top, "apiVersion")?;
        if api_version != API_VERSION {
            return Err(self.error(
                "apiVersion",
                format!("{api_version:?} is not {API_VERSION:?}"),
            ));
        }
        let kind = self.required(&top, "kind")?;
        if kind != KIND {
            return Err(self.error("kind", format!("{kind:?} is not {KIND:?}")));
        }
        let name = match top.map.get("metadata") {
            None => "bootstrap".to_owned(),
            Some(meta) => {
                let meta = self.fields("metadata", meta, &["name", "annotations", "labels"])?;
                self.string(&meta, "name")?
                    .unwrap_or_else(|| "bootstrap".to_owned())
            }
        };
        let spec = top
            .map
            .get("spec")
            .ok_or_else(|| self.error("spec", "is required"))?;
        let spec = self.fields("spec", spec, &["journal", "steps"])?;
        let mut journal = JournalSettings::default();
        if let Some(j) = spec.map.get("journal") {
            let j = self.fields("spec.journal", j, &["file", "namespace", "configMap"])?;
            if let Some(file) = self.path(&j, "file")? {
                journal.file = file;
            }
            if let Some(ns) = self.string(&j, "namespace")? {
                journal.namespace = ns;
            }
            if let Some(cm) = self.string(&j, "configMap")? {
                journal.config_map = cm;
            }
        }
        let items = self.list(&spec, "steps")?;
        if items.is_empty() {
            return Err(self.error("spec.steps", "a plan needs at least one step"));
        }
        let mut steps: Vec<Step> = Vec::new();
        for (field, item) in items {
            let step = self.step(&field, item)?;
            if steps.iter().any(|s| s.name == step.name) {
                return Err(self.error(
                    &join(&field, "name"),
                    format!("a step named {:?} comes earlier", step.name),
                ));
            }
            steps.push(step);
        }
        Ok(Plan {
            file: self.file.to_path_buf(),
            name,
            journal,
            steps,
        })
    }

    fn step(&self, field: &str, value: &Value) -> Result<Step, ParseError> {
        const KINDS: [&str; 6] = ["talos", "manifests", "secret", "helm", "engine", "wait"];
        let f = self.fields(
            field,
            value,
            &[
                "name",
                "needs",
                "timeout",
                "talos",
                "manifests",
                "secret",
                "helm",
                "engine",
                "wait",
            ],
        )?;
        let name = self.required(&f, "name")?;
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(self.error(
                &join(field, "name"),
                "must be lower-case letters, digits and '-'",
            ));
        }
        let needs = self
            .strings(&f, "needs")?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        let timeout_seconds = match self.string(&f, "timeout")? {
            None => DEFAULT_TIMEOUT_SECONDS,
            Some(text) => parse_duration(&text).ok_or_else(|| {
                self.error(
                    &join(field, "timeout"),
                    format!("{text:?} is not a duration (e.g. 90s, 10m, 1h)"),
                )
            })?,
        };
        let present: Vec<&str> = KINDS
            .into_iter()
            .filter(|k| f.map.contains_key(*k))
            .collect();
        let kind = match present.as_slice() {
            [one] => *one,
            [] => {
                return Err(self.error(field, format!("a step needs one of: {}", KINDS.join(", "))));
            }
            [_, second, ..] => {
                return Err(self.error(&join(field, second), "a step has exactly one kind"));
            }
        };
        let body_field = join(field, kind);
        let body = &f.map[kind];
        let kind = match kind {
            "talos" => StepKind::Talos(self.talos(&body_field, body)?),
            "manifests" => StepKind::Manifests(self.manifests(&body_field, body)?),
            "secret" => StepKind::Secret(self.secret(&body_field, body)?),
            "helm" => StepKind::Helm(self.helm(&body_field, body)?),
            "engine" => StepKind::Engine(self.engine(&body_field, body)?),
            _ => StepKind::Wait(self.wait(&body_field, body)?),
        };
        Ok(Step {
            name,
            needs,
            timeout_seconds,
            kind,
            field: field.to_owned(),
        })
    }

    fn talos(&self, field: &str, value: &Value) -> Result<TalosStep, ParseError> {
        let f = self.fields(
            field,
            value,
            &[
                "talconfig",
                "configDir",
                "talosconfig",
                "nodes",
                "bootstrapNode",
                "kubeconfig",
                "inputs",
            ],
        )?;
        let config_dir = self
            .path(&f, "configDir")?
            .unwrap_or_else(|| PathBuf::from("clusterconfig"));
        let mut nodes = Vec::new();
        for (node_field, node) in self.list(&f, "nodes")? {
            let n = self.fields(&node_field, node, &["address", "config", "controlPlane"])?;
            nodes.push(TalosNode {
                address: self.required(&n, "address")?,
                config: self
                    .path(&n, "config")?
                    .ok_or_else(|| self.error(&join(&node_field, "config"), "is required"))?,
                control_plane: self.bool(&n, "controlPlane", false)?,
            });
        }
        let talconfig = self.path(&f, "talconfig")?;
        if talconfig.is_none() && nodes.is_empty() {
            return Err(self.error(field, "needs `nodes` or a `talconfig` to read them from"));
        }
        Ok(TalosStep {
            talconfig,
            talosconfig: self.path(&f, "talosconfig")?,
            config_dir,
            nodes,
            bootstrap_node: self.string(&f, "bootstrapNode")?,
            kubeconfig: self
                .path(&f, "kubeconfig")?
                .unwrap_or_else(|| PathBuf::from(".capstan/kubeconfig")),
            inputs: self.paths(&f, "inputs")?,
        })
    }

    fn manifests(&self, field: &str, value: &Value) -> Result<ManifestsStep, ParseError> {
        let f = self.fields(field, value, &["paths", "wait"])?;
        let paths = self.paths(&f, "paths")?;
        if paths.is_empty() {
            return Err(self.error(&join(field, "paths"), "needs at least one path"));
        }
        Ok(ManifestsStep {
            paths,
            wait: self.bool(&f, "wait", true)?,
        })
    }

    fn secret(&self, field: &str, value: &Value) -> Result<SecretStep, ParseError> {
        let f = self.fields(field, value, &["namespace", "name", "type", "data"])?;
        let mut data = Vec::new();
        for (entry_field, entry) in self.list(&f, "data")? {
            let e = self.fields(&entry_field, entry, &["key", "onePassword", "sops", "env"])?;
            let key = self.required(&e, "key")?;
            let sources: Vec<&str> = ["onePassword", "sops", "env"]
                .into_iter()
                .filter(|k| e.map.contains_key(*k))
                .collect();
            let source = match sources.as_slice() {
                ["onePassword"] => {
                    let reference = self.required(&e, "onePassword")?;
                    if !reference.starts_with("op://") {
                        return Err(self.error(
                            &join(&entry_field, "onePassword"),
                            "must be a secret reference op://vault/item/field",
                        ));
                    }
                    SecretSource::OnePassword { reference }
                }
                ["env"] => SecretSource::Env {
                    name: self.required(&e, "env")?,
                },
                ["sops"] => {
                    let s_field = join(&entry_field, "sops");
                    let s = self.fields(&s_field, &e.map["sops"], &["file", "path"])?;
                    SecretSource::Sops {
                        file: self
                            .path(&s, "file")?
                            .ok_or_else(|| self.error(&join(&s_field, "file"), "is required"))?,
                        path: self.required(&s, "path")?,
                    }
                }
                _ => {
                    return Err(self.error(
                        &entry_field,
                        "needs exactly one source: onePassword, sops or env",
                    ));
                }
            };
            if data.iter().any(|d: &SecretEntry| d.key == key) {
                return Err(self.error(
                    &join(&entry_field, "key"),
                    format!("key {key:?} comes earlier"),
                ));
            }
            data.push(SecretEntry { key, source });
        }
        if data.is_empty() {
            return Err(self.error(&join(field, "data"), "needs at least one entry"));
        }
        Ok(SecretStep {
            namespace: self.required(&f, "namespace")?,
            name: self.required(&f, "name")?,
            secret_type: self
                .string(&f, "type")?
                .unwrap_or_else(|| "Opaque".to_owned()),
            data,
        })
    }

    fn helm(&self, field: &str, value: &Value) -> Result<HelmStep, ParseError> {
        let Some(map) = value.as_object() else {
            return Err(self.error(field, "must be a mapping"));
        };
        if map.contains_key("helmRelease") {
            let f = self.fields(field, value, &["helmRelease"])?;
            let reference = self.required(&f, "helmRelease")?;
            let Some((namespace, name)) = reference
                .split_once('/')
                .filter(|(ns, n)| !ns.is_empty() && !n.is_empty() && !n.contains('/'))
            else {
                return Err(self.error(
                    &join(field, "helmRelease"),
                    format!("{reference:?} is not namespace/name"),
                ));
            };
            return Ok(HelmStep::FromHelmRelease {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            });
        }
        self.chart_spec(field, value).map(HelmStep::Chart)
    }

    fn chart_spec(&self, field: &str, value: &Value) -> Result<ChartSpec, ParseError> {
        let f = self.fields(
            field,
            value,
            &[
                "release",
                "namespace",
                "chart",
                "repository",
                "version",
                "values",
                "valuesFiles",
            ],
        )?;
        let chart = self.required(&f, "chart")?;
        let chart = if chart.starts_with("oci://") {
            ChartRef::Oci(chart)
        } else if let Some(url) = self.string(&f, "repository")? {
            ChartRef::Repository { url, name: chart }
        } else {
            ChartRef::Path(self.repo_path(&join(field, "chart"), &chart)?)
        };
        let values = match f.map.get("values") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(self.error(&join(field, "values"), "must be a mapping")),
        };
        Ok(ChartSpec {
            release: self.required(&f, "release")?,
            namespace: self.required(&f, "namespace")?,
            chart,
            version: self.string(&f, "version")?,
            values,
            values_files: self.paths(&f, "valuesFiles")?,
        })
    }

    fn engine(&self, field: &str, value: &Value) -> Result<EngineStep, ParseError> {
        let f = self.fields(field, value, &["fluxManifests", "fluxOperator"])?;
        match (f.map.get("fluxManifests"), f.map.get("fluxOperator")) {
            (Some(_), None) => Ok(EngineStep::FluxManifests {
                path: self
                    .path(&f, "fluxManifests")?
                    .ok_or_else(|| self.error(&join(field, "fluxManifests"), "is required"))?,
            }),
            (None, Some(op)) => {
                let op_field = join(field, "fluxOperator");
                let o = self.fields(&op_field, op, &["instance", "chart"])?;
                let instance = self
                    .path(&o, "instance")?
                    .ok_or_else(|| self.error(&join(&op_field, "instance"), "is required"))?;
                let chart = o
                    .map
                    .get("chart")
                    .ok_or_else(|| self.error(&join(&op_field, "chart"), "is required"))?;
                Ok(EngineStep::FluxOperator {
                    instance,
                    chart: Box::new(self.chart_spec(&join(&op_field, "chart"), chart)?),
                })
            }
            _ => Err(self.error(field, "needs exactly one of fluxManifests, fluxOperator")),
        }
    }

    fn wait(&self, field: &str, value: &Value) -> Result<WaitStep, ParseError> {
        let f = self.fields(field, value, &["objects", "cel"])?;
        let mut objects = Vec::new();
        for (object_field, object) in self.list(&f, "objects")? {
            objects.push(self.object_ref(&object_field, object, &[])?);
        }
        let mut cel = Vec::new();
        for (gate_field, gate) in self.list(&f, "cel")? {
            let object = self.object_ref(&gate_field, gate, &["expression"])?;
            let g = self.fields(
                &gate_field,
                gate,
                &["apiVersion", "kind", "namespace", "name", "expression"],
            )?;
            let expression = self.required(&g, "expression")?;
            cel.push(CelGate { object, expression });
        }
        if objects.is_empty() && cel.is_empty() {
            return Err(self.error(field, "needs `objects` or `cel`"));
        }
        Ok(WaitStep { objects, cel })
    }

    fn object_ref(
        &self,
        field: &str,
        value: &Value,
        extra: &[&str],
    ) -> Result<ObjectRef, ParseError> {
        let mut allowed = vec!["apiVersion", "kind", "namespace", "name"];
        allowed.extend_from_slice(extra);
        let f = self.fields(field, value, &allowed)?;
        Ok(ObjectRef {
            api_version: self.required(&f, "apiVersion")?,
            kind: self.required(&f, "kind")?,
            namespace: self.string(&f, "namespace")?,
            name: self.required(&f, "name")?,
        })
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A Go-style duration of whole seconds: `90s`, `10m`, `1h30m`.
pub fn parse_duration(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !number.is_empty() || total == 0 {
        return None;
    }
    Some(total)
}
