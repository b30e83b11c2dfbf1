//! Whole SOPS files in the formats secretGenerator sources use, decrypted to the bytes
//! `sops --decrypt` writes (kustomize reads those bytes into the Secret, so they feed the
//! name hash).
//!
//! Formats as SOPS stores them: YAML (metadata under `sops:`, several documents share the first
//! one's metadata), JSON (one object), binary (a JSON envelope with a single `data` string),
//! dotenv (`KEY=value` lines, `\n` escaped, metadata flattened into `sops_*` keys), INI (a
//! `[sops]` section). Output follows SOPS' emitters: JSON indented with tabs as Go's encoder
//! writes it, YAML with 4-space indentation as go-yaml v3 writes it (comments decrypted and
//! kept in place), dotenv lines as read, INI as go-ini writes it.

use capstan_core::Value;

use super::SopsError;
use super::keys::Keys;
use super::metadata::Metadata;
use super::tree::TreeDecryptor;
use super::{ini, yaml_comments, yaml_emit};

/// A SOPS file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML documents.
    Yaml,
    /// One JSON object.
    Json,
    /// `KEY=value` lines.
    Dotenv,
    /// INI sections.
    Ini,
    /// Any bytes, stored in a JSON envelope.
    Binary,
}

impl Format {
    /// The format SOPS picks from a file name: `.yaml`/`.yml`, `.json`, `.env`, `.ini`, else
    /// binary.
    pub fn for_path(path: &str) -> Format {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            Format::Yaml
        } else if path.ends_with(".json") {
            Format::Json
        } else if path.ends_with(".env") {
            Format::Dotenv
        } else if path.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }

    /// The output format kustomize-controller picks for a Secret `data` key: JSON for
    /// `.dockerconfigjson`, else as [`Format::for_path`].
    pub fn for_secret_key(key: &str) -> Format {
        if key.ends_with(".dockerconfigjson") {
            Format::Json
        } else {
            Format::for_path(key)
        }
    }

    /// The format of an encrypted file, from the marker bytes kustomize-controller looks for;
    /// `None` when the bytes are not a SOPS file. JSON and binary envelopes look alike and load
    /// alike; they are reported as JSON.
    pub fn detect(bytes: &[u8]) -> Option<Format> {
        let contains = |marker: &[u8]| bytes.windows(marker.len()).any(|w| w == marker);
        if contains(b"\"mac\": \"ENC[") {
            Some(Format::Json)
        } else if contains(b"sops_mac=ENC[") {
            Some(Format::Dotenv)
        } else if contains(b"[sops]") {
            Some(Format::Ini)
        } else if contains(b"mac: ENC[") {
            Some(Format::Yaml)
        } else {
            None
        }
    }

    /// kustomize-controller's format for a secretGenerator `files:` entry (`[key=]path`): the
    /// one the key's extension names.
    pub fn for_file_source(entry: &str) -> Format {
        let key = entry.split_once('=').map_or(entry, |(key, _)| key);
        Format::for_secret_key(key)
    }

    /// kustomize-controller's format for a secretGenerator `envs:` entry: from the path, with
    /// dotenv instead of binary.
    pub fn for_env_source(path: &str) -> Format {
        match Format::for_path(path) {
            Format::Binary => Format::Dotenv,
            format => format,
        }
    }

    /// The bytes kustomize-controller looks for to tell a SOPS file of this format.
    fn marker(self) -> &'static [u8] {
        match self {
            Format::Binary | Format::Json => b"\"mac\": \"ENC[",
            Format::Dotenv => b"sops_mac=ENC[",
            Format::Ini => b"[sops]",
            Format::Yaml => b"mac: ENC[",
        }
    }

    /// True when `bytes` hold a SOPS file of this format (kustomize-controller's marker test).
    pub fn is_encrypted_file(self, bytes: &[u8]) -> bool {
        let marker = self.marker();
        bytes.windows(marker.len()).any(|w| w == marker)
    }

    /// The format's name as SOPS prints it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
            Format::Dotenv => "dotenv",
            Format::Ini => "INI",
            Format::Binary => "binary",
        }
    }
}

