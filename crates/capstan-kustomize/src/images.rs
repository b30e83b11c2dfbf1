//! The `images` transformer: rewrites container image references by image name.
//!
//! For each entry, in order, kustomize v5.6 runs two passes over every object except
//! CustomResourceDefinitions: first every `image` of every element of any `containers` or
//! `initContainers` list anywhere in the object, then every field the `images` field specs
//! reach (the defaults, plus any `configurations` adds). A reference matches when it is the
//! entry's `name` (read as a regular expression, unescaped, as kustomize does), optionally
//! followed by `:tag` and/or `@sha256:digest`. The new reference takes `newName`, then `newTag`
//! and/or `digest`, or appends `tagSuffix` to the tag. Because both passes see the pod
//! template's containers, a `tagSuffix` is appended twice there — exactly as kustomize does.

use capstan_core::Value;
use regex::Regex;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::fieldpath::{self, Create};
use crate::kustomization::FieldSpec;
use crate::resmap::ResMap;

/// One `images` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub new_name: String,
    #[serde(default)]
    pub new_tag: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub tag_suffix: String,
}

/// Decodes the raw `images` entries of a kustomization.
pub fn parse(entries: &[Value]) -> Result<Vec<Image>> {
    entries.iter().map(parse_one).collect()
}

fn parse_one(entry: &Value) -> Result<Image> {
    if let Value::Object(map) = entry {
        for (key, value) in map {
            let kind = match value {
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
                _ => continue,
            };
            return Err(Error::msg(format!(
                "invalid Kustomization: json: cannot unmarshal {kind} into Go struct field Image.images.{key} of type string"
            )));
        }
    }
    Image::deserialize(entry)
        .map_err(|err| Error::msg(format!("invalid images entry {entry}: {err}")))
}

/// Applies every `images` entry to every object, with `specs` as the image field specs.
pub fn apply(resmap: &mut ResMap, entries: &[Value], specs: &[FieldSpec]) -> Result<()> {
    for image in parse(entries)? {
        let updater = Updater::new(&image);
        for resource in resmap.iter_mut() {
            if resource.kind() == "CustomResourceDefinition" {
                continue;
            }
            legacy_walk(&mut resource.object, &updater)?;
            for spec in specs {
                fieldpath::apply(spec, &mut resource.object, Create::Nothing, &mut |node| {
                    updater.set(node)
                })?;
            }
        }
    }
    Ok(())
}

/// Runs an `ImageTagTransformer` configured in `transformers:`.
pub fn run_plugin(resmap: &mut ResMap, object: &Value, specs: &[FieldSpec]) -> Result<()> {
    let image = object
        .get("imageTag")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    apply(resmap, &[image], specs)
}

struct Updater<'a> {
    image: &'a Image,
    pattern: Option<Regex>,
}

impl<'a> Updater<'a> {
    fn new(image: &'a Image) -> Updater<'a> {
        let pattern = Regex::new(&format!(
            "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$",
            image.name
        ))
        .ok();
        Updater { image, pattern }
    }

    /// kustomize's `imageTagUpdater.SetImageValue`.
    fn set(&self, node: &mut Value) -> Result<()> {
        let value = match node {
            Value::Null => return Ok(()),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(Error::msg("wrong node kind: expected ScalarNode")),
        };
        if !self.pattern.as_ref().is_some_and(|p| p.is_match(&value)) {
            return Ok(());
        }
        *node = Value::String(self.rewrite(&value));
        Ok(())
    }

    fn rewrite(&self, value: &str) -> String {
        let image = self.image;
        let (mut name, mut tag, mut digest) = split(value);
        if !image.new_name.is_empty() {
            name = image.new_name.clone();
        }
        if !image.new_tag.is_empty() && !image.digest.is_empty() {
            tag = image.new_tag.clone();
            digest = image.digest.clone();
        } else if !image.new_tag.is_empty() {
            tag = image.new_tag.clone();
            digest.clear();
        } else if !image.digest.is_empty() {
            tag.clear();
            digest = image.digest.clone();
        } else if !image.tag_suffix.is_empty() {
            tag.push_str(&image.tag_suffix);
            digest.clear();
        }
        if !tag.is_empty() {
            name = format!("{name}:{tag}");
        }
        if !digest.is_empty() {
            name = format!("{name}@{digest}");
        }
        name
    }
}

/// Splits an image reference into name, tag and digest, as kustomize's `image.Split` does: the
/// tag and digest separators are only looked for after the first `/`.
pub fn split(image: &str) -> (String, String, String) {
    let slash = match image.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image.to_owned(), String::new(), String::new()),
        (Some(c), Some(a)) if c < a => (
            image[..c].to_owned(),
            image[c + 1..a].to_owned(),
            image[a + 1..].to_owned(),
        ),
        (_, Some(a)) => (
            image[..a].to_owned(),
            String::new(),
            image[a + 1..].to_owned(),
        ),
        (Some(c), None) => (
            image[..c].to_owned(),
            image[c + 1..].to_owned(),
            String::new(),
        ),
    }
}

