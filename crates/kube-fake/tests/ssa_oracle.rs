//! kube-fake's server-side apply against Kubernetes' own structured-merge-diff: a seeded
//! generator plays sequences of applies (several managers, forced or not) and updates over three
//! schemas — the built-in Deployment, a CRD with set, map and atomic markers, and an untyped
//! object — and every step goes to both kube-fake's merge and the Go oracle
//! (`ssa-oracle/main.go`); the merged object, each manager's fields and the conflicts must agree.
//!
//! The oracle binary: `CAPSTAN_SSA_ORACLE`, else built here with `ssa-oracle/build.sh` when Go
//! and Debian's `golang-k8s-sigs-structured-merge-diff-dev` are installed. Without it the test
//! skips with a message, unless `CAPSTAN_REQUIRE_SSA_ORACLE=1` (CI), when it fails.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use kube_fake::ssa::{self, Managers, VersionedSet, fieldset::Set, schema};
use serde_json::{Value, json};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn subset<'a>(&mut self, items: &[&'a str]) -> Vec<&'a str> {
        let mut out: Vec<&str> = items.iter().copied().filter(|_| self.chance(50)).collect();
        // shuffle
        for i in (1..out.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            out.swap(i, j);
        }
        out
    }
}

fn string_map(r: &mut Rng, keys: &[&str], values: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for k in r.subset(keys) {
        m.insert(k.to_string(), json!(r.pick(values)));
    }
    Value::Object(m)
}

fn deployment(r: &mut Rng) -> Value {
    let mut md = json!({"name": "d"});
    if r.chance(60) {
        md["labels"] = string_map(r, &["a", "b", "c"], &["x", "y"]);
    }
    if r.chance(30) {
        md["annotations"] = string_map(r, &["n1", "n2"], &["v1", "v2"]);
    }
    if r.chance(25) {
        md["finalizers"] = json!(r.subset(&["f1", "f2", "f3"]));
    }
    let mut spec = serde_json::Map::new();
    if r.chance(50) {
        spec.insert("replicas".into(), json!(r.below(3) + 1));
    }
    if r.chance(40) {
        spec.insert(
            "selector".into(),
            json!({"matchLabels": string_map(r, &["a", "b"], &["x", "y"])}),
        );
    }
    if r.chance(20) {
        spec.insert("minReadySeconds".into(), json!(r.below(2) * 5));
    }
    if r.chance(80) {
        let mut containers = Vec::new();
        for name in r.subset(&["c1", "c2", "c3"]) {
            let mut c = json!({"name": name});
            if r.chance(70) {
                c["image"] = json!(r.pick(&["nginx:1", "nginx:2", "busybox"]));
            }
            if r.chance(40) {
                let mut ports = Vec::new();
                let mut seen = Vec::new();
                for port in r.subset(&["80", "81", "443"]) {
                    let proto = r.pick(&["TCP", "UDP", ""]);
                    let key = (port, if proto.is_empty() { "TCP" } else { proto });
                    if seen.contains(&key) {
                        continue;
                    }
                    seen.push(key);
                    let mut p = json!({"containerPort": port.parse::<i64>().unwrap_or(80)});
                    if !proto.is_empty() {
                        p["protocol"] = json!(proto);
                    }
                    if r.chance(30) {
                        p["name"] = json!(r.pick(&["http", "web"]));
                    }
                    ports.push(p);
                }
                c["ports"] = json!(ports);
            }
            if r.chance(40) {
                let env: Vec<Value> = r
                    .subset(&["E1", "E2", "E3"])
                    .into_iter()
                    .map(|n| json!({"name": n, "value": r.pick(&["1", "2"])}))
                    .collect();
                c["env"] = json!(env);
            }
            if r.chance(25) {
                c["args"] = json!(r.subset(&["-a", "-b", "-c"]));
            }
            if r.chance(15) {
                c["resources"] = json!({"limits": string_map(r, &["cpu", "memory"], &["1", "2"])});
            }
            containers.push(c);
        }
        let mut pod = json!({"containers": containers});
        if r.chance(20) {
            pod["nodeSelector"] = string_map(r, &["zone", "disk"], &["a", "b"]);
        }
        if r.chance(15) {
            pod["tolerations"] = json!([{"key": r.pick(&["k1", "k2"]), "operator": "Exists"}]);
        }
        let mut template = json!({"spec": pod});
        if r.chance(50) {
            template["metadata"] = json!({"labels": string_map(r, &["a", "b"], &["x", "y"])});
        }
        spec.insert("template".into(), template);
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md, "spec": spec})
}

