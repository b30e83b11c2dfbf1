//! JSON as Go's `encoding/json` writes it, which is what kustomize hashes, what sops writes into
//! JSON files and what Helm stores as a release: compact; strings HTML-safe (`<`, `>`, `&`
//! escaped), `U+2028`/`U+2029` escaped, control characters as `\u00XX` except the three with
//! short escapes; numbers as Go prints a float64.

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// The order object keys are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Sorted, as Go marshals a `map[string]interface{}`.
    Sorted,
    /// In the order held, as Go marshals a struct (its fields' order).
    AsHeld,
}

/// `value` with object keys sorted at every level, as Go marshals `map[string]interface{}`.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `value` as Go's `json.Marshal` writes it.
pub fn to_string(value: &Value, keys: Keys) -> String {
    let mut out = String::new();
    write_value(&mut out, value, keys);
    out
}

/// Appends `value` to `out` as Go's `json.Marshal` writes it.
pub fn write_value(out: &mut String, value: &Value, keys: Keys) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, keys);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if keys == Keys::Sorted {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v, keys);
            }
            out.push('}');
        }
    }
}

/// A number as Go prints a float64 decoded from JSON (`interface{}` values are float64):
/// integers plainly, the shortest form otherwise, an exponent (two digits at least) below 1e-6
/// or from 1e21.
pub fn number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let Some((mantissa, exp)) = s.split_once('e') else {
            return s;
        };
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    if f.fract() == 0.0 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

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
    use serde_json::json;

    #[test]
    fn keys_sorted_or_as_held() {
        let v = json!({"b": "<a&b>", "a": [1, 1.5, null, true]});
        assert_eq!(
            to_string(&v, Keys::Sorted),
            r#"{"a":[1,1.5,null,true],"b":"\u003ca\u0026b\u003e"}"#
        );
        assert_eq!(
            to_string(&v, Keys::AsHeld),
            r#"{"b":"\u003ca\u0026b\u003e","a":[1,1.5,null,true]}"#
        );
    }

    #[test]
    fn numbers_as_go_prints_float64() {
        let n = |v: Value| number(v.as_number().expect("number"));
        assert_eq!(n(json!(3)), "3");
        assert_eq!(n(json!(u64::MAX)), u64::MAX.to_string());
        assert_eq!(n(json!(1.5)), "1.5");
        assert_eq!(n(json!(1e21)), "1e+21");
        assert_eq!(n(json!(1.5e-7)), "1.5e-07");
        assert_eq!(n(json!(0.0)), "0");
    }

    #[test]
    fn escapes_as_go_does() {
        let mut out = String::new();
        write_string(&mut out, "a<b>&\"\\\n\r\t\u{1}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\r\t\u0001\u2028é""#);
    }
}
