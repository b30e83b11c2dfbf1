//! Finds the line of a field in a repository file: the YAML document holding the object (by
//! `kind` and `metadata.name`), then the deepest key of the field path present in it. A field a
//! patch sets elsewhere is located at its deepest ancestor in the resource file; an object that
//! is not in the file gives no line.

use capstan_core::ResourceId;

/// One segment of a diff field path: a key, or a list entry by `key=value`.
#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Entry(String, String),
    Index(usize),
}

/// `spec.template.spec.containers[name=app].image` → keys and entries.
fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').unwrap_or(inner.len());
            let body = &inner[..end];
            if let Some(key) = body.strip_prefix('"') {
                out.push(Segment::Key(
                    key.trim_end_matches('"').replace("\\\"", "\""),
                ));
            } else if let Some((k, v)) = body.split_once('=') {
                out.push(Segment::Entry(k.to_owned(), v.to_owned()));
            } else if let Ok(i) = body.parse() {
                out.push(Segment::Index(i));
            }
            rest = inner.get(end + 1..).unwrap_or("");
            rest = rest.strip_prefix('.').unwrap_or(rest);
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        out.push(Segment::Key(rest[..end].to_owned()));
        rest = &rest[end..];
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `key:` at the start of a (trimmed, `- `-stripped) line, quoted or not.
fn is_key(trimmed: &str, key: &str) -> bool {
    let body = trimmed.trim_start_matches("- ");
    [key.to_owned(), format!("\"{key}\""), format!("'{key}'")]
        .iter()
        .any(|k| {
            body.strip_prefix(k.as_str())
                .is_some_and(|r| r.starts_with(':'))
        })
}

fn value_of<'a>(trimmed: &'a str, key: &str) -> Option<&'a str> {
    let body = trimmed.trim_start_matches("- ");
    let rest = body.strip_prefix(key)?.strip_prefix(':')?;
    Some(rest.trim().trim_matches(['"', '\'']))
}

/// The 1-based line of `field` of the object `id` in `text`, when the object is in it (the
/// line of its deepest ancestor present when the field itself is not).
pub fn locate_line(text: &str, id: &ResourceId, field: &str) -> Option<usize> {
    locate(text, id, field).map(|(line, _)| line)
}

/// The 1-based line of `field` of the object `id` in `text`, only when the field itself is there.
pub fn locate_exact(text: &str, id: &ResourceId, field: &str) -> Option<usize> {
    locate(text, id, field).and_then(|(line, exact)| exact.then_some(line))
}

