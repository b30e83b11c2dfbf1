//! What a check runs over, independent of how it was rendered: per Flux Kustomization and
//! HelmRelease (a "unit"), its own manifest, whether it rendered, and the objects it produced with
//! the file and document each came from. The binary fills this from `capstan-flux`'s build.

use capstan_core::{Diagnostic, Location, ResourceId, Value};

/// Which Flux object a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum UnitKind {
    Kustomization,
    HelmRelease,
}

/// Whether a unit rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum UnitStatus {
    Rendered,
    /// The build failed; these are its errors (strict substitution, missing files, …).
    Failed(Vec<Diagnostic>),
    /// Not rendered on purpose (suspended, remote chart out of reach, …), with the reason.
    Skipped(String),
}

/// One rendered object and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub object: Value,
    /// The source file and document index (and line, once located).
    pub location: Location,
    /// True when the object's source document is SOPS-encrypted in Git.
    pub encrypted: bool,
}

impl Rendered {
    pub fn new(object: Value) -> Rendered {
        Rendered {
            object,
            location: Location::default(),
            encrypted: false,
        }
    }

    pub fn at(mut self, location: Location) -> Rendered {
        self.location = location;
        self
    }
}

/// A Flux Kustomization or HelmRelease with what it produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub kind: UnitKind,
    pub id: ResourceId,
    /// The Kustomization or HelmRelease manifest itself.
    pub manifest: Value,
    /// Where the manifest is declared.
    pub location: Location,
    pub status: UnitStatus,
    pub objects: Vec<Rendered>,
    /// The cluster (entry point) the unit belongs to; objects only conflict within one cluster.
    pub cluster: Option<String>,
}

impl Unit {
    pub fn new(kind: UnitKind, manifest: Value) -> Unit {
        Unit {
            kind,
            id: ResourceId::of(&manifest),
            manifest,
            location: Location::default(),
            status: UnitStatus::Rendered,
            objects: Vec::new(),
            cluster: None,
        }
    }

    /// `spec.<field>` of the manifest.
    pub fn spec(&self, field: &str) -> Option<&Value> {
        self.manifest.get("spec").and_then(|s| s.get(field))
    }

    /// True for a Kustomization with `prune: true`.
    pub fn prunes(&self) -> bool {
        self.kind == UnitKind::Kustomization
            && self.spec("prune").and_then(Value::as_bool) == Some(true)
    }
}

/// Everything one check looks at.
#[derive(Debug, Clone, Default)]
pub struct CheckInput {
    pub units: Vec<Unit>,
    /// Findings of discovery and the dependsOn graph (missing sources, paths, dependencies, cycles).
    pub diagnostics: Vec<Diagnostic>,
    /// Flux source objects (GitRepository, OCIRepository, HelmRepository, …) the repo declares.
    pub sources: Vec<Value>,
}
