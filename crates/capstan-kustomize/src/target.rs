//! One kustomization being built: load its file, accumulate its resources (files, directories,
//! nested kustomizations, remote bases), configurations and CRD field specs, run its generators,
//! add its components, run its transformers — kustomize's `KustTarget`. The steps that only
//! the outermost kustomization runs (hash suffixes, name back-references, vars, dropping
//! local-config objects) are in [`make_customized_resmap`].

use std::path::{Path, PathBuf};

use capstan_core::Value;

use std::sync::Arc;

use crate::config::TransformerConfig;
use crate::error::{Error, Result};
use crate::kustomization::{KUSTOMIZATION_FILE_NAMES, Kustomization};
use crate::loader::Loader;
use crate::origin::Origin;
use crate::resmap::ResMap;
use crate::resource::Resource;
use crate::{crds, generator, hash, name_reference, transformers};

/// What a kustomization (and everything it includes) has accumulated so far.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    pub resmap: ResMap,
    /// Shared until a kustomization changes it (most builds use only the defaults).
    pub config: Arc<TransformerConfig>,
    /// `vars` declared so far (decoded by the vars step of [`crate::transformers`]).
    pub vars: Vec<Value>,
}

impl Accumulator {
    /// Adds everything `other` accumulated.
    pub fn merge(&mut self, other: Accumulator) -> Result<()> {
        self.resmap.append_all(other.resmap)?;
        merge_config(&mut self.config, &other.config)?;
        transformers::merge_var_sets(&mut self.vars, other.vars)
    }
}

/// A loaded kustomization and the loader rooted at its directory.
pub struct Target<'a> {
    pub loader: Loader<'a>,
    pub kustomization: Kustomization,
    /// The kustomization file's name (`kustomization.yaml`, …).
    pub file_name: String,
    /// Where resources come from, when `buildMetadata: [originAnnotations]` asks for it.
    pub origin: Option<Origin>,
}

/// Reads the kustomization file in the loader's root.
pub fn load_kustomization(loader: &Loader<'_>) -> Result<(Kustomization, String)> {
    let mut found = Vec::new();
    for name in KUSTOMIZATION_FILE_NAMES {
        let path = loader.root().join(name);
        if loader.fs().is_file(&path) {
            found.push((*name, path));
        }
    }
    match found.as_slice() {
        [] => Err(Error::MissingKustomization {
            dir: loader.root().to_path_buf(),
        }),
        [(name, path)] => {
            let text = loader
                .fs()
                .read_to_string(path)
                .map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
            Ok((Kustomization::parse(&text, path)?, (*name).to_owned()))
        }
        _ => Err(Error::MultipleKustomizations {
            dir: loader.root().to_path_buf(),
        }),
    }
}