/// One top-level entry of a document, or a comment between entries.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Entry(String, Value),
    Comment(String),
}

/// Decrypts a SOPS file and writes it back in the same format, as `sops --decrypt` does.
pub fn decrypt_file(
    bytes: &[u8],
    format: Format,
    keys: &Keys,
    origin: &str,
) -> Result<Vec<u8>, SopsError> {
    decrypt_file_as(bytes, format, format, keys, origin)
}

/// A secretGenerator source or patch file as kustomize-controller decrypts it before the
/// build: `Ok(None)` when the bytes are not a SOPS file of `format` (left as they are),
/// otherwise the decrypted bytes in the same format. Pick `format` with
/// [`Format::for_file_source`], [`Format::for_env_source`] or, for patches, [`Format::for_path`].
pub fn decrypt_source(
    bytes: &[u8],
    format: Format,
    keys: &Keys,
    origin: &str,
) -> Result<Option<Vec<u8>>, SopsError> {
    if !format.is_encrypted_file(bytes) {
        return Ok(None);
    }
    decrypt_file(bytes, format, keys, origin).map(Some)
}

/// Decrypts a SOPS file read as `input` and writes it as `output` (kustomize-controller
/// re-emits Secret entries in the format their key names).
pub(crate) fn decrypt_file_as(
    bytes: &[u8],
    input: Format,
    output: Format,
    keys: &Keys,
    origin: &str,
) -> Result<Vec<u8>, SopsError> {
    let format_error = |reason: String| SopsError::Format {
        origin: origin.to_string(),
        reason,
    };
    if input == Format::Ini {
        return decrypt_ini(bytes, output, keys, origin);
    }
    let (mut branches, metadata) = match input {
        Format::Json | Format::Binary => load_json(bytes, origin)?,
        Format::Yaml => load_yaml(bytes, origin)?,
        Format::Dotenv => load_dotenv(bytes, origin)?,
        Format::Ini => unreachable!("handled above"),
    };
    if output == Format::Ini {
        return Err(format_error(format!(
            "writing a {} file as INI is not supported",
            input.name()
        )));
    }
    let metadata = Metadata::parse(&metadata, origin)?;
    let key = metadata.data_key(keys, origin)?;
    let mut decryptor = TreeDecryptor::new(&metadata, &key, origin);
    decryptor.keep_comment_items = output == Format::Yaml;
    decryptor.keep_floats = true;
    let mut binary = None;
    for branch in &mut branches {
        for item in branch.iter_mut() {
            match item {
                Item::Comment(text) => *text = decryptor.comment(text, &[]),
                Item::Entry(name, Value::String(text))
                    if output == Format::Binary && name == "data" && binary.is_none() =>
                {
                    binary = Some(decryptor.leaf_bytes(text, std::slice::from_ref(name))?);
                }
                Item::Entry(name, value) => decryptor.walk_entry(name, value)?,
            }
        }
    }
    decryptor.verify_mac()?;
    match output {
        Format::Binary => emit_binary(&branches, binary, origin),
        Format::Dotenv => emit_dotenv(&branches, origin),
        Format::Json => Ok(emit_json(
            branches.first().map(Vec::as_slice).unwrap_or_default(),
        )),
        Format::Yaml => {
            let mut comments = match input {
                Format::Yaml => std::str::from_utf8(bytes)
                    .map(yaml_comments::scan)
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            for document in &mut comments {
                document.map_texts(|text, path| decryptor.comment(text, path));
            }
            Ok(yaml_emit::emit_documents(&branches, &comments))
        }
        Format::Ini => Err(format_error("INI output is not supported".into())),
    }
}

type Loaded = (Vec<Vec<Item>>, Value);

fn decrypt_ini(
    bytes: &[u8],
    output: Format,
    keys: &Keys,
    origin: &str,
) -> Result<Vec<u8>, SopsError> {
    let text = std::str::from_utf8(bytes).map_err(|_| SopsError::Format {
        origin: origin.to_string(),
        reason: "not valid UTF-8".into(),
    })?;
    let mut sections = ini::parse(text, origin)?;
    let at = sections
        .iter()
        .position(|s| s.name == "sops")
        .ok_or_else(|| SopsError::NoMetadata {
            origin: origin.to_string(),
        })?;
    let sops_section = sections.remove(at);
    let flat: Vec<(String, String)> = sops_section
        .keys
        .into_iter()
        .map(|k| (k.name, k.value.replace("\\n", "\n")))
        .collect();
    let metadata = unflatten(&flat).map_err(|reason| SopsError::Metadata {
        origin: origin.to_string(),
        field: "[sops]".into(),
        reason,
    })?;
    let metadata = Metadata::parse(&metadata, origin)?;
    let key = metadata.data_key(keys, origin)?;
    let mut decryptor = TreeDecryptor::new(&metadata, &key, origin);
    for section in &mut sections {
        let path = [section.name.clone()];
        if let Some(comment) = &section.comment {
            section.comment = Some(decryptor.comment(&ini::strip_comment_char(comment), &path));
        }
        for entry in &mut section.keys {
            let mut value = Value::String(std::mem::take(&mut entry.value));
            decryptor.leaf(&mut value, &[section.name.clone(), entry.name.clone()])?;
            entry.value = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if let Some(comment) = &entry.comment {
                entry.comment = Some(decryptor.comment(&ini::strip_comment_char(comment), &path));
            }
        }
    }
    decryptor.verify()?;
    if output == Format::Ini {
        return Ok(ini::emit(&sections));
    }
    let branch: Vec<Item> = sections
        .into_iter()
        .map(|s| {
            let map = s
                .keys
                .into_iter()
                .map(|k| (k.name, Value::String(k.value)))
                .collect();
            Item::Entry(s.name, Value::Object(map))
        })
        .collect();
    let branches = vec![branch];
    match output {
        Format::Binary => emit_binary(&branches, None, origin),
        Format::Dotenv => emit_dotenv(&branches, origin),
        Format::Json => Ok(emit_json(&branches[0])),
        Format::Yaml => Ok(yaml_emit::emit_documents(&branches, &[])),
        Format::Ini => unreachable!("handled above"),
    }
}

fn entries_of(map: serde_json::Map<String, Value>) -> Vec<Item> {
    map.into_iter()
        .filter(|(k, _)| k != "sops")
        .map(|(k, v)| Item::Entry(k, v))
        .collect()
}

fn load_json(bytes: &[u8], origin: &str) -> Result<Loaded, SopsError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| SopsError::Format {
        origin: origin.to_string(),
        reason: format!("not valid JSON: {e}"),
    })?;
    let Value::Object(mut map) = value else {
        return Err(SopsError::Format {
            origin: origin.to_string(),
            reason: "a SOPS JSON file must be an object".into(),
        });
    };
    let metadata = map
        .get("sops")
        .cloned()
        .ok_or_else(|| SopsError::NoMetadata {
            origin: origin.to_string(),
        })?;
    map.shift_remove("sops");
    Ok((vec![entries_of(map)], metadata))
}

