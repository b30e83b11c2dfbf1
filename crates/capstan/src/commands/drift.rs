//! `capstan drift` (and `capstan diff --live`): the repository against the cluster, read-only.
//! Lists what is missing, drifted (field, repository value, cluster value; Secret values masked)
//! and stale; `-o patch` prints, as a unified diff to apply with `git apply`, the repository
//! edits that make the cluster's values the declared ones. Exit 1 on drift; 2 when something
//! could not be compared (and nothing drifted), naming what.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use capstan_cluster::Engine;
use capstan_cluster::align::{self, AlignError};
use capstan_cluster::drift::{DriftReport, FieldDrift, State};
use capstan_cluster::id::ObjectRef;
use clap::{Args, ValueEnum};

use super::Exit;
use super::live::{self, ClusterArgs};

/// Output formats of `capstan drift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    Human,
    Json,
    /// A unified diff of the repository files that aligns them with the cluster.
    Patch,
}

/// Flags of `capstan drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Only this Kustomization.
    #[arg(long = "ks", value_name = "NAME")]
    pub kustomization: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[arg(short = 'o', long, value_enum, default_value = "human")]
    pub output: DriftFormat,
    /// A field manager whose changes count as capstan's to undo, as kubectl's do (repeatable;
    /// kustomize-controller's flag of the same name). Other managers' fields are theirs.
    #[arg(long = "override-manager", value_name = "NAME")]
    pub override_managers: Vec<String>,
}

pub fn run(args: DriftArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let units = live::units(&args.cluster, args.kustomization.as_deref())?;
    let runtime = live::runtime()?;
    let report = runtime.block_on(async {
        let cluster = live::connect(&args.cluster).await?;
        let options = capstan_cluster::Options {
            override_managers: args.override_managers.clone(),
            ..capstan_cluster::Options::default()
        };
        let mut engine = Engine::new(&cluster, options);
        anyhow::Ok(engine.drift(&units).await)
    })?;
    match args.output {
        DriftFormat::Human => human(&report, out)?,
        DriftFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        DriftFormat::Patch => patch(&report, &args.cluster.path, out)?,
    }
    finish(&report)
}

/// Exit code: 1 on drift; an error (2) when something was not compared and nothing drifted.
pub fn finish(report: &DriftReport) -> anyhow::Result<Exit> {
    if report.has_drift() {
        return Ok(Exit::Findings);
    }
    if report.incomplete() {
        anyhow::bail!("some objects were not compared (see above); no drift among those that were");
    }
    Ok(Exit::Clean)
}

fn show(value: Option<&serde_json::Value>) -> String {
    match value {
        None => "(absent)".into(),
        Some(serde_json::Value::Null) => "(removed)".into(),
        Some(v) => v.to_string(),
    }
}

/// The human listing.
pub fn human(report: &DriftReport, out: &mut dyn Write) -> std::io::Result<()> {
    for unit in &report.units {
        let count = |f: fn(&State) -> bool| unit.objects.iter().filter(|o| f(&o.state)).count();
        writeln!(
            out,
            "{}/{}: {} in sync, {} drifted, {} missing, {} stale",
            unit.owner.namespace,
            unit.owner.name,
            count(|s| matches!(s, State::InSync)),
            count(|s| matches!(s, State::Drifted { .. })),
            count(|s| matches!(s, State::Missing)),
            count(|s| matches!(s, State::Stale)),
        )?;
        for o in &unit.objects {
            let file = o
                .file
                .as_ref()
                .map(|f| format!(" ({})", f.display()))
                .unwrap_or_default();
            match &o.state {
                State::Drifted { fields } => {
                    writeln!(out, "  ~ {}{file}", o.object)?;
                    for f in fields {
                        writeln!(
                            out,
                            "      {}: repository {}, cluster {}",
                            f.path,
                            show(Some(&f.desired)),
                            show(f.live.as_ref())
                        )?;
                    }
                }
                State::Missing => writeln!(out, "  + {}{file}: not in the cluster", o.object)?,
                State::Stale => writeln!(
                    out,
                    "  - {}: no longer rendered (apply --prune deletes it)",
                    o.object
                )?,
                State::Unknown { error } => {
                    writeln!(out, "  ? {}{file}: not compared: {error}", o.object)?
                }
                State::InSync | State::Skipped { .. } => {}
            }
        }
        for e in &unit.errors {
            writeln!(out, "  ? {e}")?;
        }
    }
    Ok(())
}

/// The unified diff that writes the cluster's values into the repository.
fn patch(report: &DriftReport, root: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut by_file: BTreeMap<PathBuf, Vec<(&ObjectRef, &[FieldDrift])>> = BTreeMap::new();
    let mut skipped: Vec<String> = Vec::new();
    for o in report.objects() {
        match (&o.state, &o.file) {
            (State::Drifted { fields }, Some(file)) => by_file
                .entry(file.clone())
                .or_default()
                .push((&o.object, fields)),
            (State::Drifted { .. }, None) => {
                skipped.push(format!("{}: generated, no file declares it", o.object))
            }
            (State::Missing | State::Stale, _) => skipped.push(format!(
                "{}: {} (not a field edit; apply or prune instead)",
                o.object,
                if matches!(o.state, State::Missing) {
                    "missing in the cluster"
                } else {
                    "stale"
                }
            )),
            _ => {}
        }
    }
    for (file, objects) in by_file {
        let path = root.join(&file);
        let before = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut text = before.clone();
        let name = file.display().to_string();
        for (object, fields) in objects {
            match align::align(&name, &text, object, fields) {
                Ok(aligned) => {
                    text = aligned.text;
                    skipped.extend(aligned.skipped.iter().map(AlignError::to_string));
                }
                Err(e) => skipped.push(e.to_string()),
            }
        }
        if text != before {
            let diff = similar::TextDiff::from_lines(&before, &text);
            write!(
                out,
                "{}",
                diff.unified_diff()
                    .header(&format!("a/{name}"), &format!("b/{name}"))
            )?;
        }
    }
    for s in skipped {
        eprintln!("not written: {s}");
    }
    Ok(())
}
