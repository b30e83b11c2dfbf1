//! `container-resources`: every container declares resource requests and limits.

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta, containers, each_object, pod_spec};
use crate::config::RuleConfig;
use crate::input::CheckInput;

pub struct ContainerResources;

static META: RuleMeta = RuleMeta {
    id: "container-resources",
    severity: Severity::Warning,
    summary: "Containers declare resource requests and limits.",
    why: "Without requests the scheduler packs nodes blind; without limits one container can starve a node \
          (memory) and take its neighbours down with it.",
    example: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    fix: "Add `resources: {requests: {cpu: 10m, memory: 64Mi}, limits: {memory: 128Mi}}` to the container.",
    options: "",
};

impl Rule for ContainerResources {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        each_object(input, |u, o, _, rendered| {
            let Some((spec, base)) = pod_spec(&rendered.object) else {
                return;
            };
            for (container, path) in containers(spec, base) {
                let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
                let resources = container.get("resources");
                let missing: Vec<&str> = ["requests", "limits"]
                    .into_iter()
                    .filter(|k| {
                        resources
                            .and_then(|r| r.get(*k))
                            .and_then(Value::as_object)
                            .is_none_or(|m| m.is_empty())
                    })
                    .collect();
                if !missing.is_empty() {
                    out.push(
                        Hit::object(
                            u,
                            o,
                            format!(
                                "container \"{name}\" declares no resource {}",
                                missing.join(" or ")
                            ),
                        )
                        .field(format!("{path}.resources")),
                    );
                }
            }
        });
    }
}
