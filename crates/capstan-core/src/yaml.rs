//! The multi-document YAML codec.
//!
//! Reading follows kustomize (kyaml, YAML 1.2 core schema with a few YAML 1.1 leftovers): only
//! `true`/`false` are booleans (`on`, `yes`, `y` stay strings), legacy octal `017` is a number,
//! and alias expansion is bounded so an alias bomb is an error rather than an exhausted machine.
//!
//! A folded block scalar (`>`) reads as kustomize hands it on, go-yaml v3's print-and-reread
//! included (`folded`); [`null_texts`] tells `key:` apart from `key: null`.
//!
//! Writing follows the path kustomize takes to print objects (object → JSON → YAML through
//! sigs.k8s.io/yaml and go-yaml v2): keys sorted, sequences under a key not indented, strings
//! that would read back as another type double-quoted, strings that cannot be plain
//! single-quoted, multi-line strings as literal blocks, long plain strings folded near 80 columns.

use crate::Value;

/// A YAML document that could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// The parser's message, with line and column where it knows them.
    pub message: String,
    /// The 1-based line of the problem, when known.
    pub line: Option<usize>,
}

fn read_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.legacy_octal_numbers = true;
    options.with_snippet = false;
    options
}

/// Parses a stream of YAML documents. Empty documents come back as `Value::Null`; callers that
/// want only objects filter them out.
///
/// Results are remembered by text for the life of the process (up to [`MEMO_BYTES`] of text):
/// one command reads the same repository files several times (discovery, then the build; both
/// sides of a diff), and copying a parsed stream costs a fraction of parsing it again.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    if let Some(parsed) = memo::get(text) {
        return parsed.as_ref().clone();
    }
    let parsed = serde_saphyr::from_multiple_with_options::<Value>(text, read_options())
        .map_err(to_yaml_error)
        .map(|mut docs| {
            folded::apply(text, &mut docs);
            folded::unterminated_last_block(text, &mut docs);
            docs
        });
    let parsed = std::sync::Arc::new(parsed);
    memo::put(text, parsed.clone());
    match std::sync::Arc::try_unwrap(parsed) {
        Ok(owned) => owned,
        Err(shared) => shared.as_ref().clone(),
    }
}

/// How much text [`parse_documents`] remembers parses of.
pub const MEMO_BYTES: usize = 64 << 20;

mod memo {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};

    use super::{MEMO_BYTES, YamlError};
    use crate::Value;

    type Parsed = Arc<Result<Vec<Value>, YamlError>>;

    #[derive(Default)]
    struct Memo {
        by_text: HashMap<String, Parsed>,
        bytes: usize,
    }

    static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(Mutex::default);

    pub(super) fn get(text: &str) -> Option<Parsed> {
        MEMO.lock().ok()?.by_text.get(text).cloned()
    }

    pub(super) fn put(text: &str, parsed: Parsed) {
        let Ok(mut memo) = MEMO.lock() else {
            return;
        };
        if memo.bytes + text.len() > MEMO_BYTES || memo.by_text.contains_key(text) {
            return;
        }
        memo.bytes += text.len();
        memo.by_text.insert(text.to_owned(), parsed);
    }
}

/// Parses exactly one YAML document the way go-yaml v2 reads it (kustomize reads
/// `kustomization.yaml` so): YAML 1.1 booleans (`yes`, `on`, …), and a repeated mapping key
/// keeps its last value.
pub fn parse_document_go_yaml_v2(text: &str) -> Result<Value, YamlError> {
    let mut options = read_options();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.strict_booleans = false;
    let mut docs =
        serde_saphyr::from_multiple_with_options::<Value>(text, options).map_err(to_yaml_error)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.pop().expect("one document")),
        n => Err(YamlError {
            message: format!("expected one YAML document, found {n}"),
            line: None,
        }),
    }
}

/// Parses exactly one YAML document (an empty input is `Value::Null`).
pub fn parse_document(text: &str) -> Result<Value, YamlError> {
    let mut docs = parse_documents(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.pop().expect("one document")),
        n => Err(YamlError {
            message: format!("expected one YAML document, found {n}"),
            line: None,
        }),
    }
}

fn to_yaml_error(error: serde_saphyr::Error) -> YamlError {
    let line = error.location().map(|l| l.line() as usize);
    YamlError {
        message: error.to_string(),
        line,
    }
}

mod emit;
mod folded;
mod null_text;
mod resolve;

pub use null_text::{NullText, PathSeg, null_texts};

pub use emit::{go_format_g, key_order};

/// Serialises one value as a YAML document in kustomize's output form (no leading `---`).
pub fn to_yaml(value: &Value) -> String {
    emit::document(value)
}

/// Serialises a list of objects as a multi-document stream separated by `---`, as
/// `kubectl kustomize` prints them.
pub fn to_yaml_stream<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(value));
    }
    out
}

