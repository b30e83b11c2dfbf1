//! Post-build variable substitution, as kustomize-controller v1 runs it after `kustomize build`.
//!
//! The variables of a Kustomization are its `spec.postBuild.substituteFrom` ConfigMaps and
//! Secrets, read in order (later ones override earlier ones; a missing reference is an error unless
//! `optional`), then `spec.postBuild.substitute` on top. Every value has its newlines removed and
//! every name must match `^[_[:alpha:]][_[:alpha:][:digit:]]*$`. Each rendered object is then
//! serialised as YAML (kustomize's JSON → YAML form), expanded with Flux's envsubst dialect
//! ([`expand`]) and read back — so `replicas: ${N}` becomes a number, as in the cluster. Objects
//! labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are left alone, and
//! under `substituteStrategy: WithVariables` (the default) nothing is substituted when no variable
//! is defined.
//!
//! capstan is **strict by default**, as the controller is since v1.9: an undefined `${var}` with
//! no default is an error naming the variable; [`SubstituteOptions::strict`] turns that off
//! (undefined variables then expand to the empty string).
//!
//! Reading back is YAML 1.1, as the controller's `sigs.k8s.io/yaml.YAMLToJSON` (go-yaml v2) reads
//! it, not kustomize's YAML 1.2 reader: a substituted `yes`/`on`/`y`/`off`/`n` is a boolean,
//! `0755` and `0o755` are octal, `0x1F` hex, `0b101` binary, `1_000` is 1000, `08` is the float 8,
//! a timestamp stays a string, and `.inf`/`.nan` fail (JSON cannot hold them). Quoting in the
//! repository does not protect a value: `"${FLAG}"` is written out as the plain `${FLAG}` before
//! expansion, so it reads back typed. Known gaps: a substituted mapping *key* stays a string
//! (go-yaml v2 would turn `yes:` into the key `"true"` and `0x1F:` into `"31"`), and `1__0`
//! (repeated underscores) stays a string where go-yaml v2 reads 10.
//!
//! The ConfigMaps and Secrets named by `substituteFrom` are looked up through a closure the build
//! supplies (capstan takes them from the objects the repository itself renders).

mod expand;
mod operators;
pub mod undefined;

use std::collections::BTreeMap;

use capstan_core::{ResourceId, Value};

pub use expand::{ExpandError, Syntax, expand};

/// The label/annotation that opts an object out of substitution.
pub const SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Options that change how substitution behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubstituteOptions {
    /// An undefined variable without a default is an error (the controller's default since v1.9).
    pub strict: bool,
}

impl Default for SubstituteOptions {
    fn default() -> Self {
        SubstituteOptions { strict: true }
    }
}

/// `spec.postBuild.substituteStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Substitute only when at least one variable is defined.
    #[default]
    WithVariables,
    /// Substitute even without variables (so `${var:=default}` expands).
    Always,
}

/// One `substituteFrom` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstituteReference {
    /// `ConfigMap` or `Secret` (other kinds are ignored, as the controller ignores them).
    pub kind: String,
    pub name: String,
    pub optional: bool,
}

/// `spec.postBuild` of a Kustomization.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostBuild {
    pub substitute: BTreeMap<String, String>,
    pub substitute_from: Vec<SubstituteReference>,
    pub strategy: Strategy,
}

/// Why post-build substitution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstituteError {
    #[error("spec.postBuild{field}: {message}")]
    Spec { field: String, message: String },
    #[error(
        "spec.postBuild.substituteFrom[{index}]: {kind}/{name} not found in namespace {namespace} (not rendered by this repository; mark it `optional: true` if it is created elsewhere)"
    )]
    MissingReference {
        index: usize,
        kind: String,
        name: String,
        namespace: String,
    },
    #[error("spec.postBuild.substituteFrom[{index}]: {kind}/{name}: {message}")]
    BadReference {
        index: usize,
        kind: String,
        name: String,
        message: String,
    },
    #[error("'{0}' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'")]
    InvalidName(String),
    #[error("post-build substitution of {object}: {source}")]
    Expand {
        object: String,
        #[source]
        source: ExpandError,
    },
    #[error("post-build substitution of {object}: the substituted YAML does not parse: {message}")]
    Reparse { object: String, message: String },
}

