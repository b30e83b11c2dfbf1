//! Property tests over the parsers that read untrusted text: Helm version constraints, chart
//! repository URLs, chart archives, OCI references and `WWW-Authenticate` challenges, the
//! post-build substitution expander (and its YAML read-back), `.sourceignore` rules and
//! `valuesFrom[].targetPath`. Each property says "no panic, a bounded answer" on random input,
//! and where a reference is simple enough (semver with plain operators, challenge parameters)
//! that the parser agrees with it. Cases are modest so the suite stays fast; the hostile shapes
//! (thousands of `||`, deep nesting, millions of `..`) are fixed tests at the end.

use std::collections::BTreeMap;
use std::path::Path;

use capstan_core::{Fs, MemFs, Value};
use capstan_flux::charts::oci::Repository;
use capstan_flux::charts::oci::auth::Challenge;
use capstan_flux::charts::{archive, http, semver};
use capstan_flux::helm::set_value::set_target_path;
use capstan_flux::source::ignore::SourceIgnore;
use capstan_flux::substitute::{self, ExpandError, SubstituteOptions, expand};
use proptest::prelude::*;
use serde_json::json;

/// 256 cases each, or `CAPSTAN_PROPTEST_CASES` for a longer run.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("CAPSTAN_PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text over `alphabet`, up to `max` characters.
fn text_of(alphabet: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..max).prop_map(|parts| parts.concat())
}

// ---------------------------------------------------------------------------------------------
// semver

type Triple = (u64, u64, u64);

fn triple() -> impl Strategy<Value = Triple> {
    (0u64..4, 0u64..4, 0u64..4)
}

/// A comparison with a plain operator and a full version, and its reference meaning.
#[derive(Debug, Clone)]
struct Comparison {
    op: &'static str,
    version: Triple,
    /// Written as `X.Y` (a partial version) instead of `X.Y.Z`.
    partial: bool,
}

impl Comparison {
    fn text(&self) -> String {
        let (a, b, c) = self.version;
        if self.partial {
            format!("{}{a}.{b}", self.op)
        } else {
            format!("{}{a}.{b}.{c}", self.op)
        }
    }

    /// What Masterminds semver means by it, written out by hand.
    fn matches(&self, v: Triple) -> bool {
        let (a, b, c) = self.version;
        if self.partial {
            // `X.Y` is the range [X.Y.0, X.(Y+1).0).
            let lo = (a, b, 0);
            let hi = (a, b + 1, 0);
            return match self.op {
                "" | "=" | "~" => lo <= v && v < hi,
                "!=" => !(lo <= v && v < hi),
                ">" => v >= hi,
                ">=" => v >= lo,
                "<" => v < lo,
                "<=" => v < hi,
                "^" if a > 0 => lo <= v && v < (a + 1, 0, 0),
                "^" => lo <= v && v < hi,
                other => unreachable!("operator {other}"),
            };
        }
        let con = (a, b, c);
        match self.op {
            "" | "=" => v == con,
            "!=" => v != con,
            ">" => v > con,
            ">=" => v >= con,
            "<" => v < con,
            "<=" => v <= con,
            // Masterminds' quirk: `~0.0.0` is `>=0.0.0`.
            "~" if con == (0, 0, 0) => true,
            "~" => con <= v && v < (a, b + 1, 0),
            "^" if a > 0 => con <= v && v < (a + 1, 0, 0),
            "^" if b > 0 => con <= v && v < (0, b + 1, 0),
            "^" => v == con,
            other => unreachable!("operator {other}"),
        }
    }
}

