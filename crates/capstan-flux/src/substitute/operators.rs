//! What each `${…}` operator does to a variable's value, once the expander has read the
//! operator and its arguments. Values are bytes (lengths and offsets count bytes, as the
//! controller's do); case changes map one character at a time with the simple (one-to-one)
//! Unicode mappings.

use crate::glob::{Glob, decode_char};

/// An operator of the substitution syntax, with what its arguments mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `${var}`.
    Value,
    /// `${#var}`: the length in bytes.
    Length,
    /// `${var=w}`, `${var:=w}`, `${var:-w}`, and the controller's look-alikes `${var:?w}` and
    /// `${var:+w}`: the value, or `w` when the value is unset or empty.
    Fallback,
    /// `${var^}`, `${var^^}`, `${var,}`, `${var,,}`.
    Case { upper: bool, all: bool },
    /// `${var,^}` and `${var^,}`: accepted by the controller and leave the value as it is.
    MixedCase,
    /// `${var:offset}`, `${var:offset:length}`.
    Substring,
    /// `${var#pat}` (shortest) and `${var##pat}` (longest): remove a matching prefix.
    TrimPrefix { longest: bool },
    /// `${var%pat}` and `${var%%pat}`: remove a matching suffix.
    TrimSuffix { longest: bool },
    /// `${var/old/new}` (first) and `${var//old/new}` (every): plain-text replacement.
    Replace { every: bool },
    /// `${var/#old/new}`: replace `old` when the value starts with it.
    ReplacePrefix,
    /// `${var/%old/new}`: replace `old` when the value ends with it.
    ReplaceSuffix,
}

/// Why an operator could not produce a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorFailure {
    /// The variable is not defined and the operator has no fallback (strict mode).
    Unset,
    /// `${var:offset:length}` whose end falls before its start: the controller crashes on it.
    SubstringRange { offset: i64, length: i64 },
    /// The value would be longer than [`MAX_VALUE_BYTES`] (nested `${var//old/new}` replacements
    /// multiply lengths, so a few hundred bytes of text could ask for terabytes).
    TooLarge,
}

/// The longest value an expression may produce, and the longest expanded text.
pub const MAX_VALUE_BYTES: usize = 64 << 20;

impl Operator {
    /// True for the operators that stand in for an unset variable.
    pub fn tolerates_unset(self) -> bool {
        self == Operator::Fallback
    }

    /// Applies the operator. `value` is `None` for an undefined variable (only reported in
    /// strict mode; otherwise the caller passes the empty string).
    pub fn apply(
        self,
        value: Option<Vec<u8>>,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, OperatorFailure> {
        let value = match value {
            Some(v) => v,
            None if self.tolerates_unset() => Vec::new(),
            None => return Err(OperatorFailure::Unset),
        };
        let first = args.first().map(Vec::as_slice);
        let second = args.get(1).map(Vec::as_slice);
        Ok(match self {
            Operator::Value | Operator::MixedCase => value,
            Operator::Length => value.len().to_string().into_bytes(),
            Operator::Fallback if value.is_empty() => args.concat(),
            Operator::Fallback => value,
            Operator::Case { upper, all } => change_case(&value, upper, all),
            Operator::Substring => return substring(value, first, second),
            Operator::TrimPrefix { longest } => match first {
                Some(pattern) => trim_prefix(&value, &Glob::new(pattern), longest),
                None => value,
            },
            Operator::TrimSuffix { longest } => match first {
                // The controller trims a suffix by reversing the characters of the value and of
                // the pattern and trimming a prefix: `*.` works, but a reversed class (`]a[`) is
                // malformed, so `${var%[0-9]}` never trims anything. Kept, as it is what runs.
                Some(pattern) => {
                    let reversed = Glob::new(&reverse_chars(pattern));
                    reverse_chars(&trim_prefix(&reverse_chars(&value), &reversed, longest))
                }
                None => value,
            },
            Operator::Replace { every } => match first {
                Some(old) => return replace(&value, old, second.unwrap_or_default(), every),
                None => value,
            },
            Operator::ReplacePrefix => match (first, second) {
                (Some(old), Some(new)) if value.starts_with(old) => {
                    [new, &value[old.len()..]].concat()
                }
                _ => value,
            },
            Operator::ReplaceSuffix => match (first, second) {
                (Some(old), Some(new)) if value.ends_with(old) => {
                    [&value[..value.len() - old.len()], new].concat()
                }
                _ => value,
            },
        })
    }
}

/// Splits bytes into characters (invalid bytes become U+FFFD).
fn chars_of(bytes: &[u8]) -> impl Iterator<Item = char> + '_ {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (c, width) = decode_char(rest);
        rest = &rest[width..];
        Some(c)
    })
}

