//! What source-controller leaves out of a GitRepository artifact, and an [`Fs`] that hides it.
//!
//! source-controller archives the checkout file by file, skipping every path its ignore rules
//! exclude; kustomize-controller then only sees the archive. The rules, in rising priority:
//! - the VCS files (`.git/`, `.gitignore`, `.gitmodules`, `.gitattributes`), always;
//! - `.sourceignore` files, the repository root's first, then every subdirectory's (depth first,
//!   by name), each scoped to its own directory;
//! - `spec.ignore` of the source, scoped to the root;
//! - only when there are *no* `.sourceignore` or `spec.ignore` rules at all: the default
//!   exclusions (images and archives, CI configuration, `.goreleaser.yml`, `.sops.yaml`,
//!   `.flux.yaml`).
//!
//! The last rule that matches a path decides: an exclusion, or an inclusion for a `!` rule. Each
//! file is judged on its own path, so `!dir/keep.yaml` brings back a file below an excluded `dir/`
//! (unlike git). Rules use gitignore syntax with the semantics of the go-git matcher Flux uses:
//! - a rule without `/` (besides a trailing one) matches any component of the path, so it also
//!   hides everything below a matching directory; a trailing `/` limits it to directories;
//! - a rule with `/` matches from the start of its scope, component by component, and a match of
//!   a leading part of the path counts (`deploy/base` hides `deploy/base/x.yaml`); `**` stands for
//!   any number of directories and resolves to the *first* component that matches what follows;
//! - components match as shell globs (`*`, `?`, `[a-z]`, `\` escapes).
//!
//! Written for capstan rather than taken from a crate: `ignore`/`globset` implement git's own
//! semantics (no re-inclusion below an excluded directory, `**` with backtracking), which differ
//! from what source-controller does in exactly the cases that matter here.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};

use capstan_core::Fs;
use capstan_core::fs::normalize;

use crate::glob::Glob;

/// The name of the per-directory ignore file.
pub const IGNORE_FILE: &str = ".sourceignore";

/// Excluded from every artifact.
pub const VCS_RULES: &[&str] = &[".git/", ".gitignore", ".gitmodules", ".gitattributes"];

/// Excluded when the source has no ignore rules of its own.
pub const DEFAULT_RULES: &[&str] = &[
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// A `.sourceignore` file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct IgnoreError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// One step of a rule that contains `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An empty component (a leading `/`, or `//`): ends a `**` run.
    Empty,
    /// `**`.
    AnyDirectories,
    /// A component with `**` inside it (`a**b`): the rule never matches.
    Impossible,
    /// A component glob.
    Component(Glob),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// No `/`: matches any component.
    Name(Glob),
    /// With `/`: matches from the scope's start.
    Steps(Vec<Step>),
}

/// One ignore rule with the directory it is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    scope: Vec<String>,
    shape: Shape,
    include: bool,
    directories_only: bool,
}

impl Rule {
    /// Parses one line of gitignore syntax (comments and blank lines are the caller's business).
    pub fn parse(line: &str, scope: &[String]) -> Rule {
        let (include, mut text) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        if !text.ends_with("\\ ") {
            text = text.trim_end_matches(' ');
        }
        let directories_only = text.ends_with('/');
        if directories_only {
            text = &text[..text.len() - 1];
        }
        let shape = if text.contains('/') {
            Shape::Steps(
                text.split('/')
                    .map(|part| match part {
                        "" => Step::Empty,
                        "**" => Step::AnyDirectories,
                        p if p.contains("**") => Step::Impossible,
                        p => Step::Component(Glob::new(p.as_bytes())),
                    })
                    .collect(),
            )
        } else {
            Shape::Name(Glob::new(text.as_bytes()))
        };
        Rule {
            scope: scope.to_vec(),
            shape,
            include,
            directories_only,
        }
    }

    /// `Some(true)` when the rule excludes `path` (components from the repository root),
    /// `Some(false)` when it re-includes it, `None` when it does not apply.
    fn verdict(&self, path: &[&str], is_dir: bool) -> Option<bool> {
        if path.len() <= self.scope.len() || !self.scope.iter().zip(path).all(|(s, p)| s == p) {
            return None;
        }
        let rest = &path[self.scope.len()..];
        let last = rest.len() - 1;
        let hit = match &self.shape {
            Shape::Name(glob) => rest.iter().enumerate().any(|(i, component)| {
                glob.matches(component.as_bytes())
                    && !(self.directories_only && !is_dir && i == last)
            }),
            Shape::Steps(steps) => self.steps_match(steps, rest, is_dir),
        };
        hit.then_some(!self.include)
    }

