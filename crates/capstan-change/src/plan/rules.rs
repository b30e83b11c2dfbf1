//! Classification rules as data: which files and objects belong to which phase, at what risk,
//! decided by which branch of the decision tree, applied by which bootstrap step.
//!
//! The defaults ([`default_rules`], from `default_rules.yaml`) encode the seeds' tables; a
//! repository's `.capstan.yaml` (`plan.rules`, `plan.escalations`) is read by [`RuleSet::from_config`]
//! and goes first, so it can override any default and add its own.

use serde::{Deserialize, Serialize};

use capstan_core::Value;

use super::{Branch, Phase, Risk};
use crate::analysis::{AnalysisSetting, AnalysisSettings};
use crate::diff::attrs::glob_match;

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    File,
    Object,
}

/// The conditions of a rule; every one given must hold. Lists match when any entry does; `*`
/// and `**` are wildcards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Matcher {
    /// Path globs: a file's path, or an object's location (its Kustomization's directory; a Flux
    /// Kustomization's own `spec.path`), relative to the repository root.
    pub paths: Vec<String>,
    pub kinds: Vec<String>,
    pub groups: Vec<String>,
    pub names: Vec<String>,
    pub namespaces: Vec<String>,
    /// Label keys the object carries.
    pub labels: Vec<String>,
    /// Names of the Kustomization or HelmRelease that produces the object.
    pub producers: Vec<String>,
    /// Globs on changed field paths (`spec.chart.spec.version`); the rule holds when any changed
    /// field matches.
    pub fields: Vec<String>,
    /// `added`, `changed`, `deleted`, `orphaned`.
    pub changes: Vec<String>,
    /// Globs on the analyses (ids or categories) that found something on the object.
    pub findings: Vec<String>,
}

/// One classification rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    /// Files or objects; objects when absent.
    #[serde(default)]
    pub item: Option<ItemKind>,
    #[serde(default)]
    pub matcher: Matcher,
    pub phase: Phase,
    pub risk: Risk,
    pub branch: Branch,
    pub reason: String,
    /// The bootstrap step (Bootstrap and Hybrid phases).
    #[serde(default)]
    pub bootstrap: Option<String>,
    /// What to watch after applying.
    #[serde(default)]
    pub watch: Option<String>,
}

/// A risk floor applied on top of whichever rule decided an item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub name: String,
    #[serde(default)]
    pub matcher: Matcher,
    pub risk: Risk,
    pub reason: String,
}

/// Rules in the order they are tried, escalations, and the analyses' settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub escalations: Vec<Escalation>,
    /// `plan.analyses`: per analysis id, `enabled` and `risk`.
    pub analyses: AnalysisSettings,
}

/// A rule file that does not read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RuleError {
    pub file: String,
    pub message: String,
}

const DEFAULT_RULES: &str = include_str!("default_rules.yaml");

/// The default rules.
pub fn default_rules() -> RuleSet {
    let value = capstan_core::yaml::parse_document(DEFAULT_RULES)
        .expect("the default rules are valid YAML");
    parse_rule_set(value).expect("the default rules match the rule schema")
}

const MATCHER_KEYS: &[&str] = &[
    "paths",
    "kinds",
    "groups",
    "names",
    "namespaces",
    "labels",
    "producers",
    "fields",
    "changes",
    "findings",
];

/// Reads one rule or escalation: the matcher's keys sit beside the rule's own in the YAML.
fn parse_entry<T: serde::de::DeserializeOwned>(
    what: &str,
    index: usize,
    value: Value,
) -> Result<T, String> {
    let Value::Object(mut map) = value else {
        return Err(format!("{what}[{index}]: expected a mapping"));
    };
    let mut matcher = capstan_core::Map::new();
    for key in MATCHER_KEYS {
        if let Some(v) = map.remove(*key) {
            matcher.insert((*key).to_owned(), v);
        }
    }
    map.insert("matcher".into(), Value::Object(matcher));
    serde_json::from_value(Value::Object(map)).map_err(|e| format!("{what}[{index}]: {e}"))
}

