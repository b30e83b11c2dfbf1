//! `capstan app remove NAME [--delete-files]`: shows what Flux will prune, then edits.

use std::io::Write;

use anyhow::Context;
use capstan_core::OsFs;
use capstan_flux::scaffold::add::LocateArgs;
use capstan_flux::scaffold::{
    Fate, PrunePreview, RemoveRequest, applied, plan_remove, preview_prune, verify,
};

use super::{build_options, transaction, write_dry_run, write_summary};
use crate::cli::AppRemoveArgs;
use crate::commands::Exit;

pub fn run(args: AppRemoveArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let root = args.locate.path.clone();
    let sources = args.locate.sources.resolve(&root)?;
    let options = build_options(&args.locate.vars, sources)?;
    let request = RemoveRequest {
        name: args.name,
        delete_files: args.delete_files,
        locate: LocateArgs {
            cluster: args.locate.cluster,
            apps_file: args.locate.apps_file,
        },
    };
    let plan = plan_remove(&OsFs, &root, &request)?;
    let ks = &plan.kustomization;
    // the namespace as the build has it (a parent's kustomization may set it), else as written
    let found = applied(
        &OsFs,
        &root,
        &ks.name,
        ks.namespace.as_deref(),
        Some(&ks.file),
        &options,
    )
    .with_context(|| {
        format!(
            "cannot render {} to show what Flux will prune",
            ks.path.as_deref().unwrap_or(".")
        )
    })?;
    let prune = found.as_ref().map_or(ks.prune(), |a| a.prune);
    // Flux does not apply it today, so removing it prunes nothing.
    let rendered = found.unwrap_or_default();
    let namespace = ks.namespace.as_deref().unwrap_or("flux-system");
    verify(&OsFs, &root, &plan.changes, None, namespace, &options)?;
    let preview = preview_prune(prune, &rendered.objects, &rendered.charts);
    let what = format!("Kustomization {}", ks.name);

    writeln!(
        out,
        "{} app {}: {what} in {}",
        if args.locate.dry_run {
            "Dry run: would remove"
        } else {
            "Removing"
        },
        request.name,
        ks.file.display()
    )?;
    write_preview(out, &preview, ks.path.as_deref().unwrap_or("."))?;
    for missing in &rendered.unrendered {
        writeln!(
            out,
            "Not shown: the objects of {missing}; helm-controller uninstalls the release and \
             deletes them."
        )?;
    }

    if args.locate.dry_run {
        writeln!(out, "\nNothing was written. The change:\n")?;
        write_dry_run(out, &plan.changes)?;
    } else {
        transaction::apply(&root, &plan.changes)?;
        writeln!(out, "\nChanged:")?;
        write_summary(out, &plan.changes, &what)?;
        writeln!(
            out,
            "\nNext: review, commit and push; Flux prunes the objects above on its next \
             reconciliation."
        )?;
    }
    Ok(Exit::Clean)
}

fn write_preview(out: &mut dyn Write, preview: &PrunePreview, path: &str) -> anyhow::Result<()> {
    if preview.prune_enabled {
        writeln!(
            out,
            "\nWhat Flux will prune from the cluster once this is merged (render of {path}):"
        )?;
    } else {
        writeln!(
            out,
            "\nspec.prune is false: Flux deletes nothing; these objects stay in the cluster, \
             no longer managed (render of {path}):"
        )?;
    }
    if preview.entries.is_empty() {
        writeln!(out, "  (the render is empty)")?;
    }
    for entry in &preview.entries {
        let fate = match entry.fate {
            Fate::Deleted => "delete",
            Fate::KeptPruneDisabled => "keep",
            Fate::KeptByHelm => "keep",
            Fate::Orphaned => "orphan",
        };
        let id = &entry.id;
        let name = match &id.namespace {
            Some(ns) => format!("{ns}/{}", id.name),
            None => id.name.clone(),
        };
        let mut why = Vec::new();
        match entry.fate {
            Fate::KeptPruneDisabled => {
                why.push("kustomize.toolkit.fluxcd.io/prune: disabled".to_owned())
            }
            Fate::KeptByHelm => why.push("helm.sh/resource-policy: keep".to_owned()),
            _ => {}
        }
        if let Some(via) = &entry.via {
            why.push(format!("installed by {via}"));
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!("  ({})", why.join("; "))
        };
        writeln!(out, "  {fate:<6} {} {name}{why}", id.kind)?;
    }

    let namespaces: Vec<_> = preview.namespaces().collect();
    writeln!(out)?;
    if namespaces.is_empty() {
        writeln!(out, "Namespaces: none in this Kustomization.")?;
    }
    for ns in namespaces {
        match ns.fate {
            Fate::Deleted => writeln!(
                out,
                "Namespace {} is DELETED, and with it everything in it, including objects \
                 created at runtime (PVCs from StatefulSets and operators, Secrets).",
                ns.id.name
            )?,
            _ => writeln!(
                out,
                "Namespace {} stays; delete it by hand once it is empty.",
                ns.id.name
            )?,
        }
    }
    let data: Vec<_> = preview.data().collect();
    if data.is_empty() {
        writeln!(out, "PersistentVolumeClaims: none in this Kustomization.")?;
    }
    for entry in data {
        let name = format!(
            "{}/{}",
            entry.id.namespace.as_deref().unwrap_or("default"),
            entry.id.name
        );
        match (entry.is_pvc(), entry.fate) {
            (true, Fate::Deleted) => writeln!(
                out,
                "DATA: PersistentVolumeClaim {name} is deleted; its volume goes with it unless \
                 its storage class retains it."
            )?,
            (false, Fate::Deleted) => writeln!(
                out,
                "DATA: {} {name} is deleted, and its operator deletes its volumes with it.",
                entry.id.kind
            )?,
            _ => writeln!(out, "{} {name} stays.", entry.id.kind)?,
        }
    }
    Ok(())
}
