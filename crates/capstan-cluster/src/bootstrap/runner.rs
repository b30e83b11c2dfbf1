//! The run: the plan loaded and checked before anything is touched, the journal read (its local
//! file, and the cluster's ConfigMap when the cluster exists), then each step in run order —
//! skipped when the journal calls it done with the same inputs and the cluster agrees, else
//! recorded as started, run, and recorded as succeeded or failed, so a run killed at any point
//! resumes at the step that did not finish. A failed step stops the run. `status` shows the
//! journal and re-checks every step's health gate.
//!
//! The cluster is reached lazily: never before a plan's talos step has fetched its kubeconfig,
//! then with that kubeconfig (or the one given, or the ambient one when the plan has no talos
//! step).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use capstan_core::OsFs;
use capstan_flux::bootstrap::status::need_digests;
use capstan_flux::bootstrap::{
    EngineStep, OpCli, ResolvedPlan, ResolvedStep, StepKind, StepOutcome, StepState, StepStatus,
    load, plan_status,
};

use super::wait::Gate;
use super::{
    BootstrapError, JournalStore, Settings, StepError, engine, helm, manifests, secret, talos, wait,
};
use crate::kube_api::KubeApi;

/// Which steps a run takes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// Every step not done.
    #[default]
    All,
    /// This step and every step after it in run order, done or not.
    From(String),
    /// This step alone, done or not.
    Only(String),
}

/// The steps a run takes, in run order (what `apply --dry-run` lists).
pub fn select<'a>(
    status: &'a [StepStatus],
    selection: &Selection,
) -> Result<Vec<&'a StepStatus>, BootstrapError> {
    let position = |name: &str| {
        status
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| BootstrapError::NoStep(name.to_owned()))
    };
    Ok(match selection {
        Selection::All => status
            .iter()
            .filter(|s| s.state != StepState::Done)
            .collect(),
        Selection::From(name) => status[position(name)?..].iter().collect(),
        Selection::Only(name) => vec![&status[position(name)?]],
    })
}

/// Something worth showing while a run goes.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The step was recorded as started and begins.
    Started {
        step: String,
        kind: &'static str,
        why: String,
    },
    /// The step ended and the journal recorded it.
    Finished(StepRun),
    /// Something that did not stop the run.
    Warning(String),
}

/// How one step of a run ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum StepRunOutcome {
    /// Done with the same inputs, and the cluster agrees.
    Skipped {
        reason: String,
    },
    Succeeded {
        summary: String,
    },
    Failed {
        message: String,
    },
    /// Not run: an earlier step failed.
    NotRun {
        reason: String,
    },
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepRun {
    pub step: String,
    pub kind: &'static str,
    #[serde(flatten)]
    pub outcome: StepRunOutcome,
    pub seconds: f64,
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunReport {
    pub steps: Vec<StepRun>,
}

impl RunReport {
    pub fn failed(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.outcome, StepRunOutcome::Failed { .. }))
    }

    pub fn ran(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.outcome, StepRunOutcome::Succeeded { .. }))
            .count()
    }
}

/// The current time as the journal records it (RFC 3339, milliseconds, UTC).
fn now() -> String {
    format!("{:.3}", k8s_openapi::jiff::Timestamp::now())
}

/// The cluster, connected on first use.
struct Connection<'a> {
    settings: &'a Settings,
    kubeconfig: Option<PathBuf>,
    api: Option<KubeApi>,
    /// Whether a journal write that reached only the local file was already warned about.
    warned_local_only: bool,
}

