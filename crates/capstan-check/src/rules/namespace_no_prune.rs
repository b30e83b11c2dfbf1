//! `namespace-no-prune`: a Namespace applied by a Kustomization with `prune: true` carries
//! `kustomize.toolkit.fluxcd.io/prune: disabled`, so removing it from Git never deletes everything in it.

use capstan_core::Severity;

use super::{Hit, Rule, RuleMeta, each_object, group_of, kind_of, prune_disabled};
use crate::config::RuleConfig;
use crate::input::CheckInput;

pub struct NamespaceNoPrune;

static META: RuleMeta = RuleMeta {
    id: "namespace-no-prune",
    severity: Severity::Error,
    summary: "Namespaces are not pruned by Flux: under `prune: true` they carry `kustomize.toolkit.fluxcd.io/prune: disabled`.",
    why: "Deleting a Namespace deletes every object and volume claim in it. A moved file or a renamed \
          Kustomization must not take the namespace's data with it.",
    example: "# applied by a Kustomization with spec.prune: true\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n",
    fix: "Annotate the Namespace with `kustomize.toolkit.fluxcd.io/prune: disabled`.",
    options: "",
};

impl Rule for NamespaceNoPrune {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        each_object(input, |u, o, unit, rendered| {
            let object = &rendered.object;
            if kind_of(object) == "Namespace"
                && group_of(object).is_empty()
                && unit.prunes()
                && !prune_disabled(object)
            {
                out.push(
                    Hit::object(
                        u,
                        o,
                        format!(
                            "Namespace would be pruned by Kustomization {} (prune: true)",
                            unit.id.name
                        ),
                    )
                    .field("metadata.annotations"),
                );
            }
        });
    }
}