/// Reads `analyses: {ID: {enabled: false, risk: High}}`, checking every id.
fn parse_analyses(value: Value) -> Result<AnalysisSettings, String> {
    let Value::Object(map) = value else {
        return Err("analyses: expected a mapping of analysis ids".into());
    };
    let ids = crate::analysis::ids();
    let mut out = AnalysisSettings::new();
    for (id, setting) in map {
        if !ids.contains(&id.as_str()) {
            return Err(format!(
                "analyses.{id}: unknown analysis, expected one of {}",
                ids.join(", ")
            ));
        }
        let setting: AnalysisSetting =
            serde_json::from_value(setting).map_err(|e| format!("analyses.{id}: {e}"))?;
        out.insert(id, setting);
    }
    Ok(out)
}

/// Reads `{rules: [...], escalations: [...], analyses: {...}}`.
fn parse_rule_set(value: Value) -> Result<RuleSet, String> {
    let mut set = RuleSet::default();
    let Value::Object(map) = value else {
        return if value.is_null() {
            Ok(set)
        } else {
            Err("expected a mapping".into())
        };
    };
    for (key, list) in map {
        if key == "analyses" {
            set.analyses = parse_analyses(list)?;
            continue;
        }
        let Value::Array(items) = list else {
            return Err(format!("{key}: expected a list"));
        };
        match key.as_str() {
            "rules" => {
                for (i, item) in items.into_iter().enumerate() {
                    set.rules.push(parse_entry("rules", i, item)?);
                }
            }
            "escalations" => {
                for (i, item) in items.into_iter().enumerate() {
                    set.escalations.push(parse_entry("escalations", i, item)?);
                }
            }
            other => {
                return Err(format!(
                    "unknown field `{other}`, expected `rules`, `escalations`, `analyses` or `replaceDefaults`"
                ));
            }
        }
    }
    Ok(set)
}

impl RuleSet {
    /// The rules of a `.capstan.yaml` document (its `plan` key) ahead of the defaults. With
    /// `plan.replaceDefaults: true` the defaults are left out.
    pub fn from_config(file: &str, text: &str) -> Result<RuleSet, RuleError> {
        let error = |message: String| RuleError {
            file: file.to_owned(),
            message,
        };
        let document =
            capstan_core::yaml::parse_document(text).map_err(|e| error(e.to_string()))?;
        let mut plan = document.get("plan").cloned().unwrap_or(Value::Null);
        let replace = match plan
            .as_object_mut()
            .and_then(|m| m.remove("replaceDefaults"))
        {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(error(format!(
                    "plan.replaceDefaults: expected a boolean, found {other}"
                )));
            }
        };
        let own = parse_rule_set(plan).map_err(|e| error(format!("plan: {e}")))?;
        if replace {
            return Ok(own);
        }
        let defaults = default_rules();
        Ok(RuleSet {
            rules: own.rules.into_iter().chain(defaults.rules).collect(),
            escalations: own
                .escalations
                .into_iter()
                .chain(defaults.escalations)
                .collect(),
            analyses: own.analyses,
        })
    }
}

/// Matches a `/`-separated path against a glob where `**` spans any number of segments and `*`
/// any run of characters within one.
pub fn path_glob(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let path: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    fn go(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((first, rest)) => s
                .split_first()
                .is_some_and(|(head, tail)| glob_match(first, head) && go(rest, tail)),
        }
    }
    go(&pattern, &path)
}

/// The facts a matcher is checked against.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    pub item: Option<ItemKind>,
    pub path: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub group: Option<&'a str>,
    pub name: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub labels: Vec<&'a str>,
    pub producer: Option<&'a str>,
    pub fields: Vec<&'a str>,
    pub change: &'a str,
    /// The analyses (ids and categories) that found something on the object.
    pub findings: Vec<&'a str>,
}

fn any(patterns: &[String], value: Option<&str>) -> bool {
    patterns.is_empty() || value.is_some_and(|v| patterns.iter().any(|p| glob_match(p, v)))
}

impl Matcher {
    /// True when every condition holds for the facts.
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        (self.paths.is_empty()
            || facts
                .path
                .is_some_and(|p| self.paths.iter().any(|g| path_glob(g, p))))
            && any(&self.kinds, facts.kind)
            && any(&self.groups, facts.group)
            && any(&self.names, facts.name)
            && any(&self.namespaces, facts.namespace)
            && any(&self.producers, facts.producer)
            && any(&self.changes, Some(facts.change))
            && (self.labels.is_empty()
                || facts
                    .labels
                    .iter()
                    .any(|l| self.labels.iter().any(|p| glob_match(p, l))))
            && (self.fields.is_empty()
                || facts
                    .fields
                    .iter()
                    .any(|f| self.fields.iter().any(|p| glob_match(p, f))))
            && (self.findings.is_empty()
                || facts
                    .findings
                    .iter()
                    .any(|f| self.findings.iter().any(|p| glob_match(p, f))))
    }
}

