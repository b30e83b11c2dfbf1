//! `app add` / `app remove` in the per-app layout most home-ops repositories use today (the
//! cluster template's): each app in `<apps tree>/<namespace>/<app>/`, holding the app's own Flux
//! Kustomization file (`ks.yaml`, `app.ks.yaml`, …) whose `spec.path` is a subfolder of it
//! (`app/`) with the HelmRelease, and registered by a line in the namespace folder's
//! `kustomization.yaml` (`- ./<app>/ks.yaml`, or `- ./<app>` with a `kustomization.yaml` in the
//! app's folder).
//!
//! Nothing is hard-coded per repository: the layout is recognised from the Flux Kustomizations
//! whose path lies in their own file's folder, and a new app is written in the shape of a
//! neighbour (the simplest app of the same namespace): the same file names, the same registration
//! line, its Kustomization's fields, its HelmRelease's chart reference (and the OCIRepository
//! beside it, when each app has its own). `app remove` deletes the app's folder and its line, so
//! add then remove leaves the repository byte for byte as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan_core::{Fs, Value};
use serde_json::json;

use super::add::{AddPlan, AddRequest, invalid, slash_path};
use super::changes::{ChangeSet, FileChange};
use super::conventions::Conventions;
use super::index::{FluxKustomization, RepoIndex};
use super::names::{check_dns1123_label, parse_pinned_image};
use super::remove::{collect_files, deletion};
use super::templates::AppSpec;
use super::{ScaffoldError, list_names};

/// One app of the layout.
#[derive(Debug, Clone)]
pub struct NestedApp {
    /// `<apps tree>/<namespace>`.
    pub namespace_dir: PathBuf,
    /// `<apps tree>/<namespace>/<app>`.
    pub dir: PathBuf,
    /// The app's Flux Kustomization (the first one its file declares).
    pub ks: FluxKustomization,
}

impl NestedApp {
    /// The folder name (the app's name).
    pub fn name(&self) -> String {
        file_name(&self.dir)
    }

    /// The namespace folder's name.
    pub fn namespace(&self) -> String {
        file_name(&self.namespace_dir)
    }
}

/// The per-app layout, as found.
#[derive(Debug, Clone)]
pub struct Nested {
    /// `apps` or `kubernetes/apps`.
    pub apps_root: PathBuf,
    pub apps: Vec<NestedApp>,
}

/// Recognises the layout: at least two Flux Kustomizations whose `spec.path` is a subfolder of
/// their own file's folder, that folder two levels under a common apps tree.
pub fn detect(index: &RepoIndex) -> Option<Nested> {
    let mut by_root: BTreeMap<PathBuf, Vec<NestedApp>> = BTreeMap::new();
    for ks in &index.kustomizations {
        let Some(dir) = ks.file.parent() else {
            continue;
        };
        let Some(path) = ks.repo_path() else {
            continue;
        };
        if path.parent() != Some(dir) || dir.components().count() < 3 {
            continue;
        }
        let Some(namespace_dir) = dir.parent() else {
            continue;
        };
        let Some(apps_root) = namespace_dir.parent() else {
            continue;
        };
        let apps = by_root.entry(apps_root.to_path_buf()).or_default();
        if apps.iter().any(|a| a.dir == dir) {
            continue;
        }
        apps.push(NestedApp {
            namespace_dir: namespace_dir.to_path_buf(),
            dir: dir.to_path_buf(),
            ks: ks.clone(),
        });
    }
    let (apps_root, apps) = by_root.into_iter().max_by_key(|(_, apps)| apps.len())?;
    (apps.len() >= 2).then_some(Nested { apps_root, apps })
}

