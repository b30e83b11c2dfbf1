//! Writing a JSON value as YAML with the same bytes `kubectl kustomize` prints for an object
//! (`sigs.k8s.io/yaml`'s `JSONToYAML`, which round-trips the JSON through go-yaml v2). The
//! writer is a plain recursive walk: block mappings with go-yaml's key order, sequences under a
//! mapping key at the key's own indentation, `{}` / `[]` for empty collections, and one style
//! decision per string (plain, single-quoted, double-quoted or a literal block) made from what
//! the text contains and from `super::resolve`, which says whether it would read back as
//! something other than a string. Long plain and quoted strings are folded at spaces once a line
//! passes 80 columns, as kustomize output does.

use std::cmp::Ordering;

use crate::Value;

use super::resolve::{Resolved, is_base60_float, resolve};

/// Indentation step for nested blocks.
const STEP: usize = 2;
/// A plain or quoted string may be folded at a space once the line is longer than this.
const FOLD_AFTER: usize = 80;
/// Keys longer than this (in bytes) are written in the explicit `? key` form.
const MAX_INLINE_KEY: usize = 128;

/// One document, as `JSONToYAML` writes it.
pub fn document(value: &Value) -> String {
    let mut w = Writer::default();
    match value {
        Value::Object(map) if !map.is_empty() => w.mapping(map, 0, false),
        Value::Array(items) if !items.is_empty() => w.sequence(items, 0, false),
        other => w.leaf(other, STEP, false, false),
    }
    w.end_line();
    w.out
}

/// The output so far and the column the next character lands in.
#[derive(Default)]
struct Writer {
    out: String,
    col: usize,
}

impl Writer {
    fn push(&mut self, c: char) {
        self.out.push(c);
        self.col += 1;
    }

    fn push_str(&mut self, s: &str) {
        self.out.push_str(s);
        self.col += s.chars().count();
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.col = 0;
    }

    /// Finishes the current line unless a block scalar already did.
    fn end_line(&mut self) {
        if self.col != 0 {
            self.newline();
        }
    }

    /// Moves to `indent` on a fresh line (or on the current one when it is still empty).
    fn line_at(&mut self, indent: usize) {
        self.end_line();
        self.pad_to(indent);
    }

    fn pad_to(&mut self, indent: usize) {
        while self.col < indent {
            self.push(' ');
        }
    }

    /// Continues a folded string on the next line at `indent`.
    fn fold(&mut self, indent: usize) {
        self.newline();
        self.pad_to(indent);
    }

