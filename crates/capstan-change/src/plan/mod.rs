//! Change classification: for every changed file and every changed object, the phase that
//! applies it (Bootstrap / GitOps / Hybrid), the branch of the seeds' decision tree that decided
//! it, its risk and the approval that risk needs, and the procedure that applies it; then the
//! verdict for the whole change (highest risk, strictest approval) and one ordered procedure.
//!
//! Pure: input is the list of changed files (with their changed YAML fields), the object diff,
//! where each Kustomization/HelmRelease lives, and what both sides' Flux units say
//! ([`ChangeFacts`]); rules are data ([`rules`]). The change analyses ([`crate::analysis`]) run
//! first: their findings raise the risk of the objects they name (rules and escalations can key
//! on them with `findings:`), count in the verdict, and add their steps to the procedure.

mod bootstrap;
mod procedure;
pub mod render;
pub mod rules;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::analysis::{ChangeFacts, Context, Finding};
use crate::diff::{DiffReport, ObjectChange, Producer, ProducerKind, Which};
pub use bootstrap::BootstrapStep;
use rules::{Facts, ItemKind};
pub use rules::{RuleSet, default_rules};

/// Which phase applies a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    GitOps,
    Hybrid,
    Bootstrap,
}

/// The risk matrix's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Risk {
    #[serde(alias = "low")]
    Low,
    #[serde(alias = "medium")]
    Medium,
    #[serde(alias = "high")]
    High,
    #[serde(alias = "critical")]
    Critical,
}

impl Risk {
    /// Parses `low`, `medium`, `high`, `critical` (any case).
    pub fn parse(text: &str) -> Option<Risk> {
        match text.to_ascii_lowercase().as_str() {
            "low" => Some(Risk::Low),
            "medium" => Some(Risk::Medium),
            "high" => Some(Risk::High),
            "critical" => Some(Risk::Critical),
            _ => None,
        }
    }

    /// The approval the risk matrix asks for.
    pub fn approval(self) -> Approval {
        match self {
            Risk::Low => Approval::SelfApproved,
            Risk::Medium => Approval::PeerReview,
            Risk::High => Approval::LeadApproval,
            Risk::Critical => Approval::TeamApproval,
        }
    }
}

/// Who must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Approval {
    SelfApproved,
    PeerReview,
    LeadApproval,
    TeamApproval,
}

/// The branch of the decision tree that decided an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Branch {
    /// The cluster is not operational.
    EmergencyRecovery,
    /// System foundation, needs direct hardware/OS access.
    OsAccess,
    /// System foundation, no OS access, not manageable via the Kubernetes API.
    NotViaApi,
    /// System foundation, manageable via the Kubernetes API.
    FoundationViaApi,
    /// Not system foundation.
    NotFoundation,
    /// The core part is foundation outside the API, the rest is operational: both phases.
    Split,
}

impl Branch {
    /// The path through the decision tree, as questions and answers.
    pub fn path(self) -> &'static str {
        match self {
            Branch::EmergencyRecovery => "cluster operational? no → Bootstrap (emergency recovery)",
            Branch::OsAccess => {
                "cluster operational? yes → affects the system foundation? yes → needs direct hardware/OS access? yes → Bootstrap"
            }
            Branch::NotViaApi => {
                "cluster operational? yes → affects the system foundation? yes → needs hardware/OS access? no → manageable via the Kubernetes API? no → Bootstrap"
            }
            Branch::FoundationViaApi => {
                "cluster operational? yes → affects the system foundation? yes → needs hardware/OS access? no → manageable via the Kubernetes API? yes → GitOps"
            }
            Branch::NotFoundation => {
                "cluster operational? yes → affects the system foundation? no → GitOps"
            }
            Branch::Split => {
                "cluster operational? yes → affects the system foundation? the core part yes, not via the Kubernetes API → Bootstrap first; the operational part → GitOps (hybrid)"
            }
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Approval::SelfApproved => "Self-approved",
            Approval::PeerReview => "Peer review",
            Approval::LeadApproval => "Lead approval",
            Approval::TeamApproval => "Team approval",
        })
    }
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileChange {
    Added,
    Changed,
    Deleted,
}

impl FileChange {
    fn word(self) -> &'static str {
        match self {
            FileChange::Added => "added",
            FileChange::Changed => "changed",
            FileChange::Deleted => "deleted",
        }
    }
}

