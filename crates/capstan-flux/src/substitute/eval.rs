//! Evaluation of a parsed envsubst template (fluxcd/pkg `envsubst/template.go` and `funcs.go`):
//! arguments first, then the variable, then the operator's string function, all on bytes with
//! Go's semantics (lengths and offsets in bytes, simple one-rune case mappings).
//!
//! Strict mode: a variable that is not defined is an error unless the operator supplies a
//! default (`=`, `:=`, `:-`, and the quirky `:?`, `:+`), exactly where upstream raises
//! "variable not set (strict mode)".

use super::parse::{Node, ParseError, decode_rune, parse};
use super::pattern;

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Parse(ParseErrorText),
    #[error("variable not set (strict mode): \"{0}\"")]
    VariableNotSet(String),
}

/// A parse error's text (kept as a newtype so `EvalError` stays `Eq` and printable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseErrorText(pub ParseError);

impl std::fmt::Display for ParseErrorText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Expands `input`. `lookup` returns the value of a variable, `None` when it is not defined.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, EvalError> {
    let tree = parse(input).map_err(|e| EvalError::Parse(ParseErrorText(e)))?;
    let mut out = Vec::with_capacity(input.len());
    eval(&tree, lookup, &mut out)?;
    Ok(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn eval(
    node: &Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Vec<u8>,
) -> Result<(), EvalError> {
    match node {
        Node::Text(text) => out.extend_from_slice(text),
        Node::List(nodes) => {
            for n in nodes {
                eval(n, lookup, out)?;
            }
        }
        Node::Func { param, name, args } => {
            let mut values = Vec::with_capacity(args.len());
            for arg in args {
                let mut buf = Vec::new();
                eval(arg, lookup, &mut buf)?;
                values.push(buf);
            }
            let value = match lookup(param) {
                Some(v) => v.into_bytes(),
                None if is_default_op(name) => Vec::new(),
                None => return Err(EvalError::VariableNotSet(param.clone())),
            };
            out.extend_from_slice(&apply(name, value, &values));
        }
    }
    Ok(())
}

/// The operators that handle an unset variable themselves.
fn is_default_op(name: &str) -> bool {
    matches!(name, "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?")
}

fn apply(name: &str, s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    match name {
        "," => map_first(&s, lower_rune),
        ",," => map_all(&s, lower_rune),
        "^" => map_first(&s, upper_rune),
        "^^" => map_all(&s, upper_rune),
        "#" if args.is_empty() => s.len().to_string().into_bytes(),
        "#" => trim_shortest_prefix(s, args),
        "##" => trim_longest_prefix(s, args),
        "%" => trim_shortest_suffix(s, args),
        "%%" => trim_longest_suffix(s, args),
        ":" => substr(s, args),
        "/#" => replace_prefix(s, args),
        "/%" => replace_suffix(s, args),
        "/" => replace(s, args, Some(1)),
        "//" => replace(s, args, None),
        _ => to_default(s, args),
    }
}

fn to_default(s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    if s.is_empty() && !args.is_empty() {
        args.concat()
    } else {
        s
    }
}

/// Go's `unicode.ToLower` of one rune: the simple mapping, or the rune itself.
fn lower_rune(r: char) -> char {
    let mut it = r.to_lowercase();
    match (it.next(), it.next()) {
        (Some(c), None) => c,
        _ => r,
    }
}

fn upper_rune(r: char) -> char {
    let mut it = r.to_uppercase();
    match (it.next(), it.next()) {
        (Some(c), None) => c,
        _ => r,
    }
}

fn map_first(s: &[u8], f: fn(char) -> char) -> Vec<u8> {
    if s.is_empty() {
        return Vec::new();
    }
    let (r, n) = decode_rune(s);
    let mut out = f(r).to_string().into_bytes();
    out.extend_from_slice(&s[n..]);
    out
}

fn map_all(s: &[u8], f: fn(char) -> char) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let (r, n) = decode_rune(rest);
        if r == char::REPLACEMENT_CHARACTER && n == 1 {
            out.push(rest[0]);
        } else {
            out.extend_from_slice(f(r).to_string().as_bytes());
        }
        rest = &rest[n..];
    }
    out
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, 64-bit range.
fn atoi(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse::<i64>().ok()
}

fn substr(s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    let Some(first) = args.first() else { return s };
    let Some(pos) = atoi(first) else { return s };
    let len = s.len() as i64;
    let pos = if pos < 0 { (len + pos).max(0) } else { pos };
    let Some(second) = args.get(1) else {
        return if pos < len {
            s[pos as usize..].to_vec()
        } else {
            Vec::new()
        };
    };
    let Some(length) = atoi(second) else { return s };
    if pos.saturating_add(length) >= len {
        return if pos < len {
            s[pos as usize..].to_vec()
        } else {
            Vec::new()
        };
    }
    let end = pos + length;
    if end < pos {
        // Go would panic on a negative length; the controller recovers and reports the build as
        // failed. Returning the value unchanged is the closest non-panicking behaviour.
        return s;
    }
    s[pos as usize..end as usize].to_vec()
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from);
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Go's `strings.Replace(s, old, new, n)`; an empty `old` inserts `new` around every rune.
fn replace(s: Vec<u8>, args: &[Vec<u8>], limit: Option<usize>) -> Vec<u8> {
    let (old, new): (&[u8], &[u8]) = match args {
        [] => return s,
        [old] => (old, b""),
        [old, new, ..] => (old, new),
    };
    let mut out = Vec::with_capacity(s.len());
    let mut count = 0;
    let mut at = 0;
    if old.is_empty() {
        // Before every rune and at the end.
        let mut rest = &s[..];
        loop {
            if limit.is_some_and(|l| count >= l) {
                out.extend_from_slice(rest);
                return out;
            }
            out.extend_from_slice(new);
            count += 1;
            if rest.is_empty() {
                return out;
            }
            let (_, n) = decode_rune(rest);
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
    }
    while limit.is_none_or(|l| count < l) {
        let Some(i) = find(&s, old, at) else { break };
        out.extend_from_slice(&s[at..i]);
        out.extend_from_slice(new);
        at = i + old.len();
        count += 1;
    }
    out.extend_from_slice(&s[at..]);
    out
}

fn replace_prefix(s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    match args {
        [old, new] if s.starts_with(old) => replace(s, &[old.clone(), new.clone()], Some(1)),
        _ => s,
    }
}

fn replace_suffix(s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    match args {
        [old, new] if s.ends_with(old) => {
            let mut out = s[..s.len() - old.len()].to_vec();
            out.extend_from_slice(new);
            out
        }
        _ => s,
    }
}

fn reverse(s: &[u8]) -> Vec<u8> {
    // Go's reverse goes through []rune, turning invalid bytes into U+FFFD.
    let mut runes = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (r, n) = decode_rune(rest);
        runes.push(r);
        rest = &rest[n..];
    }
    runes.iter().rev().collect::<String>().into_bytes()
}

fn trim_shortest(s: Vec<u8>, pat: &[u8]) -> Vec<u8> {
    let mut shortest: Option<usize> = None;
    for i in 0..s.len() {
        match pattern::matches(pat, &s[..s.len() - i]) {
            Err(_) => return s,
            Ok(true) => shortest = Some(s.len() - i),
            Ok(false) => {}
        }
    }
    match shortest {
        Some(n) if n > 0 => s[n..].to_vec(),
        _ => s,
    }
}

fn trim_longest(s: Vec<u8>, pat: &[u8]) -> Vec<u8> {
    for i in 0..s.len() {
        match pattern::matches(pat, &s[..s.len() - i]) {
            Err(_) => return s,
            Ok(true) => return s[s.len() - i..].to_vec(),
            Ok(false) => {}
        }
    }
    s
}

fn trim_shortest_prefix(s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    match args.first() {
        Some(p) => trim_shortest(s, p),
        None => s,
    }
}

fn trim_longest_prefix(s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    match args.first() {
        Some(p) => trim_longest(s, p),
        None => s,
    }
}

fn trim_shortest_suffix(s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    match args.first() {
        Some(p) => reverse(&trim_shortest(reverse(&s), &reverse(p))),
        None => s,
    }
}

fn trim_longest_suffix(s: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    match args.first() {
        Some(p) => reverse(&trim_longest(reverse(&s), &reverse(p))),
        None => s,
    }
}
