//! The ResourceSet template language: Go `text/template` with `<<` `>>` delimiters, as the Flux
//! Operator runs it over each resource (and `resourcesTemplate`) once per input set.
//!
//! Supported: text and actions, `<<-`/`->>` whitespace trimming, comments, pipelines with `|`,
//! parenthesised sub-expressions, `$var :=`/`=` declarations, `if`/`else if`/`else`/`end`,
//! `range` (lists and maps, with `$i, $v :=`, `else`, `break`, `continue`), `with`, field chains on
//! `inputs`, `.`, variables and sub-expressions, and the functions of [`super::functions`]. A missing
//! map key is an error (the operator runs with `missingkey=error`). `define`, `template` and
//! `block` are not supported and fail at parse time, naming the construct.

use std::collections::BTreeMap;

use capstan_core::Value;

use super::functions;

/// Why a template did not parse or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template does not parse (line {line}): {message}")]
    Parse { line: usize, message: String },
    #[error("template failed (line {line}): {message}")]
    Execute { line: usize, message: String },
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If {
        branches: Vec<(Pipeline, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
struct Pipeline {
    line: usize,
    decl: Vec<String>,
    assign: bool,
    commands: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
enum Arg {
    Ident(String, Vec<String>),
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Paren(Box<Pipeline>, Vec<String>),
    Literal(Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Pipe,
    Open,
    Close,
    Declare,
    Assign,
    Comma,
    Str(String),
    Number(Value),
    Ident(String),
    Var(String),
    Dot,
    Field(String),
}

impl Template {
    /// Parses `text` with the `<<` `>>` delimiters.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let items = split(text)?;
        let mut parser = Parser {
            items,
            pos: 0,
            depth: 0,
        };
        let (nodes, end) = parser.list()?;
        if let Some((word, line)) = end {
            return Err(TemplateError::Parse {
                line,
                message: format!("unexpected <<{word}>>"),
            });
        }
        Ok(Template { nodes })
    }

    /// Runs the template with `inputs` as the value of the `inputs` function (and of `.`).
    pub fn execute(&self, inputs: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut exec = Exec {
            inputs,
            vars: vec![("$".to_owned(), inputs.clone())],
        };
        match exec.nodes(&self.nodes, inputs, &mut out)? {
            Flow::Normal => Ok(out),
            Flow::Break | Flow::Continue => Err(TemplateError::Execute {
                line: 0,
                message: "break or continue outside range".to_owned(),
            }),
        }
    }
}

/// A piece of template text: literal text, or an action's inside with its line.
enum Item {
    Text(String),
    Action(String, usize),
}

fn split(text: &str) -> Result<Vec<Item>, TemplateError> {
    let mut items = Vec::new();
    let mut rest = text;
    let mut line = 1;
    let mut trim_next = false;
    while let Some(start) = rest.find("<<") {
        let mut literal = &rest[..start];
        if trim_next {
            literal = literal.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_before = after.starts_with("- ")
            || after.starts_with("-\t")
            || after.starts_with("-\n")
            || after.starts_with("-\r");
        if trim_before {
            literal = literal.trim_end();
        }
        items.push(Item::Text(literal.to_owned()));
        line += rest[..start].matches('\n').count();
        let inner_start = if trim_before { 1 } else { 0 };
        let body = &after[inner_start..];
        let end = find_close(body).ok_or_else(|| TemplateError::Parse {
            line,
            message: "unclosed action (no >>)".to_owned(),
        })?;
        let mut inner = &body[..end];
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
            inner = &inner[..inner.len() - 1];
            trim_next = true;
        }
        items.push(Item::Action(inner.to_owned(), line));
        line += inner.matches('\n').count();
        rest = &body[end + 2..];
    }
    let mut literal = rest;
    if trim_next {
        literal = literal.trim_start();
    }
    items.push(Item::Text(literal.to_owned()));
    Ok(items)
}

/// The position of the closing `>>`, skipping quoted strings.
fn find_close(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'>' if bytes.get(i + 1) == Some(&b'>') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn lex(text: &str, line: usize) -> Result<Vec<Token>, TemplateError> {
    let err = |message: String| TemplateError::Parse { line, message };
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let ident_char = |c: char| c == '_' || c.is_alphanumeric();
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                tokens.push(Token::Pipe);
                i += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Declare);
                i += 2;
            }
            '=' => {
                tokens.push(Token::Assign);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err("unterminated quoted string".to_owned())),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some('r') => s.push('\r'),
                                Some(other) => s.push(*other),
                                None => return Err(err("unterminated quoted string".to_owned())),
                            }
                        }
                        Some(other) => s.push(*other),
                    }
                    i += 1;
                }
                i += 1;
                tokens.push(Token::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| err("unterminated raw string".to_owned()))?;
                tokens.push(Token::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
                tokens.push(Token::Var(chars[start..i].iter().collect()));
            }
            '.' => {
                if chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
                    && !matches!(tokens.last(), Some(Token::Ident(_) | Token::Var(_)))
                {
                    let start = i;
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    let text: String = chars[start..i].iter().collect();
                    let n: f64 = text
                        .parse()
                        .map_err(|_| err(format!("bad number {text}")))?;
                    tokens.push(Token::Number(serde_json::json!(n)));
                    continue;
                }
                let start = i + 1;
                i += 1;
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
                if i == start {
                    tokens.push(Token::Dot);
                } else {
                    tokens.push(Token::Field(chars[start..i].iter().collect()));
                }
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
                let value = if let Ok(n) = text.parse::<i64>() {
                    serde_json::json!(n)
                } else if let Some(hex) = text.strip_prefix("0x") {
                    serde_json::json!(
                        i64::from_str_radix(hex, 16)
                            .map_err(|_| err(format!("bad number {text}")))?
                    )
                } else {
                    let f: f64 = text
                        .parse()
                        .map_err(|_| err(format!("bad number {text}")))?;
                    serde_json::json!(f)
                };
                tokens.push(Token::Number(value));
            }
            '\'' => {
                let ch = chars
                    .get(i + 1)
                    .copied()
                    .ok_or_else(|| err("bad character constant".to_owned()))?;
                if chars.get(i + 2) != Some(&'\'') {
                    return Err(err("bad character constant".to_owned()));
                }
                tokens.push(Token::Number(serde_json::json!(ch as u32)));
                i += 3;
            }
            c if ident_char(c) => {
                let start = i;
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
                tokens.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(err(format!("unexpected character {other:?} in action"))),
        }
    }
    Ok(tokens)
}

