//! Field sets: the trie of paths server-side apply records per manager, and its `FieldsV1` wire
//! form (`f:name`, `k:{"key":value}`, `v:value`, `i:index`, with `.` marking a node that is itself
//! a member). The set operations mirror structured-merge-diff's: `difference` removes members and
//! descends into children without treating a member of the other set as covering its subtree.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step of a field path. Keys and values are held as canonical JSON text, which orders them
/// and compares them by content.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A struct field or a map key.
    Field(String),
    /// An item of a list-map, by its key fields: canonical JSON of an object with sorted keys.
    Key(String),
    /// An item of a set-list, by its value (canonical JSON).
    Value(String),
    /// An item of a list with no identity, by position.
    Index(usize),
}

impl PathElement {
    /// The key element for a list-map item from its key fields (sorted by name here).
    pub fn key(fields: &[(String, Value)]) -> Self {
        let mut sorted: Vec<&(String, Value)> = fields.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut map = Map::new();
        for (name, value) in sorted {
            map.insert(name.clone(), canonical(value));
        }
        PathElement::Key(Value::Object(map).to_string())
    }

    /// The value element for a set-list item.
    pub fn value(value: &Value) -> Self {
        PathElement::Value(canonical(value).to_string())
    }

    /// The `FieldsV1` key of this element.
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(json) => format!("k:{json}"),
            PathElement::Value(json) => format!("v:{json}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key; `None` for a kind this server does not know (ignored, as the
    /// real server ignores them).
    pub fn decode(text: &str) -> Option<Self> {
        let (kind, rest) = text.split_once(':')?;
        match kind {
            "f" => Some(PathElement::Field(rest.to_string())),
            "k" => {
                let value: Value = serde_json::from_str(rest).ok()?;
                let map = value.as_object()?;
                let fields: Vec<(String, Value)> =
                    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                Some(PathElement::key(&fields))
            }
            "v" => {
                let value: Value = serde_json::from_str(rest).ok()?;
                Some(PathElement::value(&value))
            }
            "i" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }
}

impl fmt::Display for PathElement {
    /// The path notation of the real server's messages: `.name`, `[key="v",k2=1]`, `[=v]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(json) => {
                let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
                let parts: Vec<String> = value
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(json) => write!(f, "[={json}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A JSON value with object keys sorted at every level, so its text is canonical.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// A path from the root of an object.
pub type Path = Vec<PathElement>;

/// Renders a path as the real server does in conflict messages: `.spec.containers[name="a"].image`.
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(|pe| pe.to_string()).collect()
}

/// A set of paths, as a trie: `members` are paths ending here, `children` continue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    pub members: BTreeSet<PathElement>,
    pub children: BTreeMap<PathElement, Set>,
}

impl Set {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// The subtree under one element (empty when absent).
    pub fn with_prefix(&self, pe: &PathElement) -> Set {
        self.children.get(pe).cloned().unwrap_or_default()
    }

    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    children.insert(pe.clone(), both);
                }
            }
        }
        Set { members, children }
    }

    /// Members of `self` not members of `other`; children likewise, node by node.
    pub fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            match other.children.get(pe) {
                Some(theirs) => {
                    let diff = child.difference(theirs);
                    if !diff.is_empty() {
                        children.insert(pe.clone(), diff);
                    }
                }
                None => {
                    children.insert(pe.clone(), child.clone());
                }
            }
        }
        Set { members, children }
    }

    /// Every path in the set, members before children at each level.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for pe in &self.members {
            let mut p = prefix.clone();
            p.push(pe.clone());
            out.push(p);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        self.encode(false)
    }

    fn encode(&self, include_self: bool) -> Value {
        let mut out = Map::new();
        if include_self {
            out.insert(".".to_string(), Value::Object(Map::new()));
        }
        let mut keys: BTreeSet<&PathElement> = self.members.iter().collect();
        keys.extend(self.children.keys());
        for pe in keys {
            let member = self.members.contains(pe);
            let value = match self.children.get(pe) {
                Some(child) if !child.is_empty() => child.encode(member),
                _ => Value::Object(Map::new()),
            };
            out.insert(pe.encode(), value);
        }
        Value::Object(out)
    }

    /// Reads `FieldsV1` JSON. Unknown element kinds are dropped; a non-object is an error.
    pub fn from_fields_v1(value: &Value) -> Result<Set, String> {
        let map = value
            .as_object()
            .ok_or_else(|| "fieldsV1 must be a JSON object".to_string())?;
        let (set, _) = decode(map)?;
        Ok(set)
    }
}

fn decode(map: &Map<String, Value>) -> Result<(Set, bool), String> {
    let mut set = Set::new();
    let mut is_member = map.is_empty();
    for (key, value) in map {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(pe) = PathElement::decode(key) else {
            if key.starts_with(['f', 'k', 'v', 'i']) && key.as_bytes().get(1) == Some(&b':') {
                return Err(format!("invalid field path element {key:?}"));
            }
            continue;
        };
        let child_map = value
            .as_object()
            .ok_or_else(|| format!("fieldsV1 entry {key:?} must be a JSON object"))?;
        let (child, child_member) = decode(child_map)?;
        if child_member {
            set.members.insert(pe.clone());
        }
        if !child.is_empty() {
            set.children.insert(pe, child);
        }
    }
    Ok((set, is_member))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_with_dot_markers() {
        let v = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:name": {}}}}
        });
        let set = Set::from_fields_v1(&v).expect("valid");
        assert!(set.has(&[
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::key(&[("name".into(), json!("a"))]),
        ]));
        assert_eq!(set.to_fields_v1(), v);
    }

    #[test]
    fn difference_keeps_children_of_members() {
        let mut a = Set::new();
        a.insert(&[
            PathElement::Field("a".into()),
            PathElement::Field("b".into()),
        ]);
        let mut b = Set::new();
        b.insert(&[PathElement::Field("a".into())]);
        assert_eq!(a.difference(&b), a);
    }

    #[test]
    fn path_strings_read_like_the_server() {
        let p = vec![
            PathElement::Field("spec".into()),
            PathElement::key(&[("name".into(), json!("web"))]),
            PathElement::Field("image".into()),
        ];
        assert_eq!(path_string(&p), ".spec[name=\"web\"].image");
    }
}