fn load_yaml(bytes: &[u8], origin: &str) -> Result<Loaded, SopsError> {
    let text = std::str::from_utf8(bytes).map_err(|_| SopsError::Format {
        origin: origin.to_string(),
        reason: "not valid UTF-8".into(),
    })?;
    let documents = capstan_core::yaml::parse_documents(text).map_err(|e| SopsError::Format {
        origin: origin.to_string(),
        reason: format!("not valid YAML: {e}"),
    })?;
    let mut metadata = None;
    let mut branches = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        match document {
            Value::Object(map) => {
                if index == 0 {
                    metadata = map.get("sops").cloned();
                }
                branches.push(entries_of(map));
            }
            Value::Null => branches.push(Vec::new()),
            _ => {
                return Err(SopsError::Format {
                    origin: origin.to_string(),
                    reason: format!("document {index} is not a mapping"),
                });
            }
        }
    }
    let metadata = metadata.ok_or_else(|| SopsError::NoMetadata {
        origin: origin.to_string(),
    })?;
    Ok((branches, metadata))
}

fn load_dotenv(bytes: &[u8], origin: &str) -> Result<Loaded, SopsError> {
    let text = std::str::from_utf8(bytes).map_err(|_| SopsError::Format {
        origin: origin.to_string(),
        reason: "not valid UTF-8".into(),
    })?;
    let mut items = Vec::new();
    let mut flat_metadata = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            items.push(Item::Comment(comment.to_string()));
            continue;
        }
        // The line's text may be secret: the error names the line only.
        let (key, value) = line.split_once('=').ok_or_else(|| SopsError::Format {
            origin: origin.to_string(),
            reason: format!("line {}: not a KEY=value line", index + 1),
        })?;
        let value = value.replace("\\n", "\n");
        match key.strip_prefix("sops_") {
            Some(meta_key) => flat_metadata.push((meta_key.to_string(), value)),
            None => items.push(Item::Entry(key.to_string(), Value::String(value))),
        }
    }
    if flat_metadata.is_empty() {
        return Err(SopsError::NoMetadata {
            origin: origin.to_string(),
        });
    }
    let metadata = unflatten(&flat_metadata).map_err(|reason| SopsError::Metadata {
        origin: origin.to_string(),
        field: "sops_*".into(),
        reason,
    })?;
    Ok((vec![items], metadata))
}

