//! The apply loop: for each Kustomization (in dependency waves for `apply all`), prepare the
//! objects, record them in the inventory before touching them, apply stage by stage (waiting
//! for CRDs, Namespaces, ClusterRoles and `*Class` objects, and refreshing discovery after new
//! CRDs), prune what the previous inventory holds and the build no longer renders, then wait for
//! health. Every decision about one object is [`crate::plan`]'s; this file only sequences the
//! requests and records what happened.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cache::{Known, LiveCache};
use crate::cluster::{Cluster, ClusterError, FIELD_MANAGER, Reason, Verb};
use crate::dependency::{self, Dependant, Verdict};
use crate::health_expr::{self, HealthExpr};
use crate::id::ObjectRef;
use crate::ignore::{self, IgnoreRules};
use crate::inventory::{self, Inventory};
use crate::kstatus::{self, Health, Status};
use crate::normalize::{self, Owner};
use crate::plan::{self, Decision, SkipReason};
use crate::policy::{self, Policy};
use crate::stage::{self, Stage};
use crate::unit::{self, Unit};

/// Kinds never pruned without an explicit opt-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Protected {
    pub namespaces: bool,
    pub pvcs: bool,
    pub crds: bool,
}

/// Something worth showing while an apply runs.
#[derive(Debug, Clone)]
pub enum Event {
    UnitStarted {
        owner: Owner,
        objects: usize,
    },
    ObjectDone {
        owner: Owner,
        object: ObjectRef,
        action: Action,
    },
    Waiting {
        owner: Owner,
        pending: usize,
    },
    UnitDone {
        owner: Owner,
        outcome: Outcome,
    },
}

/// A progress callback.
pub type Progress = Arc<dyn Fn(&Event) + Send + Sync>;

/// How the engine runs.
#[derive(Clone)]
pub struct Options {
    /// Server-side dry-run only: nothing is written, the inventory included.
    pub dry_run: bool,
    /// Prune the stale objects of Kustomizations with `spec.prune: true`.
    pub prune: bool,
    /// Protected kinds the user allows to be pruned.
    pub allow_prune: Protected,
    /// Wait for every applied object, whatever `spec.wait` says.
    pub wait: bool,
    /// Overrides each Kustomization's timeout.
    pub timeout: Option<Duration>,
    /// Health poll interval.
    pub poll: Duration,
    /// How long a waiting stage (CRDs, Namespaces, Classes) may take.
    pub stage_timeout: Duration,
    pub progress: Option<Progress>,
    /// `apply_all` holds every Kustomization of the cluster: an inventory whose Kustomization is
    /// no longer declared is pruned (when its `spec.prune` was true, and `prune` is set), as
    /// Flux's finalizer does when a Kustomization is deleted.
    pub prune_orphans: bool,
    /// Field managers whose fields capstan takes over (kustomize-controller's
    /// `--override-manager`): their Apply and Update entries are folded into capstan's before an
    /// apply, as kubectl's are, so what Git no longer declares is removed. Fields of every other
    /// manager (an HPA, an operator) stay theirs.
    pub override_managers: Vec<String>,
    /// The revision of the source being applied (`main@sha1:…`): recorded in each inventory
    /// applied without failure, and what `dependsOn`'s same-source rule compares a dependency's
    /// applied revision with. `None` skips that rule (and the report says so).
    pub revision: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dry_run: false,
            prune: false,
            allow_prune: Protected::default(),
            wait: false,
            timeout: None,
            poll: Duration::from_secs(2),
            stage_timeout: Duration::from_secs(60),
            progress: None,
            prune_orphans: false,
            override_managers: Vec::new(),
            revision: None,
        }
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    Skipped(SkipReason),
    Failed,
}

/// One object's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ObjectResult {
    pub object: ObjectRef,
    pub file: Option<PathBuf>,
    pub action: Action,
    /// The object was deleted and created again (an immutable field changed, force allowed).
    pub recreated: bool,
    pub error: Option<ClusterError>,
}

