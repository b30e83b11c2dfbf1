//! The pure part of applying one object: from the desired object, the live one (from the cache)
//! and the object's policy, decide what to do — skip it, create it, clean up other managers'
//! fields first, call it unchanged without asking the server, or ask the server (a dry-run
//! apply) because the cache cannot decide. And after a dry-run, whether the object drifted, by
//! Flux's rule: labels or annotations differ, or anything outside metadata and status does.

use serde_json::Value;

use crate::cluster::FIELD_MANAGER;
use crate::fields;
use crate::ignore;
use crate::policy::{Policy, Ssa};

/// Why an object is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SkipReason {
    /// `ssa: Ignore` or `reconcile: disabled`.
    Ignored,
    /// `ssa: IfNotPresent` and it exists.
    Exists,
}

/// What to do with one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Skip(SkipReason),
    /// It does not exist: apply it.
    Create,
    /// Run this JSON patch (managed-fields cleanup), then decide again on the result.
    Cleanup(Value),
    /// Every declared field is live with the same value, and capstan owns nothing it no longer
    /// declares: nothing to send.
    Unchanged,
    /// The cache cannot tell (defaulting, quantities, another manager's change, a field capstan
    /// stopped declaring): ask the server with a dry-run apply.
    DryRun,
}

/// What the Kustomization and the run add to an object's own policy: the managers whose fields
/// capstan takes over (`--override-manager`) and the `spec.ignore` paths that apply to it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules<'a> {
    pub override_managers: &'a [String],
    pub ignore: &'a [String],
}

/// Decides from the cache alone.
pub fn decide(desired: &Value, live: Option<&Value>, policy: &Policy, rules: &Rules) -> Decision {
    if policy.ignored() {
        return Decision::Skip(SkipReason::Ignored);
    }
    let Some(live) = live else {
        return Decision::Create;
    };
    if policy.ssa == Ssa::IfNotPresent {
        return Decision::Skip(SkipReason::Exists);
    }
    if policy.ssa != Ssa::Merge
        && let Some(patch) = fields::cleanup_patch(live, FIELD_MANAGER, rules.override_managers)
    {
        return Decision::Cleanup(patch);
    }
    let owned_still_declared = fields::applied_fields(live, FIELD_MANAGER)
        .is_none_or(|owned| fields::covered(owned, desired));
    let compared = ignore::without(&without_status(desired), rules.ignore);
    if owned_still_declared && fields::subset(&compared, live) {
        Decision::Unchanged
    } else {
        Decision::DryRun
    }
}

fn without_status(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    object
}

/// Flux's drift rule between a dry-run result and the live object, the `ignore` paths left out
/// of both.
pub fn drifted(dry_run: &Value, live: &Value, ignore: &[String]) -> bool {
    if !ignore.is_empty() {
        return drifted(
            &ignore::without(dry_run, ignore),
            &ignore::without(live, ignore),
            &[],
        );
    }
    if dry_run
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        return true;
    }
    for field in ["/metadata/labels", "/metadata/annotations"] {
        let empty = Value::Object(Default::default());
        if dry_run.pointer(field).unwrap_or(&empty) != live.pointer(field).unwrap_or(&empty) {
            return true;
        }
    }
    let body = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("metadata");
            map.remove("status");
        }
        v
    };
    body(dry_run) != body(live)
}

/// One field where two objects differ: a readable path (`spec.containers[0].image`), the JSON
/// pointer to it, and the two values.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub path: String,
    pub pointer: String,
    pub desired: Value,
    pub live: Option<Value>,
}

/// The fields where `desired` and `live` differ (desired's fields only; server defaults in
/// `live` are not differences).
pub fn differences(desired: &Value, live: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(desired, Some(live), String::new(), String::new(), &mut out);
    out
}

