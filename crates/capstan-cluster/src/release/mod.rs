//! Helm releases as Helm itself stores them, so `helm list/get/history/rollback` and
//! helm-controller read what capstan installs, and capstan upgrades what `helm install` made.
//!
//! - [`Release`]: one release version (Helm's `release.v1` JSON, kept as read so it encodes back
//!   byte for byte), its [`Status`];
//! - [`storage`]: the Secret codec (`sh.helm.release.v1.NAME.vN`, base64(gzip(JSON)), labels);
//! - [`history`]: the lifecycle as pure decisions — the next version, which Secrets an install,
//!   upgrade or rollback writes with which status, and which old versions `maxHistory` deletes;
//! - [`chart`]: the `chart` a release stores, loaded from a chart directory;
//! - [`manifest`]: `helm template` output split into the stored manifest and hooks, and Helm's
//!   ownership metadata;
//! - [`hooks`]: hook order, delete policies and their execution;
//! - [`records`]: the release's Secrets in the cluster ([`current`], [`list_history`],
//!   [`unlock`]);
//! - [`objects`]: the release's objects (apply as `helm`, delete removed ones, wait, CRDs);
//! - [`engine`]: install/upgrade ([`upgrade_install`]), [`rollback`], [`uninstall`] through the
//!   [`crate::Cluster`] seam.

pub mod chart;
pub mod engine;
pub mod history;
pub mod hooks;
pub mod manifest;
pub mod objects;
pub mod records;
pub mod storage;

pub use engine::{
    Failure, InstallRequest, ReleaseAction, ReleaseError, ReleaseOutcome, RollbackRequest,
    UninstallOutcome, UninstallRequest, rollback, uninstall, upgrade_install,
};
pub use records::{current, history as list_history, unlock};

use capstan_core::{Map, Value};

/// A release status, as Helm spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Unknown,
    Deployed,
    Uninstalled,
    Superseded,
    Failed,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "unknown" => Status::Unknown,
            "deployed" => Status::Deployed,
            "uninstalled" => Status::Uninstalled,
            "superseded" => Status::Superseded,
            "failed" => Status::Failed,
            "uninstalling" => Status::Uninstalling,
            "pending-install" => Status::PendingInstall,
            "pending-upgrade" => Status::PendingUpgrade,
            "pending-rollback" => Status::PendingRollback,
            _ => return None,
        })
    }

    /// A `pending-*` release locks the release name (helm-controller unlocks it by marking it
    /// failed).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

/// One version of a release: Helm's `release.v1` JSON, fields in the order read.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    json: Value,
    status: Status,
}

/// What a new release version holds.
#[derive(Debug, Clone)]
pub struct NewRelease<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub version: i64,
    /// `chart` as Helm stores it: `metadata` (Chart.yaml), `lock`, `templates`, `values`,
    /// `schema`, `files`.
    pub chart: Value,
    /// The user-supplied values.
    pub config: Map,
    pub manifest: &'a str,
    pub hooks: Vec<Value>,
    pub notes: &'a str,
    pub description: &'a str,
    pub status: Status,
    /// RFC 3339 with nanoseconds, UTC.
    pub first_deployed: &'a str,
    pub last_deployed: &'a str,
}

impl Release {
    /// A release read from its JSON.
    pub fn from_json(json: Value) -> Result<Release, String> {
        let Some(map) = json.as_object() else {
            return Err("not a JSON object".into());
        };
        if map.get("name").and_then(Value::as_str).is_none() {
            return Err("no name".into());
        }
        if map.get("version").and_then(Value::as_i64).is_none() {
            return Err("no version".into());
        }
        let status = json
            .pointer("/info/status")
            .and_then(Value::as_str)
            .map(|s| Status::parse(s).ok_or_else(|| format!("unknown status {s:?}")))
            .transpose()?
            .unwrap_or(Status::Unknown);
        Ok(Release { json, status })
    }

