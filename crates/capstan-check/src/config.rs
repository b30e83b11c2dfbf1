//! The repository's `.capstan.yaml`, the part `check` reads:
//!
//! ```yaml
//! check:
//!   kubeVersion: "1.33"
//!   rules:
//!     container-resources: {severity: error}
//!     no-plaintext-secret: {enabled: false}
//!     image-pinned: {allow: ["Deployment/dev/*"]}
//!     ingress-host-tls: {domain: example.com}
//!     bootstrap-phase: {objects: ["*/kube-system/cilium"], kustomizations: ["flux-system/cilium"]}
//! ```
//!
//! Every rule takes `enabled`, `severity` and `allow` (globs over `Kind/namespace/name`, or
//! `Kind/name` for cluster-scoped objects); other keys are the rule's own options.

use std::collections::BTreeMap;

use capstan_core::{Map, Severity, Value};

/// The per-object opt-out annotation: a comma-separated list of rule ids (or `*`).
pub const IGNORE_ANNOTATION: &str = "capstan.io/ignore";

/// Why `.capstan.yaml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(".capstan.yaml: {0}")]
    Yaml(String),
    #[error(".capstan.yaml: field {field}: {message}")]
    Field { field: String, message: String },
}

/// A rule's settings after `.capstan.yaml` is applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleConfig {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub allow: Vec<String>,
    /// The rule's own options, as written.
    pub options: Map,
}

impl RuleConfig {
    /// A string-list option, e.g. `objects: [a, b]`.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        self.options.get(key).and_then(Value::as_array).map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
    }

    pub fn string(&self, key: &str) -> Option<&str> {
        self.options.get(key).and_then(Value::as_str)
    }

    pub fn flag(&self, key: &str) -> Option<bool> {
        self.options.get(key).and_then(Value::as_bool)
    }
}

/// The check section of `.capstan.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub kube_version: Option<String>,
    pub rules: BTreeMap<String, RuleConfig>,
}

impl Config {
    /// Reads the text of `.capstan.yaml`; rule ids are checked against `known`.
    pub fn parse(text: &str, known: &[&str]) -> Result<Config, ConfigError> {
        let doc = capstan_core::yaml::parse_document(text)
            .map_err(|e| ConfigError::Yaml(e.to_string()))?;
        let mut config = Config::default();
        let Some(check) = doc.get("check") else {
            return Ok(config);
        };
        let field_err = |field: &str, message: &str| ConfigError::Field {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        if !check.is_object() {
            return Err(field_err("check", "must be a mapping"));
        }
        match check.get("kubeVersion") {
            None => {}
            Some(Value::String(s)) => config.kube_version = Some(s.clone()),
            Some(Value::Number(n)) => config.kube_version = Some(n.to_string()),
            Some(_) => {
                return Err(field_err(
                    "check.kubeVersion",
                    "must be a version such as \"1.33\"",
                ));
            }
        }
        let Some(rules) = check.get("rules") else {
            return Ok(config);
        };
        let Some(rules) = rules.as_object() else {
            return Err(field_err("check.rules", "must be a mapping"));
        };
        for (id, settings) in rules {
            let field = format!("check.rules.{id}");
            if !known.contains(&id.as_str()) {
                return Err(field_err(
                    &field,
                    &format!("unknown rule (known: {})", known.join(", ")),
                ));
            }
            let Some(settings) = settings.as_object() else {
                return Err(field_err(&field, "must be a mapping"));
            };
            let mut rule = RuleConfig::default();
            for (key, value) in settings {
                match key.as_str() {
                    "enabled" => {
                        rule.enabled = Some(value.as_bool().ok_or_else(|| {
                            field_err(&format!("{field}.enabled"), "must be true or false")
                        })?)
                    }
                    "severity" => {
                        rule.severity = Some(match value.as_str() {
                            Some("error") => Severity::Error,
                            Some("warning") => Severity::Warning,
                            Some("info") => Severity::Info,
                            _ => {
                                return Err(field_err(
                                    &format!("{field}.severity"),
                                    "must be error, warning or info",
                                ));
                            }
                        })
                    }
                    "allow" => {
                        let list = value.as_array().ok_or_else(|| {
                            field_err(&format!("{field}.allow"), "must be a list of globs")
                        })?;
                        rule.allow = list
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect();
                    }
                    _ => {
                        rule.options.insert(key.clone(), value.clone());
                    }
                }
            }
            config.rules.insert(id.clone(), rule);
        }
        Ok(config)
    }

    pub fn rule(&self, id: &str) -> RuleConfig {
        self.rules.get(id).cloned().unwrap_or_default()
    }
}

pub use capstan_core::wildcard::glob_match;

/// True when the object's `capstan.io/ignore` annotation names the rule (or `*`).
pub fn ignored_by_annotation(object: &Value, rule: &str) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(IGNORE_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|r| r == rule || r == "*")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "*/kube-system/cilium*",
            "HelmRelease/kube-system/cilium"
        ));
        assert!(glob_match("Secret/?b", "Secret/ab"));
        assert!(!glob_match("Secret/*", "ConfigMap/x"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn parses_rules() {
        let text = "check:\n  kubeVersion: 1.32\n  rules:\n    image-pinned: {severity: warning, allow: [\"Pod/*\"], requireDigest: true}\n";
        let config = Config::parse(text, &["image-pinned"]).unwrap();
        assert_eq!(config.kube_version.as_deref(), Some("1.32"));
        let rule = config.rule("image-pinned");
        assert_eq!(rule.severity, Some(Severity::Warning));
        assert_eq!(rule.allow, vec!["Pod/*".to_owned()]);
        assert_eq!(rule.flag("requireDigest"), Some(true));
        assert!(Config::parse("check:\n  rules:\n    nope: {}\n", &["image-pinned"]).is_err());
        assert!(
            Config::parse(
                "check:\n  rules:\n    image-pinned: {severity: loud}\n",
                &["image-pinned"]
            )
            .is_err()
        );
    }
}
