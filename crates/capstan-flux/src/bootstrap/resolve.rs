//! The plan checked against the repository and the machine, before anything is touched.
//!
//! [`resolve`] reads the repository only: the steps in `needs` order (a cycle or an unknown
//! step is an error), every path a step names present, a helm step's HelmRelease found and its
//! chart, version and values taken from it as helm-controller merges them, and for each step
//! the repository paths it reads ([`ResolvedStep::input_paths`], which `plan` classifies
//! changes by) and a digest of its inputs. [`check_machine`] checks what a run needs from the
//! machine: `talosctl`, `talhelper` and `op` on the path, environment variables set, SOPS files
//! readable. Every problem is collected, so one `bootstrap plan` shows them all.
//!
//! Secret values are never read here except to prove a SOPS path exists; digests of a secret
//! step cover where its values come from (references, variable names, the encrypted file), so
//! neither the journal nor a digest carries a value.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use capstan_core::{Fs, Map, Value};
use sha2::{Digest, Sha256};

use super::{
    ChartRef, ChartSpec, EngineStep, HelmStep, Inputs, Plan, SecretSource, Step, StepKind,
    TalosNode, TalosStep,
};
use crate::build::{BuildOptions, BuildReport, build_all};
use crate::helm::release_name;
use crate::helm::values::merge_values;
use crate::model::{FluxKind, ObjectKey};
use crate::sops::Keys;

/// What a run needs from the machine it runs on; tests give a fake.
pub trait Machine {
    /// An environment variable.
    fn var(&self, name: &str) -> Option<String>;
    /// A program on the `PATH`.
    fn which(&self, program: &str) -> Option<PathBuf>;
}

/// The process's environment and `PATH`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessMachine;

impl Machine for ProcessMachine {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn which(&self, program: &str) -> Option<PathBuf> {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
    }
}

/// One problem with the plan, located in the plan file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: document 0: {field}: {message}", file.display())]
pub struct ResolveError {
    pub file: PathBuf,
    pub field: String,
    pub message: String,
}

/// A plan whose steps are in order, each with its inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPlan {
    pub plan: Plan,
    /// The steps in the order they run: `needs` first, otherwise as written.
    pub steps: Vec<ResolvedStep>,
}

impl ResolvedPlan {
    /// A step by name.
    pub fn step(&self, name: &str) -> Option<&ResolvedStep> {
        self.steps.iter().find(|s| s.step.name == name)
    }

    /// The steps that need `name`, directly or through others, in run order.
    pub fn dependents(&self, name: &str) -> Vec<&str> {
        let mut marked: BTreeSet<&str> = BTreeSet::from([name]);
        let mut out = Vec::new();
        for s in &self.steps {
            if s.step.needs.iter().any(|n| marked.contains(n.as_str())) {
                marked.insert(&s.step.name);
                out.push(s.step.name.as_str());
            }
        }
        out
    }
}

/// One step, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedStep {
    pub step: Step,
    /// Each input by name, as a digest (`values`, `chart`, `file:talconfig.yaml`...).
    pub inputs: Inputs,
    /// The digest of all inputs: the step is done when the journal holds it.
    pub digest: String,
    /// Repository paths (files or folders) whose change changes the step.
    pub input_paths: Vec<PathBuf>,
    /// For a helm step: what is installed.
    pub helm: Option<HelmInstall>,
    /// For a talos step: the nodes, from the plan or the talconfig.
    pub talos_nodes: Vec<TalosNode>,
}

/// A Helm release a step installs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HelmInstall {
    pub release: String,
    pub namespace: String,
    /// Where the release's storage Secrets live.
    pub storage_namespace: String,
    pub chart: ChartRef,
    pub version: Option<String>,
    /// The chart's folder name in a repository (`cilium`), for messages.
    pub values: Map,
    /// Values files in the repository, merged in order under `values`.
    pub values_files: Vec<PathBuf>,
    /// The HelmRelease GitOps owns the release through, when the step names one.
    pub helm_release: Option<ObjectKey>,
    /// `spec.maxHistory` of that HelmRelease (helm-controller's default is 5).
    pub max_history: Option<i64>,
}

