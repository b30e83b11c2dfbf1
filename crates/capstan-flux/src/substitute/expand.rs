//! The expander of Flux's post-build variable syntax. One pass over the text: literal text goes
//! straight to the output, and each `${…}` still open sits on a stack with the argument it is
//! collecting, so an expression nested in an argument (`${a:=${b}}`) finishes into its parent's
//! argument and the depth of nesting costs heap, not call stack.
//!
//! The dialect, as kustomize-controller runs it:
//! - outside `${…}`, `$$` is one `$` and every other `$` (bare `$var` included) is literal;
//! - a name is letters, digits and `_` (any first character; the controller's own name check
//!   on the variables it defines is separate);
//! - `${name}`, `${#name}`, `${name^}`, `${name^^}`, `${name,}`, `${name,,}` (`,^` and `^,` are
//!   accepted and change nothing);
//! - `${name=w}`, `${name:=w}`, `${name:-w}`, and `${name:?w}`, `${name:+w}` which behave like
//!   `:-`: the value, or `w` when it is unset *or empty*. `w` runs to the closing `}` and may hold
//!   nested expressions. `${name-w}`, `${name+w}` and `${name?w}` are errors;
//! - `${name:offset}`, `${name:offset:length}` (several `:` between them count as one);
//! - `${name#pat}`, `${name##pat}`, `${name%pat}`, `${name%%pat}` with shell patterns;
//! - `${name/old/new}`, `${name//old/new}`, `${name/#old/new}`, `${name/%old/new}` with plain
//!   text, where `$$`, `\/` and `\\` are escapes; `old` runs to the next `/` (a `}` does not end
//!   it), and several `/` before `new` count as one;
//! - a NUL character ends the text.
//!
//! Syntax errors win over evaluation errors wherever they are in the text; among evaluation
//! errors the first expression to finish reports (an argument finishes before its expression).
//! A non-ASCII character is a name character when Rust calls it alphabetic or numeric, a little
//! wider than the controller's letters-and-decimal-digits (it only changes which error a
//! malformed expression reports).

use super::operators::{MAX_VALUE_BYTES, Operator, OperatorFailure};
use crate::glob::decode_char;

/// A malformed expression. The messages are the controller's, so they can be searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `${` not followed by a name.
    NoName,
    /// `${name` followed by something that is neither an operator nor `}`.
    Unclosed,
    /// An operator whose argument is missing (`${a:}`, `${a#}`, `${a:=x` at the end).
    MissingArgument,
    /// Anything else out of place inside an expression.
    Malformed,
}

impl Syntax {
    fn message(self) -> &'static str {
        match self {
            Syntax::NoName => "unable to parse variable name",
            Syntax::Unclosed => "missing closing brace",
            Syntax::MissingArgument => "unable to parse substitution within function",
            Syntax::Malformed => "bad substitution",
        }
    }
}

/// Why a text could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("{} in `{snippet}` (line {line}, column {column})", problem.message())]
    Syntax {
        problem: Syntax,
        /// The expression from its `${` up to where the problem was seen.
        snippet: String,
        line: usize,
        column: usize,
    },
    #[error("variable not set (strict mode): {name:?} (line {line})")]
    Unset { name: String, line: usize },
    #[error(
        "`${{{name}:{offset}:{length}}}` ends before it starts, which makes kustomize-controller fail (line {line})"
    )]
    SubstringRange {
        name: String,
        offset: i64,
        length: i64,
        line: usize,
    },
    #[error(
        "`${{{name}…}}` expands to more than {limit} bytes (nested `${{var//old/new}}` replacements multiply lengths) (line {line})"
    )]
    TooLarge {
        name: String,
        limit: usize,
        line: usize,
    },
}

/// The argument an open expression is collecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The fallback word: any text and expressions up to `}`.
    Fallback,
    /// The substring offset, up to `:` or `}`.
    Offset,
    /// The substring length, up to `}`.
    Count,
    /// A trimming pattern, up to `}`.
    Pattern,
    /// The text to replace, up to `/`, with escapes.
    Search,
    /// The replacement, up to `}`, with escapes.
    Replacement,
}