/// Plans `app add` in the per-app layout.
pub fn plan_add(
    fs: &dyn Fs,
    root: &Path,
    request: &AddRequest,
    nested: &Nested,
) -> Result<AddPlan, ScaffoldError> {
    let image =
        parse_pinned_image(&request.image).map_err(|reason| ScaffoldError::UnpinnedImage {
            image: request.image.clone(),
            reason,
        })?;
    // app-template values for routes and volumes differ per repository: not guessed
    for (flag, given) in [
        ("--ingress-host", request.ingress_host.as_deref()),
        ("--storage", request.storage.as_deref()),
    ] {
        if let Some(value) = given {
            return Err(invalid(
                flag,
                value,
                "not written in the per-app layout yet; add the app without it, then edit its \
                 HelmRelease's values"
                    .into(),
            ));
        }
    }
    let namespaces: Vec<String> = {
        let mut names: Vec<String> = nested.apps.iter().map(NestedApp::namespace).collect();
        names.sort();
        names.dedup();
        names
    };
    let Some(namespace) = request.namespace.clone() else {
        return Err(invalid(
            "--namespace",
            "",
            format!(
                "apps in {} live in a namespace folder; pick one with --namespace ({})",
                nested.apps_root.display(),
                list_names(&namespaces, 12)
            ),
        ));
    };
    check_dns1123_label(&namespace).map_err(|reason| invalid("--namespace", &namespace, reason))?;
    let namespace_dir = nested.apps_root.join(&namespace);
    let register_file = namespace_dir.join("kustomization.yaml");
    if !fs.is_file(&root.join(&register_file)) {
        return Err(invalid(
            "--namespace",
            &namespace,
            format!(
                "{} has no kustomization.yaml listing its apps; namespaces with apps: {}",
                namespace_dir.display(),
                list_names(&namespaces, 12)
            ),
        ));
    }
    let app_dir = namespace_dir.join(&request.name);
    if fs.exists(&root.join(&app_dir)) {
        return Err(ScaffoldError::AppExists {
            name: request.name.clone(),
            what: format!("{} already exists", app_dir.display()),
        });
    }
    let mut notes = Vec::new();
    for other in nested.apps.iter().filter(|a| a.name() == request.name) {
        notes.push(format!(
            "warning: an app named {} is already in namespace {} ({}); both are kept, in \
             different namespaces",
            request.name,
            other.namespace(),
            other.dir.display()
        ));
    }

    // The neighbour whose shape the app takes: the simplest app of the namespace, else of any.
    let neighbours: Vec<&NestedApp> = {
        let same: Vec<&NestedApp> = nested
            .apps
            .iter()
            .filter(|a| a.namespace_dir == namespace_dir)
            .collect();
        if same.is_empty() {
            nested.apps.iter().collect()
        } else {
            same
        }
    };
    let release_of = |app: &NestedApp| release_in(fs, root, app);
    let neighbour = neighbours
        .iter()
        .filter(|a| release_of(a).is_some())
        .min_by_key(|a| (complexity(&a.ks.object), a.name()))
        .or_else(|| neighbours.first())
        .copied()
        .ok_or_else(|| invalid("--namespace", &namespace, "no app to learn from".into()))?;
    let old = neighbour.name();
    let sub = neighbour
        .ks
        .repo_path()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".to_owned());
    notes.push(format!(
        "apps tree {}/ ({} apps); written like {} ({})",
        nested.apps_root.display(),
        nested.apps.len(),
        old,
        neighbour.dir.display()
    ));

    let mut changes = ChangeSet::default();
    // The app's Flux Kustomization, in the neighbour's file name and fields.
    let ks_file_name = file_name(&neighbour.ks.file);
    let ks_text = read(fs, root, &neighbour.ks.file)?;
    let mut ks = neighbour.ks.object.clone();
    set(&mut ks, "/metadata/name", json!(request.name));
    let app_path = format!("./{}/{sub}", slash_path(&app_dir));
    set(&mut ks, "/spec/path", json!(app_path));
    if ks
        .pointer("/spec/postBuild/substitute/APP")
        .and_then(Value::as_str)
        == Some(old.as_str())
    {
        set(
            &mut ks,
            "/spec/postBuild/substitute/APP",
            json!(request.name),
        );
    }
    if ks.pointer("/spec/targetNamespace").is_some() {
        set(&mut ks, "/spec/targetNamespace", json!(namespace));
    }
    let shared = |field: &str| -> Option<Value> {
        let first = neighbour.ks.object.pointer(field)?;
        nested
            .apps
            .iter()
            .all(|a| a.ks.object.pointer(field) == Some(first))
            .then(|| first.clone())
    };
    if let Some(spec) = ks.get_mut("spec").and_then(Value::as_object_mut) {
        match (&request.depends_on, shared("/spec/dependsOn")) {
            (Some(list), _) => {
                let entries: Vec<Value> = list.iter().map(|n| json!({"name": n})).collect();
                spec.insert("dependsOn".into(), Value::Array(entries));
            }
            (None, Some(common)) => {
                spec.insert("dependsOn".into(), common);
            }
            (None, None) => {
                // what every app depends on is kept; the neighbour's own needs are not
                spec.remove("dependsOn");
            }
        }
        if spec.contains_key("components") && shared("/spec/components").is_none() {
            spec.remove("components");
        }
    }
    changes.push(FileChange::Create {
        path: app_dir.join(&ks_file_name),
        contents: format!("{}{}", header(&ks_text), yaml_like(&ks, &ks_text)),
    });
    // A kustomization.yaml in the app's folder, when the neighbour has one (`- ./<app>` lines).
    let own_kustomization = neighbour.dir.join("kustomization.yaml");
    if fs.is_file(&root.join(&own_kustomization)) {
        let text = read(fs, root, &own_kustomization)?;
        changes.push(FileChange::Create {
            path: app_dir.join("kustomization.yaml"),
            contents: rename(&text, &old, &request.name),
        });
    }

    // The app's folder: a HelmRelease of the neighbour's chart, its OCIRepository when each app
    // has one, and the kustomization listing them.
    let (release_file, release) = release_of(neighbour).ok_or_else(|| {
        invalid(
            "--namespace",
            &namespace,
            format!(
                "{} has no HelmRelease to take the chart from",
                neighbour.dir.display()
            ),
        )
    })?;
    let mut files = Vec::new();
    let mut chart_ref = release
        .pointer("/spec/chartRef")
        .cloned()
        .unwrap_or(Value::Null);
    let neighbour_app_dir = neighbour.dir.join(&sub);
    if chart_ref.get("name").and_then(Value::as_str) == Some(old.as_str())
        && let Some((file, text)) = oci_repository_in(fs, root, &neighbour_app_dir, &old)
    {
        set(&mut chart_ref, "/name", json!(request.name));
        let name = file_name(&file);
        changes.push(FileChange::Create {
            path: app_dir.join(&sub).join(&name),
            contents: rename(&text, &old, &request.name),
        });
        files.push(name);
    }
    let release_text = read(fs, root, &release_file)?;
    let mut controller = json!({
        "containers": {"app": {"image": {"repository": image.repository}}}
    });
    let tag = match (&image.tag, &image.digest) {
        (Some(tag), Some(digest)) => format!("{tag}@{digest}"),
        (Some(tag), None) => tag.clone(),
        (None, Some(digest)) => digest.clone(),
        (None, None) => String::new(),
    };
    set(&mut controller, "/containers/app/image/tag", json!(tag));
    if request.replicas != 1 {
        set(&mut controller, "/replicas", json!(request.replicas));
    }
    let mut spec = serde_json::Map::new();
    if !chart_ref.is_null() {
        spec.insert("chartRef".into(), chart_ref);
    } else if let Some(chart) = release.pointer("/spec/chart") {
        spec.insert("chart".into(), chart.clone());
    }
    if let Some(interval) = release.pointer("/spec/interval") {
        spec.insert("interval".into(), interval.clone());
    }
    spec.insert(
        "values".into(),
        json!({
            "controllers": {request.name.clone(): controller},
            "service": {"app": {"ports": {"http": {"port": request.port}}}},
        }),
    );
    let hr = json!({
        "apiVersion": release.get("apiVersion").cloned().unwrap_or(json!("helm.toolkit.fluxcd.io/v2")),
        "kind": "HelmRelease",
        "metadata": {"name": request.name},
        "spec": Value::Object(spec),
    });
    let release_name = file_name(&release_file);
    changes.push(FileChange::Create {
        path: app_dir.join(&sub).join(&release_name),
        contents: format!("{}{}", header(&release_text), yaml_like(&hr, &release_text)),
    });
    files.insert(0, release_name);
    let app_kustomization = neighbour_app_dir.join("kustomization.yaml");
    let app_kustomization_text = read(fs, root, &app_kustomization).unwrap_or_default();
    let dot = resources_of(&app_kustomization_text)
        .first()
        .is_none_or(|entry| entry.starts_with("./"));
    let resources: Vec<Value> = files
        .iter()
        .map(|f| json!(if dot { format!("./{f}") } else { f.clone() }))
        .collect();
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    changes.push(FileChange::Create {
        path: app_dir.join(&sub).join("kustomization.yaml"),
        contents: format!(
            "{}{}",
            header(&app_kustomization_text),
            yaml_like(&kustomization, &app_kustomization_text)
        ),
    });

    // The registration line in the namespace's kustomization.yaml, in the neighbours' form.
    let before = read(fs, root, &register_file)?;
    let after =
        register(&before, &nested.apps, &namespace_dir, &request.name).ok_or_else(|| {
            invalid(
                "--namespace",
                &namespace,
                format!(
                    "{} lists no app to learn the registration line from",
                    register_file.display()
                ),
            )
        })?;
    changes.push(FileChange::Modify {
        path: register_file.clone(),
        before,
        after,
    });

    let kustomization_name = request.name.clone();
    let conventions = Conventions {
        api_version: ks
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("kustomize.toolkit.fluxcd.io/v1")
            .to_owned(),
        interval: ks
            .pointer("/spec/interval")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        source_ref: ks
            .pointer("/spec/sourceRef")
            .cloned()
            .unwrap_or(Value::Null),
        siblings: nested.apps.iter().map(NestedApp::name).collect(),
        notes,
        ..Conventions::nested(register_file, namespace_dir, Some(namespace.clone()))
    };
    Ok(AddPlan {
        app: AppSpec {
            name: request.name.clone(),
            namespace,
            image: request.image.clone(),
            port: request.port,
            replicas: request.replicas,
            host: None,
            storage: None,
            create_namespace: false,
            kustomization_name,
            depends_on: request.depends_on.clone().unwrap_or_default(),
        },
        app_dir,
        conventions,
        changes,
        notes: Vec::new(),
    })
}

