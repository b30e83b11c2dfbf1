//! The `chart` of a stored release, as Helm's chart loader fills it from an unpacked chart
//! directory: `metadata` (Chart.yaml, in the Go struct's field order, empty fields left out),
//! `lock` (Chart.lock or requirements.lock), `templates` (every file under `templates/`, walked
//! in lexical order, without what `.helmignore` and its default `templates/.?*` leave out), `values` (values.yaml, keys sorted as Go writes a
//! map), `schema` (values.schema.json), `files` (everything else but `charts/`). Subcharts are not
//! stored (Helm does not store them either). Modification times are unknown through [`Fs`], so
//! they are left out as Go leaves out a zero time (`schemamodtime` is always written).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use capstan_core::{Fs, Map, Value};

/// A chart directory that does not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ChartError {
    pub path: String,
    pub reason: String,
}

fn error(path: &Path, reason: impl Into<String>) -> ChartError {
    ChartError {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Go's zero `time.Time` as JSON.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub use capstan_core::go_json::sorted;

fn read_yaml(fs: &dyn Fs, path: &Path) -> Result<Value, ChartError> {
    let text = fs
        .read_to_string(path)
        .map_err(|e| error(path, e.to_string()))?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    capstan_core::yaml::parse_document(&text).map_err(|e| error(path, e.message))
}

fn text(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Value::String(s.clone())),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(b) => Some(Value::String(b.to_string())),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Option<Value> {
    let items: Vec<Value> = v?
        .as_array()?
        .iter()
        .filter_map(|i| text(Some(i)).or(Some(Value::String(String::new()))))
        .collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

/// One `dependencies` entry (Chart.yaml or a lock), in the struct's field order.
fn dependency(d: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "name".into(),
        text(d.get("name")).unwrap_or_else(|| "".into()),
    );
    if let Some(v) = text(d.get("version")) {
        out.insert("version".into(), v);
    }
    out.insert(
        "repository".into(),
        text(d.get("repository")).unwrap_or_else(|| "".into()),
    );
    if let Some(v) = text(d.get("condition")) {
        out.insert("condition".into(), v);
    }
    if let Some(v) = strings(d.get("tags")) {
        out.insert("tags".into(), v);
    }
    if d.get("enabled").and_then(Value::as_bool) == Some(true) {
        out.insert("enabled".into(), true.into());
    }
    if let Some(v) = d
        .get("import-values")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        out.insert("import-values".into(), sorted(&Value::Array(v.clone())));
    }
    if let Some(v) = text(d.get("alias")) {
        out.insert("alias".into(), v);
    }
    Value::Object(out)
}

/// `metadata` from Chart.yaml, as Helm's `chart.Metadata` marshals.
pub fn metadata(chart_yaml: &Value) -> Value {
    let get = |k: &str| chart_yaml.get(k);
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.into(), v);
        }
    };
    put("name", text(get("name")));
    put("home", text(get("home")));
    put("sources", strings(get("sources")));
    put("version", text(get("version")));
    put("description", text(get("description")));
    put("keywords", strings(get("keywords")));
    put(
        "maintainers",
        get("maintainers")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .map(|a| {
                Value::Array(
                    a.iter()
                        .map(|m| {
                            let mut o = Map::new();
                            for k in ["name", "email", "url"] {
                                if let Some(v) = text(m.get(k)) {
                                    o.insert(k.into(), v);
                                }
                            }
                            Value::Object(o)
                        })
                        .collect(),
                )
            }),
    );
    put("icon", text(get("icon")));
    put(
        "apiVersion",
        Some(text(get("apiVersion")).unwrap_or_else(|| "v1".into())),
    );
    put("condition", text(get("condition")));
    put("tags", text(get("tags")));
    put("appVersion", text(get("appVersion")));
    put(
        "deprecated",
        (get("deprecated").and_then(Value::as_bool) == Some(true)).then_some(Value::Bool(true)),
    );
    put(
        "annotations",
        get("annotations")
            .and_then(Value::as_object)
            .filter(|a| !a.is_empty())
            .map(|a| {
                sorted(&Value::Object(
                    a.iter()
                        .map(|(k, v)| (k.clone(), text(Some(v)).unwrap_or_else(|| "".into())))
                        .collect(),
                ))
            }),
    );
    put("kubeVersion", text(get("kubeVersion")));
    put(
        "dependencies",
        get("dependencies")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .map(|a| Value::Array(a.iter().map(dependency).collect())),
    );
    put("type", text(get("type")));
    Value::Object(out)
}