/// Rebuilds nested metadata from SOPS' flattened keys (`age__list_0__map_enc`).
fn unflatten(entries: &[(String, String)]) -> Result<Value, String> {
    enum Node {
        Leaf(String),
        Map(std::collections::BTreeMap<String, Node>),
        List(std::collections::BTreeMap<usize, Node>),
    }
    fn insert(node: &mut Node, tokens: &[Token], value: &str, key: &str) -> Result<(), String> {
        let Some((first, rest)) = tokens.split_first() else {
            return Err(format!("duplicate metadata key sops_{key}"));
        };
        let child = match (node, first) {
            (Node::Map(map), Token::Key(name)) => {
                map.entry(name.clone()).or_insert_with(|| empty_for(rest))
            }
            (Node::List(list), Token::Index(i)) => {
                list.entry(*i).or_insert_with(|| empty_for(rest))
            }
            _ => return Err(format!("metadata key sops_{key} mixes maps and lists")),
        };
        if rest.is_empty() {
            if !matches!(child, Node::Leaf(_)) || matches!(child, Node::Leaf(v) if !v.is_empty()) {
                return Err(format!("duplicate or conflicting metadata key sops_{key}"));
            }
            *child = Node::Leaf(value.to_string());
            return Ok(());
        }
        insert(child, rest, value, key)
    }
    fn empty_for(rest: &[Token]) -> Node {
        match rest.first() {
            None => Node::Leaf(String::new()),
            Some(Token::Key(_)) => Node::Map(Default::default()),
            Some(Token::Index(_)) => Node::List(Default::default()),
        }
    }
    fn convert(node: Node) -> Result<Value, String> {
        Ok(match node {
            Node::Leaf(v) => Value::String(v),
            Node::Map(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| Ok((k, convert(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Node::List(list) => {
                if list.keys().enumerate().any(|(i, k)| i != *k) {
                    return Err("incomplete list in flattened metadata".into());
                }
                Value::Array(list.into_values().map(convert).collect::<Result<_, _>>()?)
            }
        })
    }
    let mut root = Node::Map(Default::default());
    for (key, value) in entries {
        insert(&mut root, &tokenize(key)?, value, key)?;
    }
    convert(root)
}

enum Token {
    Key(String),
    Index(usize),
}

fn tokenize(key: &str) -> Result<Vec<Token>, String> {
    const MAP: &str = "__map_";
    const LIST: &str = "__list_";
    let mut tokens = Vec::new();
    let mut rest = key;
    let mut kind_is_list = false;
    loop {
        let next = [
            rest.find(MAP).map(|i| (i, false)),
            rest.find(LIST).map(|i| (i, true)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(i, _)| *i);
        let (part, after) = match next {
            Some((i, is_list)) => {
                let sep = if is_list { LIST } else { MAP };
                let part = &rest[..i];
                rest = &rest[i + sep.len()..];
                (part, Some(is_list))
            }
            None => (rest, None),
        };
        tokens.push(if kind_is_list {
            Token::Index(
                part.parse()
                    .map_err(|_| format!("bad list index in metadata key sops_{key}"))?,
            )
        } else {
            Token::Key(part.to_string())
        });
        match after {
            Some(is_list) => kind_is_list = is_list,
            None => break,
        }
    }
    Ok(tokens)
}

fn emit_binary(
    branches: &[Vec<Item>],
    raw: Option<Vec<u8>>,
    origin: &str,
) -> Result<Vec<u8>, SopsError> {
    if let Some(raw) = raw {
        return Ok(raw);
    }
    let error = |reason: &str| SopsError::Format {
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let first = branches
        .first()
        .ok_or_else(|| error("no binary data found"))?;
    for item in first {
        if let Item::Entry(name, value) = item
            && name == "data"
        {
            return match value {
                Value::String(s) => Ok(s.clone().into_bytes()),
                _ => Err(error("the 'data' key does not have a string value")),
            };
        }
    }
    Err(error("no binary data found"))
}

fn emit_dotenv(branches: &[Vec<Item>], origin: &str) -> Result<Vec<u8>, SopsError> {
    let mut out = String::new();
    for item in branches.first().map(Vec::as_slice).unwrap_or_default() {
        match item {
            Item::Comment(text) => {
                out.push('#');
                out.push_str(text);
            }
            Item::Entry(key, value) => {
                let text = match value {
                    Value::Object(_) | Value::Array(_) => {
                        return Err(SopsError::Format {
                            origin: origin.to_string(),
                            reason: format!("cannot write the nested value of {key} as dotenv"),
                        });
                    }
                    Value::String(s) => s.replace('\n', "\\n"),
                    Value::Null => "<nil>".to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                    Value::Number(n) => go_float_g(n.as_f64().unwrap_or_default()),
                };
                out.push_str(key);
                out.push('=');
                out.push_str(&text);
            }
        }
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// `stores.ValToString` for floats: `%G` shortest, with `.0` added to whole numbers.
fn go_float_g(f: f64) -> String {
    if !f.is_finite() {
        return super::cipher::format_float(f);
    }
    let (mantissa, exp) = go_exponent_parts(f);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}E{sign}{:02}", exp.abs());
    }
    let plain = format!("{f}");
    if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    }
}

/// The shortest mantissa and the decimal exponent of a finite float (`1.5`, `10` for 1.5e10).
pub(crate) fn go_exponent_parts(f: f64) -> (String, i32) {
    let text = format!("{f:e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.to_string(), exp.parse().unwrap_or(0))
}

/// SOPS' JSON emitter: Go's encoder, indented with tabs, a trailing newline.
pub(crate) fn emit_json(items: &[Item]) -> Vec<u8> {
    let mut out = String::new();
    write_json_object(
        &mut out,
        items.iter().filter_map(|i| match i {
            Item::Entry(k, v) => Some((k.as_str(), v)),
            Item::Comment(_) => None,
        }),
        0,
    );
    out.push('\n');
    out.into_bytes()
}

fn indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push('\t');
    }
}

fn write_json_object<'a>(
    out: &mut String,
    entries: impl Iterator<Item = (&'a str, &'a Value)>,
    depth: usize,
) {
    out.push('{');
    let mut empty = true;
    for (key, value) in entries {
        if !empty {
            out.push(',');
        }
        empty = false;
        indent(out, depth + 1);
        capstan_core::go_json::write_string(out, key);
        out.push_str(": ");
        write_json_value(out, value, depth + 1);
    }
    if !empty {
        indent(out, depth);
    }
    out.push('}');
}

fn write_json_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) => {
            write_json_object(out, map.iter().map(|(k, v)| (k.as_str(), v)), depth)
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_json_value(out, item, depth + 1);
            }
            if !items.is_empty() {
                indent(out, depth);
            }
            out.push(']');
        }
        Value::String(s) => capstan_core::go_json::write_string(out, s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Value::Number(n) => out.push_str(&go_json_float(n.as_f64().unwrap_or_default())),
    }
}