struct Parser {
    items: Vec<Item>,
    pos: usize,
    /// How many `range` blocks enclose the current position.
    depth: usize,
}

/// A block-ending keyword met by [`Parser::list`], with what follows it and its line.
type End = Option<(String, usize)>;

impl Parser {
    /// Nodes up to an `end`/`else` (returned as the terminator) or the end of the text.
    fn list(&mut self) -> Result<(Vec<Node>, End), TemplateError> {
        let mut nodes = Vec::new();
        while self.pos < self.items.len() {
            let item = std::mem::replace(&mut self.items[self.pos], Item::Text(String::new()));
            self.pos += 1;
            match item {
                Item::Text(t) => {
                    if !t.is_empty() {
                        nodes.push(Node::Text(t));
                    }
                }
                Item::Action(inner, line) => {
                    let trimmed = inner.trim();
                    if trimmed.starts_with("/*") {
                        if !trimmed.ends_with("*/") {
                            return Err(TemplateError::Parse {
                                line,
                                message: "unclosed comment".to_owned(),
                            });
                        }
                        continue;
                    }
                    let tokens = lex(trimmed, line)?;
                    let keyword = match tokens.first() {
                        Some(Token::Ident(k)) => k.as_str(),
                        _ => "",
                    };
                    let rest = || tokens[1..].to_vec();
                    match keyword {
                        "end" => return Ok((nodes, Some(("end".to_owned(), line)))),
                        "else" => {
                            let tail = trimmed["else".len()..].trim().to_owned();
                            return Ok((nodes, Some((format!("else {tail}"), line))));
                        }
                        "if" => nodes.push(self.parse_if(rest(), line)?),
                        "range" => {
                            let pipe = parse_pipeline(&rest(), line, true)?;
                            self.depth += 1;
                            let (body, otherwise) = self.block(line, "range")?;
                            self.depth -= 1;
                            nodes.push(Node::Range {
                                pipe,
                                body,
                                otherwise,
                            });
                        }
                        "with" => {
                            let pipe = parse_pipeline(&rest(), line, true)?;
                            let (body, otherwise) = self.block(line, "with")?;
                            nodes.push(Node::With {
                                pipe,
                                body,
                                otherwise,
                            });
                        }
                        "break" | "continue" if tokens.len() == 1 => {
                            if self.depth == 0 {
                                return Err(TemplateError::Parse {
                                    line,
                                    message: format!("{keyword} outside range"),
                                });
                            }
                            nodes.push(if keyword == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        "define" | "template" | "block" => {
                            return Err(TemplateError::Parse {
                                line,
                                message: format!(
                                    "{keyword} is not supported in ResourceSet templates by capstan"
                                ),
                            });
                        }
                        _ => nodes.push(Node::Action(parse_pipeline(&tokens, line, true)?)),
                    }
                }
            }
        }
        Ok((nodes, None))
    }

    /// A body, then an optional `else` body, ended by `end`.
    fn block(&mut self, line: usize, what: &str) -> Result<(Vec<Node>, Vec<Node>), TemplateError> {
        let (body, end) = self.list()?;
        match end {
            Some((word, _)) if word == "end" => Ok((body, Vec::new())),
            Some((word, else_line)) if word.trim() == "else" => {
                let (otherwise, end) = self.list()?;
                match end {
                    Some((word, _)) if word == "end" => Ok((body, otherwise)),
                    _ => Err(TemplateError::Parse {
                        line: else_line,
                        message: format!("{what}: missing <<end>> after <<else>>"),
                    }),
                }
            }
            Some((word, l)) => Err(TemplateError::Parse {
                line: l,
                message: format!("{what}: unexpected <<{}>>", word.trim()),
            }),
            None => Err(TemplateError::Parse {
                line,
                message: format!("{what}: missing <<end>>"),
            }),
        }
    }

    fn parse_if(&mut self, tokens: Vec<Token>, line: usize) -> Result<Node, TemplateError> {
        let mut branches = Vec::new();
        let mut condition = parse_pipeline(&tokens, line, true)?;
        loop {
            let (body, end) = self.list()?;
            branches.push((condition, body));
            match end {
                Some((word, _)) if word == "end" => {
                    return Ok(Node::If {
                        branches,
                        otherwise: Vec::new(),
                    });
                }
                Some((word, l)) if word.starts_with("else") => {
                    let tail = word["else".len()..].trim();
                    if tail.is_empty() {
                        let (otherwise, end) = self.list()?;
                        return match end {
                            Some((w, _)) if w == "end" => Ok(Node::If {
                                branches,
                                otherwise,
                            }),
                            _ => Err(TemplateError::Parse {
                                line: l,
                                message: "if: missing <<end>> after <<else>>".to_owned(),
                            }),
                        };
                    }
                    let Some(cond) = tail.strip_prefix("if") else {
                        return Err(TemplateError::Parse {
                            line: l,
                            message: format!("unexpected <<else {tail}>>"),
                        });
                    };
                    condition = parse_pipeline(&lex(cond, l)?, l, true)?;
                }
                _ => {
                    return Err(TemplateError::Parse {
                        line,
                        message: "if: missing <<end>>".to_owned(),
                    });
                }
            }
        }
    }
}

fn parse_pipeline(
    tokens: &[Token],
    line: usize,
    allow_decl: bool,
) -> Result<Pipeline, TemplateError> {
    let err = |message: &str| TemplateError::Parse {
        line,
        message: message.to_owned(),
    };
    let mut pos = 0;
    let mut decl = Vec::new();
    let mut assign = false;
    if allow_decl && matches!(tokens.first(), Some(Token::Var(_))) {
        let mut names = Vec::new();
        let mut p = 0;
        while let Some(Token::Var(name)) = tokens.get(p) {
            names.push(name.clone());
            p += 1;
            if tokens.get(p) == Some(&Token::Comma) {
                p += 1;
            } else {
                break;
            }
        }
        match tokens.get(p) {
            Some(Token::Declare) => {
                decl = names;
                pos = p + 1;
            }
            Some(Token::Assign) => {
                decl = names;
                assign = true;
                pos = p + 1;
            }
            _ => {}
        }
    }
    let mut commands = Vec::new();
    let mut current = Vec::new();
    while pos < tokens.len() {
        match &tokens[pos] {
            Token::Pipe => {
                if current.is_empty() {
                    return Err(err("missing command before |"));
                }
                commands.push(std::mem::take(&mut current));
                pos += 1;
                continue;
            }
            Token::Close => return Err(err("unexpected )")),
            _ => {}
        }
        let (arg, next) = parse_arg(tokens, pos, line)?;
        current.push(arg);
        pos = next;
    }
    if current.is_empty() {
        return Err(err(if commands.is_empty() {
            "missing value in action"
        } else {
            "missing command after |"
        }));
    }
    commands.push(current);
    Ok(Pipeline {
        line,
        decl,
        assign,
        commands,
    })
}

fn fields(tokens: &[Token], mut pos: usize) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    while let Some(Token::Field(f)) = tokens.get(pos) {
        out.push(f.clone());
        pos += 1;
    }
    (out, pos)
}

fn parse_arg(tokens: &[Token], pos: usize, line: usize) -> Result<(Arg, usize), TemplateError> {
    let err = |message: String| TemplateError::Parse { line, message };
    match &tokens[pos] {
        Token::Open => {
            let mut depth = 0;
            let mut end = pos;
            for (i, t) in tokens.iter().enumerate().skip(pos) {
                match t {
                    Token::Open => depth += 1,
                    Token::Close => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if depth != 0 {
                return Err(err("unclosed (".to_owned()));
            }
            let inner = parse_pipeline(&tokens[pos + 1..end], line, false)?;
            let (f, next) = fields(tokens, end + 1);
            Ok((Arg::Paren(Box::new(inner), f), next))
        }
        Token::Str(s) => Ok((Arg::Literal(Value::String(s.clone())), pos + 1)),
        Token::Number(n) => Ok((Arg::Literal(n.clone()), pos + 1)),
        Token::Dot => {
            let (f, next) = fields(tokens, pos + 1);
            Ok((Arg::Dot(f), next))
        }
        Token::Field(_) => {
            let (f, next) = fields(tokens, pos);
            Ok((Arg::Dot(f), next))
        }
        Token::Var(name) => {
            let (f, next) = fields(tokens, pos + 1);
            Ok((Arg::Var(name.clone(), f), next))
        }
        Token::Ident(name) => match name.as_str() {
            "true" => Ok((Arg::Literal(Value::Bool(true)), pos + 1)),
            "false" => Ok((Arg::Literal(Value::Bool(false)), pos + 1)),
            "nil" => Ok((Arg::Literal(Value::Null), pos + 1)),
            _ => {
                if !functions::exists(name) {
                    return Err(err(format!("function {name:?} not defined")));
                }
                let (f, next) = fields(tokens, pos + 1);
                Ok((Arg::Ident(name.clone(), f), next))
            }
        },
        other => Err(err(format!("unexpected {other:?} in operand"))),
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    inputs: &'a Value,
    vars: Vec<(String, Value)>,
}

impl Exec<'_> {
    fn nodes(
        &mut self,
        nodes: &[Node],
        dot: &Value,
        out: &mut String,
    ) -> Result<Flow, TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipe) => {
                    let value = self.pipeline(pipe, dot)?;
                    if pipe.decl.is_empty() {
                        out.push_str(&functions::print(&value));
                    }
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    let mut taken = false;
                    for (cond, body) in branches {
                        let mark = self.vars.len();
                        let value = self.pipeline(cond, dot)?;
                        if functions::truthy(&value) {
                            let flow = self.nodes(body, dot, out)?;
                            self.vars.truncate(mark);
                            taken = true;
                            if !matches!(flow, Flow::Normal) {
                                return Ok(flow);
                            }
                            break;
                        }
                        self.vars.truncate(mark);
                    }
                    if !taken {
                        let flow = self.nodes(otherwise, dot, out)?;
                        if !matches!(flow, Flow::Normal) {
                            return Ok(flow);
                        }
                    }
                }
                Node::With {
                    pipe,
                    body,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let value = self.pipeline(pipe, dot)?;
                    let flow = if functions::truthy(&value) {
                        self.nodes(body, &value, out)?
                    } else {
                        self.nodes(otherwise, dot, out)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range {
                    pipe,
                    body,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let mut plain = pipe.clone();
                    let decl = std::mem::take(&mut plain.decl);
                    let value = self.pipeline(&plain, dot)?;
                    let entries: Vec<(Value, Value)> = match &value {
                        Value::Array(items) => items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (serde_json::json!(i), v.clone()))
                            .collect(),
                        Value::Object(map) => {
                            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
                            sorted
                                .into_iter()
                                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                                .collect()
                        }
                        Value::Null => Vec::new(),
                        Value::Number(n) => (0..n.as_i64().unwrap_or(0))
                            .map(|i| (serde_json::json!(i), serde_json::json!(i)))
                            .collect(),
                        other => {
                            return Err(TemplateError::Execute {
                                line: pipe.line,
                                message: format!("range can't iterate over {other}"),
                            });
                        }
                    };
                    if entries.is_empty() {
                        let flow = self.nodes(otherwise, dot, out)?;
                        self.vars.truncate(mark);
                        if !matches!(flow, Flow::Normal) {
                            return Ok(flow);
                        }
                        continue;
                    }
                    for (key, item) in entries {
                        let inner = self.vars.len();
                        match decl.len() {
                            0 => {}
                            1 => self.vars.push((decl[0].clone(), item.clone())),
                            _ => {
                                self.vars.push((decl[0].clone(), key));
                                self.vars.push((decl[1].clone(), item.clone()));
                            }
                        }
                        let flow = self.nodes(body, &item, out)?;
                        self.vars.truncate(inner);
                        if matches!(flow, Flow::Break) {
                            break;
                        }
                    }
                    self.vars.truncate(mark);
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn pipeline(&mut self, pipe: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let mut value: Option<Value> = None;
        for command in &pipe.commands {
            value = Some(self.command(command, dot, value, pipe.line)?);
        }
        let value = value.unwrap_or(Value::Null);
        if !pipe.decl.is_empty() {
            if pipe.assign {
                let name = &pipe.decl[0];
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => {
                        return Err(TemplateError::Execute {
                            line: pipe.line,
                            message: format!("undefined variable: {name}"),
                        });
                    }
                }
            } else {
                self.vars.push((pipe.decl[0].clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        args: &[Arg],
        dot: &Value,
        piped: Option<Value>,
        line: usize,
    ) -> Result<Value, TemplateError> {
        let err = |message: String| TemplateError::Execute { line, message };
        if let Arg::Ident(name, chain) = &args[0] {
            // `and` and `or` stop at the first deciding argument.
            if (name == "and" || name == "or") && chain.is_empty() {
                let mut last = Value::Null;
                let mut operands: Vec<&Arg> = args[1..].iter().collect();
                let piped_value = piped;
                if operands.is_empty() && piped_value.is_none() {
                    return Err(err(format!(
                        "wrong number of args for {name}: want at least 1 got 0"
                    )));
                }
                for operand in operands.drain(..) {
                    last = self.arg(operand, dot, line)?;
                    if functions::truthy(&last) != (name == "and") {
                        return Ok(last);
                    }
                }
                if let Some(v) = piped_value {
                    last = v;
                }
                return Ok(last);
            }
            let mut values = Vec::with_capacity(args.len());
            for arg in &args[1..] {
                values.push(self.arg(arg, dot, line)?);
            }
            if let Some(p) = piped {
                values.push(p);
            }
            let result = if name == "inputs" {
                if !values.is_empty() {
                    return Err(err("wrong number of args for inputs: want 0".to_owned()));
                }
                self.inputs.clone()
            } else {
                functions::call(name, values)
                    .map_err(|m| err(format!("error calling {name}: {m}")))?
            };
            return walk(&result, chain).map_err(err);
        }
        if args.len() > 1 || piped.is_some() {
            return Err(err("can't give argument to non-function".to_owned()));
        }
        self.arg(&args[0], dot, line)
    }

    fn arg(&mut self, arg: &Arg, dot: &Value, line: usize) -> Result<Value, TemplateError> {
        let err = |message: String| TemplateError::Execute { line, message };
        match arg {
            Arg::Literal(v) => Ok(v.clone()),
            Arg::Dot(chain) => walk(dot, chain).map_err(err),
            Arg::Var(name, chain) => {
                let value = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| err(format!("undefined variable: {name}")))?;
                walk(&value, chain).map_err(err)
            }
            Arg::Paren(pipe, chain) => {
                let value = self.pipeline(pipe, dot)?;
                walk(&value, chain).map_err(err)
            }
            Arg::Ident(..) => self.command(std::slice::from_ref(arg), dot, None, line),
        }
    }
}

/// Follows a field chain; a missing key is an error (`missingkey=error`).
fn walk(value: &Value, chain: &[String]) -> Result<Value, String> {
    let mut current = value;
    for (i, field) in chain.iter().enumerate() {
        match current {
            Value::Object(map) => {
                current = map
                    .get(field)
                    .ok_or_else(|| format!("map has no entry for key {field:?}"))?;
            }
            Value::Null => {
                return Err(format!("nil pointer evaluating .{}", chain[..=i].join(".")));
            }
            other => {
                return Err(format!(
                    "can't evaluate field {field} in {}",
                    functions::type_name(other)
                ));
            }
        }
    }
    Ok(current.clone())
}
