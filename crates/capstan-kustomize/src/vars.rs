//! `vars`: `$(NAME)` references replaced by a field of another object, after everything else.
//!
//! Each kustomization's vars are merged into the build's set (a name declared twice is an
//! error); when merged, the one object the var's `objref` names (by kind/name and, when given or
//! cluster-scoped, namespace; through any earlier id) is marked as the var's source. At the end
//! of the build every var is read from its source at `fieldref.fieldPath` (default
//! `metadata.name`) and substituted into the string fields the `varReference` field specs reach
//! (container commands, args, env values, … plus `configurations`). A reference that is the
//! whole string keeps the value's type; `$$` escapes; an unknown `$(NAME)` is left as it is.

use std::collections::BTreeMap;

use capstan_core::Value;
use serde::Deserialize;

use crate::dotted_path;
use crate::error::{Error, Result};
use crate::fieldpath::{self, Create};
use crate::kustomization::FieldSpec;
use crate::resid::{Gvk, ResId};
use crate::resmap::ResMap;

/// One `vars` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Var {
    pub name: String,
    #[serde(default)]
    pub objref: ObjRef,
    #[serde(default)]
    pub fieldref: FieldRef,
}

/// The object a var reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjRef {
    #[serde(default, alias = "apiversion")]
    pub api_version: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

/// The field a var reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldRef {
    #[serde(default, alias = "fieldpath")]
    pub field_path: String,
}

impl ObjRef {
    fn gvk(&self) -> Gvk {
        if self.api_version.is_empty() {
            return Gvk::new(&self.group, &self.version, &self.kind);
        }
        match self.api_version.split_once('/') {
            Some((g, v)) if !v.contains('/') => Gvk::new(g, v, &self.kind),
            None => Gvk::new(&self.group, &self.api_version, &self.kind),
            Some(_) => Gvk::new(&self.group, &self.version, &self.kind),
        }
    }
}

impl Var {
    fn field_path(&self) -> &str {
        if self.fieldref.field_path.is_empty() {
            "metadata.name"
        } else {
            &self.fieldref.field_path
        }
    }

    /// kustomize's `%v` of a var: `{NAME GVK {fieldPath}}`, after defaulting.
    fn describe(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            self.objref.gvk(),
            self.field_path()
        )
    }
}

/// kustomize's `%v` of a list of vars as written (before defaulting), for error context.
pub fn describe_list(vars: &[Value]) -> String {
    let items: Vec<String> = vars
        .iter()
        .map(|v| match Var::deserialize(v) {
            Ok(var) => format!(
                "{{{} {} {{{}}}}}",
                var.name,
                Gvk::new(&var.objref.group, &var.objref.version, &var.objref.kind),
                var.fieldref.field_path
            ),
            Err(_) => v.to_string(),
        })
        .collect();
    format!("[{}]", items.join(" "))
}

fn parse(v: &Value) -> Result<Var> {
    Var::deserialize(v).map_err(|e| Error::msg(format!("invalid vars entry {v}: {e}")))
}

fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

/// Adds `incoming` vars to `set`; a name already present is an error.
pub fn merge_var_sets(set: &mut Vec<Value>, incoming: Vec<Value>) -> Result<()> {
    for v in incoming {
        let var = parse(&v)?;
        if set.iter().any(|s| name_of(s) == Some(var.name.as_str())) {
            return Err(Error::msg(format!(
                "var '{}' already encountered",
                var.name
            )));
        }
        set.push(v);
    }
    Ok(())
}

/// kustomize's `MergeVars`: marks each var's source object, then adds the vars to `set`.
pub fn merge_vars(resmap: &mut ResMap, set: &mut Vec<Value>, incoming: &[Value]) -> Result<()> {
    for v in incoming {
        let var = parse(v)?;
        let target = ResId::new(var.objref.gvk(), &var.objref.name, &var.objref.namespace);
        let exact = !target.namespace.is_empty() || target.gvk.is_cluster_scoped();
        let matched = resmap.matching_any(|id| {
            if exact {
                id.equals(&target)
            } else {
                id.gvkn_equals(&target)
            }
        });
        if matched.len() > 1 {
            return Err(Error::msg(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                matched.len(),
                var.describe()
            )));
        }
        if let Some(resource) = matched.first().and_then(|&i| resmap.get_mut(i)) {
            resource.ref_var_names.push(var.name.clone());
        }
    }
    merge_var_sets(set, incoming.to_vec())
}

