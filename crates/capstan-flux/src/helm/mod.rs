//! Rendering HelmReleases: values as helm-controller merges them ([`values`]), and the chart
//! rendered through a [`HelmRenderer`]. The implementation capstan ships, [`HelmBinary`], runs
//! `helm template` (found through `--helm-binary`, `CAPSTAN_HELM`, `PATH`, then the oracle
//! directory) over a copy of the chart read through [`Fs`], so a chart in a git revision renders
//! the same as one on disk.

pub mod set_value;
pub mod values;

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_core::{Fs, Map, Value};

/// What to render: one release of one chart.
#[derive(Clone)]
pub struct RenderRequest<'a> {
    pub release_name: &'a str,
    pub namespace: &'a str,
    /// The chart's directory, read through `fs`.
    pub chart_dir: &'a Path,
    pub fs: &'a dyn Fs,
    pub values: &'a Map,
    /// Render the chart's `crds/` too (`install.crds` other than `Skip`).
    pub include_crds: bool,
    pub kube_version: Option<&'a str>,
    pub api_versions: &'a [String],
}

/// Why a chart did not render.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error("helm not found (set --helm-binary or CAPSTAN_HELM, or put helm on PATH)")]
    NotFound,
    #[error("{0}")]
    Io(String),
    #[error("helm template failed: {0}")]
    Template(String),
    #[error("helm output does not parse: {0}")]
    Output(String),
}

/// Renders a chart into manifests.
pub trait HelmRenderer: Send + Sync {
    fn render(&self, request: &RenderRequest<'_>) -> Result<Vec<Value>, HelmError>;

    /// The chart as `helm template` prints it, for a release to store: the manifests, each
    /// under `---` and a `# Source: PATH` line, then the hooks the same way. `is_upgrade`
    /// renders `.Release.IsUpgrade` (else `.Release.IsInstall`). A renderer that only yields
    /// documents prints each under a bare `---` (no source paths).
    fn render_text(
        &self,
        request: &RenderRequest<'_>,
        is_upgrade: bool,
    ) -> Result<String, HelmError> {
        let _ = is_upgrade;
        let docs = self.render(request)?;
        Ok(docs
            .iter()
            .map(|d| format!("---\n{}", capstan_core::yaml::to_yaml(d)))
            .collect())
    }

    /// The chart's `templates/NOTES.txt` rendered as Helm renders a release's notes; `None` when
    /// the chart has none, or when the renderer cannot render notes.
    fn render_notes(
        &self,
        request: &RenderRequest<'_>,
        is_upgrade: bool,
    ) -> Result<Option<String>, HelmError> {
        let _ = (request, is_upgrade);
        Ok(None)
    }
}

/// The template that carries a chart's notes out of `helm template` (which prints no notes):
/// NOTES.txt defined as a named template and included, as a JSON string, in a YAML document.
const NOTES_TEMPLATE: &str = "templates/capstan-release-notes.yaml";
const NOTES_DEFINE: &str = "capstan.release-notes";

/// The `helm` binary.
#[derive(Debug, Clone)]
pub struct HelmBinary {
    pub command: PathBuf,
    /// Flags added to every `helm template`.
    pub flags: TemplateFlags,
}

/// `helm template` switches a user sets for every release (flux-local's helm options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFlags {
    /// `--is-upgrade`: `.Release.IsUpgrade` instead of `.Release.IsInstall`.
    pub is_upgrade: bool,
    /// `--no-hooks`: leave hook-annotated templates out.
    pub no_hooks: bool,
    /// `--registry-config FILE`.
    pub registry_config: Option<PathBuf>,
}

impl HelmBinary {
    /// The same binary with these `helm template` flags.
    pub fn with_flags(self, flags: TemplateFlags) -> HelmBinary {
        HelmBinary { flags, ..self }
    }
}

impl HelmBinary {
    /// Finds helm: `explicit`, then `CAPSTAN_HELM`, then `PATH`. (Tests put the oracle helm on
    /// the `PATH` of the process they start; capstan itself never searches for test oracles.)
    pub fn find(explicit: Option<&Path>) -> Option<HelmBinary> {
        if let Some(path) = explicit {
            return Some(HelmBinary {
                command: path.to_path_buf(),
                flags: TemplateFlags::default(),
            });
        }
        if let Some(path) = std::env::var_os("CAPSTAN_HELM").filter(|p| !p.is_empty()) {
            return Some(HelmBinary {
                command: PathBuf::from(path),
                flags: TemplateFlags::default(),
            });
        }
        let dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.into_iter()
            .map(|d| d.join("helm"))
            .find(|p| p.is_file())
            .map(|command| HelmBinary {
                command,
                flags: TemplateFlags::default(),
            })
    }
}

