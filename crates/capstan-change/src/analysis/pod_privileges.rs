//! `pod-privileges`: a workload's pods gain power they did not have — a privileged container,
//! the host's network/PID/IPC namespace, a hostPath volume, an added Linux capability,
//! `runAsUser: 0`, privilege escalation allowed, or the service account token mounted again
//! (on the pod or its ServiceAccount). New workloads are judged against nothing. Kinds capstan has
//! no schema for are searched for the same field names anywhere in the object, and say so.

use std::collections::BTreeSet;

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit, containers, has_schema, pod_spec};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct PodPrivileges;

static META: AnalysisMeta = AnalysisMeta {
    id: "pod-privileges",
    category: Category::WidensPrivileges,
    risk: Risk::High,
    summary: "Pods gain privileges: privileged, host namespaces or paths, capabilities, root, the API token.",
};

fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool) == Some(true)
}

fn is_root(v: Option<&Value>) -> bool {
    v.and_then(Value::as_i64) == Some(0)
}

/// Every privilege an object's pods hold: (field, what).
fn grants(object: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    if super::kind_of(object) == "ServiceAccount" && super::group_of(object).is_empty() {
        if object
            .get("automountServiceAccountToken")
            .and_then(Value::as_bool)
            != Some(false)
        {
            out.insert((
                "automountServiceAccountToken".into(),
                "pods using it get its API token mounted".into(),
            ));
        }
        return out;
    }
    if let Some((spec, base)) = pod_spec(object) {
        for key in ["hostNetwork", "hostPID", "hostIPC"] {
            if is_true(spec.get(key)) {
                out.insert((
                    format!("{base}.{key}"),
                    format!("{key}: true (the node's namespace)"),
                ));
            }
        }
        if is_root(spec.pointer("/securityContext/runAsUser")) {
            out.insert((
                format!("{base}.securityContext.runAsUser"),
                "runAsUser: 0 (root)".into(),
            ));
        }
        if is_true(spec.get("automountServiceAccountToken")) {
            out.insert((
                format!("{base}.automountServiceAccountToken"),
                "the service account token is mounted".into(),
            ));
        }
        for volume in spec
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(path) = volume.pointer("/hostPath/path").and_then(Value::as_str) {
                let name = volume.get("name").and_then(Value::as_str).unwrap_or("");
                out.insert((
                    format!("{base}.volumes[name={name}].hostPath.path"),
                    format!("hostPath {path} (the node's filesystem)"),
                ));
            }
        }
        for (_, container, path) in containers(spec, base) {
            let sc = container.get("securityContext");
            let at = |k: &str| sc.and_then(|s| s.get(k));
            if is_true(at("privileged")) {
                out.insert((
                    format!("{path}.securityContext.privileged"),
                    "privileged: true".into(),
                ));
            }
            if is_true(at("allowPrivilegeEscalation")) {
                out.insert((
                    format!("{path}.securityContext.allowPrivilegeEscalation"),
                    "allowPrivilegeEscalation: true".into(),
                ));
            }
            if is_root(at("runAsUser")) {
                out.insert((
                    format!("{path}.securityContext.runAsUser"),
                    "runAsUser: 0 (root)".into(),
                ));
            }
            for cap in sc
                .and_then(|s| s.pointer("/capabilities/add"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                out.insert((
                    format!("{path}.securityContext.capabilities.add"),
                    format!("capability {cap} added"),
                ));
            }
        }
        return out;
    }
    if !has_schema(super::group_of(object)) {
        search(object, "", &mut out);
    }
    out
}

/// The same field names anywhere in an object of a kind without a schema.
fn search(value: &Value, path: &str, out: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let flagged = match key.as_str() {
                    "privileged"
                    | "hostNetwork"
                    | "hostPID"
                    | "hostIPC"
                    | "allowPrivilegeEscalation" => {
                        is_true(Some(v)).then(|| format!("{key}: true"))
                    }
                    "runAsUser" => is_root(Some(v)).then(|| "runAsUser: 0 (root)".to_owned()),
                    _ => None,
                };
                if let Some(what) = flagged {
                    out.insert((child.clone(), what));
                }
                search(v, &child, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                search(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

impl Analysis for PodPrivileges {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if !matches!(object.change, ObjectChange::Added | ObjectChange::Changed) {
                continue;
            }
            let Some(after) = &object.after else { continue };
            let before = object.before.as_ref().map(grants).unwrap_or_default();
            let verb = if object.change == ObjectChange::Added {
                "new object"
            } else {
                "gained"
            };
            for (field, what) in grants(after).difference(&before) {
                // a new ServiceAccount with the default automount is not a widening worth a finding
                if object.change == ObjectChange::Added && field == "automountServiceAccountToken" {
                    continue;
                }
                out.push(
                    Hit::on(group, object, field.clone())
                        .reason(format!("{verb}: {what}"))
                        .unschematized(&object.id),
                );
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::PodPrivileges, "pod-privileges");