/// The files and the line `app remove` takes out for the app named `name` (its folder or its
/// Kustomization's name): its whole folder, and its line in the namespace's kustomization.yaml.
pub fn plan_remove(
    fs: &dyn Fs,
    root: &Path,
    name: &str,
    index: &RepoIndex,
    nested: &Nested,
) -> Result<(NestedApp, ChangeSet), ScaffoldError> {
    let found: Vec<&NestedApp> = nested
        .apps
        .iter()
        .filter(|a| a.name() == name || a.ks.name == name)
        .collect();
    let app = match found.as_slice() {
        [one] => (*one).clone(),
        [] => {
            let names: Vec<String> = nested.apps.iter().map(NestedApp::name).collect();
            return Err(ScaffoldError::AppNotFound {
                name: name.to_owned(),
                apps_file: nested.apps_root.clone(),
                known: format!(" (it holds {})", list_names(&names, 12)),
            });
        }
        many => {
            let places: Vec<String> = many.iter().map(|a| a.dir.display().to_string()).collect();
            return Err(ScaffoldError::AppExists {
                name: name.to_owned(),
                what: format!(
                    "it is in several namespaces ({}); remove one by hand",
                    list_names(&places, 5)
                ),
            });
        }
    };
    // Kustomizations that wait for it would never become ready again.
    let dependents: Vec<String> = index
        .kustomizations
        .iter()
        .filter(|k| k.file != app.ks.file)
        .filter(|k| {
            k.depends_on.iter().any(|(dep, ns)| {
                *dep == app.ks.name
                    && match ns {
                        Some(ns) => *ns == app.namespace(),
                        None => k.file.starts_with(&app.namespace_dir),
                    }
            })
        })
        .map(|k| format!("{} ({})", k.name, k.file.display()))
        .collect();
    if !dependents.is_empty() {
        return Err(ScaffoldError::HasDependents {
            name: app.ks.name.clone(),
            dependents: list_names(&dependents, 10),
        });
    }
    let register_file = app.namespace_dir.join("kustomization.yaml");
    let before = read(fs, root, &register_file)?;
    let after = unregister(&before, &app.name()).ok_or_else(|| ScaffoldError::AppNotFound {
        name: name.to_owned(),
        apps_file: register_file.clone(),
        known: " (no resources line names its folder)".to_owned(),
    })?;
    let mut changes = ChangeSet::default();
    changes.push(FileChange::Modify {
        path: register_file,
        before,
        after,
    });
    let mut files = Vec::new();
    collect_files(fs, root, &root.join(&app.dir), 0, &mut files)?;
    files.sort();
    for path in files {
        changes.push(deletion(fs, root, &path)?);
    }
    Ok((app, changes))
}

