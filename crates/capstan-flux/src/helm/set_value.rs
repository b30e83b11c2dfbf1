//! `valuesFrom[].targetPath`: how helm-controller puts one ConfigMap/Secret value at a path.
//!
//! helm-controller (fluxcd/pkg `chartutil.ReplacePathValue`) hands `"<targetPath>=<value>"` to
//! Helm's `--set` parser, so the value is read with the whole `--set` syntax, not as an opaque
//! string:
//! - `a.b.c` nests maps, `a[0]` and `a[0][1]` index lists (gaps are `null`; an index above 65536 or
//!   below 0 is an error), `\` escapes the next character anywhere (`a\.b` is one key);
//! - the value ends at an unescaped `,`, after which another `key=value` may follow — so a value
//!   `x,y` is an error (`key "y" has no value`) and `x,other=1` also sets `other`;
//! - a value starting with `{` is a list: `{a,b}` is `[a, b]`, `{}` is `[""]`;
//! - unquoted values are typed: `true`/`false`/`null` in any case, `0`, and decimal integers that
//!   do not start with `0` (`+5`, `-012` included); anything else is a string;
//! - a value wrapped in `'…'` or `"…"` has every leading and trailing quote removed and is read
//!   with all values as strings (still `--set` syntax: commas and braces still count);
//! - `literal: true` takes the value verbatim as a string (only the path is parsed);
//! - setting below something that is not a map (`a.b` where `a: 1`), or indexing something that
//!   is not a list, fails as Helm's parser does.
//!
//! The values it writes into already hold the inline `spec.values` merged in, as in the
//! controller.

use capstan_core::{Map, Value};

/// The largest list index `--set` accepts.
pub const MAX_INDEX: i64 = 65536;

/// The deepest map nesting `--set` accepts in one path.
pub const MAX_DEPTH: usize = 30;

/// The deepest nesting of maps and lists together (`a[0].b[0][1]…`) accepted in one path. Helm
/// bounds map keys only ([`MAX_DEPTH`] per run of `.`); capstan bounds every level, so a hostile
/// path (`a[0].a[0]…`, `a[0][0]…`) cannot exhaust the stack of the parser, or of every walk of
/// the values after it.
pub const MAX_NESTING: usize = 100;

/// Why a value could not be set; the text follows Helm's parser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SetError(String);

/// Sets `raw` at `path` the way helm-controller does for a `valuesFrom` entry with `targetPath`.
pub fn set_target_path(
    values: &mut Map,
    path: &str,
    raw: &str,
    literal: bool,
) -> Result<(), SetError> {
    if literal {
        let verbatim: String = raw
            .chars()
            .flat_map(|c| match c {
                '\\' | ',' | '[' | ']' | '{' | '}' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        return apply(values, &format!("{path}={verbatim}"), Typing::Strings);
    }
    let quoted = |q: char| raw.starts_with(q) && raw.ends_with(q);
    if quoted('\'') || quoted('"') {
        let inner = raw.trim_matches(|c| c == '\'' || c == '"');
        return apply(values, &format!("{path}={inner}"), Typing::Strings);
    }
    apply(values, &format!("{path}={raw}"), Typing::Typed)
}

/// How scalar values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    /// `--set`: booleans, null and integers are typed.
    Typed,
    /// `--set-string`: every value is a string.
    Strings,
}

/// Applies a whole `--set` text (`k=v,k2=v2`) to `values`.
pub fn apply(values: &mut Map, text: &str, typing: Typing) -> Result<(), SetError> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
        typing,
        nesting: 0,
    };
    loop {
        match reader.assignment(values, 0)? {
            Flow::Continue => {}
            Flow::End => return Ok(()),
        }
    }
}

/// Whether the text goes on after an assignment, or ended inside it (which Helm's parser treats
/// as success wherever it happens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    End,
}

/// What a value position holds.
enum Scalar {
    List(Vec<Value>),
    /// The text ended right where the value should start.
    Nothing,
    Text(String),
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
    typing: Typing,
    /// How many `assignment`/`list_item` calls are open.
    nesting: usize,
}

fn fail<T>(message: impl Into<String>) -> Result<T, SetError> {
    Err(SetError(message.into()))
}

fn set(map: &mut Map, key: &str, value: Value) {
    if !key.is_empty() {
        map.insert(key.to_owned(), value);
    }
}

