//! `-l/--selector`: label selectors on Flux objects, as kubectl and flux-local take them.
//!
//! A selector is a comma-separated list of requirements, all of which must hold: `key=value`
//! (also `key==value`), `key!=value` (true when the label is absent), `key` (present) and `!key`
//! (absent). Repeating `-l` adds requirements. Set-based forms (`key in (a,b)`) are refused with
//! a message rather than misread.

use std::collections::BTreeMap;
use std::path::Path;

use capstan_core::Value;
use capstan_flux::ObjectKey;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

/// All requirements of the `-l` flags given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl LabelSelector {
    /// Parses every `-l` value; an error names the requirement that does not parse.
    pub fn parse_all(values: &[String]) -> anyhow::Result<LabelSelector> {
        let mut requirements = Vec::new();
        for value in values {
            for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                requirements.push(parse_requirement(part)?);
            }
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// True when `labels` (a `metadata.labels` map; `None` for none) meets every requirement.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::Absent(k) => get(k).is_none(),
        })
    }
}

fn parse_requirement(part: &str) -> anyhow::Result<Requirement> {
    let bad = || {
        anyhow::anyhow!(
            "-l {part:?}: not a label requirement; use key=value, key!=value, key or !key \
             (comma-separated)"
        )
    };
    if part.contains(" in ") || part.contains(" notin ") || part.contains('(') {
        anyhow::bail!(
            "-l {part:?}: set-based selectors (in, notin) are not supported; \
             use key=value, key!=value, key or !key"
        );
    }
    let requirement = if let Some((k, v)) = part.split_once("!=") {
        Requirement::NotEquals(k.trim().to_owned(), v.trim().to_owned())
    } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        Requirement::Equals(k.trim().to_owned(), v.trim().to_owned())
    } else if let Some(k) = part.strip_prefix('!') {
        Requirement::Absent(k.trim().to_owned())
    } else {
        Requirement::Exists(part.to_owned())
    };
    let (key, value) = match &requirement {
        Requirement::Equals(k, v) | Requirement::NotEquals(k, v) => (k, v.as_str()),
        Requirement::Exists(k) | Requirement::Absent(k) => (k, ""),
    };
    if !valid_key(key) || !valid_value(value) {
        return Err(bad());
    }
    Ok(requirement)
}

/// The labels of every Kustomization and HelmRelease the repository at `path` declares.
pub fn flux_labels(
    path: &Path,
    options: &capstan_flux::discovery::Options,
) -> anyhow::Result<BTreeMap<ObjectKey, Value>> {
    let discovery = super::get::discover_repository(path, options)?;
    Ok(labels_of(&discovery))
}

/// Keeps the diff groups whose producer's labels match on the base or the head side. Returns
/// how many Kustomizations and HelmReleases of either side the selector matches (0: a selector
/// that selects nothing, which callers say rather than report "no differences").
pub fn retain_groups(
    report: &mut capstan_change::diff::DiffReport,
    selector: &LabelSelector,
    base: &capstan_change::compare::Opened,
    head: &capstan_change::compare::Opened,
    options: &capstan_flux::discovery::Options,
) -> usize {
    use capstan_change::diff::ProducerKind;
    let renderer = capstan_flux::discovery::default_renderer();
    let side = |opened: &capstan_change::compare::Opened| {
        capstan_flux::discovery::discover(
            opened.fs.as_ref(),
            &opened.root,
            renderer.as_ref(),
            options,
        )
        .map(|d| labels_of(&d))
        .unwrap_or_default()
    };
    let (base, head) = (side(base), side(head));
    report.groups.retain(|group| {
        let kind = match group.producer.kind {
            ProducerKind::Kustomization => capstan_flux::FluxKind::Kustomization,
            ProducerKind::HelmRelease => capstan_flux::FluxKind::HelmRelease,
        };
        let key = ObjectKey::new(
            kind,
            group.producer.namespace.clone(),
            group.producer.name.clone(),
        );
        selector.matches(head.get(&key)) && head.contains_key(&key)
            || selector.matches(base.get(&key)) && base.contains_key(&key)
            || selector.matches(None) && !head.contains_key(&key) && !base.contains_key(&key)
    });
    let matched: std::collections::BTreeSet<&ObjectKey> = head
        .iter()
        .chain(&base)
        .filter(|(_, labels)| selector.matches(Some(labels)))
        .map(|(key, _)| key)
        .collect();
    matched.len()
}

fn labels_of(discovery: &capstan_flux::discovery::Discovery) -> BTreeMap<ObjectKey, Value> {
    let mut labels = BTreeMap::new();
    for cluster in &discovery.clusters {
        let found = cluster
            .kustomizations
            .iter()
            .map(|k| (&k.found.key, &k.found.raw))
            .chain(
                cluster
                    .helm_releases
                    .iter()
                    .map(|r| (&r.found.key, &r.found.raw)),
            );
        for (key, raw) in found {
            let l = raw
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()));
            labels.insert(key.clone(), l);
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn selector(values: &[&str]) -> LabelSelector {
        let values: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
        LabelSelector::parse_all(&values).expect("parses")
    }

    #[test]
    fn equality_inequality_existence() {
        let labels = json!({"tier": "apps", "team": "web"});
        assert!(selector(&["tier=apps"]).matches(Some(&labels)));
        assert!(selector(&["tier==apps,team"]).matches(Some(&labels)));
        assert!(!selector(&["tier=infra"]).matches(Some(&labels)));
        assert!(selector(&["tier!=infra", "!owner"]).matches(Some(&labels)));
        assert!(!selector(&["!team"]).matches(Some(&labels)));
        assert!(selector(&["tier!=apps"]).matches(None));
        assert!(!selector(&["tier"]).matches(None));
        assert!(selector(&[]).matches(None));
    }

    #[test]
    fn malformed_and_set_based_selectors_are_refused() {
        for bad in ["tier in (a,b)", "=apps", "ti er=x", "a=b c"] {
            let values = vec![bad.to_owned()];
            assert!(LabelSelector::parse_all(&values).is_err(), "{bad}");
        }
    }
}
