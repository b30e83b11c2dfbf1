//! `rbac-widened`: a Role or ClusterRole gains a rule with a `*` verb, resource or API group, or
//! the `escalate`, `bind` or `impersonate` verbs (or reads of Secrets cluster-wide); a new or
//! changed binding grants `cluster-admin`, `admin`, `edit` or a role that now holds such rules.

use std::collections::BTreeSet;

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct RbacWidened;

static META: AnalysisMeta = AnalysisMeta {
    id: "rbac-widened",
    category: Category::WidensPrivileges,
    risk: Risk::High,
    summary: "RBAC widens: wildcard or escalating rules, new bindings to broad roles.",
};

const RBAC: &str = "rbac.authorization.k8s.io";
const BROAD_ROLES: &[&str] = &["cluster-admin", "admin", "edit"];

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The dangerous grants of a role: (rules[i] field, what).
fn dangers(role: &Value, cluster: bool) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (i, rule) in role
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let verbs = strings(rule.get("verbs"));
        let resources = strings(rule.get("resources"));
        let groups = strings(rule.get("apiGroups"));
        let at = |f: &str| format!("rules[{i}].{f}");
        if verbs.contains(&"*") {
            out.insert((
                at("verbs"),
                format!("every verb on {}", resources.join(",")),
            ));
        }
        if resources.contains(&"*") {
            out.insert((
                at("resources"),
                format!("{} on every resource", verbs.join(",")),
            ));
        }
        if groups.contains(&"*") {
            out.insert((at("apiGroups"), "every API group".into()));
        }
        for verb in ["escalate", "bind", "impersonate"] {
            if verbs.contains(&verb) {
                out.insert((at("verbs"), format!("the {verb} verb")));
            }
        }
        if cluster
            && resources.contains(&"secrets")
            && verbs.iter().any(|v| matches!(*v, "get" | "list" | "watch"))
        {
            out.insert((at("resources"), "reads Secrets in every namespace".into()));
        }
    }
    out
}

impl Analysis for RbacWidened {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if object.id.group != RBAC
                || !matches!(object.change, ObjectChange::Added | ObjectChange::Changed)
            {
                continue;
            }
            let Some(after) = &object.after else { continue };
            match object.id.kind.as_str() {
                "Role" | "ClusterRole" => {
                    let cluster = object.id.kind == "ClusterRole";
                    let before = object
                        .before
                        .as_ref()
                        .map(|b| dangers(b, cluster))
                        .unwrap_or_default();
                    let had: BTreeSet<&String> = before.iter().map(|(_, w)| w).collect();
                    for (field, what) in dangers(after, cluster) {
                        if had.contains(&what) {
                            continue;
                        }
                        out.push(Hit::on(group, object, field).reason(format!(
                            "{} {} now grants {what}",
                            object.id.kind, object.id.name
                        )));
                    }
                }
                "RoleBinding" | "ClusterRoleBinding" => {
                    let role = after
                        .pointer("/roleRef/name")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let subjects = |v: &Value| -> BTreeSet<String> {
                        v.get("subjects")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .map(|s| {
                                format!(
                                    "{} {}",
                                    s.get("kind").and_then(Value::as_str).unwrap_or(""),
                                    s.get("name").and_then(Value::as_str).unwrap_or("")
                                )
                            })
                            .collect()
                    };
                    let before_role = object
                        .before
                        .as_ref()
                        .and_then(|b| b.pointer("/roleRef/name"))
                        .and_then(Value::as_str);
                    let old = object.before.as_ref().map(subjects).unwrap_or_default();
                    let new: Vec<String> = subjects(after).difference(&old).cloned().collect();
                    let broad = BROAD_ROLES.contains(&role);
                    let role_changed = before_role.is_some_and(|b| b != role);
                    if broad && (!new.is_empty() || role_changed) {
                        let scope = if object.id.kind == "ClusterRoleBinding" {
                            "in every namespace"
                        } else {
                            "in its namespace"
                        };
                        let who = if new.is_empty() {
                            "its subjects".to_owned()
                        } else {
                            new.join(", ")
                        };
                        let risk = if role == "cluster-admin" {
                            Risk::Critical
                        } else {
                            Risk::High
                        };
                        out.push(
                            Hit::on(
                                group,
                                object,
                                if new.is_empty() {
                                    "roleRef.name"
                                } else {
                                    "subjects"
                                },
                            )
                            .reason(format!("grants {role} to {who} {scope}"))
                            .risk(risk),
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::RbacWidened, "rbac-widened");
