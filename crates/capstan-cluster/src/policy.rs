//! The per-object annotations (or labels) that steer Flux's apply and prune, read the way
//! kustomize-controller reads them: `kustomize.toolkit.fluxcd.io/ssa` (`Override` by default,
//! `Merge`, `IfNotPresent`, `Ignore`), `…/reconcile: disabled`, `…/prune: disabled` and
//! `…/force: enabled`. A label counts as much as an annotation; values compare without case.

use serde_json::Value;

pub const SSA_KEY: &str = "kustomize.toolkit.fluxcd.io/ssa";
pub const RECONCILE_KEY: &str = "kustomize.toolkit.fluxcd.io/reconcile";
pub const PRUNE_KEY: &str = "kustomize.toolkit.fluxcd.io/prune";
pub const FORCE_KEY: &str = "kustomize.toolkit.fluxcd.io/force";
/// The owner labels Flux sets on every object a Kustomization applies.
pub const NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
pub const NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";

/// How an object is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Ssa {
    /// Apply; other managers' kubectl-style fields are cleaned up first.
    #[default]
    Override,
    /// Apply, but leave other managers' fields alone.
    Merge,
    /// Create only; never touch it once it exists.
    IfNotPresent,
    /// Neither applied, pruned nor health-checked.
    Ignore,
}

/// The policy read from one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    pub ssa: Ssa,
    pub reconcile_disabled: bool,
    pub prune_disabled: bool,
    pub force: bool,
}

impl Policy {
    pub fn of(object: &Value) -> Policy {
        let ssa = match value_of(object, SSA_KEY)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("merge") => Ssa::Merge,
            Some("ifnotpresent") => Ssa::IfNotPresent,
            Some("ignore") => Ssa::Ignore,
            _ => Ssa::Override,
        };
        Policy {
            ssa,
            reconcile_disabled: is(object, RECONCILE_KEY, "disabled"),
            prune_disabled: is(object, PRUNE_KEY, "disabled"),
            force: is(object, FORCE_KEY, "enabled"),
        }
    }

    /// `ssa: Ignore` or `reconcile: disabled`: leave the object alone entirely.
    pub fn ignored(&self) -> bool {
        self.ssa == Ssa::Ignore || self.reconcile_disabled
    }
}

fn is(object: &Value, key: &str, wanted: &str) -> bool {
    value_of(object, key).is_some_and(|v| v.eq_ignore_ascii_case(wanted))
}

fn value_of<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    let metadata = object.get("metadata")?;
    ["annotations", "labels"]
        .iter()
        .find_map(|field| metadata.get(field)?.get(key)?.as_str())
}

/// True when the object carries both owner labels with these values.
pub fn owned_by(object: &Value, name: &str, namespace: &str) -> bool {
    let labels = object.pointer("/metadata/labels");
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    label(NAME_LABEL) == Some(name) && label(NAMESPACE_LABEL) == Some(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotations_and_labels_count_without_case() {
        let o =
            json!({"metadata":{"annotations":{SSA_KEY:"merge"},"labels":{PRUNE_KEY:"Disabled"}}});
        let p = Policy::of(&o);
        assert_eq!(p.ssa, Ssa::Merge);
        assert!(p.prune_disabled && !p.force && !p.ignored());
        let o = json!({"metadata":{"labels":{RECONCILE_KEY:"disabled"}}});
        assert!(Policy::of(&o).ignored());
        let o = json!({"metadata":{"annotations":{SSA_KEY:"IfNotPresent", FORCE_KEY:"Enabled"}}});
        assert_eq!(Policy::of(&o).ssa, Ssa::IfNotPresent);
        assert!(Policy::of(&o).force);
        assert_eq!(Policy::of(&json!({})).ssa, Ssa::Override);
    }

    #[test]
    fn owner_labels_must_both_match() {
        let o = json!({"metadata":{"labels":{NAME_LABEL:"apps", NAMESPACE_LABEL:"flux-system"}}});
        assert!(owned_by(&o, "apps", "flux-system"));
        assert!(!owned_by(&o, "apps", "other"));
        let o = json!({"metadata":{"labels":{NAME_LABEL:"apps"}}});
        assert!(!owned_by(&o, "apps", "flux-system"));
    }
}
