//! The journal: per step, the digest of the inputs it last ran with, each input's own digest
//! (so `plan` can say which input changed), the digests of the steps it needed at that time
//! (so a step re-run after its dependents marks them changed even across an interrupted run),
//! the result and the timings. It is JSON, kept in a local file before the cluster exists and in
//! a ConfigMap afterwards; it holds digests and names only, never a value of a secret.

use std::collections::BTreeMap;

use super::ResolvedStep;
use super::resolve::digest_value;

/// The journal's format version.
pub const JOURNAL_VERSION: u32 = 1;

/// Every step's last run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Journal {
    pub version: u32,
    /// The plan's `metadata.name`.
    pub plan: String,
    #[serde(default)]
    pub steps: BTreeMap<String, JournalEntry>,
}

/// A step's last run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// The digest of all inputs.
    pub digest: String,
    /// Each input's digest (16 hex digits).
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// The digest of each needed step when this one ran.
    #[serde(default)]
    pub needs: BTreeMap<String, String>,
    pub outcome: StepOutcome,
    /// RFC 3339 UTC.
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How a step's last run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    /// Begun and not finished: the run was interrupted.
    Started,
    Succeeded,
    Failed,
}

/// Why a journal does not read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the journal is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("journal version {0} is newer than this capstan reads ({JOURNAL_VERSION})")]
    Version(u32),
}

impl Journal {
    pub fn new(plan: &str) -> Journal {
        Journal {
            version: JOURNAL_VERSION,
            plan: plan.to_owned(),
            steps: BTreeMap::new(),
        }
    }

    pub fn from_json(text: &str) -> Result<Journal, JournalError> {
        let journal: Journal = serde_json::from_str(text)?;
        if journal.version > JOURNAL_VERSION {
            return Err(JournalError::Version(journal.version));
        }
        Ok(journal)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Records that `step` began at `now`; `needs` are the digests of the steps it needs.
    pub fn start(&mut self, step: &ResolvedStep, needs: BTreeMap<String, String>, now: &str) {
        self.steps.insert(
            step.step.name.clone(),
            JournalEntry {
                digest: step.digest.clone(),
                inputs: step
                    .inputs
                    .iter()
                    .map(|(k, v)| (k.clone(), digest_value(v)))
                    .collect(),
                needs,
                outcome: StepOutcome::Started,
                started_at: now.to_owned(),
                finished_at: None,
                message: None,
            },
        );
    }

    /// Records how `step` ended.
    pub fn finish(&mut self, step: &str, outcome: StepOutcome, message: Option<String>, now: &str) {
        if let Some(entry) = self.steps.get_mut(step) {
            entry.outcome = outcome;
            entry.finished_at = Some(now.to_owned());
            entry.message = message;
        }
    }
}