impl<'a> Target<'a> {
    /// Loads the kustomization at the loader's root.
    pub fn load(loader: Loader<'a>) -> Result<Target<'a>> {
        let (kustomization, file_name) = load_kustomization(&loader)?;
        crate::openapi::SchemaSlot::configure(&loader, kustomization.open_api.as_ref())?;
        Ok(Target {
            loader,
            kustomization,
            file_name,
            origin: None,
        })
    }

    fn kustomization_file(&self) -> PathBuf {
        self.loader.root().join(&self.file_name)
    }

    /// Accumulates this kustomization into a fresh accumulator.
    pub fn accumulate(&mut self) -> Result<Accumulator> {
        self.accumulate_into(Accumulator::default())
    }

    /// kustomize's `accumulateTarget`.
    pub fn accumulate_into(&mut self, mut acc: Accumulator) -> Result<Accumulator> {
        let resources = self.kustomization.resources.clone();
        self.accumulate_resources(&mut acc, &resources)
            .map_err(|e| e.context("accumulating resources"))?;

        // `kubectl kustomize` behaves as if the custom configuration were the base the defaults
        // merge into: a custom spec for a path hides the default spec for that path and all
        // kinds (checked against the oracle: a custom `namePrefix` on `metadata/name` of one
        // kind stops the default prefixing of every other kind).
        let config = if self.kustomization.configurations.is_empty() {
            TransformerConfig::shared_defaults()
        } else {
            let mut config = TransformerConfig::default();
            for path in &self.kustomization.configurations.clone() {
                let text = self.loader.load_string(path)?;
                let custom = parse_config(&text, path)?;
                config.merge(&custom)?;
            }
            config.merge(&TransformerConfig::defaults())?;
            Arc::new(config)
        };
        merge_config(&mut acc.config, &config).map_err(|e| e.context("merging config"))?;
        let crd_config = crds::load_config(&self.loader, &self.kustomization.crds)
            .map_err(|e| e.context(format!("loading CRDs {:?}", self.kustomization.crds)))?;
        if crd_config != TransformerConfig::default() {
            merge_config(&mut acc.config, &Arc::new(crd_config))
                .map_err(|e| e.context("merging CRDs"))?;
        }

        self.run_generators(&mut acc)?;

        let components = self.kustomization.components.clone();
        for path in &components {
            acc = self
                .accumulate_component(acc, path)
                .map_err(|e| e.context("accumulating components"))?;
        }

        transformers::run(self, &mut acc)?;
        if !self.kustomization.validators.is_empty() {
            return Err(crate::plugins::refuse("validators"));
        }
        let vars = self.kustomization.vars.clone();
        transformers::merge_vars(&mut acc, &vars).map_err(|e| {
            e.context(format!(
                "merging vars {}",
                crate::vars::describe_list(&vars)
            ))
        })?;
        Ok(acc)
    }

    fn accumulate_resources(&mut self, acc: &mut Accumulator, paths: &[String]) -> Result<()> {
        for path in paths {
            let file_error = match self.accumulate_file(acc, path) {
                Ok(()) => continue,
                Err(e) => e,
            };
            if matches!(file_error.root_cause(), Error::Remote { .. })
                && crate::loader::is_remote_file(path)
            {
                return Err(file_error);
            }
            let child = match self.loader.child(path) {
                Ok(child) => child,
                Err(dir_error) => {
                    if matches!(
                        file_error.root_cause(),
                        Error::Yaml { .. } | Error::BadObject { .. }
                    ) {
                        return Err(file_error);
                    }
                    return Err(dir_error.context(format!("accumulation err='{file_error}'")));
                }
            };
            let origin = self.origin.as_ref().map(|o| o.append(path));
            self.accumulate_directory(acc, child, false, origin)
                .map_err(|e| e.context(format!("accumulation err='{file_error}'")))?;
        }
        Ok(())
    }

    fn accumulate_file(&self, acc: &mut Accumulator, path: &str) -> Result<()> {
        let bytes = self
            .loader
            .load(path)
            .map_err(|e| e.context(format!("accumulating resources from '{path}'")))?;
        let file = self.loader.root().join(path);
        let mut resources = read_resources(&bytes, &file)
            .map_err(|e| e.context(format!("accumulating resources from '{path}'")))?;
        if let Some(origin) = &self.origin {
            let annotation = origin.append(path).to_annotation();
            for resource in resources.iter_mut() {
                crate::origin::set_origin_annotation(resource, &annotation);
            }
        }
        for resource in resources {
            acc.resmap
                .append(resource)
                .map_err(|e| e.context(format!("merging resources from '{path}'")))?;
        }
        Ok(())
    }

    fn accumulate_component(&mut self, acc: Accumulator, path: &str) -> Result<Accumulator> {
        let child = self
            .loader
            .child(path)
            .map_err(|e| Error::msg(format!("loader.New {:?}", e.to_string())))?;
        let origin = self.origin.as_ref().map(|o| o.append(path));
        self.accumulate_directory_component(acc, child, origin)
            .map_err(|e| Error::msg(format!("accumulateDirectory: {:?}", e.to_string())))
    }

    fn accumulate_directory_component(
        &mut self,
        acc: Accumulator,
        child: Loader<'a>,
        origin: Option<Origin>,
    ) -> Result<Accumulator> {
        let root = child.root().to_path_buf();
        let mut sub = self.sub_target(child, origin)?;
        if !sub.kustomization.is_component() {
            return Err(Error::msg(format!(
                "expected kind 'Component' for path '{}' but got '{}'",
                root.display(),
                sub.kustomization.kind
            )));
        }
        sub.accumulate_into(acc).map_err(|e| {
            e.context(format!(
                "recursed accumulation of path '{}'",
                root.display()
            ))
        })
    }

    fn sub_target(&self, child: Loader<'a>, origin: Option<Origin>) -> Result<Target<'a>> {
        let root = child.root().to_path_buf();
        let mut sub = Target::load(child).map_err(|e| {
            e.context(format!(
                "couldn't make target for path '{}'",
                root.display()
            ))
        })?;
        sub.kustomization.build_metadata = self.kustomization.build_metadata.clone();
        sub.origin = origin;
        Ok(sub)
    }

    fn accumulate_directory(
        &mut self,
        acc: &mut Accumulator,
        child: Loader<'a>,
        component: bool,
        origin: Option<Origin>,
    ) -> Result<()> {
        let root = child.root().to_path_buf();
        let mut sub = self.sub_target(child, origin)?;
        if !component && sub.kustomization.is_component() {
            return Err(Error::msg(format!(
                "expected kind != 'Component' for path '{}'",
                root.display()
            )));
        }
        let sub_acc = sub.accumulate().map_err(|e| {
            e.context(format!(
                "recursed accumulation of path '{}'",
                root.display()
            ))
        })?;
        acc.merge(sub_acc)
            .map_err(|e| e.context(format!("recursed merging from path '{}'", root.display())))
    }

    fn run_generators(&mut self, acc: &mut Accumulator) -> Result<()> {
        let generated = generator::run_builtin(self)?;
        for (kind, resmap) in generated {
            let resmap = match &self.origin {
                Some(origin) => {
                    crate::origin::annotate_generated(resmap, origin, &self.file_name, kind)
                }
                None => resmap,
            };
            acc.resmap
                .absorb_all(resmap)
                .map_err(|e| e.context("merging from generator"))?;
        }
        for resmap in crate::plugins::run_generators(self)? {
            acc.resmap
                .absorb_all(resmap)
                .map_err(|e| e.context("merging from generator"))?;
        }
        Ok(())
    }

    /// The kustomization file's path, for messages.
    pub fn file(&self) -> PathBuf {
        self.kustomization_file()
    }
}

/// Merges `other` into a shared configuration, copying it only when it changes.
fn merge_config(into: &mut Arc<TransformerConfig>, other: &Arc<TransformerConfig>) -> Result<()> {
    if Arc::ptr_eq(into, other) || **into == **other {
        return Ok(());
    }
    if **into == TransformerConfig::default() {
        *into = Arc::clone(other);
        return Ok(());
    }
    Arc::make_mut(into).merge(other)
}

/// Decodes a `configurations:` file.
pub fn parse_config(text: &str, path: &str) -> Result<TransformerConfig> {
    let value = capstan_core::yaml::parse_document(text).map_err(|e| Error::Yaml {
        file: PathBuf::from(path),
        line: e.line,
        source: e,
    })?;
    if value.is_null() {
        return Ok(TransformerConfig::default());
    }
    serde_json::from_value(value).map_err(|e| Error::Field {
        file: PathBuf::from(path),
        field: "configurations".into(),
        message: e.to_string(),
    })
}

/// Reads the objects of a YAML (or JSON) stream: empty documents skipped, `kind: *List` with
/// `items` expanded, every object checked for `kind` and `metadata.name`.
pub fn read_resources(bytes: &[u8], file: &Path) -> Result<Vec<Resource>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::msg(format!("{}: not valid UTF-8: {e}", file.display())))?;
    let docs = capstan_core::yaml::parse_documents(text).map_err(|e| Error::Yaml {
        file: file.to_path_buf(),
        line: e.line,
        source: e,
    })?;
    let mut nulls = capstan_core::yaml::null_texts(text);
    let lines = capstan_core::yaml::document_lines(text);
    // a line only when the text scan counts the documents as the parser does
    let counted_alike = lines.len() == docs.len();
    let line_of = |index: usize| counted_alike.then(|| lines.get(index).copied()).flatten();
    let mut out = Vec::new();
    let mut queue: std::collections::VecDeque<(usize, Value)> =
        docs.into_iter().enumerate().collect();
    while let Some((index, doc)) = queue.pop_front() {
        if is_nil_or_empty(&doc) {
            continue;
        }
        let bad = |message: String| Error::BadObject {
            file: file.to_path_buf(),
            document: index,
            message,
        };
        if !doc.is_object() {
            return Err(bad("wrong node kind: expected MappingNode".into()));
        }
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.is_empty() {
            return Err(bad(format!("missing kind in object {}", short(&doc))));
        }
        if kind.ends_with("List") {
            match doc.get("items") {
                None => {}
                Some(Value::Null) => continue,
                Some(Value::Array(items)) => {
                    for item in items.iter().rev() {
                        queue.push_front((index, item.clone()));
                    }
                    continue;
                }
                Some(_) => return Err(bad(format!("expected array in {kind}/items"))),
            }
        } else {
            let name = doc.get("metadata").and_then(|m| m.get("name"));
            if name.is_none_or(|n| n.as_str().is_none_or(|s| s.is_empty())) {
                return Err(bad(format!(
                    "missing metadata.name in object {}",
                    short(&doc)
                )));
            }
        }
        let mut resource = Resource::new(doc);
        resource.source = Some(file.to_path_buf());
        resource.document = Some(index);
        resource.line = line_of(index);
        if let Some(doc_nulls) = nulls.get_mut(index) {
            let doc_nulls = std::mem::take(doc_nulls);
            spelled_annotation_nulls(&mut resource.object, &doc_nulls);
            resource.empty_nulls = doc_nulls
                .into_iter()
                .filter(|n| n.text.is_empty())
                .map(|n| n.path)
                .collect();
        }
        out.push(resource);
    }
    Ok(out)
}

