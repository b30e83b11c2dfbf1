//! `capstan plan`: for every changed file and object, the phase (Bootstrap / GitOps / Hybrid),
//! the decision-tree branch, the risk and approval, and the procedure; then the verdict.
//! The change analyses' findings (what the change wedges, deletes, widens, takes down, and what
//! Flux does on merge) come first. `--fail-on LEVEL|FINDING` exits 1 when the verdict's risk
//! reaches LEVEL or a finding matches (a CI gate). Rules come from the defaults and the
//! repository's `.capstan.yaml` (`plan.rules`, `plan.escalations`, `plan.analyses`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use capstan_change::analysis::{ChangeFacts, SideFacts};
use capstan_change::diff::DiffOptions;
use capstan_change::diff::Which;
use capstan_change::plan::render::{Format, render};
use capstan_change::plan::{
    BootstrapStep, ChangedFile, Gate, PlanInput, RuleSet, classify, default_rules,
};

use capstan_change::compare::{Compared, Rendering, Revisions, compare_sides, plan_files};

use super::Exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The repository (the new side).
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The revision the change is measured from (default: merge-base with upstream, else HEAD).
    #[arg(long, conflicts_with = "path_orig")]
    pub base: Option<String>,
    /// The old side as another directory instead of a git revision.
    #[arg(long)]
    pub path_orig: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "human")]
    pub output: PlanFormat,
    /// Exit 1 when the verdict's risk reaches this level (low, medium, high, critical), or when a
    /// finding of this analysis or category is found (immutable-field, loses-data, …).
    /// Repeatable, or comma-separated.
    #[arg(long, value_parser = Gate::parse, value_delimiter = ',')]
    pub fail_on: Vec<Gate>,
    /// Accept units the change touches whose risk is unknown (not rendered, so not compared):
    /// they are still listed, but do not make the exit code 2.
    #[arg(long)]
    pub allow_skipped: bool,
    #[command(flatten)]
    pub charts: super::build::ChartArgs,
    #[command(flatten)]
    pub template: super::helm_flags::TemplateArgs,
    #[command(flatten)]
    pub vars: super::vars::VarArgs,
    #[command(flatten)]
    pub sources: super::sources::SourceArgs,
}

/// The repository's rules: `.capstan.yaml` at the repository path, ahead of the defaults.
fn rules(path: &std::path::Path) -> anyhow::Result<RuleSet> {
    let file = path.join(".capstan.yaml");
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok(RuleSet::from_config(&file.display().to_string(), &text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default_rules()),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", file.display())),
    }
}

/// What the analyses read beside the diff: both sides' rendering, where objects come from, and
/// the text of the files findings point into.
fn change_facts(compared: &Compared, files: &[ChangedFile]) -> ChangeFacts {
    let side = |r: &Rendering| {
        SideFacts::new(r.side.clone(), r.object_files.clone()).suspended(r.suspended.clone())
    };
    let mut facts = ChangeFacts {
        base: side(&compared.base_rendering),
        head: side(&compared.head_rendering),
    };
    for (which, file) in facts.files_to_read(&compared.report, files) {
        let (opened, side) = match which {
            Which::Base => (&compared.base, &mut facts.base),
            Which::Head => (&compared.head, &mut facts.head),
        };
        if let Ok(text) = opened.fs.read_to_string(&opened.root.join(&file)) {
            side.texts.insert(file, text);
        }
    }
    facts
}

/// The steps of the repository's bootstrap plan (`bootstrap.yaml`), each with the paths it
/// reads; the plan file itself is applied by a whole `bootstrap apply`. A plan that does not
/// load is reported on stderr and its steps are not used.
fn bootstrap_steps(fs: &dyn capstan_core::Fs, root: &std::path::Path) -> Vec<BootstrapStep> {
    use capstan_flux::bootstrap::{self, LoadError, PLAN_FILE};
    if !fs.is_file(&root.join(PLAN_FILE)) {
        return Vec::new();
    }
    let plan = match bootstrap::load(fs, root, None) {
        Ok(plan) => plan,
        Err(LoadError::Invalid(errors)) => {
            for e in errors {
                eprintln!("warning: {e}");
            }
            eprintln!("warning: {PLAN_FILE} does not load: its steps are not used to classify");
            return Vec::new();
        }
        Err(e) => {
            eprintln!("warning: {e}: the bootstrap plan is not used to classify");
            return Vec::new();
        }
    };
    let slash = |p: &std::path::Path| p.to_string_lossy().replace('\\', "/");
    let mut steps: Vec<BootstrapStep> = plan
        .steps
        .iter()
        .map(|s| BootstrapStep {
            name: s.step.name.clone(),
            paths: s.input_paths.iter().map(|p| slash(p)).collect(),
            helm_release: s
                .helm
                .as_ref()
                .and_then(|h| h.helm_release.as_ref())
                .map(|k| (k.namespace.clone(), k.name.clone())),
            command: format!("capstan bootstrap apply --only {}", s.step.name),
        })
        .collect();
    steps.push(BootstrapStep {
        name: PLAN_FILE.to_owned(),
        paths: vec![PLAN_FILE.to_owned()],
        helm_release: None,
        command: "capstan bootstrap apply".to_owned(),
    });
    steps
}

pub fn run(args: PlanArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let rules = rules(&args.path)?;
    let revisions = Revisions {
        path: &args.path,
        base: args.base.as_deref(),
        path_orig: args.path_orig.as_deref(),
    };
    let build = super::build::side_options(
        &args.charts,
        &args.template,
        args.vars.discovery(args.sources.resolve(&args.path)?)?,
    );
    let compared = compare_sides(&revisions, false, &DiffOptions::default(), &build)?;
    if !compared.report.side_failures.is_empty() {
        let errors: Vec<String> = compared
            .report
            .side_failures
            .iter()
            .map(|f| format!("{}: {}", f.side, f.error))
            .collect();
        anyhow::bail!("cannot render: {}", errors.join("; "));
    }
    let sides = [&compared.base_rendering, &compared.head_rendering];
    let files = plan_files(&compared.base, &compared.head, &compared.files, &sides);
    let mut places = compared.base_rendering.places.clone();
    places.extend(compared.head_rendering.places.clone());
    let order = if compared.head_rendering.order.is_empty() {
        compared.base_rendering.order.clone()
    } else {
        compared.head_rendering.order.clone()
    };
    let facts = change_facts(&compared, &files);
    let bootstrap = bootstrap_steps(compared.head.fs.as_ref(), &compared.head.root);
    let input = PlanInput {
        files,
        diff: compared.report,
        places,
        bootstrap,
        order,
        facts,
    };
    let plan = classify(&input, &rules);
    let format = match args.output {
        PlanFormat::Human => Format::Human,
        PlanFormat::Markdown => Format::Markdown,
        PlanFormat::Json => Format::Json,
    };
    let title = format!("{} → {}", compared.base.label, compared.head.label);
    out.write_all(render(&plan, format, &title).as_bytes())?;
    if !plan.unknown.is_empty() && !args.allow_skipped {
        anyhow::bail!(
            "the risk of {} unit(s) or file(s) the change touches is unknown (see above); --allow-skipped \
             accepts that",
            plan.unknown.len()
        );
    }
    Ok(if plan.fails(&args.fail_on) {
        Exit::Findings
    } else {
        Exit::Clean
    })
}