    /// A non-empty mapping whose keys sit at `indent`; `inline` when the first key follows a
    /// `- ` already written on this line.
    fn mapping(&mut self, map: &serde_json::Map<String, Value>, indent: usize, inline: bool) {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|a, b| key_order(a.0, b.0));
        for (n, (key, value)) in entries.into_iter().enumerate() {
            if n == 0 && inline {
                self.push(' ');
            } else {
                self.line_at(indent);
            }
            let inline_key = key.len() <= MAX_INLINE_KEY && !key.chars().any(is_line_break);
            if inline_key {
                self.string(key, indent + STEP, true, false);
                self.push(':');
                self.value_after_key(value, indent, true);
            } else {
                self.push('?');
                self.string(key, indent + STEP, false, true);
                self.line_at(indent);
                self.push(':');
                self.value_after_key(value, indent, false);
            }
        }
    }

    /// What follows `key:`. Under an ordinary key a sequence keeps the key's indentation; after
    /// an explicit `? key` line a mapping or sequence starts on the `:` line, indented.
    fn value_after_key(&mut self, value: &Value, indent: usize, inline_key: bool) {
        match value {
            Value::Object(map) if !map.is_empty() => self.mapping(map, indent + STEP, !inline_key),
            Value::Array(items) if !items.is_empty() => {
                if inline_key {
                    self.sequence(items, indent, false);
                } else {
                    self.sequence(items, indent + STEP, true);
                }
            }
            other => self.leaf(other, indent + STEP, false, true),
        }
    }

    /// A non-empty sequence whose dashes sit at `indent`; `inline` when the first dash follows a
    /// `- ` already written on this line.
    fn sequence(&mut self, items: &[Value], indent: usize, inline: bool) {
        for (n, item) in items.iter().enumerate() {
            if n == 0 && inline {
                self.push(' ');
            } else {
                self.line_at(indent);
            }
            self.push('-');
            match item {
                Value::Object(map) if !map.is_empty() => self.mapping(map, indent + STEP, true),
                Value::Array(inner) if !inner.is_empty() => {
                    self.sequence(inner, indent + STEP, true)
                }
                other => self.leaf(other, indent + STEP, false, true),
            }
        }
    }

    /// An empty collection or a scalar; `indent` is where its continuation lines go.
    fn leaf(&mut self, value: &Value, indent: usize, key: bool, spaced: bool) {
        let text = match value {
            Value::String(s) => return self.string(s, indent, key, spaced),
            Value::Object(_) => "{}".to_string(),
            Value::Array(_) => "[]".to_string(),
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => number_text(n),
        };
        if spaced {
            self.push(' ');
        }
        self.push_str(&text);
    }

    /// A string in the style go-yaml picks for it. `key` for a key on its own `key:` line, where
    /// nothing may fold or span lines; `spaced` when a space must separate it from what precedes.
    fn string(&mut self, s: &str, indent: usize, key: bool, spaced: bool) {
        if spaced {
            self.push(' ');
        }
        match style_for(s, key) {
            Style::Plain => self.plain(s, indent, !key),
            Style::Single => self.single_quoted(s, indent, !key),
            Style::Double => self.double_quoted(s, indent, !key),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, may_fold: bool) {
        let chars: Vec<char> = s.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let after_space = i > 0 && chars[i - 1] == ' ';
            if c == ' '
                && may_fold
                && !after_space
                && self.col > FOLD_AFTER
                && chars.get(i + 1) != Some(&' ')
            {
                self.fold(indent);
            } else {
                self.push(c);
            }
        }
    }

    fn single_quoted(&mut self, s: &str, indent: usize, may_fold: bool) {
        let chars: Vec<char> = s.chars().collect();
        let last = chars.len().saturating_sub(1);
        self.push('\'');
        let mut after_break = false;
        for (i, &c) in chars.iter().enumerate() {
            let after_space = i > 0 && chars[i - 1] == ' ';
            if c == ' ' {
                if may_fold
                    && !after_space
                    && self.col > FOLD_AFTER
                    && i != 0
                    && i != last
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.fold(indent);
                } else {
                    self.push(c);
                }
            } else if is_line_break(c) {
                // a break other than '\n' (those strings are never single-quoted): kept as is,
                // and the text after it starts a new indented line
                self.out.push(c);
                self.col = 0;
                after_break = true;
            } else {
                if after_break {
                    self.pad_to(indent);
                    after_break = false;
                }
                if c == '\'' {
                    self.push('\'');
                }
                self.push(c);
            }
        }
        self.push('\'');
    }

    fn double_quoted(&mut self, s: &str, indent: usize, may_fold: bool) {
        let chars: Vec<char> = s.chars().collect();
        let last = chars.len().saturating_sub(1);
        // go-yaml checks for a byte-order mark at the start of the whole string rather than at
        // each character, so such a string comes out fully escaped
        let escape_all = s.starts_with('\u{feff}');
        self.push('"');
        for (i, &c) in chars.iter().enumerate() {
            if let Some(escaped) = escape(c, escape_all) {
                self.push_str(&escaped);
            } else if c == ' ' {
                let after_space = i > 0 && chars[i - 1] == ' ';
                if may_fold && !after_space && self.col > FOLD_AFTER && i != 0 && i != last {
                    // the line break stands for this space; a `\` keeps a following one
                    self.fold(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.push('\\');
                    }
                } else {
                    self.push(' ');
                }
            } else {
                self.push(c);
            }
        }
        self.push('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.push('|');
        let first = s.chars().next();
        if first.is_some_and(|c| c == ' ' || is_line_break(c)) {
            self.push_str(&STEP.to_string());
        }
        self.push_str(chomping(s));
        self.newline();
        let mut line_start = true;
        for c in s.chars() {
            if is_line_break(c) {
                self.out.push(c);
                self.col = 0;
                line_start = true;
            } else {
                if line_start {
                    self.pad_to(indent);
                    line_start = false;
                }
                self.push(c);
            }
        }
    }
}