/// Why a stale object was not deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum KeptReason {
    /// `--prune` not given or `spec.prune` false: it stays in the inventory.
    PruneOff,
    /// Its owner labels name another Kustomization (or none): dropped from the inventory.
    NotOwned,
    /// `prune: disabled`, `reconcile: disabled` or `ssa: Ignore`: dropped from the inventory.
    Disabled,
    /// A Namespace, PVC or CRD without the opt-in: stays in the inventory.
    Protected,
    /// The delete failed: stays in the inventory to be retried.
    DeleteFailed,
    /// The apply failed, so nothing was pruned: stays in the inventory.
    ApplyFailed,
}

/// A stale object that was kept.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Kept {
    pub object: ObjectRef,
    pub reason: KeptReason,
    pub error: Option<ClusterError>,
}

/// How a Kustomization ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Outcome {
    /// Applied, pruned and (when asked) healthy.
    Ready,
    /// Something failed; see the report.
    Failed,
    Suspended,
    /// A dependency is not Ready.
    DependencyNotReady(Vec<Owner>),
}

/// The report of one Kustomization.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnitReport {
    pub owner: Owner,
    pub outcome: Outcome,
    pub objects: Vec<ObjectResult>,
    pub pruned: Vec<ObjectRef>,
    pub kept: Vec<Kept>,
    /// Health of the objects waited for.
    pub health: Vec<(ObjectRef, Status)>,
    /// Failures that are not about one object (build, inventory, health, timeout).
    pub errors: Vec<String>,
    /// What was not checked and why (not failures).
    pub notes: Vec<String>,
}

