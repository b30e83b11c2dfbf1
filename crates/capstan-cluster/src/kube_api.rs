//! The [`Cluster`] trait over a real API server with kube-rs: discovery (aggregated, refreshed
//! on demand), dynamic objects, server-side apply with [`FIELD_MANAGER`] and force, JSON
//! patches, background deletes. Each request is counted by verb, so benchmarks and reports can
//! say what a run cost.
//!
//! [`KubeApi::watching`] makes the steady state cost no request at all in a process that
//! reconciles more than once (the controller, a long-running apply loop): the first `list` of a
//! kind starts a kube-runtime reflector (one LIST, then one WATCH that stays open and resumes
//! after errors and 410s with the watcher's backoff), and every later `list` of that kind is
//! answered from the reflector's store, which other managers' changes reach through the watch.
//! A one-shot command does not watch: its one LIST per kind is exactly the list a watch would
//! start with.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::{Client, Config};
use serde_json::Value;
use tokio::sync::RwLock;

use crate::cluster::{Cluster, ClusterError, FIELD_MANAGER, Reason, Verb};
use crate::id::ObjectRef;

/// Connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("reading kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("loading the kubeconfig: {0}")]
    Config(#[from] kube::config::KubeconfigError),
    #[error("finding a kubeconfig or in-cluster configuration: {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("creating the client: {0}")]
    Client(#[from] kube::Error),
}

/// The user name the kubeconfig's context authenticates as (the context's `user` entry), for
/// audit records; `None` when there is no kubeconfig or no such context.
pub fn kubeconfig_user(kubeconfig: Option<&Path>, context: Option<&str>) -> Option<String> {
    let file = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path).ok()?,
        None => Kubeconfig::read().ok()?,
    };
    let name = context
        .map(str::to_owned)
        .or_else(|| file.current_context.clone())?;
    file.contexts
        .iter()
        .find(|c| c.name == name)?
        .context
        .as_ref()?
        .user
        .clone()
}

/// How long the first list of a watched kind may take before `list` gives up on it.
const WATCH_READY: Duration = Duration::from_secs(30);

/// Group, version and kind.
type KindKey = (String, String, String);

/// One watched kind: its reflector's store and the task feeding it.
struct Watched {
    store: Store<DynamicObject>,
    task: tokio::task::JoinHandle<()>,
}

/// A Kubernetes API reached with kube-rs.
pub struct KubeApi {
    client: Client,
    discovery: RwLock<Option<Discovery>>,
    requests: Mutex<BTreeMap<&'static str, u64>>,
    default_namespace: String,
    /// `Some` when lists are answered from watches ([`KubeApi::watching`]).
    watched: Option<Mutex<HashMap<KindKey, Watched>>>,
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        if let Some(watched) = &self.watched
            && let Ok(map) = watched.lock()
        {
            for w in map.values() {
                w.task.abort();
            }
        }
    }
}