/// A file that differs between the two revisions.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedFile {
    /// Relative to the repository root, `/`-separated.
    pub path: String,
    pub change: FileChange,
    /// The changed field paths when both sides are YAML (for field-level rules).
    pub fields: Vec<String>,
    /// The Kustomizations whose inputs include the file.
    pub kustomizations: Vec<String>,
}

/// Where a Kustomization or HelmRelease lives.
#[derive(Debug, Clone, Serialize)]
pub struct ProducerPlace {
    /// The directory it renders (a Kustomization's path; a HelmRelease's parent's path).
    pub dir: String,
    /// The Flux Kustomization to reconcile for it (itself, or a HelmRelease's parent).
    pub kustomization: String,
}

/// Everything classification needs.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub files: Vec<ChangedFile>,
    pub diff: DiffReport,
    pub places: BTreeMap<Producer, ProducerPlace>,
    /// Kustomization names in dependency order (dependencies first).
    pub order: Vec<String>,
    /// What both sides' Flux units say and where objects come from, for the analyses.
    pub facts: ChangeFacts,
    /// The steps of the repository's bootstrap plan, if it has one.
    pub bootstrap: Vec<BootstrapStep>,
}

/// What an item is.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Subject {
    File {
        path: String,
        change: FileChange,
    },
    Object {
        id: String,
        change: ObjectChange,
        producer: String,
    },
    Render {
        producer: String,
        error: String,
    },
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::File { path, change } => write!(f, "{path} ({})", change.word()),
            Subject::Object { id, change, .. } => {
                let word = match change {
                    ObjectChange::Added => "added",
                    ObjectChange::Deleted => "deleted",
                    ObjectChange::Orphaned => "removed from Git, left in the cluster",
                    ObjectChange::Changed => "changed",
                };
                write!(f, "{id} ({word})")
            }
            Subject::Render { producer, .. } => write!(f, "{producer} (fails to render)"),
        }
    }
}

/// The classification of one file or object.
#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    pub subject: Subject,
    pub phase: Phase,
    pub branch: Branch,
    /// The path through the decision tree.
    pub decision: String,
    pub risk: Risk,
    pub approval: Approval,
    /// The rule that decided it.
    pub rule: String,
    pub reason: String,
    /// Escalations that raised the risk, as `name: reason`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<String>,
    /// The Kustomization that applies it, when Flux does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kustomization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<String>,
    /// False for files whose effect is classified through the objects they render.
    pub counted: bool,
    /// The analyses that found something on it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    pub procedure: Vec<String>,
}

/// The answer for the whole change.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub phase: Phase,
    pub risk: Risk,
    pub approval: Approval,
}

/// The plan: findings, items, verdict, procedure.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// What the change analyses found, most severe first.
    pub findings: Vec<Finding>,
    pub items: Vec<PlanItem>,
    /// `None` when nothing changed.
    pub verdict: Option<Verdict>,
    pub procedure: Vec<String>,
    /// Units the change touches that could not be rendered and compared: their risk is unknown
    /// (not rated), with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<Unknown>,
}

/// A unit whose risk is unknown: it could not be rendered and compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unknown {
    pub producer: String,
    pub reason: String,
}

fn normalize_dir(dir: &str) -> String {
    let d = dir.trim_start_matches("./").trim_end_matches('/');
    if d.is_empty() {
        ".".to_owned()
    } else {
        d.to_owned()
    }
}

/// The HelmReleases that take a changed chart source (an OCIRepository or HelmChart their
/// `chartRef` names) but are not rendered on the new side: the change reaches them, its effect
/// is not compared.
fn unrendered_chart_users(input: &PlanInput) -> Vec<Unknown> {
    let already: std::collections::BTreeSet<&Producer> = input
        .diff
        .not_compared
        .iter()
        .map(|n| &n.producer)
        .collect();
    let mut out: BTreeMap<Producer, Unknown> = BTreeMap::new();
    for group in &input.diff.groups {
        for object in &group.objects {
            if object.change != ObjectChange::Changed
                || object.id.group != "source.toolkit.fluxcd.io"
                || !matches!(object.id.kind.as_str(), "OCIRepository" | "HelmChart")
            {
                continue;
            }
            let namespace = group.namespace_of(object);
            for user in crate::analysis::chart_source_users(&input.facts, &object.id, &namespace) {
                if already.contains(&user)
                    || !crate::analysis::release_unrendered(&input.facts, &user)
                {
                    continue;
                }
                out.entry(user.clone()).or_insert_with(|| Unknown {
                    producer: user.to_string(),
                    reason: format!(
                        "takes the changed chart of {}/{namespace}/{} but is not rendered here (its chart is out of reach offline, or its render was skipped)",
                        object.id.kind, object.id.name
                    ),
                });
            }
        }
    }
    out.into_values().collect()
}

