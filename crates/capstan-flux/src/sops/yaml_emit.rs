//! YAML output as SOPS writes decrypted files: go-yaml v3's encoder with 4-space indentation.
//!
//! Key order is kept, strings that would read back as another type are double-quoted, strings
//! plain style cannot carry are single-quoted (double-quoted when they hold non-printable
//! characters), multi-line strings are literal blocks, sequences under a key are indented.
//! Comments come from [`super::yaml_comments`], written where they stood in the encrypted file.

use std::fmt::Write as _;

use capstan_core::Value;

use super::file::{Item, go_exponent_parts};
use super::tree::COMMENT_ITEM;
use super::yaml_comments::{DocumentComments, Step};

const INDENT: usize = 4;

/// Writes the documents of a decrypted SOPS YAML file, with the comments scanned from the
/// encrypted file (one entry per document) where there are any.
pub(crate) fn emit_documents(documents: &[Vec<Item>], comments: &[DocumentComments]) -> Vec<u8> {
    let mut out = String::new();
    for (index, items) in documents.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        let mut emitter = Emitter {
            out: &mut out,
            comments: comments.get(index),
            address: Vec::new(),
        };
        let has_entries = items.iter().any(|i| matches!(i, Item::Entry(..)));
        for item in items {
            match item {
                Item::Comment(text) => {
                    let _ = writeln!(emitter.out, "#{text}");
                }
                Item::Entry(key, value) => {
                    emitter.address.push(Step::Key(key.clone()));
                    emitter.comments_before(true);
                    emitter.write_entry(key, value, 0);
                    emitter.address.pop();
                }
            }
        }
        if !has_entries {
            emitter.out.push_str("{}\n");
        }
        if let Some(doc) = emitter.comments {
            for comment in &doc.end {
                pad(emitter.out, comment.column);
                let _ = writeln!(emitter.out, "#{}", comment.text);
            }
        }
    }
    out.into_bytes()
}

fn pad(out: &mut String, column: usize) {
    out.extend(std::iter::repeat_n(' ', column));
}

/// go-yaml v3's indentation: nested nodes align to the next multiple of the indent width,
/// except inside a sequence item, where they just skip the `- `.
fn next_indent(column: usize) -> usize {
    INDENT * ((column + INDENT) / INDENT)
}

struct Emitter<'a> {
    out: &'a mut String,
    comments: Option<&'a DocumentComments>,
    /// The address of the node being written.
    address: Vec<Step>,
}

impl Emitter<'_> {
    /// Writes the comments that preceded the current node's line in the encrypted file.
    fn comments_before(&mut self, line_start: bool) {
        if !line_start {
            return;
        }
        if let Some(comments) = self.comments.and_then(|doc| doc.before.get(&self.address)) {
            for comment in comments {
                pad(self.out, comment.column);
                let _ = writeln!(self.out, "#{}", comment.text);
            }
        }
    }

    /// Writes `key: value` with the key at `column` (the cursor already there).
    fn write_entry(&mut self, key: &str, value: &Value, column: usize) {
        self.out.push_str(&scalar_string(key, column));
        self.out.push(':');
        let child = next_indent(column);
        match value {
            Value::Object(map) if !map.is_empty() => {
                self.out.push('\n');
                self.write_mapping(map, child, true);
            }
            Value::Array(items) if !items.is_empty() => {
                self.out.push('\n');
                self.write_sequence(items, child, true);
            }
            _ => {
                self.out.push(' ');
                self.out.push_str(&scalar(value, child));
                self.out.push('\n');
            }
        }
    }

    /// Writes mapping entries at `column`; when `pad_first` is false the cursor already sits at
    /// the first key's column (a mapping right after `- `).
    fn write_mapping(&mut self, map: &capstan_core::Map, column: usize, pad_first: bool) {
        for (index, (key, value)) in map.iter().enumerate() {
            let line_start = index > 0 || pad_first;
            self.address.push(Step::Key(key.clone()));
            self.comments_before(line_start);
            if line_start {
                pad(self.out, column);
            }
            self.write_entry(key, value, column);
            self.address.pop();
        }
    }

    /// Writes sequence items at `column`; when `pad_first` is false the cursor already sits at
    /// the first item's column (a sequence nested right after `- `).
    fn write_sequence(&mut self, items: &[Value], column: usize, pad_first: bool) {
        for (index, item) in items.iter().enumerate() {
            let line_start = index > 0 || pad_first;
            self.address.push(Step::Index(index));
            self.comments_before(line_start);
            if let Some(text) = item.as_str().and_then(|s| s.strip_prefix(COMMENT_ITEM)) {
                // A comment SOPS kept as an encrypted sequence item.
                if line_start {
                    pad(self.out, column);
                }
                let _ = writeln!(self.out, "#{text}");
                self.address.pop();
                continue;
            }
            if line_start {
                pad(self.out, column);
            }
            self.out.push_str("- ");
            let inner = column + 2;
            match item {
                Value::Object(map) if !map.is_empty() => self.write_mapping(map, inner, false),
                Value::Array(nested) if !nested.is_empty() => {
                    self.write_sequence(nested, inner, false)
                }
                _ => {
                    self.out.push_str(&scalar(item, inner));
                    self.out.push('\n');
                }
            }
            self.address.pop();
        }
    }
}

fn scalar(value: &Value, column: usize) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => yaml_float(n.as_f64().unwrap_or_default()),
        Value::String(s) => scalar_string(s, column),
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
    }
}

