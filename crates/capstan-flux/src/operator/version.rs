//! Which Flux a repository runs, as far as it says, and so how kustomize-controller treats an
//! undefined `${var}` in post-build substitution.
//!
//! kustomize-controller v1.9 (Flux 2.9) turned the `StrictPostBuildSubstitutions` feature gate on
//! by default: an undefined variable without a default fails the Kustomization. Before v1.9, or
//! with the gate set to `false`, the variable becomes the empty string. The repository tells which
//! applies through:
//! - a FluxInstance's `spec.kustomize.patches` setting `--feature-gates=…StrictPostBuildSubstitutions=…`;
//! - its `spec.distribution.version` (`2.8.x`, `2.9.2`, `>=2.7.0`, `2.x`): a wildcard means the latest
//!   Flux that the operator's manifests artifact ships; a pinned `flux-operator-manifests:vX.Y.Z`
//!   before v0.53.0 ships Flux 2.8 at most (v0.53.0 is the first with 2.9);
//! - `gotk-components.yaml`: the kustomize-controller image tag and its `--feature-gates` argument.
//!
//! When nothing says, today's default (strict) holds and the policy says it was assumed.

use capstan_core::Value;

/// How undefined variables are substituted, and why capstan thinks so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubstitutionPolicy {
    /// True: an undefined variable fails the Kustomization; false: it becomes empty.
    pub strict: bool,
    /// False when the repository does not say (today's default assumed).
    pub known: bool,
    /// Where the answer comes from, for messages.
    pub reason: String,
}

impl Default for SubstitutionPolicy {
    fn default() -> SubstitutionPolicy {
        SubstitutionPolicy {
            strict: true,
            known: false,
            reason: "the repository does not say which Flux it runs; assumed kustomize-controller v1.9 or later (strict)".to_owned(),
        }
    }
}

impl SubstitutionPolicy {
    /// What Flux does with an undefined variable under this policy.
    pub fn consequence(&self) -> &'static str {
        if self.strict {
            "Flux fails the Kustomization (StrictPostBuildSubstitutions)"
        } else {
            "Flux applies the text with the variable replaced by an empty string"
        }
    }
}

/// The first flux-operator release whose manifests ship Flux 2.9.
const FIRST_OPERATOR_WITH_2_9: (u64, u64, u64) = (0, 53, 0);

/// The feature gate's explicit value in some text (patches, container args), if any.
fn gate(text: &str) -> Option<bool> {
    let at = text.find("StrictPostBuildSubstitutions=")?;
    let value = &text[at + "StrictPostBuildSubstitutions=".len()..];
    Some(!value.trim_start().starts_with("false"))
}

/// `MAJOR.MINOR` of a version constraint when it pins the minor (`2.8.x`, `v2.9.1`, `2.7`).
pub fn distribution_minor(spec: &Value) -> Option<u64> {
    let version = spec
        .pointer("/distribution/version")
        .and_then(Value::as_str)?;
    pinned_minor(version)
}

fn pinned_minor(version: &str) -> Option<u64> {
    let v = version.trim().trim_start_matches(['=', 'v', '~', '^']);
    let mut parts = v.split('.');
    let major = parts.next()?;
    let minor = parts.next()?;
    (major == "2").then_some(())?;
    minor.parse().ok()
}

fn parse_triple(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.trim_start_matches('v').split(['.', '-']);
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next().and_then(|p| p.parse().ok()).unwrap_or(0),
    ))
}

/// The policy of a FluxInstance's spec.
pub fn from_instance(spec: &Value, what: &str) -> SubstitutionPolicy {
    if let Some(patches) = spec.pointer("/kustomize/patches").and_then(Value::as_array) {
        for patch in patches {
            let text = patch.get("patch").and_then(Value::as_str).unwrap_or("");
            if let Some(strict) = gate(text) {
                return SubstitutionPolicy {
                    strict,
                    known: true,
                    reason: format!(
                        "{what} sets --feature-gates=StrictPostBuildSubstitutions={strict} in spec.kustomize.patches"
                    ),
                };
            }
        }
    }
    let version = spec
        .pointer("/distribution/version")
        .and_then(Value::as_str)
        .unwrap_or("2.x");
    if let Some(minor) = pinned_minor(version) {
        return by_minor(minor, &format!("{what} runs Flux {version}"));
    }
    // A range: the newest Flux the manifests artifact ships.
    let artifact = spec
        .pointer("/distribution/artifact")
        .and_then(Value::as_str)
        .unwrap_or("");
    let tag = artifact
        .rsplit_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.contains('/'));
    match tag.and_then(parse_triple) {
        Some(operator) if operator < FIRST_OPERATOR_WITH_2_9 => SubstitutionPolicy {
            strict: false,
            known: true,
            reason: format!(
                "{what} runs Flux {version} from flux-operator-manifests {}, which ships Flux 2.8 at most (kustomize-controller before v1.9: not strict)",
                tag.unwrap_or_default()
            ),
        },
        Some(_) => by_minor(
            9,
            &format!(
                "{what} runs Flux {version} from flux-operator-manifests {}",
                tag.unwrap_or_default()
            ),
        ),
        None => SubstitutionPolicy {
            strict: true,
            known: true,
            reason: format!(
                "{what} runs the latest Flux {version} (2.9 or later: kustomize-controller v1.9+, strict)"
            ),
        },
    }
}

fn by_minor(minor: u64, what: &str) -> SubstitutionPolicy {
    let strict = minor >= 9;
    SubstitutionPolicy {
        strict,
        known: true,
        reason: format!(
            "{what} (kustomize-controller v1.{minor}: {})",
            if strict {
                "strict by default"
            } else {
                "not strict before v1.9"
            }
        ),
    }
}

/// The policy of a `flux bootstrap` repository's `gotk-components.yaml` text.
pub fn from_components(text: &str, file: &str) -> Option<SubstitutionPolicy> {
    let at = text.find("fluxcd/kustomize-controller:")?;
    let rest = &text[at + "fluxcd/kustomize-controller:".len()..];
    let tag: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\'' && *c != '@')
        .collect();
    // The Deployment's arguments follow its image closely; look at that Deployment only.
    let deployment_end = rest.find("\n---").unwrap_or(rest.len());
    let start = text[..at].rfind("\n---").unwrap_or(0);
    let deployment = &text[start..at + "fluxcd/kustomize-controller:".len() + deployment_end];
    if let Some(strict) = gate(deployment) {
        return Some(SubstitutionPolicy {
            strict,
            known: true,
            reason: format!(
                "{file} runs kustomize-controller {tag} with --feature-gates=StrictPostBuildSubstitutions={strict}"
            ),
        });
    }
    let (major, minor, _) = parse_triple(&tag)?;
    if major != 1 {
        return None;
    }
    Some(by_minor(
        minor,
        &format!("{file} runs kustomize-controller {tag}"),
    ))
}
