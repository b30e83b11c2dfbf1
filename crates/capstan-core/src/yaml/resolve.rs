//! How a YAML 1.1 reader (go-yaml v2, the library behind kustomize's JSON→YAML step) resolves a
//! plain scalar: to a bool, null, int, float, timestamp, or string. The writer uses it to decide
//! which strings must be quoted so they read back as strings, and how JSON numbers come out.

/// What a plain scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved {
    Str,
    Null,
    Bool,
    Int,
    Float(f64),
    Timestamp,
    Merge,
}

const MAP: &[(&str, Resolved)] = &[
    ("y", Resolved::Bool),
    ("Y", Resolved::Bool),
    ("yes", Resolved::Bool),
    ("Yes", Resolved::Bool),
    ("YES", Resolved::Bool),
    ("true", Resolved::Bool),
    ("True", Resolved::Bool),
    ("TRUE", Resolved::Bool),
    ("on", Resolved::Bool),
    ("On", Resolved::Bool),
    ("ON", Resolved::Bool),
    ("n", Resolved::Bool),
    ("N", Resolved::Bool),
    ("no", Resolved::Bool),
    ("No", Resolved::Bool),
    ("NO", Resolved::Bool),
    ("false", Resolved::Bool),
    ("False", Resolved::Bool),
    ("FALSE", Resolved::Bool),
    ("off", Resolved::Bool),
    ("Off", Resolved::Bool),
    ("OFF", Resolved::Bool),
    ("", Resolved::Null),
    ("~", Resolved::Null),
    ("null", Resolved::Null),
    ("Null", Resolved::Null),
    ("NULL", Resolved::Null),
    (".nan", Resolved::Float(f64::NAN)),
    (".NaN", Resolved::Float(f64::NAN)),
    (".NAN", Resolved::Float(f64::NAN)),
    (".inf", Resolved::Float(f64::INFINITY)),
    (".Inf", Resolved::Float(f64::INFINITY)),
    (".INF", Resolved::Float(f64::INFINITY)),
    ("+.inf", Resolved::Float(f64::INFINITY)),
    ("+.Inf", Resolved::Float(f64::INFINITY)),
    ("+.INF", Resolved::Float(f64::INFINITY)),
    ("-.inf", Resolved::Float(f64::NEG_INFINITY)),
    ("-.Inf", Resolved::Float(f64::NEG_INFINITY)),
    ("-.INF", Resolved::Float(f64::NEG_INFINITY)),
    ("<<", Resolved::Merge),
];

/// go-yaml v2's `resolve("", s)`.
pub fn resolve(s: &str) -> Resolved {
    let hint = match s.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => 0,
    };
    if hint == 0 {
        return Resolved::Str;
    }
    if let Some((_, r)) = MAP.iter().find(|(k, _)| *k == s) {
        return *r;
    }
    match hint {
        b'.' => match go_parse_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'D' | b'S' => {
            if is_timestamp(s) {
                return Resolved::Timestamp;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if go_parse_int(&plain).is_some() {
                return Resolved::Int;
            }
            if yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Resolved::Float(f);
            }
            if let Some(bin) = plain.strip_prefix("0b") {
                if !bin.is_empty() && bin.bytes().all(|b| b == b'0' || b == b'1') && bin.len() <= 64
                {
                    return Resolved::Int;
                }
            } else if let Some(bin) = plain.strip_prefix("-0b")
                && !bin.is_empty()
                && bin.bytes().all(|b| b == b'0' || b == b'1')
                && bin.len() <= 63
            {
                return Resolved::Int;
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeding.
fn go_parse_int(s: &str) -> Option<()> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() {
        return None;
    }
    let value = u128::from_str_radix(digits, radix).ok()?;
    let fits = if negative {
        value <= (i64::MAX as u128) + 1
    } else {
        value <= u64::MAX as u128
    };
    fits.then_some(())
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for the inputs YAML hands it (decimal and special forms;
/// hex floats and underscores are not accepted without a prefix).
fn go_parse_float(s: &str) -> Option<f64> {
    if s.contains('_')
        || s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// go-yaml v2's `parseTimestamp`: four digits, a dash, then one of its accepted layouts.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let leading = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if leading != 4 || leading == b.len() || b[4] != b'-' {
        return false;
    }
    // Layouts: date only (2006-1-2), or date + (T|t|space) + 15:4:5(.frac) (+ zone for T/t).
    let rest = &s[5..];
    let (month, rest) = take_digits(rest, 1, 2);
    if month.is_none() {
        return false;
    }
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let (day, rest) = take_digits(rest, 1, 2);
    if day.is_none() {
        return false;
    }
    let (m, d) = (month.unwrap_or(0), day.unwrap_or(0));
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    let (sep, rest) = rest.split_at(1);
    let zoned = matches!(sep, "T" | "t");
    if !zoned && sep != " " {
        return false;
    }
    let mut rest = rest;
    for (i, (min, max)) in [(0u32, 23u32), (0, 59), (0, 59)].iter().enumerate() {
        let (v, r) = take_digits(rest, 1, 2);
        match v {
            Some(v) if v >= *min && v <= *max => rest = r,
            _ => return false,
        }
        if i < 2 {
            match rest.strip_prefix(':') {
                Some(r) => rest = r,
                None => return false,
            }
        }
    }
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    if !zoned {
        return rest.is_empty();
    }
    if rest == "Z" {
        return true;
    }
    let Some(zone) = rest.strip_prefix(['+', '-']) else {
        return false;
    };
    let zb = zone.as_bytes();
    zb.len() == 5
        && zb[2] == b':'
        && zb[..2].iter().all(u8::is_ascii_digit)
        && zb[3..].iter().all(u8::is_ascii_digit)
}

fn take_digits(s: &str, min: usize, max: usize) -> (Option<u32>, &str) {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return (None, s);
    }
    (s[..n].parse().ok(), &s[n..])
}

/// YAML 1.1 sexagesimal floats (`1:30`), which go-yaml v2 quotes for compatibility.
pub fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&c) = b.first() else { return false };
    if !(c == b'+' || c == b'-' || c.is_ascii_digit()) || !s.contains(':') {
        return false;
    }
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let mut i = usize::from(c == b'+' || c == b'-');
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let group = &b[start..i];
        let ok = match group.len() {
            1 => true,
            2 => group[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_go_yaml_v2() {
        assert_eq!(resolve("yes"), Resolved::Bool);
        assert_eq!(resolve("yesterday"), Resolved::Str);
        assert_eq!(resolve(""), Resolved::Null);
        assert_eq!(resolve("0x1F"), Resolved::Int);
        assert_eq!(resolve("017"), Resolved::Int);
        assert_eq!(resolve("1_000"), Resolved::Int);
        assert!(matches!(resolve("1e3"), Resolved::Float(_)));
        assert!(matches!(resolve(".5"), Resolved::Float(_)));
        assert_eq!(resolve("1.2.3"), Resolved::Str);
        assert_eq!(resolve("2024-01-01"), Resolved::Timestamp);
        assert_eq!(resolve("2024-1-1 10:00:00"), Resolved::Timestamp);
        assert_eq!(resolve("2024-01-01x"), Resolved::Str);
        assert!(matches!(
            resolve("12345678901234567890123"),
            Resolved::Float(_)
        ));
        assert!(is_base60_float("1:30"));
        assert!(!is_base60_float("1:60"));
        assert!(!is_base60_float("a:1"));
    }
}
