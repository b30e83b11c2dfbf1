//! The `configMapGenerator:` and `secretGenerator:` generators: key/value pairs from env files,
//! literals and files (in that order), validated as kustomize validates them, turned into a
//! ConfigMap (`data`, or `binaryData` for non-UTF-8 content) or a Secret (base64 `data`), with
//! the merged generator options (labels, annotations, `immutable`, hash suffix). Also the
//! `merge` / `replace` behaviours that combine a generated object with an existing one.

use std::collections::BTreeMap;

use base64::Engine as _;
use capstan_core::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomization::{GeneratorArgs, GeneratorOptions};
use crate::loader::Loader;
use crate::resmap::ResMap;
use crate::resource::{Behavior, Resource};
use crate::target::Target;

/// ConfigMap or Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ConfigMap,
    Secret,
}

/// Runs the built-in generators of a kustomization (ConfigMaps, Secrets, Helm charts), one
/// resource map per generator entry, in kustomize's order.
pub fn run_builtin(target: &Target<'_>) -> Result<Vec<(&'static str, ResMap)>> {
    let k = &target.kustomization;
    let global = k.generator_options.as_ref();
    let mut out = Vec::new();
    for args in &k.config_map_generator {
        let options = GeneratorOptions::merge_global(args.options.as_ref(), global);
        let resource = generate(&target.loader, Kind::ConfigMap, args, options.as_ref())?;
        out.push(("ConfigMapGenerator", ResMap::from_iter([resource])));
    }
    for args in &k.secret_generator {
        let options = GeneratorOptions::merge_global(args.options.as_ref(), global);
        let resource = generate(&target.loader, Kind::Secret, args, options.as_ref())?;
        out.push(("SecretGenerator", ResMap::from_iter([resource])));
    }
    if !k.helm_charts.is_empty() {
        let globals = k.helm_globals.clone().unwrap_or_default();
        for chart in &k.helm_charts {
            out.push((
                "HelmChartInflationGenerator",
                crate::helm::inflate(&target.loader, &globals, chart)?,
            ));
        }
    }
    Ok(out)
}

/// Generates one ConfigMap or Secret.
pub fn generate(
    loader: &Loader<'_>,
    kind: Kind,
    args: &GeneratorArgs,
    options: Option<&GeneratorOptions>,
) -> Result<Resource> {
    let kind_name = match kind {
        Kind::ConfigMap => "ConfigMap",
        Kind::Secret => "Secret",
    };
    if args.name.is_empty() {
        return Err(Error::msg("a configmap must have a name"));
    }
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String("v1".into()));
    object.insert("kind".into(), Value::String(kind_name.into()));
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(args.name.clone()));
    if !args.namespace.is_empty() {
        metadata.insert("namespace".into(), Value::String(args.namespace.clone()));
    }
    object.insert("metadata".into(), Value::Object(metadata));
    if kind == Kind::Secret {
        let t = if args.secret_type.is_empty() {
            "Opaque"
        } else {
            &args.secret_type
        };
        object.insert("type".into(), Value::String(t.to_owned()));
    }
    let pairs = load_pairs(loader, args).map_err(|e| e.context("loading KV pairs"))?;
    let mut known: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (key, value) in pairs {
        validate_key(&key)?;
        if known.contains_key(&key) {
            return Err(Error::msg(format!(
                "configmap {} illegally repeats the key `{key}`",
                args.name
            )));
        }
        known.insert(key, value);
    }
    let mut resource = Resource::new(Value::Object(object));
    match kind {
        Kind::ConfigMap => set_config_map_data(&mut resource.object, &known),
        Kind::Secret => {
            // kyaml creates `data` even when there is nothing to put in it.
            let data: Map = known
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(encode_base64(v))))
                .collect();
            crate::resource::ensure_object(&mut resource.object)
                .insert("data".into(), Value::Object(data));
        }
    }
    if let Some(options) = options {
        for (k, v) in options.labels.iter().flatten() {
            let meta = resource.metadata_mut();
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            crate::resource::ensure_object(labels).insert(k.clone(), Value::String(v.clone()));
        }
        for (k, v) in options.annotations.iter().flatten() {
            let meta = resource.metadata_mut();
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            crate::resource::ensure_object(annotations).insert(k.clone(), Value::String(v.clone()));
        }
        if options.immutable {
            crate::resource::ensure_object(&mut resource.object)
                .insert("immutable".into(), Value::Bool(true));
        }
    }
    resource.needs_hash_suffix = options.is_none_or(|o| !o.disable_name_suffix_hash);
    resource.behavior = Behavior::parse(&args.behavior)
        .ok_or_else(|| Error::msg(format!("invalid generator behavior '{}'", args.behavior)))?;
    resource.source = Some(loader.root().to_path_buf());
    Ok(resource)
}

