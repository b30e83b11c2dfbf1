//! How each null mapping value was written: `key:` with nothing, `~`, `null`, `Null`, `NULL`.
//!
//! All of them read as null, but kustomize tells them apart: its strategic merge keeps a null
//! the source spelled out and drops one left empty, and it reads an annotation's null as the
//! text written. A parsed [`Value`](crate::Value) cannot carry the difference, so
//! [`null_texts`] reads it from the text, per document, for the callers that need it.

use granit_parser::{Event, Parser, ScalarStyle};

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

enum Frame {
    Map {
        key: Option<String>,
    },
    Seq {
        index: usize,
    },
    /// A collection used as a mapping key: nothing inside it is a path.
    Opaque {
        depth: usize,
    },
}

/// A null mapping value: where it is and how it was written (`""` for nothing at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NullText {
    /// The path from the document's top.
    pub path: Vec<PathSeg>,
    /// The source text: `""`, `~`, `null`, `Null` or `NULL`.
    pub text: String,
}

/// For each document of `text` (in the order [`super::parse_documents`] returns them), the null
/// mapping values and how they were written. Empty when the text holds none (or does not parse).
pub fn null_texts(text: &str) -> Vec<Vec<NullText>> {
    let may_have = text.lines().any(|l| {
        let l = l.split(" #").next().unwrap_or(l).trim_end();
        l.ends_with(':') || ["~", "null", "Null", "NULL"].iter().any(|n| l.ends_with(n))
    });
    if !may_have {
        return Vec::new();
    }
    let mut docs: Vec<Vec<NullText>> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            return Vec::new();
        };
        if let Some(Frame::Opaque { depth }) = stack.last_mut() {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => *depth += 1,
                Event::MappingEnd | Event::SequenceEnd => {
                    if *depth == 0 {
                        stack.pop();
                        advance(&mut stack);
                    } else {
                        *depth -= 1;
                    }
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::DocumentStart(..) => {
                docs.push(Vec::new());
                stack.clear();
            }
            Event::Scalar(value, style, _, tag) => {
                if let Some(Frame::Map { key }) = stack.last_mut()
                    && key.is_none()
                {
                    *key = Some(value.into_owned());
                    continue;
                }
                // The parser reads an empty value as `~` with an empty span.
                let empty = span.start.index() == span.end.index();
                if style == ScalarStyle::Plain
                    && tag.is_none()
                    && matches!(value.as_ref(), "~" | "null" | "Null" | "NULL")
                    && matches!(stack.last(), Some(Frame::Map { .. }))
                    && let Some(doc) = docs.last_mut()
                {
                    doc.push(NullText {
                        path: path(&stack),
                        text: if empty {
                            String::new()
                        } else {
                            value.into_owned()
                        },
                    });
                }
                advance(&mut stack);
            }
            Event::Alias(_) => advance(&mut stack),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_key = matches!(stack.last(), Some(Frame::Map { key: None }));
                if is_key {
                    stack.push(Frame::Opaque { depth: 0 });
                } else if matches!(event, Event::MappingStart(..)) {
                    stack.push(Frame::Map { key: None });
                } else {
                    stack.push(Frame::Seq { index: 0 });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                advance(&mut stack);
            }
            _ => {}
        }
    }
    docs
}

/// Moves the innermost collection past the value just read.
fn advance(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key }) => *key = None,
        Some(Frame::Seq { index }) => *index += 1,
        _ => {}
    }
}

/// The path of the value being read (every enclosing collection's current key or index).
fn path(stack: &[Frame]) -> Vec<PathSeg> {
    stack
        .iter()
        .filter_map(|f| match f {
            Frame::Map { key } => key.clone().map(PathSeg::Key),
            Frame::Seq { index } => Some(PathSeg::Index(*index)),
            Frame::Opaque { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{NullText, PathSeg, null_texts};

    fn key(k: &str) -> PathSeg {
        PathSeg::Key(k.into())
    }

    fn null(path: Vec<PathSeg>, text: &str) -> NullText {
        NullText {
            path,
            text: text.into(),
        }
    }

    #[test]
    fn finds_null_values_and_their_text() {
        let text = "a:\nb: null\nc:\n  d:\n  e: ~\nl:\n- x:\n  y: 1\n  s: \"\"\n---\nz: # note\n";
        let docs = null_texts(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0],
            vec![
                null(vec![key("a")], ""),
                null(vec![key("b")], "null"),
                null(vec![key("c"), key("d")], ""),
                null(vec![key("c"), key("e")], "~"),
                null(vec![key("l"), PathSeg::Index(0), key("x")], ""),
            ]
        );
        assert_eq!(docs[1], vec![null(vec![key("z")], "")]);
    }

    #[test]
    fn text_without_nulls_is_not_parsed() {
        assert!(null_texts("a: 1\nb: c\n").is_empty());
    }
}