/// Resolves a plan against the repository at `root` (read through `fs`).
pub fn resolve(fs: &dyn Fs, root: &Path, plan: &Plan) -> Result<ResolvedPlan, Vec<ResolveError>> {
    let mut errors = Vec::new();
    let order = order(plan, &mut errors);
    let needs_repo = plan
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Helm(HelmStep::FromHelmRelease { .. })));
    let report = if needs_repo {
        let options = BuildOptions {
            render_helm_releases: false,
            ..BuildOptions::default()
        };
        match build_all(fs, root, &options) {
            Ok(report) => Some(report),
            Err(e) => {
                errors.push(ResolveError {
                    file: plan.file.clone(),
                    field: "spec.steps".into(),
                    message: format!("the repository does not build: {e}"),
                });
                None
            }
        }
    } else {
        None
    };
    let mut steps = Vec::new();
    for index in order {
        let step = &plan.steps[index];
        let mut resolver = StepResolver {
            fs,
            root,
            plan,
            step,
            errors: &mut errors,
            inputs: Inputs::new(),
            paths: BTreeSet::new(),
        };
        let (helm, talos_nodes) = resolver.resolve(report.as_ref());
        let inputs = resolver.inputs;
        let input_paths = resolver.paths.into_iter().collect();
        let digest = digest_inputs(&inputs);
        steps.push(ResolvedStep {
            step: step.clone(),
            inputs,
            digest,
            input_paths,
            helm,
            talos_nodes,
        });
    }
    if errors.is_empty() {
        Ok(ResolvedPlan {
            plan: plan.clone(),
            steps,
        })
    } else {
        Err(errors)
    }
}

/// The steps in run order (Kahn's algorithm, written order among the ready); unknown needs and
/// cycles are reported.
fn order(plan: &Plan, errors: &mut Vec<ResolveError>) -> Vec<usize> {
    let index: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut needs: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); plan.steps.len()];
    for (i, step) in plan.steps.iter().enumerate() {
        for (j, need) in step.needs.iter().enumerate() {
            match index.get(need.as_str()) {
                Some(&n) if n == i => errors.push(ResolveError {
                    file: plan.file.clone(),
                    field: format!("{}.needs[{j}]", step.field),
                    message: "a step cannot need itself".into(),
                }),
                Some(&n) => {
                    needs[i].insert(n);
                }
                None => errors.push(ResolveError {
                    file: plan.file.clone(),
                    field: format!("{}.needs[{j}]", step.field),
                    message: format!("no step is named {need:?}"),
                }),
            }
        }
    }
    let mut done: Vec<usize> = Vec::new();
    let mut placed = vec![false; plan.steps.len()];
    while done.len() < plan.steps.len() {
        let ready =
            (0..plan.steps.len()).find(|&i| !placed[i] && needs[i].iter().all(|n| placed[*n]));
        match ready {
            Some(i) => {
                placed[i] = true;
                done.push(i);
            }
            None => {
                let stuck: Vec<&str> = (0..plan.steps.len())
                    .filter(|&i| !placed[i])
                    .map(|i| plan.steps[i].name.as_str())
                    .collect();
                let first = (0..plan.steps.len()).find(|&i| !placed[i]).unwrap_or(0);
                errors.push(ResolveError {
                    file: plan.file.clone(),
                    field: format!("{}.needs", plan.steps[first].field),
                    message: format!("a cycle in needs among: {}", stuck.join(", ")),
                });
                break;
            }
        }
    }
    done
}

struct StepResolver<'a> {
    fs: &'a dyn Fs,
    root: &'a Path,
    plan: &'a Plan,
    step: &'a Step,
    errors: &'a mut Vec<ResolveError>,
    inputs: Inputs,
    paths: BTreeSet<PathBuf>,
}

