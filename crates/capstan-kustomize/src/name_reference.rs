//! Name back-references: once prefixes, suffixes, namespaces and hash suffixes have renamed
//! objects, every field that referred to an object by its old name (a Deployment's
//! `configMapRef`, a RoleBinding's `roleRef`, an HPA's `scaleTargetRef`, …, per kustomize's
//! nameReference field specs) is updated to the new name. Candidates are narrowed exactly as
//! kustomize narrows them: previous name, referenced kind, roleRef kind, namespace, then
//! matching prefixes and suffixes; an ambiguous choice is an error.

use std::collections::BTreeSet;

use capstan_core::Value;

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::fieldpath::{self, Create};
use crate::kustomization::FieldSpec;
use crate::resid::{Gvk, ResId};
use crate::resmap::ResMap;
use crate::resource::Resource;

/// Snapshot of a candidate referral, taken before any referrer is rewritten.
struct Candidate {
    name: String,
    namespace: String,
    id: ResId,
    prev_ids: Vec<ResId>,
    org_id: ResId,
    kind: String,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

impl Candidate {
    fn of(r: &Resource) -> Candidate {
        Candidate {
            name: r.name().to_owned(),
            namespace: r.namespace().to_owned(),
            id: r.id(),
            prev_ids: r.prev_ids(),
            org_id: r.org_id(),
            kind: r.kind().to_owned(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        }
    }
}

/// Updates every name reference in `resmap` per `config.name_reference`.
pub fn fix_back_references(resmap: &mut ResMap, config: &TransformerConfig) -> Result<()> {
    let candidates: Vec<Candidate> = resmap.iter().map(Candidate::of).collect();
    for index in 0..resmap.len() {
        let referrer = resmap.get(index).expect("index in range");
        let org = referrer.org_id();
        let mut filters: Vec<(&FieldSpec, Gvk)> = Vec::new();
        for back in &config.name_reference {
            for spec in &back.referrers {
                if org.gvk.is_selected(&spec.gvk()) {
                    filters.push((spec, back.gvk()));
                }
            }
        }
        if filters.is_empty() {
            continue;
        }
        let subset = subset_for(referrer, &candidates)?;
        let referrer_id = referrer.id();
        let referrer_gvk = referrer.gvk();
        let referrer_prefixes = referrer.prefixes.clone();
        let referrer_suffixes = referrer.suffixes.clone();
        let role_ref_gvk = role_ref_gvk(&referrer.object);
        let mut object = std::mem::take(&mut resmap.get_mut(index).expect("index in range").object);
        for (spec, target) in filters {
            let ctx = Context {
                target: &target,
                role_ref: if spec.path.ends_with("roleRef/name") {
                    role_ref_gvk.as_ref()
                } else {
                    None
                },
                referrer_id: &referrer_id,
                prefixes: &referrer_prefixes,
                suffixes: &referrer_suffixes,
                all: &candidates,
                subset: &subset,
            };
            let field = FieldSpec {
                group: referrer_gvk.group.clone(),
                version: referrer_gvk.version.clone(),
                kind: referrer_gvk.kind.clone(),
                path: spec.path.clone(),
                create_if_not_present: false,
            };
            fieldpath::apply(&field, &mut object, Create::Nothing, &mut |node| {
                ctx.set(node)
            })
            .map_err(|e| {
                e.context(format!(
                    "updating name reference in '{}' field of '{}'",
                    spec.path, referrer_id
                ))
            })?;
        }
        resmap.get_mut(index).expect("index in range").object = object;
    }
    Ok(())
}

/// The candidates a referrer may point at: everything for a cluster-scoped referrer,
/// otherwise cluster-scoped objects, objects in its namespace, and — for RoleBindings — objects
/// in the namespaces of its ServiceAccount subjects.
fn subset_for(referrer: &Resource, all: &[Candidate]) -> Result<Vec<usize>> {
    let id = referrer.id();
    if id.gvk.is_cluster_scoped() {
        return Ok((0..all.len()).collect());
    }
    let mut binding_namespaces = BTreeSet::new();
    if referrer.kind() == "RoleBinding"
        && let Some(Value::Array(subjects)) = referrer.object.get("subjects")
    {
        for subject in subjects {
            if let (Some(ns), Some(kind)) = (subject.get("namespace"), subject.get("kind"))
                && kind.as_str() == Some("ServiceAccount")
            {
                match ns.as_str() {
                    Some(ns) => {
                        binding_namespaces.insert(ns.to_owned());
                    }
                    None => {
                        return Err(Error::msg(format!(
                            "Invalid Input: namespace is blank for resource \"{id}\""
                        )));
                    }
                }
            }
        }
    }
    Ok(all
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.id.gvk.is_cluster_scoped()
                || c.id.effective_namespace() == id.effective_namespace()
                || binding_namespaces.contains(&c.namespace)
        })
        .map(|(i, _)| i)
        .collect())
}

fn role_ref_gvk(object: &Value) -> Option<Gvk> {
    let role_ref = object.get("roleRef")?;
    let group = role_ref.get("apiGroup")?.as_str()?;
    let kind = role_ref.get("kind")?.as_str()?;
    Some(Gvk::new(group, "", kind))
}

struct Context<'c> {
    target: &'c Gvk,
    role_ref: Option<&'c Gvk>,
    referrer_id: &'c ResId,
    prefixes: &'c [String],
    suffixes: &'c [String],
    all: &'c [Candidate],
    subset: &'c [usize],
}