/// The legacy pass: every `containers` / `initContainers` list anywhere, children first.
fn legacy_walk(node: &mut Value, updater: &Updater<'_>) -> Result<()> {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                legacy_walk(value, updater)?;
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = value
                {
                    for item in items {
                        match item {
                            Value::Object(container) => {
                                if let Some(image) = container.get_mut("image") {
                                    updater.set(image)?;
                                }
                            }
                            Value::Null => {}
                            _ => {
                                return Err(Error::msg("wrong node kind: expected MappingNode"));
                            }
                        }
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| legacy_walk(i, updater)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_table() {
        let cases = [
            ("nginx", ("nginx", "", "")),
            ("nginx:1.0", ("nginx", "1.0", "")),
            ("nginx@sha256:abc", ("nginx", "", "sha256:abc")),
            ("nginx:1@sha256:abc", ("nginx", "1", "sha256:abc")),
            ("localhost:5000/nginx", ("localhost:5000/nginx", "", "")),
            ("localhost:5000/nginx:2", ("localhost:5000/nginx", "2", "")),
            (
                "docker.io/library/nginx@sha256:x",
                ("docker.io/library/nginx", "", "sha256:x"),
            ),
        ];
        for (input, (n, t, d)) in cases {
            assert_eq!(
                split(input),
                (n.to_owned(), t.to_owned(), d.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn rewrite_table() {
        let image = |new_name: &str, new_tag: &str, digest: &str, suffix: &str| Image {
            name: "nginx".into(),
            new_name: new_name.into(),
            new_tag: new_tag.into(),
            digest: digest.into(),
            tag_suffix: suffix.into(),
        };
        let cases = [
            (image("", "2", "", ""), "nginx:1", "nginx:2"),
            (image("my/nginx", "", "", ""), "nginx:1", "my/nginx:1"),
            (image("", "", "sha256:d", ""), "nginx:1", "nginx@sha256:d"),
            (image("", "2", "sha256:d", ""), "nginx", "nginx:2@sha256:d"),
            (image("", "", "", "-x"), "nginx", "nginx:-x"),
            (image("", "3", "", ""), "nginx:1@sha256:old", "nginx:3"),
            (image("", "3", "", ""), "nginxx:1", "nginxx:1"),
            (
                image("", "3", "", ""),
                "docker.io/nginx:1",
                "docker.io/nginx:1",
            ),
        ];
        for (img, input, want) in cases {
            let updater = Updater::new(&img);
            let mut v = Value::String(input.into());
            updater.set(&mut v).expect("scalar");
            assert_eq!(v, Value::String(want.into()), "{img:?} {input}");
        }
    }

    #[test]
    fn numeric_tags_are_refused_as_kustomize_refuses_them() {
        assert!(parse(&[serde_json::json!({"name": "a", "newTag": 2})]).is_err());
        assert!(parse(&[serde_json::json!({"name": "a", "bogus": 1})]).is_err());
    }
}