impl<'a> Connection<'a> {
    fn new(settings: &'a Settings, plan: &ResolvedPlan) -> Connection<'a> {
        let talos_kubeconfig = plan.steps.iter().find_map(|s| match &s.step.kind {
            StepKind::Talos(t) => Some(settings.root.join(&t.kubeconfig)),
            _ => None,
        });
        Connection {
            settings,
            kubeconfig: settings.kubeconfig.clone().or(talos_kubeconfig),
            api: None,
            warned_local_only: false,
        }
    }

    /// Whether there is a cluster to talk to yet: a kubeconfig named and present, or none named
    /// (the ambient one).
    fn exists(&self) -> bool {
        self.kubeconfig.as_ref().is_none_or(|k| k.is_file())
    }

    async fn get(&mut self) -> Result<&KubeApi, StepError> {
        if self.api.is_none() {
            let api =
                KubeApi::connect(self.kubeconfig.as_deref(), self.settings.context.as_deref())
                    .await
                    .map_err(|e| StepError::Connect(e.to_string()))?;
            self.api = Some(api);
        }
        self.api
            .as_ref()
            .ok_or_else(|| StepError::Connect("no connection".into()))
    }

    /// Drops the connection, so the next use reads the kubeconfig again (after talos fetched it).
    fn reset(&mut self) {
        self.api = None;
    }
}

fn emit(settings: &Settings, event: RunEvent) {
    if let Some(progress) = &settings.progress {
        progress(&event);
    }
}

/// The plan, checked against the repository and the machine.
fn load_plan(settings: &Settings, machine_checks: bool) -> Result<ResolvedPlan, BootstrapError> {
    let machine = machine_checks.then_some((
        settings.machine.as_ref() as &dyn capstan_flux::bootstrap::Machine,
        &settings.keys,
    ));
    Ok(load(&OsFs, &settings.root, machine)?)
}

/// Reads the journal: the local file, and the ConfigMap when the cluster exists.
async fn open_journal(
    settings: &Settings,
    plan: &ResolvedPlan,
    connection: &mut Connection<'_>,
) -> Result<JournalStore, BootstrapError> {
    let mut store = JournalStore::open(&settings.root, &plan.plan)?;
    if connection.exists() {
        match connection.get().await {
            Ok(api) => match store.read_cluster(api).await {
                Ok(()) => {}
                Err(super::StoreError::Cluster(e)) => emit(
                    settings,
                    RunEvent::Warning(format!(
                        "the journal ConfigMap was not read ({e}); using the local journal"
                    )),
                ),
                Err(e) => return Err(e.into()),
            },
            Err(e) => emit(
                settings,
                RunEvent::Warning(format!("{e}; using the local journal")),
            ),
        }
    }
    Ok(store)
}

/// `capstan bootstrap apply`: runs the selected steps that are not done.
pub async fn apply(settings: &Settings) -> Result<RunReport, BootstrapError> {
    let plan = load_plan(settings, settings.check_machine)?;
    let mut connection = Connection::new(settings, &plan);
    let mut store = open_journal(settings, &plan, &mut connection).await?;
    let status = plan_status(&plan, &store.journal);
    let selected: Vec<String> = select(&status, &settings.selection)?
        .into_iter()
        .map(|s| s.name.clone())
        .collect();
    // A step run alone, or from, needs what it needs done.
    if let Selection::Only(name) | Selection::From(name) = &settings.selection
        && let Some(s) = status.iter().find(|s| &s.name == name)
    {
        for need in &s.needs {
            if let Some(n) = status.iter().find(|n| &n.name == need)
                && n.state == StepState::Pending
                && !selected.contains(need)
            {
                return Err(BootstrapError::NeedNotDone {
                    step: name.clone(),
                    need: need.clone(),
                    state: n.state.as_str(),
                });
            }
        }
    }
    let mut report = RunReport::default();
    let mut stopped: Option<String> = None;
    for (step, state) in plan.steps.iter().zip(&status) {
        let name = &step.step.name;
        let kind = step.step.kind.name();
        let mut why = if state.reasons.is_empty() {
            state.state.as_str().to_owned()
        } else {
            format!("{}: {}", state.state.as_str(), state.reasons.join("; "))
        };
        if !selected.contains(name) {
            if settings.selection != Selection::All {
                continue;
            }
            // Done by the journal: the cluster must agree.
            match observe(settings, step, &mut connection).await {
                Ok(None) => {
                    report.steps.push(StepRun {
                        step: name.clone(),
                        kind,
                        outcome: StepRunOutcome::Skipped {
                            reason: "done with the same inputs".into(),
                        },
                        seconds: 0.0,
                    });
                    continue;
                }
                Ok(Some(missing)) => why = format!("journal says done, but {missing}"),
                Err(e) => why = format!("journal says done, but the check failed: {e}"),
            }
        }
        if let Some(failed) = &stopped {
            report.steps.push(StepRun {
                step: name.clone(),
                kind,
                outcome: StepRunOutcome::NotRun {
                    reason: format!("{failed} failed"),
                },
                seconds: 0.0,
            });
            continue;
        }
        // Interrupted last time: what it left half done (a Helm release pending) is its own.
        let resumed = store
            .journal
            .steps
            .get(name)
            .is_some_and(|e| e.outcome == StepOutcome::Started);
        store.journal.start(step, need_digests(&plan, name), &now());
        save(settings, &mut store, &mut connection).await?;
        emit(
            settings,
            RunEvent::Started {
                step: name.clone(),
                kind,
                why,
            },
        );
        let began = Instant::now();
        let result = run_step(settings, &plan, step, &mut connection, resumed).await;
        let (outcome, journal_outcome, message) = match &result {
            Ok(summary) => (
                StepRunOutcome::Succeeded {
                    summary: summary.clone(),
                },
                StepOutcome::Succeeded,
                None,
            ),
            Err(e) => (
                StepRunOutcome::Failed {
                    message: e.to_string(),
                },
                StepOutcome::Failed,
                Some(e.to_string()),
            ),
        };
        if matches!(step.step.kind, StepKind::Talos(_)) && result.is_ok() {
            // The cluster exists now: connect with the fetched kubeconfig and read any journal
            // another machine left there.
            connection.reset();
            if let Ok(api) = connection.get().await
                && let Err(e) = store.read_cluster(api).await
            {
                emit(
                    settings,
                    RunEvent::Warning(format!("the journal ConfigMap was not read: {e}")),
                );
            }
        }
        store.journal.finish(name, journal_outcome, message, &now());
        save(settings, &mut store, &mut connection).await?;
        let run = StepRun {
            step: name.clone(),
            kind,
            outcome,
            seconds: began.elapsed().as_secs_f64(),
        };
        emit(settings, RunEvent::Finished(run.clone()));
        if result.is_err() {
            stopped = Some(name.clone());
        }
        report.steps.push(run);
    }
    Ok(report)
}

/// Writes the journal: the file always, the ConfigMap once the cluster exists. The file holds
/// the journal either way, so a cluster that cannot be written is warned about (once), never
/// passed over in silence.
async fn save(
    settings: &Settings,
    store: &mut JournalStore,
    connection: &mut Connection<'_>,
) -> Result<(), BootstrapError> {
    if connection.exists() {
        let problem = match connection.get().await {
            Ok(api) => match store.save(Some(api)).await {
                Ok(()) => return Ok(()),
                Err(e @ super::StoreError::Cluster(_)) => e.to_string(),
                Err(e) => return Err(e.into()),
            },
            Err(e) => format!("the cluster did not answer ({e})"),
        };
        if !std::mem::replace(&mut connection.warned_local_only, true) {
            emit(
                settings,
                RunEvent::Warning(format!(
                    "{problem}; the journal is kept in the local file only"
                )),
            );
        }
    }
    store.save(None::<&KubeApi>).await?;
    Ok(())
}

/// One step's work.
async fn run_step(
    settings: &Settings,
    plan: &ResolvedPlan,
    step: &ResolvedStep,
    connection: &mut Connection<'_>,
    resumed: bool,
) -> Result<String, StepError> {
    let name = &step.step.name;
    let timeout = Duration::from_secs(step.step.timeout_seconds);
    let root = &settings.root;
    if let StepKind::Talos(t) = &step.step.kind {
        let cli = talos::cli(root, t, settings.machine.as_ref());
        return talos::run(cli, root, t, &step.talos_nodes, step.step.timeout_seconds).await;
    }
    let api = connection.get().await?;
    match &step.step.kind {
        StepKind::Talos(_) => Err(StepError::Apply(
            "a talos step runs before the cluster exists".into(),
        )),
        StepKind::Manifests(m) => {
            let objects = manifests::render(&OsFs, root, name, &m.paths, &settings.keys)?;
            let unit = manifests::unit(name, &plan.plan.journal.namespace, objects, timeout);
            manifests::apply(api, &unit, m.wait, settings.poll).await
        }
        StepKind::Secret(s) => {
            let op = op_cli(settings);
            secret::apply(api, root, s, &settings.keys, settings.machine.as_ref(), &op).await
        }
        StepKind::Helm(_) => match &step.helm {
            Some(install) => {
                helm::install(
                    api,
                    root,
                    install,
                    settings.charts.clone(),
                    settings.helm.clone(),
                    timeout,
                    resumed,
                )
                .await
            }
            None => Err(StepError::Release {
                release: name.clone(),
                message: "the plan did not resolve a release".into(),
            }),
        },
        StepKind::Engine(e) => {
            engine::run(
                api,
                settings,
                name,
                e,
                step.helm.as_ref(),
                &plan.plan.journal.namespace,
                timeout,
                resumed,
            )
            .await
        }
        StepKind::Wait(w) => wait::run(api, w, timeout, settings.poll).await,
    }
}

fn op_cli(settings: &Settings) -> OpCli {
    OpCli {
        program: settings
            .machine
            .which("op")
            .unwrap_or_else(|| PathBuf::from("op")),
    }
}

/// Whether the cluster agrees a step the journal calls done is done: `None`, or what is
/// missing.
async fn observe(
    settings: &Settings,
    step: &ResolvedStep,
    connection: &mut Connection<'_>,
) -> Result<Option<String>, StepError> {
    let root = &settings.root;
    if let StepKind::Talos(t) = &step.step.kind {
        return Ok((!root.join(&t.kubeconfig).is_file())
            .then(|| format!("the kubeconfig {} is missing", t.kubeconfig.display())));
    }
    let api = connection.get().await?;
    let red = |gates: Vec<Gate>| {
        gates
            .into_iter()
            .find(|g| !g.healthy)
            .map(|g| format!("{} is {}", g.object, g.message))
    };
    Ok(match &step.step.kind {
        StepKind::Talos(_) => None,
        StepKind::Manifests(m) => {
            let objects =
                manifests::render(&OsFs, root, &step.step.name, &m.paths, &settings.keys)?;
            manifests::missing(api, &manifests::refs(&objects))
                .await?
                .map(|r| format!("{r} is missing"))
        }
        StepKind::Secret(s) => red(vec![secret::gate(api, s).await]),
        StepKind::Helm(_) => match &step.helm {
            Some(install) => red(vec![helm::gate(api, install).await]),
            None => None,
        },
        StepKind::Engine(e) => {
            let mut missing = None;
            if let (EngineStep::FluxOperator { .. }, Some(install)) = (e, &step.helm) {
                missing = red(vec![helm::gate(api, install).await]);
            }
            if missing.is_none() {
                let objects = engine::render(root, &step.step.name, e, &settings.keys)?;
                missing = manifests::missing(api, &manifests::refs(&objects))
                    .await?
                    .map(|r| format!("{r} is missing"));
            }
            missing
        }
        StepKind::Wait(w) => red(wait::check(api, w).await),
    })
}

/// One step in `status`: its journal state and its gates now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GateReport {
    pub step: String,
    pub kind: &'static str,
    pub state: StepState,
    pub reasons: Vec<String>,
    /// How its last run ended, if it ran.
    pub outcome: Option<StepOutcome>,
    pub finished_at: Option<String>,
    pub gates: Vec<Gate>,
}

