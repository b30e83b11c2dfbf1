//! Comments of a SOPS YAML file, found by scanning its lines, so decrypted output keeps them.
//!
//! capstan's YAML reader drops comments; SOPS keeps (and encrypts) them. The files SOPS writes
//! are laid out by go-yaml v3 in block style, so a comment line's place is fully described by
//! the node that follows it (or the end of its document) and its own column, and the mapping
//! or sequence it belongs to follows from that column. A comment's additional data is the key
//! path of the collection it sits in, as SOPS uses it.

use std::collections::{BTreeMap, HashMap};

/// One step of a node's address: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// A comment line: its column, its text (after `#`), and the key path of its collection.
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub(crate) column: usize,
    pub(crate) text: String,
    pub(crate) path: Vec<String>,
}

/// The comments of one document.
#[derive(Debug, Default)]
pub(crate) struct DocumentComments {
    /// Comments written just before the line that starts the node at this address.
    pub(crate) before: HashMap<Vec<Step>, Vec<Comment>>,
    /// Comments after the last node.
    pub(crate) end: Vec<Comment>,
}

impl DocumentComments {
    /// Applies `f` to every comment's text (decryption).
    pub(crate) fn map_texts(&mut self, mut f: impl FnMut(&str, &[String]) -> String) {
        for comment in self
            .before
            .values_mut()
            .flatten()
            .chain(self.end.iter_mut())
        {
            comment.text = f(&comment.text, &comment.path);
        }
    }
}

fn keys_of(address: &[Step]) -> Vec<String> {
    address
        .iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.clone()),
            Step::Index(_) => None,
        })
        .collect()
}

struct Open {
    column: usize,
    address: Vec<Step>,
    next_index: usize,
}

struct Scanner {
    documents: Vec<DocumentComments>,
    stack: Vec<Open>,
    last_at_column: BTreeMap<usize, Vec<Step>>,
    pending: Vec<(usize, String)>,
    block_scalar_parent: Option<usize>,
    seen_anything: bool,
}

impl Scanner {
    fn new() -> Scanner {
        Scanner {
            documents: vec![DocumentComments::default()],
            stack: vec![Open {
                column: 0,
                address: Vec::new(),
                next_index: 0,
            }],
            last_at_column: BTreeMap::new(),
            pending: Vec::new(),
            block_scalar_parent: None,
            seen_anything: false,
        }
    }

    fn comment_path(&self, column: usize, parent: &[Step]) -> Vec<String> {
        match self.last_at_column.get(&column) {
            Some(address) if !address.is_empty() => keys_of(&address[..address.len() - 1]),
            _ => keys_of(parent),
        }
    }

    fn finish_document(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for (column, text) in pending {
            let path = self.comment_path(column, &[]);
            self.current().end.push(Comment { column, text, path });
        }
    }

    fn current(&mut self) -> &mut DocumentComments {
        self.documents
            .last_mut()
            .expect("there is always a document")
    }

    /// Starts a node at `column`; attaches pending comments when it is the first on its line.
    fn start_node(&mut self, column: usize, step: Option<Step>, first_on_line: bool) {
        while self.stack.len() > 1 && self.stack.last().is_some_and(|top| top.column >= column) {
            self.stack.pop();
        }
        let parent = self.stack.last_mut().expect("the root is never popped");
        let step = step.unwrap_or_else(|| {
            parent.next_index += 1;
            Step::Index(parent.next_index - 1)
        });
        let parent_address = parent.address.clone();
        let mut address = parent_address.clone();
        address.push(step);
        if first_on_line {
            let pending = std::mem::take(&mut self.pending);
            let to_end = address == [Step::Key("sops".to_string())];
            for (comment_column, text) in pending {
                let path = if comment_column == column {
                    keys_of(&parent_address)
                } else {
                    self.comment_path(comment_column, &parent_address)
                };
                let comment = Comment {
                    column: comment_column,
                    text,
                    path,
                };
                if to_end {
                    self.current().end.push(comment);
                } else {
                    self.current()
                        .before
                        .entry(address.clone())
                        .or_default()
                        .push(comment);
                }
            }
        }
        self.last_at_column.insert(column, address.clone());
        self.stack.push(Open {
            column,
            address,
            next_index: 0,
        });
    }