/// A measure of how much an app's Kustomization carries beyond the common fields.
fn complexity(ks: &Value) -> usize {
    let spec = ks.get("spec").and_then(Value::as_object);
    let count = |field: &str| {
        spec.and_then(|s| s.get(field))
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    count("components") * 2 + count("dependsOn") + spec.map_or(0, |s| s.len())
}

/// The HelmRelease in an app's Kustomization path: its file and manifest.
fn release_in(fs: &dyn Fs, root: &Path, app: &NestedApp) -> Option<(PathBuf, Value)> {
    let dir = app.ks.repo_path()?;
    let mut entries = fs.read_dir(&root.join(&dir)).ok()?;
    entries.sort();
    entries.into_iter().find_map(|file| {
        let text = fs.read_to_string(&file).ok()?;
        let docs = capstan_core::yaml::parse_documents(&text).ok()?;
        let release = docs
            .into_iter()
            .find(|d| d.get("kind").and_then(Value::as_str) == Some("HelmRelease"))?;
        Some((
            file.strip_prefix(root).unwrap_or(&file).to_path_buf(),
            release,
        ))
    })
}

/// The OCIRepository named `name` in `dir`: its file (relative to the root) and text.
fn oci_repository_in(
    fs: &dyn Fs,
    root: &Path,
    dir: &Path,
    name: &str,
) -> Option<(PathBuf, String)> {
    let mut entries = fs.read_dir(&root.join(dir)).ok()?;
    entries.sort();
    entries.into_iter().find_map(|file| {
        let text = fs.read_to_string(&file).ok()?;
        let docs = capstan_core::yaml::parse_documents(&text).ok()?;
        let only = docs.len() == 1
            && docs[0].get("kind").and_then(Value::as_str) == Some("OCIRepository")
            && docs[0].pointer("/metadata/name").and_then(Value::as_str) == Some(name);
        only.then(|| (file.strip_prefix(root).unwrap_or(&file).to_path_buf(), text))
    })
}

/// `value` as YAML in the style of `like` (a neighbour's text): block sequences indented
/// under their key when the neighbour indents them.
fn yaml_like(value: &Value, like: &str) -> String {
    let text = capstan_core::yaml::to_yaml(value);
    if super::conventions::learn_sequence_indent(like) == Some(true) {
        indent_sequences(&text)
    } else {
        text
    }
}

/// Indents every block sequence written flush with its key (`key:\n- a`) by two spaces, with
/// everything inside it.
fn indent_sequences(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut shifts: Vec<usize> = Vec::new();
    let mut previous: Option<(usize, bool)> = None; // (indent, ends with ':')
    for line in text.split_inclusive('\n') {
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        let blank = content.trim().is_empty();
        if !blank {
            while let Some(&s) = shifts.last() {
                if indent < s || (indent == s && !content.starts_with("- ")) {
                    shifts.pop();
                } else {
                    break;
                }
            }
            if content.starts_with("- ")
                && previous.is_some_and(|(i, key)| key && i == indent)
                && shifts.last() != Some(&indent)
            {
                shifts.push(indent);
            }
            previous = Some((indent, content.trim_end().ends_with(':')));
        }
        if !blank {
            out.push_str(&" ".repeat(indent + 2 * shifts.len()));
        }
        out.push_str(if blank { line } else { content });
    }
    out
}

/// The lines before a file's first key (`---`, a schema comment), kept on generated files.
fn header(text: &str) -> String {
    text.lines()
        .take_while(|l| l.trim().is_empty() || l.starts_with('#') || l.trim() == "---")
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `text` with every whole-word `old` (bounded by characters a name cannot hold) made `new`.
fn rename(text: &str, old: &str, new: &str) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(old) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + old.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_name) || after.is_some_and(is_name) {
            out.push_str(old);
        } else {
            out.push_str(new);
        }
        rest = &rest[at + old.len()..];
    }
    out.push_str(rest);
    out
}

