//! Planning `app add` / `app remove` on small in-memory repositories laid out differently from
//! the bundled example: conventions are learned, not assumed.

use std::path::Path;

use capstan_core::yaml::parse_documents;
use capstan_core::{MemFs, Value};

use super::add::LocateArgs;
use super::*;

fn ks(name: &str, path: &str, flush: bool) -> String {
    let dash = if flush { "  " } else { "    " };
    format!(
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: {path}\n  prune: true\n  wait: true\n  sourceRef:\n    kind: GitRepository\n    name: home\n  dependsOn:\n{dash}- name: core\n"
    )
}

/// No `clusters/` folder, apps under `kubernetes/apps`, Kustomizations named as their folders,
/// flush sequences, interval 1h, wait everywhere, source `home`.
fn flat_repo() -> MemFs {
    let apps = format!(
        "# my apps\n{}{}",
        ks("grafana", "./kubernetes/apps/grafana", true),
        ks("paperless", "./kubernetes/apps/paperless", true)
    );
    MemFs::from_files([
        ("r/flux/apps.yaml", apps),
        ("r/flux/core.yaml", ks("core", "./kubernetes/core", true)),
        (
            "r/kubernetes/apps/grafana/ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: grafana\n".to_owned(),
        ),
        ("r/kubernetes/apps/paperless/.keep", String::new()),
        ("r/kubernetes/core/.keep", String::new()),
    ])
}

fn add_request(name: &str) -> AddRequest {
    AddRequest {
        name: name.into(),
        image: "nginx:1.27".into(),
        port: 8080,
        replicas: 2,
        namespace: None,
        depends_on: None,
        ingress_host: None,
        storage: None,
        locate: LocateArgs::default(),
    }
}