fn comparison() -> impl Strategy<Value = Comparison> {
    (
        prop::sample::select(&["", "=", "!=", ">", ">=", "<", "<=", "~", "^"][..]),
        triple(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(op, version, partial)| Comparison {
            op,
            version,
            partial,
        })
}

/// OR groups of AND-ed comparisons.
fn constraint() -> impl Strategy<Value = Vec<Vec<Comparison>>> {
    prop::collection::vec(prop::collection::vec(comparison(), 1..4), 1..4)
}

fn parse_triple(text: &str) -> Triple {
    let mut parts = text.trim_start_matches('v').split('.').map(|p| {
        p.parse::<u64>()
            .unwrap_or_else(|_| panic!("candidate {text}"))
    });
    let mut next = || parts.next().unwrap_or_else(|| panic!("candidate {text}"));
    (next(), next(), next())
}

proptest! {
    #![proptest_config(config())]

    /// `resolve` picks the highest version the hand-written reference accepts.
    #[test]
    fn semver_resolve_agrees_with_a_reference(
        groups in constraint(),
        separator in prop::sample::select(&[" ", ", ", ","][..]),
        candidates in prop::collection::vec((triple(), any::<bool>()), 0..12),
    ) {
        let text = groups
            .iter()
            .map(|g| g.iter().map(Comparison::text).collect::<Vec<_>>().join(separator))
            .collect::<Vec<_>>()
            .join(" || ");
        let names: Vec<String> = candidates
            .iter()
            .map(|((a, b, c), v)| format!("{}{a}.{b}.{c}", if *v { "v" } else { "" }))
            .collect();
        let got = semver::resolve(&text, names.iter().map(String::as_str))
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let wanted = candidates
            .iter()
            .map(|(t, _)| *t)
            .filter(|v| groups.iter().any(|g| g.iter().all(|c| c.matches(*v))))
            .max();
        prop_assert_eq!(got.map(parse_triple), wanted, "constraint {:?}", text);
    }

    /// Any text: a constraint error or an answer, never a panic; the error names the constraint.
    #[test]
    fn semver_never_panics(
        text in text_of(&["1", "0", "9", ".", "x", "*", "v", "-", "+", "rc", " ", ",", "|", "||",
            "=", "!", ">", "<", "~", "^", " - ", "99999999999999999999", "é"], 24),
        candidate in text_of(&["1", "0", ".", "v", "-", "+", "a", "01", "18446744073709551616"], 12),
    ) {
        match semver::resolve(&text, [candidate.as_str(), "1.2.3", "0.0.0-0"]) {
            Ok(_) => {}
            Err(e) => prop_assert_eq!(&e.constraint, &text),
        }
        let _ = semver::compare_versions(&text, &candidate);
        let _ = semver::is_exact(&text);
    }
}

// ---------------------------------------------------------------------------------------------
// chart repository URLs and index.yaml

proptest! {
    #![proptest_config(config())]

    /// A relative chart URL resolves below the repository's host, without dot segments.
    #[test]
    fn chart_urls_stay_on_the_repository_host(
        base in text_of(&["a", "/", "..", ".", "b%2F"], 8),
        reference in text_of(&["a", "/", "..", ".", "?q", "#f", ":", "c.tgz", "é"], 12),
    ) {
        let repository = format!("https://charts.example.com/{base}");
        let url = http::chart_url(&repository, &reference);
        let _ = http::index_url(&repository);
        let relative = !reference.trim().starts_with("//")
            && !reference.split_once(':').is_some_and(|(s, _)| {
                s.starts_with(|c: char| c.is_ascii_alphabetic())
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            });
        if relative {
            prop_assert!(url.starts_with("https://charts.example.com/"), "{url}");
            let path = &url["https://charts.example.com".len()..];
            prop_assert!(
                path.split('/').all(|s| s != "." && s != ".."),
                "dot segment left in {url}"
            );
        }
    }

    /// Any index text: parsed or a `ChartError::Index` naming the URL.
    #[test]
    fn index_parse_never_panics(
        text in text_of(&["entries:", "\n", "  ", "web:", "- ", "version: ", "1.2.3", "urls: [",
            "]", "{", "}", "&a ", "*a", "null", "~", ": ", "digest: x", "\"", "'"], 40),
    ) {
        if let Err(e) = http::Index::parse("https://x.test/index.yaml", &text) {
            prop_assert!(e.to_string().contains("https://x.test/index.yaml"), "{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// chart archives

fn tgz(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, contents.as_slice())
            .expect("in-memory tar");
    }
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .expect("in-memory gzip")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: config().cases / 4, ..config() })]

    /// Truncated, bit-flipped or arbitrary archives are errors (or a chart), never a panic.
    #[test]
    fn archives_never_panic(
        cut in 0.0f64..1.0,
        flips in prop::collection::vec((0.0f64..1.0, 1u8..=255), 0..4),
        noise in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = tgz(&[
            ("web/Chart.yaml".into(), b"apiVersion: v2\nname: web\nversion: 1.0.0\n".to_vec()),
            ("web/templates/a.yaml".into(), b"kind: ConfigMap\n".repeat(50)),
        ]);
        for (at, mask) in flips {
            let i = ((bytes.len() as f64) * at) as usize % bytes.len();
            bytes[i] ^= mask;
        }
        let keep = ((bytes.len() as f64) * cut) as usize;
        bytes.truncate(keep.max(1));
        let _ = archive::unpack(&bytes, "web", Some(("web", "1.0.0")));
        let _ = archive::unpack(&noise, "web", None);
    }
}

// ---------------------------------------------------------------------------------------------
// OCI references and challenges