/// Resolves every var of `set` and substitutes `$(NAME)` in the fields `specs` reach.
pub fn resolve_vars(resmap: &mut ResMap, set: &[Value], specs: &[FieldSpec]) -> Result<()> {
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for v in set {
        let var = parse(v)?;
        let source = resmap.iter().find(|r| r.ref_var_names.contains(&var.name));
        let Some(source) = source else {
            return Err(Error::msg(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                var.describe()
            )));
        };
        let path = dotted_path::split_var_path(var.field_path());
        let value = dotted_path::lookup(&source.object, &path)
            .ok()
            .flatten()
            .filter(|v| !v.is_null())
            .cloned()
            .ok_or_else(|| {
                Error::msg(format!(
                    "field specified in var '{}' not found in corresponding resource",
                    var.describe()
                ))
            })?;
        values.insert(var.name, value);
    }
    if values.is_empty() {
        return Ok(());
    }
    for resource in resmap.iter_mut() {
        for spec in specs {
            fieldpath::apply(spec, &mut resource.object, Create::Nothing, &mut |node| {
                substitute_node(node, &values)
            })?;
        }
    }
    Ok(())
}

fn substitute_node(node: &mut Value, values: &BTreeMap<String, Value>) -> Result<()> {
    match node {
        Value::String(s) => {
            *node = expand(s, values);
            Ok(())
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                if let Value::String(s) = v {
                    *v = expand(s, values);
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                let Value::String(s) = item else {
                    return Err(Error::msg("invalid value type expect a string"));
                };
                *item = expand(s, values);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => v.to_string(),
        other => other.to_string(),
    }
}

/// kustomize's `DoReplacements`: `$(NAME)` → the var's value, `$$` → `$`. When the whole string
/// is one reference, the value keeps its type.
pub fn expand(input: &str, values: &BTreeMap<String, Value>) -> Value {
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest[1..].find(')') {
                    Some(close) => {
                        let name = &rest[1..=close];
                        match values.get(name) {
                            Some(value) => {
                                if input.len() == name.len() + 3 {
                                    return value.clone();
                                }
                                out.push_str(&display(value));
                            }
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 2
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let ch = rest.chars().next().map(char::len_utf8).unwrap_or(1);
                    out.push('$');
                    out.push_str(&rest[..ch]);
                    ch
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(input.get(checkpoint..).unwrap_or(""));
    Value::String(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn expand_table() {
        let values: BTreeMap<String, Value> = [
            ("SVC".to_owned(), json!("web")),
            ("PORT".to_owned(), json!(8080)),
        ]
        .into_iter()
        .collect();
        let cases = [
            ("$(SVC)", json!("web")),
            ("$(PORT)", json!(8080)),
            ("http://$(SVC):$(PORT)/", json!("http://web:8080/")),
            ("$$(SVC)", json!("$(SVC)")),
            ("$(UNKNOWN)", json!("$(UNKNOWN)")),
            ("cost $5", json!("cost $5")),
            ("open $(SVC", json!("open $(SVC")),
            ("end $", json!("end $")),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &values), want, "{input}");
        }
    }

    #[test]
    fn objref_api_version_splits() {
        let r = ObjRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            ..ObjRef::default()
        };
        assert_eq!(r.gvk(), Gvk::new("apps", "v1", "Deployment"));
        let r = ObjRef {
            api_version: "v1".into(),
            kind: "Service".into(),
            ..ObjRef::default()
        };
        assert_eq!(r.gvk(), Gvk::new("", "v1", "Service"));
    }
}
