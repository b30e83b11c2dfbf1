//! `no-plaintext-secret`: a Secret with data in Git must be SOPS-encrypted; otherwise use a
//! SealedSecret or an ExternalSecret.

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta, each_object, group_of, kind_of};
use crate::config::RuleConfig;
use crate::input::{CheckInput, UnitKind};

pub struct NoPlaintextSecret;

static META: RuleMeta = RuleMeta {
    id: "no-plaintext-secret",
    severity: Severity::Error,
    summary: "Secrets with data are SOPS-encrypted in Git; otherwise they come from a SealedSecret or an ExternalSecret.",
    why: "Git history is forever: a credential committed in clear is leaked to everyone who can read the repository, \
          now and later. The seeds allow three ways: SOPS, Sealed Secrets, External Secrets.",
    example: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n",
    fix: "Encrypt the file with `sops --encrypt --age … --encrypted-regex '^(data|stringData)$'`, or replace the Secret \
          with an ExternalSecret (1Password Connect) or a SealedSecret.",
    options: "",
};

impl Rule for NoPlaintextSecret {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, _config: &RuleConfig, out: &mut Vec<Hit>) {
        each_object(input, |u, o, unit, rendered| {
            let object = &rendered.object;
            // Chart-rendered Secrets are not in Git; their values files are checked as sources.
            if unit.kind != UnitKind::Kustomization
                || kind_of(object) != "Secret"
                || !group_of(object).is_empty()
            {
                return;
            }
            if rendered.encrypted || object.get("sops").is_some() {
                return;
            }
            let has_data = ["data", "stringData"].iter().any(|f| {
                object
                    .get(*f)
                    .and_then(Value::as_object)
                    .is_some_and(|m| !m.is_empty())
            });
            if has_data {
                let field = if object.get("stringData").is_some() {
                    "stringData"
                } else {
                    "data"
                };
                out.push(
                    Hit::object(
                        u,
                        o,
                        "Secret holds data in clear in Git (not SOPS-encrypted)",
                    )
                    .field(field),
                );
            }
        });
    }
}
