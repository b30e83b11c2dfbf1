//! Noise stripping: labels and annotations that change on every chart bump (`helm.sh/chart`,
//! `checksum/*`, `app.kubernetes.io/version`) and SOPS's bookkeeping block, removed from both
//! sides before they are compared so a reviewer sees what the bump really changes.
//!
//! Patterns are label/annotation keys with `*` wildcards. `--strip-attr` adds patterns;
//! `--keep-attr` keeps keys a strip pattern would remove (naming a default pattern exactly turns it
//! off). Keys are stripped wherever a `labels` or `annotations` map appears (object metadata, pod
//! templates, volume claim templates).

use capstan_core::Value;
use serde::Serialize;

/// The patterns stripped unless kept.
pub const DEFAULT_STRIP: &[&str] = &["helm.sh/chart", "checksum/*", "app.kubernetes.io/version"];

/// Which label and annotation keys are left out of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttrFilter {
    pub strip: Vec<String>,
    pub keep: Vec<String>,
}

impl Default for AttrFilter {
    fn default() -> Self {
        AttrFilter {
            strip: DEFAULT_STRIP.iter().map(|s| s.to_string()).collect(),
            keep: Vec::new(),
        }
    }
}

impl AttrFilter {
    /// The defaults plus `strip`, minus `keep`.
    pub fn new(strip: &[String], keep: &[String]) -> AttrFilter {
        let mut filter = AttrFilter::default();
        filter.strip.extend(strip.iter().cloned());
        filter.strip.retain(|p| !keep.contains(p));
        filter.keep = keep.to_vec();
        filter
    }

    /// True when a label or annotation key is left out.
    pub fn strips(&self, key: &str) -> bool {
        self.strip.iter().any(|p| glob_match(p, key))
            && !self.keep.iter().any(|p| glob_match(p, key))
    }

    /// Removes stripped keys from every `labels`/`annotations` map in `object`, and the top-level
    /// `sops` block.
    pub fn apply(&self, object: &mut Value) {
        if let Value::Object(map) = object {
            map.remove("sops");
        }
        self.walk(object);
    }

    fn walk(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if (key == "labels" || key == "annotations")
                        && let Value::Object(attrs) = child
                    {
                        attrs.retain(|k, _| !self.strips(k));
                        continue;
                    }
                    self.walk(child);
                }
                // a metadata map left empty by stripping says nothing
                for key in ["labels", "annotations"] {
                    if map
                        .get(key)
                        .is_some_and(|v| v.as_object().is_some_and(|m| m.is_empty()))
                    {
                        map.remove(key);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.walk(item)),
            _ => {}
        }
    }
}

/// Attribute patterns use the same shell-style globs as the rest of `.capstan.yaml`.
pub use capstan_core::wildcard::glob_match;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob_match("checksum/*", "checksum/config"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c*e", "abcde"));
        assert!(!glob_match("checksum/*", "xchecksum/config"));
        assert!(!glob_match("helm.sh/chart", "helm.sh/chart2"));
    }

    #[test]
    fn strips_chart_noise_everywhere() {
        let mut obj = json!({
            "metadata": {"labels": {"helm.sh/chart": "x-1.0", "app": "x", "app.kubernetes.io/version": "1"},
                         "annotations": {"checksum/config": "abc"}},
            "spec": {"template": {"metadata": {"annotations": {"checksum/secret": "d"}, "labels": {"app": "x"}}}},
            "sops": {"mac": "m"}
        });
        AttrFilter::default().apply(&mut obj);
        assert_eq!(
            obj,
            json!({"metadata": {"labels": {"app": "x"}}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}}}})
        );
    }

    #[test]
    fn strip_and_keep_flags() {
        let filter = AttrFilter::new(
            &["example.com/*".into()],
            &["helm.sh/chart".into(), "checksum/keep".into()],
        );
        assert!(!filter.strips("helm.sh/chart"));
        assert!(filter.strips("checksum/config"));
        assert!(!filter.strips("checksum/keep"));
        assert!(filter.strips("example.com/build"));
        assert!(!filter.strips("app"));
    }
}
