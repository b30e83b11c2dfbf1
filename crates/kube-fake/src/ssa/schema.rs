//! Merge schemas: how each field of an object merges under server-side apply. Built-in kinds read
//! the table generated from the Kubernetes 1.33 OpenAPI (`data/schema.json`, see
//! `tools/gen_schema.py`); custom resources read their CRD's `openAPIV3Schema` and its
//! `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type` and
//! `x-kubernetes-preserve-unknown-fields` markers. Anything without a schema merges as
//! structured-merge-diff's "deduced" type: maps field by field, lists atomically.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde_json::Value;

/// How a list merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// A type reference.
#[derive(Clone, Debug)]
pub enum TypeRef {
    Scalar,
    /// Deduced from the value: maps granular, lists atomic, anything else a scalar.
    Untyped,
    /// A definition of the built-in table, by name.
    Named(Arc<str>),
    Struct(Arc<StructType>),
    List(Arc<ListType>),
    Map(Arc<MapType>),
}

#[derive(Clone, Debug, Default)]
pub struct StructType {
    pub fields: BTreeMap<String, TypeRef>,
    /// The type of keys not among `fields` (`None`: unknown fields merge as untyped).
    pub extra: Option<TypeRef>,
    pub atomic: bool,
}

#[derive(Clone, Debug)]
pub struct ListType {
    pub elem: TypeRef,
    pub kind: ListKind,
}

#[derive(Clone, Debug)]
pub struct MapType {
    pub elem: TypeRef,
    pub atomic: bool,
}

/// A type as a walker sees it at one value.
#[derive(Clone, Debug)]
pub enum Atom {
    Scalar,
    List(Arc<ListType>),
    /// A struct or a map: named fields (if any), the element type of other keys, atomicity.
    Map(Arc<StructType>),
}

static BUILTIN: OnceLock<Builtin> = OnceLock::new();

struct Builtin {
    types: HashMap<String, Option<Arc<StructType>>>,
    kinds: HashMap<String, String>,
}

fn builtin() -> &'static Builtin {
    BUILTIN.get_or_init(|| {
        let raw: Value = serde_json::from_str(include_str!("../../data/schema.json"))
            .expect("the embedded schema table is valid JSON");
        let mut types = HashMap::new();
        let mut kinds = HashMap::new();
        if let Some(map) = raw.get("types").and_then(Value::as_object) {
            for (name, def) in map {
                if def.get("u").is_some() {
                    types.insert(name.clone(), None);
                    continue;
                }
                let mut st = StructType {
                    atomic: def.get("a").and_then(Value::as_bool).unwrap_or(false),
                    ..StructType::default()
                };
                if let Some(fields) = def.get("f").and_then(Value::as_object) {
                    for (f, r) in fields {
                        st.fields.insert(f.clone(), parse_table_ref(r));
                    }
                }
                types.insert(name.clone(), Some(Arc::new(st)));
            }
        }
        if let Some(map) = raw.get("kinds").and_then(Value::as_object) {
            for (gvk, name) in map {
                if let Some(name) = name.as_str() {
                    kinds.insert(gvk.clone(), name.to_string());
                }
            }
        }
        Builtin { types, kinds }
    })
}

fn parse_table_ref(r: &Value) -> TypeRef {
    match r {
        Value::String(s) if s == "s" => TypeRef::Scalar,
        Value::String(s) if s == "u" => TypeRef::Untyped,
        Value::String(s) => match s.strip_prefix('#') {
            Some(name) => TypeRef::Named(Arc::from(name)),
            None => TypeRef::Untyped,
        },
        Value::Object(o) => {
            let kind = o.get("t").and_then(Value::as_str).unwrap_or("atomic");
            if let Some(elem) = o.get("l") {
                let kind = match kind {
                    "set" => ListKind::Set,
                    "map" => ListKind::Map(
                        o.get("k")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(|k| k.as_str().map(String::from))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    ),
                    _ => ListKind::Atomic,
                };
                TypeRef::List(Arc::new(ListType {
                    elem: parse_table_ref(elem),
                    kind,
                }))
            } else if let Some(name) = o.get("r").and_then(Value::as_str) {
                // A field-level atomic struct: the named struct, atomic.
                let base = name
                    .strip_prefix('#')
                    .and_then(builtin_struct)
                    .map(|s| (*s).clone())
                    .unwrap_or_default();
                TypeRef::Struct(Arc::new(StructType {
                    atomic: true,
                    ..base
                }))
            } else {
                let elem = o.get("m").map(parse_table_ref).unwrap_or(TypeRef::Untyped);
                TypeRef::Map(Arc::new(MapType {
                    elem,
                    atomic: kind == "atomic",
                }))
            }
        }
        _ => TypeRef::Untyped,
    }
}