/// The 1-based line where each document of `text` begins (its first line of content), in the
/// order [`parse_documents`] returns the documents — which leaves out documents with no content.
///
/// Read from the text alone: a line that is `---` (or `...`) at column 0 is always a document
/// marker in YAML, whatever scalar it would otherwise sit in. A document whose only content is a
/// null (`--- ~`) is counted here but not by the parser: callers that must not guess compare the
/// count with [`parse_documents`]'s.
pub fn document_lines(text: &str) -> Vec<usize> {
    let marker = |line: &str, mark: &str| {
        line.strip_prefix(mark)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
    };
    let is_content = |line: &str| {
        let t = line.trim();
        !t.is_empty() && !t.starts_with('#')
    };
    let mut out = Vec::new();
    // the current document: whether a `---` opened it, and its first line of content
    let mut after_marker = false;
    let mut content_line: Option<usize> = None;
    let mut finish = |content_line: Option<usize>| out.extend(content_line);
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if marker(line, "---") {
            finish(content_line);
            after_marker = true;
            let rest = line[3..].trim();
            content_line = (!rest.is_empty() && !rest.starts_with('#')).then_some(number);
        } else if marker(line, "...") {
            finish(content_line);
            after_marker = false;
            content_line = None;
        } else if content_line.is_none() && is_content(line) {
            // directives (`%YAML`) come before a marker and belong to no content
            if !after_marker && line.starts_with('%') {
                continue;
            }
            content_line = Some(number);
        }
    }
    finish(content_line);
    out
}

/// True when a plain scalar with this text would be read back as something other than a string
/// by a YAML 1.1 reader (go-yaml v2), so it must be double-quoted.
pub fn resolves_to_non_string(s: &str) -> bool {
    resolve::resolve(s) != resolve::Resolved::Str || resolve::is_base60_float(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_kustomize_scalars() {
        let docs = parse_documents("a: on\nb: yes\nc: true\nd: 017\ne: 1.0\n---\nx: 1\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["a"], json!("on"));
        assert_eq!(docs[0]["b"], json!("yes"));
        assert_eq!(docs[0]["c"], json!(true));
        assert_eq!(docs[0]["d"], json!(15));
    }

    /// Each document's first line, counted as the parser counts documents (empty ones too).
    #[test]
    fn document_lines_follow_the_parsers_documents() {
        let cases: &[(&str, &[usize])] = &[
            ("a: 1\n", &[1]),
            (
                "# header\n---\napiVersion: v1\nkind: A\n---\n# c\nb: 2\n",
                &[3, 7],
            ),
            ("---\na: 1\n---\n---\nb: 2\n", &[2, 5]),
            ("---\n# nothing\n---\nb: 2\n", &[4]),
            ("a: |\n  ---\n  text\n---\nb: 1\n", &[1, 5]),
            ("--- |\n  block\n---\nc: 1\n", &[1, 4]),
            ("%YAML 1.2\n---\na: 1\n", &[3]),
            ("a: 1\n...\n---\nb: 1\n", &[1, 4]),
            ("# only a comment\n", &[]),
            ("", &[]),
            ("a: 1\n---\n", &[1]),
        ];
        for (text, want) in cases {
            assert_eq!(&document_lines(text), want, "{text:?}");
            let parsed = parse_documents(text).expect("parses");
            assert_eq!(parsed.len(), want.len(), "parser's documents of {text:?}");
        }
    }

    #[test]
    fn rejects_malformed() {
        let err = parse_documents("a: [1, 2\nb: c\n").unwrap_err();
        assert!(!err.message.is_empty());
    }

    #[test]
    fn bounds_alias_bombs() {
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
        assert!(parse_documents(bomb).is_err());
    }

    #[test]
    fn writes_kustomize_form() {
        let v = json!({"kind": "ConfigMap", "apiVersion": "v1",
                       "data": {"on": "yes", "n": "1", "s": "a: b", "m": "l1\nl2\n", "e": ""},
                       "list": [{"b": 1, "a": [1, 2]}, "x"], "empty": {}, "none": []});
        let expected = "apiVersion: v1\ndata:\n  e: \"\"\n  m: |\n    l1\n    l2\n  \"n\": \"1\"\n  \"on\": \"yes\"\n  s: 'a: b'\nempty: {}\nkind: ConfigMap\nlist:\n- a:\n  - 1\n  - 2\n  b: 1\n- x\nnone: []\n";
        assert_eq!(to_yaml(&v), expected);
    }

    #[test]
    fn numbers_normalised() {
        let docs = parse_documents("a: 1.0\nb: 1e3\nc: 1.5\n").unwrap();
        assert_eq!(to_yaml(&docs[0]), "a: 1\nb: 1000\nc: 1.5\n");
    }
}