fn crd_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "rules": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["host", "port"],
                        "items": {"type": "object", "properties": {
                            "host": {"type": "string"}, "port": {"type": "integer"},
                            "weight": {"type": "integer"}, "paths": {"type": "array", "items": {"type": "string"}}
                        }}
                    },
                    "steps": {"type": "array", "items": {"type": "object", "properties": {"run": {"type": "string"}}}},
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}},
                    "settings": {"type": "object", "additionalProperties": {"type": "string"}},
                    "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "mode": {"type": "string"}
                }
            }
        }
    })
}

fn custom(r: &mut Rng) -> Value {
    let mut spec = serde_json::Map::new();
    if r.chance(50) {
        spec.insert("tags".into(), json!(r.subset(&["t1", "t2", "t3"])));
    }
    if r.chance(60) {
        let mut rules = Vec::new();
        let mut seen = Vec::new();
        for host in r.subset(&["h1", "h2"]) {
            for port in r.subset(&["1", "2"]) {
                if seen.contains(&(host, port)) {
                    continue;
                }
                seen.push((host, port));
                let mut rule = json!({"host": host, "port": port.parse::<i64>().unwrap_or(1)});
                if r.chance(50) {
                    rule["weight"] = json!(r.below(3));
                }
                if r.chance(30) {
                    rule["paths"] = json!(r.subset(&["/a", "/b"]));
                }
                rules.push(rule);
            }
        }
        spec.insert("rules".into(), json!(rules));
    }
    if r.chance(30) {
        let steps: Vec<Value> = r
            .subset(&["s1", "s2"])
            .into_iter()
            .map(|s| json!({"run": s}))
            .collect();
        spec.insert("steps".into(), json!(steps));
    }
    if r.chance(30) {
        spec.insert("selector".into(), string_map(r, &["a", "b"], &["x", "y"]));
    }
    if r.chance(40) {
        spec.insert(
            "settings".into(),
            string_map(r, &["k1", "k2", "k3"], &["x", "y"]),
        );
    }
    if r.chance(40) {
        spec.insert("values".into(), untyped_value(r, 2));
    }
    if r.chance(40) {
        spec.insert("mode".into(), json!(r.pick(&["a", "b"])));
    }
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

fn untyped_value(r: &mut Rng, depth: u32) -> Value {
    let mut m = serde_json::Map::new();
    for k in r.subset(&["p", "q", "r"]) {
        let v = match r.below(if depth == 0 { 3 } else { 4 }) {
            0 => json!(r.pick(&["x", "y"])),
            1 => json!(r.below(3)),
            2 => json!(r.subset(&["l1", "l2"])),
            _ => untyped_value(r, depth - 1),
        };
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

fn untyped(r: &mut Rng) -> Value {
    let mut v = untyped_value(r, 3);
    v["apiVersion"] = json!("v1");
    v["kind"] = json!("Thing");
    v
}

fn oracle_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CAPSTAN_SSA_ORACLE") {
        return Some(PathBuf::from(p));
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ssa-oracle/build.sh");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ssa-oracle");
    if out.exists() {
        return Some(out);
    }
    let go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !go
        || !std::path::Path::new("/usr/share/gocode/src/sigs.k8s.io/structured-merge-diff").exists()
    {
        return None;
    }
    let st = Command::new(script).arg(&out).status().ok()?;
    st.success().then_some(out)
}

struct Oracle {
    bin: PathBuf,
}

impl Oracle {
    fn run(&self, schema: &Value, cases: &[Value]) -> Vec<Value> {
        let dir = tempfile::tempdir().expect("temp dir");
        let schema_path = dir.path().join("schema.json");
        std::fs::write(&schema_path, schema.to_string()).expect("write schema");
        let mut child = Command::new(&self.bin)
            .arg(&schema_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the oracle");
        let mut input = String::new();
        for c in cases {
            input.push_str(&c.to_string());
            input.push('\n');
        }
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("oracle output");
        writer.join().expect("writer").expect("write cases");
        assert!(out.status.success(), "oracle failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("oracle JSON"))
            .collect()
    }
}

fn managers_json(m: &Managers) -> Vec<Value> {
    m.iter()
        .map(|(k, vs)| json!({"key": k, "apiVersion": vs.api_version, "applied": vs.applied, "fieldsV1": vs.set.to_fields_v1()}))
        .collect()
}

fn managers_from(v: &Value) -> Managers {
    let mut out = Managers::new();
    for m in v.as_array().into_iter().flatten() {
        let set = Set::from_fields_v1(&m["fieldsV1"]).expect("oracle fieldsV1");
        out.insert(
            m["key"].as_str().unwrap_or_default().to_string(),
            VersionedSet {
                set,
                api_version: m["apiVersion"].as_str().unwrap_or_default().to_string(),
                applied: m["applied"].as_bool().unwrap_or(false),
            },
        );
    }
    out
}

/// One step: kube-fake's answer in the oracle's shape.
fn ours(
    op: &str,
    ty: &schema::TypeRef,
    live: &Value,
    config: &Value,
    managers: &Managers,
    manager: &str,
    force: bool,
) -> Value {
    if op == "update" {
        return match ssa::update(live, config, ty, "v1", managers.clone(), manager) {
            Ok(m) => json!({"object": config, "managers": managers_json(&m), "conflicts": []}),
            Err(e) => json!({"error": e.to_string()}),
        };
    }
    match ssa::apply(live, config, ty, "v1", managers.clone(), manager, force) {
        Ok((obj, m)) => json!({"object": obj, "managers": managers_json(&m), "conflicts": []}),
        Err(ssa::ApplyError::Conflicts(cs)) => {
            let mut list: Vec<(String, String)> = cs
                .iter()
                .map(|c| (c.manager.clone(), ssa::fieldset::path_string(&c.path)))
                .collect();
            list.sort();
            let conflicts: Vec<Value> = list
                .into_iter()
                .map(|(m, p)| json!({"manager": m, "path": p}))
                .collect();
            json!({"object": null, "managers": [], "conflicts": conflicts})
        }
        Err(e) => json!({"error": e.to_string()}),
    }
}

struct Outcome {
    cases: usize,
    mismatches: Vec<String>,
}

fn play(
    oracle: &Oracle,
    name: &str,
    ty: &schema::TypeRef,
    generate: fn(&mut Rng) -> Value,
    seed: u64,
    sequences: usize,
    steps: usize,
) -> Outcome {
    let (smd, root) = schema::to_smd_schema(ty);
    let mut outcome = Outcome {
        cases: 0,
        mismatches: Vec::new(),
    };
    let mut r = Rng(seed);
    // Sequences run in lockstep: step k of every sequence goes to the oracle in one batch.
    let mut states: Vec<(Value, Managers)> = (0..sequences)
        .map(|_| (json!({}), Managers::new()))
        .collect();
    for step in 0..steps {
        let mut cases = Vec::new();
        let mut plans = Vec::new();
        for (live, managers) in &states {
            let op = if step > 0 && r.chance(20) {
                "update"
            } else {
                "apply"
            };
            let manager = r.pick(&["a", "b", "c"]).to_string();
            let force = r.chance(30);
            let config = if op == "update" {
                // An update writes a whole object: the live one with a generated one merged in.
                kube_fake::patch::merge_patch(live, &generate(&mut r))
            } else {
                generate(&mut r)
            };
            cases.push(json!({
                "op": op, "root": root, "live": live, "config": config,
                "managers": managers_json(managers), "manager": manager, "force": force,
            }));
            plans.push((op, config, manager, force));
        }
        let theirs = oracle.run(&smd, &cases);
        assert_eq!(
            theirs.len(),
            cases.len(),
            "{name}: oracle answered every case"
        );
        for (i, ((op, config, manager, force), want)) in plans.into_iter().zip(theirs).enumerate() {
            let (live, managers) = &states[i];
            let got = ours(op, ty, live, &config, managers, &manager, force);
            outcome.cases += 1;
            if let Some(diff) = differ(&got, &want) {
                if outcome.mismatches.len() < 5 {
                    outcome.mismatches.push(format!(
                        "{name} seq {i} step {step} op {op} manager {manager} force {force}: {diff}\n  live: {live}\n  managers: {}\n  config: {config}\n  ours: {got}\n  oracle: {want}",
                        json!(managers_json(managers))
                    ));
                } else {
                    outcome.mismatches.push(String::new());
                }
            }
            // Continue from the oracle's state.
            if want.get("error").is_none() && want["conflicts"].as_array().is_none_or(Vec::is_empty)
            {
                let next = if want["object"].is_null() {
                    live.clone()
                } else {
                    want["object"].clone()
                };
                states[i] = (next, managers_from(&want["managers"]));
            }
        }
    }
    outcome
}

fn differ(got: &Value, want: &Value) -> Option<String> {
    let got_err = got.get("error").is_some();
    let want_err = want.get("error").is_some();
    if got_err || want_err {
        return (got_err != want_err).then(|| "one side failed".to_string());
    }
    if got["conflicts"] != want["conflicts"] {
        return Some("conflicts differ".into());
    }
    if !want["conflicts"].as_array().is_none_or(Vec::is_empty) {
        return None;
    }
    if got["object"] != want["object"] {
        return Some("objects differ".into());
    }
    let a: BTreeMap<String, (Set, bool)> = managers_from(&got["managers"])
        .into_iter()
        .map(|(k, v)| (k, (v.set, v.applied)))
        .collect();
    let b: BTreeMap<String, (Set, bool)> = managers_from(&want["managers"])
        .into_iter()
        .map(|(k, v)| (k, (v.set, v.applied)))
        .collect();
    (a != b).then(|| "managers differ".to_string())
}

#[test]
fn server_side_apply_agrees_with_structured_merge_diff() {
    let Some(bin) = oracle_binary() else {
        if std::env::var("CAPSTAN_REQUIRE_SSA_ORACLE").is_ok_and(|v| v == "1") {
            panic!(
                "CAPSTAN_REQUIRE_SSA_ORACLE=1 but the SSA oracle is not available (set CAPSTAN_SSA_ORACLE or install golang-go and golang-k8s-sigs-structured-merge-diff-dev)"
            );
        }
        eprintln!(
            "skipped: no SSA oracle (install golang-go and golang-k8s-sigs-structured-merge-diff-dev, or set CAPSTAN_SSA_ORACLE)"
        );
        return;
    };
    let oracle = Oracle { bin };
    let deployment_ty =
        schema::builtin_kind("apps", "v1", "Deployment").expect("Deployment schema");
    let crd_ty = schema::from_openapi_v3(&crd_schema());
    let untyped_ty = schema::TypeRef::Untyped;
    let runs = [
        play(
            &oracle,
            "deployment",
            &deployment_ty,
            deployment,
            0x5eed_0001,
            400,
            10,
        ),
        play(&oracle, "crd", &crd_ty, custom, 0x5eed_0002, 300, 10),
        play(
            &oracle,
            "untyped",
            &untyped_ty,
            untyped,
            0x5eed_0003,
            200,
            10,
        ),
    ];
    let cases: usize = runs.iter().map(|o| o.cases).sum();
    let mismatches: Vec<&String> = runs.iter().flat_map(|o| o.mismatches.iter()).collect();
    eprintln!(
        "SSA oracle: {cases} generated cases, {} disagreements",
        mismatches.len()
    );
    let shown: Vec<&&String> = mismatches
        .iter()
        .filter(|m| !m.is_empty())
        .take(5)
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases disagree with structured-merge-diff; first ones:\n{}",
        mismatches.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