/// Classifies every change.
pub fn classify(input: &PlanInput, rules: &RuleSet) -> Plan {
    let mut items = Vec::new();
    // a producer that is going away is not reconciled: its parent's reconcile prunes it
    let gone = |p: &Producer| {
        input
            .diff
            .groups
            .iter()
            .any(|g| &g.producer == p && !g.in_head)
    };
    let ks_of: BTreeMap<Producer, String> = input
        .places
        .iter()
        .filter(|(p, _)| !gone(p))
        .map(|(p, place)| (p.clone(), place.kustomization.clone()))
        .collect();
    let cx = Context {
        diff: &input.diff,
        facts: &input.facts,
        files: &input.files,
    };
    let findings = crate::analysis::run(&cx, &ks_of, &rules.analyses);
    // rendered objects
    for group in &input.diff.groups {
        let place = input.places.get(&group.producer);
        // a Kustomization that is going away is not reconciled: its parent's reconcile prunes it
        let ks = place
            .map(|p| p.kustomization.clone())
            .or_else(|| {
                (group.producer.kind == ProducerKind::Kustomization)
                    .then(|| group.producer.name.clone())
            })
            .filter(|_| group.in_head);
        for failure in group.failures.iter().filter(|f| f.side == Which::Head) {
            let subject = Subject::Render {
                producer: group.producer.to_string(),
                error: failure.error.clone(),
            };
            items.push(item(
                subject,
                (Phase::GitOps, Risk::High, Branch::NotFoundation),
                "render-failure",
                format!(
                    "does not render: {}; Flux would fail to apply it — fix before merging",
                    failure.error
                ),
                ks.clone(),
                None,
                None,
            ));
        }
        for object in &group.objects {
            let value = object.after.as_ref().or(object.before.as_ref());
            let is_flux_ks = object.id.group == "kustomize.toolkit.fluxcd.io"
                && object.id.kind == "Kustomization";
            let location = if is_flux_ks {
                value
                    .and_then(|v| v.pointer("/spec/path"))
                    .and_then(|p| p.as_str())
                    .map(normalize_dir)
            } else {
                place.map(|p| normalize_dir(&p.dir))
            };
            let labels: Vec<&str> = value
                .and_then(|v| v.pointer("/metadata/labels"))
                .and_then(|l| l.as_object())
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let change = match object.change {
                ObjectChange::Added => "added",
                ObjectChange::Deleted => "deleted",
                ObjectChange::Orphaned => "orphaned",
                ObjectChange::Changed => "changed",
            };
            let found: Vec<&Finding> = findings
                .iter()
                .filter(|f| {
                    f.key
                        .as_ref()
                        .is_some_and(|(p, id)| p == &group.producer && id == &object.id)
                })
                .collect();
            let mut found_names: Vec<&str> = found
                .iter()
                .flat_map(|f| [f.analysis.as_str(), f.category.name()])
                .collect();
            found_names.sort_unstable();
            found_names.dedup();
            let facts = Facts {
                item: Some(ItemKind::Object),
                path: location.as_deref(),
                kind: Some(&object.id.kind),
                group: Some(&object.id.group),
                name: Some(&object.id.name),
                namespace: object.id.namespace.as_deref(),
                labels,
                producer: Some(&group.producer.name),
                fields: object.fields.iter().map(|f| f.path.as_str()).collect(),
                change,
                findings: found_names,
            };
            let subject = Subject::Object {
                id: object.id.to_string(),
                change: object.change,
                producer: group.producer.to_string(),
            };
            let mut it = decide(subject, &facts, rules, ks.clone());
            for finding in found {
                if !it.findings.contains(&finding.analysis) {
                    it.findings.push(finding.analysis.clone());
                }
                if finding.risk > it.risk {
                    it.risk = finding.risk;
                    it.approval = it.risk.approval();
                    it.escalations
                        .push(format!("{}: {}", finding.analysis, finding.reason));
                }
            }
            if let Some(step) =
                bootstrap::step_for(&input.bootstrap, location.as_deref(), Some(&group.producer))
            {
                bootstrap::mark(&mut it, step);
            }
            items.push(it);
        }
    }
    // files
    let mut object_ks: std::collections::BTreeSet<String> = items
        .iter()
        .filter_map(|i: &PlanItem| i.kustomization.clone())
        .collect();
    object_ks.extend(
        input
            .diff
            .groups
            .iter()
            .filter(|g| !g.objects.is_empty())
            .map(|g| g.producer.name.clone()),
    );
    let mut unplaced_files = Vec::new();
    for file in &input.files {
        let facts = Facts {
            item: Some(ItemKind::File),
            path: Some(&file.path),
            fields: file.fields.iter().map(String::as_str).collect(),
            change: match file.change {
                FileChange::Added => "added",
                FileChange::Changed => "changed",
                FileChange::Deleted => "deleted",
            },
            ..Facts::default()
        };
        let subject = Subject::File {
            path: file.path.clone(),
            change: file.change,
        };
        let ks = file.kustomizations.first().cloned();
        if let Some(step) = bootstrap::step_for(&input.bootstrap, Some(&file.path), None) {
            let mut it = decide(subject, &facts, rules, ks);
            bootstrap::mark(&mut it, step);
            items.push(it);
            continue;
        }
        if rules.rules.iter().any(|r| r.matches(&facts)) {
            items.push(decide(subject, &facts, rules, ks));
            continue;
        }
        let (reason, counted) = if file.kustomizations.iter().any(|k| object_ks.contains(k)) {
            (
                format!(
                    "rendered by {}: classified through the objects it changes",
                    file.kustomizations.join(", ")
                ),
                false,
            )
        } else if !file.kustomizations.is_empty() {
            (
                format!(
                    "read by {}, which renders no different object",
                    file.kustomizations.join(", ")
                ),
                true,
            )
        } else if let Some((unit, _)) = input.facts.head.units.iter().find(|(_, u)| {
            u.suspend
                && u.path.as_deref().is_some_and(|dir| {
                    file.path == dir || file.path.starts_with(&format!("{dir}/"))
                })
        }) {
            (
                format!("read by {unit}, which is suspended: not rendered, does not roll out"),
                true,
            )
        } else if input.diff.unseen_files.contains(&file.path) {
            (
                "outside the compared folder: not read by what it compares, its effect unknown"
                    .to_owned(),
                true,
            )
        } else if !input
            .places
            .keys()
            .any(|p| p.kind == ProducerKind::Kustomization)
        {
            // nothing here says what applies the repository: not "no effect"
            let reason = "no Flux Kustomization is declared in this repository: what applies this file (another repository's Flux, an artifact made from it) is not known here, so its effect is not compared; to see what it renders, build the repository holding the cluster's entry point with capstan build all --path <that repository> --source KIND/NAMESPACE/NAME=<the folder of this repository the artifact is made from>".to_owned();
            unplaced_files.push(Unknown {
                producer: file.path.clone(),
                reason: "no Flux Kustomization is declared in this repository: what applies it is not known here".to_owned(),
            });
            (reason, true)
        } else {
            (
                "not read by any Kustomization: no effect on the cluster".to_owned(),
                true,
            )
        };
        let mut it = item(
            subject,
            (Phase::GitOps, Risk::Low, Branch::NotFoundation),
            "file",
            reason,
            ks,
            None,
            None,
        );
        it.counted = counted;
        items.push(it);
    }
    for it in &mut items {
        it.procedure = procedure::for_item(it);
    }
    let counted: Vec<&PlanItem> = items.iter().filter(|i| i.counted).collect();
    let verdict = (!counted.is_empty() || !findings.is_empty()).then(|| {
        let risk = counted
            .iter()
            .map(|i| i.risk)
            .chain(findings.iter().map(|f| f.risk))
            .max()
            .unwrap_or(Risk::Low);
        let phases: std::collections::BTreeSet<Phase> = counted.iter().map(|i| i.phase).collect();
        let phase = match phases.len() {
            0 => Phase::GitOps,
            1 => *phases.iter().next().expect("one phase"),
            _ => Phase::Hybrid,
        };
        let approval = counted
            .iter()
            .map(|i| i.approval)
            .max()
            .unwrap_or(Approval::SelfApproved)
            .max(risk.approval());
        Verdict {
            phase,
            risk,
            approval,
        }
    });
    let procedure = verdict
        .as_ref()
        .map(|v| procedure::overall(&items, &findings, v, &input.order))
        .unwrap_or_default();
    let mut unknown: Vec<Unknown> = input
        .diff
        .not_compared
        .iter()
        .map(|n| Unknown {
            producer: n.producer.to_string(),
            reason: n.reason.clone(),
        })
        .chain(input.diff.unseen_files.iter().map(|file| {
            Unknown {
                producer: file.clone(),
                reason:
                    "outside the compared folder, and nothing compared reads it (plan from the \
                     repository's root to classify it)"
                        .to_owned(),
            }
        }))
        .collect();
    unknown.extend(unrendered_chart_users(input));
    unknown.extend(unplaced_files);
    Plan {
        findings,
        items,
        verdict,
        procedure,
        unknown,
    }
}

