//! Patch and replacement target selection, as kustomize v5.6 selects: `group`, `version`,
//! `kind`, `name` and `namespace` are regular expressions anchored at both ends (`^(?:…)$`), the
//! name and namespace match either the object's original or its current id, and
//! `labelSelector` / `annotationSelector` use the Kubernetes label selector syntax
//! (`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`, `k<n`, comma = and).

use capstan_core::Value;
use regex::Regex;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::resmap::ResMap;
use crate::resource::Resource;

/// A target selector as written in a kustomization (`patches[].target`, replacement targets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label_selector: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub annotation_selector: String,
}

impl std::fmt::Display for Selector {
    /// kustomize's `Selector.String()`: `ResId` string, then annotation and label selectors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let gvk = match (
            self.group.is_empty(),
            self.version.is_empty(),
            self.kind.is_empty(),
        ) {
            (true, true, true) => "~G_~V_~K".to_owned(),
            _ => {
                let part = |s: &str, d: &str| {
                    if s.is_empty() {
                        d.to_owned()
                    } else {
                        s.to_owned()
                    }
                };
                format!(
                    "{}.{}.{}",
                    part(&self.kind, "~K"),
                    part(&self.version, "~V"),
                    part(&self.group, "~G")
                )
            }
        };
        let ns = if self.namespace.is_empty() {
            "~X"
        } else {
            &self.namespace
        };
        let name = if self.name.is_empty() {
            "~N"
        } else {
            &self.name
        };
        write!(
            f,
            "{gvk}|{ns}|{name}:a={}:l={}",
            self.annotation_selector, self.label_selector
        )
    }
}

/// A selector with its expressions compiled.
#[derive(Debug)]
pub struct Compiled {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: LabelSelector,
    annotations: LabelSelector,
}

fn anchored(pattern: &str) -> Result<Option<Regex>> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{pattern})$"))
        .map(Some)
        .map_err(|e| Error::msg(format!("error parsing regexp: {e}")))
}

impl Selector {
    /// Compiles the expressions; a bad regular expression or label selector is an error.
    pub fn compile(&self) -> Result<Compiled> {
        Ok(Compiled {
            group: anchored(&self.group)?,
            version: anchored(&self.version)?,
            kind: anchored(&self.kind)?,
            name: anchored(&self.name)?,
            namespace: anchored(&self.namespace)?,
            labels: LabelSelector::parse(&self.label_selector)?,
            annotations: LabelSelector::parse(&self.annotation_selector)?,
        })
    }
}

fn matches(re: &Option<Regex>, text: &str) -> bool {
    re.as_ref().is_none_or(|re| re.is_match(text))
}

fn string_map<'a>(object: &'a Value, field: &str) -> Vec<(&'a str, &'a str)> {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

impl Compiled {
    /// kustomize's `resWrangler.Select` test for one resource.
    pub fn matches(&self, resource: &Resource) -> bool {
        let cur = resource.id();
        let org = resource.org_id();
        if !matches(&self.namespace, org.effective_namespace())
            && !matches(&self.namespace, cur.effective_namespace())
        {
            return false;
        }
        if !matches(&self.name, &org.name) && !matches(&self.name, &cur.name) {
            return false;
        }
        let gvk = resource.gvk();
        if !matches(&self.group, &gvk.group)
            || !matches(&self.version, &gvk.version)
            || !matches(&self.kind, &gvk.kind)
        {
            return false;
        }
        self.labels.matches(&string_map(&resource.object, "labels"))
            && self
                .annotations
                .matches(&string_map(&resource.object, "annotations"))
    }
}

/// The indices of the resources `selector` selects, in resource order.
pub fn select(resmap: &ResMap, selector: &Selector) -> Result<Vec<usize>> {
    let compiled = selector.compile()?;
    Ok(resmap
        .iter()
        .enumerate()
        .filter(|(_, r)| compiled.matches(r))
        .map(|(i, _)| i)
        .collect())
}

// --- Kubernetes label selectors -------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Exists,
    DoesNotExist,
    In(Vec<String>),
    NotIn(Vec<String>),
    Gt(i64),
    Lt(i64),
}

/// A parsed Kubernetes label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<(String, Op)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Not,
    NotEquals,
    Equals,
    DoubleEquals,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    In,
    NotIn,
}

fn lex(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let special = |c: char| matches!(c, '!' | '=' | '>' | '<' | '(' | ')' | ',');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (token, len) = match (c, next) {
            ('!', Some('=')) => (Token::NotEquals, 2),
            ('!', _) => (Token::Not, 1),
            ('=', Some('=')) => (Token::DoubleEquals, 2),
            ('=', _) => (Token::Equals, 1),
            ('>', _) => (Token::Gt, 1),
            ('<', _) => (Token::Lt, 1),
            ('(', _) => (Token::Open, 1),
            (')', _) => (Token::Close, 1),
            (',', _) => (Token::Comma, 1),
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !special(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(match word.as_str() {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Ident(word),
                });
                continue;
            }
        };
        tokens.push(token);
        i += len;
    }
    tokens
}