impl PostBuild {
    /// Reads `spec.postBuild` from a Kustomization; `None` when there is none.
    pub fn from_kustomization(kustomization: &Value) -> Result<Option<PostBuild>, SubstituteError> {
        let Some(post_build) = kustomization.pointer("/spec/postBuild") else {
            return Ok(None);
        };
        if post_build.is_null() {
            return Ok(None);
        }
        let spec_error = |field: &str, message: &str| SubstituteError::Spec {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        let mut out = PostBuild::default();
        match post_build.get("substitute") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (key, value) in map {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        // The API server would reject a non-string; say where.
                        other => {
                            return Err(spec_error(
                                &format!(".substitute.{key}"),
                                &format!("must be a string, found {other}"),
                            ));
                        }
                    };
                    out.substitute.insert(key.clone(), text);
                }
            }
            Some(_) => return Err(spec_error(".substitute", "must be a map of strings")),
        }
        match post_build.get("substituteFrom") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!(".substituteFrom[{i}]");
                    let kind = item.get("kind").and_then(Value::as_str);
                    let name = item.get("name").and_then(Value::as_str);
                    let (Some(kind), Some(name)) = (kind, name) else {
                        return Err(spec_error(&field, "needs `kind` and `name`"));
                    };
                    let optional = match item.get("optional") {
                        None | Some(Value::Null) => false,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => {
                            return Err(spec_error(
                                &format!("{field}.optional"),
                                "must be a boolean",
                            ));
                        }
                    };
                    out.substitute_from.push(SubstituteReference {
                        kind: kind.to_owned(),
                        name: name.to_owned(),
                        optional,
                    });
                }
            }
            Some(_) => return Err(spec_error(".substituteFrom", "must be a list")),
        }
        out.strategy = match post_build.get("substituteStrategy").and_then(Value::as_str) {
            None | Some("") | Some("WithVariables") => Strategy::WithVariables,
            Some("Always") => Strategy::Always,
            Some(other) => {
                return Err(spec_error(
                    ".substituteStrategy",
                    &format!("unknown strategy {other:?} (WithVariables or Always)"),
                ));
            }
        };
        Ok(Some(out))
    }

    /// Resolves the variables: `substituteFrom` in order, then `substitute` on top, newlines
    /// removed. `lookup(kind, name)` returns the object of that kind and name in the
    /// Kustomization's namespace (`namespace` is only used in messages).
    pub fn variables(
        &self,
        namespace: &str,
        lookup: &dyn Fn(&str, &str) -> Option<Value>,
    ) -> Result<BTreeMap<String, String>, SubstituteError> {
        let mut vars = BTreeMap::new();
        for (index, reference) in self.substitute_from.iter().enumerate() {
            if reference.kind != "ConfigMap" && reference.kind != "Secret" {
                continue;
            }
            let Some(object) = lookup(&reference.kind, &reference.name) else {
                if reference.optional {
                    continue;
                }
                return Err(SubstituteError::MissingReference {
                    index,
                    kind: reference.kind.clone(),
                    name: reference.name.clone(),
                    namespace: namespace.to_owned(),
                });
            };
            let bad = |message: String| SubstituteError::BadReference {
                index,
                kind: reference.kind.clone(),
                name: reference.name.clone(),
                message,
            };
            for (key, value) in data_of(&reference.kind, &object).map_err(bad)? {
                vars.insert(key, value.replace('\n', ""));
            }
        }
        for (key, value) in &self.substitute {
            vars.insert(key.clone(), value.replace('\n', ""));
        }
        Ok(vars)
    }
}

