//! Editing a multi-document YAML file without rewriting it.
//!
//! A file is cut into segments at its `---` separator lines; each segment keeps its exact bytes
//! (comments, key order, quoting, indentation). Appending adds one segment at the end; removing
//! cuts one segment out. Nothing else in the file changes, so the edit reads in review as the
//! one document it is. A line is a separator only when it is `---` at column 0 (optionally
//! followed by a space or comment), which YAML does not allow inside any scalar.

use capstan_core::Value;
use capstan_core::yaml::parse_documents;

/// One document's stretch of a file: its separator line (if any) and everything up to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Byte range of the segment in the file, separator line included.
    pub start: usize,
    pub end: usize,
    /// True when the segment begins with a `---` line.
    pub has_separator: bool,
    /// The parsed document, `None` when the segment holds only comments or whitespace.
    pub document: Option<Value>,
}

/// A segment that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentError {
    /// Index of the segment among the file's segments.
    pub segment: usize,
    /// 1-based line in the file where the segment starts.
    pub line: usize,
    pub message: String,
}

fn is_separator(line: &str) -> bool {
    let line = line.trim_end_matches(['\n', '\r']);
    match line.strip_prefix("---") {
        Some(rest) => rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t'),
        None => false,
    }
}

/// Cuts a file into segments at its separator lines and parses each one.
pub fn segments(text: &str) -> Result<Vec<Segment>, SegmentError> {
    let mut starts = vec![0usize];
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        if is_separator(line) && offset != 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut out = Vec::with_capacity(starts.len());
    for (index, &start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(text.len());
        let slice = &text[start..end];
        let has_separator = slice.lines().next().is_some_and(is_separator);
        let line = text[..start].matches('\n').count() + 1;
        let docs = parse_documents(slice).map_err(|e| SegmentError {
            segment: index,
            line: line + e.line.map_or(0, |l| l.saturating_sub(1)),
            message: e.message,
        })?;
        let document = docs.into_iter().find(|d| !d.is_null());
        out.push(Segment {
            start,
            end,
            has_separator,
            document,
        });
    }
    Ok(out)
}

/// The file with `document` (YAML text ending in a newline, without a leading `---`) appended
/// as a new document. The original bytes are a prefix of the result.
pub fn append_document(original: &str, document: &str) -> String {
    let mut out = String::with_capacity(original.len() + document.len() + 8);
    out.push_str(original);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let ends_with_separator = out.lines().last().is_some_and(is_separator);
    if !ends_with_separator {
        out.push_str("---\n");
    }
    out.push_str(document);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The file without the segment at `index`. When the first segment is removed and it carries a
/// leading comment block (a file header), the header stays.
pub fn remove_segment(original: &str, segments: &[Segment], index: usize) -> Option<String> {
    let segment = segments.get(index)?;
    let mut start = segment.start;
    if index == 0 && !segment.has_separator {
        // Keep the header: leading comment and blank lines before the document's content.
        for line in original[segment.start..segment.end].split_inclusive('\n') {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                start += line.len();
            } else {
                break;
            }
        }
    }
    let mut out = String::with_capacity(original.len());
    out.push_str(&original[..start]);
    out.push_str(&original[segment.end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# header comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # keep me\n---\n# about b\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n";

    fn names(text: &str) -> Vec<String> {
        parse_documents(text)
            .unwrap()
            .iter()
            .filter_map(|d| d.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn splits_into_segments() {
        let segs = segments(FILE).unwrap();
        assert_eq!(segs.len(), 3);
        assert!(segs[0].document.is_none());
        assert!(segs[1].has_separator);
        assert_eq!(
            segs[2].document.as_ref().unwrap().pointer("/metadata/name"),
            Some(&Value::from("b"))
        );
        let rebuilt: String = segs.iter().map(|s| &FILE[s.start..s.end]).collect();
        assert_eq!(rebuilt, FILE);
    }

    #[test]
    fn separator_inside_block_scalar_is_indented() {
        let text = "a: |\n  ---\n  x\n---\nb: 1\n";
        assert_eq!(segments(text).unwrap().len(), 2);
        assert!(is_separator("--- # c\n"));
        assert!(!is_separator("----\n"));
        assert!(!is_separator(" ---\n"));
    }

    #[test]
    fn append_keeps_every_byte() {
        let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
        let out = append_document(FILE, doc);
        assert!(out.starts_with(FILE));
        assert_eq!(&out[FILE.len()..], format!("---\n{doc}"));
        assert_eq!(names(&out), ["a", "b", "c"]);

        let no_newline = FILE.trim_end();
        let out = append_document(no_newline, doc);
        assert!(out.starts_with(no_newline));
        assert_eq!(names(&out), ["a", "b", "c"]);

        let trailing = format!("{FILE}---\n");
        let out = append_document(&trailing, doc);
        assert_eq!(out, format!("{trailing}{doc}"));

        assert_eq!(append_document("", doc), format!("---\n{doc}"));
    }

    #[test]
    fn remove_cuts_one_segment() {
        let segs = segments(FILE).unwrap();
        let out = remove_segment(FILE, &segs, 1).unwrap();
        assert_eq!(names(&out), ["b"]);
        assert!(out.starts_with("# header comment\n---\n# about b"));
        let out = remove_segment(FILE, &segs, 2).unwrap();
        assert_eq!(out, &FILE[..segs[2].start]);
        assert_eq!(names(&out), ["a"]);
        assert!(remove_segment(FILE, &segs, 3).is_none());
    }

    #[test]
    fn remove_first_document_keeps_header() {
        let text = "# header\n\napiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n";
        let segs = segments(text).unwrap();
        let out = remove_segment(text, &segs, 0).unwrap();
        assert_eq!(out, "# header\n\n---\napiVersion: v1\nkind: B\n");
    }

    #[test]
    fn reports_the_broken_segment() {
        let err = segments("a: 1\n---\nb: [\n").unwrap_err();
        assert_eq!(err.segment, 1);
        assert_eq!(err.line, 3);
    }
}