impl KubeApi {
    /// Connects with a kubeconfig file (else `$KUBECONFIG`, `~/.kube/config` or the in-cluster
    /// service account) and an optional context.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
    ) -> Result<KubeApi, ConnectError> {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..Default::default()
        };
        let config = match kubeconfig {
            Some(path) => {
                let file =
                    Kubeconfig::read_from(path).map_err(|source| ConnectError::Kubeconfig {
                        path: path.display().to_string(),
                        source,
                    })?;
                Config::from_custom_kubeconfig(file, &options).await?
            }
            None if context.is_some() => Config::from_kubeconfig(&options).await?,
            None => Config::infer().await?,
        };
        let default_namespace = config.default_namespace.clone();
        let client = Client::try_from(config)?;
        Ok(KubeApi::from_client(client, default_namespace))
    }

    pub fn from_client(client: Client, default_namespace: String) -> KubeApi {
        KubeApi {
            client,
            discovery: RwLock::new(None),
            requests: Mutex::new(BTreeMap::new()),
            default_namespace,
            watched: None,
        }
    }

    /// Answers `list` from a watch per kind from now on (see the module documentation). Needs a
    /// tokio runtime that outlives the lists.
    pub fn watching(mut self) -> KubeApi {
        self.watched = Some(Mutex::new(HashMap::new()));
        self
    }

    /// Every page of a list, each item stamped with its kind's `apiVersion` and `kind` (the API
    /// server leaves them out of list items).
    async fn list_pages(
        &self,
        api: &Api<DynamicObject>,
        mut params: ListParams,
        r: &ObjectRef,
        ar: &ApiResource,
    ) -> Result<Vec<Value>, ClusterError> {
        let mut out = Vec::new();
        loop {
            self.count("list");
            let page = api
                .list(&params)
                .await
                .map_err(|e| error(Verb::List, &r.kind, e))?;
            for item in page.items {
                let mut value = to_value(item, r, Verb::List)?;
                if let Some(map) = value.as_object_mut() {
                    map.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
                    map.insert("kind".into(), Value::String(ar.kind.clone()));
                }
                out.push(value);
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The objects of a watched kind, starting its watch on first use; `None` when not watching.
    async fn watched_list(&self, ar: &ApiResource) -> Option<Result<Vec<Value>, ClusterError>> {
        let watched = self.watched.as_ref()?;
        let key = (ar.group.clone(), ar.version.clone(), ar.kind.clone());
        let existing = watched
            .lock()
            .ok()
            .and_then(|map| map.get(&key).map(|w| w.store.clone()));
        let store = match existing {
            Some(store) => store,
            None => {
                let writer = reflector::store::Writer::<DynamicObject>::new(ar.clone());
                let store = writer.as_reader();
                let api: Api<DynamicObject> = Api::all_with(self.client.clone(), ar);
                self.count("list");
                self.count("watch");
                let stream = watcher(api, watcher::Config::default())
                    .default_backoff()
                    .reflect(writer);
                let task = tokio::spawn(stream.for_each(|_| async {}));
                let ready = tokio::time::timeout(WATCH_READY, store.wait_until_ready()).await;
                if !matches!(ready, Ok(Ok(()))) {
                    task.abort();
                    return Some(Err(ClusterError::new(
                        Verb::List,
                        &ar.kind,
                        Reason::Unavailable,
                        "the watch did not deliver its first list",
                    )));
                }
                if let Ok(mut map) = watched.lock() {
                    map.insert(
                        key,
                        Watched {
                            store: store.clone(),
                            task,
                        },
                    );
                }
                store
            }
        };
        let mut out = Vec::new();
        for object in store.state() {
            let mut value = match serde_json::to_value(&*object) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Err(ClusterError::new(
                        Verb::List,
                        &ar.kind,
                        Reason::Other,
                        e.to_string(),
                    )));
                }
            };
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
                map.insert("kind".into(), Value::String(ar.kind.clone()));
            }
            out.push(value);
        }
        Some(Ok(out))
    }

    /// The kube-rs client (for requests outside the [`Cluster`] trait).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The kubeconfig context's namespace.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Requests made so far, by verb.
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn count(&self, verb: &'static str) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry(verb).or_default() += 1;
        }
    }

    async fn discover(&self) -> Result<(), ClusterError> {
        self.count("discovery");
        let discovery = match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(_) => Discovery::new(self.client.clone())
                .run()
                .await
                .map_err(|e| error(Verb::Discover, &"discovery", e))?,
        };
        *self.discovery.write().await = Some(discovery);
        Ok(())
    }

    async fn resource(&self, r: &ObjectRef) -> Result<Option<(ApiResource, bool)>, ClusterError> {
        if self.discovery.read().await.is_none() {
            self.discover().await?;
        }
        let guard = self.discovery.read().await;
        let Some(discovery) = guard.as_ref() else {
            return Ok(None);
        };
        let Some(group) = discovery.get(&r.group) else {
            return Ok(None);
        };
        let found = group
            .versioned_resources(&r.version)
            .into_iter()
            .find(|(ar, _)| ar.kind == r.kind)
            .or_else(|| group.recommended_kind(&r.kind));
        Ok(found.map(|(ar, caps)| (ar, caps.scope == Scope::Namespaced)))
    }

    async fn api(
        &self,
        r: &ObjectRef,
        verb: Verb,
    ) -> Result<(Api<DynamicObject>, ApiResource), ClusterError> {
        let Some((ar, namespaced)) = self.resource(r).await? else {
            return Err(ClusterError::new(
                verb,
                r,
                Reason::NotFound,
                format!("the server does not serve {} {}", r.api_version(), r.kind),
            ));
        };
        let api = if namespaced {
            let ns = if r.namespace.is_empty() {
                &self.default_namespace
            } else {
                &r.namespace
            };
            Api::namespaced_with(self.client.clone(), ns, &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        };
        Ok((api, ar))
    }
}

fn error(verb: Verb, object: &dyn std::fmt::Display, e: kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(status) => {
            let mut out = ClusterError::new(
                verb,
                object,
                Reason::of_status(status.code),
                status.message.clone(),
            );
            out.code = Some(status.code);
            if let Some(details) = &status.details {
                out.fields = details
                    .causes
                    .iter()
                    .map(|c| c.field.clone())
                    .filter(|f| !f.is_empty())
                    .collect();
            }
            out
        }
        other => ClusterError::new(verb, object, Reason::Unavailable, other.to_string()),
    }
}

fn to_value(object: DynamicObject, r: &ObjectRef, verb: Verb) -> Result<Value, ClusterError> {
    serde_json::to_value(object)
        .map_err(|e| ClusterError::new(verb, r, Reason::Other, e.to_string()))
}

impl Cluster for KubeApi {
    async fn scope(&self, r: &ObjectRef) -> Result<Option<bool>, ClusterError> {
        Ok(self.resource(r).await?.map(|(_, namespaced)| namespaced))
    }

    async fn refresh(&self) -> Result<(), ClusterError> {
        self.discover().await
    }

