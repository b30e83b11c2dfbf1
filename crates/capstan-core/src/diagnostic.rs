//! The shape every error and finding is reported in: what, how bad, and where (file, document
//! index, field path, line).

use std::fmt;
use std::path::PathBuf;

/// How serious a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Where something was found. Every part is optional because not every source knows all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// The file, relative to the repository root where possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The index of the YAML document in the file, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// The field path inside the document, e.g. `spec.template.spec.containers[0].image`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The 1-based line in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Location {
    pub fn file(file: impl Into<PathBuf>) -> Location {
        Location {
            file: Some(file.into()),
            ..Location::default()
        }
    }

    pub fn with_document(mut self, document: usize) -> Location {
        self.document = Some(document);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Location {
        self.field = Some(field.into());
        self
    }

    pub fn with_line(mut self, line: usize) -> Location {
        self.line = Some(line);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.file.is_none()
            && self.document.is_none()
            && self.field.is_none()
            && self.line.is_none()
    }
}

impl fmt::Display for Location {
    /// `file:line (document N, field F)`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            wrote = true;
        }
        let mut extra = Vec::new();
        if let Some(doc) = self.document {
            extra.push(format!("document {doc}"));
        }
        if let Some(field) = &self.field {
            extra.push(format!("field {field}"));
        }
        if !extra.is_empty() {
            if wrote {
                f.write_str(" ")?;
            }
            write!(f, "({})", extra.join(", "))?;
        }
        Ok(())
    }
}

/// A finding or an error, as data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    /// A stable rule or error id, e.g. `pvc-protection` or `schema/unknown-field`.
    pub code: String,
    pub severity: Severity,
    pub message: String,
    #[serde(default, skip_serializing_if = "Location::is_empty")]
    pub location: Location,
}

impl Diagnostic {
    pub fn new(
        code: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            code: code.into(),
            severity,
            message: message.into(),
            location: Location::default(),
        }
    }

    pub fn at(mut self, location: Location) -> Diagnostic {
        self.location = location;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        if !self.location.is_empty() {
            write!(f, "\n  --> {}", self.location)?;
        }
        Ok(())
    }
}