/// The chomping indicator that keeps a literal block's trailing line breaks exact.
fn chomping(s: &str) -> &'static str {
    let mut tail = s.chars().rev();
    match (tail.next(), tail.next()) {
        (Some(c), _) if !is_line_break(c) => "-",
        (Some(_), None) => "+",
        (Some(_), Some(c)) if is_line_break(c) => "+",
        _ => "",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// Picks the style: multi-line text wants a literal block, text that reads back as a string
/// wants to be plain, anything else is double-quoted; each falls back when its content rules it
/// out (plain → single → double; literal → double).
fn style_for(s: &str, key: bool) -> Style {
    let facts = Facts::of(s);
    let wanted = if s.contains('\n') {
        Style::Literal
    } else if resolve(s) == Resolved::Str && !is_base60_float(s) {
        Style::Plain
    } else {
        Style::Double
    };
    match wanted {
        Style::Plain if facts.plain_ok && !(key && s.is_empty()) => Style::Plain,
        Style::Plain if facts.single_ok => Style::Single,
        Style::Literal if facts.literal_ok && !key && !s.is_empty() => Style::Literal,
        _ => Style::Double,
    }
}

/// Which styles can carry a string unchanged.
struct Facts {
    plain_ok: bool,
    single_ok: bool,
    literal_ok: bool,
}

impl Facts {
    fn of(s: &str) -> Facts {
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        let blank_or_end = |i: usize| i >= n || is_blank_or_break(chars[i]);
        // a leading document marker or indicator, or `: ` / ` #` anywhere, would not read back
        let mut indicator = s.starts_with("---") || s.starts_with("...");
        let mut unprintable = false;
        let mut any_break = false;
        let mut space_then_break = false;
        let mut break_then_space = false;
        for (i, &c) in chars.iter().enumerate() {
            let next_blank = blank_or_end(i + 1);
            if i == 0 {
                indicator |= match c {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\''
                    | '"' | '%' | '@' | '`' => true,
                    '?' | ':' | '-' => next_blank,
                    _ => false,
                };
            } else {
                indicator |= (c == ':' && next_blank) || (c == '#' && blank_or_end(i - 1));
            }
            unprintable |= !printable(c);
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            if is_line_break(c) {
                any_break = true;
                space_then_break |= prev == Some(' ');
            } else if c == ' ' {
                break_then_space |= prev.is_some_and(is_line_break);
            }
        }
        let edge = |c: Option<&char>| c.is_some_and(|&c| c == ' ' || is_line_break(c));
        let bad_edges = edge(chars.first()) || edge(chars.last());
        let trailing_space = chars.last() == Some(&' ');
        let mixed = space_then_break || unprintable;
        Facts {
            plain_ok: !(bad_edges || mixed || break_then_space || any_break || indicator),
            single_ok: !(mixed || break_then_space),
            literal_ok: n > 0 && !(mixed || trailing_space),
        }
    }
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_break(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\0' || is_line_break(c)
}

/// Characters go-yaml writes unescaped (it treats everything beyond the Basic Multilingual
/// Plane as unprintable).
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

fn needs_escape(c: char) -> bool {
    !printable(c) || c == '\u{feff}' || is_line_break(c) || c == '"' || c == '\\'
}

/// The escape sequence a double-quoted string uses for `c`, if it needs one.
fn escape(c: char, always: bool) -> Option<String> {
    if !always && !needs_escape(c) {
        return None;
    }
    let short = match c {
        '\0' => "0",
        '\u{7}' => "a",
        '\u{8}' => "b",
        '\t' => "t",
        '\n' => "n",
        '\u{b}' => "v",
        '\u{c}' => "f",
        '\r' => "r",
        '\u{1b}' => "e",
        '"' => "\"",
        '\\' => "\\",
        '\u{85}' => "N",
        '\u{a0}' => "_",
        '\u{2028}' => "L",
        '\u{2029}' => "P",
        _ => "",
    };
    let code = u32::from(c);
    Some(if !short.is_empty() {
        format!("\\{short}")
    } else if code <= 0xff {
        format!("\\x{code:02X}")
    } else if code <= 0xffff {
        format!("\\u{code:04X}")
    } else {
        format!("\\U{code:08X}")
    })
}

/// go-yaml v2's order for string map keys: compared character by character, a letter sorts
/// after any non-letter, two letters by code point, and where digits meet the whole digit runs
/// are compared as numbers (shorter run first on a tie).
pub fn key_order(a: &str, b: &str) -> Ordering {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) else {
        return a.len().cmp(&b.len());
    };
    let (x, y) = (a[i], b[i]);
    match (x.is_alphabetic(), y.is_alphabetic()) {
        (true, true) => return x.cmp(&y),
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    // a zero in the middle of a number (after a non-zero digit) does not make it smaller
    let mid_number = (x == '0' || y == '0')
        && a[..i]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .find(|&&c| c != '0')
            .is_some();
    let start = i64::from(mid_number);
    let (a_num, a_end) = digit_run(&a, i, start);
    let (b_num, b_end) = digit_run(&b, i, start);
    a_num.cmp(&b_num).then(a_end.cmp(&b_end)).then(x.cmp(&y))
}

/// The value of the ASCII digits starting at `from` (seeded with `start`, wrapping like a Go
/// int64) and where they end.
fn digit_run(s: &[char], from: usize, start: i64) -> (i64, usize) {
    let len = s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let value = s[from..from + len].iter().fold(start, |acc, &d| {
        acc.wrapping_mul(10)
            .wrapping_add(i64::from(u32::from(d) - u32::from('0')))
    });
    (value, from + len)
}

/// A JSON number as kustomize prints it: integers (and floats with no fractional part up to
/// 1e21) as integers, other floats in Go's shortest `%g` form (`1.5`, `1.2345675e+06`, `1e-07`).
pub fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let integral = f.fract() == 0.0 && f.abs() < 1e21;
    match integral {
        // exact up to 2^53; past that the shortest digits that read back as the same double
        true if f.abs() <= 9_007_199_254_740_992.0 => format!("{}", f as i64),
        true => format!("{f}"),
        false => go_format_g(f),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, with YAML's spellings of the infinities and NaN.
pub fn go_format_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the same shortest digits; Go switches to exponent form below 1e-4 and
    // from 1e6 up, writing at least two exponent digits with a sign
    let shortest = format!("{f:e}");
    let (digits, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        format!("{f}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{digits}e{sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Documents written from JSON inputs in `testdata/`, compared with what
    /// `kubectl kustomize --reorder none` printed for the same inputs.
    #[test]
    fn matches_kubectl_kustomize_output() {
        let cases = [
            (
                include_str!("testdata/emit-styles.json"),
                include_str!("testdata/emit-styles.expected.yaml"),
            ),
            (
                include_str!("testdata/emit-layout.json"),
                include_str!("testdata/emit-layout.expected.yaml"),
            ),
        ];
        for (input, expected) in cases {
            let value: Value = serde_json::from_str(input).expect("test input is JSON");
            assert_eq!(document(&value), expected);
        }
    }

    fn one(key: &str, value: Value) -> String {
        let mut map = serde_json::Map::new();
        map.insert(key.to_string(), value);
        document(&Value::Object(map))
    }

    #[test]
    fn plain_unless_it_would_read_back_as_something_else() {
        assert_eq!(one("k", json!("hello world")), "k: hello world\n");
        assert_eq!(one("k", json!("yes")), "k: \"yes\"\n");
        assert_eq!(one("k", json!("0123")), "k: \"0123\"\n");
        assert_eq!(one("k", json!("1:30")), "k: \"1:30\"\n");
        assert_eq!(one("k", json!("")), "k: \"\"\n");
        assert_eq!(one("", json!("v")), "\"\": v\n");
        assert_eq!(one("k", json!("<<")), "k: <<\n");
        assert_eq!(one("k", json!("?x")), "k: ?x\n");
    }

    #[test]
    fn single_quotes_for_indicators_and_edge_spaces() {
        assert_eq!(one("k", json!("a: b")), "k: 'a: b'\n");
        assert_eq!(one("k", json!("a #b")), "k: 'a #b'\n");
        assert_eq!(one("k", json!(" lead")), "k: ' lead'\n");
        assert_eq!(one("k", json!("- x")), "k: '- x'\n");
        assert_eq!(one("k", json!("---x")), "k: '---x'\n");
        assert_eq!(one("k", json!("'q'")), "k: '''q'''\n");
        assert_eq!(one("k", json!("it's")), "k: it's\n");
    }

    #[test]
    fn double_quotes_escape_what_is_not_printable() {
        assert_eq!(one("k", json!("a\tb")), "k: \"a\\tb\"\n");
        assert_eq!(
            one("k", json!("smile \u{1F600}")),
            "k: \"smile \\U0001F600\"\n"
        );
        assert_eq!(one("k", json!("a\u{1}b")), "k: \"a\\x01b\"\n");
        assert_eq!(one("k", json!("a \nb")), "k: \"a \\nb\"\n");
        // a leading byte-order mark makes go-yaml escape every character
        assert_eq!(one("k", json!("\u{feff}x")), "k: \"\\uFEFF\\x78\"\n");
    }

    #[test]
    fn literal_blocks_carry_chomping_and_indentation_hints() {
        assert_eq!(one("k", json!("x\ny\n")), "k: |\n  x\n  y\n");
        assert_eq!(one("k", json!("x\ny")), "k: |-\n  x\n  y\n");
        assert_eq!(one("k", json!("x\n\n")), "k: |+\n  x\n\n");
        assert_eq!(one("k", json!("  x\ny\n")), "k: |2\n    x\n  y\n");
        assert_eq!(one("k", json!("\nx")), "k: |2-\n\n  x\n");
        assert_eq!(one("k", json!("\n")), "k: |2+\n\n");
    }

    #[test]
    fn long_strings_fold_at_80_columns() {
        let words = format!("{}end", "word ".repeat(30));
        assert_eq!(
            one("x_longplain", json!(words)),
            "x_longplain: word word word word word word word word word word word word word word\n  \
             word word word word word word word word word word word word word word word word\n  end\n"
        );
        // keys never fold
        let key = "word ".repeat(20);
        assert_eq!(one(key.trim(), json!(1)), format!("{}: 1\n", key.trim()));
    }

    #[test]
    fn key_order_is_go_yaml_v2s() {
        let mut keys = vec!["b", "a10", "a2", "B", "_x", "a", "a01", "a001", "10", "9"];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(
            keys,
            vec!["_x", "9", "10", "B", "a", "a01", "a001", "a2", "a10", "b"]
        );
    }

    #[test]
    fn floats_like_go() {
        assert_eq!(go_format_g(1.5), "1.5");
        assert_eq!(go_format_g(1234567.5), "1.2345675e+06");
        assert_eq!(go_format_g(0.00001), "1e-05");
        assert_eq!(go_format_g(0.0001), "0.0001");
        assert_eq!(
            number_text(&serde_json::Number::from_f64(1e21).expect("finite")),
            "1e+21"
        );
        assert_eq!(
            number_text(&serde_json::Number::from_f64(3.0).expect("finite")),
            "3"
        );
    }

    #[test]
    fn folds_long_quoted_strings() {
        let long = "[{\"path\": \"var/druid/segment-cache\", \"maxSize\": 32000000000, \"freeSpacePercent\": 1.0}]";
        let out = document(&json!({"data": {"druid_segmentCache_locations": long}}));
        assert_eq!(
            out,
            "data:\n  druid_segmentCache_locations: '[{\"path\": \"var/druid/segment-cache\", \"maxSize\": 32000000000,\n    \"freeSpacePercent\": 1.0}]'\n"
        );
    }

    #[test]
    fn literal_blocks_and_quoting() {
        let out = document(
            &json!({"a": "x\ny\n", "b": "", "c": "on", "d": "a\tb", "e": [], "f": {}, "g": [["x"]]}),
        );
        assert_eq!(
            out,
            "a: |\n  x\n  y\nb: \"\"\nc: \"on\"\nd: \"a\\tb\"\ne: []\nf: {}\ng:\n- - x\n"
        );
    }
}
