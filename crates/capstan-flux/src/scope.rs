//! Changed-only builds: which Kustomizations a set of changed files can reach, decided without
//! rendering them.
//!
//! A [`Scope`] holds the files that differ between two revisions. Discovery consults it before it
//! renders a Kustomization's path ([`Scope::wants`]): a Kustomization is rendered (and then
//! built) when
//! - it is an entry point, or named in [`Scope::force`];
//! - its [`Closure`] — the files its kustomization tree can read, found by reading only the
//!   kustomization files — holds a changed file;
//! - the file that declares it changed, or its parent's spec or non-Flux inputs changed (the
//!   parent's patches, namespace or substitution may then reach it);
//! - its closure holds a file that declares Flux Kustomizations (it is *structural*: rendering it
//!   is how the Kustomizations below it are found), or a kustomize generator or transformer whose
//!   output cannot be known without running it, or a HelmRelease whose chart or values files
//!   cannot be located without rendering (a `${var}` in them).
//!
//! The closure also holds what the HelmReleases its files declare read from this repository: the
//! directory of a chart given by path (`spec.chart.spec.chart` from a GitRepository or Bucket,
//! resolved against the repository root as the build resolves it) and its `valuesFiles`. A change
//! there renders the Kustomization (its releases then render) but does not reach its children.
//!
//! Everything else is left unrendered on both sides: its inputs are the same, so is its output.
//! What the closure cannot see is handled by the build ([`crate::build::build_all`]): when a
//! rendered Kustomization or HelmRelease needs an object (a `substituteFrom` or `valuesFrom`
//! ConfigMap or Secret, a source) that no rendered Kustomization provides, the side is built in
//! full instead.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use capstan_core::fs::normalize;
use capstan_core::{Fs, Value};

use crate::discovery::render::kustomization_file;
use crate::model::ObjectKey;

/// The changed files of a comparison and the Kustomizations to render regardless.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Changed, added and deleted files, as the trees being built name them (absolute paths in
    /// the CLI).
    changed: BTreeSet<PathBuf>,
    /// Kustomizations rendered whatever their inputs (affected on the other side).
    force: BTreeSet<ObjectKey>,
}

impl Scope {
    /// A scope of the given changed files (paths as the trees being built name them).
    pub fn new(changed: impl IntoIterator<Item = PathBuf>) -> Scope {
        Scope {
            changed: changed.into_iter().map(|p| normalize(&p)).collect(),
            force: BTreeSet::new(),
        }
    }

    /// Also renders these Kustomizations.
    pub fn force(mut self, keys: impl IntoIterator<Item = ObjectKey>) -> Scope {
        self.force.extend(keys);
        self
    }

    /// The Kustomizations rendered whatever their inputs.
    pub fn forced(&self) -> &BTreeSet<ObjectKey> {
        &self.force
    }

    /// The changed files.
    pub fn changed(&self) -> &BTreeSet<PathBuf> {
        &self.changed
    }

    /// True when a change to the ignore rules makes every artifact view suspect.
    pub fn touches_ignore_rules(&self) -> bool {
        self.changed
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == ".sourceignore"))
    }

    /// Whether `file` changed.
    pub fn is_changed(&self, file: &Path) -> bool {
        self.changed.contains(&normalize(file))
    }

    pub(crate) fn is_forced(&self, key: &ObjectKey) -> bool {
        self.force.contains(key)
    }

    /// Decides for one Kustomization about to be rendered. `closure` is its directory's
    /// [`Closure`], `declared_in` the file its manifest came from,
    /// `parent_broad` whether its parent's own spec or non-Flux inputs changed, and `entry_files`
    /// the files that declare Flux Kustomizations on this side.
    pub(crate) fn wants(&self, decision: &Decision<'_>) -> Wanted {
        let touched: Vec<&PathBuf> = self
            .changed
            .iter()
            .filter(|f| decision.closure.contains(f))
            .collect();
        let declared_changed = decision.declared_in.is_some_and(|f| self.is_changed(f));
        // a change other than to the Flux Kustomizations it emits may reach every child's spec
        let broad = declared_changed
            || decision.parent_broad
            || touched.iter().any(|f| {
                !decision.entry_files.contains(*f) && !decision.closure.read_by_releases_only(f)
            });
        let structural = decision.closure.opaque
            || decision
                .entry_files
                .iter()
                .any(|f| decision.closure.contains(f));
        let render =
            decision.entry || decision.forced || broad || !touched.is_empty() || structural;
        Wanted { render, broad }
    }
}