    fn line(&mut self, line: &str) {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = self.block_scalar_parent {
            if line.trim().is_empty() || indent > parent {
                return;
            }
            self.block_scalar_parent = None;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return;
        }
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if self.seen_anything {
                self.finish_document();
                self.documents.push(DocumentComments::default());
                self.stack.truncate(1);
                self.stack[0].next_index = 0;
                self.last_at_column.clear();
            }
            return;
        }
        self.seen_anything = true;
        if let Some(text) = line[indent..].strip_prefix('#') {
            self.pending.push((indent, text.to_string()));
            return;
        }
        let mut column = indent;
        let mut rest = &line[indent..];
        let mut first = true;
        loop {
            if rest == "-" || rest.starts_with("- ") {
                self.start_node(column, None, first);
                first = false;
                rest = rest.get(2..).unwrap_or("");
                column += 2;
                if rest.is_empty() {
                    return;
                }
                continue;
            }
            if let Some((key, value)) = split_key(rest) {
                self.start_node(column, Some(Step::Key(key)), first);
                if value.starts_with('|') || value.starts_with('>') {
                    self.block_scalar_parent = Some(column);
                }
                return;
            }
            // A scalar sequence item.
            if rest.starts_with('|') || rest.starts_with('>') {
                self.block_scalar_parent = Some(column.saturating_sub(2));
            }
            return;
        }
    }
}

/// Scans a SOPS YAML file's comments, document by document.
pub(crate) fn scan(text: &str) -> Vec<DocumentComments> {
    let mut scanner = Scanner::new();
    for line in text.split('\n') {
        scanner.line(line.strip_suffix('\r').unwrap_or(line));
    }
    scanner.finish_document();
    scanner.documents
}

/// Splits `key: value` / `key:` into the key's text and the value part.
fn split_key(rest: &str) -> Option<(String, &str)> {
    let (key, after) = if let Some(body) = rest.strip_prefix('"') {
        let mut key = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => {
                    let (_, e) = chars.next()?;
                    match e {
                        'n' => key.push('\n'),
                        't' => key.push('\t'),
                        'r' => key.push('\r'),
                        '0' => key.push('\0'),
                        '"' => key.push('"'),
                        '\\' => key.push('\\'),
                        'x' | 'u' | 'U' => {
                            let width = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = (0..width)
                                .filter_map(|_| chars.next().map(|(_, c)| c))
                                .collect();
                            key.push(
                                u32::from_str_radix(&hex, 16)
                                    .ok()
                                    .and_then(char::from_u32)?,
                            );
                        }
                        other => key.push(other),
                    }
                }
                c => key.push(c),
            }
        };
        (key, &body[end + 1..])
    } else if let Some(body) = rest.strip_prefix('\'') {
        let mut key = String::new();
        let mut i = 0;
        let bytes = body.as_bytes();
        loop {
            let c = *bytes.get(i)?;
            if c == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    key.push('\'');
                    i += 2;
                    continue;
                }
                break;
            }
            let ch = body[i..].chars().next()?;
            key.push(ch);
            i += ch.len_utf8();
        }
        (key, &body[i + 1..])
    } else {
        let at = rest
            .find(": ")
            .or_else(|| rest.strip_suffix(':').map(|k| k.len()))?;
        (rest[..at].to_string(), &rest[at..])
    };
    let value = after.strip_prefix(':')?;
    if !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    Some((key, value.trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    #[test]
    fn attaches_comments_to_the_next_node_with_their_collection_path() {
        let text = "#top\na: 1\nb:\n    #in b\n    c: x\n    d:\n        - 1\n        #item\n        - 2\n        #foot\ne: |\n    #not a comment\n#end\nsops:\n    mac: x\n";
        let docs = scan(text);
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        let top = &doc.before[&vec![key("a")]];
        assert_eq!((top[0].text.as_str(), top[0].path.len()), ("top", 0));
        let in_b = &doc.before[&vec![key("b"), key("c")]];
        assert_eq!(in_b[0].path, vec!["b"]);
        let item = &doc.before[&vec![key("b"), key("d"), Step::Index(1)]];
        assert_eq!(
            (item[0].column, item[0].path.clone()),
            (8, vec!["b".to_string(), "d".to_string()])
        );
        let foot = &doc.before[&vec![key("e")]];
        assert_eq!((foot[0].column, foot[0].text.as_str()), (8, "foot"));
        assert_eq!(foot[0].path, vec!["b", "d"]);
        assert_eq!(doc.end.len(), 1);
        assert_eq!(doc.end[0].text, "end");
    }

    #[test]
    fn splits_quoted_and_plain_keys() {
        assert_eq!(split_key("a: b"), Some(("a".to_string(), "b")));
        assert_eq!(split_key("a:"), Some(("a".to_string(), "")));
        assert_eq!(
            split_key("'it''s: x': 1"),
            Some(("it's: x".to_string(), "1"))
        );
        assert_eq!(
            split_key("\"tab\\there\": 1"),
            Some(("tab\there".to_string(), "1"))
        );
        assert_eq!(split_key("a:b"), None);
        assert_eq!(split_key("ENC[AES256_GCM,data:x,iv:y]"), None);
    }
}