/// The `resources:` entries of a kustomization file, as written.
fn resources_of(text: &str) -> Vec<String> {
    capstan_core::yaml::parse_document(text)
        .ok()
        .and_then(|v| v.get("resources").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect()
}

/// A `- ENTRY` line of a sequence: (indent and dash, entry without quotes).
fn list_item(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start();
    let item = trimmed.strip_prefix("- ")?;
    let prefix = &line[..line.len() - item.len()];
    Some((prefix, item.trim().trim_matches(['"', '\''])))
}

/// The app a resources entry registers, by the apps the namespace folder holds.
fn app_of_entry<'a>(entry: &str, apps: &'a [String]) -> Option<&'a String> {
    let path = entry.trim_start_matches("./");
    let first = path.split('/').next()?;
    apps.iter().find(|a| a.as_str() == first)
}

/// The namespace's kustomization.yaml with a line registering `name`, in the form and order
/// the lines registering its other apps have; `None` when none does.
fn register(text: &str, apps: &[NestedApp], namespace_dir: &Path, name: &str) -> Option<String> {
    let names: Vec<String> = apps
        .iter()
        .filter(|a| a.namespace_dir == namespace_dir)
        .map(NestedApp::name)
        .collect();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let registered: Vec<(usize, &String, &str, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let (prefix, entry) = list_item(line.trim_end_matches(['\n', '\r']))?;
            let app = app_of_entry(entry, &names)?;
            Some((i, app, prefix, entry))
        })
        .collect();
    let &(last, example_app, prefix, example) = registered.last()?;
    let raw_line = lines[last].trim_end_matches(['\n', '\r']);
    let quoted = raw_line.ends_with(['"', '\'']);
    let entry = rename(example, example_app, name);
    let entry = if quoted {
        let quote = &raw_line[raw_line.len() - 1..];
        format!("{quote}{entry}{quote}")
    } else {
        entry
    };
    let new_line = format!("{prefix}{entry}\n");
    let sorted = registered.windows(2).all(|w| w[0].1 <= w[1].1);
    let at = if sorted {
        registered
            .iter()
            .find(|(_, app, _, _)| app.as_str() > name)
            .map_or(last + 1, |(i, _, _, _)| *i)
    } else {
        last + 1
    };
    let mut out = String::with_capacity(text.len() + new_line.len() + 1);
    for (i, line) in lines.iter().enumerate() {
        if i == at && at <= last {
            out.push_str(&new_line);
        }
        out.push_str(line);
        if i == last && at == last + 1 {
            if line.ends_with('\n') {
                out.push_str(&new_line);
            } else {
                // the file ended without a newline: so does it after the new line
                out.push('\n');
                out.push_str(new_line.trim_end_matches('\n'));
            }
        }
    }
    Some(out)
}

