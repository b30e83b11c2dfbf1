//! Folded block scalars (`>`) as kustomize hands them on.
//!
//! kustomize keeps a scalar's source style while it works on an object and turns the object into
//! JSON by printing it with go-yaml v3 and reading the text back. go-yaml v3's folded-scalar
//! writer decides whether a line break needs an extra blank line by looking at the first
//! character of the whole value instead of the character after the break, so a value that does
//! not start with a blank gets a blank line after every line that does not start with a blank,
//! and one that does start with a blank gets none. Read back, the extra blank line disappears
//! between two ordinary lines but stays before a more-indented line (and at the end of a `>+`
//! value), while a value starting with a blank loses every single line break between ordinary
//! lines to a space. [`apply`] gives the parsed documents the values kustomize ends up with.
//!
//! A block scalar ending the text without a final line break keeps none
//! ([`unterminated_last_block`]).
//!
//! Not modelled: go-yaml's line wrapping of more-indented lines longer than 80 columns.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};

use crate::Value;

/// Replaces, in `docs` parsed from `text`, every string that came from a folded block scalar
/// by the value kustomize reads back for it.
pub(super) fn apply(text: &str, docs: &mut [Value]) {
    if !may_hold_folded(text) {
        return;
    }
    let mut changed: HashMap<String, String> = HashMap::new();
    for event in Parser::new_from_str(text) {
        let Ok((event, _)) = event else {
            break;
        };
        if let Event::Scalar(value, ScalarStyle::Folded, _, _) = event
            && let Some(new) = round_trip(&value)
        {
            changed.insert(value.into_owned(), new);
        }
    }
    if changed.is_empty() {
        return;
    }
    for doc in docs {
        replace(doc, &changed);
    }
}

/// A block scalar ending the text on a line without a line break has no final line break (the
/// parser adds one): it is taken off the last string of the last document.
pub(super) fn unterminated_last_block(text: &str, docs: &mut [Value]) {
    let last_line = text.rsplit('\n').next().unwrap_or(text);
    if last_line.trim().is_empty() {
        return;
    }
    let last_scalar = Parser::new_from_str(text)
        .map_while(Result::ok)
        .filter_map(|(event, _)| match event {
            Event::Scalar(_, style, _, _) => Some(style),
            _ => None,
        })
        .last();
    if !matches!(
        last_scalar,
        Some(ScalarStyle::Literal | ScalarStyle::Folded)
    ) {
        return;
    }
    if let Some(Value::String(s)) = docs.last_mut().and_then(last_leaf)
        && s.ends_with('\n')
    {
        s.pop();
    }
}

/// The last scalar of a value in document order.
fn last_leaf(value: &mut Value) -> Option<&mut Value> {
    match value {
        Value::Object(map) => map.values_mut().last().and_then(last_leaf),
        Value::Array(items) => items.last_mut().and_then(last_leaf),
        other => Some(other),
    }
}

fn replace(value: &mut Value, changed: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(new) = changed.get(s.as_str()) {
                s.clone_from(new);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace(v, changed)),
        Value::Object(map) => map.values_mut().for_each(|v| replace(v, changed)),
        _ => {}
    }
}