/// Puts UTF-8 values into `data` and the rest, base64-encoded, into `binaryData`.
fn set_config_map_data(object: &mut Value, pairs: &BTreeMap<String, Vec<u8>>) {
    let map = crate::resource::ensure_object(object);
    for (key, value) in pairs {
        let (field, text) = match std::str::from_utf8(value) {
            Ok(text) => ("data", text.to_owned()),
            Err(_) => ("binaryData", encode_base64(value)),
        };
        let entry = map
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        crate::resource::ensure_object(entry).insert(key.clone(), Value::String(text));
    }
}

/// kyaml's `encodeBase64`: standard base64, broken into lines of 70 characters (each line,
/// the last included, ending in a newline) once the text is longer than one line.
pub fn encode_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines = encoded.len() / LINE + 1;
    if lines <= 1 {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + lines);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Env files, then literals, then files, as kustomize's KV loader reads them.
fn load_pairs(loader: &Loader<'_>, args: &GeneratorArgs) -> Result<Vec<(String, Vec<u8>)>> {
    let mut all = Vec::new();
    for path in &args.env_sources {
        let bytes = loader
            .load(path)
            .map_err(|e| e.context(format!("env source files: {:?}", args.env_sources)))?;
        let pairs = parse_env_file(&bytes)
            .map_err(|e| e.context(format!("env source files: {:?}", args.env_sources)))?;
        all.extend(pairs.into_iter().map(|(k, v)| (k, v.into_bytes())));
    }
    for literal in &args.literal_sources {
        let (k, v) = parse_literal(literal)
            .map_err(|e| e.context(format!("literal sources {:?}", args.literal_sources)))?;
        all.push((k, v.into_bytes()));
    }
    for source in &args.file_sources {
        let (key, path) = parse_file_source(source)
            .map_err(|e| e.context(format!("file sources: {:?}", args.file_sources)))?;
        let bytes = loader
            .load(&path)
            .map_err(|e| e.context(format!("file sources: {:?}", args.file_sources)))?;
        all.push((key, bytes));
    }
    Ok(all)
}

/// `KEY=VALUE` lines; blank lines and `#` comments skipped; a leading BOM ignored.
pub fn parse_env_file(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    for (number, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if number == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, v),
            None => (line, ""),
        };
        if !is_env_var_name(key) {
            return Err(Error::msg(format!(
                "\"{key}\" is not a valid env var name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"
            )));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

fn is_env_var_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '-' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn validate_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && key != "."
        && key != ".."
        && !key.starts_with("..");
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "\"{key}\" is not a valid key name: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        )))
    }
}

/// `key=value`, with one pair of matching quotes around the value removed.
pub fn parse_literal(source: &str) -> Result<(String, String)> {
    let invalid = || {
        Error::msg(format!(
            "invalid literal source {source}, expected key=value"
        ))
    };
    if source.starts_with('=') {
        return Err(invalid());
    }
    let (key, value) = source.split_once('=').ok_or_else(invalid)?;
    let bytes = value.as_bytes();
    let value = if bytes.len() >= 2
        && bytes[0] == bytes[bytes.len() - 1]
        && (bytes[0] == b'"' || bytes[0] == b'\'')
    {
        &value[1..value.len() - 1]
    } else {
        value
    };
    Ok((key.to_owned(), value.to_owned()))
}

