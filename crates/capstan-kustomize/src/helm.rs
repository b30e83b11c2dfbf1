//! `helmCharts:`: inflating a chart with `helm template`, as kustomize's
//! HelmChartInflationGenerator does, only with `--enable-helm`. The chart is looked up at
//! `<chartHome>/<name>` (`<chartHome>/<name>-<version>/<name>` when both `version` and `repo`
//! are set, kustomize's layout for pulled charts); a missing chart is pulled with `helm pull`
//! when `repo` is given. Because the engine reads through [`Fs`], the chart and the values
//! files are copied into a private temporary directory before `helm` runs, so in-memory and
//! git-tree file systems inflate charts the same way the OS one does; a pulled chart lives in
//! that directory only for the build. `valuesInline` is merged over the values file as
//! kustomize does: `override` (the default) lets inline values win, `merge` lets the file's
//! values win, `replace` drops the file.

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_core::{Fs, Map, Value};

use crate::error::{Error, Result};
use crate::kustomization::{HelmChart, HelmGlobals};
use crate::loader::Loader;
use crate::resmap::ResMap;

/// kustomize's default `helmGlobals.chartHome`.
const DEFAULT_CHART_HOME: &str = "charts";

/// Renders one chart.
pub fn inflate(loader: &Loader<'_>, globals: &HelmGlobals, chart: &HelmChart) -> Result<ResMap> {
    if !loader.options().enable_helm {
        return Err(Error::Helm {
            message: "must specify --enable-helm".into(),
        });
    }
    if chart.name.is_empty() {
        return Err(Error::Helm {
            message: "chart name cannot be empty".into(),
        });
    }
    let merge = match chart.values_merge.as_str() {
        "" | "override" => ValuesMerge::Override,
        "merge" => ValuesMerge::Merge,
        "replace" => ValuesMerge::Replace,
        _ => {
            return Err(Error::Helm {
                message: "valuesMerge must be one of [merge override replace]".into(),
            });
        }
    };
    let chart_home = if globals.chart_home.is_empty() {
        DEFAULT_CHART_HOME
    } else {
        globals.chart_home.as_str()
    };
    let mut abs_home = capstan_core::fs::normalize(&loader.root().join(chart_home));
    if !chart.version.is_empty() && !chart.repo.is_empty() {
        abs_home = abs_home.join(format!("{}-{}", chart.name, chart.version));
    }
    let values_path = if chart.values_file.is_empty() {
        abs_home.join(&chart.name).join("values.yaml")
    } else {
        PathBuf::from(&chart.values_file)
    };
    let mut additional = Vec::new();
    for file in &chart.additional_values_files {
        let bytes = loader.load(file).map_err(|e| Error::Context {
            context: "could not load additionalValuesFile".into(),
            source: Box::new(e),
        })?;
        additional.push((file.clone(), bytes));
    }

    let tmp = tempfile::Builder::new()
        .prefix("capstan-helm-")
        .tempdir()
        .map_err(|e| helm_err(format!("cannot create a temporary directory: {e}")))?;
    let work = tmp.path();
    let config_home = if globals.config_home.is_empty() {
        work.join("helm")
    } else {
        PathBuf::from(&globals.config_home)
    };
    let helm = Helm {
        command: &loader.options().helm_command,
        config_home: &config_home,
    };
    helm.check_version()?;

    let local_home = work.join("charts");
    let chart_src = abs_home.join(&chart.name);
    let fs = loader.fs();
    if fs.is_dir(&chart_src) {
        copy_tree(fs, &chart_src, &local_home.join(&chart.name))?;
    } else if chart.repo.is_empty() {
        return Err(helm_err(format!(
            "no repo specified for pull, no chart found at '{}'",
            chart_src.display()
        )));
    } else {
        helm.run(&pull_args(chart, &local_home)).map_err(|e| {
            helm_err(format!(
                "cannot pull chart '{}' (version '{}') from repo '{}': {e}",
                chart.name, chart.version, chart.repo
            ))
        })?;
    }

    let values_bytes = match &chart.values_inline {
        Some(inline) if !inline.is_empty() => {
            let merged = match merge {
                ValuesMerge::Replace => Value::Object(inline.clone()),
                ValuesMerge::Override | ValuesMerge::Merge => {
                    let file =
                        parse_values(&loader.load(&values_path.to_string_lossy())?, &values_path)?;
                    let inline = Value::Object(inline.clone());
                    if merge == ValuesMerge::Override {
                        merge_values(file, inline)
                    } else {
                        merge_values(inline, file)
                    }
                }
            };
            capstan_core::yaml::to_yaml(&merged).into_bytes()
        }
        _ => loader.load(&values_path.to_string_lossy())?,
    };
    let values_out = work.join(format!("{}-kustomize-values.yaml", chart.name));
    write(&values_out, &values_bytes)?;
    let mut extra = Vec::new();
    for (i, (_, bytes)) in additional.iter().enumerate() {
        let path = work.join(format!("additional-values-{i}.yaml"));
        write(&path, bytes)?;
        extra.push(path);
    }

    let args = template_args(chart, &local_home.join(&chart.name), &values_out, &extra);
    let stdout = helm.run(&args)?;
    parse_output(&stdout, &chart.name)
}