/// A cheap look for a `>` block indicator (`key: >-`, `- >`, `>2+ # note`) anywhere.
fn may_hold_folded(text: &str) -> bool {
    text.lines().any(|line| {
        line.match_indices('>').any(|(i, _)| {
            let before = &line[..i];
            let after = line[i + 1..]
                .trim_start_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
            let after = after.trim_start();
            (before.is_empty() || before.ends_with(' ') || before.ends_with('\t'))
                && (after.is_empty() || after.starts_with('#'))
        })
    })
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The value go-yaml v3 reads back after writing `value` as a folded block scalar; `None` when
/// it is the same, or when the writer would not use a block scalar at all.
pub fn round_trip(value: &str) -> Option<String> {
    if !block_allowed(value) {
        return None;
    }
    let first_blank = value.chars().next().is_some_and(is_blank);
    // What the writer puts between the indicator line and the end (indentation left out).
    let mut body = String::with_capacity(value.len() + 16);
    let (mut breaks, mut leading_spaces) = (true, true);
    for c in value.chars() {
        if c == '\n' {
            if !breaks && !leading_spaces && !first_blank {
                body.push('\n');
            }
            body.push('\n');
            breaks = true;
        } else {
            if breaks {
                leading_spaces = is_blank(c);
            }
            body.push(c);
            breaks = false;
        }
    }
    let read = read_folded(&body, chomping(value));
    (read != value).then_some(read)
}

#[derive(Clone, Copy, PartialEq)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

/// The chomping indicator the writer chooses for `value`.
fn chomping(value: &str) -> Chomp {
    if !value.ends_with('\n') {
        Chomp::Strip
    } else if value == "\n" || value.ends_with("\n\n") {
        Chomp::Keep
    } else {
        Chomp::Clip
    }
}

/// go-yaml's writer refuses a block scalar for an empty value, one ending in a space, one with a
/// space before a line break, and one with non-printable characters.
fn block_allowed(value: &str) -> bool {
    !value.is_empty()
        && !value.ends_with(' ')
        && !value.contains(" \n")
        && !value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// Reads the body of a folded block scalar (lines without their block indentation) as the YAML
/// scanner does.
fn read_folded(body: &str, chomp: Chomp) -> String {
    let mut out = String::with_capacity(body.len());
    let (mut leading_break, mut trailing_breaks) = (false, 0usize);
    let mut leading_blank = false;
    let mut rest = body;
    while let Some(r) = rest.strip_prefix('\n') {
        trailing_breaks += 1;
        rest = r;
    }
    while !rest.is_empty() {
        let trailing_blank = rest.starts_with(is_blank);
        if leading_break && !leading_blank && !trailing_blank {
            if trailing_breaks == 0 {
                out.push(' ');
            }
        } else if leading_break {
            out.push('\n');
        }
        out.extend(std::iter::repeat_n('\n', trailing_breaks));
        trailing_breaks = 0;
        leading_blank = trailing_blank;
        let end = rest.find('\n').unwrap_or(rest.len());
        out.push_str(&rest[..end]);
        rest = &rest[end..];
        leading_break = false;
        if let Some(r) = rest.strip_prefix('\n') {
            leading_break = true;
            rest = r;
        }
        while let Some(r) = rest.strip_prefix('\n') {
            trailing_breaks += 1;
            rest = r;
        }
    }
    if chomp != Chomp::Strip && leading_break {
        out.push('\n');
    }
    if chomp == Chomp::Keep {
        out.extend(std::iter::repeat_n('\n', trailing_breaks));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::round_trip;

    #[test]
    fn ordinary_lines_are_unchanged() {
        assert_eq!(round_trip("a b\nc\n"), None);
        assert_eq!(round_trip("a b\n\nc"), None);
        assert_eq!(round_trip("  a\n  b\nc\n"), None);
    }

    #[test]
    fn more_indented_line_after_an_ordinary_one_gains_a_break() {
        assert_eq!(round_trip("a\n  b\nc\n").as_deref(), Some("a\n\n  b\nc\n"));
        assert_eq!(round_trip("x y\n  z").as_deref(), Some("x y\n\n  z"));
        assert_eq!(round_trip("a\n\n  b\nc").as_deref(), Some("a\n\n\n  b\nc"));
    }

    #[test]
    fn kept_trailing_breaks_gain_one() {
        assert_eq!(round_trip("A B\n\n").as_deref(), Some("A B\n\n\n"));
    }

    #[test]
    fn value_starting_with_a_blank_folds_its_single_breaks() {
        assert_eq!(
            round_trip("  lead\na b\nc\n").as_deref(),
            Some("  lead\na b c\n")
        );
    }

    #[test]
    fn values_printed_double_quoted_are_unchanged() {
        assert_eq!(round_trip("a \n  b\n"), None);
        assert_eq!(round_trip(""), None);
    }
}
