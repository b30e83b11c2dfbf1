//! The diff renderers on one report that has a bit of everything: snapshots of the text formats,
//! the markdown size limit, and the html page rendered in headless Chromium.

use std::path::PathBuf;
use std::process::Command;

use capstan_change::diff::render::{Format, RenderOptions, render};
use capstan_change::diff::{DiffOptions, DiffReport, Producer, ProducerKind, Rendered, Side, diff};
use serde_json::{Value, json};

fn deployment(image: &str, containers_swapped: bool, chart: &str) -> Value {
    let mut containers = vec![
        json!({"name": "app", "image": image, "env": [{"name": "TZ", "value": "UTC"}]}),
        json!({"name": "sidecar", "image": "busybox:1.36"}),
    ];
    if containers_swapped {
        containers.reverse();
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "web", "labels": {"helm.sh/chart": chart}},
           "spec": {"template": {"spec": {"containers": containers}}}})
}

fn secret(password: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-db", "namespace": "web"},
           "data": {"password": password, "user": "d2Vi"}})
}

fn side(objects: Vec<Value>, infra: Result<Vec<Value>, String>) -> Side {
    Side {
        rendered: vec![
            Rendered {
                producer: Producer::new(ProducerKind::Kustomization, "flux-system", "apps"),
                prune: true,
                outcome: Ok(objects),
            },
            Rendered {
                producer: Producer::new(ProducerKind::HelmRelease, "monitoring", "grafana"),
                prune: true,
                outcome: infra,
            },
        ],
        error: None,
        ..Default::default()
    }
}

fn report() -> DiffReport {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old-settings", "namespace": "web"},
                    "data": {"a": "1"}});
    let added = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "web"},
                       "spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
    let base = side(
        vec![
            deployment("nginx:1.27.0", false, "web-1.0.0"),
            secret("b2xkLXBhc3N3b3Jk"),
            cm,
        ],
        Ok(vec![]),
    );
    let head = side(
        vec![
            deployment("nginx:1.27.1", true, "web-1.1.0"),
            secret("bmV3LXBhc3N3b3Jk"),
            added,
        ],
        Err("monitoring/grafana: values.yaml: mapping values are not allowed here".into()),
    );
    diff(&base, &head, &DiffOptions::default())
}

fn options() -> RenderOptions {
    RenderOptions {
        title: "base 1a2b3c4 → working tree".into(),
        ..RenderOptions::default()
    }
}

#[test]
fn human() {
    insta::assert_snapshot!(render(&report(), Format::Human, &options()));
}

#[test]
fn human_in_colour() {
    let text = render(
        &report(),
        Format::Human,
        &RenderOptions {
            color: true,
            ..options()
        },
    );
    assert!(text.contains("\x1b[32m"), "green for added");
    assert!(text.contains("\x1b[31m"), "red for removed");
}

#[test]
fn markdown() {
    insta::assert_snapshot!(render(&report(), Format::Markdown, &options()));
}

#[test]
fn markdown_truncates_past_the_limit() {
    let text = render(
        &report(),
        Format::Markdown,
        &RenderOptions {
            markdown_limit: 700,
            ..options()
        },
    );
    assert!(text.len() <= 700, "{} characters", text.len());
    assert!(text.contains("**Truncated:**"), "{text}");
}

#[test]
fn unified() {
    insta::assert_snapshot!(render(&report(), Format::Unified, &options()));
}

#[test]
fn json_is_masked_and_structured() {
    let text = render(&report(), Format::Json, &options());
    let value: Value = serde_json::from_str(&text).expect("valid json");
    assert_eq!(value["groups"].as_array().map(Vec::len), Some(2));
    assert!(!text.contains("b2xkLXBhc3N3b3Jk") && !text.contains("bmV3LXBhc3N3b3Jk"));
    insta::assert_snapshot!(text);
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| PathBuf::from(dir).join(name))
                .find(|p| p.is_file())
        })
}

/// Renders the page in headless Chromium (the script runs) and asserts on the resulting DOM.
#[test]
fn html_page_in_a_browser() {
    let Some(browser) = chromium() else {
        eprintln!("skipping: chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let page = render(&report(), Format::Html, &options());
    assert!(
        !page.contains("b2xkLXBhc3N3b3Jk"),
        "secret data in the page"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page must be self-contained"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("diff.html");
    std::fs::write(&file, &page).expect("write page");
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("data-ready=\"true\""),
        "the page script did not run:\n{dom}"
    );
    assert!(
        dom.contains("<span id=\"status\">4 objects</span>"),
        "{dom}"
    );
    // the tree groups objects under their producer
    assert!(dom.contains("Kustomization flux-system/apps"));
    assert!(dom.contains("HelmRelease monitoring/grafana"));
    assert!(dom.contains("fails on the head side"));
    // the first object is selected and shown, the others hidden
    assert!(dom.contains("class=\"object deleted selected\""), "{dom}");
    assert_eq!(dom.matches("<section class=\"object\"").count(), 4);
    assert_eq!(dom.matches(" hidden=\"\"").count(), 3, "{dom}");
    // the side-by-side view shows the image change, secret data masked
    assert!(
        dom.contains("<td class=\"del\">        image: nginx:1.27.0</td>"),
        "{dom}"
    );
    assert!(
        dom.contains("<td class=\"ins\">        image: nginx:1.27.1</td>"),
        "{dom}"
    );
    assert!(dom.contains("*** (before)") && dom.contains("*** (after)"));
    assert!(!dom.contains("bmV3LXBhc3N3b3Jk"));
}
