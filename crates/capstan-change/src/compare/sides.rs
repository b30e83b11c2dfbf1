//! Both sides of a change rendered and compared (shared by `diff`, `plan` and the live engine),
//! and what the change touches.
//!
//! Changed-only mode (the default) renders, on each side, only the Kustomizations the changed
//! files can reach; the result is always the one a full render gives (see [`compare_sides`]).
//! A unit the change touches that could not be compared — skipped on either side, or failing
//! the same way on both — is reported as not compared ([`crate::diff::NotCompared`]), never as
//! "no differences".

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_flux::build::Status;
use capstan_flux::scope::Scope;
use capstan_flux::{FluxKind, ObjectKey};

use super::rendering::{OptionsFactory, Rendering, render};
use super::revisions::{ChangedFiles, OpenError, Opened, Revisions, changed_fields, open};
use crate::diff::{DiffOptions, DiffReport, NotCompared, Producer, ProducerKind, Which, diff};
use crate::plan::{ChangedFile, FileChange};

/// Both sides rendered and compared.
pub struct Compared {
    pub base: Opened,
    pub head: Opened,
    pub files: ChangedFiles,
    pub base_rendering: Rendering,
    pub head_rendering: Rendering,
    pub report: DiffReport,
}

/// Opens, renders and compares the two sides (shared with `plan`).
///
/// Changed-only mode (the default) renders, on each side, only the Kustomizations the changed
/// files can reach ([`capstan_flux::scope`]); a Kustomization rendered on one side and left out
/// on the other is then rendered there too. When a ConfigMap, Secret or Flux source differs, or
/// a producer fails on one side only, whatever reads it (`substituteFrom`, `valuesFrom`, a
/// HelmRelease's chart) may lie outside the scope: both sides are then rendered in full, so the
/// result is always the `--full` one.
pub fn compare_sides(
    revisions: &Revisions<'_>,
    full: bool,
    options: &DiffOptions,
    build: OptionsFactory<'_>,
) -> Result<Compared, OpenError> {
    let (base, head, files) = open(revisions)?;
    if !full && files.is_empty() {
        return Ok(Compared {
            base,
            head,
            files,
            base_rendering: Rendering::default(),
            head_rendering: Rendering::default(),
            report: DiffReport::default(),
        });
    }
    // each side names its files by absolute path under its own root (the base's git tree is
    // mounted where the working tree is; --path-orig is elsewhere)
    let scope_of = |side: &Opened| {
        let scope = Scope::new(files.iter().map(|(path, _)| side.root.join(path)));
        (!full && !scope.touches_ignore_rules()).then(|| Arc::new(scope))
    };
    let scopes = Scopes {
        base: scope_of(&base),
        head: scope_of(&head),
    };
    let (mut base_rendering, mut head_rendering) = render_both(&base, &head, &scopes, build);
    if let (Some(base_scope), Some(head_scope)) = (&scopes.base, &scopes.head)
        && base_rendering.changed_only
        && head_rendering.changed_only
    {
        // what one side rendered, the other renders too
        let rendered = |r: &Rendering| -> BTreeSet<ObjectKey> {
            r.side
                .rendered
                .iter()
                .filter(|r| r.producer.kind == ProducerKind::Kustomization)
                .map(|r| {
                    ObjectKey::new(
                        FluxKind::Kustomization,
                        r.producer.namespace.clone(),
                        r.producer.name.clone(),
                    )
                })
                .collect()
        };
        let base_needs: Vec<ObjectKey> = rendered(&head_rendering)
            .intersection(&base_rendering.left_out)
            .cloned()
            .collect();
        let head_needs: Vec<ObjectKey> = rendered(&base_rendering)
            .intersection(&head_rendering.left_out)
            .cloned()
            .collect();
        if !base_needs.is_empty() {
            let forced = Arc::new(base_scope.as_ref().clone().force(base_needs));
            base_rendering = render(&base, Some(forced), build);
        }
        if !head_needs.is_empty() {
            let forced = Arc::new(head_scope.as_ref().clone().force(head_needs));
            head_rendering = render(&head, Some(forced), build);
        }
    }
    let mut report = diff(&base_rendering.side, &head_rendering.side, options);
    let scoped = base_rendering.changed_only || head_rendering.changed_only;
    if scoped && reaches_beyond_scope(&report) {
        (base_rendering, head_rendering) = render_both(&base, &head, &Scopes::default(), build);
        report = diff(&base_rendering.side, &head_rendering.side, options);
    }
    not_compared(&mut report, &files, &base_rendering, &head_rendering);
    report.unseen_files = unseen_files(&files, &base_rendering, &head_rendering);
    Ok(Compared {
        base,
        head,
        files,
        base_rendering,
        head_rendering,
        report,
    })
}