/// The line, and whether every segment of the path was found.
fn locate(text: &str, id: &ResourceId, field: &str) -> Option<(usize, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    // documents as line ranges
    let mut docs = Vec::new();
    let mut start = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("---") {
            docs.push((start, i));
            start = i + 1;
        }
    }
    docs.push((start, lines.len()));
    let (start, end) = docs.into_iter().find(|&(s, e)| {
        let doc = &lines[s..e];
        let kind = doc
            .iter()
            .any(|l| indent(l) == 0 && value_of(l.trim(), "kind") == Some(id.kind.as_str()));
        let mut in_meta = false;
        let name = doc.iter().any(|l| {
            if indent(l) == 0 {
                in_meta = l.trim_end() == "metadata:";
                return false;
            }
            in_meta && value_of(l.trim(), "name") == Some(id.name.as_str())
        });
        kind && name
    })?;
    // walk the path: each step searches the direct children of the previous match's block
    let effective = |i: usize, dash: Option<usize>| {
        let line = lines[i];
        if dash == Some(i) {
            indent(line) + 2
        } else {
            indent(line)
        }
    };
    let blank = |i: usize| {
        let t = lines[i].trim();
        t.is_empty() || t.starts_with('#')
    };
    let mut found = start;
    let mut exact = true;
    // (first line, end, the line of a list entry's dash when the block is an entry)
    let mut block = (start, end, None::<usize>);
    for segment in segments(field) {
        let (from, to, dash) = block;
        let Some(first) = (from..to).find(|&i| !blank(i)) else {
            exact = false;
            break;
        };
        let child = effective(first, dash);
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().take(to).skip(first) {
            if blank(i) {
                continue;
            }
            let ind = effective(i, dash);
            if ind < child {
                break;
            }
            let trimmed = line.trim();
            let matched = match &segment {
                Segment::Key(key) => ind == child && is_key(trimmed, key),
                Segment::Entry(key, value) => value_of(trimmed, key) == Some(value.as_str()),
                Segment::Index(_) => trimmed.starts_with("- "),
            };
            if matched {
                hit = Some(i);
                break;
            }
        }
        let Some(i) = hit else {
            exact = false;
            break;
        };
        match &segment {
            Segment::Key(_) => {
                found = i;
                let own = effective(i, dash);
                let mut e = i + 1;
                while e < to
                    && (blank(e)
                        || indent(lines[e]) > own
                        || (indent(lines[e]) == own && lines[e].trim_start().starts_with("- ")))
                {
                    e += 1;
                }
                block = (i + 1, e, None);
            }
            Segment::Entry(..) | Segment::Index(_) => {
                // the entry starts at the dash at or above the match
                let d = (first..=i)
                    .rev()
                    .find(|&j| {
                        lines[j].trim_start().starts_with("- ")
                            && (j == i || indent(lines[j]) < indent(lines[i]))
                    })
                    .unwrap_or(i);
                found = d;
                let own = indent(lines[d]);
                let mut e = d + 1;
                while e < to && (blank(e) || indent(lines[e]) > own) {
                    e += 1;
                }
                block = (d, e, Some(d));
            }
        }
    }
    Some((found + 1, exact))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "apiVersion: v1
kind: Service
metadata:
  name: other
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: data
spec:
  serviceName: db
  selector:
    matchLabels:
      app: db
  template:
    spec:
      containers:
        - name: sidecar
          image: busybox
        - name: app
          image: postgres:16
          ports:
            - containerPort: 5432
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        resources:
          requests:
            storage: 1Gi
";

    fn id(kind: &str, name: &str) -> ResourceId {
        ResourceId {
            group: String::new(),
            version: String::new(),
            kind: kind.into(),
            namespace: None,
            name: name.into(),
        }
    }

    #[test]
    fn finds_fields() {
        let sts = id("StatefulSet", "db");
        assert_eq!(locate_line(TEXT, &sts, "spec.serviceName"), Some(12));
        assert_eq!(
            locate_line(TEXT, &sts, "spec.selector.matchLabels.app"),
            Some(15)
        );
        assert_eq!(
            locate_line(TEXT, &sts, "spec.template.spec.containers[name=app].image"),
            Some(22)
        );
        assert_eq!(
            locate_line(
                TEXT,
                &sts,
                "spec.template.spec.containers[name=sidecar].image"
            ),
            Some(20)
        );
        assert_eq!(
            locate_line(
                TEXT,
                &sts,
                "spec.volumeClaimTemplates[name=data].spec.resources.requests.storage"
            ),
            Some(31)
        );
        // absent below a present ancestor: the ancestor
        assert_eq!(locate_line(TEXT, &sts, "spec.replicas"), Some(11));
        assert_eq!(locate_line(TEXT, &id("Service", "other"), "spec"), Some(1));
        assert_eq!(locate_line(TEXT, &id("Service", "missing"), "spec"), None);
        // exactly: only when the field itself is there
        assert_eq!(locate_exact(TEXT, &sts, "spec.serviceName"), Some(12));
        assert_eq!(locate_exact(TEXT, &sts, "spec.replicas"), None);
    }

    #[test]
    fn segments_read() {
        assert_eq!(
            segments("metadata.annotations[\"a.b/c\"]"),
            vec![
                Segment::Key("metadata".into()),
                Segment::Key("annotations".into()),
                Segment::Key("a.b/c".into())
            ]
        );
    }
}