/// kustomize reads annotations as text: `a: null` or `a: ~` is the string written. (One written
/// as nothing stays null until [`empty_annotations_as_text`], after the patches.)
fn spelled_annotation_nulls(object: &mut Value, nulls: &[capstan_core::yaml::NullText]) {
    use capstan_core::yaml::PathSeg;
    let Some(Value::Object(annotations)) = object
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    else {
        return;
    };
    for null in nulls {
        if let [PathSeg::Key(m), PathSeg::Key(a), PathSeg::Key(key)] = null.path.as_slice()
            && m == "metadata"
            && a == "annotations"
            && !null.text.is_empty()
            && let Some(value) = annotations.get_mut(key.as_str())
            && value.is_null()
        {
            *value = Value::String(null.text.clone());
        }
    }
}

/// An annotation still null at the end was written as nothing: kustomize prints it as `""`.
fn empty_annotations_as_text(resmap: &mut ResMap) {
    for resource in resmap.iter_mut() {
        if let Some(Value::Object(annotations)) = resource
            .object
            .get_mut("metadata")
            .and_then(|m| m.get_mut("annotations"))
        {
            for value in annotations.values_mut() {
                if value.is_null() {
                    *value = Value::String(String::new());
                }
            }
        }
    }
}

fn is_nil_or_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn short(doc: &Value) -> String {
    let id = crate::resid::ResId::of(doc);
    format!("{{{} {}}}", id.gvk, id.name)
}

