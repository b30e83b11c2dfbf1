//! `spec.ignore`: JSON pointers a Kustomization leaves out of drift detection, for the objects a
//! selector picks (kustomize-controller's `DriftIgnoreRules`, fluxcd/pkg `ssa/jsondiff`). The
//! selector's group, version, kind, name and namespace are anchored regular expressions; its
//! label and annotation selectors take Kubernetes' syntax (`a=b`, `a!=b`, `a`, `!a`,
//! `a in (x,y)`, `a notin (x)`).
//!
//! What the rules change, as in Flux: an ignored path never makes an object drifted; and when an
//! object is applied for another reason, each ignored path whose live value differs is left out
//! of the payload when another applier owns it (an HPA, a VPA, a human's `kubectl apply`), or
//! carries the live value back when capstan is its only owner, so applying never reverts it.

use regex::Regex;
use serde_json::Value;

use capstan_flux::model::{IgnoreRule, Selector};

use crate::fields;
use crate::id::split_api_version;

/// A rule that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.ignore[{index}]: {message}")]
pub struct IgnoreError {
    pub index: usize,
    pub message: String,
}

/// Compiled `spec.ignore` rules.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<(Option<Matcher>, Vec<String>)>,
}

#[derive(Debug, Clone)]
struct Matcher {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl IgnoreRules {
    pub fn compile(rules: &[IgnoreRule]) -> Result<IgnoreRules, IgnoreError> {
        let mut out = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let fail = |message: String| IgnoreError { index, message };
            for path in &rule.paths {
                if !path.starts_with('/') {
                    return Err(fail(format!("path {path:?} is not a JSON pointer")));
                }
            }
            let matcher = rule.target.as_ref().map(Matcher::compile).transpose();
            out.push((matcher.map_err(fail)?, rule.paths.clone()));
        }
        Ok(IgnoreRules { rules: out })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The ignored pointers of one object.
    pub fn paths_for(&self, object: &Value) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (matcher, paths) in &self.rules {
            if matcher.as_ref().is_none_or(|m| m.matches(object)) {
                for path in paths {
                    if !out.contains(path) {
                        out.push(path.clone());
                    }
                }
            }
        }
        out
    }
}

impl Matcher {
    fn compile(s: &Selector) -> Result<Matcher, String> {
        let anchored = |field: &str, value: &Option<String>| {
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    Regex::new(&format!("^(?:{v})$"))
                        .map_err(|e| format!("target.{field}: invalid regular expression: {e}"))
                })
                .transpose()
        };
        Ok(Matcher {
            group: anchored("group", &s.group)?,
            version: anchored("version", &s.version)?,
            kind: anchored("kind", &s.kind)?,
            name: anchored("name", &s.name)?,
            namespace: anchored("namespace", &s.namespace)?,
            labels: parse_selector(s.label_selector.as_deref().unwrap_or(""))
                .map_err(|e| format!("target.labelSelector: {e}"))?,
            annotations: parse_selector(s.annotation_selector.as_deref().unwrap_or(""))
                .map_err(|e| format!("target.annotationSelector: {e}"))?,
        })
    }

    fn matches(&self, object: &Value) -> bool {
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let (group, version) = split_api_version(text("/apiVersion"));
        let fits = |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|r| r.is_match(value));
        fits(&self.group, group)
            && fits(&self.version, version)
            && fits(&self.kind, text("/kind"))
            && fits(&self.name, text("/metadata/name"))
            && fits(&self.namespace, text("/metadata/namespace"))
            && satisfied(&self.labels, object.pointer("/metadata/labels"))
            && satisfied(&self.annotations, object.pointer("/metadata/annotations"))
    }
}

fn satisfied(requirements: &[Requirement], map: Option<&Value>) -> bool {
    let get = |k: &str| map.and_then(|m| m.get(k)).and_then(Value::as_str);
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
        Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::Absent(k) => get(k).is_none(),
        Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
    })
}

/// Kubernetes' label selector syntax, split at top-level commas.
fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    let mut out = Vec::new();
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let set = |rest: &str| -> Result<Vec<String>, String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("{part:?}: expected a parenthesised set"))?;
            Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
        };
        let requirement = if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else if let Some((k, rest)) = part.split_once(" notin ") {
            Requirement::NotIn(k.trim().into(), set(rest)?)
        } else if let Some((k, rest)) = part.split_once(" in ") {
            Requirement::In(k.trim().into(), set(rest)?)
        } else if let Some(k) = part.strip_prefix('!') {
            Requirement::Absent(k.trim().into())
        } else if part
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./".contains(c))
        {
            Requirement::Exists(part.into())
        } else {
            return Err(format!("{part:?} is not a requirement"));
        };
        out.push(requirement);
    }
    Ok(out)
}