fn item(
    subject: Subject,
    (phase, risk, branch): (Phase, Risk, Branch),
    rule: &str,
    reason: String,
    kustomization: Option<String>,
    bootstrap: Option<String>,
    watch: Option<String>,
) -> PlanItem {
    PlanItem {
        subject,
        phase,
        branch,
        decision: branch.path().to_owned(),
        risk,
        approval: risk.approval(),
        rule: rule.to_owned(),
        reason,
        escalations: Vec::new(),
        kustomization,
        bootstrap,
        watch,
        counted: true,
        findings: Vec::new(),
        procedure: Vec::new(),
    }
}

/// A `--fail-on` condition: a risk level the verdict reaches, or a finding's analysis id (glob)
/// or category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Risk(Risk),
    Finding(String),
}

impl Gate {
    /// `low`…`critical`, a category (`wedges-apply`, `loses-data`, `widens-privileges`,
    /// `takes-down`, `flux`) or an analysis id (`immutable-field`, `pruned-*`).
    pub fn parse(text: &str) -> Result<Gate, String> {
        if let Some(risk) = Risk::parse(text) {
            return Ok(Gate::Risk(risk));
        }
        let categories = [
            "wedges-apply",
            "loses-data",
            "widens-privileges",
            "takes-down",
            "flux",
        ];
        let ids = crate::analysis::ids();
        let known = categories.contains(&text)
            || ids
                .iter()
                .any(|id| crate::diff::attrs::glob_match(text, id));
        if known {
            Ok(Gate::Finding(text.to_owned()))
        } else {
            Err(format!(
                "`{text}` is neither a risk level (low, medium, high, critical), a category ({}) nor an analysis ({})",
                categories.join(", "),
                ids.join(", ")
            ))
        }
    }
}