    /// A new release version, fields in Helm's order (`name, info, chart, config, manifest,
    /// hooks, version, namespace, apply_method`), empty ones left out as Go's `omitempty` does.
    pub fn new(new: NewRelease<'_>) -> Release {
        let mut info = Map::new();
        info.insert("first_deployed".into(), new.first_deployed.into());
        info.insert("last_deployed".into(), new.last_deployed.into());
        if !new.description.is_empty() {
            info.insert("description".into(), new.description.into());
        }
        info.insert("status".into(), new.status.as_str().into());
        if !new.notes.is_empty() {
            info.insert("notes".into(), new.notes.into());
        }
        let mut json = Map::new();
        json.insert("name".into(), new.name.into());
        json.insert("info".into(), Value::Object(info));
        json.insert("chart".into(), new.chart);
        if !new.config.is_empty() {
            json.insert("config".into(), Value::Object(new.config));
        }
        if !new.manifest.is_empty() {
            json.insert("manifest".into(), new.manifest.into());
        }
        if !new.hooks.is_empty() {
            json.insert("hooks".into(), Value::Array(new.hooks));
        }
        json.insert("version".into(), new.version.into());
        json.insert("namespace".into(), new.namespace.into());
        json.insert("apply_method".into(), "ssa".into());
        Release {
            json: Value::Object(json),
            status: new.status,
        }
    }

    pub fn json(&self) -> &Value {
        &self.json
    }

    pub fn name(&self) -> &str {
        self.json.get("name").and_then(Value::as_str).unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.json
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn version(&self) -> i64 {
        self.json
            .get("version")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The user-supplied values (`helm get values`).
    pub fn config(&self) -> Map {
        self.json
            .get("config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    pub fn manifest(&self) -> &str {
        self.json
            .get("manifest")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `chart.metadata.name` and `.version`.
    pub fn chart(&self) -> (&str, &str) {
        let field = |f: &str| {
            self.json
                .pointer(&format!("/chart/metadata/{f}"))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        (field("name"), field("version"))
    }

    /// The stored `chart` (metadata, lock, templates, values, schema, files).
    pub fn chart_json(&self) -> Value {
        self.json.get("chart").cloned().unwrap_or(Value::Null)
    }

    /// The stored hooks.
    pub fn hooks(&self) -> Vec<Value> {
        self.json
            .get("hooks")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    fn info(&self, field: &str) -> &str {
        self.json
            .pointer(&format!("/info/{field}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `info.notes`.
    pub fn notes(&self) -> &str {
        self.info("notes")
    }

    /// `info.description`.
    pub fn description(&self) -> &str {
        self.info("description")
    }

    /// `info.first_deployed` (RFC 3339).
    pub fn first_deployed(&self) -> &str {
        self.info("first_deployed")
    }

    /// `chart.metadata.appVersion`.
    pub fn app_version(&self) -> &str {
        self.json
            .pointer("/chart/metadata/appVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Sets `info.deleted` (an uninstall's time, RFC 3339), placed where Helm writes it (after
    /// `last_deployed`).
    pub fn set_deleted(&mut self, when: &str) {
        if let Some(info) = self.json.get_mut("info").and_then(Value::as_object_mut) {
            let mut next = Map::new();
            for (k, v) in std::mem::take(info) {
                let after = k == "last_deployed";
                if k != "deleted" {
                    next.insert(k, v);
                }
                if after {
                    next.insert("deleted".into(), when.into());
                }
            }
            if !next.contains_key("deleted") {
                next.insert("deleted".into(), when.into());
            }
            *info = next;
        }
    }

    /// Sets `info.status` (and `info.description` when given).
    pub fn set_status(&mut self, status: Status, description: Option<&str>) {
        self.status = status;
        if let Some(info) = self.json.get_mut("info").and_then(Value::as_object_mut) {
            info.insert("status".into(), status.as_str().into());
            if let Some(d) = description {
                info.insert("description".into(), d.into());
            }
        }
    }
}