/// A copy of `object` without the fields at `paths` (missing ones are fine).
pub fn without(object: &Value, paths: &[String]) -> Value {
    let mut out = object.clone();
    for path in paths {
        remove(&mut out, path);
    }
    out
}

fn split(pointer: &str) -> Option<(String, String)> {
    let (parent, last) = pointer.rsplit_once('/')?;
    Some((
        parent.to_owned(),
        last.replace("~1", "/").replace("~0", "~"),
    ))
}

fn remove(object: &mut Value, pointer: &str) -> Option<Value> {
    let (parent, last) = split(pointer)?;
    match object.pointer_mut(&parent)? {
        Value::Object(map) => map.remove(&last),
        Value::Array(items) => {
            let i: usize = last.parse().ok()?;
            (i < items.len()).then(|| items.remove(i))
        }
        _ => None,
    }
}

fn set(object: &mut Value, pointer: &str, value: Value) {
    let Some((parent, last)) = split(pointer) else {
        return;
    };
    match object.pointer_mut(&parent) {
        Some(Value::Object(map)) => {
            map.insert(last, value);
        }
        Some(Value::Array(items)) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => {}
    }
}

/// Before an apply: for each ignored path where the live object and the server's dry-run differ,
/// leave the field out of `payload` when another applier owns it, else send the live value
/// (capstan owns it alone; leaving it out would drop it). `manager` is capstan's field manager.
pub fn resolve(
    payload: &mut Value,
    live: &Value,
    dry_run: &Value,
    paths: &[String],
    manager: &str,
) {
    for path in paths {
        let (l, d) = (live.pointer(path), dry_run.pointer(path));
        if l == d {
            continue;
        }
        match l {
            Some(value) if !fields::owned_by_other_applier(live, path, manager) => {
                set(payload, path, value.clone())
            }
            _ => {
                remove(payload, path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(paths: &[&str], target: Option<Value>) -> IgnoreRule {
        IgnoreRule {
            paths: paths.iter().map(|p| (*p).into()).collect(),
            target: target.map(|t| serde_json::from_value(t).expect("selector")),
        }
    }

    #[test]
    fn selectors_pick_objects_by_anchored_regex_and_labels() {
        let rules = IgnoreRules::compile(&[
            rule(
                &["/spec/replicas"],
                Some(json!({"kind":"Deployment","name":"web-.*"})),
            ),
            rule(
                &["/data/generated"],
                Some(json!({"labelSelector":"tier in (cache,db),!frozen"})),
            ),
            rule(&["/metadata/annotations/x"], None),
        ])
        .expect("compile");
        let deploy =
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web-1"}});
        assert_eq!(
            rules.paths_for(&deploy),
            ["/spec/replicas", "/metadata/annotations/x"]
        );
        let other =
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"xweb-1"}});
        assert_eq!(rules.paths_for(&other), ["/metadata/annotations/x"]);
        let cm = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"tier":"db"}}});
        assert_eq!(rules.paths_for(&cm).len(), 2);
        let frozen = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"tier":"db","frozen":"1"}}});
        assert_eq!(rules.paths_for(&frozen).len(), 1);
    }

    #[test]
    fn bad_rules_name_the_entry() {
        let e = IgnoreRules::compile(&[rule(&["/a"], None), rule(&["spec"], None)])
            .expect_err("not a pointer");
        assert_eq!(e.index, 1);
        let e =
            IgnoreRules::compile(&[rule(&["/a"], Some(json!({"name":"("})))]).expect_err("regex");
        assert!(e.message.contains("target.name"), "{e}");
    }

    #[test]
    fn drifted_ignored_fields_are_stripped_or_adopted_by_owner() {
        let live = json!({"spec":{"replicas":5,"paused":true,"minReadySeconds":3},"metadata":{"managedFields":[
            {"manager":"kustomize-controller","operation":"Apply","fieldsV1":{"f:spec":{"f:paused":{}}}},
            {"manager":"hpa","operation":"Apply","fieldsV1":{"f:spec":{"f:replicas":{}}}}]}});
        let dry = json!({"spec":{"replicas":2,"paused":false,"minReadySeconds":3}});
        let mut payload = json!({"spec":{"replicas":2,"paused":false,"minReadySeconds":3}});
        let paths = [
            "/spec/replicas".into(),
            "/spec/paused".into(),
            "/spec/minReadySeconds".into(),
        ];
        resolve(&mut payload, &live, &dry, &paths, "kustomize-controller");
        assert_eq!(payload, json!({"spec":{"paused":true,"minReadySeconds":3}}));
        assert_eq!(without(&live, &paths)["spec"], json!({}));
    }
}