/// The changed-only scope of each side; `None` renders that side in full.
#[derive(Default)]
struct Scopes {
    base: Option<Arc<Scope>>,
    head: Option<Arc<Scope>>,
}

/// Renders the two sides side by side.
fn render_both(
    base: &Opened,
    head: &Opened,
    scopes: &Scopes,
    build: OptionsFactory<'_>,
) -> (Rendering, Rendering) {
    std::thread::scope(|threads| {
        let base_job = threads.spawn(|| render(base, scopes.base.clone(), build));
        let head_rendering = render(head, scopes.head.clone(), build);
        let base_rendering = base_job.join().unwrap_or_else(|_| Rendering {
            side: crate::diff::Side {
                rendered: Vec::new(),
                error: Some("rendering the base side panicked".to_owned()),
                ..Default::default()
            },
            ..Rendering::default()
        });
        (base_rendering, head_rendering)
    })
}

/// True when a changed-only comparison found something whose readers it may not have rendered:
/// a ConfigMap, Secret or Flux source that differs, or a producer that fails on one side only
/// (its objects vanish from that side).
fn reaches_beyond_scope(report: &DiffReport) -> bool {
    report.groups.iter().any(|group| {
        let one_sided = group.failures.len() == 1;
        let read_elsewhere = group.objects.iter().any(|o| {
            (o.id.group.is_empty() && matches!(o.id.kind.as_str(), "ConfigMap" | "Secret"))
                || o.id.group == "source.toolkit.fluxcd.io"
        });
        one_sided || read_elsewhere
    })
}