/// How `valuesInline` combines with the values file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValuesMerge {
    Override,
    Merge,
    Replace,
}

/// The `helm` binary with kustomize's environment.
struct Helm<'a> {
    command: &'a str,
    config_home: &'a Path,
}

impl Helm<'_> {
    /// Runs helm, returning stdout or an error carrying stderr and the command line.
    fn run(&self, args: &[String]) -> Result<Vec<u8>> {
        let home = self.config_home.display().to_string();
        let output = Command::new(self.command)
            .args(args)
            .env("HELM_CONFIG_HOME", &home)
            .env("HELM_CACHE_HOME", format!("{home}/.cache"))
            .env("HELM_DATA_HOME", format!("{home}/.data"))
            .output()
            .map_err(|e| {
                helm_err(format!(
                    "unable to run: '{} {}' (is '{}' installed?): {e}",
                    self.command,
                    args.join(" "),
                    self.command
                ))
            })?;
        if !output.status.success() {
            return Err(helm_err(format!(
                "{}: unable to run: '{} {}': {}",
                String::from_utf8_lossy(&output.stderr).trim_end(),
                self.command,
                args.join(" "),
                output.status
            )));
        }
        Ok(output.stdout)
    }

    /// kustomize refuses helm v2; v3 and v4 render charts alike for `template`.
    fn check_version(&self) -> Result<()> {
        let out = self.run(&["version".to_owned(), "--short".to_owned()])?;
        let text = String::from_utf8_lossy(&out);
        let version = text.trim().trim_start_matches('v');
        let major = version.split('.').next().unwrap_or_default();
        match major.parse::<u32>() {
            Ok(n) if n >= 3 => Ok(()),
            _ => Err(helm_err(format!(
                "this plugin requires helm V3 but got {}",
                text.trim()
            ))),
        }
    }
}

/// `helm pull` into `home`, as kustomize builds it.
fn pull_args(chart: &HelmChart, home: &Path) -> Vec<String> {
    let mut args = vec![
        "pull".to_owned(),
        "--untar".to_owned(),
        "--untardir".to_owned(),
        home.display().to_string(),
    ];
    if chart.repo.starts_with("oci://") {
        args.push(format!(
            "{}/{}",
            chart.repo.trim_end_matches('/'),
            chart.name
        ));
    } else {
        args.push("--repo".to_owned());
        args.push(chart.repo.clone());
        args.push(chart.name.clone());
    }
    if !chart.version.is_empty() {
        args.push("--version".to_owned());
        args.push(chart.version.clone());
    }
    args
}