fn builtin_struct(name: &str) -> Option<Arc<StructType>> {
    // Called while the table is being built for field-level atomic refs: read the raw table.
    static RAW: OnceLock<Value> = OnceLock::new();
    let raw = RAW.get_or_init(|| {
        serde_json::from_str(include_str!("../../data/schema.json")).unwrap_or(Value::Null)
    });
    let def = raw.get("types")?.get(name)?;
    let mut st = StructType::default();
    for (f, r) in def.get("f")?.as_object()? {
        st.fields.insert(f.clone(), parse_table_ref(r));
    }
    Some(Arc::new(st))
}

/// The root type of a built-in kind (`group` empty for the core group), if the table has it.
pub fn builtin_kind(group: &str, version: &str, kind: &str) -> Option<TypeRef> {
    let name = builtin().kinds.get(&format!("{group}/{version}/{kind}"))?;
    Some(TypeRef::Named(Arc::from(name.as_str())))
}

/// The type of `metadata` in every object.
pub fn object_meta() -> TypeRef {
    TypeRef::Named(Arc::from("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"))
}

/// Default values of list-map key fields that the Kubernetes schema defaults (`protocol: TCP`).
pub fn key_default(field: &str) -> Option<Value> {
    (field == "protocol").then(|| Value::String("TCP".into()))
}

impl TypeRef {
    /// The atom to walk `value` with (`None` value: the schema's own shape).
    pub fn atom(&self, value: Option<&Value>) -> Atom {
        match self {
            TypeRef::Scalar => Atom::Scalar,
            TypeRef::Untyped => deduced(value),
            TypeRef::Named(name) => match builtin().types.get(&**name) {
                Some(Some(st)) => Atom::Map(st.clone()),
                _ => deduced(value),
            },
            TypeRef::Struct(st) => Atom::Map(st.clone()),
            TypeRef::List(l) => Atom::List(l.clone()),
            TypeRef::Map(m) => Atom::Map(Arc::new(StructType {
                fields: BTreeMap::new(),
                extra: Some(m.elem.clone()),
                atomic: m.atomic,
            })),
        }
    }
}

fn deduced(value: Option<&Value>) -> Atom {
    static MAP: OnceLock<Arc<StructType>> = OnceLock::new();
    static LIST: OnceLock<Arc<ListType>> = OnceLock::new();
    match value {
        // A null matches none of the deduced type's kinds; structured-merge-diff then walks
        // it as a map (with nothing to descend into).
        Some(Value::Object(_)) | Some(Value::Null) | None => Atom::Map(
            MAP.get_or_init(|| {
                Arc::new(StructType {
                    extra: Some(TypeRef::Untyped),
                    ..StructType::default()
                })
            })
            .clone(),
        ),
        Some(Value::Array(_)) => Atom::List(
            LIST.get_or_init(|| {
                Arc::new(ListType {
                    elem: TypeRef::Untyped,
                    kind: ListKind::Atomic,
                })
            })
            .clone(),
        ),
        Some(_) => Atom::Scalar,
    }
}

impl StructType {
    /// The type of one key: a named field's, else the element type, else untyped.
    pub fn field(&self, name: &str) -> TypeRef {
        self.fields
            .get(name)
            .cloned()
            .or_else(|| self.extra.clone())
            .unwrap_or(TypeRef::Untyped)
    }
}

/// The schema of a custom resource from one version's `openAPIV3Schema`. `metadata` is always
/// the built-in ObjectMeta; nested objects follow the markers.
pub fn from_openapi_v3(schema: &Value) -> TypeRef {
    let mut root = match convert(schema) {
        TypeRef::Struct(st) => (*st).clone(),
        _ => StructType {
            extra: Some(TypeRef::Untyped),
            ..StructType::default()
        },
    };
    root.fields.insert("metadata".into(), object_meta());
    root.fields.insert("apiVersion".into(), TypeRef::Scalar);
    root.fields.insert("kind".into(), TypeRef::Scalar);
    TypeRef::Struct(Arc::new(root))
}

fn convert(s: &Value) -> TypeRef {
    let ty = s.get("type").and_then(Value::as_str).unwrap_or("");
    let preserve = s
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
        return TypeRef::Scalar;
    }
    if s.get("x-kubernetes-embedded-resource")
        .and_then(Value::as_bool)
        == Some(true)
        && s.get("properties").is_none()
    {
        return TypeRef::Untyped;
    }
    match ty {
        "array" => {
            let elem = s.get("items").map(convert).unwrap_or(TypeRef::Untyped);
            let kind = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListKind::Set,
                Some("map") => ListKind::Map(
                    s.get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|k| k.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => ListKind::Atomic,
            };
            TypeRef::List(Arc::new(ListType { elem, kind }))
        }
        "object" => {
            let atomic = s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                let mut st = StructType {
                    atomic,
                    ..StructType::default()
                };
                for (name, sub) in props {
                    st.fields.insert(name.clone(), convert(sub));
                }
                if preserve {
                    st.extra = Some(TypeRef::Untyped);
                } else if let Some(ap) = s.get("additionalProperties").filter(|v| v.is_object()) {
                    st.extra = Some(convert(ap));
                }
                TypeRef::Struct(Arc::new(st))
            } else if let Some(ap) = s.get("additionalProperties").filter(|v| v.is_object()) {
                TypeRef::Map(Arc::new(MapType {
                    elem: convert(ap),
                    atomic,
                }))
            } else if atomic {
                TypeRef::Map(Arc::new(MapType {
                    elem: TypeRef::Untyped,
                    atomic: true,
                }))
            } else {
                TypeRef::Untyped
            }
        }
        "string" | "integer" | "number" | "boolean" => TypeRef::Scalar,
        _ => TypeRef::Untyped,
    }
}

