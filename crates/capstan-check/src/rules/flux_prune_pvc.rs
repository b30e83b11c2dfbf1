//! `flux/prune-pvc`: a PersistentVolumeClaim applied by a Kustomization with `prune: true` carries
//! `kustomize.toolkit.fluxcd.io/prune: disabled`, so its volume survives a refactor of the repository.

use capstan_core::Severity;

use super::{Hit, Rule, RuleMeta, each_object, group_of, kind_of, prune_disabled};
use crate::config::RuleConfig;
use crate::input::CheckInput;

pub struct FluxPrunePvc;

static META: RuleMeta = RuleMeta {
    id: "flux/prune-pvc",
    severity: Severity::Error,
    summary: "A Kustomization with `prune: true` does not own PersistentVolumeClaims without `kustomize.toolkit.fluxcd.io/prune: disabled`.",
    why: "Flux garbage-collects what leaves its inventory. Renaming a Kustomization, moving a file or a failed \
          render would delete the claim and, with a Delete reclaim policy, its data.",
    example: "# applied by a Kustomization with spec.prune: true\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    fix: "Annotate the claim with `kustomize.toolkit.fluxcd.io/prune: disabled`.",
    options: "",
};

impl Rule for FluxPrunePvc {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        each_object(input, |u, o, unit, rendered| {
            let object = &rendered.object;
            if kind_of(object) == "PersistentVolumeClaim"
                && group_of(object).is_empty()
                && unit.prunes()
                && !prune_disabled(object)
            {
                out.push(
                    Hit::object(u, o, format!("PersistentVolumeClaim would be pruned by Kustomization {} (prune: true)", unit.id.name))
                        .field("metadata.annotations"),
                );
            }
        });
    }
}