impl UnitReport {
    fn new(owner: Owner) -> UnitReport {
        UnitReport {
            owner,
            outcome: Outcome::Ready,
            objects: Vec::new(),
            pruned: Vec::new(),
            kept: Vec::new(),
            health: Vec::new(),
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn count(&self, action: Action) -> usize {
        self.objects.iter().filter(|o| o.action == action).count()
    }
}

struct Prepared {
    r: ObjectRef,
    object: Value,
    file: Option<PathBuf>,
    policy: Policy,
    /// The `spec.ignore` paths that select it.
    ignore: Vec<String>,
}

/// The engine: a cluster, a cache of what is live, and options.
pub struct Engine<'c, C: Cluster> {
    cluster: &'c C,
    cache: LiveCache,
    options: Options,
}

impl<'c, C: Cluster> Engine<'c, C> {
    pub fn new(cluster: &'c C, options: Options) -> Engine<'c, C> {
        Engine {
            cluster,
            cache: LiveCache::default(),
            options,
        }
    }

    fn emit(&self, event: Event) {
        if let Some(progress) = &self.options.progress {
            progress(&event);
        }
    }

    /// Applies units in dependency waves; a unit whose dependency is not Ready is not applied.
    pub async fn apply_all(&mut self, units: &[Unit]) -> Vec<UnitReport> {
        let waves = unit::waves(units);
        let mut reports: Vec<Option<UnitReport>> = vec![None; units.len()];
        let last = waves.iter().flatten().max().copied().unwrap_or(0);
        for wave in 0..=last {
            for (i, u) in units.iter().enumerate() {
                if waves[i] != Some(wave) {
                    continue;
                }
                let mut not_ready = Vec::new();
                let mut notes = Vec::new();
                for dep in &u.depends_on {
                    match units.iter().position(|x| x.owner == *dep) {
                        // Applied in this run, so from this run's revision.
                        Some(j) => {
                            let ready = reports[j]
                                .as_ref()
                                .is_some_and(|r| r.outcome == Outcome::Ready);
                            if !ready {
                                not_ready.push(dep.clone());
                            }
                        }
                        None => match self.ready_outside(dep, u).await {
                            Verdict::Ready => {}
                            Verdict::ReadyRevisionUnchecked => notes.push(format!(
                                "dependency {}/{}: same source, revision not checked (the \
                                 revision being applied is unknown)",
                                dep.namespace, dep.name
                            )),
                            Verdict::NotReady(why) => {
                                notes.push(format!(
                                    "dependency {}/{}: {why}",
                                    dep.namespace, dep.name
                                ));
                                not_ready.push(dep.clone());
                            }
                        },
                    }
                }
                let report = if not_ready.is_empty() {
                    let mut r = self.apply(u).await;
                    r.notes = notes;
                    r
                } else {
                    let mut r = UnitReport::new(u.owner.clone());
                    r.errors = notes;
                    r.outcome = Outcome::DependencyNotReady(not_ready);
                    self.emit(Event::UnitDone {
                        owner: r.owner.clone(),
                        outcome: r.outcome.clone(),
                    });
                    r
                };
                reports[i] = Some(report);
            }
        }
        let mut out: Vec<UnitReport> = units
            .iter()
            .zip(reports)
            .map(|(u, r)| {
                r.unwrap_or_else(|| {
                    let mut r = UnitReport::new(u.owner.clone());
                    r.outcome = Outcome::Failed;
                    r.errors.push("dependency cycle: not applied".into());
                    r
                })
            })
            .collect();
        if self.options.prune_orphans && self.options.prune && !self.options.dry_run {
            out.extend(self.prune_orphans(units).await);
        }
        out
    }

    /// Prunes the objects of inventories whose Kustomization is no longer declared, then drops
    /// the inventory once nothing in it is kept.
    async fn prune_orphans(&mut self, units: &[Unit]) -> Vec<UnitReport> {
        let configmap = ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: inventory::NAMESPACE.into(),
            name: String::new(),
        };
        let _ = self
            .cache
            .load(self.cluster, std::slice::from_ref(&configmap))
            .await;
        let orphans: Vec<(Owner, bool)> = self
            .cache
            .objects_in("", "ConfigMap", inventory::NAMESPACE)
            .into_iter()
            .filter_map(inventory::owner_of)
            .filter(|(owner, _)| !units.iter().any(|u| u.owner == *owner))
            .collect();
        let mut reports = Vec::new();
        for (owner, prune) in orphans {
            let mut gone = Unit::new(owner.clone(), Vec::new());
            gone.prune = prune;
            let report = self.apply(&gone).await;
            let emptied = prune
                && report.outcome == Outcome::Ready
                && report
                    .kept
                    .iter()
                    .all(|k| matches!(k.reason, KeptReason::NotOwned | KeptReason::Disabled));
            if emptied {
                let storage = inventory::storage_ref(&owner);
                if self.cluster.delete(&storage).await.is_ok() {
                    self.cache.remove(&storage);
                }
            }
            reports.push(report);
        }
        reports
    }

    /// A dependency outside this run, by Flux's rule ([`crate::dependency`]): its inventory
    /// when capstan applied it, else its live Kustomization.
    async fn ready_outside(&mut self, dep: &Owner, unit: &Unit) -> Verdict {
        let ready_expr = unit
            .ready_exprs
            .iter()
            .find(|(o, _)| o == dep)
            .map(|(_, e)| e.as_str());
        let dependant = Dependant {
            object: unit.kustomization.as_ref(),
            source: unit.source.as_deref(),
            revision: self.options.revision.as_deref(),
            ready_expr,
        };
        let storage = inventory::storage_ref(dep);
        let _ = self
            .cache
            .load(self.cluster, std::slice::from_ref(&storage))
            .await;
        if let Known::Present(stored) = self.cache.get(&storage) {
            let origin = inventory::Origin::of(stored);
            return dependency::check_inventory(
                &dependant,
                origin.source.as_deref(),
                origin.revision.as_deref(),
            );
        }
        let ks = kustomization_ref(dep);
        match self.cluster.get(&ks).await {
            Ok(Some(live)) => dependency::check_live(&dependant, &live),
            Ok(None) => Verdict::NotReady("not found".into()),
            Err(e) => Verdict::NotReady(e.to_string()),
        }
    }