/// The schema as structured-merge-diff's schema document (`{"types": [...]}`, JSON being YAML),
/// with the name of the root type, for the merge oracle.
pub fn to_smd_schema(root: &TypeRef) -> (Value, String) {
    let mut types: Vec<Value> = Vec::new();
    let mut seen: HashMap<String, ()> = HashMap::new();
    let mut counter = 0usize;
    let root_name = match root {
        TypeRef::Named(name) => {
            smd_ref(root, &mut types, &mut seen, &mut counter);
            name.to_string()
        }
        TypeRef::Untyped => "__untyped_deduced_".to_string(),
        TypeRef::Struct(st) => {
            let def = smd_struct(st, &mut types, &mut seen, &mut counter);
            types.push(serde_json::json!({"name": "__root", "map": def}));
            "__root".to_string()
        }
        other => {
            let r = smd_ref(other, &mut types, &mut seen, &mut counter);
            let mut t = r.as_object().cloned().unwrap_or_default();
            t.insert("name".into(), Value::String("__root".into()));
            types.push(Value::Object(t));
            "__root".to_string()
        }
    };
    types.push(serde_json::json!({
        "name": "__untyped_atomic_",
        "scalar": "untyped",
        "list": {"elementType": {"namedType": "__untyped_atomic_"}, "elementRelationship": "atomic"},
        "map": {"elementType": {"namedType": "__untyped_atomic_"}, "elementRelationship": "atomic"}
    }));
    types.push(serde_json::json!({
        "name": "__untyped_deduced_",
        "scalar": "untyped",
        "list": {"elementType": {"namedType": "__untyped_atomic_"}, "elementRelationship": "atomic"},
        "map": {"elementType": {"namedType": "__untyped_deduced_"}, "elementRelationship": "separable"}
    }));
    (serde_json::json!({"types": types}), root_name)
}

fn smd_ref(
    t: &TypeRef,
    types: &mut Vec<Value>,
    seen: &mut HashMap<String, ()>,
    counter: &mut usize,
) -> Value {
    use serde_json::json;
    match t {
        TypeRef::Scalar => json!({"scalar": "untyped"}),
        TypeRef::Untyped => json!({"namedType": "__untyped_deduced_"}),
        TypeRef::Named(name) => {
            let st = match builtin().types.get(&**name) {
                Some(Some(st)) => st.clone(),
                _ => return json!({"namedType": "__untyped_deduced_"}),
            };
            if !seen.contains_key(&**name) {
                seen.insert(name.to_string(), ());
                let def = smd_struct(&st, types, seen, counter);
                types.push(json!({"name": &**name, "map": def}));
            }
            json!({"namedType": &**name})
        }
        TypeRef::Struct(st) => json!({"map": smd_struct(st, types, seen, counter)}),
        TypeRef::List(l) => {
            let elem = smd_ref(&l.elem, types, seen, counter);
            match &l.kind {
                ListKind::Atomic => {
                    json!({"list": {"elementType": elem, "elementRelationship": "atomic"}})
                }
                ListKind::Set => {
                    json!({"list": {"elementType": elem, "elementRelationship": "associative"}})
                }
                ListKind::Map(keys) => {
                    json!({"list": {"elementType": elem, "elementRelationship": "associative", "keys": keys}})
                }
            }
        }
        TypeRef::Map(m) => {
            let elem = smd_ref(&m.elem, types, seen, counter);
            let rel = if m.atomic { "atomic" } else { "separable" };
            json!({"map": {"elementType": elem, "elementRelationship": rel}})
        }
    }
}

fn smd_struct(
    st: &StructType,
    types: &mut Vec<Value>,
    seen: &mut HashMap<String, ()>,
    counter: &mut usize,
) -> Value {
    use serde_json::json;
    *counter += 1;
    let mut fields = Vec::new();
    for (name, t) in &st.fields {
        let mut f = json!({"name": name, "type": smd_ref(t, types, seen, counter)});
        if let Some(d) = key_default(name) {
            f["default"] = d;
        }
        fields.push(f);
    }
    let mut out = json!({"fields": fields});
    let elem = st.extra.clone().unwrap_or(TypeRef::Untyped);
    out["elementType"] = smd_ref(&elem, types, seen, counter);
    if st.atomic {
        out["elementRelationship"] = json!("atomic");
    }
    out
}
