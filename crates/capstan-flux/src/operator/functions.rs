//! The functions a ResourceSet template can call: Go's template built-ins, the slim-sprig
//! functions the operator's templates use (strings, defaults, lists and dicts, encodings,
//! arithmetic), and the operator's own `slugify`, `toYaml` and `mustToYaml`. Values follow Go's
//! JSON decoding: every number is a float64 (so `1000000` prints as `1e+06`, as it does there).

use std::collections::BTreeMap;

use base64::Engine;
use capstan_core::Value;
use serde_json::json;
use sha2::Digest;

const NAMES: &[&str] = &[
    "inputs",
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "default",
    "empty",
    "coalesce",
    "ternary",
    "quote",
    "squote",
    "upper",
    "lower",
    "title",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "trunc",
    "replace",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "repeat",
    "nospace",
    "indent",
    "nindent",
    "toString",
    "toJson",
    "mustToJson",
    "toPrettyJson",
    "toYaml",
    "mustToYaml",
    "int",
    "int64",
    "float64",
    "atoi",
    "add",
    "add1",
    "sub",
    "mul",
    "div",
    "mod",
    "max",
    "min",
    "list",
    "dict",
    "get",
    "hasKey",
    "keys",
    "join",
    "split",
    "splitList",
    "first",
    "last",
    "has",
    "b64enc",
    "b64dec",
    "sha256sum",
    "slugify",
    "uniq",
    "concat",
    "fail",
    "regexMatch",
    "regexReplaceAll",
    "toStrings",
    "kindIs",
    "typeOf",
    "cat",
    "substr",
    "until",
    "compact",
    "without",
    "pluck",
    "merge",
];

/// True for a function templates may call.
pub fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Go's notion of an empty value: false, 0, nil, and empty strings, lists and maps.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The Go type a value decodes to, for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// A value printed as `{{ . }}` prints it (`fmt`'s `%v`).
pub fn print(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_text(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(print_inner).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            format!(
                "map[{}]",
                sorted
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", print_inner(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

fn print_inner(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        other => print(other),
    }
}

fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) => capstan_core::yaml::go_format_g(f),
        None => n.to_string(),
    }
}

/// `toString`: strings as they are, other values printed; nil is the empty string.
fn to_string(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        other => print(other),
    }
}

fn as_f64(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        Value::Bool(true) => 1.0,
        _ => 0.0,
    }
}

fn as_i64(value: &Value) -> i64 {
    match value {
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .or_else(|_| s.trim().parse::<f64>().map(|f| f as i64))
            .unwrap_or(0),
        other => as_f64(other) as i64,
    }
}

fn int(value: i64) -> Value {
    json!(value)
}

fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => as_f64(a)
            .partial_cmp(&as_f64(b))
            .ok_or_else(|| "incomparable numbers".to_owned()),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "incompatible types for comparison: {} and {}",
            type_name(a),
            type_name(b)
        )),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => as_f64(a) == as_f64(b),
        _ => a == b,
    }
}

/// `toYaml`: the value as YAML (map keys sorted), without the trailing newline kept by Go? Go's
/// `yaml.Marshal` keeps it; the operator returns it as is.
pub fn to_yaml(value: &Value) -> String {
    sort_keys(value).map_or_else(String::new, |v| capstan_core::yaml::to_yaml(&v))
}

fn sort_keys(value: &Value) -> Option<Value> {
    Some(match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let mut out = serde_json::Map::new();
            for (k, v) in sorted {
                out.insert(k.clone(), sort_keys(v)?);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect::<Option<_>>()?),
        other => other.clone(),
    })
}

/// `slugify`: lowercase ASCII words joined by `-`, at most 63 characters, cut at a word boundary.
pub fn slugify(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        let c = deaccent(c);
        if c.is_ascii_alphanumeric() {
            current.push(c.to_ascii_lowercase());
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    let full = words.join("-");
    if full.len() <= 63 {
        return full;
    }
    let mut out = String::new();
    for word in &words {
        let extra = if out.is_empty() { 0 } else { 1 };
        if out.len() + extra + word.len() > 63 {
            break;
        }
        if extra == 1 {
            out.push('-');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        full[..63].to_owned()
    } else {
        out
    }
}

fn deaccent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        other => other,
    }
}

fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next = args.iter();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        match verb {
            'q' => out.push_str(&serde_json::to_string(&to_string(arg)).unwrap_or_default()),
            'd' => out.push_str(&as_i64(arg).to_string()),
            _ => out.push_str(&print(arg)),
        }
    }
    out
}

/// Calls `name` with `args` (a piped value comes last).
pub fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let s = |i: usize| args.get(i).map(to_string).unwrap_or_default();
    Ok(match name {
        "not" => {
            want(name, &args, 1)?;
            Value::Bool(!truthy(&args[0]))
        }
        "eq" => {
            if args.len() < 2 {
                return Err("missing argument for comparison".to_owned());
            }
            Value::Bool(args[1..].iter().any(|b| equal(&args[0], b)))
        }
        "ne" => {
            want(name, &args, 2)?;
            Value::Bool(!equal(&args[0], &args[1]))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, &args, 2)?;
            let order = compare(&args[0], &args[1])?;
            Value::Bool(match name {
                "lt" => order.is_lt(),
                "le" => order.is_le(),
                "gt" => order.is_gt(),
                _ => order.is_ge(),
            })
        }
        "len" => {
            want(name, &args, 1)?;
            int(match &args[0] {
                Value::String(s) => s.len() as i64,
                Value::Array(a) => a.len() as i64,
                Value::Object(o) => o.len() as i64,
                Value::Null => 0,
                other => return Err(format!("len of type {}", type_name(other))),
            })
        }
        "index" => {
            let mut current = args.first().cloned().unwrap_or(Value::Null);
            for key in args.iter().skip(1) {
                current = match (&current, key) {
                    (Value::Array(a), k) => a
                        .get(as_i64(k) as usize)
                        .cloned()
                        .ok_or_else(|| format!("index out of range: {}", as_i64(k)))?,
                    (Value::Object(m), k) => m.get(&to_string(k)).cloned().unwrap_or(Value::Null),
                    (Value::Null, _) => Value::Null,
                    (other, _) => {
                        return Err(format!("can't index item of type {}", type_name(other)));
                    }
                };
            }
            current
        }
        "print" => Value::String(args.iter().map(print).collect::<Vec<_>>().join("")),
        "println" => Value::String(format!(
            "{}\n",
            args.iter().map(print).collect::<Vec<_>>().join(" ")
        )),
        "printf" => Value::String(printf(&s(0), args.get(1..).unwrap_or(&[]))),
        "default" => {
            want(name, &args, 2)?;
            if truthy(&args[1]) {
                args[1].clone()
            } else {
                args[0].clone()
            }
        }
        "empty" => {
            want(name, &args, 1)?;
            Value::Bool(!truthy(&args[0]))
        }
        "coalesce" => args
            .iter()
            .find(|v| truthy(v))
            .cloned()
            .unwrap_or(Value::Null),
        "ternary" => {
            want(name, &args, 3)?;
            if truthy(&args[2]) {
                args[0].clone()
            } else {
                args[1].clone()
            }
        }
        "quote" => Value::String(
            args.iter()
                .filter(|v| !v.is_null())
                .map(|v| serde_json::to_string(&to_string(v)).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "squote" => Value::String(
            args.iter()
                .filter(|v| !v.is_null())
                .map(|v| format!("'{}'", to_string(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "upper" => Value::String(s(0).to_uppercase()),
        "lower" => Value::String(s(0).to_lowercase()),
        "title" => Value::String(
            s(0).split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                        None => String::new(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "trim" => Value::String(s(0).trim().to_owned()),
        "trimAll" => Value::String(s(1).trim_matches(|c| s(0).contains(c)).to_owned()),
        "trimPrefix" => Value::String(s(1).strip_prefix(&s(0)).map_or_else(|| s(1), str::to_owned)),
        "trimSuffix" => Value::String(s(1).strip_suffix(&s(0)).map_or_else(|| s(1), str::to_owned)),
        "trunc" => {
            let n = as_i64(args.first().unwrap_or(&Value::Null));
            let text = s(1);
            let chars: Vec<char> = text.chars().collect();
            Value::String(if n >= 0 {
                chars.iter().take(n as usize).collect()
            } else {
                let skip = chars.len().saturating_sub((-n) as usize);
                chars[skip..].iter().collect()
            })
        }
        "replace" => Value::String(s(2).replace(&s(0), &s(1))),
        "contains" => Value::Bool(s(1).contains(&s(0))),
        "hasPrefix" => Value::Bool(s(1).starts_with(&s(0))),
        "hasSuffix" => Value::Bool(s(1).ends_with(&s(0))),
        "repeat" => Value::String(s(1).repeat(as_i64(&args[0]).max(0) as usize)),
        "nospace" => Value::String(s(0).chars().filter(|c| !c.is_whitespace()).collect()),
        "indent" | "nindent" => {
            let pad = " ".repeat(as_i64(args.first().unwrap_or(&Value::Null)).max(0) as usize);
            let text = format!("{pad}{}", s(1).replace('\n', &format!("\n{pad}")));
            Value::String(if name == "nindent" {
                format!("\n{text}")
            } else {
                text
            })
        }
        "toString" => Value::String(to_string(args.first().unwrap_or(&Value::Null))),
        "toStrings" => match args.first() {
            Some(Value::Array(items)) => {
                Value::Array(items.iter().map(|v| Value::String(to_string(v))).collect())
            }
            _ => Value::Array(Vec::new()),
        },
        "toJson" | "mustToJson" => Value::String(
            serde_json::to_string(args.first().unwrap_or(&Value::Null)).unwrap_or_default(),
        ),
        "toPrettyJson" => Value::String(
            serde_json::to_string_pretty(args.first().unwrap_or(&Value::Null)).unwrap_or_default(),
        ),
        "toYaml" | "mustToYaml" => Value::String(to_yaml(args.first().unwrap_or(&Value::Null))),
        "int" | "int64" | "atoi" => int(as_i64(args.first().unwrap_or(&Value::Null))),
        "float64" => json!(as_f64(args.first().unwrap_or(&Value::Null))),
        "add" => int(args.iter().map(as_i64).sum()),
        "add1" => int(as_i64(args.first().unwrap_or(&Value::Null)) + 1),
        "sub" => int(as_i64(&args[0]) - as_i64(args.get(1).unwrap_or(&Value::Null))),
        "mul" => int(args.iter().map(as_i64).product()),
        "div" | "mod" => {
            let b = as_i64(args.get(1).unwrap_or(&Value::Null));
            if b == 0 {
                return Err("integer divide by zero".to_owned());
            }
            let a = as_i64(&args[0]);
            int(if name == "div" { a / b } else { a % b })
        }
        "max" => int(args.iter().map(as_i64).max().unwrap_or(0)),
        "min" => int(args.iter().map(as_i64).min().unwrap_or(0)),
        "list" => Value::Array(args),
        "dict" => {
            let mut map = serde_json::Map::new();
            for pair in args.chunks(2) {
                map.insert(
                    to_string(&pair[0]),
                    pair.get(1).cloned().unwrap_or(Value::String(String::new())),
                );
            }
            Value::Object(map)
        }
        "get" => match args.first() {
            Some(Value::Object(m)) => m
                .get(&s(1))
                .cloned()
                .unwrap_or(Value::String(String::new())),
            _ => Value::String(String::new()),
        },
        "hasKey" => match args.first() {
            Some(Value::Object(m)) => Value::Bool(m.contains_key(&s(1))),
            _ => Value::Bool(false),
        },
        "keys" => {
            let mut out: Vec<String> = args
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|m| m.keys().cloned())
                .collect();
            out.sort();
            Value::Array(out.into_iter().map(Value::String).collect())
        }
        "merge" => {
            let mut out = serde_json::Map::new();
            for arg in args.iter().rev() {
                if let Value::Object(m) = arg {
                    for (k, v) in m {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(out)
        }
        "pluck" => {
            let key = s(0);
            Value::Array(
                args[1..]
                    .iter()
                    .filter_map(|m| m.as_object()?.get(&key).cloned())
                    .collect(),
            )
        }
        "join" => match args.get(1) {
            Some(Value::Array(items)) => {
                Value::String(items.iter().map(to_string).collect::<Vec<_>>().join(&s(0)))
            }
            Some(other) => Value::String(to_string(other)),
            None => Value::String(String::new()),
        },
        "split" => {
            let mut map = serde_json::Map::new();
            for (i, part) in s(1).split(&s(0)).enumerate() {
                map.insert(format!("_{i}"), Value::String(part.to_owned()));
            }
            Value::Object(map)
        }
        "splitList" => Value::Array(
            s(1).split(&s(0))
                .map(|p| Value::String(p.to_owned()))
                .collect(),
        ),
        "first" => match args.first() {
            Some(Value::Array(a)) => a.first().cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        },
        "last" => match args.first() {
            Some(Value::Array(a)) => a.last().cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        },
        "has" => match args.get(1) {
            Some(Value::Array(a)) => Value::Bool(a.iter().any(|v| equal(v, &args[0]))),
            _ => Value::Bool(false),
        },
        "uniq" => match args.first() {
            Some(Value::Array(a)) => {
                let mut out: Vec<Value> = Vec::new();
                for v in a {
                    if !out.iter().any(|o| equal(o, v)) {
                        out.push(v.clone());
                    }
                }
                Value::Array(out)
            }
            _ => Value::Array(Vec::new()),
        },
        "compact" => match args.first() {
            Some(Value::Array(a)) => {
                Value::Array(a.iter().filter(|v| truthy(v)).cloned().collect())
            }
            _ => Value::Array(Vec::new()),
        },
        "without" => match args.first() {
            Some(Value::Array(a)) => Value::Array(
                a.iter()
                    .filter(|v| !args[1..].iter().any(|w| equal(v, w)))
                    .cloned()
                    .collect(),
            ),
            _ => Value::Array(Vec::new()),
        },
        "concat" => Value::Array(
            args.iter()
                .filter_map(Value::as_array)
                .flat_map(|a| a.iter().cloned())
                .collect(),
        ),
        "until" => Value::Array((0..as_i64(&args[0]).max(0)).map(int).collect()),
        "cat" => Value::String(
            args.iter()
                .filter(|v| !v.is_null())
                .map(to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "substr" => {
            let text: Vec<char> = s(2).chars().collect();
            let start = as_i64(&args[0]).max(0) as usize;
            let end = as_i64(args.get(1).unwrap_or(&Value::Null));
            let end = if end < 0 {
                text.len()
            } else {
                (end as usize).min(text.len())
            };
            Value::String(
                text.get(start.min(end)..end)
                    .unwrap_or(&[])
                    .iter()
                    .collect(),
            )
        }
        "b64enc" => Value::String(base64::engine::general_purpose::STANDARD.encode(s(0))),
        "b64dec" => Value::String(
            base64::engine::general_purpose::STANDARD
                .decode(s(0))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| e.to_string())?,
        ),
        "sha256sum" => {
            let digest = sha2::Sha256::digest(s(0).as_bytes());
            Value::String(digest.iter().map(|b| format!("{b:02x}")).collect())
        }
        "slugify" => Value::String(slugify(&s(0))),
        "fail" => return Err(s(0)),
        "regexMatch" => {
            let re = regex::Regex::new(&s(0)).map_err(|e| e.to_string())?;
            Value::Bool(re.is_match(&s(1)))
        }
        "regexReplaceAll" => {
            let re = regex::Regex::new(&s(0)).map_err(|e| e.to_string())?;
            Value::String(re.replace_all(&s(1), s(2).as_str()).into_owned())
        }
        "kindIs" => Value::Bool(
            match args.get(1) {
                Some(Value::String(_)) => "string",
                Some(Value::Number(_)) => "float64",
                Some(Value::Bool(_)) => "bool",
                Some(Value::Array(_)) => "slice",
                Some(Value::Object(_)) => "map",
                _ => "invalid",
            } == s(0),
        ),
        "typeOf" => Value::String(type_name(args.first().unwrap_or(&Value::Null)).to_owned()),
        other => return Err(format!("function {other:?} not defined")),
    })
}