/// Adds the variables a user supplies (`--var KEY=VALUE`, a vars file) for what the repository
/// cannot tell: each fills a variable the Kustomization's `postBuild` leaves undefined or takes
/// from an object that exists only at runtime (a `<runtime:KEY>` placeholder); a value the
/// repository itself defines is kept. Where the repository defines no variable at all under
/// [`Strategy::WithVariables`], Flux substitutes nothing, and neither do the user's.
pub fn supply(
    vars: &mut BTreeMap<String, String>,
    user: &BTreeMap<String, String>,
    strategy: Strategy,
) {
    if vars.is_empty() && strategy == Strategy::WithVariables {
        return;
    }
    for (key, value) in user {
        let keep = vars
            .get(key)
            .is_some_and(|v| !crate::operator::runtime::is_placeholder(v));
        if !keep {
            vars.insert(key.clone(), value.clone());
        }
    }
}

/// The string data of a ConfigMap (`data`) or Secret (`data` base64-decoded, then `stringData`
/// on top, as the API server merges them).
pub fn data_of(kind: &str, object: &Value) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let entries = |field: &str| -> Result<Vec<(String, String)>, String> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Null => Ok((k.clone(), String::new())),
                    other => Err(format!("{field}.{k} must be a string, found {other}")),
                })
                .collect(),
            Some(_) => Err(format!("{field} must be a map")),
        }
    };
    if kind == "Secret" {
        for (k, v) in entries("data")? {
            let bytes =
                base64_decode(&v).map_err(|e| format!("data.{k} is not valid base64: {e}"))?;
            out.push((k, String::from_utf8_lossy(&bytes).into_owned()));
        }
        for (k, v) in entries("stringData")? {
            out.retain(|(existing, _)| existing != &k);
            out.push((k, v));
        }
    } else {
        out = entries("data")?;
    }
    Ok(out)
}

/// Standard base64 (with or without padding; whitespace ignored), as Secret `data` holds it.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let body = clean
        .strip_suffix(b"==")
        .or_else(|| clean.strip_suffix(b"="))
        .unwrap_or(&clean);
    if body.len() % 4 == 1 {
        return Err("bad length".to_owned());
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = value(c).ok_or_else(|| format!("invalid character {:?}", c as char))?;
            acc |= v << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

/// True for a variable name the controller accepts.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// True when the object opts out with the substitute label or annotation.
pub fn is_disabled(object: &Value) -> bool {
    ["labels", "annotations"].iter().any(|field| {
        object
            .pointer(&format!("/metadata/{field}"))
            .and_then(|m| m.get(SUBSTITUTE_KEY))
            .and_then(Value::as_str)
            == Some("disabled")
    })
}

/// Checks the variable names, once per Kustomization.
pub fn validate_names(vars: &BTreeMap<String, String>) -> Result<(), SubstituteError> {
    match vars.keys().find(|k| !is_valid_name(k)) {
        Some(bad) => Err(SubstituteError::InvalidName(bad.clone())),
        None => Ok(()),
    }
}

/// Substitutes one object. Returns `None` when the object is left as it is (opted out, or no
/// variables under [`Strategy::WithVariables`]).
pub fn substitute_object(
    object: &Value,
    vars: &BTreeMap<String, String>,
    strategy: Strategy,
    options: SubstituteOptions,
) -> Result<Option<Value>, SubstituteError> {
    if is_disabled(object) {
        return Ok(None);
    }
    if vars.is_empty() && strategy == Strategy::WithVariables {
        return Ok(None);
    }
    validate_names(vars)?;
    let text = capstan_core::yaml::to_yaml(object);
    if !text.contains("${") {
        // Nothing to expand: only `$$` escapes could change, and they change only inside `${`-free
        // text by collapsing `$$` to `$`.
        if !text.contains("$$") {
            return Ok(None);
        }
    }
    let lookup = |name: &str| -> Option<String> {
        match vars.get(name) {
            Some(v) => Some(v.clone()),
            None if options.strict => None,
            None => Some(String::new()),
        }
    };
    let expanded = expand(&text, &lookup).map_err(|source| SubstituteError::Expand {
        object: ResourceId::of(object).to_string(),
        source,
    })?;
    if expanded == text {
        return Ok(None);
    }
    let value = capstan_core::yaml::parse_document_go_yaml_v2(&expanded).map_err(|e| {
        SubstituteError::Reparse {
            object: ResourceId::of(object).to_string(),
            message: e.message,
        }
    })?;
    Ok(Some(value))
}

#[cfg(test)]
mod tests;
