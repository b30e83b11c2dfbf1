//! The schema model every validation runs over: an arena of nodes, built either from the compact
//! Kubernetes table embedded in capstan (see `scripts/gen-schemas.py`) or from a CRD's
//! `openAPIV3Schema` (Flux's embedded CRDs and the CRDs a repository renders itself).
//!
//! A node says which JSON types it accepts, which properties it knows, whether unknown
//! properties are rejected (strict field validation), which are required, and the value
//! constraints the API server enforces from the schema (enum, pattern, lengths, bounds).

use std::collections::BTreeMap;

use capstan_core::Value;
use std::sync::{Arc, OnceLock};

use regex::Regex;

/// A `pattern` constraint, compiled when a value first meets it. A pattern the regex engine
/// cannot compile (ECMA-262 features such as look-around) is not enforced.
#[derive(Debug)]
pub struct Pattern {
    pub source: String,
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    /// True when `text` matches, or when the pattern cannot be compiled.
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled
            .get_or_init(|| Regex::new(&self.source).ok())
            .as_ref()
            .is_none_or(|r| r.is_match(text))
    }
}

/// Index of a node in a [`SchemaArena`].
pub type NodeId = usize;

/// The JSON types a node accepts, as a bit set; empty means any type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Types(u8);

impl Types {
    pub const OBJECT: u8 = 1;
    pub const ARRAY: u8 = 2;
    pub const STRING: u8 = 4;
    pub const INTEGER: u8 = 8;
    pub const NUMBER: u8 = 16;
    pub const BOOLEAN: u8 = 32;

    fn from_name(name: &str) -> u8 {
        match name {
            "object" => Types::OBJECT,
            "array" => Types::ARRAY,
            "string" => Types::STRING,
            "integer" => Types::INTEGER,
            "number" => Types::NUMBER,
            "boolean" => Types::BOOLEAN,
            _ => 0,
        }
    }

    pub fn any(self) -> bool {
        self.0 == 0
    }

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// True when a value of this JSON shape is accepted.
    pub fn accepts(self, value: &Value) -> bool {
        if self.any() {
            return true;
        }
        match value {
            Value::Null => true,
            Value::Bool(_) => self.has(Types::BOOLEAN),
            Value::String(_) => self.has(Types::STRING),
            Value::Array(_) => self.has(Types::ARRAY),
            Value::Object(_) => self.has(Types::OBJECT),
            Value::Number(n) => {
                self.has(Types::NUMBER)
                    || (self.has(Types::INTEGER)
                        && (n.is_i64()
                            || n.is_u64()
                            || n.as_f64().is_some_and(|f| f.fract() == 0.0)))
            }
        }
    }

    /// `string`, `integer or string`, … for messages.
    pub fn describe(self) -> String {
        let names = [
            (Types::OBJECT, "object"),
            (Types::ARRAY, "array"),
            (Types::STRING, "string"),
            (Types::INTEGER, "integer"),
            (Types::NUMBER, "number"),
            (Types::BOOLEAN, "boolean"),
        ];
        let parts: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, n)| *n)
            .collect();
        if parts.is_empty() {
            "any".to_owned()
        } else {
            parts.join(" or ")
        }
    }
}

/// What an object node does with properties it does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// Rejected: strict field validation reports them.
    Reject,
    /// Kept as they are (`x-kubernetes-preserve-unknown-fields`, free-form objects).
    Allow,
    /// Every value must match this node (maps such as labels).
    Each(NodeId),
}

/// One schema node.
#[derive(Debug, Clone)]
pub struct Node {
    pub types: Types,
    pub properties: BTreeMap<String, NodeId>,
    pub required: Vec<String>,
    pub unknown: Unknown,
    pub items: Option<NodeId>,
    pub enumeration: Option<Vec<Value>>,
    pub format: Option<String>,
    /// Compiled on first use: most patterns of a CRD are never exercised by a repository.
    pub pattern: Option<Arc<Pattern>>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    /// A reference to another node that stands for this one (resolved `$ref`).
    pub reference: Option<NodeId>,
    /// `x-kubernetes-embedded-resource`: apiVersion, kind and metadata are implied.
    pub embedded_resource: bool,
}

impl Default for Node {
    fn default() -> Node {
        Node {
            types: Types::default(),
            properties: BTreeMap::new(),
            required: Vec::new(),
            unknown: Unknown::Allow,
            items: None,
            enumeration: None,
            format: None,
            pattern: None,
            min_length: None,
            max_length: None,
            minimum: None,
            maximum: None,
            min_items: None,
            max_items: None,
            reference: None,
            embedded_resource: false,
        }
    }
}

/// All nodes of a validator, addressed by [`NodeId`].
#[derive(Debug, Default)]
pub struct SchemaArena {
    nodes: Vec<Node>,
}