fn created(plan: &AddPlan, file: &str) -> String {
    plan.changes
        .iter()
        .find_map(|c| match c {
            FileChange::Create { path, contents } if path.ends_with(file) => Some(contents.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{file} not created"))
}

fn modified(changes: &ChangeSet) -> (String, String) {
    changes
        .iter()
        .find_map(|c| match c {
            FileChange::Modify { before, after, .. } => Some((before.clone(), after.clone())),
            _ => None,
        })
        .expect("a modified file")
}

#[test]
fn learns_a_differently_laid_out_repository() {
    let fs = flat_repo();
    let plan = plan_add(&fs, Path::new("r"), &add_request("wiki")).unwrap();
    let c = &plan.conventions;
    assert_eq!(c.apps_file, Path::new("flux/apps.yaml"));
    assert_eq!(c.apps_dir, Path::new("kubernetes/apps"));
    assert_eq!(c.name_prefix, "");
    assert_eq!(c.interval, "1h");
    assert!(!c.indent_sequences);
    assert!(
        !c.namespace_prune_disabled,
        "the repository's namespaces are not annotated"
    );
    assert_eq!(c.depends_on, ["core"]);
    assert_eq!(plan.app_dir, Path::new("kubernetes/apps/wiki"));

    let (before, after) = modified(&plan.changes);
    assert!(after.starts_with(&before));
    let appended = &after[before.len()..];
    assert_eq!(
        appended,
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: wiki\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./kubernetes/apps/wiki\n  prune: true\n  wait: true\n  sourceRef:\n    kind: GitRepository\n    name: home\n  dependsOn:\n  - name: core\n"
    );
    // Flush sequences in the generated files too, and they parse.
    let deployment = created(&plan, "deployment.yaml");
    assert!(
        deployment.contains("\n      containers:\n      - name: wiki\n"),
        "{deployment}"
    );
    assert!(deployment.contains("replicas: 2"));
    for change in plan.changes.iter() {
        if let FileChange::Create { contents, path } = change {
            parse_documents(contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    let namespace = created(&plan, "namespace.yaml");
    assert!(!namespace.contains("prune"));
}

#[test]
fn an_unreadable_apps_file_is_named() {
    let fs = flat_repo();
    fs.add_file("r/flux/apps.yaml", "a: [\n");
    let error = plan_add(&fs, Path::new("r"), &add_request("wiki")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("flux/apps.yaml"), "{message}");
    assert!(message.contains("--apps-file"), "{message}");

    let explicit = AddRequest {
        locate: LocateArgs {
            apps_file: Some("flux/apps.yaml".into()),
            cluster: None,
        },
        ..add_request("wiki")
    };
    let message = plan_add(&fs, Path::new("r"), &explicit)
        .unwrap_err()
        .to_string();
    assert!(message.contains("cannot be read"), "{message}");
}

#[test]
fn two_equally_good_apps_files_are_ambiguous() {
    let fs = flat_repo();
    fs.add_file(
        "r/flux/more.yaml",
        format!(
            "{}{}",
            ks("a", "./kubernetes/apps/a", true),
            ks("b", "./kubernetes/apps/b", true)
        ),
    );
    let message = plan_add(&fs, Path::new("r"), &add_request("wiki"))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("flux/apps.yaml and flux/more.yaml each list 2"),
        "{message}"
    );
}

#[test]
fn removing_the_first_document_keeps_the_header() {
    let fs = flat_repo();
    let request = RemoveRequest {
        name: "grafana".into(),
        delete_files: true,
        locate: LocateArgs::default(),
    };
    let plan = plan_remove(&fs, Path::new("r"), &request).unwrap();
    let (before, after) = modified(&plan.changes);
    assert!(after.starts_with("# my apps\n---\n"));
    let names: Vec<String> = parse_documents(&after)
        .unwrap()
        .iter()
        .filter_map(|d| d.pointer("/metadata/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    assert_eq!(names, ["paperless"]);
    assert_eq!(
        before.len() - after.len(),
        ks("grafana", "", true).len() + "./kubernetes/apps/grafana".len()
    );
    let deleted: Vec<&Path> = plan
        .changes
        .iter()
        .filter(|c| c.verb() == "delete")
        .map(FileChange::path)
        .collect();
    assert_eq!(deleted, [Path::new("kubernetes/apps/grafana/ns.yaml")]);
}

#[test]
fn delete_files_refuses_a_folder_another_kustomization_applies() {
    let fs = flat_repo();
    fs.add_file(
        "r/flux/extra.yaml",
        ks(
            "grafana-dashboards",
            "./kubernetes/apps/grafana/dashboards",
            true,
        ),
    );
    let request = RemoveRequest {
        name: "grafana".into(),
        delete_files: true,
        locate: LocateArgs::default(),
    };
    let message = plan_remove(&fs, Path::new("r"), &request)
        .unwrap_err()
        .to_string();
    assert!(message.contains("grafana-dashboards"), "{message}");
    // Without --delete-files the Kustomization alone can go.
    let request = RemoveRequest {
        delete_files: false,
        ..request
    };
    assert!(plan_remove(&fs, Path::new("r"), &request).is_ok());
}

#[test]
fn explicit_depends_on_replaces_the_learned_one() {
    let fs = flat_repo();
    let request = AddRequest {
        depends_on: Some(vec!["grafana".into()]),
        ..add_request("wiki")
    };
    let plan = plan_add(&fs, Path::new("r"), &request).unwrap();
    assert_eq!(plan.app.depends_on, ["grafana"]);
    let request = AddRequest {
        depends_on: Some(vec!["Grafana".into()]),
        ..add_request("wiki")
    };
    assert!(plan_add(&fs, Path::new("r"), &request).is_err());
}

#[test]
fn an_ingress_host_needs_a_domain_and_an_issuer() {
    let fs = flat_repo();
    let request = AddRequest {
        ingress_host: Some("wiki".into()),
        ..add_request("wiki")
    };
    let message = plan_add(&fs, Path::new("r"), &request)
        .unwrap_err()
        .to_string();
    assert!(message.contains("give the full host name"), "{message}");
    let request = AddRequest {
        ingress_host: Some("wiki.example.net".into()),
        ..add_request("wiki")
    };
    let message = plan_add(&fs, Path::new("r"), &request)
        .unwrap_err()
        .to_string();
    assert!(message.contains("ClusterIssuer"), "{message}");
}