/// Copies a directory tree read through `fs` to `to` on disk.
fn materialise(fs: &dyn Fs, from: &Path, to: &Path, depth: usize) -> Result<(), HelmError> {
    if depth > 32 {
        return Err(HelmError::Io(format!(
            "{}: directories nested too deeply",
            from.display()
        )));
    }
    std::fs::create_dir_all(to).map_err(|e| HelmError::Io(format!("{}: {e}", to.display())))?;
    for entry in fs
        .read_dir(from)
        .map_err(|e| HelmError::Io(format!("{}: {e}", from.display())))?
    {
        let Some(name) = entry.file_name() else {
            continue;
        };
        let target = to.join(name);
        if fs.is_dir(&entry) {
            materialise(fs, &entry, &target, depth + 1)?;
        } else {
            let bytes = fs
                .read(&entry)
                .map_err(|e| HelmError::Io(format!("{}: {e}", entry.display())))?;
            std::fs::write(&target, bytes)
                .map_err(|e| HelmError::Io(format!("{}: {e}", target.display())))?;
        }
    }
    Ok(())
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, HelmError> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("capstan-helm-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| HelmError::Io(format!("{}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl HelmRenderer for HelmBinary {
    fn render(&self, request: &RenderRequest<'_>) -> Result<Vec<Value>, HelmError> {
        let text = self.template(request, self.flags.is_upgrade, false)?;
        let docs =
            capstan_core::yaml::parse_documents(&text).map_err(|e| HelmError::Output(e.message))?;
        Ok(docs.into_iter().filter(|d| d.is_object()).collect())
    }

    fn render_text(
        &self,
        request: &RenderRequest<'_>,
        is_upgrade: bool,
    ) -> Result<String, HelmError> {
        self.template(request, is_upgrade, false)
    }

    fn render_notes(
        &self,
        request: &RenderRequest<'_>,
        is_upgrade: bool,
    ) -> Result<Option<String>, HelmError> {
        if !request
            .fs
            .is_file(&request.chart_dir.join("templates/NOTES.txt"))
        {
            return Ok(None);
        }
        let text = self.template(request, is_upgrade, true)?;
        let docs =
            capstan_core::yaml::parse_documents(&text).map_err(|e| HelmError::Output(e.message))?;
        Ok(docs
            .iter()
            .find_map(|d| d.get("notes").and_then(Value::as_str))
            .map(str::to_owned))
    }
}

impl HelmBinary {
    /// Runs `helm template` and returns what it printed; `notes` prints only the notes document.
    fn template(
        &self,
        request: &RenderRequest<'_>,
        is_upgrade: bool,
        notes: bool,
    ) -> Result<String, HelmError> {
        let scratch = Scratch::new()?;
        let chart = scratch.0.join("chart");
        materialise(request.fs, request.chart_dir, &chart, 0)?;
        if notes {
            let source = chart.join("templates/NOTES.txt");
            let body = std::fs::read_to_string(&source)
                .map_err(|e| HelmError::Io(format!("{}: {e}", source.display())))?;
            let wrapper = format!(
                "{{{{ define \"{NOTES_DEFINE}\" }}}}{body}{{{{ end }}}}notes: {{{{ include \"{NOTES_DEFINE}\" . | toJson }}}}\n"
            );
            let target = chart.join(NOTES_TEMPLATE);
            std::fs::write(&target, wrapper)
                .map_err(|e| HelmError::Io(format!("{}: {e}", target.display())))?;
        }
        let values_file = scratch.0.join("values.json");
        let values = serde_json::to_vec(&Value::Object(request.values.clone()))
            .map_err(|e| HelmError::Io(e.to_string()))?;
        std::fs::write(&values_file, values)
            .map_err(|e| HelmError::Io(format!("{}: {e}", values_file.display())))?;
        let mut command = Command::new(&self.command);
        command
            .arg("template")
            .arg(request.release_name)
            .arg(&chart)
            .arg("--namespace")
            .arg(request.namespace)
            .arg("--values")
            .arg(&values_file)
            .env("HELM_CACHE_HOME", scratch.0.join("cache"))
            .env("HELM_CONFIG_HOME", scratch.0.join("config"))
            .env("HELM_DATA_HOME", scratch.0.join("data"));
        if request.include_crds {
            command.arg("--include-crds");
        }
        if let Some(version) = request.kube_version {
            command.arg("--kube-version").arg(version);
        }
        for api in request.api_versions {
            command.arg("--api-versions").arg(api);
        }
        if notes {
            command.arg("--show-only").arg(NOTES_TEMPLATE);
        }
        if is_upgrade {
            command.arg("--is-upgrade");
        }
        if self.flags.no_hooks {
            command.arg("--no-hooks");
        }
        if let Some(config) = &self.flags.registry_config {
            command.arg("--registry-config").arg(config);
        }
        let output = command.output().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => HelmError::NotFound,
            _ => HelmError::Io(format!("{}: {e}", self.command.display())),
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr = stderr.replace(
                &chart.display().to_string(),
                &request.chart_dir.display().to_string(),
            );
            return Err(HelmError::Template(stderr.trim().to_owned()));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// helm-controller's release name: `spec.releaseName`, else `[targetNamespace-]name`, shortened
/// to 53 characters with a hash as helm-controller does.
pub fn release_name(release: &Value) -> String {
    let spec = |field: &str| {
        release
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let name = release
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let full = if !spec("releaseName").is_empty() {
        spec("releaseName").to_owned()
    } else if !spec("targetNamespace").is_empty() {
        format!("{}-{}", spec("targetNamespace"), name)
    } else {
        name.to_owned()
    };
    shorten_name(&full)
}

/// helm-controller `release.ShortenName`.
pub fn shorten_name(name: &str) -> String {
    use sha2::Digest;
    if name.len() <= 53 {
        return name.to_owned();
    }
    let sum = sha2::Sha256::digest(name.as_bytes());
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    let cut = name
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i <= 40)
        .last()
        .unwrap_or(0);
    format!("{}-{}", &name[..cut], &hex[..12])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn release_names() {
        assert_eq!(release_name(&json!({"metadata": {"name": "web"}})), "web");
        assert_eq!(
            release_name(
                &json!({"metadata": {"name": "web"}, "spec": {"targetNamespace": "apps"}})
            ),
            "apps-web"
        );
        assert_eq!(
            release_name(
                &json!({"metadata": {"name": "web"}, "spec": {"releaseName": "r", "targetNamespace": "a"}})
            ),
            "r"
        );
        let long = "a".repeat(60);
        let short = shorten_name(&long);
        assert_eq!(short.len(), 53);
        assert!(short.starts_with(&"a".repeat(40)));
    }
}