/// Moves into [`DiffReport::not_compared`] every unit the changed files touch (its inputs, its
/// directory or the file declaring it) that was skipped on either side, or fails the same way
/// on both; a unit the change does not touch that fails on both sides stays a warning.
fn not_compared(report: &mut DiffReport, files: &ChangedFiles, base: &Rendering, head: &Rendering) {
    let touched = |rendering: &Rendering, producer: &Producer| {
        rendering.units.get(producer).is_some_and(|unit| {
            files.iter().any(|(file, _)| {
                unit.declared.as_deref() == Some(file.as_path())
                    || unit.inputs.contains(file)
                    || unit
                        .inputs
                        .iter()
                        .any(|input| input != Path::new(".") && file.starts_with(input))
            })
        })
    };
    // a unit whose own manifest the diff shows changed is touched too, wherever the change was
    // made (a kustomize patch of another folder, a parent's substitution)
    let manifest_changed = |producer: &Producer| {
        let (group, kind) = match producer.kind {
            ProducerKind::Kustomization => ("kustomize.toolkit.fluxcd.io", "Kustomization"),
            ProducerKind::HelmRelease => ("helm.toolkit.fluxcd.io", "HelmRelease"),
        };
        report.groups.iter().any(|g| {
            g.objects.iter().any(|o| {
                o.id.group == group
                    && o.id.kind == kind
                    && o.id.name == producer.name
                    && o.id
                        .namespace
                        .as_deref()
                        .unwrap_or(g.producer.namespace.as_str())
                        == producer.namespace
            })
        })
    };
    let producers: BTreeSet<&Producer> = base.units.keys().chain(head.units.keys()).collect();
    let producers: Vec<&Producer> = producers
        .into_iter()
        .filter(|p| touched(base, p) || touched(head, p) || manifest_changed(p))
        .collect();
    for producer in producers {
        let state = |rendering: &Rendering| {
            rendering
                .units
                .get(producer)
                .map(|u| (u.status, u.errors.join("; ")))
        };
        let (b, h) = (state(base), state(head));
        let out_of_reach = |rendering: &Rendering| {
            rendering.units.get(producer).is_some_and(|u| {
                u.status == Status::Failed
                    && !u.reasons.is_empty()
                    && u.reasons.iter().all(|r| r.is_skip())
            })
        };
        let skipped = |s: &Option<(Status, String)>| {
            matches!(s, Some((Status::Skipped | Status::Suspended, _)))
        };
        let (b_out, h_out) = (out_of_reach(base), out_of_reach(head));
        let both_failed =
            matches!((&b, &h), (Some((Status::Failed, x)), Some((Status::Failed, y))) if x == y);
        if !(skipped(&b) || skipped(&h) || b_out || h_out || both_failed) {
            continue;
        }
        report
            .unchanged_failures
            .retain(|u| &u.producer != producer);
        let mut reasons = Vec::new();
        for (which, state) in [(Which::Base, &b), (Which::Head, &h)] {
            if let Some((status, message)) = state
                && *status != Status::Rendered
            {
                let message = if message.is_empty() {
                    format!("{status:?}").to_lowercase()
                } else {
                    message.clone()
                };
                reasons.push((which, message));
            }
        }
        let reason = if both_failed || reasons.len() == 2 && reasons[0].1 == reasons[1].1 {
            reasons[0].1.clone()
        } else {
            reasons
                .iter()
                .map(|(which, message)| format!("{which}: {message}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        report.not_compared.push(NotCompared {
            producer: producer.clone(),
            reason,
        });
    }
}

/// With `--path` a folder inside the repository (the renders keep only what is declared in or
/// applies it), the changed Flux files outside that folder that no kept unit reads: units the
/// folder does not show may read them, so their effect is unknown.
fn unseen_files(files: &ChangedFiles, base: &Rendering, head: &Rendering) -> Vec<String> {
    if base.focus.is_none() && head.focus.is_none() {
        return Vec::new();
    }
    let read = |file: &Path| {
        [base, head].iter().any(|rendering| {
            rendering.units.values().any(|unit| {
                unit.declared.as_deref() == Some(file)
                    || unit.inputs.contains(file)
                    || unit
                        .inputs
                        .iter()
                        .any(|input| input != Path::new(".") && file.starts_with(input))
            })
        })
    };
    // Any file can feed a render (a configMapGenerator's .env or .conf, a local chart's
    // templates): only what never reaches a cluster is left out.
    let flux_file = |file: &Path| {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        !(name.ends_with(".md")
            || name.ends_with(".markdown")
            || name.starts_with("license")
            || matches!(
                name.as_str(),
                ".gitignore" | ".gitattributes" | ".editorconfig" | ".pre-commit-config.yaml"
            )
            || file.components().any(|c| c.as_os_str() == ".github"))
    };
    files
        .iter()
        .map(|(file, _)| file)
        .filter(|file| file.starts_with(".."))
        .filter(|file| flux_file(file) && !read(file))
        .map(|file| file.to_string_lossy().replace('\\', "/"))
        .collect()
}

/// The producers a set of changed files feeds, on either side: every producer whose recorded
/// inputs include a changed file, or whose directory holds one.
pub fn affected(files: &[(PathBuf, FileChange)], sides: &[&Rendering]) -> BTreeSet<Producer> {
    let mut out = BTreeSet::new();
    for rendering in sides {
        for (producer, inputs) in rendering.inputs() {
            let hit = files.iter().any(|(file, _)| {
                inputs.contains(file)
                    || inputs
                        .iter()
                        .any(|input| input != Path::new(".") && file.starts_with(input))
            });
            if hit {
                out.insert(producer.clone());
            }
        }
    }
    out
}

/// The changed files as plan input: with their changed fields and the Kustomizations they feed.
pub fn plan_files(
    base: &Opened,
    head: &Opened,
    files: &[(PathBuf, FileChange)],
    sides: &[&Rendering],
) -> Vec<ChangedFile> {
    files
        .iter()
        .map(|(path, change)| {
            let single = [(path.clone(), *change)];
            // a HelmRelease's chart or values file is read by the Kustomization applying it
            let kustomizations: Vec<String> = affected(&single, sides)
                .into_iter()
                .filter_map(|p| match p.kind {
                    ProducerKind::Kustomization => Some(p.name),
                    ProducerKind::HelmRelease => sides
                        .iter()
                        .find_map(|s| s.units.get(&p)?.parent.as_ref())
                        .map(|parent| parent.name.clone()),
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let fields = if *change == FileChange::Changed {
                changed_fields(base, head, path)
            } else {
                Vec::new()
            };
            ChangedFile {
                path: path.to_string_lossy().replace('\\', "/"),
                change: *change,
                fields,
                kustomizations,
            }
        })
        .collect()
}
