//! `capstan app add NAME --image IMAGE ...`.

use std::io::Write;

use capstan_core::OsFs;
use capstan_flux::scaffold::add::LocateArgs;
use capstan_flux::scaffold::{AddRequest, plan_add};

use super::{build_options, transaction, write_dry_run, write_summary};
use crate::cli::AppAddArgs;
use crate::commands::Exit;

pub fn run(args: AppAddArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let root = args.locate.path.clone();
    let sources = args.locate.sources.resolve(&root)?;
    let options = build_options(&args.locate.vars, sources)?;
    let request = AddRequest {
        name: args.name,
        image: args.image,
        port: args.port,
        replicas: args.replicas,
        namespace: args.namespace,
        depends_on: args.depends_on,
        ingress_host: args.ingress_host,
        storage: args.storage,
        locate: LocateArgs {
            cluster: args.locate.cluster,
            apps_file: args.locate.apps_file,
        },
    };
    let plan = plan_add(&OsFs, &root, &request)?;
    let what = format!("Kustomization {}", plan.app.kustomization_name);
    capstan_flux::scaffold::verify(
        &OsFs,
        &root,
        &plan.changes,
        Some((&plan.app.kustomization_name, &plan.app_dir)),
        plan.conventions
            .ks_namespace
            .as_deref()
            .unwrap_or("flux-system"),
        &options,
    )?;

    if args.locate.dry_run {
        writeln!(
            out,
            "Dry run: app {} would be added as {what}; nothing was written.\n",
            plan.app.name
        )?;
        write_dry_run(out, &plan.changes)?;
    } else {
        transaction::apply(&root, &plan.changes)?;
        writeln!(out, "Added app {} ({what}):", plan.app.name)?;
        write_summary(out, &plan.changes, &what)?;
    }
    writeln!(out, "\nFollowing the repository's conventions:")?;
    for note in plan.conventions.notes.iter().chain(&plan.notes) {
        writeln!(out, "  - {note}")?;
    }
    if !args.locate.dry_run {
        let paths: Vec<String> = std::iter::once(plan.app_dir.display().to_string())
            .chain(std::iter::once(
                plan.conventions.apps_file.display().to_string(),
            ))
            .collect();
        writeln!(
            out,
            "\nNext: review, then `git add {} && git commit -m \"Add {} application\"` and push; \
             Flux deploys it.",
            paths.join(" "),
            plan.app.name
        )?;
    }
    Ok(Exit::Clean)
}
