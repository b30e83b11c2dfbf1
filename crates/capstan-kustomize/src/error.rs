//! The errors a build can end in. Messages follow kustomize's wording where kustomize has one,
//! so scripts matching on `kubectl kustomize` messages keep working; every variant names the
//! file or directory involved.

use std::path::PathBuf;

use capstan_core::yaml::YamlError;

/// Everything that can go wrong while building a kustomization.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A directory has no kustomization file.
    #[error(
        "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{}'",
        .dir.display()
    )]
    MissingKustomization { dir: PathBuf },

    /// A directory has more than one kustomization file.
    #[error("Found multiple kustomization files under: {}", .dir.display())]
    MultipleKustomizations { dir: PathBuf },

    /// The kustomization file does not decode (unknown field, wrong type, bad YAML).
    #[error("invalid Kustomization: {message} (in {})", .file.display())]
    InvalidKustomization { file: PathBuf, message: String },

    /// A YAML file could not be parsed.
    #[error("{}{}: {source}", .file.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Yaml {
        file: PathBuf,
        line: Option<usize>,
        #[source]
        source: YamlError,
    },

    /// A file could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file outside the kustomization root, under `LoadRestrictionsRootOnly`.
    #[error("security; file '{}' is not in or below '{}'", .path.display(), .root.display())]
    RootEscape { path: PathBuf, root: PathBuf },

    /// A kustomization that (directly or not) includes itself or one of its ancestors.
    #[error("cycle detected: candidate root '{}' contains visited root '{}'", .candidate.display(), .visited.display())]
    Cycle {
        candidate: PathBuf,
        visited: PathBuf,
    },

    /// Two resources with the same id.
    #[error("may not add resource with an already registered id: {id}")]
    DuplicateId { id: String },

    /// A document that is not a usable Kubernetes object.
    #[error("{}: document {document}: {message}", .file.display())]
    BadObject {
        file: PathBuf,
        document: usize,
        message: String,
    },

    /// A field of the kustomization with a value kustomize rejects.
    #[error("{}: {field}: {message}", .file.display())]
    Field {
        file: PathBuf,
        field: String,
        message: String,
    },

    /// A feature capstan refuses (KRM function plugins) or does not implement yet.
    #[error("{message}")]
    Unsupported { message: String },

    /// A remote resource that could not be fetched.
    #[error("{message}")]
    Remote { message: String },

    /// A remote resource not fetched because the network was found unreachable in this run.
    #[error("remote resource '{url}' not fetched: {source}")]
    Unreachable {
        url: String,
        source: capstan_core::network::Unreachable,
    },

    /// A remote resource the cache does not hold, in offline mode.
    #[error("remote resource '{url}' is not in the cache (--offline; looked in {})", dir.display())]
    NotCached { url: String, dir: PathBuf },

    /// The `helm` binary failed or could not be run.
    #[error("{message}")]
    Helm { message: String },

    /// Any other failure, with kustomize's wording.
    #[error("{0}")]
    Message(String),

    /// An error with the step it happened in, as kustomize prefixes its errors.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps this error with a prefix naming the step it happened in.
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// A plain message error.
    pub fn msg(message: impl Into<String>) -> Error {
        Error::Message(message.into())
    }

    /// The innermost error, past all context prefixes.
    pub fn root_cause(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root_cause(),
            other => other,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