impl GateReport {
    pub fn green(&self) -> bool {
        self.gates.iter().all(|g| g.healthy)
    }
}

/// `capstan bootstrap status`: every step's journal entry and gates.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    pub plan: String,
    /// Where the journal was read from.
    pub journal: Vec<String>,
    pub steps: Vec<GateReport>,
}

impl StatusReport {
    /// Every gate of every step holds.
    pub fn green(&self) -> bool {
        self.steps.iter().all(GateReport::green)
    }
}

/// Shows the journal and re-checks every step's gate (nothing is written).
pub async fn status(settings: &Settings) -> Result<StatusReport, BootstrapError> {
    let plan = load_plan(settings, false)?;
    let mut connection = Connection::new(settings, &plan);
    let store = open_journal(settings, &plan, &mut connection).await?;
    let mut journal = vec![plan.plan.journal.file.display().to_string()];
    if store.in_cluster() {
        journal.push(format!(
            "ConfigMap {}/{}",
            plan.plan.journal.namespace, plan.plan.journal.config_map
        ));
    }
    let status = plan_status(&plan, &store.journal);
    let mut steps = Vec::new();
    for (step, state) in plan.steps.iter().zip(status) {
        let gates = gates(settings, step, &mut connection).await;
        let entry = store.journal.steps.get(&step.step.name);
        steps.push(GateReport {
            step: state.name,
            kind: state.kind,
            state: state.state,
            reasons: state.reasons,
            outcome: entry.map(|e| e.outcome),
            finished_at: state.finished_at,
            gates,
        });
    }
    Ok(StatusReport {
        plan: plan.plan.name.clone(),
        journal,
        steps,
    })
}

