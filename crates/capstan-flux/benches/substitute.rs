//! How fast post-build substitution runs: `cargo bench -p capstan-flux --bench substitute`.
//!
//! Expands a ~1 MB text dense with `${…}` expressions (plain, fallback, operators, `$$`
//! escapes, bare `$var`), and substitutes a typical Deployment object end to end (serialise,
//! expand, read back as YAML 1.1); prints throughput and time per object.

use std::collections::BTreeMap;
use std::time::Instant;

use capstan_flux::substitute::{self, Strategy, SubstituteOptions};

fn main() {
    let vars: BTreeMap<String, String> = [
        ("CLUSTER", "production"),
        ("DOMAIN", "example.com"),
        ("REPLICAS", "3"),
        ("IMAGE_TAG", "v1.2.3"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let lookup = |name: &str| vars.get(name).cloned();

    let line = "  host: web.${CLUSTER}.${DOMAIN} # $$ and $plain, ${MISSING:=fallback-${CLUSTER}} ${DOMAIN/example/corp} ${IMAGE_TAG#v} ${CLUSTER^^}\n";
    let text = line.repeat(1_000_000 / line.len());
    let runs = 20;
    let start = Instant::now();
    for _ in 0..runs {
        substitute::expand(&text, &lookup).expect("expands");
    }
    let per = start.elapsed() / runs;
    let mb = text.len() as f64 / 1e6;
    println!(
        "expand {mb:.2} MB ({} expressions): {per:.2?} per run, {:.0} MB/s",
        text.matches("${").count(),
        mb / per.as_secs_f64()
    );

    let object = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web-${CLUSTER}", "namespace": "apps", "labels": {"app": "web"}},
        "spec": {
            "replicas": "${REPLICAS}",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": "ghcr.io/org/web:${IMAGE_TAG}",
                    "env": [{"name": "HOST", "value": "web.${DOMAIN}"}, {"name": "DEBUG", "value": "${DEBUG:=false}"}],
                    "ports": [{"containerPort": 8080}]
                }]}
            }
        }
    });
    let runs = 5_000;
    let start = Instant::now();
    for _ in 0..runs {
        substitute::substitute_object(
            &object,
            &vars,
            Strategy::WithVariables,
            SubstituteOptions::default(),
        )
        .expect("substitutes");
    }
    println!(
        "substitute_object(Deployment): {:.2?} per object ({runs} runs)",
        start.elapsed() / runs
    );
}