/// go-yaml v3 writes floats with `strconv.FormatFloat(f, 'g', -1, 64)`.
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    let (mantissa, exp) = go_exponent_parts(f);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

fn scalar_string(s: &str, column: usize) -> String {
    if s.contains('\n') {
        if literal_allowed(s) {
            return literal(s, column);
        }
        return double_quoted(s);
    }
    if resolves_to_other_type(s) {
        return double_quoted(s);
    }
    if s.chars().any(|c| !printable(c)) {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "''"))
}

/// go-yaml's `is_printable`: no NEL, nothing outside the Basic Multilingual Plane.
fn printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{FEFF}'
}

fn literal_allowed(s: &str) -> bool {
    if s.chars().any(|c| !printable(c)) {
        return false;
    }
    // A space before a line break, or trailing spaces, rule block style out.
    !s.contains(" \n") && !s.ends_with(' ')
}

fn literal(s: &str, column: usize) -> String {
    let mut header = String::from("|");
    if s.starts_with(' ') || s.starts_with('\n') {
        let _ = write!(header, "{INDENT}");
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => header.push('-'),
        1 => {}
        _ => header.push('+'),
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    let mut out = header;
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', column));
            out.push_str(line);
        }
    }
    out
}

fn plain_allowed(s: &str) -> bool {
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    if (s.starts_with("---") || s.starts_with("..."))
        && s[3..].chars().next().is_none_or(|c| c == ' ')
    {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_blank = chars.get(i + 1).is_none_or(|n| *n == ' ' || *n == '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    return false;
                }
                '?' | ':' | '-' if followed_by_blank => return false,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_blank => return false,
                '#' if chars[i - 1] == ' ' || chars[i - 1] == '\t' => return false,
                _ => {}
            }
        }
    }
    true
}

/// True when go-yaml v3 would read the plain string back as something other than a string
/// (or as a YAML 1.1 boolean), so it must be quoted.
fn resolves_to_other_type(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y",
        "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
        ".nan", ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let Some(first) = s.chars().next() else {
        return true;
    };
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return false;
    }
    looks_like_timestamp(s) || looks_like_number(&s.replace('_', "")) || looks_like_base60(s)
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let (date_part, time_part) = match rest.find(['T', 't', ' ']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut parts = date_part.split('-');
    let ok_num = |p: Option<&str>| {
        p.is_some_and(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if !(ok_num(parts.next()) && ok_num(parts.next()) && parts.next().is_none()) {
        return false;
    }
    match time_part {
        None => true,
        Some(t) => {
            t.split(':').count() >= 3 && t.as_bytes().first().is_some_and(u8::is_ascii_digit)
        }
    }
}

fn looks_like_number(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.is_empty() {
        return false;
    }
    let lower = unsigned.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            return !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
        }
    }
    if unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()),
        Some((int, frac)) => {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

fn looks_like_base60(s: &str) -> bool {
    // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, _frac) = match unsigned.split_once('.') {
        Some((m, f)) if f.bytes().all(|b| b.is_ascii_digit() || b == b'_') => (m, Some(f)),
        Some(_) => return false,
        None => (unsigned, None),
    };
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    if !head.as_bytes().first().is_some_and(u8::is_ascii_digit)
        || !head.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return false;
    }
    let mut count = 0;
    for part in parts {
        count += 1;
        let b = part.as_bytes();
        let ok = match b.len() {
            1 => b[0].is_ascii_digit(),
            2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    count > 0
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !printable(c) => {
                let code = c as u32;
                if code <= 0xFF {
                    let _ = write!(out, "\\x{code:02X}");
                } else if code <= 0xFFFF {
                    let _ = write!(out, "\\u{code:04X}");
                } else {
                    let _ = write!(out, "\\U{code:08X}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_strings_like_go_yaml_v3() {
        let cases = [
            ("hello world", "hello world"),
            ("42", "\"42\""),
            ("yes", "\"yes\""),
            ("", "\"\""),
            ("2024-01-01", "\"2024-01-01\""),
            ("1:20", "\"1:20\""),
            ("0x1F", "\"0x1F\""),
            ("1e3", "\"1e3\""),
            ("a: b", "'a: b'"),
            ("it's: x", "'it''s: x'"),
            ("#x", "'#x'"),
            ("a #b", "'a #b'"),
            ("a#b", "a#b"),
            ("-x", "-x"),
            ("- x", "'- x'"),
            ("tab\there", "\"tab\\there\""),
            ("héllo ✓", "héllo ✓"),
        ];
        for (input, expected) in cases {
            assert_eq!(scalar_string(input, 4), expected, "{input:?}");
        }
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        assert_eq!(scalar_string("a\nb\n", 4), "|\n    a\n    b");
        assert_eq!(scalar_string("a\nb", 4), "|-\n    a\n    b");
        assert_eq!(scalar_string("a\n\n", 4), "|+\n    a\n");
        assert_eq!(scalar_string("a \nb", 4), "\"a \\nb\"");
    }

    #[test]
    fn floats_use_go_g_format() {
        assert_eq!(yaml_float(3.0), "3");
        assert_eq!(yaml_float(1.5e10), "1.5e+10");
        assert_eq!(yaml_float(1e-7), "1e-07");
        assert_eq!(yaml_float(0.25), "0.25");
    }
}