impl Plan {
    /// True when any gate holds: the verdict reaches its risk, or a finding matches it.
    pub fn fails(&self, gates: &[Gate]) -> bool {
        gates.iter().any(|gate| match gate {
            Gate::Risk(risk) => self.verdict.as_ref().is_some_and(|v| v.risk >= *risk),
            Gate::Finding(pattern) => self.findings.iter().any(|f| f.matches(pattern)),
        })
    }
}

/// Applies the first matching rule and every matching escalation.
fn decide(subject: Subject, facts: &Facts<'_>, rules: &RuleSet, ks: Option<String>) -> PlanItem {
    let mut it = match rules.rules.iter().find(|r| r.matches(facts)) {
        Some(rule) => item(
            subject,
            (rule.phase, rule.risk, rule.branch),
            &rule.name,
            rule.reason.clone(),
            ks,
            rule.bootstrap.clone(),
            rule.watch.clone(),
        ),
        None => item(
            subject,
            (Phase::GitOps, Risk::Low, Branch::NotFoundation),
            "default",
            "no rule matched: a Kubernetes resource reconciled by Flux".to_owned(),
            ks,
            None,
            None,
        ),
    };
    for escalation in &rules.escalations {
        if facts.item == Some(ItemKind::Object)
            && escalation.matcher.matches(facts)
            && escalation.risk > it.risk
        {
            it.risk = escalation.risk;
            it.approval = it.risk.approval();
            it.escalations
                .push(format!("{}: {}", escalation.name, escalation.reason));
        }
    }
    it
}

#[cfg(test)]
mod tests;