impl Slot {
    fn ends_at(self, byte: u8) -> bool {
        match self {
            Slot::Offset => byte == b':' || byte == b'}',
            Slot::Search => byte == b'/',
            _ => byte == b'}',
        }
    }

    fn has_escapes(self) -> bool {
        matches!(self, Slot::Search | Slot::Replacement)
    }
}

/// An expression whose closing `}` has not been reached yet.
#[derive(Debug)]
struct OpenExpression {
    start: usize,
    name: String,
    operator: Operator,
    slot: Slot,
    /// The current (single-piece) slot has its argument.
    filled: bool,
    args: Vec<Vec<u8>>,
    current: Vec<u8>,
}

/// Expands `input`. `lookup` returns the value of a variable, `None` when it is undefined (the
/// caller decides what strict mode means by returning `Some("")` instead).
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let text = match input.find('\0') {
        Some(end) => &input[..end],
        None => input,
    };
    let mut expander = Expander {
        text: text.as_bytes(),
        pos: 0,
        out: Vec::with_capacity(text.len()),
        open: Vec::new(),
        deferred: None,
        lookup,
    };
    expander.run()?;
    if let Some(error) = expander.deferred {
        return Err(error);
    }
    Ok(match String::from_utf8(expander.out) {
        Ok(text) => text,
        // A substring can cut a character in two.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

struct Expander<'a> {
    text: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    open: Vec<OpenExpression>,
    /// The first evaluation error; reported only if the whole text is well formed.
    deferred: Option<ExpandError>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Expander<'_> {
    fn run(&mut self) -> Result<(), ExpandError> {
        loop {
            let Some(top) = self.open.last() else {
                if self.pos >= self.text.len() {
                    return Ok(());
                }
                self.literal_text()?;
                continue;
            };
            match (top.slot, top.filled) {
                (Slot::Fallback, _) => self.fallback_step()?,
                (_, false) => self.argument_start()?,
                (_, true) => self.after_argument()?,
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn opens_expression(&self) -> bool {
        self.text.get(self.pos..self.pos + 2) == Some(b"${")
    }

    /// Text outside any expression, up to the next `${` (which it opens) or the end.
    fn literal_text(&mut self) -> Result<(), ExpandError> {
        while let Some(offset) = self.text[self.pos..].iter().position(|&b| b == b'$') {
            let dollar = self.pos + offset;
            self.out.extend_from_slice(&self.text[self.pos..dollar]);
            self.pos = dollar;
            match self.text.get(dollar + 1) {
                Some(b'{') => return self.open_expression(),
                Some(b'$') => {
                    self.out.push(b'$');
                    self.pos += 2;
                }
                _ => {
                    self.out.push(b'$');
                    self.pos += 1;
                }
            }
        }
        self.out.extend_from_slice(&self.text[self.pos..]);
        self.pos = self.text.len();
        Ok(())
    }

    /// Reads `${`, the name and the operator; finishes the expression at once when it takes no
    /// argument, otherwise leaves it open on the stack.
    fn open_expression(&mut self) -> Result<(), ExpandError> {
        let start = self.pos;
        self.pos += 2;
        if self.eat(b'#') {
            let name = self.name();
            if name.is_empty() || !self.eat(b'}') {
                return Err(self.syntax(Syntax::Malformed, start));
            }
            return self.finish(start, &name, Operator::Length, &[]);
        }
        let name = self.name();
        if name.is_empty() {
            return Err(self.syntax(Syntax::NoName, start));
        }
        let (operator, slot) = match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                return self.finish(start, &name, Operator::Value, &[]);
            }
            Some(b':') => match self.text.get(self.pos + 1) {
                Some(b'=' | b'-' | b'?' | b'+') => {
                    self.pos += 2;
                    (Operator::Fallback, Slot::Fallback)
                }
                _ => {
                    self.pos += 1;
                    (Operator::Substring, Slot::Offset)
                }
            },
            Some(b'=') => {
                self.pos += 1;
                (Operator::Fallback, Slot::Fallback)
            }
            Some(first @ (b'^' | b',')) => {
                self.pos += 1;
                let doubled = match self.peek() {
                    Some(second @ (b'^' | b',')) => {
                        self.pos += 1;
                        Some(second == first)
                    }
                    _ => None,
                };
                if !self.eat(b'}') {
                    return Err(self.syntax(Syntax::Malformed, start));
                }
                let upper = first == b'^';
                let operator = match doubled {
                    None => Operator::Case { upper, all: false },
                    Some(true) => Operator::Case { upper, all: true },
                    Some(false) => Operator::MixedCase,
                };
                return self.finish(start, &name, operator, &[]);
            }
            Some(b'/') => {
                self.pos += 1;
                let operator = match self.peek() {
                    Some(b'/') => Operator::Replace { every: true },
                    Some(b'#') => Operator::ReplacePrefix,
                    Some(b'%') => Operator::ReplaceSuffix,
                    _ => Operator::Replace { every: false },
                };
                if operator != (Operator::Replace { every: false }) {
                    self.pos += 1;
                }
                (operator, Slot::Search)
            }
            Some(b'#') => {
                self.pos += 1;
                let longest = self.eat(b'#');
                (Operator::TrimPrefix { longest }, Slot::Pattern)
            }
            Some(b'%') => {
                self.pos += 1;
                let longest = self.eat(b'%');
                (Operator::TrimSuffix { longest }, Slot::Pattern)
            }
            _ => return Err(self.syntax(Syntax::Unclosed, start)),
        };
        self.open.push(OpenExpression {
            start,
            name,
            operator,
            slot,
            filled: false,
            args: Vec::new(),
            current: Vec::new(),
        });
        Ok(())
    }

    /// Letters, digits and `_`.
    fn name(&mut self) -> String {
        let begin = self.pos;
        while self.pos < self.text.len() {
            let (c, width) = decode_char(&self.text[self.pos..]);
            if !(c == '_' || c.is_alphabetic() || c.is_numeric()) {
                break;
            }
            self.pos += width;
        }
        String::from_utf8_lossy(&self.text[begin..self.pos]).into_owned()
    }

    /// One step inside a fallback word: the closing `}`, a nested expression, or a run of text.
    fn fallback_step(&mut self) -> Result<(), ExpandError> {
        match self.peek() {
            None => Err(self.syntax(Syntax::MissingArgument, self.innermost_start())),
            Some(b'}') => {
                self.pos += 1;
                self.close_top()
            }
            Some(_) if self.opens_expression() => self.open_expression(),
            Some(_) => {
                self.text_run(Slot::Fallback);
                Ok(())
            }
        }
    }

    /// The start of a single-piece argument: a nested expression or a run of text, which may not
    /// begin with the character that would end it.
    fn argument_start(&mut self) -> Result<(), ExpandError> {
        let slot = self.open.last().expect("an open expression").slot;
        let Some(byte) = self.peek() else {
            return Err(self.syntax(Syntax::MissingArgument, self.innermost_start()));
        };
        if self.opens_expression() {
            return self.open_expression();
        }
        if slot.ends_at(byte) && !(slot.has_escapes() && self.escape_at(self.pos).is_some()) {
            return Err(self.syntax(Syntax::MissingArgument, self.innermost_start()));
        }
        self.text_run(slot);
        self.open.last_mut().expect("an open expression").filled = true;
        Ok(())
    }

    /// What may follow a single-piece argument: `:` before a substring length, `/` before a
    /// replacement, or the closing `}`.
    fn after_argument(&mut self) -> Result<(), ExpandError> {
        let top = self.open.last_mut().expect("an open expression");
        match (top.slot, self.text.get(self.pos)) {
            (Slot::Offset, Some(b':')) => {
                while self.text.get(self.pos) == Some(&b':') {
                    self.pos += 1;
                }
                top.args.push(std::mem::take(&mut top.current));
                top.slot = Slot::Count;
                top.filled = false;
                Ok(())
            }
            (Slot::Search, Some(b'/')) => {
                while self.text.get(self.pos) == Some(&b'/') {
                    self.pos += 1;
                }
                top.args.push(std::mem::take(&mut top.current));
                top.slot = Slot::Replacement;
                top.filled = false;
                if self.eat(b'}') {
                    return self.close_top();
                }
                Ok(())
            }
            (slot, Some(b'}')) if slot != Slot::Search => {
                self.pos += 1;
                top.args.push(std::mem::take(&mut top.current));
                self.close_top()
            }
            _ => Err(self.syntax(Syntax::Malformed, self.innermost_start())),
        }
    }

    /// `$$`, `\/` or `\\` at `at`: the byte it stands for.
    fn escape_at(&self, at: usize) -> Option<u8> {
        match (self.text.get(at), self.text.get(at + 1)) {
            (Some(b'$'), Some(b'$')) => Some(b'$'),
            (Some(b'\\'), Some(&escaped @ (b'/' | b'\\'))) => Some(escaped),
            _ => None,
        }
    }

    /// Copies argument text into the innermost expression until the slot's end character, a
    /// `${`, or the end of the text.
    fn text_run(&mut self, slot: Slot) {
        let escapes = slot.has_escapes();
        let mut run = Vec::new();
        while let Some(byte) = self.peek() {
            if self.opens_expression() {
                break;
            }
            if escapes && let Some(escaped) = self.escape_at(self.pos) {
                run.push(escaped);
                self.pos += 2;
                continue;
            }
            if slot.ends_at(byte) {
                break;
            }
            run.push(byte);
            self.pos += 1;
        }
        let top = self.open.last_mut().expect("an open expression");
        top.current.extend_from_slice(&run);
    }

    fn close_top(&mut self) -> Result<(), ExpandError> {
        let mut done = self.open.pop().expect("an open expression");
        if done.slot == Slot::Fallback {
            done.args.push(std::mem::take(&mut done.current));
        }
        self.finish(done.start, &done.name, done.operator, &done.args)
    }

    /// Evaluates a finished expression and hands its value to the enclosing argument (or the
    /// output). An evaluation error is kept, and scanning goes on to find syntax errors.
    fn finish(
        &mut self,
        start: usize,
        name: &str,
        operator: Operator,
        args: &[Vec<u8>],
    ) -> Result<(), ExpandError> {
        let value = (self.lookup)(name).map(String::into_bytes);
        let result = operator.apply(value, args).unwrap_or_else(|failure| {
            if self.deferred.is_none() {
                let line = self.line_and_column(start).0;
                self.deferred = Some(match failure {
                    OperatorFailure::Unset => ExpandError::Unset {
                        name: name.to_owned(),
                        line,
                    },
                    OperatorFailure::SubstringRange { offset, length } => {
                        ExpandError::SubstringRange {
                            name: name.to_owned(),
                            offset,
                            length,
                            line,
                        }
                    }
                    OperatorFailure::TooLarge => ExpandError::TooLarge {
                        name: name.to_owned(),
                        limit: MAX_VALUE_BYTES,
                        line,
                    },
                });
            }
            Vec::new()
        });
        // Many large values side by side are bounded too: the text they build is.
        let building = self.open.last().map_or(self.out.len(), |p| p.current.len());
        if building + result.len() > MAX_VALUE_BYTES {
            return Err(ExpandError::TooLarge {
                name: name.to_owned(),
                limit: MAX_VALUE_BYTES,
                line: self.line_and_column(start).0,
            });
        }
        match self.open.last_mut() {
            Some(parent) => {
                parent.current.extend_from_slice(&result);
                parent.filled = true;
            }
            None => self.out.extend_from_slice(&result),
        }
        Ok(())
    }

    fn innermost_start(&self) -> usize {
        self.open.last().map_or(self.pos, |open| open.start)
    }

    fn line_and_column(&self, at: usize) -> (usize, usize) {
        let before = &self.text[..at.min(self.text.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count();
        (line, column)
    }

    fn syntax(&self, problem: Syntax, start: usize) -> ExpandError {
        const SNIPPET_LIMIT: usize = 60;
        let end = (self.pos + 1).min(self.text.len()).max(start);
        let mut snippet = String::from_utf8_lossy(&self.text[start..end]).into_owned();
        if snippet.chars().count() > SNIPPET_LIMIT {
            snippet = snippet.chars().take(SNIPPET_LIMIT).collect::<String>() + "…";
        }
        let (line, column) = self.line_and_column(self.pos);
        ExpandError::Syntax {
            problem,
            snippet,
            line,
            column,
        }
    }
}