proptest! {
    #![proptest_config(config())]

    #[test]
    fn oci_references_never_panic_and_round_trip(
        text in text_of(&["oci://", "ghcr.io", "127.0.0.1", ":5000", ":", "/", "a", "B", "-",
            "_", "__", ".", "@sha256", "[::1]", "é", "0"], 12),
    ) {
        if let Ok(repo) = Repository::parse(&text) {
            let again = Repository::parse(&repo.to_string())
                .map_err(|e| TestCaseError::fail(format!("{repo}: {e}")))?;
            prop_assert_eq!(again, repo);
        }
    }

    /// Parameters written as a registry writes them come back as they were.
    #[test]
    fn challenges_round_trip(
        scheme in prop::sample::select(&["Bearer", "Basic", "bearer"][..]),
        params in prop::collection::btree_map("[a-z]{1,6}", "[ -~]{0,12}", 0..4),
    ) {
        let header = format!(
            "{scheme} {}",
            params
                .iter()
                .map(|(k, v)| format!(
                    "{k}=\"{}\"",
                    v.replace('\\', "\\\\").replace('"', "\\\"")
                ))
                .collect::<Vec<_>>()
                .join(",")
        );
        let parsed = Challenge::parse(&header)
            .ok_or_else(|| TestCaseError::fail(format!("{header} did not parse")))?;
        prop_assert_eq!(parsed.scheme, scheme.to_ascii_lowercase());
        prop_assert_eq!(parsed.params, params);
    }

    #[test]
    fn challenges_never_panic(
        header in text_of(&["Bearer", " ", "realm", "=", "\"", "\\", ",", "a", "é", "\t"], 24),
    ) {
        let _ = Challenge::parse(&header);
    }
}

// ---------------------------------------------------------------------------------------------
// substitution