fn lock(lock_yaml: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "generated".into(),
        text(lock_yaml.get("generated")).unwrap_or_else(|| ZERO_TIME.into()),
    );
    out.insert(
        "digest".into(),
        text(lock_yaml.get("digest")).unwrap_or_else(|| "".into()),
    );
    out.insert(
        "dependencies".into(),
        lock_yaml
            .get("dependencies")
            .and_then(Value::as_array)
            .map_or(Value::Null, |a| {
                Value::Array(a.iter().map(dependency).collect())
            }),
    );
    Value::Object(out)
}

fn file(name: &str, bytes: &[u8]) -> Value {
    serde_json::json!({"name": name, "data": B64.encode(bytes)})
}

/// One `.helmignore` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    pattern: String,
    negate: bool,
    dir_only: bool,
    /// Matched against the whole chart-relative path (the rule has a `/`), else the base name.
    whole_path: bool,
}

/// `.helmignore` as Helm's `ignore` package reads it, plus its default `templates/.?*`:
/// `#` comments, `!` negation, a trailing `/` for directories only, a rule with a `/` matched
/// against the chart-relative path, one without against the base name, `*` never crossing `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmIgnore {
    rules: Vec<Rule>,
}

impl HelmIgnore {
    pub fn parse(text: &str) -> HelmIgnore {
        let mut rules = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.contains("**") {
                continue;
            }
            let (negate, rest) = match line.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, line),
            };
            let (dir_only, rest) = match rest.strip_suffix('/') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let (whole_path, pattern) = match rest.strip_prefix('/') {
                Some(r) => (true, r),
                None => (rest.contains('/'), rest),
            };
            rules.push(Rule {
                pattern: pattern.to_owned(),
                negate,
                dir_only,
                whole_path,
            });
        }
        rules.push(Rule {
            pattern: "templates/.?*".into(),
            negate: false,
            dir_only: false,
            whole_path: true,
        });
        HelmIgnore { rules }
    }

    /// Whether the chart-relative `path` is left out (Helm's `Rules.Ignore`, negation as it
    /// evaluates it).
    pub fn ignores(&self, path: &str, is_dir: bool) -> bool {
        for rule in &self.rules {
            let target = if rule.whole_path {
                path
            } else {
                path.rsplit('/').next().unwrap_or(path)
            };
            let matched = path_match(&rule.pattern, target);
            if rule.negate {
                if (rule.dir_only && !is_dir) || !matched {
                    return true;
                }
                continue;
            }
            if rule.dir_only && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

/// Go's `filepath.Match` for the patterns charts use: segment by segment, `*` and `?` within a
/// segment.
fn path_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let t: Vec<&str> = path.split('/').collect();
    p.len() == t.len()
        && p.iter()
            .zip(&t)
            .all(|(p, t)| capstan_core::wildcard::glob_match(p, t))
}

/// Every file under `dir` as (chart-relative name, path), in `filepath.Walk`'s lexical order,
/// without what `.helmignore` leaves out.
fn walk(
    fs: &dyn Fs,
    dir: &Path,
    prefix: &str,
    ignore: &HelmIgnore,
    out: &mut Vec<(String, std::path::PathBuf)>,
    depth: usize,
) -> Result<(), ChartError> {
    if depth > 32 {
        return Err(error(dir, "directories nested too deeply"));
    }
    for entry in fs.read_dir(dir).map_err(|e| error(dir, e.to_string()))? {
        let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let rel = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        let is_dir = fs.is_dir(&entry);
        if ignore.ignores(&rel, is_dir) {
            continue;
        }
        if is_dir {
            walk(fs, &entry, &rel, ignore, out, depth + 1)?;
        } else {
            out.push((rel, entry));
        }
    }
    Ok(())
}

/// What a release stores of the chart in `dir`.
pub fn chart_json(fs: &dyn Fs, dir: &Path) -> Result<Value, ChartError> {
    let chart_yaml = dir.join("Chart.yaml");
    if !fs.is_file(&chart_yaml) {
        return Err(error(&chart_yaml, "Chart.yaml file is missing"));
    }
    let meta = read_yaml(fs, &chart_yaml)?;
    let ignore_file = dir.join(".helmignore");
    let ignore = if fs.is_file(&ignore_file) {
        HelmIgnore::parse(
            &fs.read_to_string(&ignore_file)
                .map_err(|e| error(&ignore_file, e.to_string()))?,
        )
    } else {
        HelmIgnore::parse("")
    };
    let mut files = Vec::new();
    walk(fs, dir, "", &ignore, &mut files, 0)?;
    let mut lock_value = Value::Null;
    let mut templates = Vec::new();
    let mut others = Vec::new();
    let mut values = Value::Null;
    let mut schema = Value::Null;
    for (name, path) in &files {
        // Helm drops a UTF-8 byte order mark.
        let read = || {
            fs.read(path)
                .map(|b| {
                    b.strip_prefix(b"\xEF\xBB\xBF")
                        .map_or(b.clone(), <[u8]>::to_vec)
                })
                .map_err(|e| error(path, e.to_string()))
        };
        match name.as_str() {
            "Chart.yaml" => {}
            "Chart.lock" | "requirements.lock" => lock_value = lock(&read_yaml(fs, path)?),
            "requirements.yaml" => {}
            "values.yaml" => {
                let v = read_yaml(fs, path)?;
                if !v.is_object() && !v.is_null() {
                    return Err(error(path, "values.yaml is not a map"));
                }
                values = sorted(&if v.is_null() {
                    Value::Object(Map::new())
                } else {
                    v
                });
            }
            "values.schema.json" => schema = Value::String(B64.encode(read()?)),
            n if n.starts_with("templates/") => templates.push(file(n, &read()?)),
            n if n.starts_with("charts/") => {
                if n.ends_with(".prov") {
                    others.push(file(n, &read()?));
                }
            }
            n => others.push(file(n, &read()?)),
        }
    }
    let mut out = Map::new();
    out.insert("metadata".into(), metadata(&meta));
    out.insert("lock".into(), lock_value);
    out.insert(
        "templates".into(),
        if templates.is_empty() {
            Value::Null
        } else {
            Value::Array(templates)
        },
    );
    out.insert("values".into(), values);
    out.insert("schema".into(), schema);
    out.insert("schemamodtime".into(), ZERO_TIME.into());
    out.insert(
        "files".into(),
        if others.is_empty() {
            Value::Null
        } else {
            Value::Array(others)
        },
    );
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::MemFs;

    #[test]
    fn metadata_in_the_go_struct_order_without_empty_fields() {
        let yaml = capstan_core::yaml::parse_document(
            "version: 1.2.3\nname: demo\napiVersion: v2\nappVersion: 4.5\ndescription: ''\nannotations: {b: x, a: y}\n",
        )
        .expect("yaml");
        let m = metadata(&yaml);
        assert_eq!(
            capstan_core::go_json::to_string(&m, capstan_core::go_json::Keys::AsHeld),
            r#"{"name":"demo","version":"1.2.3","apiVersion":"v2","appVersion":"4.5","annotations":{"a":"y","b":"x"}}"#
        );
    }

    #[test]
    fn helmignore_rules_as_helm_reads_them() {
        let ignore = HelmIgnore::parse("# comment\n.git/\n*.tgz\n/secret.txt\ndocs/*.md\n");
        assert!(ignore.ignores(".git", true));
        assert!(!ignore.ignores(".git", false), "a directory rule");
        assert!(ignore.ignores("charts/sub-1.0.0.tgz", false), "base name");
        assert!(ignore.ignores("secret.txt", false));
        assert!(ignore.ignores("docs/a.md", false));
        assert!(
            !ignore.ignores("docs/deep/a.md", false),
            "* does not cross /"
        );
        assert!(
            ignore.ignores("templates/.hidden.yaml", false),
            "the default rule"
        );
        assert!(!ignore.ignores("templates/a.yaml", false));
        assert!(!ignore.ignores("README.md", false));
    }

    #[test]
    fn templates_values_and_files_sorted_as_the_loader_reads_them() {
        let fs = MemFs::new();
        fs.add_file("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n");
        fs.add_file("c/values.yaml", "z: 1\na: {y: 2, b: 3}\n");
        fs.add_file("c/templates/b.yaml", "kind: B\n");
        fs.add_file("c/templates/a.yaml", "kind: A\n");
        fs.add_file("c/templates/.hidden", "x");
        fs.add_file("c/README.md", "\u{feff}hi");
        fs.add_file("c/.helmignore", "*.tgz\n");
        fs.add_file("c/big.tgz", "x");
        fs.add_file("c/charts/sub/Chart.yaml", "name: sub\n");
        let chart = chart_json(&fs, Path::new("c")).expect("loads");
        let names: Vec<&str> = chart["templates"]
            .as_array()
            .expect("templates")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(names, ["templates/a.yaml", "templates/b.yaml"]);
        assert_eq!(
            serde_json::to_string(&chart["values"]).expect("json"),
            r#"{"a":{"b":3,"y":2},"z":1}"#
        );
        let files: Vec<&str> = chart["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(files, [".helmignore", "README.md"]);
        assert_eq!(chart["files"][1]["data"], B64.encode("hi"), "BOM dropped");
        assert_eq!(chart["lock"], Value::Null);
        assert_eq!(chart["schema"], Value::Null);
        let missing = chart_json(&fs, Path::new("nope")).expect_err("no chart");
        assert!(missing.reason.contains("Chart.yaml"), "{missing}");
    }
}