impl StepResolver<'_> {
    fn error(&mut self, field: &str, message: String) {
        self.errors.push(ResolveError {
            file: self.plan.file.clone(),
            field: format!("{}.{}.{field}", self.step.field, self.step.kind.name()),
            message,
        });
    }

    fn input(&mut self, name: &str, value: Value) {
        self.inputs.insert(name.to_owned(), value);
    }

    /// A repository path the step reads: present, recorded, and its content an input.
    fn file_input(&mut self, field: &str, path: &Path) -> bool {
        let full = self.root.join(path);
        if !self.fs.exists(&full) {
            self.error(field, format!("{}: no such file or folder", path.display()));
            return false;
        }
        self.paths.insert(path.to_path_buf());
        let mut hasher = Sha256::new();
        hash_tree(self.fs, &full, Path::new(""), &mut hasher, 0);
        self.input(
            &format!("file:{}", path.display()),
            Value::String(hex(&hasher.finalize())),
        );
        true
    }

    fn resolve(&mut self, report: Option<&BuildReport>) -> (Option<HelmInstall>, Vec<TalosNode>) {
        let kind = self.step.kind.clone();
        self.input("kind", Value::String(kind.name().to_owned()));
        match &kind {
            StepKind::Talos(talos) => return (None, self.talos(talos)),
            StepKind::Manifests(m) => {
                for (i, path) in m.paths.iter().enumerate() {
                    self.file_input(&format!("paths[{i}]"), path);
                }
            }
            StepKind::Secret(secret) => {
                self.input(
                    "secret",
                    Value::String(format!(
                        "{}/{} {}",
                        secret.namespace, secret.name, secret.secret_type
                    )),
                );
                for (i, entry) in secret.data.iter().enumerate() {
                    let name = format!("data:{}", entry.key);
                    match &entry.source {
                        SecretSource::OnePassword { reference } => {
                            self.input(&name, Value::String(format!("op {reference}")));
                        }
                        SecretSource::Env { name: var } => {
                            self.input(&name, Value::String(format!("env {var}")));
                        }
                        SecretSource::Sops { file, path } => {
                            self.input(&name, Value::String(format!("sops {path}")));
                            self.file_input(&format!("data[{i}].sops.file"), file);
                        }
                    }
                }
            }
            StepKind::Helm(HelmStep::FromHelmRelease { namespace, name }) => {
                let install = report.and_then(|r| self.helm_release(r, namespace, name));
                return (install, Vec::new());
            }
            StepKind::Helm(HelmStep::Chart(chart)) => {
                return (Some(self.chart(chart, "")), Vec::new());
            }
            StepKind::Engine(EngineStep::FluxManifests { path }) => {
                self.file_input("fluxManifests", path);
            }
            StepKind::Engine(EngineStep::FluxOperator { instance, chart }) => {
                self.file_input("fluxOperator.instance", instance);
                return (Some(self.chart(chart, "fluxOperator.chart.")), Vec::new());
            }
            StepKind::Wait(wait) => {
                let gates = serde_json::json!({"objects": wait.objects, "cel": wait.cel});
                self.input("gates", gates);
            }
        }
        (None, Vec::new())
    }

    fn talos(&mut self, talos: &TalosStep) -> Vec<TalosNode> {
        let mut nodes = talos.nodes.clone();
        if let Some(talconfig) = &talos.talconfig
            && self.file_input("talconfig", talconfig)
        {
            let dir = talconfig.parent().unwrap_or(Path::new("")).to_path_buf();
            match self
                .fs
                .read_to_string(&self.root.join(talconfig))
                .map_err(|e| e.to_string())
                .and_then(|t| capstan_core::yaml::parse_document(&t).map_err(|e| e.message))
            {
                Ok(doc) => {
                    // Files the talconfig points at (`@./patch.yaml`, `./manifest.yaml`) are inputs.
                    let mut referenced = BTreeSet::new();
                    local_references(&doc, &mut referenced);
                    for reference in referenced {
                        let path = capstan_core::fs::normalize(&dir.join(&reference));
                        if self.fs.exists(&self.root.join(&path)) {
                            self.file_input("talconfig", &path);
                        }
                    }
                    if nodes.is_empty() {
                        nodes = talconfig_nodes(&doc, &talos.config_dir);
                        if nodes.is_empty() {
                            self.error(
                                "talconfig",
                                format!("{}: declares no nodes", talconfig.display()),
                            );
                        }
                    }
                }
                Err(e) => self.error("talconfig", format!("{}: {e}", talconfig.display())),
            }
        }
        if talos.talconfig.is_none() {
            for (i, node) in talos.nodes.iter().enumerate() {
                self.file_input(&format!("nodes[{i}].config"), &node.config);
            }
        }
        for (i, path) in talos.inputs.iter().enumerate() {
            self.file_input(&format!("inputs[{i}]"), path);
        }
        let addresses: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
        self.input("nodes", serde_json::json!(addresses));
        match &talos.bootstrap_node {
            Some(node) if !addresses.contains(node) => {
                self.error(
                    "bootstrapNode",
                    format!("{node} is not one of the nodes ({})", addresses.join(", ")),
                );
            }
            Some(_) => {}
            None if !nodes.is_empty() && !nodes.iter().any(|n| n.control_plane) => {
                self.error("nodes", "no control-plane node to bootstrap etcd on".into());
            }
            None => {}
        }
        nodes
    }

    fn chart(&mut self, chart: &ChartSpec, prefix: &str) -> HelmInstall {
        match &chart.chart {
            ChartRef::Path(path) => {
                self.file_input(&format!("{prefix}chart"), path);
            }
            other => self.input("chart", serde_json::json!(other)),
        }
        for (i, file) in chart.values_files.iter().enumerate() {
            self.file_input(&format!("{prefix}valuesFiles[{i}]"), file);
        }
        self.input("version", serde_json::json!(chart.version));
        self.input("values", Value::Object(chart.values.clone()));
        self.input(
            "release",
            Value::String(format!("{}/{}", chart.namespace, chart.release)),
        );
        HelmInstall {
            release: chart.release.clone(),
            namespace: chart.namespace.clone(),
            storage_namespace: chart.namespace.clone(),
            chart: chart.chart.clone(),
            version: chart.version.clone(),
            values: chart.values.clone(),
            values_files: chart.values_files.clone(),
            helm_release: None,
            max_history: None,
        }
    }

    fn helm_release(
        &mut self,
        report: &BuildReport,
        namespace: &str,
        name: &str,
    ) -> Option<HelmInstall> {
        let key = ObjectKey::new(FluxKind::HelmRelease, namespace, name);
        let Some(result) = report.helm_releases.iter().find(|r| r.key == key) else {
            self.error(
                "helmRelease",
                format!("no HelmRelease {namespace}/{name} in the repository"),
            );
            return None;
        };
        let objects: Vec<&Value> = report
            .kustomizations
            .iter()
            .filter(|k| k.cluster == result.cluster)
            .flat_map(|k| k.objects.iter().map(|o| &o.object))
            .collect();
        let matches = |o: &Value, kind: &str, ns: &str, n: &str| {
            o.get("kind").and_then(Value::as_str) == Some(kind)
                && o.pointer("/metadata/name").and_then(Value::as_str) == Some(n)
                && o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
        };
        let Some(release) = objects
            .iter()
            .find(|o| matches(o, "HelmRelease", namespace, name))
            .map(|o| (*o).clone())
        else {
            self.error(
                "helmRelease",
                format!("HelmRelease {namespace}/{name} is not rendered by any Kustomization"),
            );
            return None;
        };
        // The folder of the Kustomization that applies it, and the file it is in, are inputs.
        if let Some(parent) = &result.parent
            && let Some(dir) = report
                .kustomizations
                .iter()
                .find(|k| &k.key == parent)
                .and_then(|k| k.path.clone())
        {
            self.paths.insert(dir);
        }
        if let Some(file) = report
            .kustomizations
            .iter()
            .flat_map(|k| k.objects.iter())
            .find(|o| matches(&o.object, "HelmRelease", namespace, name))
            .and_then(|o| o.file.clone())
        {
            self.paths.insert(file);
        }
        let lookup = |kind: &str, n: &str| {
            objects
                .iter()
                .find(|o| matches(o, kind, namespace, n))
                .map(|o| (*o).clone())
        };
        let values = match merge_values(&release, namespace, &lookup) {
            Ok(values) => values,
            Err(e) => {
                self.error(
                    "helmRelease",
                    format!("HelmRelease {namespace}/{name}: {e}"),
                );
                return None;
            }
        };
        let spec = |field: &str| {
            release
                .pointer(&format!("/spec/{field}"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let chart_name = spec("chart/spec/chart");
        let version = spec("chart/spec/version");
        let source_kind = spec("chart/spec/sourceRef/kind").or(spec("chartRef/kind"));
        let source_name = spec("chart/spec/sourceRef/name").or(spec("chartRef/name"));
        let source_ns = spec("chart/spec/sourceRef/namespace")
            .or(spec("chartRef/namespace"))
            .unwrap_or_else(|| namespace.to_owned());
        let source = source_name.as_ref().and_then(|n| {
            objects
                .iter()
                .find(|o| matches(o, source_kind.as_deref().unwrap_or(""), &source_ns, n))
                .map(|o| (*o).clone())
        });
        let source_field = |field: &str| {
            source
                .as_ref()
                .and_then(|s| s.pointer(field))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let chart = match (source_kind.as_deref(), chart_name) {
            (Some("HelmRepository"), Some(chart)) => match source_field("/spec/url") {
                Some(url) if source_field("/spec/type").as_deref() == Some("oci") => {
                    ChartRef::Oci(format!("{}/{chart}", url.trim_end_matches('/')))
                }
                Some(url) => ChartRef::Repository { url, name: chart },
                None => {
                    self.error(
                        "helmRelease",
                        format!(
                            "HelmRelease {namespace}/{name}: its HelmRepository {source_ns}/{} is not in the repository",
                            source_name.unwrap_or_default()
                        ),
                    );
                    return None;
                }
            },
            (Some("GitRepository"), Some(chart)) => {
                ChartRef::Path(capstan_core::fs::normalize(Path::new(&chart)))
            }
            (Some("OCIRepository"), _) => match source_field("/spec/url") {
                Some(url) => ChartRef::Oci(url),
                None => {
                    self.error(
                        "helmRelease",
                        format!("HelmRelease {namespace}/{name}: its OCIRepository is not in the repository"),
                    );
                    return None;
                }
            },
            _ => {
                self.error(
                    "helmRelease",
                    format!(
                        "HelmRelease {namespace}/{name}: chart source {} is not supported for bootstrap",
                        source_kind.unwrap_or_else(|| "(none)".into())
                    ),
                );
                return None;
            }
        };
        let version = version.or_else(|| source_field("/spec/ref/tag"));
        let release_name = release_name(&release);
        let target = spec("targetNamespace").unwrap_or_else(|| namespace.to_owned());
        let storage = spec("storageNamespace").unwrap_or_else(|| namespace.to_owned());
        self.input("chart", serde_json::json!(chart));
        self.input("version", serde_json::json!(version));
        self.input("values", Value::Object(values.clone()));
        self.input("release", Value::String(format!("{target}/{release_name}")));
        Some(HelmInstall {
            release: release_name,
            namespace: target,
            storage_namespace: storage,
            chart,
            version,
            values,
            values_files: Vec::new(),
            helm_release: Some(key),
            max_history: release.pointer("/spec/maxHistory").and_then(Value::as_i64),
        })
    }
}

/// Checks what a run needs from the machine: programs, variables, SOPS files and keys.
pub fn check_machine(
    fs: &dyn Fs,
    root: &Path,
    plan: &Plan,
    machine: &dyn Machine,
    keys: &Keys,
) -> Vec<ResolveError> {
    let mut errors = Vec::new();
    let mut error = |step: &Step, field: &str, message: String| {
        errors.push(ResolveError {
            file: plan.file.clone(),
            field: format!("{}.{}{field}", step.field, step.kind.name()),
            message,
        });
    };
    for step in &plan.steps {
        match &step.kind {
            StepKind::Talos(talos) => {
                if machine.which("talosctl").is_none() {
                    error(step, "", "talosctl is not on the PATH".into());
                }
                if talos.talconfig.is_some() && machine.which("talhelper").is_none() {
                    error(step, ".talconfig", "talhelper is not on the PATH".into());
                }
            }
            StepKind::Secret(secret) => {
                for (i, entry) in secret.data.iter().enumerate() {
                    let field = format!(".data[{i}]");
                    match &entry.source {
                        SecretSource::OnePassword { .. } => {
                            if machine.which("op").is_none() {
                                error(
                                    step,
                                    &field,
                                    "op (the 1Password CLI) is not on the PATH".into(),
                                );
                            }
                        }
                        SecretSource::Env { name } => {
                            if machine.var(name).is_none() {
                                error(
                                    step,
                                    &field,
                                    format!("the environment variable {name} is not set"),
                                );
                            }
                        }
                        SecretSource::Sops { file, path } => {
                            if let Err(e) = super::secrets::sops_value(fs, root, file, path, keys) {
                                error(step, &format!("{field}.sops"), e.to_string());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    errors
}

/// The nodes of a talhelper talconfig: `nodes[].{hostname, ipAddress, controlPlane}`, configs
/// named as talhelper writes them (`<clusterName>-<hostname>.yaml`).
fn talconfig_nodes(doc: &Value, config_dir: &Path) -> Vec<TalosNode> {
    let cluster = doc.get("clusterName").and_then(Value::as_str).unwrap_or("");
    doc.get("nodes")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .filter_map(|n| {
                    let host = n.get("hostname").and_then(Value::as_str)?;
                    let address = n.get("ipAddress").and_then(Value::as_str)?;
                    Some(TalosNode {
                        address: address.to_owned(),
                        config: config_dir.join(format!("{cluster}-{host}.yaml")),
                        control_plane: n
                            .get("controlPlane")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Relative file references in a talconfig: `@./x` patches and `./x` paths.
fn local_references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            let s = s.strip_prefix('@').unwrap_or(s);
            if s.starts_with("./") && !s.contains('\n') {
                out.insert(s.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| local_references(v, out)),
        Value::Object(map) => map.values().for_each(|v| local_references(v, out)),
        _ => {}
    }
}

/// Feeds every file under `path` (names relative to it, sorted) into `hasher`.
fn hash_tree(fs: &dyn Fs, path: &Path, name: &Path, hasher: &mut Sha256, depth: usize) {
    if depth > 32 {
        return;
    }
    if fs.is_dir(path) {
        for entry in fs.read_dir(path).unwrap_or_default() {
            if let Some(file) = entry.file_name() {
                hash_tree(fs, &entry, &name.join(file), hasher, depth + 1);
            }
        }
    } else if let Ok(bytes) = fs.read(path) {
        hasher.update(name.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
}

/// The digest of a step's inputs: sha256 of their canonical JSON (keys sorted).
pub fn digest_inputs(inputs: &Inputs) -> String {
    let canonical: BTreeMap<&String, String> =
        inputs.iter().map(|(k, v)| (k, canonical_json(v))).collect();
    let text = serde_json::to_string(&canonical).unwrap_or_default();
    hex(&Sha256::digest(text.as_bytes()))
}

/// One input's digest, as the journal keeps it.
pub fn digest_value(value: &Value) -> String {
    hex(&Sha256::digest(canonical_json(value).as_bytes()))[..16].to_owned()
}

/// JSON with object keys sorted, so a digest does not depend on the order values were written.
fn canonical_json(value: &Value) -> String {
    serde_json::to_string(&capstan_core::go_json::sorted(value)).unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
