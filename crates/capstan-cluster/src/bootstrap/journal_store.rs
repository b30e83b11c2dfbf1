//! Where the bootstrap journal is kept: the plan's local file (`spec.journal.file`) always, and
//! the ConfigMap `spec.journal.configMap` in `spec.journal.namespace` once the cluster answers,
//! so a run on another machine sees the same state. Reading merges both, step by step, keeping
//! the entry that started last; writing skips a copy that already holds the same journal, so a
//! run that changes nothing writes nothing. The journal holds digests and names only.

use std::path::{Path, PathBuf};

use capstan_flux::bootstrap::journal::JournalError;
use capstan_flux::bootstrap::{Journal, Plan};
use serde_json::{Value, json};

use crate::cluster::{Cluster, ClusterError};
use crate::id::ObjectRef;

/// The ConfigMap key the journal is stored under.
pub const DATA_KEY: &str = "journal.json";

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{where_}: {source}")]
    Format {
        where_: String,
        #[source]
        source: JournalError,
    },
    #[error("the journal ConfigMap: {0}")]
    Cluster(#[from] ClusterError),
}

/// The journal and the copies it was read from.
#[derive(Debug)]
pub struct JournalStore {
    file: PathBuf,
    /// The file as shown in messages (relative to the repository).
    shown: PathBuf,
    namespace: String,
    config_map: String,
    pub journal: Journal,
    /// What the file and the ConfigMap held when last read or written.
    file_copy: Option<Journal>,
    map_copy: Option<Journal>,
}

impl JournalStore {
    /// Reads the local file (an empty journal when it does not exist).
    pub fn open(root: &Path, plan: &Plan) -> Result<JournalStore, StoreError> {
        let file = root.join(&plan.journal.file);
        let file_copy = match std::fs::read_to_string(&file) {
            Ok(text) => Some(
                Journal::from_json(&text).map_err(|source| StoreError::Format {
                    where_: plan.journal.file.display().to_string(),
                    source,
                })?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(StoreError::File { path: file, source }),
        };
        Ok(JournalStore {
            file,
            shown: plan.journal.file.clone(),
            namespace: plan.journal.namespace.clone(),
            config_map: plan.journal.config_map.clone(),
            journal: file_copy
                .clone()
                .unwrap_or_else(|| Journal::new(&plan.name)),
            file_copy,
            map_copy: None,
        })
    }

    /// The journal ConfigMap's reference.
    pub fn config_map_ref(&self) -> ObjectRef {
        ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: self.namespace.clone(),
            name: self.config_map.clone(),
        }
    }

    /// Merges the ConfigMap's journal in (per step, the entry that started last wins).
    pub async fn read_cluster<C: Cluster>(&mut self, cluster: &C) -> Result<(), StoreError> {
        let Some(object) = cluster.get(&self.config_map_ref()).await? else {
            return Ok(());
        };
        let Some(text) = object
            .pointer(&format!("/data/{}", DATA_KEY.replace('/', "~1")))
            .and_then(Value::as_str)
        else {
            return Ok(());
        };
        let remote = Journal::from_json(text).map_err(|source| StoreError::Format {
            where_: format!("ConfigMap {}/{}", self.namespace, self.config_map),
            source,
        })?;
        for (name, entry) in &remote.steps {
            let newer = self
                .journal
                .steps
                .get(name)
                .is_none_or(|local| entry.started_at > local.started_at);
            if newer {
                self.journal.steps.insert(name.clone(), entry.clone());
            }
        }
        self.map_copy = Some(remote);
        Ok(())
    }

    /// Writes the journal to the file, and to the ConfigMap when a cluster is given; a copy
    /// that already holds this journal is not written again.
    pub async fn save<C: Cluster>(&mut self, cluster: Option<&C>) -> Result<(), StoreError> {
        if self.file_copy.as_ref() != Some(&self.journal) {
            if let Some(dir) = self.file.parent() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::File {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            // Written beside and renamed, so a run killed mid-write leaves the old journal.
            let partial = self.file.with_extension("json.partial");
            std::fs::write(&partial, self.journal.to_json()).map_err(|source| {
                StoreError::File {
                    path: partial.clone(),
                    source,
                }
            })?;
            std::fs::rename(&partial, &self.file).map_err(|source| StoreError::File {
                path: self.shown.clone(),
                source,
            })?;
            self.file_copy = Some(self.journal.clone());
        }
        if let Some(cluster) = cluster
            && self.map_copy.as_ref() != Some(&self.journal)
        {
            let namespace = ObjectRef {
                group: String::new(),
                version: "v1".into(),
                kind: "Namespace".into(),
                namespace: String::new(),
                name: self.namespace.clone(),
            };
            if cluster.get(&namespace).await?.is_none() {
                cluster
                    .apply(
                        &json!({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": self.namespace}}),
                        false,
                    )
                    .await?;
            }
            let object = json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": self.config_map,
                    "namespace": self.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "capstan-bootstrap"},
                },
                "data": {DATA_KEY: self.journal.to_json()},
            });
            cluster.apply(&object, false).await?;
            self.map_copy = Some(self.journal.clone());
        }
        Ok(())
    }

    /// True when the ConfigMap was read or written in this run.
    pub fn in_cluster(&self) -> bool {
        self.map_copy.is_some()
    }
}