/// What [`Scope::wants`] decides from.
pub(crate) struct Decision<'a> {
    pub closure: &'a Closure,
    pub declared_in: Option<&'a Path>,
    pub parent_broad: bool,
    pub entry: bool,
    pub forced: bool,
    pub entry_files: &'a BTreeSet<PathBuf>,
}

/// What [`Scope::wants`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// Render (and build) it.
    pub render: bool,
    /// Its children's specs may differ: render every Kustomization it emits.
    pub broad: bool,
}

/// The files a kustomization directory can read, found from its kustomization files alone.
///
/// Conservative by construction: every file directly in a kustomization directory counts (patch
/// and generator files, globs, a kustomization file added beside the current one); a directory
/// without a kustomization file counts as its whole tree, except the sub-directories that have
/// one, which count as kustomization directories (the kustomization Flux generates lists every
/// YAML file below it, and such a sub-directory as a directory); a referenced file counts even
/// when it does not exist yet. Remote references read nothing in the repository.
#[derive(Debug, Clone, Default)]
pub struct Closure {
    files: BTreeSet<PathBuf>,
    /// Directories whose direct files count.
    dirs: BTreeSet<PathBuf>,
    /// Directories whose every file, at any depth, counts — but for the files below a
    /// kustomization directory in them ([`Closure::barriers`]).
    trees: BTreeSet<PathBuf>,
    /// Kustomization directories met inside a tree: what lies below them counts through `dirs`
    /// and `files` only.
    barriers: BTreeSet<PathBuf>,
    /// Chart directories (whole trees) the tree's HelmReleases render from.
    charts: BTreeSet<PathBuf>,
    /// `valuesFiles` the tree's HelmReleases read.
    values: BTreeSet<PathBuf>,
    /// A generator, transformer or chart inflation whose output cannot be known statically, or a
    /// HelmRelease whose chart cannot be located statically.
    pub opaque: bool,
}

impl Closure {
    /// The closure of `dir` (a path `fs` reads) with the Flux Kustomization's `spec.components`,
    /// in paths as `fs` names them.
    /// `root` is the repository's root (HelmRelease chart paths are relative to it).
    pub fn of(fs: &dyn Fs, root: &Path, dir: &Path, components: &[String]) -> Closure {
        Closure::of_cached(fs, root, dir, components, &mut RealDirs::default())
    }

    /// [`Closure::of`], resolving directories through `real_dirs` (kept for the same tree).
    pub fn of_cached(
        fs: &dyn Fs,
        root: &Path,
        dir: &Path,
        components: &[String],
        real_dirs: &mut RealDirs,
    ) -> Closure {
        let mut walker = ClosureWalk {
            fs,
            root: normalize(root),
            out: Closure::default(),
            real_dirs,
        };
        walker.visit(&normalize(dir));
        for component in components {
            walker.reference(&normalize(dir), component);
        }
        walker.out
    }

    /// Whether the file (named as the tree names it) is in the closure.
    pub fn contains(&self, file: &Path) -> bool {
        self.built_from(file) || self.read_by_releases(file)
    }

    /// Whether only the tree's HelmReleases read the file (a chart or values file): a change to
    /// it does not reach the specs of the Flux Kustomizations the tree declares.
    pub fn read_by_releases_only(&self, file: &Path) -> bool {
        self.read_by_releases(file) && !self.built_from(file)
    }

    fn read_by_releases(&self, file: &Path) -> bool {
        self.values.contains(file) || self.charts.iter().any(|chart| file.starts_with(chart))
    }

