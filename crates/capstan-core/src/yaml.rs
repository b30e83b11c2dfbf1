//! The multi-document YAML codec.
//!
//! Reading follows kustomize (kyaml, YAML 1.2 core schema with a few YAML 1.1 leftovers): only
//! `true`/`false` are booleans (`on`, `yes`, `y` stay strings), legacy octal `017` is a number,
//! and alias expansion is bounded so an alias bomb is an error rather than an exhausted machine.
//!
//! Writing follows the path kustomize takes to print objects (object → JSON → YAML through
//! sigs.k8s.io/yaml and go-yaml v2): keys sorted, sequences under a key not indented, strings
//! that would read back as another type double-quoted, strings that cannot be plain
//! single-quoted, multi-line strings as literal blocks, long plain strings folded near 80 columns.

use std::fmt::Write as _;

use crate::Value;

/// A YAML document that could not be read.
#[derive(Debug, thiserror::Error)]
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
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    serde_saphyr::from_multiple_with_options::<Value>(text, read_options()).map_err(to_yaml_error)
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

/// Serialises one value as a YAML document in kustomize's output form (no leading `---`).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, value, 0),
        Value::Array(items) if !items.is_empty() => write_sequence(&mut out, value, 0),
        scalar => {
            out.push_str(&scalar_text(scalar, 0));
            out.push('\n');
        }
    }
    out
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

fn sorted_entries(value: &Value) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = value
        .as_object()
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn write_mapping(out: &mut String, value: &Value, indent: usize) {
    for (key, item) in sorted_entries(value) {
        push_indent(out, indent);
        out.push_str(&key_text(key));
        out.push(':');
        write_value_after_key(out, item, indent);
    }
}

fn write_value_after_key(out: &mut String, item: &Value, indent: usize) {
    match item {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_mapping(out, item, indent + 2);
        }
        // go-yaml v2 does not indent a sequence that is the value of a mapping key.
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_sequence(out, item, indent);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, indent + 2));
            out.push('\n');
        }
    }
}

fn write_sequence(out: &mut String, value: &Value, indent: usize) {
    for item in value.as_array().into_iter().flatten() {
        push_indent(out, indent);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key shares the line with the dash.
                let mut first = true;
                for (key, inner) in sorted_entries(item) {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        push_indent(out, indent + 2);
                    }
                    out.push_str(&key_text(key));
                    out.push(':');
                    write_value_after_key(out, inner, indent + 2);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                out.push(' ');
                // A nested sequence starts on the dash's line.
                let mut nested = String::new();
                write_sequence(&mut nested, item, indent + 2);
                out.push_str(nested.trim_start());
            }
            scalar => {
                out.push(' ');
                out.push_str(&scalar_text(scalar, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn key_text(key: &str) -> String {
    string_text(key, 0, true)
}

fn scalar_text(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_text(n),
        Value::String(s) => string_text(s, indent, false),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
    }
}

/// Numbers as Go prints them after a trip through JSON: integers as integers, floats in the
/// shortest form that reads back (`1.0` → `1`, `1e3` → `1000`, large exponents as `1e+21`).
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    let abs = f.abs();
    if (1e-4..1e21).contains(&abs) {
        format!("{f}")
    } else {
        // Go's 'g' style exponent: e+21, e-05.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                let digits = if digits.len() < 2 {
                    format!("0{digits}")
                } else {
                    digits.to_owned()
                };
                format!("{mantissa}e{sign}{digits}")
            }
            None => s,
        }
    }
}

/// True when a plain scalar with this text would be read back as something other than a string
/// by a YAML 1.1 reader (go-yaml v2), so it must be double-quoted.
pub fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null", "NULL",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<", "=",
    ];
    if s.is_empty() || SPECIAL.contains(&s) {
        return true;
    }
    looks_numeric(s) || looks_like_timestamp(s)
}

fn looks_numeric(s: &str) -> bool {
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if body.is_empty() {
        return false;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(bin) = body.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1');
    }
    if body.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    // Sexagesimal (YAML 1.1): 1:30
    if body.contains(':')
        && body
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && body
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() && c != '0')
    {
        return true;
    }
    plain.parse::<f64>().is_ok()
        && !body
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn can_be_plain(s: &str, is_key: bool) -> bool {
    let first = match s.chars().next() {
        Some(c) => c,
        None => return false,
    };
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with('\t') || s.ends_with('\t') {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-foo`, `?foo` and `:foo` are plain when followed by a non-space.
        let rest = &s[first.len_utf8()..];
        let allowed =
            matches!(first, '-' | '?' | ':') && !rest.is_empty() && !rest.starts_with(' ');
        if !allowed {
            return false;
        }
    }
    if s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains('\n')
        || s.contains('\t')
    {
        return false;
    }
    if is_key && (s.contains('[') || s.contains('{') || s.contains(',')) {
        return false;
    }
    if s.chars().any(|c| c.is_control() || c == '\u{feff}') {
        return false;
    }
    if s == "---" || s.starts_with("--- ") || s == "..." {
        return false;
    }
    true
}

fn needs_double_quotes(s: &str) -> bool {
    s.chars().any(|c| {
        (c.is_control() && c != '\n')
            || c == '\u{feff}'
            || c == '\u{85}'
            || c == '\u{2028}'
            || c == '\u{2029}'
    })
}

fn string_text(s: &str, indent: usize, is_key: bool) -> String {
    if resolves_to_non_string(s) || needs_double_quotes(s) {
        return double_quoted(s);
    }
    if !is_key && s.contains('\n') {
        return literal_block(s, indent);
    }
    if can_be_plain(s, is_key) {
        return fold_plain(s, indent);
    }
    format!("'{}'", s.replace('\'', "''"))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if c.is_control() || c == '\u{feff}' => {
                let code = c as u32;
                if code <= 0xff {
                    let _ = write!(out, "\\x{code:02X}");
                } else {
                    let _ = write!(out, "\\u{code:04X}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn literal_block(s: &str, indent: usize) -> String {
    let chomp = if s.ends_with("\n\n") || (s.ends_with('\n') && s.trim_end_matches('\n').is_empty())
    {
        "+"
    } else if s.ends_with('\n') {
        ""
    } else {
        "-"
    };
    let indent_hint = if s.starts_with(' ') || s.starts_with('\n') {
        "2"
    } else {
        ""
    };
    let mut out = format!("|{indent_hint}{chomp}");
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            push_indent(&mut out, indent);
            out.push_str(line);
        }
    }
    out
}

/// Folds a long plain scalar at spaces so no line runs much past 80 columns, as go-yaml's
/// emitter does: a break is taken at a space once the column exceeds the best width.
fn fold_plain(s: &str, indent: usize) -> String {
    const BEST_WIDTH: usize = 80;
    if s.len() + indent <= BEST_WIDTH || !s.contains(' ') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut column = indent;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' '
            && column > BEST_WIDTH
            && i + 1 < chars.len()
            && chars[i + 1] != ' '
            && i > 0
            && chars[i - 1] != ' '
        {
            out.push('\n');
            push_indent(&mut out, indent);
            column = indent;
        } else {
            out.push(c);
            column += 1;
        }
        i += 1;
    }
    out
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