/// The namespace's kustomization.yaml without the line registering `name`.
fn unregister(text: &str, name: &str) -> Option<String> {
    let names = [name.to_owned()];
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let at = lines.iter().position(|line| {
        list_item(line.trim_end_matches(['\n', '\r']))
            .is_some_and(|(_, entry)| app_of_entry(entry, &names).is_some())
    })?;
    let mut out: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, l)| *l)
        .collect();
    // the line taken out was the last one and the file ended without a newline
    if at == lines.len() - 1 && !lines[at].ends_with('\n') && out.ends_with('\n') {
        out.pop();
    }
    Some(out)
}

fn read(fs: &dyn Fs, root: &Path, file: &Path) -> Result<String, ScaffoldError> {
    fs.read_to_string(&root.join(file))
        .map_err(|source| ScaffoldError::Read {
            path: file.to_path_buf(),
            source,
        })
}

fn set(value: &mut Value, pointer: &str, new: Value) {
    let mut current = value;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !current.is_object() {
            *current = Value::Object(serde_json::Map::new());
        }
        let Some(map) = current.as_object_mut() else {
            return;
        };
        if i == parts.len() - 1 {
            map.insert((*part).to_owned(), new);
            return;
        }
        current = map
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_sequences_under_their_key() {
        assert_eq!(
            indent_sequences("a:\n- x: 1\n  y:\n  - z\nb: 2\n"),
            "a:\n  - x: 1\n    y:\n      - z\nb: 2\n"
        );
    }

    #[test]
    fn renames_whole_names_only() {
        assert_eq!(
            rename("name: homer\nurl: homer-x/homer\n", "homer", "web"),
            "name: web\nurl: homer-x/web\n"
        );
    }

    #[test]
    fn registers_in_order_and_unregisters_exactly() {
        let app = |name: &str| NestedApp {
            namespace_dir: PathBuf::from("apps/default"),
            dir: PathBuf::from(format!("apps/default/{name}")),
            ks: FluxKustomization {
                file: PathBuf::from(format!("apps/default/{name}/ks.yaml")),
                segment: 0,
                name: name.to_owned(),
                namespace: None,
                path: None,
                depends_on: Vec::new(),
                object: Value::Null,
            },
        };
        let apps = [app("atuin"), app("zed")];
        let text = "resources:\n  - ./namespace.yaml\n  - ./atuin/ks.yaml\n  - ./zed/ks.yaml";
        let added = register(text, &apps, Path::new("apps/default"), "web").unwrap();
        assert_eq!(
            added,
            "resources:\n  - ./namespace.yaml\n  - ./atuin/ks.yaml\n  - ./web/ks.yaml\n  - ./zed/ks.yaml"
        );
        assert_eq!(unregister(&added, "web").unwrap(), text);
        let last = register(text, &apps, Path::new("apps/default"), "zz").unwrap();
        assert_eq!(last, format!("{text}\n  - ./zz/ks.yaml"));
        assert_eq!(unregister(&last, "zz").unwrap(), text);
    }
}