fn set_index(list: &mut Vec<Value>, index: i64, value: Value) -> Result<(), SetError> {
    if index < 0 {
        return fail(format!("negative {index} index not allowed"));
    }
    if index > MAX_INDEX {
        return fail(format!(
            "index of {index} is greater than maximum supported index of {MAX_INDEX}"
        ));
    }
    let index = index as usize;
    if list.len() <= index {
        list.resize(index + 1, Value::Null);
    }
    list[index] = value;
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

impl Reader {
    /// Reads up to one of `stops` (consumed, returned) or the end (`None`); `\x` stands for `x`.
    fn until(&mut self, stops: &[char]) -> (String, Option<char>) {
        let mut text = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            self.pos += 1;
            if stops.contains(&c) {
                return (text, Some(c));
            }
            if c == '\\' {
                match self.chars.get(self.pos) {
                    Some(&escaped) => {
                        self.pos += 1;
                        text.push(escaped);
                    }
                    None => return (text, None),
                }
            } else {
                text.push(c);
            }
        }
        (text, None)
    }

    fn scalar(&self, text: String) -> Value {
        if self.typing == Typing::Strings {
            return Value::String(text);
        }
        for (word, value) in [
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
        ] {
            if text.eq_ignore_ascii_case(word) {
                return value;
            }
        }
        if text == "0" {
            return Value::from(0);
        }
        if !text.starts_with('0')
            && let Ok(n) = text.parse::<i64>()
        {
            return Value::from(n);
        }
        Value::String(text)
    }

    /// The value after `=`: a `{…}` list, nothing at all, or text up to `,`.
    fn value(&mut self) -> Result<Scalar, SetError> {
        match self.chars.get(self.pos) {
            None => return Ok(Scalar::Nothing),
            Some('{') => self.pos += 1,
            Some(_) => {
                return Ok(Scalar::Text(self.until(&[',']).0));
            }
        }
        let mut items = Vec::new();
        loop {
            let (text, stop) = self.until(&[',', '}']);
            match stop {
                None => return fail("list must terminate with '}'"),
                Some(',') => items.push(self.scalar(text)),
                Some(_) => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    items.push(self.scalar(text));
                    return Ok(Scalar::List(items));
                }
            }
        }
    }

    fn index(&mut self) -> Result<i64, SetError> {
        match self.until(&[']']) {
            (_, None) => fail("error parsing index: the index is not closed with ']'"),
            (text, Some(_)) => text
                .parse()
                .or_else(|_| fail(format!("error parsing index: {text:?} is not an integer"))),
        }
    }

    /// Runs one level of the path, bounded by [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        level: impl FnOnce(&mut Self) -> Result<T, SetError>,
    ) -> Result<T, SetError> {
        if self.nesting >= MAX_NESTING {
            return fail(format!(
                "the path nests maps and lists more than {MAX_NESTING} levels deep"
            ));
        }
        self.nesting += 1;
        let result = level(self);
        self.nesting -= 1;
        result
    }

    /// One `key…=value` into `map`.
    fn assignment(&mut self, map: &mut Map, depth: usize) -> Result<Flow, SetError> {
        self.nested(|reader| reader.assignment_level(map, depth))
    }

    fn assignment_level(&mut self, map: &mut Map, depth: usize) -> Result<Flow, SetError> {
        let (key, stop) = self.until(&['=', '[', ',', '.']);
        match stop {
            None if key.is_empty() => Ok(Flow::End),
            None => fail(format!("key {key:?} has no value")),
            Some(',') => {
                set(map, &key, Value::String(String::new()));
                fail(format!("key {key:?} has no value (cannot end with ,)"))
            }
            Some('=') => match self.value()? {
                Scalar::List(items) => {
                    set(map, &key, Value::Array(items));
                    Ok(Flow::Continue)
                }
                Scalar::Nothing => {
                    set(map, &key, Value::String(String::new()));
                    Ok(Flow::End)
                }
                Scalar::Text(text) => {
                    let value = self.scalar(text);
                    set(map, &key, value);
                    Ok(Flow::Continue)
                }
            },
            Some('[') => {
                let index = self
                    .index()
                    .map_err(|e| SetError(format!("{e} (key {key:?})")))?;
                let mut list = match map.get(&key) {
                    None => Vec::new(),
                    Some(Value::Array(items)) => items.clone(),
                    Some(other) => {
                        return fail(format!(
                            "unable to parse key: {key:?} is {}, not a list",
                            kind_of(other)
                        ));
                    }
                };
                let flow = self.list_item(&mut list, index, depth);
                set(map, &key, Value::Array(list));
                flow
            }
            Some(_) => {
                let depth = depth + 1;
                if depth > MAX_DEPTH {
                    return fail(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_DEPTH}"
                    ));
                }
                let existing = map.get(&key);
                let had = existing.is_some();
                let mut inner = match existing {
                    None => Map::new(),
                    Some(Value::Object(m)) => m.clone(),
                    Some(other) => {
                        return fail(format!(
                            "unable to parse key: {key:?} is {}, not a map",
                            kind_of(other)
                        ));
                    }
                };
                let flow = self.assignment(&mut inner, depth);
                if flow == Ok(Flow::Continue) && inner.is_empty() {
                    return fail(format!("key map {key:?} has no value"));
                }
                if had || !inner.is_empty() {
                    set(map, &key, Value::Object(inner));
                }
                flow
            }
        }
    }

    /// What follows `name[index]`: `=value`, another `[i]`, or `.key…`.
    fn list_item(
        &mut self,
        list: &mut Vec<Value>,
        index: i64,
        depth: usize,
    ) -> Result<Flow, SetError> {
        self.nested(|reader| reader.list_item_level(list, index, depth))
    }

    fn list_item_level(
        &mut self,
        list: &mut Vec<Value>,
        index: i64,
        depth: usize,
    ) -> Result<Flow, SetError> {
        if index < 0 {
            return fail(format!("negative {index} index not allowed"));
        }
        let (rest, stop) = self.until(&['[', '.', '=']);
        if !rest.is_empty() {
            return fail(format!("unexpected data at end of array index: {rest:?}"));
        }
        let current = usize::try_from(index).ok().and_then(|i| list.get(i));
        match stop {
            None => Ok(Flow::End),
            Some('=') => {
                let value = match self.value()? {
                    Scalar::List(items) => Value::Array(items),
                    Scalar::Nothing => Value::String(String::new()),
                    Scalar::Text(text) => self.scalar(text),
                };
                set_index(list, index, value)?;
                Ok(Flow::Continue)
            }
            Some('[') => {
                let next = self.index()?;
                let mut inner = match current {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => items.clone(),
                    Some(other) => {
                        return fail(format!(
                            "unable to parse key: list item {index} is {}, not a list",
                            kind_of(other)
                        ));
                    }
                };
                match self.list_item(&mut inner, next, depth)? {
                    Flow::End => Ok(Flow::End),
                    Flow::Continue => {
                        set_index(list, index, Value::Array(inner))?;
                        Ok(Flow::Continue)
                    }
                }
            }
            Some(_) => {
                // A list item that is not a map yet becomes one.
                let mut inner = match current {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                match self.assignment(&mut inner, depth)? {
                    Flow::End => Ok(Flow::End),
                    Flow::Continue => {
                        set_index(list, index, Value::Object(inner))?;
                        Ok(Flow::Continue)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set_on(start: Value, path: &str, raw: &str, literal: bool) -> Result<Value, String> {
        let Value::Object(mut map) = start else {
            panic!("start with a map")
        };
        set_target_path(&mut map, path, raw, literal)
            .map(|()| Value::Object(map))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn target_path_table() {
        // (path, raw value, literal, expected values)
        let cases: &[(&str, &str, bool, Value)] = &[
            ("a", "x", false, json!({"a": "x"})),
            ("a.b.c", "x", false, json!({"a": {"b": {"c": "x"}}})),
            // Typing.
            ("a", "42", false, json!({"a": 42})),
            ("a", "-12", false, json!({"a": -12})),
            ("a", "+5", false, json!({"a": 5})),
            ("a", "-012", false, json!({"a": -12})),
            ("a", "007", false, json!({"a": "007"})),
            ("a", "0", false, json!({"a": 0})),
            ("a", "1.5", false, json!({"a": "1.5"})),
            ("a", "1e3", false, json!({"a": "1e3"})),
            ("a", "TRUE", false, json!({"a": true})),
            ("a", "False", false, json!({"a": false})),
            ("a", "Null", false, json!({"a": null})),
            ("a", "yes", false, json!({"a": "yes"})),
            ("a", "", false, json!({"a": ""})),
            (
                "a",
                "99999999999999999999",
                false,
                json!({"a": "99999999999999999999"}),
            ),
            // Quotes: all leading/trailing quotes go, and everything is a string.
            ("a", "\"42\"", false, json!({"a": "42"})),
            ("a", "'true'", false, json!({"a": "true"})),
            ("a", "'\"x\"'", false, json!({"a": "x"})),
            ("a", "'", false, json!({"a": ""})),
            ("a", "'{x,y}'", false, json!({"a": ["x", "y"]})),
            // Lists.
            ("a", "{x,y}", false, json!({"a": ["x", "y"]})),
            ("a", "{1,true,z}", false, json!({"a": [1, true, "z"]})),
            ("a", "{}", false, json!({"a": [""]})),
            ("a[1]", "x", false, json!({"a": [null, "x"]})),
            ("a[0][1]", "x", false, json!({"a": [[null, "x"]]})),
            ("a[1].b", "x", false, json!({"a": [null, {"b": "x"}]})),
            ("a[0]", "{p,q}", false, json!({"a": [["p", "q"]]})),
            // Escapes: a dot in a key, a comma in a value.
            ("a\\.b", "x", false, json!({"a.b": "x"})),
            ("a", "x\\,y", false, json!({"a": "x,y"})),
            ("a", "x=y", false, json!({"a": "x=y"})),
            // A comma starts another assignment.
            ("a", "x,b=2", false, json!({"a": "x", "b": 2})),
            ("a", "x,", false, json!({"a": "x"})),
            ("a", "{x,y},b=1", false, json!({"a": ["x", "y"], "b": 1})),
            // A path that ends without `=value` sets what it got so far.
            ("a[0]", "", false, json!({"a": [""]})),
            // Literal: verbatim string, path still parsed.
            (
                "a\\.b",
                "x,y={z}[0]\\n",
                true,
                json!({"a.b": "x,y={z}[0]\\n"}),
            ),
            ("a", "42", true, json!({"a": "42"})),
            ("a[2]", "'q'", true, json!({"a": [null, null, "'q'"]})),
        ];
        for (path, raw, literal, want) in cases {
            assert_eq!(
                set_on(json!({}), path, raw, *literal).as_ref(),
                Ok(want),
                "targetPath {path:?} value {raw:?} literal {literal}"
            );
        }
    }

    #[test]
    fn merges_into_existing_values() {
        let start = json!({"a": {"keep": 1, "list": [1, {"x": 1}]}, "s": "text"});
        assert_eq!(
            set_on(start.clone(), "a.new", "2", false).unwrap(),
            json!({"a": {"keep": 1, "list": [1, {"x": 1}], "new": 2}, "s": "text"})
        );
        assert_eq!(
            set_on(start.clone(), "a.list[1].y", "2", false).unwrap(),
            json!({"a": {"keep": 1, "list": [1, {"x": 1, "y": 2}]}, "s": "text"})
        );
        // A list item that is not a map is replaced by one.
        assert_eq!(
            set_on(start.clone(), "a.list[0].y", "2", false).unwrap(),
            json!({"a": {"keep": 1, "list": [{"y": 2}, {"x": 1}]}, "s": "text"})
        );
    }

    #[test]
    fn errors_table() {
        let start = json!({"s": "text", "n": null, "m": {}});
        let cases: &[(&str, &str, &str)] = &[
            ("a", "x,y", "key \"y\" has no value"),
            ("a", "{x,y", "list must terminate with '}'"),
            ("a[-1]", "x", "negative -1 index not allowed"),
            (
                "a[65537]",
                "x",
                "greater than maximum supported index of 65536",
            ),
            ("a[x]", "1", "error parsing index"),
            ("a[1", "1", "error parsing index"),
            ("a[0]b", "1", "unexpected data at end of array index"),
            ("s.b", "1", "\"s\" is a string, not a map"),
            ("n.b", "1", "\"n\" is null, not a map"),
            ("s[0]", "1", "\"s\" is a string, not a list"),
            ("m.", "1", "key map \"m\" has no value"),
        ];
        for (path, raw, want) in cases {
            let err = set_on(start.clone(), path, raw, false).unwrap_err();
            assert!(
                err.contains(want),
                "targetPath {path:?} value {raw:?}: {err}"
            );
        }
        let deep = (0..32)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(".");
        let err = set_on(json!({}), &deep, "x", false).unwrap_err();
        assert!(err.contains("nested level"), "{err}");
        let deepest = (0..31)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(".");
        assert!(set_on(json!({}), &deepest, "x", false).is_ok());
    }

    #[test]
    fn huge_values_do_not_panic() {
        let long = "x,".repeat(50_000);
        assert!(set_on(json!({}), "a", &long, false).is_err());
        let list = format!("{{{}}}", "y,".repeat(50_000));
        let got = set_on(json!({}), "a", &list, false).unwrap();
        assert_eq!(got["a"].as_array().map(Vec::len), Some(50_001));
        assert!(set_on(json!({}), "a[65536]", "x", false).is_ok());
    }
}