    fn steps_match(&self, steps: &[Step], mut rest: &[&str], is_dir: bool) -> bool {
        let mut matched = false;
        let mut any_depth = false;
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Empty => any_depth = false,
                Step::AnyDirectories if i + 1 == steps.len() => break,
                Step::AnyDirectories => any_depth = true,
                Step::Impossible => return false,
                Step::Component(glob) => {
                    if rest.is_empty() {
                        return false;
                    }
                    if any_depth {
                        any_depth = false;
                        match rest.iter().position(|c| glob.matches(c.as_bytes())) {
                            Some(at) => {
                                rest = &rest[at + 1..];
                                matched = true;
                            }
                            None => {
                                rest = &[];
                                matched = false;
                            }
                        }
                    } else {
                        if !glob.matches(rest[0].as_bytes()) {
                            return false;
                        }
                        rest = &rest[1..];
                        matched = true;
                    }
                }
            }
        }
        matched && !(self.directories_only && !is_dir && rest.is_empty())
    }
}

/// Reads the rules of a text in gitignore syntax: one per line, `#` comments and blank lines
/// skipped, a trailing carriage return dropped.
pub fn parse_rules(text: &str, scope: &[String]) -> Vec<Rule> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| Rule::parse(line, scope))
        .collect()
}

/// The `.sourceignore` rules of a repository, read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceIgnore {
    file_rules: Vec<Rule>,
}

impl SourceIgnore {
    /// Reads every `.sourceignore` under `root` (not below `.git`).
    pub fn scan(fs: &dyn Fs, root: &Path) -> Result<SourceIgnore, IgnoreError> {
        let mut out = SourceIgnore::default();
        let mut seen = BTreeSet::new();
        // Depth first, by name: an explicit stack of (directory, scope) in reverse order.
        let mut stack = vec![(normalize(root), Vec::<String>::new())];
        while let Some((dir, scope)) = stack.pop() {
            if let Ok(real) = fs.canonicalize(&dir)
                && !seen.insert(real)
            {
                continue; // a symlink loop
            }
            let file = dir.join(IGNORE_FILE);
            if fs.is_file(&file) {
                let text = fs.read_to_string(&file).map_err(|source| IgnoreError {
                    path: file.clone(),
                    source,
                })?;
                out.file_rules.extend(parse_rules(&text, &scope));
            }
            let entries = fs.read_dir(&dir).map_err(|source| IgnoreError {
                path: dir.clone(),
                source,
            })?;
            let mut children = Vec::new();
            for entry in entries {
                let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if name != ".git" && fs.is_dir(&entry) {
                    let mut child_scope = scope.clone();
                    child_scope.push(name.to_owned());
                    children.push((entry.clone(), child_scope));
                }
            }
            stack.extend(children.into_iter().rev());
        }
        Ok(out)
    }

    /// True when no `.sourceignore` file holds a rule.
    pub fn is_empty(&self) -> bool {
        self.file_rules.is_empty()
    }

    /// The rules of a source with this `spec.ignore`.
    pub fn rules_for(&self, spec_ignore: Option<&str>) -> IgnoreRules {
        let mut own = self.file_rules.clone();
        if let Some(text) = spec_ignore {
            own.extend(parse_rules(text, &[]));
        }
        let mut rules: Vec<Rule> = VCS_RULES.iter().map(|r| Rule::parse(r, &[])).collect();
        if own.is_empty() {
            rules.extend(DEFAULT_RULES.iter().map(|r| Rule::parse(r, &[])));
        } else {
            rules.extend(own);
        }
        let has_inclusions = rules.iter().any(|r| r.include);
        IgnoreRules {
            rules,
            has_inclusions,
        }
    }
}

/// The complete, ordered rules of one source.
#[derive(Debug, Clone)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
    has_inclusions: bool,
}

impl IgnoreRules {
    /// True when the artifact leaves out `path` (components relative to the repository root).
    pub fn excludes(&self, path: &[&str], is_dir: bool) -> bool {
        self.rules
            .iter()
            .rev()
            .find_map(|rule| rule.verdict(path, is_dir))
            .unwrap_or(false)
    }
}

/// The repository as the artifact holds it: excluded files do not exist, and a directory exists
/// when it is not excluded or still holds a file that is not.
pub struct IgnoringFs<'a> {
    inner: &'a dyn Fs,
    root: PathBuf,
    /// The root with symlinks resolved, for the absolute paths kustomize reads through.
    real_root: Option<PathBuf>,
    rules: Arc<IgnoreRules>,
    /// Verdicts already reached, by path: [as a file, as a directory]. A build probes the same
    /// paths many times over (discovery, closures, kustomize, the build).
    verdicts: RwLock<HashMap<PathBuf, [Option<bool>; 2]>>,
}