    /// Whether the kustomize build of the tree reads the file.
    fn built_from(&self, file: &Path) -> bool {
        self.files.contains(file)
            || file.parent().is_some_and(|p| {
                let parent = if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                };
                self.dirs.contains(parent)
            })
            || self.trees.iter().any(|tree| {
                let below = tree == Path::new(".") || file.starts_with(tree);
                below
                    && !self.barriers.iter().any(|barrier| {
                        barrier != tree
                            && file.starts_with(barrier)
                            && (tree == Path::new(".") || barrier.starts_with(tree))
                    })
            })
    }
}

struct ClosureWalk<'a> {
    fs: &'a dyn Fs,
    root: PathBuf,
    out: Closure,
    real_dirs: &'a mut RealDirs,
}

/// Directories resolved through symbolic links, by path: shared by the closures of one tree.
#[derive(Debug, Default)]
pub struct RealDirs(HashMap<PathBuf, PathBuf>);

/// Fields whose entries are paths (files or kustomization directories), or inline YAML.
const PATH_LISTS: [&str; 9] = [
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
];

/// Lists of objects with a `path` field.
const PATH_OBJECTS: [&str; 3] = ["patches", "patchesJson6902", "replacements"];

impl ClosureWalk<'_> {
    /// `path` and, when a directory on the way is a symbolic link, where it leads (a link to a
    /// single file is followed by the render, not here: its target is named by the link).
    fn both(&mut self, path: &Path, is_dir: bool) -> Vec<PathBuf> {
        let mut out = vec![normalize(path)];
        let (dir, name) = if is_dir {
            (path, None)
        } else {
            (path.parent().unwrap_or(path), path.file_name())
        };
        let fs = self.fs;
        let real_dir = self
            .real_dirs
            .0
            .entry(dir.to_path_buf())
            .or_insert_with(|| fs.canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
            .clone();
        let real = match name {
            Some(name) => real_dir.join(name),
            None => real_dir,
        };
        let real = normalize(&real);
        if !out.contains(&real) {
            out.push(real);
        }
        out
    }

    fn visit(&mut self, dir: &Path) {
        let shown = self.both(dir, true);
        if shown.iter().any(|d| self.out.dirs.contains(d)) {
            return;
        }
        let Some(file) = kustomization_file(self.fs, dir) else {
            self.generated(dir);
            return;
        };
        self.out.dirs.extend(shown);
        let parsed = self
            .fs
            .read_to_string(&file)
            .ok()
            .and_then(|text| capstan_core::yaml::parse_documents(&text).ok())
            .and_then(|docs| docs.into_iter().next());
        let Some(kustomization) = parsed else {
            // it fails to build; any change below may fix it
            let tree = self.both(dir, true);
            self.out.trees.extend(tree);
            return;
        };
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        for field in PATH_LISTS {
            for entry in strings(kustomization.get(field)) {
                self.reference(dir, &entry);
            }
        }
        for field in PATH_OBJECTS {
            for entry in kustomization
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(path) = entry.get("path").and_then(Value::as_str) {
                    self.reference(dir, path);
                }
                // an inline patch may set a HelmRelease's chart
                match entry.get("patch") {
                    Some(Value::String(text)) => self.scan_text(text),
                    Some(patch) => self.scan_value(patch),
                    None => {}
                }
            }
        }
        for entry in strings(kustomization.get("patchesStrategicMerge")) {
            if entry.contains('\n') {
                self.scan_text(&entry);
            }
        }
        for field in ["configMapGenerator", "secretGenerator"] {
            for generator in kustomization
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for source in strings(generator.get("files")) {
                    let path = source.split_once('=').map_or(source.as_str(), |(_, p)| p);
                    self.reference(dir, path);
                }
                for env in strings(generator.get("envs")) {
                    self.reference(dir, &env);
                }
                if let Some(env) = generator.get("env").and_then(Value::as_str) {
                    self.reference(dir, env);
                }
            }
        }
        if let Some(path) = kustomization
            .pointer("/openapi/path")
            .and_then(Value::as_str)
        {
            self.reference(dir, path);
        }
        let has = |field: &str| {
            kustomization
                .get(field)
                .is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty()))
        };
        if has("helmCharts") || has("helmChartInflationGenerator") || has("helmGlobals") {
            self.out.opaque = true;
            let home = kustomization
                .pointer("/helmGlobals/chartHome")
                .and_then(Value::as_str)
                .unwrap_or("charts");
            let home = normalize(&dir.join(home));
            let home_is_dir = self.fs.is_dir(&home);
            let tree = self.both(&home, home_is_dir);
            self.out.trees.extend(tree);
            for chart in kustomization
                .get("helmCharts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(file) = chart.get("valuesFile").and_then(Value::as_str) {
                    self.reference(dir, file);
                }
                for file in strings(chart.get("additionalValuesFiles")) {
                    self.reference(dir, &file);
                }
            }
        }
        if has("generators") || has("transformers") || has("validators") {
            self.out.opaque = true;
        }
    }

    /// A directory without a kustomization file: its tree, where the sub-directories that have
    /// one are visited as kustomization directories.
    fn generated(&mut self, dir: &Path) {
        let shown = self.both(dir, true);
        if shown.iter().any(|d| self.out.trees.contains(d)) {
            return;
        }
        self.out.trees.extend(shown);
        let mut stack = vec![dir.to_path_buf()];
        let mut seen = BTreeSet::new();
        while let Some(current) = stack.pop() {
            if !seen.insert(current.clone()) {
                continue;
            }
            for entry in self.fs.read_dir(&current).unwrap_or_default() {
                if !self.fs.is_dir(&entry) {
                    // the kustomization Flux generates lists these
                    if entry.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                        self.scan(&entry);
                    }
                    continue;
                }
                if kustomization_file(self.fs, &entry).is_some() {
                    let barrier = self.both(&entry, true);
                    self.out.barriers.extend(barrier);
                    self.visit(&entry);
                } else {
                    stack.push(entry);
                }
            }
        }
    }

    fn reference(&mut self, dir: &Path, entry: &str) {
        let entry = entry.trim();
        let remote = entry.contains("://")
            || entry.starts_with("github.com/")
            || entry.starts_with("git@")
            || entry.contains("?ref=");
        // inline YAML (a patch, a generator configuration) reads nothing by itself
        if remote || entry.is_empty() || entry.contains('\n') {
            return;
        }
        let path = normalize(&dir.join(entry));
        if self.fs.is_dir(&path) {
            self.visit(&path);
        } else {
            self.scan(&path);
            let shown = self.both(&path, false);
            self.out.files.extend(shown);
        }
    }

    /// Follows the HelmReleases a file declares (or patches) to the chart and values files they
    /// read in this repository.
    fn scan(&mut self, file: &Path) {
        if self.out.opaque {
            return; // rendered whatever changed
        }
        if let Ok(text) = self.fs.read_to_string(file) {
            self.scan_text(&text);
        }
    }

    fn scan_text(&mut self, text: &str) {
        // every field naming a chart or its values files holds this word
        if self.out.opaque || !text.contains("chart") {
            return;
        }
        match capstan_core::yaml::parse_documents(text) {
            Ok(documents) => documents.iter().for_each(|d| self.scan_value(d)),
            // it may declare a release once it parses again: render it
            Err(_) => self.out.opaque |= text.contains("HelmRelease"),
        }
    }

    /// Any `chart.spec` at any depth (a HelmRelease, a patch to one, a template holding one);
    /// a JSON patch operation on a chart makes the closure opaque.
    fn scan_value(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(spec) = map.get("chart").and_then(|c| c.get("spec")) {
                    self.chart_spec(spec);
                }
                let op_path = map.get("op").and(map.get("path")).and_then(Value::as_str);
                if op_path.is_some_and(|p| {
                    let p = p.trim_end_matches('/');
                    p.is_empty() || p == "/spec" || p.starts_with("/spec/chart")
                }) {
                    self.out.opaque = true;
                }
                map.values().for_each(|v| self.scan_value(v));
            }
            Value::Array(items) => items.iter().for_each(|v| self.scan_value(v)),
            Value::String(text) if text.contains('\n') && text.contains("chart") => {
                // a template or embedded manifest (a ResourceSet, an inline patch)
                if let Ok(documents) = capstan_core::yaml::parse_documents(text) {
                    documents.iter().for_each(|d| self.scan_value(d));
                }
            }
            _ => {}
        }
    }

    /// A HelmRelease's `spec.chart.spec`: a chart given by path from a GitRepository or Bucket
    /// is the directory `root/chart` (as [`crate::build::helmrelease::locate_chart`] resolves
    /// it), its `valuesFiles` are relative to the root (`values.yaml` is the chart's own). A
    /// chart from a HelmRepository is fetched: its values files are in the chart.
    fn chart_spec(&mut self, spec: &Value) {
        let text = |pointer: &str| spec.pointer(pointer).and_then(Value::as_str);
        let kind = text("/sourceRef/kind");
        let unknowable = |s: &str| s.contains("${") || s.contains("<<") || s.contains("{{");
        if kind.is_some_and(unknowable) {
            self.out.opaque = true;
            return;
        }
        if kind == Some("HelmRepository") {
            return;
        }
        let values: Vec<&str> = spec
            .get("valuesFiles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let chart = text("/chart").map(str::trim).unwrap_or("");
        if unknowable(chart) || values.iter().any(|v| unknowable(v)) {
            self.out.opaque = true;
            return;
        }
        if !chart.is_empty() {
            let relative = chart.trim_start_matches("./").trim_start_matches('/');
            let dir = normalize(&self.root.join(relative));
            let shown = self.both(&dir, true);
            self.out.charts.extend(shown);
        }
        for file in values {
            let relative = normalize(Path::new(file.trim().trim_start_matches('/')));
            let path = normalize(&self.root.join(relative));
            let shown = self.both(&path, false);
            self.out.values.extend(shown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::MemFs;

    fn closure(files: &[(&str, &str)], dir: &str) -> Closure {
        let fs = MemFs::from_files(files.iter().copied());
        Closure::of(&fs, Path::new("."), Path::new(dir), &[])
    }

    #[test]
    fn follows_resources_components_and_patch_files() {
        let c = closure(
            &[
                (
                    "apps/a/kustomization.yaml",
                    "resources: [hr.yaml, ../../shared/base]\ncomponents: [../../components/c]\npatches:\n  - path: ../../patches/p.yaml\nconfigMapGenerator:\n  - name: x\n    files: [conf=../../conf/app.conf]\n",
                ),
                ("apps/a/hr.yaml", "kind: HelmRelease\n"),
                ("shared/base/kustomization.yaml", "resources: [cm.yaml]\n"),
                ("shared/base/cm.yaml", "kind: ConfigMap\n"),
                ("components/c/kustomization.yaml", "kind: Component\n"),
                ("patches/p.yaml", "x: 1\n"),
                ("patches/other.yaml", "x: 1\n"),
                ("conf/app.conf", "x"),
                ("apps/b/hr.yaml", "kind: HelmRelease\n"),
            ],
            "apps/a",
        );
        for inside in [
            "apps/a/hr.yaml",
            "apps/a/new-file.yaml",
            "shared/base/cm.yaml",
            "components/c/kustomization.yaml",
            "patches/p.yaml",
            "conf/app.conf",
        ] {
            assert!(c.contains(Path::new(inside)), "{inside} should be read");
        }
        for outside in ["apps/b/hr.yaml", "patches/other.yaml", "apps/a/sub/x.yaml"] {
            assert!(!c.contains(Path::new(outside)), "{outside} is not read");
        }
        assert!(!c.opaque);
    }

    #[test]
    fn a_directory_without_kustomization_is_its_whole_tree() {
        let c = closure(&[("apps/a/deep/x.yaml", "kind: ConfigMap\n")], "apps/a");
        assert!(c.contains(Path::new("apps/a/deep/x.yaml")));
        assert!(c.contains(Path::new("apps/a/deep/new/y.yaml")));
        assert!(!c.contains(Path::new("apps/b/x.yaml")));
    }

    #[test]
    fn a_generated_tree_stops_at_kustomization_directories() {
        let c = closure(
            &[
                ("apps/ns/kustomization.yaml", "resources: [a/ks.yaml]\n"),
                ("apps/ns/a/ks.yaml", "kind: Kustomization\n"),
                ("apps/ns/a/app/hr.yaml", "kind: HelmRelease\n"),
                ("apps/loose/x.yaml", "kind: ConfigMap\n"),
            ],
            "apps",
        );
        assert!(c.contains(Path::new("apps/ns/a/ks.yaml")));
        assert!(c.contains(Path::new("apps/ns/kustomization.yaml")));
        assert!(c.contains(Path::new("apps/loose/x.yaml")));
        assert!(
            c.contains(Path::new("apps/new/y.yaml")),
            "a new directory is listed"
        );
        assert!(
            !c.contains(Path::new("apps/ns/a/app/hr.yaml")),
            "below a kustomization directory only what it references counts"
        );
    }

    #[test]
    fn generators_and_charts_are_opaque() {
        let c = closure(
            &[(
                "a/kustomization.yaml",
                "helmCharts:\n  - name: x\n    valuesFile: ../values/x.yaml\n",
            )],
            "a",
        );
        assert!(c.opaque);
        assert!(c.contains(Path::new("values/x.yaml")));
        assert!(c.contains(Path::new("a/charts/x/templates/t.yaml")));
    }

    #[test]
    fn a_missing_reference_counts_and_remote_ones_do_not() {
        let c = closure(
            &[(
                "a/kustomization.yaml",
                "resources: [../later.yaml, https://example.com/x.yaml, github.com/o/r//d?ref=v1]\n",
            )],
            "a",
        );
        assert!(c.contains(Path::new("later.yaml")));
        assert!(!c.contains(Path::new("x.yaml")));
    }

    #[test]
    fn a_malformed_kustomization_reads_its_tree() {
        let c = closure(&[("a/kustomization.yaml", "resources: [\n")], "a");
        assert!(c.contains(Path::new("a/sub/any.yaml")));
    }

    const LOCAL_RELEASE: &str = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: ha}\nspec:\n  chart:\n    spec:\n      chart: ./charts/ha\n      valuesFiles: [values/ha.yaml, values.yaml]\n      sourceRef: {kind: GitRepository, name: flux-system}\n";

    #[test]
    fn a_local_chart_and_its_values_files_are_read_by_the_release() {
        let files = [
            (
                "apps/ha/app/kustomization.yaml",
                "resources: [helmrelease.yaml]\n",
            ),
            ("apps/ha/app/helmrelease.yaml", LOCAL_RELEASE),
            ("apps/other/hr.yaml", "kind: ConfigMap\n"),
            ("charts/ha/Chart.yaml", "name: ha\n"),
            ("charts/ha/values.yaml", "image: a\n"),
            ("charts/ha/templates/deployment.yaml", "kind: Deployment\n"),
            ("charts/other/Chart.yaml", "name: other\n"),
            ("values/ha.yaml", "x: 1\n"),
        ];
        // declared in a listed resource, and in a directory Flux generates a kustomization for
        let generated: Vec<(&str, &str)> = vec![
            ("apps/ha/app/helmrelease.yaml", LOCAL_RELEASE),
            ("charts/ha/Chart.yaml", "name: ha\n"),
        ];
        for c in [
            closure(&files, "apps/ha/app"),
            closure(&generated, "apps/ha/app"),
        ] {
            for read in [
                "charts/ha/templates/deployment.yaml",
                "charts/ha/values.yaml",
                "charts/ha/templates/new.yaml",
                "values/ha.yaml",
            ] {
                assert!(c.contains(Path::new(read)), "{read} should be read");
                assert!(c.read_by_releases_only(Path::new(read)));
            }
            assert!(!c.contains(Path::new("charts/other/Chart.yaml")));
            assert!(!c.opaque);
        }
        let c = closure(&files, "apps/ha/app");
        // a chart change renders the Kustomization, and is not broad
        let scope = Scope::new([PathBuf::from("charts/ha/templates/deployment.yaml")]);
        let wanted = decide(&scope, &c, "apps/ha/ks.yaml", &[]);
        assert!(wanted.render && !wanted.broad);
        let scope = Scope::new([PathBuf::from("charts/other/Chart.yaml")]);
        assert!(!decide(&scope, &c, "apps/ha/ks.yaml", &[]).render);
        // the repository's root is where chart paths start
        let fs = MemFs::from_files(files.iter().copied());
        let rooted = Closure::of(&fs, Path::new("top"), Path::new("apps/ha/app"), &[]);
        assert!(rooted.contains(Path::new("top/charts/ha/values.yaml")));
    }

    #[test]
    fn a_release_chart_known_only_after_rendering_is_opaque() {
        for (release, opaque) in [
            (
                LOCAL_RELEASE.replace("./charts/ha", "./charts/${APP}"),
                true,
            ),
            (
                LOCAL_RELEASE.replace("values/ha.yaml", "values/${ENV}.yaml"),
                true,
            ),
            (
                LOCAL_RELEASE.replace("kind: GitRepository", "kind: HelmRepository"),
                false,
            ),
        ] {
            let c = closure(
                &[
                    ("a/kustomization.yaml", "resources: [hr.yaml]\n"),
                    ("a/hr.yaml", &release),
                ],
                "a",
            );
            assert_eq!(c.opaque, opaque, "{release}");
        }
        // a patch setting the chart: the patched path counts; a JSON patch on it is opaque
        let c = closure(
            &[
                (
                    "a/kustomization.yaml",
                    "resources: [hr.yaml]\npatches:\n  - patch: |\n      kind: HelmRelease\n      metadata: {name: ha}\n      spec: {chart: {spec: {chart: ./charts/patched}}}\n",
                ),
                ("a/hr.yaml", LOCAL_RELEASE),
            ],
            "a",
        );
        assert!(c.contains(Path::new("charts/patched/templates/x.yaml")));
        assert!(c.contains(Path::new("charts/ha/templates/x.yaml")));
        let c = closure(
            &[
                (
                    "a/kustomization.yaml",
                    "resources: [hr.yaml]\npatches:\n  - path: chart.yaml\n    target: {kind: HelmRelease}\n",
                ),
                (
                    "a/chart.yaml",
                    "- {op: replace, path: /spec/chart/spec/chart, value: ./charts/b}\n",
                ),
                ("a/hr.yaml", LOCAL_RELEASE),
            ],
            "a",
        );
        assert!(c.opaque);
    }

    fn decide(scope: &Scope, closure: &Closure, declared: &str, entry_files: &[&str]) -> Wanted {
        let entry_files: BTreeSet<PathBuf> = entry_files.iter().map(PathBuf::from).collect();
        scope.wants(&Decision {
            closure,
            declared_in: Some(Path::new(declared)),
            parent_broad: false,
            entry: false,
            forced: false,
            entry_files: &entry_files,
        })
    }

    #[test]
    fn decisions() {
        let leaf = closure(&[("apps/a/app/hr.yaml", "x: 1\n")], "apps/a/app");
        let parent = closure(
            &[
                ("apps/kustomization.yaml", "resources: [a/ks.yaml]\n"),
                ("apps/a/ks.yaml", "kind: Kustomization\n"),
            ],
            "apps",
        );
        let entries = ["apps/a/ks.yaml"];
        // an unrelated change leaves the leaf alone; the parent is structural
        let scope = Scope::new([PathBuf::from("other/x.yaml")]);
        assert!(!decide(&scope, &leaf, "apps/a/ks.yaml", &entries).render);
        let p = decide(&scope, &parent, "flux/apps.yaml", &entries);
        assert!(p.render && !p.broad);
        // a change inside the leaf renders it
        let scope = Scope::new([PathBuf::from("apps/a/app/hr.yaml")]);
        assert!(decide(&scope, &leaf, "apps/a/ks.yaml", &entries).render);
        // its ks.yaml changing renders it, and is not broad for the parent
        let scope = Scope::new([PathBuf::from("apps/a/ks.yaml")]);
        assert!(decide(&scope, &leaf, "apps/a/ks.yaml", &entries).render);
        assert!(!decide(&scope, &parent, "flux/apps.yaml", &entries).broad);
        // the parent's own kustomization changing reaches every child
        let scope = Scope::new([PathBuf::from("apps/kustomization.yaml")]);
        assert!(decide(&scope, &parent, "flux/apps.yaml", &entries).broad);
    }
}