/// Go's `encoding/json` float format: `%f` shortest, `%e` below 1e-6 or from 1e21 on.
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}"); // 1e-7, 1.5e21
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        let digits = exp.abs();
        // Go writes at least two exponent digits, then trims `e-0X` to `e-X`.
        if exp < 0 && digits < 10 {
            return format!("{mantissa}e-{digits}");
        }
        return format!("{mantissa}e{sign}{digits:02}");
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_paths_and_markers() {
        assert_eq!(Format::for_path("a/secret.yml"), Format::Yaml);
        assert_eq!(Format::for_path("app.env"), Format::Dotenv);
        assert_eq!(Format::for_path("key.pem"), Format::Binary);
        assert_eq!(Format::for_secret_key(".dockerconfigjson"), Format::Json);
        assert_eq!(Format::detect(b"a=b\nsops_mac=ENC[x"), Some(Format::Dotenv));
        assert_eq!(Format::detect(b"sops:\n    mac: ENC[x"), Some(Format::Yaml));
        assert_eq!(Format::detect(b"plain"), None);
        assert_eq!(
            Format::for_file_source("creds.env=path/to/file.bin"),
            Format::Dotenv
        );
        assert_eq!(Format::for_file_source("path/config.yaml"), Format::Yaml);
        assert_eq!(Format::for_env_source("vars.txt"), Format::Dotenv);
        assert_eq!(Format::for_env_source("vars.json"), Format::Json);
        assert!(Format::Yaml.is_encrypted_file(b"sops:\n    mac: ENC[x"));
        assert!(!Format::Dotenv.is_encrypted_file(b"sops:\n    mac: ENC[x"));
    }

    #[test]
    fn go_float_formats() {
        assert_eq!(go_json_float(3.0), "3");
        assert_eq!(go_json_float(1e-7), "1e-7");
        assert_eq!(go_json_float(1.5e21), "1.5e+21");
        assert_eq!(go_json_float(0.25), "0.25");
        assert_eq!(go_float_g(3.0), "3.0");
        assert_eq!(go_float_g(0.25), "0.25");
        assert_eq!(go_float_g(1.5e10), "1.5E+10");
    }

    #[test]
    fn json_strings_escape_like_go() {
        let mut out = String::new();
        capstan_core::go_json::write_string(&mut out, "a<b>&\"\\\n\u{1}");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\u0001""#);
    }

    #[test]
    fn unflattens_sops_metadata_keys() {
        let entries = vec![
            ("age__list_0__map_enc".to_string(), "E0".to_string()),
            ("age__list_0__map_recipient".to_string(), "R0".to_string()),
            ("age__list_1__map_enc".to_string(), "E1".to_string()),
            ("age__list_1__map_recipient".to_string(), "R1".to_string()),
            ("mac".to_string(), "M".to_string()),
        ];
        let value = unflatten(&entries).expect("unflattens");
        assert_eq!(value["age"][1]["recipient"], "R1");
        assert_eq!(value["mac"], "M");
        let gap = vec![("age__list_1__map_enc".to_string(), "E".to_string())];
        assert!(unflatten(&gap).is_err());
        assert!(unflatten(&[("a__list_x".to_string(), "v".to_string())]).is_err());
    }
}