fn walk(d: &Value, l: Option<&Value>, path: String, pointer: String, out: &mut Vec<Difference>) {
    match (d, l) {
        (Value::Null, _) => {}
        (Value::Object(dm), Some(Value::Object(lm))) => {
            for (k, dv) in dm {
                if path.is_empty() && (k == "status" || k == "apiVersion" || k == "kind") {
                    continue;
                }
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let escaped = k.replace('~', "~0").replace('/', "~1");
                walk(dv, lm.get(k), sub, format!("{pointer}/{escaped}"), out);
            }
        }
        (Value::Array(da), Some(Value::Array(la))) if da.len() == la.len() => {
            for (i, (dv, lv)) in da.iter().zip(la).enumerate() {
                walk(
                    dv,
                    Some(lv),
                    format!("{path}[{i}]"),
                    format!("{pointer}/{i}"),
                    out,
                );
            }
        }
        (d, Some(l)) if fields::subset(d, l) => {}
        (d, l) => out.push(Difference {
            path,
            pointer,
            desired: d.clone(),
            live: l.cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(spec: Value, owned: Value) -> Value {
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"5",
            "managedFields":[{"manager":FIELD_MANAGER,"operation":"Apply","fieldsV1":owned}]},"data":spec})
    }

    #[test]
    fn cache_decides_unchanged_and_sends_the_rest_to_the_server() {
        let desired =
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}});
        let p = Policy::default();
        assert_eq!(
            decide(&desired, None, &p, &Rules::default()),
            Decision::Create
        );
        let same = live(json!({"k":"v"}), json!({"f:data":{"f:k":{}}}));
        assert_eq!(
            decide(&desired, Some(&same), &p, &Rules::default()),
            Decision::Unchanged
        );
        let edited = live(json!({"k":"other"}), json!({"f:data":{"f:k":{}}}));
        assert_eq!(
            decide(&desired, Some(&edited), &p, &Rules::default()),
            Decision::DryRun
        );
        let dropped = live(
            json!({"k":"v","old":"x"}),
            json!({"f:data":{"f:k":{},"f:old":{}}}),
        );
        assert_eq!(
            decide(&desired, Some(&dropped), &p, &Rules::default()),
            Decision::DryRun
        );
        let ignore = Policy {
            ssa: Ssa::Ignore,
            ..Policy::default()
        };
        assert_eq!(
            decide(&desired, Some(&same), &ignore, &Rules::default()),
            Decision::Skip(SkipReason::Ignored)
        );
        let once = Policy {
            ssa: Ssa::IfNotPresent,
            ..Policy::default()
        };
        assert_eq!(
            decide(&desired, Some(&edited), &once, &Rules::default()),
            Decision::Skip(SkipReason::Exists)
        );
        assert_eq!(
            decide(&desired, None, &once, &Rules::default()),
            Decision::Create
        );
    }

    #[test]
    fn kubectl_fields_are_cleaned_unless_merge() {
        let desired =
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}});
        let mut l = live(json!({"k":"v","extra":"1"}), json!({"f:data":{"f:k":{}}}));
        l["metadata"]["managedFields"].as_array_mut().expect("list").push(json!({"manager":"kubectl","operation":"Update","fieldsV1":{"f:data":{"f:extra":{}}}}));
        assert!(matches!(
            decide(&desired, Some(&l), &Policy::default(), &Rules::default()),
            Decision::Cleanup(_)
        ));
        let merge = Policy {
            ssa: Ssa::Merge,
            ..Policy::default()
        };
        assert_eq!(
            decide(&desired, Some(&l), &merge, &Rules::default()),
            Decision::Unchanged
        );
    }

    #[test]
    fn drift_rule() {
        let l = json!({"metadata":{"resourceVersion":"1","labels":{"a":"1"},"managedFields":[]},"spec":{"x":1},"status":{"s":1}});
        let mut d = l.clone();
        d["metadata"]["managedFields"] = json!([{"manager":"x"}]);
        d["status"] = json!({"s":2});
        assert!(!drifted(&d, &l, &[]));
        d["spec"]["x"] = json!(2);
        assert!(drifted(&d, &l, &[]));
        assert!(!drifted(&d, &l, &["/spec/x".into()]));
        let created = json!({"metadata":{"resourceVersion":""}});
        assert!(drifted(&created, &l, &[]));
    }

    #[test]
    fn differences_name_paths() {
        let d = json!({"kind":"Deployment","spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"c","image":"a:1"}]}}}});
        let l = json!({"kind":"Deployment","spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"c","image":"a:2","x":1}]}}}});
        let diffs = differences(&d, &l);
        let paths: Vec<_> = diffs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            ["spec.replicas", "spec.template.spec.containers[0].image"]
        );
        assert_eq!(diffs[1].pointer, "/spec/template/spec/containers/0/image");
        assert_eq!(diffs[0].live, Some(json!(3)));
    }

    #[test]
    fn ignored_paths_and_override_managers() {
        let desired = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v","n":"1"}});
        let mut scaled = live(
            json!({"k":"v","n":"7"}),
            json!({"f:data":{"f:k":{},"f:n":{}}}),
        );
        let p = Policy::default();
        assert_eq!(
            decide(&desired, Some(&scaled), &p, &Rules::default()),
            Decision::DryRun
        );
        let ignore = ["/data/n".to_owned()];
        let rules = Rules {
            ignore: &ignore,
            ..Rules::default()
        };
        assert_eq!(
            decide(&desired, Some(&scaled), &p, &rules),
            Decision::Unchanged
        );
        scaled["metadata"]["managedFields"]
            .as_array_mut()
            .expect("list")
            .push(json!({"manager":"human","operation":"Update","fieldsV1":{"f:data":{"f:x":{}}}}));
        assert_eq!(
            decide(&desired, Some(&scaled), &p, &rules),
            Decision::Unchanged
        );
        let overrides = ["human".to_owned()];
        let rules = Rules {
            ignore: &ignore,
            override_managers: &overrides,
        };
        assert!(matches!(
            decide(&desired, Some(&scaled), &p, &rules),
            Decision::Cleanup(_)
        ));
    }
}
