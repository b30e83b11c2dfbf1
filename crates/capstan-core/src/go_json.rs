//! Strings as Go's `encoding/json` writes them, which is what kustomize hashes and what sops
//! writes into JSON files: HTML-safe (`<`, `>`, `&` escaped), `U+2028`/`U+2029` escaped, control
//! characters as `\u00XX` except the three with short escapes.

use std::fmt::Write as _;

/// Appends `s` to `out` as a quoted JSON string in Go's escaping.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go_does() {
        let mut out = String::new();
        write_string(&mut out, "a<b>&\"\\\n\r\t\u{1}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\r\t\u0001\u2028é""#);
    }
}