impl LabelSelector {
    /// Parses a selector; the empty string selects everything.
    pub fn parse(text: &str) -> Result<LabelSelector> {
        let tokens = lex(text);
        let bad = |why: &str| {
            Error::msg(format!(
                "unable to parse requirement: {why} in selector {text:?}"
            ))
        };
        let mut requirements = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let negated = tokens[i] == Token::Not;
            if negated {
                i += 1;
            }
            let Some(Token::Ident(key)) = tokens.get(i) else {
                return Err(bad("found a token where an identifier was expected"));
            };
            let key = key.clone();
            i += 1;
            let at_end = matches!(tokens.get(i), None | Some(Token::Comma));
            if negated {
                if !at_end {
                    return Err(bad("'!' may only precede a key alone"));
                }
                requirements.push((key, Op::DoesNotExist));
            } else if at_end {
                requirements.push((key, Op::Exists));
            } else {
                let op = tokens[i].clone();
                i += 1;
                match op {
                    Token::In | Token::NotIn => {
                        if tokens.get(i) != Some(&Token::Open) {
                            return Err(bad("expected '(' after 'in'/'notin'"));
                        }
                        i += 1;
                        let mut values = Vec::new();
                        loop {
                            match tokens.get(i) {
                                Some(Token::Ident(v)) => {
                                    values.push(v.clone());
                                    i += 1;
                                }
                                Some(Token::Comma) => {
                                    i += 1;
                                }
                                Some(Token::Close) => {
                                    i += 1;
                                    break;
                                }
                                _ => return Err(bad("unterminated value list")),
                            }
                        }
                        requirements.push((
                            key,
                            if op == Token::In {
                                Op::In(values)
                            } else {
                                Op::NotIn(values)
                            },
                        ));
                    }
                    Token::Equals | Token::DoubleEquals | Token::NotEquals => {
                        let value = match tokens.get(i) {
                            Some(Token::Ident(v)) => {
                                i += 1;
                                v.clone()
                            }
                            None | Some(Token::Comma) => String::new(),
                            _ => return Err(bad("expected a value")),
                        };
                        requirements.push((
                            key,
                            if op == Token::NotEquals {
                                Op::NotIn(vec![value])
                            } else {
                                Op::In(vec![value])
                            },
                        ));
                    }
                    Token::Gt | Token::Lt => {
                        let Some(Token::Ident(v)) = tokens.get(i) else {
                            return Err(bad("expected an integer"));
                        };
                        let n: i64 = v.parse().map_err(|_| {
                            bad("for 'Gt', 'Lt' operators, the value must be an integer")
                        })?;
                        i += 1;
                        requirements.push((
                            key,
                            if op == Token::Gt {
                                Op::Gt(n)
                            } else {
                                Op::Lt(n)
                            },
                        ));
                    }
                    _ => return Err(bad("found an unexpected token after a key")),
                }
            }
            match tokens.get(i) {
                None => {}
                Some(Token::Comma) => {
                    i += 1;
                    if i == tokens.len() {
                        return Err(bad("found a trailing ','"));
                    }
                }
                Some(_) => return Err(bad("expected ','")),
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// True when every requirement holds for `labels`.
    pub fn matches(&self, labels: &[(&str, &str)]) -> bool {
        let get = |k: &str| labels.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        self.requirements
            .iter()
            .all(|(key, op)| match (op, get(key)) {
                (Op::Exists, v) => v.is_some(),
                (Op::DoesNotExist, v) => v.is_none(),
                (Op::In(values), Some(v)) => values.iter().any(|x| x == v),
                (Op::In(_), None) => false,
                (Op::NotIn(values), Some(v)) => !values.iter().any(|x| x == v),
                (Op::NotIn(_), None) => true,
                (Op::Gt(n), Some(v)) => v.parse::<i64>().is_ok_and(|x| x > *n),
                (Op::Lt(n), Some(v)) => v.parse::<i64>().is_ok_and(|x| x < *n),
                (Op::Gt(_) | Op::Lt(_), None) => false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selector_table() {
        let labels = [("app", "web"), ("tier", "front"), ("n", "5")];
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier=front", true),
            ("app=web, tier=back", false),
            ("n>4", true),
            ("n<4", false),
            ("missing>1", false),
        ];
        for (text, want) in cases {
            let sel = LabelSelector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(sel.matches(&labels), want, "{text}");
        }
    }

    #[test]
    fn bad_label_selectors_are_errors() {
        for text in ["app in web", "=x", "app=web,", "n>x", "!app=x", "app in (a"] {
            assert!(LabelSelector::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn expressions_are_anchored() {
        let sel = Selector {
            name: "web|db".into(),
            kind: "Deploy".into(),
            ..Selector::default()
        };
        let c = sel.compile().expect("compiles");
        assert!(matches(&c.name, "web") && matches(&c.name, "db") && !matches(&c.name, "webx"));
        assert!(!matches(&c.kind, "Deployment"));
        assert!(
            Selector {
                name: "(".into(),
                ..Selector::default()
            }
            .compile()
            .is_err()
        );
    }
}
