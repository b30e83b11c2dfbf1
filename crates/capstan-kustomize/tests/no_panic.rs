//! Bad input never panics: strategic merge, JSON6902 and replacement paths over many
//! pseudo-random documents built from the keys and values these algorithms react to
//! (`$patch` directives, merge keys, nulls, mixed scalar and collection types).

use capstan_core::{Map, Value};
use capstan_kustomize::dotted_path::{self, Create};
use capstan_kustomize::json6902::JsonPatch;
use capstan_kustomize::smp;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const KEYS: &[&str] = &[
    "$patch",
    "name",
    "containers",
    "initContainers",
    "ports",
    "containerPort",
    "protocol",
    "port",
    "finalizers",
    "env",
    "value",
    "volumes",
    "spec",
    "template",
    "metadata",
    "labels",
    "image",
    "$setElementOrder/containers",
    "$retainKeys",
    "mountPath",
    "volumeMounts",
    "x",
];
const SCALARS: &[&str] = &[
    "delete", "replace", "merge", "a", "b", "80", "TCP", "UDP", "", "frob",
];

fn value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 4 { 3 } else { 6 }) {
        0 => Value::Null,
        1 => Value::from(rng.below(100)),
        2 => Value::String(rng.pick(SCALARS).to_owned()),
        3 | 4 => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                map.insert(rng.pick(KEYS).to_owned(), value(rng, depth + 1));
            }
            Value::Object(map)
        }
        _ => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
    }
}

fn document(rng: &mut Rng) -> Value {
    let mut doc = match value(rng, 1) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let kinds = [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "Pod"),
        ("x/v1", "Custom"),
    ];
    let (api_version, kind) = kinds[rng.below(kinds.len() as u64) as usize];
    doc.insert("apiVersion".into(), Value::String(api_version.into()));
    doc.insert("kind".into(), Value::String(kind.into()));
    if rng.below(2) == 0 {
        let mut spec = Map::new();
        spec.insert(
            "template".into(),
            serde_json::json!({"spec": {"containers": value(rng, 3)}}),
        );
        doc.insert("spec".into(), Value::Object(spec));
    }
    Value::Object(doc)
}

#[test]
fn strategic_merge_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..4000 {
        let target = document(&mut rng);
        let patch = document(&mut rng);
        let _ = smp::merge(&patch, &target);
    }
}

#[test]
fn json_patches_never_panic() {
    let mut rng = Rng(42);
    let ops = ["add", "remove", "replace", "move", "copy", "test", "bogus"];
    let paths = [
        "/spec",
        "/spec/template/spec/containers/0",
        "/spec/x/-",
        "/a~1b",
        "/spec/-1",
        "",
        "/",
        "//",
        "/spec/99",
    ];
    for _ in 0..4000 {
        let mut doc = document(&mut rng);
        let mut op = Map::new();
        op.insert("op".into(), Value::String(rng.pick(&ops).into()));
        op.insert("path".into(), Value::String(rng.pick(&paths).into()));
        op.insert("from".into(), Value::String(rng.pick(&paths).into()));
        op.insert("value".into(), value(&mut rng, 2));
        let patch = JsonPatch::from_value(Value::Array(vec![Value::Object(op)]))
            .expect("a list of objects");
        let _ = patch.apply(&mut doc);
    }
}

#[test]
fn replacement_paths_never_panic() {
    let mut rng = Rng(7);
    let paths = [
        "spec.template.spec.containers.[name=a].image",
        "spec.*.x",
        "spec.template.spec.containers.0.ports.[containerPort=8.*].protocol",
        "metadata.labels.x\\.y",
        "spec.[=a]",
        "spec.template.spec.containers.5",
        "spec.[name=(]",
    ];
    let creates = [Create::Nothing, Create::Scalar, Create::Map, Create::Seq];
    for _ in 0..4000 {
        let mut doc = document(&mut rng);
        let path = dotted_path::split(rng.pick(&paths));
        let create = creates[rng.below(4) as usize];
        let _ = dotted_path::lookup(&doc, &path);
        let _ = dotted_path::find_all(&mut doc, &path, create);
    }
}