    /// Applies one Kustomization.
    pub async fn apply(&mut self, unit: &Unit) -> UnitReport {
        let mut report = UnitReport::new(unit.owner.clone());
        self.emit(Event::UnitStarted {
            owner: unit.owner.clone(),
            objects: unit.objects.len(),
        });
        self.apply_inner(unit, &mut report).await;
        if report.outcome == Outcome::Ready
            && (!report.errors.is_empty()
                || report.objects.iter().any(|o| o.action == Action::Failed))
        {
            report.outcome = Outcome::Failed;
        }
        self.emit(Event::UnitDone {
            owner: unit.owner.clone(),
            outcome: report.outcome.clone(),
        });
        report
    }

    async fn apply_inner(&mut self, unit: &Unit, report: &mut UnitReport) {
        if unit.suspend {
            report.outcome = Outcome::Suspended;
            return;
        }
        if !unit.errors.is_empty() {
            report
                .errors
                .extend(unit.errors.iter().map(|e| format!("build failed: {e}")));
            return;
        }
        let exprs = match HealthExpr::compile_all(&unit.health_check_exprs) {
            Ok(e) => e,
            Err(e) => {
                report.errors.push(e.to_string());
                return;
            }
        };
        let ignore = match IgnoreRules::compile(&unit.ignore) {
            Ok(rules) => rules,
            Err(e) => {
                report.errors.push(e.to_string());
                return;
            }
        };
        // Prepare and look up what is live.
        let mut refs: Vec<ObjectRef> = Vec::new();
        let mut prepared = Vec::new();
        for d in &unit.objects {
            let object = normalize::prepare(&d.object, &unit.owner);
            match ObjectRef::of(&object) {
                Some(r) => {
                    refs.push(r.clone());
                    let policy = Policy::of(&object);
                    prepared.push(Prepared {
                        r,
                        ignore: ignore.paths_for(&object),
                        object,
                        file: d.file.clone(),
                        policy,
                    });
                }
                None => report.errors.push(format!(
                    "{}: an object without apiVersion, kind or metadata.name",
                    d.file
                        .as_ref()
                        .map(|f| f.display().to_string())
                        .unwrap_or_else(|| "(generated)".into())
                )),
            }
        }
        let storage = inventory::storage_ref(&unit.owner);
        refs.push(storage.clone());
        for e in self.cache.load(self.cluster, &refs).await {
            if e.reason != Reason::NotFound {
                report.errors.push(e.to_string());
            }
        }
        for p in &mut prepared {
            if p.r.namespace.is_empty() && self.cache.scope(&p.r) == Some(true) {
                p.r.namespace = "default".into();
                p.object["metadata"]["namespace"] = Value::String("default".into());
            }
        }
        let (stored, previous) = match self.previous_inventory(unit, &storage).await {
            Ok(found) => found,
            Err(e) => {
                report.errors.push(format!("reading the inventory: {e}"));
                return;
            }
        };
        let next = Inventory::of(prepared.iter().map(|p| &p.r));
        // Record every object before it is applied, so a run killed midway leaves no applied
        // object outside the inventory.
        let before = previous.union(&next);
        let stored_origin = match self.cache.get(&storage) {
            Known::Present(v) => inventory::Origin::of(v),
            _ => inventory::Origin::default(),
        };
        let origin_before = inventory::Origin {
            source: unit.source.clone().or_else(|| stored_origin.source.clone()),
            revision: stored_origin.revision.clone(),
        };
        if !self.options.dry_run
            && (stored.as_ref() != Some(&before) || stored_origin != origin_before)
            && let Err(e) = self
                .write_inventory(&unit.owner, &before, unit.prune, &origin_before)
                .await
        {
            report.errors.push(format!("writing the inventory: {e}"));
            return;
        }
        // Stages.
        prepared.sort_by(|a, b| {
            (Stage::of(&a.r), stage::order_key(&a.r))
                .cmp(&(Stage::of(&b.r), stage::order_key(&b.r)))
        });
        let mut failed_stage = false;
        for current in [Stage::Cluster, Stage::Class, Stage::Rest] {
            let in_stage: Vec<&Prepared> = prepared
                .iter()
                .filter(|p| Stage::of(&p.r) == current)
                .collect();
            if in_stage.is_empty() {
                continue;
            }
            if failed_stage {
                for p in in_stage {
                    report.objects.push(ObjectResult {
                        object: p.r.clone(),
                        file: p.file.clone(),
                        action: Action::Failed,
                        recreated: false,
                        error: Some(ClusterError::new(
                            Verb::Apply,
                            &p.r,
                            Reason::Other,
                            "not applied: an earlier stage failed",
                        )),
                    });
                }
                continue;
            }
            let first = report.objects.len();
            for p in &in_stage {
                let result = self.apply_object(p, unit.force).await;
                self.emit(Event::ObjectDone {
                    owner: unit.owner.clone(),
                    object: result.object.clone(),
                    action: result.action,
                });
                report.objects.push(result);
            }
            let results = &report.objects[first..];
            if results.iter().any(|o| o.action == Action::Failed) {
                failed_stage = true;
                continue;
            }
            if current.waits() && !self.options.dry_run {
                let changed: Vec<ObjectRef> = results
                    .iter()
                    .filter(|o| matches!(o.action, Action::Created | Action::Configured))
                    .map(|o| o.object.clone())
                    .collect();
                if !changed.is_empty() {
                    let crds = changed.iter().any(|r| r.kind == "CustomResourceDefinition");
                    let (health, error) = self
                        .wait(&unit.owner, &changed, &[], self.options.stage_timeout)
                        .await;
                    if let Some(e) = error {
                        report.errors.push(e);
                        report.health.extend(health);
                        failed_stage = true;
                        continue;
                    }
                    if crds {
                        match self.cluster.refresh().await {
                            Ok(()) => self.cache.forget_unserved(),
                            Err(e) => {
                                report.errors.push(format!("refreshing discovery: {e}"));
                                failed_stage = true;
                            }
                        }
                        let later: Vec<ObjectRef> = prepared.iter().map(|p| p.r.clone()).collect();
                        for e in self.cache.load(self.cluster, &later).await {
                            if e.reason != Reason::NotFound {
                                report.errors.push(e.to_string());
                            }
                        }
                    }
                }
            }
        }
        // Prune.
        let apply_failed = failed_stage || !report.errors.is_empty();
        let stale = before.stale(&next);
        let mut keep = Vec::new();
        if stale.is_empty() {
        } else if apply_failed {
            keep = stale
                .iter()
                .map(|r| Kept {
                    object: r.clone(),
                    reason: KeptReason::ApplyFailed,
                    error: None,
                })
                .collect();
        } else if !(self.options.prune && unit.prune) {
            keep = stale
                .iter()
                .map(|r| Kept {
                    object: r.clone(),
                    reason: KeptReason::PruneOff,
                    error: None,
                })
                .collect();
        } else {
            let (pruned, kept) = self.prune(&unit.owner, stale).await;
            report.pruned = pruned;
            keep = kept;
        }
        let still_held: Vec<&ObjectRef> = keep
            .iter()
            .filter(|k| !matches!(k.reason, KeptReason::NotOwned | KeptReason::Disabled))
            .map(|k| &k.object)
            .collect();
        report.kept = keep.clone();
        if keep.iter().any(|k| k.reason == KeptReason::DeleteFailed) {
            report
                .errors
                .push("prune failed for some objects; they stay in the inventory".into());
        }
        let after = next.union(&Inventory::of(still_held));
        let origin_after = inventory::Origin {
            revision: match &self.options.revision {
                Some(now) if !apply_failed => Some(now.clone()),
                _ => origin_before.revision.clone(),
            },
            ..origin_before.clone()
        };
        if !self.options.dry_run
            && (after != before || origin_after != origin_before)
            && let Err(e) = self
                .write_inventory(&unit.owner, &after, unit.prune, &origin_after)
                .await
        {
            report.errors.push(format!("writing the inventory: {e}"));
        }
        if apply_failed || self.options.dry_run {
            return;
        }
        // Health.
        let targets: Vec<ObjectRef> = if unit.wait || self.options.wait {
            report
                .objects
                .iter()
                .filter(|o| !matches!(o.action, Action::Skipped(_)))
                .map(|o| o.object.clone())
                .filter(|r| {
                    !(r.kind == "Kustomization"
                        && r.name == unit.owner.name
                        && r.namespace == unit.owner.namespace)
                })
                .collect()
        } else {
            // A health check's namespace defaults to the Kustomization's; a cluster-scoped kind
            // has none (as the API server ignores it).
            let _ = self.cache.load(self.cluster, &unit.health_checks).await;
            unit.health_checks
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if self.cache.scope(&r) == Some(false) {
                        r.namespace.clear();
                    }
                    r
                })
                .collect()
        };
        if !targets.is_empty() {
            let timeout = self.options.timeout.unwrap_or(unit.timeout);
            let (health, error) = self.wait(&unit.owner, &targets, &exprs, timeout).await;
            report.health = health;
            if let Some(e) = error {
                report.errors.push(e);
            }
        }
    }

    async fn previous_inventory(
        &mut self,
        unit: &Unit,
        storage: &ObjectRef,
    ) -> Result<(Option<Inventory>, Inventory), ClusterError> {
        let stored = match self.cache.get(storage) {
            Known::Present(v) => Some(v.clone()),
            Known::Absent => None,
            Known::Unknown => self.cluster.get(storage).await?,
        };
        if let Some(found) = stored.as_ref().and_then(inventory::from_object) {
            return Ok((Some(found.clone()), found));
        }
        let ks = kustomization_ref(&unit.owner);
        if self.cluster.scope(&ks).await?.is_some()
            && let Some(live) = self.cluster.get(&ks).await?
            && let Some(found) = inventory::from_kustomization(&live)
        {
            return Ok((None, found));
        }
        Ok((None, Inventory::default()))
    }

    async fn write_inventory(
        &mut self,
        owner: &Owner,
        inventory: &Inventory,
        prune: bool,
        origin: &inventory::Origin,
    ) -> Result<(), ClusterError> {
        let namespace = namespace_ref(inventory::NAMESPACE);
        let _ = self
            .cache
            .load(self.cluster, std::slice::from_ref(&namespace))
            .await;
        if !matches!(self.cache.get(&namespace), Known::Present(_)) {
            let created = self
                .cluster
                .apply(&inventory::namespace_object(), false)
                .await?;
            self.cache.put(&namespace, created);
        }
        let object = inventory::to_object(owner, inventory, prune, origin);
        let stored = self.cluster.apply(&object, false).await?;
        self.cache.put(&inventory::storage_ref(owner), stored);
        Ok(())
    }

    async fn live(&mut self, r: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        match self.cache.get(r) {
            Known::Present(v) => Ok(Some(v.clone())),
            Known::Absent => Ok(None),
            Known::Unknown => self.cluster.get(r).await,
        }
    }

    async fn apply_object(&mut self, p: &Prepared, force: bool) -> ObjectResult {
        let result = |action, error| ObjectResult {
            object: p.r.clone(),
            file: p.file.clone(),
            action,
            recreated: false,
            error,
        };
        let mut live = match self.live(&p.r).await {
            Ok(l) => l,
            Err(e) => return result(Action::Failed, Some(e)),
        };
        for _ in 0..3 {
            let rules = plan::Rules {
                override_managers: &self.options.override_managers,
                ignore: &p.ignore,
            };
            match plan::decide(&p.object, live.as_ref(), &p.policy, &rules) {
                Decision::Skip(reason) => return result(Action::Skipped(reason), None),
                Decision::Unchanged => return result(Action::Unchanged, None),
                Decision::Create => {
                    return match self.cluster.apply(&p.object, self.options.dry_run).await {
                        Ok(created) => {
                            if !self.options.dry_run {
                                self.cache.put(&p.r, created);
                            }
                            result(Action::Created, None)
                        }
                        Err(e) => result(Action::Failed, Some(e)),
                    };
                }
                Decision::Cleanup(patch) if !self.options.dry_run => {
                    match self.cluster.patch_json(&p.r, &patch).await {
                        Ok(cleaned) => {
                            self.cache.put(&p.r, cleaned.clone());
                            live = Some(cleaned);
                        }
                        Err(e) => return result(Action::Failed, Some(e)),
                    }
                }
                Decision::Cleanup(_) | Decision::DryRun => {
                    let Some(current) = live.clone() else {
                        return result(Action::Failed, None);
                    };
                    return self.dry_run_then_apply(p, &current, force).await;
                }
            }
        }
        result(
            Action::Failed,
            Some(ClusterError::new(
                Verb::Patch,
                &p.r,
                Reason::Other,
                "managed fields did not settle after cleanup",
            )),
        )
    }

    async fn dry_run_then_apply(
        &mut self,
        p: &Prepared,
        live: &Value,
        force: bool,
    ) -> ObjectResult {
        let mut out = ObjectResult {
            object: p.r.clone(),
            file: p.file.clone(),
            action: Action::Failed,
            recreated: false,
            error: None,
        };
        match self.cluster.apply(&p.object, true).await {
            Ok(dry) => {
                if !plan::drifted(&dry, live, &p.ignore) {
                    out.action = Action::Unchanged;
                    return out;
                }
                if self.options.dry_run {
                    out.action = Action::Configured;
                    return out;
                }
                let mut payload = p.object.clone();
                ignore::resolve(&mut payload, live, &dry, &p.ignore, FIELD_MANAGER);
                match self.cluster.apply(&payload, false).await {
                    Ok(applied) => {
                        self.cache.put(&p.r, applied);
                        out.action = Action::Configured;
                    }
                    Err(e) => out.error = Some(e),
                }
            }
            Err(e)
                if e.immutable()
                    && (force || p.policy.force || Policy::of(live).force)
                    && !self.options.dry_run =>
            {
                match self.recreate(p).await {
                    Ok(()) => {
                        out.action = Action::Created;
                        out.recreated = true;
                    }
                    Err(e) => out.error = Some(e),
                }
            }
            Err(e) => out.error = Some(e),
        }
        out
    }

    async fn recreate(&mut self, p: &Prepared) -> Result<(), ClusterError> {
        self.cluster.delete(&p.r).await?;
        self.cache.remove(&p.r);
        let deadline = Instant::now() + self.options.stage_timeout;
        while self.cluster.get(&p.r).await?.is_some() {
            if Instant::now() > deadline {
                return Err(ClusterError::new(
                    Verb::Delete,
                    &p.r,
                    Reason::Other,
                    "still terminating; not recreated",
                ));
            }
            tokio::time::sleep(self.options.poll).await;
        }
        let created = self.cluster.apply(&p.object, false).await?;
        self.cache.put(&p.r, created);
        Ok(())
    }

    async fn prune(
        &mut self,
        owner: &Owner,
        mut stale: Vec<ObjectRef>,
    ) -> (Vec<ObjectRef>, Vec<Kept>) {
        stale.sort_by(|a, b| {
            (Stage::of(b), stage::order_key(b)).cmp(&(Stage::of(a), stage::order_key(a)))
        });
        let _ = self.cache.load(self.cluster, &stale).await;
        let (mut pruned, mut kept) = (Vec::new(), Vec::new());
        for r in stale {
            let keep = |reason, error| Kept {
                object: r.clone(),
                reason,
                error,
            };
            let live = match self.live(&r).await {
                Ok(Some(live)) => live,
                Ok(None) => {
                    pruned.push(r.clone());
                    continue;
                }
                Err(e) => {
                    kept.push(keep(KeptReason::DeleteFailed, Some(e)));
                    continue;
                }
            };
            if !policy::owned_by(&live, &owner.name, &owner.namespace) {
                kept.push(keep(KeptReason::NotOwned, None));
                continue;
            }
            let p = Policy::of(&live);
            if p.prune_disabled || p.ignored() {
                kept.push(keep(KeptReason::Disabled, None));
                continue;
            }
            let protected = match (r.group.as_str(), r.kind.as_str()) {
                ("", "Namespace") => !self.options.allow_prune.namespaces,
                ("", "PersistentVolumeClaim") => !self.options.allow_prune.pvcs,
                ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                    !self.options.allow_prune.crds
                }
                _ => false,
            };
            if protected {
                kept.push(keep(KeptReason::Protected, None));
                continue;
            }
            match self.cluster.delete(&r).await {
                Ok(_) => {
                    self.cache.remove(&r);
                    pruned.push(r.clone());
                }
                Err(e) if e.reason == Reason::NotFound => pruned.push(r.clone()),
                Err(e) => kept.push(keep(KeptReason::DeleteFailed, Some(e))),
            }
        }
        (pruned, kept)
    }

    /// Polls until every object is Current; stops early on a Failed one; errors on timeout.
    async fn wait(
        &mut self,
        owner: &Owner,
        refs: &[ObjectRef],
        exprs: &[HealthExpr],
        timeout: Duration,
    ) -> (Vec<(ObjectRef, Status)>, Option<String>) {
        let deadline = Instant::now() + timeout;
        let mut statuses: Vec<(ObjectRef, Status)> = Vec::new();
        let mut first = true;
        loop {
            statuses.clear();
            for r in refs {
                let live = if first {
                    self.live(r).await
                } else {
                    self.cluster.get(r).await
                };
                let status = match live {
                    Ok(Some(object)) => {
                        if !first {
                            self.cache.put(r, object.clone());
                        }
                        match health_expr::matching(exprs, &r.group, &r.kind) {
                            Some(expr) => health_expr::evaluate(expr, &object),
                            None => kstatus::compute(&object),
                        }
                    }
                    // A finished Job deleted by its ttlSecondsAfterFinished counts as done, as in Flux.
                    Ok(None) if r.group == "batch" && r.kind == "Job" => Status {
                        health: Health::Current,
                        message: "gone after finishing (ttlSecondsAfterFinished)".into(),
                    },
                    Ok(None) => Status {
                        health: Health::NotFound,
                        message: "not found".into(),
                    },
                    Err(e) => Status {
                        health: Health::InProgress,
                        message: e.to_string(),
                    },
                };
                statuses.push((r.clone(), status));
            }
            first = false;
            let pending: Vec<&(ObjectRef, Status)> = statuses
                .iter()
                .filter(|(_, s)| s.health != Health::Current)
                .collect();
            if pending.is_empty() {
                return (statuses, None);
            }
            let failed: Vec<String> = statuses
                .iter()
                .filter(|(_, s)| s.health == Health::Failed)
                .map(|(r, s)| format!("{r} ({})", s.message))
                .collect();
            if !failed.is_empty() {
                let message = format!(
                    "failed early due to stalled resources: [{}]",
                    failed.join(", ")
                );
                return (statuses, Some(message));
            }
            if Instant::now() >= deadline {
                let names: Vec<String> = pending
                    .iter()
                    .map(|(r, s)| format!("{r} ({})", s.message))
                    .collect();
                let message = format!("timeout waiting for: [{}]", names.join(", "));
                return (statuses, Some(message));
            }
            self.emit(Event::Waiting {
                owner: owner.clone(),
                pending: pending.len(),
            });
            tokio::time::sleep(self.options.poll).await;
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The live cache (for drift and reports).
    pub fn cache(&mut self) -> &mut LiveCache {
        &mut self.cache
    }

    pub fn cluster(&self) -> &'c C {
        self.cluster
    }
}

fn kustomization_ref(owner: &Owner) -> ObjectRef {
    ObjectRef {
        group: "kustomize.toolkit.fluxcd.io".into(),
        version: "v1".into(),
        kind: "Kustomization".into(),
        namespace: owner.namespace.clone(),
        name: owner.name.clone(),
    }
}

fn namespace_ref(name: &str) -> ObjectRef {
    ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: name.into(),
    }
}