impl Rule {
    /// True when the rule applies to the item.
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        self.item.unwrap_or(ItemKind::Object) == facts.item.unwrap_or(ItemKind::Object)
            && self.matcher.matches(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_globs() {
        assert!(path_glob("talos/**", "talos/patches/cluster.yaml"));
        assert!(path_glob("**/talconfig.yaml", "talconfig.yaml"));
        assert!(path_glob("**/talconfig.yaml", "cluster/talconfig.yaml"));
        assert!(path_glob(
            "clusters/*/flux-system/**",
            "clusters/home-ops/flux-system/gotk-sync.yaml"
        ));
        assert!(!path_glob(
            "clusters/*/flux-system/**",
            "clusters/home-ops/infrastructure/apps.yaml"
        ));
        assert!(path_glob("apps/**", "./apps/whoami"));
        assert!(!path_glob("apps/**", "infrastructure/apps-ish"));
    }

    #[test]
    fn defaults_read() {
        let rules = default_rules();
        assert!(rules.rules.len() > 20);
        assert!(rules.escalations.iter().any(|e| e.risk == Risk::Critical));
    }

    #[test]
    fn config_goes_first_and_is_checked() {
        let text = "plan:\n  rules:\n    - name: mine\n      paths: ['apps/db/**']\n      phase: GitOps\n      risk: High\n      branch: not-foundation\n      reason: our database\n";
        let rules = RuleSet::from_config(".capstan.yaml", text).unwrap();
        assert_eq!(rules.rules[0].name, "mine");
        assert_eq!(rules.rules.len(), default_rules().rules.len() + 1);
        let replaced =
            RuleSet::from_config(".capstan.yaml", &format!("{text}  replaceDefaults: true\n"))
                .unwrap();
        assert_eq!(replaced.rules.len(), 1);
        let bad = RuleSet::from_config(
            ".capstan.yaml",
            "plan:\n  rules:\n    - name: x\n      phase: Sideways\n",
        )
        .unwrap_err();
        assert!(bad.to_string().starts_with(".capstan.yaml: plan:"), "{bad}");
        let unknown = RuleSet::from_config("c", "plan:\n  rulez: []\n").unwrap_err();
        assert!(unknown.to_string().contains("rulez"), "{unknown}");
        assert!(RuleSet::from_config("c", "other: 1\n").is_ok());
    }

    #[test]
    fn analyses_are_configured_and_checked() {
        let rules = RuleSet::from_config(
            ".capstan.yaml",
            "plan:\n  analyses:\n    image-changes: {risk: Medium}\n    reconcile-timing: {enabled: false}\n  escalations:\n    - name: wedged\n      findings: [wedges-apply]\n      risk: Critical\n      reason: r\n",
        )
        .unwrap();
        assert_eq!(rules.analyses["image-changes"].risk, Some(Risk::Medium));
        assert_eq!(rules.analyses["reconcile-timing"].enabled, Some(false));
        let facts = Facts {
            item: Some(ItemKind::Object),
            findings: vec!["immutable-field", "wedges-apply"],
            ..Facts::default()
        };
        assert!(rules.escalations[0].matcher.matches(&facts));
        let unknown = RuleSet::from_config("c", "plan:\n  analyses:\n    nope: {}\n").unwrap_err();
        assert!(unknown.to_string().contains("analyses.nope"), "{unknown}");
        let bad =
            RuleSet::from_config("c", "plan:\n  analyses:\n    image-changes: {risk: Huge}\n")
                .unwrap_err();
        assert!(bad.to_string().contains("analyses.image-changes"), "{bad}");
    }

    #[test]
    fn gates_read() {
        use crate::plan::Gate;
        assert_eq!(Gate::parse("high"), Ok(Gate::Risk(Risk::High)));
        assert_eq!(
            Gate::parse("loses-data"),
            Ok(Gate::Finding("loses-data".into()))
        );
        assert_eq!(
            Gate::parse("pruned-*"),
            Ok(Gate::Finding("pruned-*".into()))
        );
        assert!(Gate::parse("sideways").is_err());
    }
}