/// A step's health gates, looked at once.
async fn gates(
    settings: &Settings,
    step: &ResolvedStep,
    connection: &mut Connection<'_>,
) -> Vec<Gate> {
    let root = &settings.root;
    let name = &step.step.name;
    if let StepKind::Talos(t) = &step.step.kind {
        let cli = talos::cli(root, t, settings.machine.as_ref());
        return vec![talos::gate(cli, root, t, &step.talos_nodes).await];
    }
    let api = match connection.get().await {
        Ok(api) => api,
        Err(e) => return vec![Gate::failing("cluster", e.to_string())],
    };
    match &step.step.kind {
        StepKind::Talos(_) => Vec::new(),
        StepKind::Manifests(m) => {
            match manifests::render(&OsFs, root, name, &m.paths, &settings.keys) {
                Ok(objects) => manifests::gates(api, &manifests::refs(&objects), m.wait).await,
                Err(e) => vec![Gate::failing(name.as_str(), e.to_string())],
            }
        }
        StepKind::Secret(s) => vec![secret::gate(api, s).await],
        StepKind::Helm(_) => match &step.helm {
            Some(install) => vec![helm::gate(api, install).await],
            None => vec![Gate::failing(name.as_str(), "no release resolved")],
        },
        StepKind::Engine(e) => {
            engine::gates(api, root, name, e, step.helm.as_ref(), &settings.keys).await
        }
        StepKind::Wait(w) => wait::check(api, w).await,
    }
}