/// `helm template`, with kustomize's flags in kustomize's order.
fn template_args(chart: &HelmChart, path: &Path, values: &Path, extra: &[PathBuf]) -> Vec<String> {
    let mut args = vec!["template".to_owned()];
    if chart.release_name.is_empty() {
        args.push("--generate-name".to_owned());
    } else {
        args.push(chart.release_name.clone());
    }
    args.push(path.display().to_string());
    let mut flag = |name: &str, value: &str| {
        args.push(name.to_owned());
        args.push(value.to_owned());
    };
    if !chart.namespace.is_empty() {
        flag("--namespace", &chart.namespace);
    }
    if !chart.name_template.is_empty() {
        flag("--name-template", &chart.name_template);
    }
    flag("-f", &values.display().to_string());
    for file in extra {
        flag("-f", &file.display().to_string());
    }
    for api in &chart.api_versions {
        flag("--api-versions", api);
    }
    if !chart.kube_version.is_empty() {
        flag("--kube-version", &chart.kube_version);
    }
    for (on, name) in [
        (chart.include_crds, "--include-crds"),
        (chart.skip_tests, "--skip-tests"),
        (chart.skip_hooks, "--no-hooks"),
        (chart.debug, "--debug"),
    ] {
        if on {
            args.push(name.to_owned());
        }
    }
    args
}

/// Parses helm's output as resources in order; like kustomize, text helm printed before the
/// first `---` is dropped when the whole output does not parse.
fn parse_output(stdout: &[u8], chart: &str) -> Result<ResMap> {
    let file = PathBuf::from(format!("helm template {chart}"));
    match crate::target::read_resources(stdout, &file) {
        Ok(resources) => Ok(ResMap::from_iter(resources)),
        Err(first) => {
            let text = String::from_utf8_lossy(stdout);
            let Some(at) = text.find("\n---") else {
                return Err(first);
            };
            let resources = crate::target::read_resources(text[at + 1..].as_bytes(), &file)?;
            Ok(ResMap::from_iter(resources))
        }
    }
}

/// Reads a values file; an empty file is an empty map.
fn parse_values(bytes: &[u8], path: &Path) -> Result<Value> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::msg(format!("{}: not valid UTF-8: {e}", path.display())))?;
    let docs = capstan_core::yaml::parse_documents(text).map_err(|e| Error::Yaml {
        file: path.to_path_buf(),
        line: e.line,
        source: e,
    })?;
    match docs.into_iter().next() {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(helm_err(format!(
            "could not parse values file {}: not a mapping",
            path.display()
        ))),
    }
}

/// Merges `over` onto `base`: maps merge key by key, a null in `over` removes the key, and
/// anything else (lists included) in `over` replaces what `base` has.
fn merge_values(base: Value, over: Value) -> Value {
    match (base, over) {
        (Value::Object(mut base), Value::Object(over)) => {
            for (key, value) in over {
                if value.is_null() {
                    base.remove(&key);
                    continue;
                }
                let merged = match base.remove(&key) {
                    Some(old) => merge_values(old, value),
                    None => value,
                };
                base.insert(key, merged);
            }
            Value::Object(base)
        }
        (_, over) => over,
    }
}

/// Copies the directory `from` of `fs` to `to` on disk.
fn copy_tree(fs: &dyn Fs, from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| io_err(to, e))?;
    let entries = fs.read_dir(from).map_err(|source| Error::Io {
        path: from.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let Some(name) = entry.file_name() else {
            continue;
        };
        let dest = to.join(name);
        if fs.is_dir(&entry) {
            copy_tree(fs, &entry, &dest)?;
        } else {
            let bytes = fs.read(&entry).map_err(|source| Error::Io {
                path: entry.clone(),
                source,
            })?;
            write(&dest, &bytes)?;
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| io_err(path, e))
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    helm_err(format!("cannot write {}: {e}", path.display()))
}

fn helm_err(message: String) -> Error {
    Error::Helm { message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inline_values_override_or_fill() {
        let file = json!({"a": 1, "m": {"x": 1, "y": 2}, "l": [1, 2], "gone": 1});
        let inline = json!({"a": 2, "m": {"y": 3}, "l": [9], "gone": null});
        assert_eq!(
            merge_values(file.clone(), inline.clone()),
            json!({"a": 2, "m": {"x": 1, "y": 3}, "l": [9]})
        );
        assert_eq!(
            merge_values(inline, file),
            json!({"a": 1, "m": {"x": 1, "y": 2}, "l": [1, 2], "gone": 1})
        );
    }
}
