//! INI files as SOPS stores them: read and written the way go-ini (with SOPS' options) does.
//!
//! Sections become the first level of the tree and keys the second, so a value's additional
//! data is `section:key:`. The metadata lives in a `[sops]` section with flattened keys and
//! `\n` escaped. Comments (`#` or `;` lines, and inline comments) attach to the key or section
//! that follows them. Output follows go-ini's pretty format: `=` aligned within a section, a
//! blank line between sections, values quoted when they hold `#`, `;`, a newline or
//! surrounding spaces.

use super::SopsError;

/// One section: its name, the comment before its header, and its keys with their comments.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub(crate) name: String,
    pub(crate) comment: Option<String>,
    pub(crate) keys: Vec<Key>,
}

#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) comment: Option<String>,
}

const DEFAULT_SECTION: &str = "DEFAULT";

/// Parses an INI file. The first section is always the unnamed `DEFAULT` one, as in go-ini.
pub(crate) fn parse(text: &str, origin: &str) -> Result<Vec<Section>, SopsError> {
    let error = |line: usize, reason: &str| SopsError::Format {
        origin: origin.to_string(),
        // The line's text may be secret: errors name the line only.
        reason: format!("line {line}: {reason}"),
    };
    let mut sections = vec![Section {
        name: DEFAULT_SECTION.to_string(),
        comment: None,
        keys: Vec::new(),
    }];
    let mut comment = String::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.trim_start();
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('#') || line.starts_with(';') {
            comment.push_str(line);
            comment.push('\n');
            continue;
        }
        if line.starts_with('[') {
            let close = line
                .rfind(']')
                .ok_or_else(|| error(index + 1, "unclosed section header"))?;
            let trailing = line[close + 1..].trim();
            if trailing.starts_with('#') || trailing.starts_with(';') {
                comment.push_str(trailing);
            }
            sections.push(Section {
                name: line[1..close].to_string(),
                comment: take_comment(&mut comment),
                keys: Vec::new(),
            });
            continue;
        }
        let (name, rest) =
            read_key_name(line).ok_or_else(|| error(index + 1, "not a key = value line"))?;
        let (value, inline_comment) = read_value(rest);
        if let Some(inline) = inline_comment {
            comment.push_str(&inline);
        }
        let key_comment = take_comment(&mut comment);
        let section = sections
            .last_mut()
            .expect("the default section is always there");
        match section.keys.iter_mut().find(|k| k.name == name) {
            Some(existing) => {
                existing.value = value;
                existing.comment = key_comment;
            }
            None => section.keys.push(Key {
                name,
                value,
                comment: key_comment,
            }),
        }
    }
    Ok(sections)
}

fn take_comment(buffer: &mut String) -> Option<String> {
    let text = buffer.trim().to_string();
    buffer.clear();
    if text.is_empty() { None } else { Some(text) }
}

/// go-ini's `readKeyName` with the delimiters `=` and `:`.
fn read_key_name(line: &str) -> Option<(String, &str)> {
    let quote = if line.starts_with("\"\"\"") && line.len() > 6 {
        "\"\"\""
    } else if line.starts_with('"') {
        "\""
    } else if line.starts_with('`') {
        "`"
    } else {
        ""
    };
    if !quote.is_empty() {
        let start = quote.len();
        let end = start + line[start..].find(quote)?;
        let after = &line[end + quote.len()..];
        let delimiter = after.find(['=', ':'])?;
        return Some((line[start..end].trim().to_string(), &after[delimiter + 1..]));
    }
    let delimiter = line.find(['=', ':'])?;
    if delimiter == 0 {
        return None;
    }
    Some((line[..delimiter].trim().to_string(), &line[delimiter + 1..]))
}

/// go-ini's `readValue` with SOPS' options: quoted values, inline comments at the first `#`
/// or `;`, surrounding quotes trimmed. Returns the value and any inline comment.
fn read_value(rest: &str) -> (String, Option<String>) {
    let line = rest.trim_start();
    if line.is_empty() {
        return (String::new(), None);
    }
    for quote in ["\"\"\"", "`"] {
        if line.len() > quote.len()
            && line.starts_with(quote)
            && let Some(end) = line[quote.len()..].rfind(quote)
        {
            return (line[quote.len()..quote.len() + end].to_string(), None);
        }
    }
    let mut line = line.trim().to_string();
    let mut comment = None;
    if let Some(at) = line.find(['#', ';']) {
        comment = Some(line[at..].to_string());
        line = line[..at].trim().to_string();
    }
    let surrounded = |q: char| line.len() >= 2 && line.starts_with(q) && line.ends_with(q);
    if surrounded('\'') || surrounded('"') {
        line = line[1..line.len() - 1].to_string();
    }
    (line, comment)
}

