//! The variables an object uses that a Kustomization does not define: `${NAME}` references with
//! no default (`${NAME:=x}`, `${NAME:-x}`, `${NAME=x}` and `${NAME-x}` have one), outside `$${`
//! escapes, in objects that do not opt out of substitution. What kustomize-controller does with
//! them depends on its version and feature gates ([`crate::operator::version`]): fail the
//! Kustomization, or substitute the empty string.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use capstan_core::Value;
use regex::Regex;

use super::is_disabled;

fn reference() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(\$*)\$\{([_A-Za-z][_A-Za-z0-9]*)(:?[-=])?").expect("a valid pattern")
    })
}

/// The names `object` references without a default, in order of first use.
pub fn referenced_without_default(object: &Value) -> Vec<String> {
    if is_disabled(object) {
        return Vec::new();
    }
    let text = capstan_core::yaml::to_yaml(object);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for capture in reference().captures_iter(&text) {
        // An odd number of extra `$` before `${` means the `$` is escaped (`$${X}` is literal).
        if capture.get(1).is_some_and(|m| m.as_str().len() % 2 == 1) {
            continue;
        }
        if capture.get(3).is_some() {
            continue;
        }
        let name = capture[2].to_owned();
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// The names `object` uses without a default that `vars` does not define.
pub fn undefined_variables(object: &Value, vars: &BTreeMap<String, String>) -> Vec<String> {
    referenced_without_default(object)
        .into_iter()
        .filter(|name| !vars.contains_key(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_only_undefined_references_without_default() {
        let object = json!({"kind": "ConfigMap", "metadata": {"name": "x"},
            "data": {"a": "${DEFINED}", "b": "curl /cron/${TOKEN}", "c": "${WITH:=default}",
                     "d": "$${ESCAPED}", "e": "${TOKEN} again", "f": "${OTHER-x}"}});
        let vars = BTreeMap::from([("DEFINED".to_owned(), "1".to_owned())]);
        assert_eq!(undefined_variables(&object, &vars), ["TOKEN"]);
        let disabled = json!({"kind": "ConfigMap", "metadata": {"name": "x",
            "annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}},
            "data": {"b": "${TOKEN}"}});
        assert!(undefined_variables(&disabled, &vars).is_empty());
    }
}
