//! Source lines for findings: the line of a field path such as
//! `spec.template.spec.containers[0].image` inside the n-th YAML document of a file (the document
//! the build recorded for the object), best effort, else the document's first line.
//!
//! This reads the text, not a YAML event stream: rendered objects may differ from their source
//! document (patches, prefixes), so when a field cannot be found the document's line is used.

/// A field path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else { break };
            let inner = &after[..end];
            match inner.parse::<usize>() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => out.push(Segment::Key(inner.trim_matches('"').to_owned())),
            }
            rest = &after[end + 1..];
        } else {
            let rest_trim = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_trim.find(['.', '[']).unwrap_or(rest_trim.len());
            out.push(Segment::Key(rest_trim[..end].to_owned()));
            rest = &rest_trim[end..];
        }
    }
    out
}

fn is_separator(line: &str) -> bool {
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t")
}

fn is_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#') && !is_separator(line)
}

/// The 0-based line range `[start, end)` of document `document` in `text`, counted as the YAML
/// parser counts documents ([`capstan_core::yaml::document_lines`]).
fn document_range(text: &str, lines: usize, document: usize) -> Option<(usize, usize)> {
    let starts = capstan_core::yaml::document_lines(text);
    let start = starts.get(document)? - 1;
    let end = starts.get(document + 1).map_or(lines, |next| next - 1);
    Some((start, end))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The 1-based line of document `document` in `text`, and of `field` inside it when found.
pub fn line_of(text: &str, document: usize, field: Option<&str>) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (start, end) = document_range(text, lines.len(), document)?;
    let first = (start..end)
        .find(|&i| is_content(lines[i]))
        .unwrap_or(start);
    let Some(field) = field else {
        return Some(first + 1);
    };
    let mut current = first;
    let mut block_indent: Option<usize> = None; // indent of the mapping/sequence entry we are inside
    let mut scan_from = first;
    for segment in segments(field) {
        let found = match &segment {
            Segment::Key(key) => (scan_from..end).find_map(|i| {
                let line = lines[i];
                if !is_content(line) {
                    return None;
                }
                let ind = indent(line);
                if i > scan_from && block_indent.is_some_and(|b| ind <= b) {
                    return Some(None);
                }
                let body = line.trim_start();
                let body = body.strip_prefix("- ").unwrap_or(body);
                let matches = body.starts_with(&format!("{key}:"))
                    || body.starts_with(&format!("\"{key}\":"));
                matches.then_some(Some((i, ind + (line.trim_start().len() - body.len()))))
            }),
            Segment::Index(n) => {
                let mut count = 0;
                let mut dash_indent = None;
                (scan_from + 1..end).find_map(|i| {
                    let line = lines[i];
                    if !is_content(line) {
                        return None;
                    }
                    let ind = indent(line);
                    if block_indent.is_some_and(|b| ind < b) {
                        return Some(None);
                    }
                    if line.trim_start().starts_with("- ") || line.trim_start() == "-" {
                        match dash_indent {
                            None => dash_indent = Some(ind),
                            Some(d) if d != ind => return None,
                            _ => {}
                        }
                        if count == *n {
                            return Some(Some((i, ind)));
                        }
                        count += 1;
                    }
                    None
                })
            }
        };
        match found.flatten() {
            Some((line, ind)) => {
                current = line;
                block_indent = Some(ind);
                scan_from = line;
            }
            None => break,
        }
    }
    Some(current + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# header\n---\napiVersion: v1\nkind: A\n---\n# second\napiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: x\n      - name: b\n        image: y\n";

    #[test]
    fn documents_and_fields() {
        assert_eq!(line_of(TEXT, 0, None), Some(3));
        assert_eq!(line_of(TEXT, 1, None), Some(7));
        assert_eq!(
            line_of(TEXT, 1, Some("spec.template.spec.containers[1].image")),
            Some(16)
        );
        assert_eq!(
            line_of(TEXT, 1, Some("spec.template.spec.containers[0]")),
            Some(13)
        );
        assert_eq!(line_of(TEXT, 1, Some("spec.nothing")), Some(9));
        assert_eq!(line_of(TEXT, 2, None), None);
        assert_eq!(
            segments("metadata.labels[\"a.b/c\"]"),
            vec![
                Segment::Key("metadata".into()),
                Segment::Key("labels".into()),
                Segment::Key("a.b/c".into())
            ]
        );
    }
}