    async fn list(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let r = ObjectRef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: String::new(),
            name: String::new(),
        };
        let Some((ar, _)) = self.resource(&r).await? else {
            return Err(ClusterError::new(
                Verb::List,
                &r.kind,
                Reason::NotFound,
                "kind not served",
            ));
        };
        if let Some(found) = self.watched_list(&ar).await {
            return found;
        }
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        self.list_pages(&api, ListParams::default().limit(500), &r, &ar)
            .await
    }

    async fn get(&self, r: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        let (api, _) = match self.api(r, Verb::Get).await {
            Ok(found) => found,
            Err(e) if e.reason == Reason::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        self.count("get");
        match api.get_opt(&r.name).await {
            Ok(Some(o)) => to_value(o, r, Verb::Get).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(error(Verb::Get, r, e)),
        }
    }

    async fn apply(&self, object: &Value, dry_run: bool) -> Result<Value, ClusterError> {
        let verb = if dry_run { Verb::DryRun } else { Verb::Apply };
        let r = crate::cluster::manifest_ref(object, verb)?;
        let (api, _) = self.api(&r, verb).await?;
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        if dry_run {
            params = params.dry_run();
        }
        self.count(if dry_run { "dry-run" } else { "apply" });
        let applied = api
            .patch(&r.name, &params, &Patch::Apply(object))
            .await
            .map_err(|e| error(verb, &r, e))?;
        to_value(applied, &r, verb)
    }

    async fn apply_as(
        &self,
        object: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, ClusterError> {
        let r = crate::cluster::manifest_ref(object, Verb::Apply)?;
        let (api, _) = self.api(&r, Verb::Apply).await?;
        let mut params = PatchParams::apply(manager);
        if force {
            params = params.force();
        }
        self.count("apply");
        let applied = api
            .patch(&r.name, &params, &Patch::Apply(object))
            .await
            .map_err(|e| error(Verb::Apply, &r, e))?;
        to_value(applied, &r, Verb::Apply)
    }

    async fn list_labelled(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        namespace: &str,
        selector: &[(&str, &str)],
    ) -> Result<Vec<Value>, ClusterError> {
        let r = ObjectRef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: String::new(),
        };
        let Some((ar, namespaced)) = self.resource(&r).await? else {
            return Err(ClusterError::new(
                Verb::List,
                &r.kind,
                Reason::NotFound,
                "kind not served",
            ));
        };
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        };
        let labels: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let params = ListParams::default().limit(500).labels(&labels.join(","));
        self.list_pages(&api, params, &r, &ar).await
    }

    async fn patch_json(&self, r: &ObjectRef, patch: &Value) -> Result<Value, ClusterError> {
        let (api, _) = self.api(r, Verb::Patch).await?;
        let ops: json_patch::Patch = serde_json::from_value(patch.clone())
            .map_err(|e| ClusterError::new(Verb::Patch, r, Reason::Invalid, e.to_string()))?;
        self.count("patch");
        let patched = api
            .patch(&r.name, &PatchParams::default(), &Patch::<()>::Json(ops))
            .await
            .map_err(|e| error(Verb::Patch, r, e))?;
        to_value(patched, r, Verb::Patch)
    }

    async fn create(&self, object: &Value) -> Result<Value, ClusterError> {
        let r = crate::cluster::manifest_ref(object, Verb::Create)?;
        let (api, _) = self.api(&r, Verb::Create).await?;
        let body: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| ClusterError::new(Verb::Create, &r, Reason::Invalid, e.to_string()))?;
        self.count("create");
        let created = api
            .create(&PostParams::default(), &body)
            .await
            .map_err(|e| error(Verb::Create, &r, e))?;
        to_value(created, &r, Verb::Create)
    }

    async fn delete(&self, r: &ObjectRef) -> Result<bool, ClusterError> {
        let (api, _) = self.api(r, Verb::Delete).await?;
        self.count("delete");
        match api.delete(&r.name, &DeleteParams::background()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(e) => Err(error(Verb::Delete, r, e)),
        }
    }
}

impl crate::verbs::logs::PodLogs for KubeApi {
    async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        options: &crate::verbs::logs::LogOptions,
    ) -> Result<crate::verbs::logs::Lines, ClusterError> {
        use futures::{AsyncBufReadExt as _, StreamExt as _};
        let api: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), namespace);
        let params = kube::api::LogParams {
            container: options.container.clone(),
            follow: options.follow,
            previous: options.previous,
            tail_lines: options.tail_lines,
            since_seconds: options.since_seconds,
            since_time: options.since_time,
            ..kube::api::LogParams::default()
        };
        let what = format!("Pod {namespace}/{pod} log");
        self.count("get");
        let reader = api
            .log_stream(pod, &params)
            .await
            .map_err(|e| error(Verb::Logs, &what, e))?;
        Ok(reader
            .lines()
            .map(move |l| {
                l.map_err(|e| {
                    ClusterError::new(Verb::Logs, &what, Reason::Unavailable, e.to_string())
                })
            })
            .boxed())
    }
}