/// SOPS' `stripCommentChar`: the leading `;`/`#` run and spaces go.
pub(crate) fn strip_comment_char(comment: &str) -> String {
    if comment.starts_with(';') {
        comment.trim_start_matches([';', ' ']).to_string()
    } else if comment.starts_with('#') {
        comment.trim_start_matches(['#', ' ']).to_string()
    } else {
        comment.to_string()
    }
}

fn write_comment(out: &mut String, comment: &str, trim_plain: bool) {
    for line in comment.split('\n') {
        match line.chars().next() {
            Some(c @ ('#' | ';')) => {
                out.push(c);
                out.push(' ');
                out.push_str(line[1..].trim());
            }
            _ => {
                out.push_str("; ");
                out.push_str(if trim_plain { line.trim() } else { line });
            }
        }
        out.push('\n');
    }
}

fn quoted_key(name: &str) -> String {
    if name.contains('"') || name.contains(['=', ':']) {
        format!("`{name}`")
    } else if name.contains('`') {
        format!("\"\"\"{name}\"\"\"")
    } else {
        name.to_string()
    }
}

/// Writes sections as go-ini's pretty format does (the empty `DEFAULT` section is omitted).
pub(crate) fn emit(sections: &[Section]) -> Vec<u8> {
    let mut out = String::new();
    let last = sections.len().saturating_sub(1);
    for (index, section) in sections.iter().enumerate() {
        if let Some(comment) = section.comment.as_deref().filter(|c| !c.is_empty()) {
            write_comment(&mut out, comment, false);
        }
        if index > 0 || !section.name.eq_ignore_ascii_case(DEFAULT_SECTION) {
            out.push('[');
            out.push_str(&section.name);
            out.push_str("]\n");
        } else if section.keys.is_empty() {
            continue;
        }
        let align = section
            .keys
            .iter()
            .map(|k| quoted_key(&k.name).len())
            .max()
            .unwrap_or(0);
        for key in &section.keys {
            if let Some(comment) = key.comment.as_deref().filter(|c| !c.is_empty()) {
                write_comment(&mut out, comment, true);
            }
            let name = quoted_key(&key.name);
            out.push_str(&name);
            out.extend(std::iter::repeat_n(' ', align - name.len()));
            out.push_str(" = ");
            let value = &key.value;
            if value.contains(['\n', '`']) {
                out.push_str(&format!("\"\"\"{value}\"\"\""));
            } else if value.contains(['#', ';']) {
                out.push_str(&format!("`{value}`"));
            } else if value.trim().len() != value.len() {
                out.push_str(&format!("\"{value}\""));
            } else {
                out.push_str(value);
            }
            out.push('\n');
        }
        if index != last {
            out.push('\n');
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_simple_file() {
        let text = "; top\n[db]\nuser = admin\npassword=  secret value  \n# about port\nport: 8080 ; inline\n\n[empty]\n";
        let sections = parse(text, "x.ini").expect("parses");
        assert_eq!(sections.len(), 3);
        assert_eq!(sections[1].comment.as_deref(), Some("; top"));
        assert_eq!(sections[1].keys[1].value, "secret value");
        assert_eq!(sections[1].keys[2].value, "8080");
        assert_eq!(
            sections[1].keys[2].comment.as_deref(),
            Some("# about port\n; inline")
        );
        let out = String::from_utf8(emit(&sections)).expect("UTF-8");
        assert_eq!(
            out,
            "; top\n[db]\nuser     = admin\npassword = secret value\n# about port\n; inline\nport     = 8080\n\n[empty]\n"
        );
    }

    #[test]
    fn quotes_values_and_keys_like_go_ini() {
        let sections = vec![Section {
            name: "s".into(),
            comment: None,
            keys: vec![
                Key {
                    name: "a=b".into(),
                    value: "x#y".into(),
                    comment: None,
                },
                Key {
                    name: "c".into(),
                    value: " padded ".into(),
                    comment: None,
                },
                Key {
                    name: "d".into(),
                    value: "multi\nline".into(),
                    comment: None,
                },
            ],
        }];
        let out = String::from_utf8(emit(&sections)).expect("UTF-8");
        assert_eq!(
            out,
            "[s]\n`a=b` = `x#y`\nc     = \" padded \"\nd     = \"\"\"multi\nline\"\"\"\n"
        );
    }

    #[test]
    fn bad_lines_are_errors_without_content() {
        let err = parse("[s]\nsecret-without-delimiter\n", "x.ini")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && !err.contains("secret"), "{err}");
        assert!(parse("[unclosed\n", "x.ini").is_err());
    }
}
