//! The `replicas` transformer: sets the replica count of objects chosen by name.
//!
//! For each entry, kustomize v5.6 tries every `replicas` field spec (Deployment, ReplicaSet,
//! ReplicationController and StatefulSet `spec/replicas` by default, plus any `configurations`
//! adds); an object is chosen when any of its ids — current or earlier, so a name before a
//! prefix was added also works — has the entry's name and a kind the spec selects. The count is
//! written as an integer, creating the field when the spec says `create`. An entry that chooses
//! nothing is an error.

use capstan_core::Value;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::fieldpath::{self, Create};
use crate::kustomization::FieldSpec;
use crate::resmap::ResMap;

/// One `replicas` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replica {
    #[serde(default)]
    pub name: String,
    /// A missing count is 0, as in kustomize.
    #[serde(default)]
    pub count: i64,
}

/// Decodes the raw `replicas` entries of a kustomization.
pub fn parse(entries: &[Value]) -> Result<Vec<Replica>> {
    entries
        .iter()
        .map(|e| {
            Replica::deserialize(e)
                .map_err(|err| Error::msg(format!("invalid replicas entry {e}: {err}")))
        })
        .collect()
}

/// Applies every `replicas` entry, with `specs` as the replica field specs.
pub fn apply(resmap: &mut ResMap, entries: &[Value], specs: &[FieldSpec]) -> Result<()> {
    for replica in parse(entries)? {
        let mut found = false;
        for spec in specs {
            let selector = spec.gvk();
            let chosen =
                resmap.matching_any(|id| id.name == replica.name && id.gvk.is_selected(&selector));
            found |= !chosen.is_empty();
            for index in chosen {
                let Some(resource) = resmap.get_mut(index) else {
                    continue;
                };
                fieldpath::apply(spec, &mut resource.object, Create::Scalar, &mut |node| {
                    *node = Value::from(replica.count);
                    Ok(())
                })?;
            }
        }
        if !found {
            // kustomize keeps its field specs sorted in its legacy kind order
            let mut gvks: Vec<_> = specs.iter().map(FieldSpec::gvk).collect();
            gvks.sort_by(|a, b| a.legacy_cmp(b));
            let gvks: Vec<String> = gvks.iter().map(ToString::to_string).collect();
            return Err(Error::msg(format!(
                "resource with name {} does not match a config with the following GVK [{}]",
                replica.name,
                gvks.join(" ")
            )));
        }
    }
    Ok(())
}

/// Runs a `ReplicaCountTransformer` configured in `transformers:`.
pub fn run_plugin(resmap: &mut ResMap, object: &Value, specs: &[FieldSpec]) -> Result<()> {
    let replica = object
        .get("replica")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    apply(resmap, &[replica], specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_decode() {
        assert_eq!(
            parse(&[serde_json::json!({"name": "a"})]).expect("parses")[0].count,
            0
        );
        assert!(parse(&[serde_json::json!({"name": "a", "cnt": 1})]).is_err());
        let r = parse(&[serde_json::json!({"name": "a", "count": 3})]).expect("parses");
        assert_eq!(
            r[0],
            Replica {
                name: "a".into(),
                count: 3
            }
        );
    }
}