/// `path` (key is the file name) or `key=path`.
pub fn parse_file_source(source: &str) -> Result<(String, String)> {
    match source.matches('=').count() {
        0 => {
            let base = source.rsplit('/').find(|s| !s.is_empty()).unwrap_or(source);
            Ok((base.to_owned(), source.to_owned()))
        }
        1 if source.starts_with('=') => Err(Error::msg(format!(
            "missing key name for file path {:?} in source {source:?}",
            source.trim_start_matches('=')
        ))),
        1 if source.ends_with('=') => Err(Error::msg(format!(
            "missing file path for key name {:?} in source {source:?}",
            source.trim_end_matches('=')
        ))),
        1 => {
            let (k, v) = source.split_once('=').expect("one '='");
            Ok((k.to_owned(), v.to_owned()))
        }
        _ => Err(Error::msg(format!(
            "source {source:?} key name or file path contains '='"
        ))),
    }
}

fn string_map(object: &Value, path: &[&str]) -> Map {
    let mut node = Some(object);
    for p in path {
        node = node.and_then(|n| n.get(*p));
    }
    node.and_then(Value::as_object).cloned().unwrap_or_default()
}

fn set_or_clear(parent: &mut Map, field: &str, map: Map) {
    if map.is_empty() {
        parent.remove(field);
    } else {
        parent.insert(field.to_owned(), Value::Object(map));
    }
}

/// kustomize's `CopyMergeMetaDataFieldsFrom`: labels and annotations merged (the new object's
/// win), name, namespace and the build bookkeeping taken from the old object.
pub fn copy_merge_metadata(new: &mut Resource, old: &Resource) {
    let mut labels = string_map(&old.object, &["metadata", "labels"]);
    labels.extend(string_map(&new.object, &["metadata", "labels"]));
    let mut annotations = string_map(&old.object, &["metadata", "annotations"]);
    annotations.extend(string_map(&new.object, &["metadata", "annotations"]));
    let name = old.name().to_owned();
    let namespace = old.namespace().to_owned();
    let meta = new.metadata_mut();
    set_or_clear(meta, "labels", labels);
    set_or_clear(meta, "annotations", annotations);
    meta.insert("name".into(), Value::String(name));
    if namespace.is_empty() {
        meta.remove("namespace");
    } else {
        meta.insert("namespace".into(), Value::String(namespace));
    }
    new.previous_ids = old.previous_ids.clone();
    new.prefixes = old.prefixes.clone();
    new.suffixes = old.suffixes.clone();
    new.needs_hash_suffix = new.needs_hash_suffix && old.needs_hash_suffix;
    new.behavior = old.behavior;
    new.ref_var_names = old.ref_var_names.clone();
    new.source = old.source.clone();
    new.document = old.document;
    new.line = old.line;
}

/// Merges `data` and `binaryData` of the old object under the new one's.
pub fn merge_data(new: &mut Resource, old: &Resource) {
    for field in ["data", "binaryData"] {
        let mut merged = string_map(&old.object, &[field]);
        merged.extend(string_map(&new.object, &[field]));
        set_or_clear(
            crate::resource::ensure_object(&mut new.object),
            field,
            merged,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_files() {
        assert_eq!(
            parse_literal("a=\"b c\"").unwrap(),
            ("a".into(), "b c".into())
        );
        assert_eq!(parse_literal("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_literal("=b").is_err());
        assert_eq!(
            parse_file_source("dir/app.properties").unwrap(),
            ("app.properties".into(), "dir/app.properties".into())
        );
        assert_eq!(
            parse_file_source("k=dir/f").unwrap(),
            ("k".into(), "dir/f".into())
        );
        assert!(parse_file_source("a=b=c").is_err());
    }

    #[test]
    fn base64_wraps_like_kyaml() {
        assert_eq!(encode_base64(b"apple"), "YXBwbGU=");
        let long = encode_base64(&[b'x'; 60]);
        assert_eq!(long.lines().map(str::len).collect::<Vec<_>>(), vec![70, 10]);
        assert!(long.ends_with('\n'));
    }

    #[test]
    fn env_files() {
        let pairs = parse_env_file(b"\xef\xbb\xbfA=1\n# c\n\n  B=x=y\nC\n").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x=y".into()),
                ("C".into(), "".into())
            ]
        );
        assert!(parse_env_file(b"1A=x\n").is_err());
    }
}