fn lookup(name: &str) -> Option<String> {
    match name {
        "a" => Some("xx".into()),
        "b" => Some(String::new()),
        "c" => Some("a/b}c$".into()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any text: expanded or a syntax/evaluation error, never a panic.
    #[test]
    fn expand_never_panics(
        text in text_of(&["${", "}", "$", "$$", "a", "b", "c", "d", ":", "=", "-", "?", "+", "#",
            "##", "%", "%%", "/", "//", "^", ",", "*", "[", "]", "\\", "0", "1", "-1", "\n",
            "é", "\0", " "], 40),
    ) {
        let _ = expand(&text, &lookup);
    }

    /// Text without `$` comes back unchanged.
    #[test]
    fn expand_leaves_plain_text_alone(text in "[^$\u{0}]{0,40}") {
        prop_assert_eq!(expand(&text, &lookup).ok(), Some(text));
    }

    /// Whatever the variables hold, the YAML read back after expansion is a value or an error
    /// naming the object.
    #[test]
    fn substituted_objects_read_back_or_fail_clearly(
        value in text_of(&["a", ": ", "- ", "\n", "  ", "{", "}", "[", "]", "&x ", "*x", "'",
            "\"", "#", "yes", "0x1F", "~", "!!str ", "|", "> ", "%", "@", "`"], 16),
    ) {
        let object = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "ns"},
            "data": {"k": "${v}", "plain": "prefix ${v} suffix", "${v}": "key"}
        });
        let vars = BTreeMap::from([("v".to_owned(), value)]);
        let object: Value = serde_json::from_value(object).expect("a value");
        if let Err(e) = substitute::substitute_object(
            &object,
            &vars,
            substitute::Strategy::WithVariables,
            SubstituteOptions::default(),
        ) {
            prop_assert!(e.to_string().contains("ConfigMap"), "{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// .sourceignore

proptest! {
    #![proptest_config(ProptestConfig { cases: config().cases / 2, ..config() })]

    #[test]
    fn ignore_rules_never_panic(
        rules in prop::collection::vec(text_of(&["*", "**", "?", "[", "]", "!", "/", "\\", "a",
            "b", ".", "-", "^", " ", "é", "#"], 10), 0..5),
        path in prop::collection::vec(text_of(&["a", "b", ".", "*", "[", "é", "-"], 4), 1..5),
        is_dir in any::<bool>(),
    ) {
        let fs = MemFs::new();
        fs.add_file(Path::new("repo/.sourceignore"), rules.join("\n").into_bytes());
        fs.add_file(Path::new("repo/sub/.sourceignore"), rules.join("\n").into_bytes());
        let ignore = SourceIgnore::scan(&fs, Path::new("repo"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let compiled = ignore.rules_for(Some(&rules.join("\n")));
        let parts: Vec<&str> = path.iter().map(String::as_str).filter(|p| !p.is_empty()).collect();
        let _ = compiled.excludes(&parts, is_dir);
    }
}

// ---------------------------------------------------------------------------------------------
// valuesFrom targetPath

proptest! {
    #![proptest_config(config())]

    #[test]
    fn target_paths_never_panic(
        path in text_of(&["a", "b", ".", "[", "]", "0", "1", "-1", "65537", "\\", ",", "=", "é"],
            16),
        value in text_of(&["x", ",", "=", "{", "}", "'", "\"", "\\", "[", "]", "1", "true", "."],
            12),
        literal in any::<bool>(),
    ) {
        let mut values = capstan_core::Map::new();
        values.insert("b".into(), Value::from(1));
        let _ = set_target_path(&mut values, &path, &value, literal);
    }
}

// ---------------------------------------------------------------------------------------------
// hostile shapes, each once

#[test]
fn thousands_of_alternatives_and_huge_candidates_lists() {
    let constraint = vec![">=1.0.0 <1.0.1"; 5000].join(" || ") + " || 7.x";
    let candidates: Vec<String> = (0..2000).map(|i| format!("{}.{}.0", i % 10, i)).collect();
    let got = semver::resolve(&constraint, candidates.iter().map(String::as_str)).unwrap();
    assert_eq!(got, Some("7.1997.0"));
    let bad = vec!["1.0.0"; 5000].join(" || ") + " || >>2";
    let err = semver::resolve(&bad, ["1.0.0"]).unwrap_err();
    assert!(err.to_string().contains(">>2"), "{err}");
}

#[test]
fn a_million_dot_segments() {
    let reference = "../".repeat(1_000_000) + "c.tgz";
    let url = http::chart_url("https://h.test/charts/", &reference);
    assert_eq!(url, "https://h.test/c.tgz");
}

#[test]
fn nested_global_replacements_are_bounded() {
    // Each level doubles the length: 64 levels would ask for 2^64 bytes.
    let depth = 64;
    let text = "${a//x/".repeat(depth) + "xx" + &"}".repeat(depth);
    let err = expand(&text, &lookup).unwrap_err();
    assert!(matches!(err, ExpandError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("more than"), "{err}");
    // Shallow nesting still works.
    let text = "${a//x/".repeat(3) + "y" + &"}".repeat(3);
    assert_eq!(expand(&text, &lookup).unwrap(), "y".repeat(8));
}

#[test]
fn deeply_nested_expressions_cost_heap_not_stack() {
    let depth = 200_000;
    let text = "${d:=".repeat(depth) + "end" + &"}".repeat(depth);
    assert_eq!(expand(&text, &lookup).unwrap(), "end");
    let unclosed = "${d:=".repeat(depth);
    assert!(expand(&unclosed, &lookup).is_err());
}

#[test]
fn deep_target_paths_are_errors_not_stack_overflows() {
    for path in [
        "a".to_owned() + &"[0]".repeat(100_000),
        "a[0].".repeat(100_000) + "b",
    ] {
        let mut values = capstan_core::Map::new();
        let err = set_target_path(&mut values, &path, "x", false).unwrap_err();
        assert!(err.to_string().contains("levels deep"), "{err}");
    }
    // Reasonable nesting is fine.
    let mut values = capstan_core::Map::new();
    set_target_path(&mut values, "a[0][1].b[2].c", "x", false).unwrap();
    assert_eq!(values["a"][0][1]["b"][2]["c"], Value::from("x"));
}

#[test]
fn long_ignore_rules_and_deep_paths() {
    let rule = "**/".repeat(2_000) + "x*y*z*";
    let fs = MemFs::new();
    fs.add_file(Path::new("repo/.sourceignore"), rule.into_bytes());
    let rules = SourceIgnore::scan(&fs, Path::new("repo"))
        .unwrap()
        .rules_for(None);
    let deep: Vec<String> = (0..10_000).map(|i| format!("d{i}")).collect();
    let mut parts: Vec<&str> = deep.iter().map(String::as_str).collect();
    parts.push("xayaza");
    assert!(rules.excludes(&parts, false));
    let long = "x".repeat(20_000);
    parts.pop();
    parts.push(&long);
    assert!(!rules.excludes(&parts, false));
    let _ = fs.is_file(Path::new("repo/.sourceignore"));
}

#[test]
fn trimming_a_long_value_is_one_pass() {
    // Trying every prefix with its own match was quadratic: 32 KiB took seconds per expression.
    let value = "x".repeat(200_000) + "y" + &"x".repeat(10);
    let look = move |name: &str| (name == "v").then(|| value.clone());
    assert_eq!(expand("${v#*y}", &look).unwrap(), "x".repeat(10));
    assert_eq!(expand("${v##*x}", &look).unwrap(), "");
    assert_eq!(expand("${v%%y*}", &look).unwrap(), "x".repeat(200_000));
    assert_eq!(expand("${v##*z*}", &look).unwrap().len(), 200_011);
}