impl Context<'_> {
    fn set(&self, node: &mut Value) -> Result<()> {
        match node {
            Value::Null => Ok(()),
            Value::String(_) => self.set_scalar(node),
            Value::Object(_) => self.set_mapping(node),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Null => {}
                        Value::String(_) => self.set_scalar(item)?,
                        Value::Object(_) => self.set_mapping(item)?,
                        other => {
                            return Err(Error::msg(format!(
                                "{other} is expected to be either a string or a map of string"
                            )));
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn set_scalar(&self, node: &mut Value) -> Result<()> {
        let old = node.as_str().unwrap_or("").to_owned();
        let candidates: Vec<&Candidate> = self.subset.iter().map(|i| &self.all[*i]).collect();
        if let Some(referral) = self.select(&old, candidates, false)?
            && referral.name != old
        {
            *node = Value::String(referral.name.clone());
        }
        Ok(())
    }

    fn set_mapping(&self, node: &mut Value) -> Result<()> {
        let Value::Object(map) = node else {
            return Err(Error::msg("expect a mapping node"));
        };
        let Some(name) = map.get("name") else {
            return Err(Error::msg("path config error; no 'name' field in node"));
        };
        let old = scalar_text(name);
        let candidates: Vec<&Candidate> = match map.get("namespace") {
            None => self.subset.iter().map(|i| &self.all[*i]).collect(),
            Some(ns) => {
                let ns = scalar_text(ns);
                let subset = self.subset.iter().map(|i| &self.all[*i]);
                let by_org: Vec<&Candidate> = subset
                    .clone()
                    .filter(|c| c.org_id.effective_namespace() == ns)
                    .collect();
                if !by_org.is_empty() {
                    by_org
                } else {
                    subset
                        .filter(|c| c.id.effective_namespace() == ns)
                        .collect()
                }
            }
        };
        let Some(referral) = self.select(&old, candidates, true)? else {
            return Ok(());
        };
        if referral.name == old && referral.namespace.is_empty() {
            return Ok(());
        }
        map.insert("name".into(), Value::String(referral.name.clone()));
        if !referral.namespace.is_empty() {
            map.insert(
                "namespace".into(),
                Value::String(referral.namespace.clone()),
            );
        }
        Ok(())
    }

    fn select<'c>(
        &self,
        old: &str,
        candidates: Vec<&'c Candidate>,
        with_namespace: bool,
    ) -> Result<Option<&'c Candidate>> {
        let mut list: Vec<&Candidate> = candidates
            .into_iter()
            .filter(|c| c.prev_ids.iter().any(|id| id.name == old))
            .filter(|c| c.prev_ids.iter().any(|id| id.gvk.is_selected(self.target)))
            .filter(|c| {
                self.role_ref
                    .is_none_or(|g| c.prev_ids.iter().any(|id| id.gvk.is_selected(g)))
            })
            .filter(|c| {
                self.referrer_id.gvk.is_cluster_scoped()
                    || c.id.gvk.is_cluster_scoped()
                    || c.kind == "ServiceAccount"
                    || c.id.effective_namespace() == self.referrer_id.effective_namespace()
            })
            .collect();
        if list.len() == 1 {
            return Ok(Some(list[0]));
        }
        list.retain(|c| affixes_equal(c, self.prefixes, self.suffixes, true));
        if list.len() > 1 {
            list.retain(|c| affixes_equal(c, self.prefixes, self.suffixes, false));
        }
        match list.len() {
            0 => Ok(None),
            1 => Ok(Some(list[0])),
            _ => {
                let first = list[0];
                let identical = list.iter().all(|c| {
                    c.name == first.name && (!with_namespace || c.namespace == first.namespace)
                });
                if identical {
                    return Ok(Some(first));
                }
                let ids: Vec<String> = list.iter().map(|c| c.id.to_string()).collect();
                Err(Error::msg(format!(
                    "found multiple possible referrals: {}",
                    ids.join(", ")
                )))
            }
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// kustomize's `SameEndingSubSlice`: the shorter list ends the longer one (an empty list only
/// matches an empty one).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long[long.len() - short.len()..] == *short
}

fn affixes_equal(
    c: &Candidate,
    prefixes: &[String],
    suffixes: &[String],
    allow_empty: bool,
) -> bool {
    if allow_empty {
        let prefix_ok =
            c.prefixes.is_empty() || prefixes.is_empty() || same_ending(&c.prefixes, prefixes);
        let suffix_ok =
            c.suffixes.is_empty() || suffixes.is_empty() || same_ending(&c.suffixes, suffixes);
        prefix_ok && suffix_ok
    } else {
        same_ending(&c.prefixes, prefixes) && same_ending(&c.suffixes, suffixes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_a_renamed_config_map() {
        let mut cm = Resource::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}),
        );
        cm.store_previous_id();
        cm.set_name("cm-hash");
        let dep = Resource::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"volumes": [{"name": "v", "configMap": {"name": "cm"}}],
            "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]}]}}}}),
        );
        let mut m = ResMap::new();
        m.append(cm).unwrap();
        m.append(dep).unwrap();
        fix_back_references(&mut m, &TransformerConfig::defaults()).unwrap();
        let d = &m.get(1).unwrap().object;
        assert_eq!(
            d["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"],
            json!("cm-hash")
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
            json!("cm-hash")
        );
    }
}