/// kustomize's `makeCustomizedResMap`: accumulate, then add hash suffixes, fix name
/// back-references, resolve vars and drop `config.kubernetes.io/local-config` objects.
pub fn make_customized_resmap(target: &mut Target<'_>) -> Result<ResMap> {
    if !target.kustomization.build_metadata.is_empty() {
        target.origin = Some(Origin::default());
    }
    let mut acc = target.accumulate()?;
    hash::add_hash_suffixes(&mut acc.resmap)?;
    name_reference::fix_back_references(&mut acc.resmap, &acc.config)?;
    transformers::resolve_vars(&mut acc)?;
    acc.resmap.retain(|r| {
        r.annotation("config.kubernetes.io/local-config")
            .is_none_or(|v| v == "false")
    });
    empty_annotations_as_text(&mut acc.resmap);
    Ok(acc.resmap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_and_rejects_nameless_objects() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n";
        let rs = read_resources(text.as_bytes(), Path::new("f.yaml")).unwrap();
        assert_eq!(
            rs.iter().map(|r| r.name().to_owned()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        let err =
            read_resources(b"apiVersion: v1\nkind: ConfigMap\n", Path::new("f.yaml")).unwrap_err();
        assert!(err.to_string().contains("missing metadata.name"), "{err}");
        // kyaml's nil-entry check never fires for parsed objects: nulls in lists pass.
        let ok = read_resources(
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nx: [1, null]\n",
            Path::new("f.yaml"),
        )
        .unwrap();
        assert_eq!(ok.len(), 1);
    }
}