/// How many paths an [`IgnoringFs`] remembers verdicts for.
const VERDICTS_KEPT: usize = 1 << 18;

impl<'a> IgnoringFs<'a> {
    pub fn new(inner: &'a dyn Fs, root: &Path, rules: Arc<IgnoreRules>) -> IgnoringFs<'a> {
        IgnoringFs {
            inner,
            root: normalize(root),
            real_root: inner.canonicalize(root).ok().map(|r| normalize(&r)),
            rules,
            verdicts: RwLock::new(HashMap::new()),
        }
    }

    /// Whether `path` lies below the root and the rules exclude it.
    fn excluded(&self, path: &Path, is_dir: bool) -> bool {
        let slot = usize::from(is_dir);
        if let Ok(verdicts) = self.verdicts.read()
            && let Some(hit) = verdicts.get(path).and_then(|v| v[slot])
        {
            return hit;
        }
        let hit = self.judge(path, is_dir);
        if let Ok(mut verdicts) = self.verdicts.write()
            && (verdicts.len() < VERDICTS_KEPT || verdicts.contains_key(path))
        {
            verdicts.entry(path.to_path_buf()).or_default()[slot] = Some(hit);
        }
        hit
    }

    fn judge(&self, path: &Path, is_dir: bool) -> bool {
        let path = normalize(path);
        let relative = if self.root == Path::new(".") && path.is_relative() {
            path.as_path()
        } else if let Ok(relative) = path.strip_prefix(&self.root) {
            relative
        } else if let Some(relative) = self
            .real_root
            .as_deref()
            .and_then(|real| path.strip_prefix(real).ok())
        {
            relative
        } else {
            return false;
        };
        let mut parts: Vec<&str> = Vec::with_capacity(8);
        for component in relative.components() {
            if let Component::Normal(name) = component {
                match name.to_str() {
                    Some(name) => parts.push(name),
                    // Not UTF-8: no rule text can name it.
                    None => return false,
                }
            }
        }
        !parts.is_empty() && self.rules.excludes(&parts, is_dir)
    }

    fn file_visible(&self, path: &Path) -> bool {
        !self.excluded(path, false) && self.inner.is_file(path)
    }

    fn dir_visible(&self, path: &Path) -> bool {
        if !self.inner.is_dir(path) {
            return false;
        }
        if !self.excluded(path, true) {
            return true;
        }
        // Without `!` rules nothing below an excluded directory can come back.
        self.rules.has_inclusions && self.holds_visible_file(path)
    }

    fn holds_visible_file(&self, dir: &Path) -> bool {
        let mut stack = vec![dir.to_path_buf()];
        let mut seen = 0usize;
        while let Some(dir) = stack.pop() {
            seen += 1;
            if seen > 100_000 {
                return false;
            }
            for entry in self.inner.read_dir(&dir).unwrap_or_default() {
                if self.inner.is_dir(&entry) {
                    stack.push(entry);
                } else if !self.excluded(&entry, false) {
                    return true;
                }
            }
        }
        false
    }

    fn not_found(path: &Path) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{}: excluded from the source artifact (.sourceignore, spec.ignore or a default exclusion)",
                path.display()
            ),
        )
    }
}

impl Fs for IgnoringFs<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        // Only files are read, so the file verdict is the one that counts.
        if self.excluded(path, false) {
            return Err(Self::not_found(path));
        }
        self.inner.read(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.dir_visible(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.file_visible(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        if self.inner.is_dir(path) && !self.dir_visible(path) {
            return Err(Self::not_found(path));
        }
        let entries = self.inner.read_dir(path)?;
        Ok(entries
            .into_iter()
            .filter(|entry| {
                // Only look at what the entry is when the verdict depends on it.
                match (self.excluded(entry, false), self.excluded(entry, true)) {
                    (false, false) => true,
                    (true, true) if !self.rules.has_inclusions => false,
                    (as_file, _) => {
                        if self.inner.is_dir(entry) {
                            self.dir_visible(entry)
                        } else {
                            !as_file
                        }
                    }
                }
            })
            .collect())
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let maybe_hidden = self.excluded(path, false) || self.excluded(path, true);
        if maybe_hidden && self.inner.exists(path) && !self.exists(path) {
            return Err(Self::not_found(path));
        }
        self.inner.canonicalize(path)
    }
}

#[cfg(test)]
mod tests;