fn reverse_chars(bytes: &[u8]) -> Vec<u8> {
    let chars: Vec<char> = chars_of(bytes).collect();
    chars.into_iter().rev().collect::<String>().into_bytes()
}

/// The one-to-one case mapping of a character; characters whose mapping is several characters
/// (`ß` → `SS`) keep their own.
fn map_case(c: char, upper: bool) -> char {
    let mut mapped: Vec<char> = if upper {
        c.to_uppercase().collect()
    } else {
        c.to_lowercase().collect()
    };
    match (mapped.pop(), mapped.is_empty()) {
        (Some(one), true) => one,
        _ => c,
    }
}

fn change_case(value: &[u8], upper: bool, all: bool) -> Vec<u8> {
    if value.is_empty() {
        return Vec::new();
    }
    if all {
        return chars_of(value)
            .map(|c| map_case(c, upper))
            .collect::<String>()
            .into_bytes();
    }
    let (first, width) = decode_char(value);
    let mut out = map_case(first, upper).to_string().into_bytes();
    out.extend_from_slice(&value[width..]);
    out
}

/// A decimal integer with an optional sign; anything else is not a number.
fn integer(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// `${var:offset[:length]}`. A negative offset counts from the end; an offset or length that is
/// not a number leaves the value as it is; a range running past the end stops at the end.
fn substring(
    value: Vec<u8>,
    offset: Option<&[u8]>,
    length: Option<&[u8]>,
) -> Result<Vec<u8>, OperatorFailure> {
    let Some(start) = offset.and_then(integer) else {
        return Ok(value);
    };
    let size = value.len() as i64;
    let start = if start < 0 {
        (size + start).max(0)
    } else {
        start
    };
    let tail = |from: i64| {
        if from < size {
            value[from as usize..].to_vec()
        } else {
            Vec::new()
        }
    };
    let Some(length) = length else {
        return Ok(tail(start));
    };
    let Some(count) = integer(length) else {
        return Ok(value);
    };
    // The controller adds with 64-bit wrap-around and slices; an end before the start crashes it.
    let end = start.wrapping_add(count);
    if end >= size {
        return Ok(tail(start));
    }
    if end < start {
        return Err(OperatorFailure::SubstringRange {
            offset: start,
            length: count,
        });
    }
    Ok(value[start as usize..end as usize].to_vec())
}

fn trim_prefix(value: &[u8], glob: &Glob, longest: bool) -> Vec<u8> {
    let mut lengths: Box<dyn Iterator<Item = usize>> = if longest {
        Box::new((1..=value.len()).rev())
    } else {
        Box::new(1..=value.len())
    };
    let matching = glob.matching_prefixes(value);
    match lengths.find(|&n| matching[n]) {
        Some(n) => value[n..].to_vec(),
        None => value.to_vec(),
    }
}

/// Plain-text replacement of the first or every occurrence of `old`. An empty `old` occurs
/// before every character and at the end. Fails rather than build more than
/// [`MAX_VALUE_BYTES`].
fn replace(value: &[u8], old: &[u8], new: &[u8], every: bool) -> Result<Vec<u8>, OperatorFailure> {
    let mut out = Vec::with_capacity(value.len().min(MAX_VALUE_BYTES));
    let push = |out: &mut Vec<u8>, bytes: &[u8]| {
        if out.len() + bytes.len() > MAX_VALUE_BYTES {
            return Err(OperatorFailure::TooLarge);
        }
        out.extend_from_slice(bytes);
        Ok(())
    };
    if old.is_empty() {
        push(&mut out, new)?;
        if !every {
            push(&mut out, value)?;
            return Ok(out);
        }
        let mut rest = value;
        while !rest.is_empty() {
            let width = decode_char(rest).1;
            push(&mut out, &rest[..width])?;
            push(&mut out, new)?;
            rest = &rest[width..];
        }
        return Ok(out);
    }
    let mut rest = value;
    while let Some(at) = rest.windows(old.len()).position(|w| w == old) {
        push(&mut out, &rest[..at])?;
        push(&mut out, new)?;
        rest = &rest[at + old.len()..];
        if !every {
            break;
        }
    }
    push(&mut out, rest)?;
    Ok(out)
}