impl SchemaArena {
    pub fn get(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Follows references to the node that carries the constraints.
    pub fn resolve(&self, mut id: NodeId) -> &Node {
        for _ in 0..32 {
            match self.nodes[id].reference {
                Some(next) => id = next,
                None => break,
            }
        }
        &self.nodes[id]
    }

    pub fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// A node that accepts anything.
    pub fn any(&mut self) -> NodeId {
        self.push(Node::default())
    }

    pub fn set(&mut self, id: NodeId, node: Node) {
        self.nodes[id] = node;
    }

    /// Builds a node from the compact Kubernetes form; `$` references go through `refs`.
    pub fn add_compact(&mut self, value: &Value, refs: &dyn Fn(&str) -> Option<NodeId>) -> NodeId {
        let Some(map) = value.as_object() else {
            return self.any();
        };
        let mut node = Node::default();
        if let Some(name) = map.get("$").and_then(Value::as_str) {
            node.reference = refs(name);
            return self.push(node);
        }
        node.types = types_of(map.get("t"));
        if let Some(props) = map.get("p").and_then(Value::as_object) {
            for (key, child) in props {
                let id = self.add_compact(child, refs);
                node.properties.insert(key.clone(), id);
            }
        }
        node.required = strings(map.get("r"));
        node.unknown = if map.get("c").is_some() {
            Unknown::Reject
        } else {
            match map.get("a") {
                Some(Value::Object(_)) => Unknown::Each(self.add_compact(&map["a"], refs)),
                _ => Unknown::Allow,
            }
        };
        if let Some(items) = map.get("i") {
            node.items = Some(self.add_compact(items, refs));
        }
        node.enumeration = map.get("e").and_then(Value::as_array).cloned();
        node.format = map.get("f").and_then(Value::as_str).map(str::to_owned);
        self.push(node)
    }

    /// Builds a node from an OpenAPI v3 structural schema as CRDs carry it.
    /// `metadata` at the root is validated as Kubernetes `ObjectMeta` when `object_meta` is given.
    pub fn add_openapi(&mut self, value: &Value, object_meta: Option<NodeId>) -> NodeId {
        let root = self.add_openapi_node(value, 0);
        if let Some(meta) = object_meta {
            let mut node = self.nodes[root].clone();
            for key in ["apiVersion", "kind"] {
                if !node.properties.contains_key(key) {
                    let id = self.push(Node {
                        types: Types(Types::STRING),
                        ..Node::default()
                    });
                    node.properties.insert(key.to_owned(), id);
                }
            }
            node.properties.insert("metadata".to_owned(), meta);
            if node.types.any() {
                node.types = Types(Types::OBJECT);
            }
            self.nodes[root] = node;
        }
        root
    }

    fn add_openapi_node(&mut self, value: &Value, depth: usize) -> NodeId {
        let Some(map) = value.as_object().filter(|_| depth < 64) else {
            return self.any();
        };
        let mut node = Node::default();
        let preserve = map
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true);
        if map
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true)
        {
            node.types = Types(Types::INTEGER | Types::STRING);
        } else {
            node.types = types_of(map.get("type"));
        }
        node.embedded_resource = map
            .get("x-kubernetes-embedded-resource")
            .and_then(Value::as_bool)
            == Some(true);
        let properties = map.get("properties").and_then(Value::as_object);
        if let Some(props) = properties {
            for (key, child) in props {
                let id = self.add_openapi_node(child, depth + 1);
                node.properties.insert(key.clone(), id);
            }
        }
        node.required = strings(map.get("required"));
        let additional = map.get("additionalProperties");
        node.unknown = match additional {
            Some(Value::Object(_)) => {
                Unknown::Each(self.add_openapi_node(&map["additionalProperties"], depth + 1))
            }
            Some(Value::Bool(true)) => Unknown::Allow,
            _ if preserve => Unknown::Allow,
            _ if node.types.has(Types::OBJECT) || properties.is_some() => Unknown::Reject,
            _ => Unknown::Allow,
        };
        if node.embedded_resource {
            for key in ["apiVersion", "kind", "metadata"] {
                if !node.properties.contains_key(key) {
                    let id = self.any();
                    node.properties.insert(key.to_owned(), id);
                }
            }
        }
        if let Some(items) = map.get("items") {
            node.items = Some(self.add_openapi_node(items, depth + 1));
        }
        node.enumeration = map.get("enum").and_then(Value::as_array).cloned();
        node.format = map.get("format").and_then(Value::as_str).map(str::to_owned);
        node.pattern = map.get("pattern").and_then(Value::as_str).map(|p| {
            Arc::new(Pattern {
                source: p.to_owned(),
                compiled: OnceLock::new(),
            })
        });
        node.min_length = map.get("minLength").and_then(Value::as_u64);
        node.max_length = map.get("maxLength").and_then(Value::as_u64);
        node.minimum = map.get("minimum").and_then(Value::as_f64);
        node.maximum = map.get("maximum").and_then(Value::as_f64);
        node.min_items = map.get("minItems").and_then(Value::as_u64);
        node.max_items = map.get("maxItems").and_then(Value::as_u64);
        self.push(node)
    }
}

fn types_of(value: Option<&Value>) -> Types {
    match value {
        Some(Value::String(s)) => Types(Types::from_name(s)),
        Some(Value::Array(list)) => Types(
            list.iter()
                .filter_map(Value::as_str)
                .map(Types::from_name)
                .fold(0, |a, b| a | b),
        ),
        _ => Types::default(),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
