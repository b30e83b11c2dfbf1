//! `pvc-protection-finalizer`: PersistentVolumeClaims declare the `kubernetes.io/pvc-protection`
//! finalizer, so the claim (and its data) outlives a mistaken delete while a pod still uses it.

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta, each_object, group_of, kind_of};
use crate::config::RuleConfig;
use crate::input::CheckInput;

pub struct PvcProtectionFinalizer;

const FINALIZER: &str = "kubernetes.io/pvc-protection";

static META: RuleMeta = RuleMeta {
    id: "pvc-protection-finalizer",
    severity: Severity::Warning,
    summary: "PersistentVolumeClaims carry the `kubernetes.io/pvc-protection` finalizer.",
    why: "Data protection: with the finalizer written in Git the claim is never removed while a pod uses it, \
          whatever admission plugins the cluster runs, and the intent is visible in review.",
    example: "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    fix: "Add `finalizers: [kubernetes.io/pvc-protection]` under the claim's `metadata`.",
    options: "",
};

impl Rule for PvcProtectionFinalizer {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        each_object(input, |u, o, _, rendered| {
            let object = &rendered.object;
            if kind_of(object) != "PersistentVolumeClaim" || !group_of(object).is_empty() {
                return;
            }
            let has = object
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|list| list.iter().any(|f| f.as_str() == Some(FINALIZER)));
            if !has {
                out.push(
                    Hit::object(
                        u,
                        o,
                        format!("PersistentVolumeClaim has no {FINALIZER} finalizer"),
                    )
                    .field("metadata.finalizers"),
                );
            }
        });
    }
}
