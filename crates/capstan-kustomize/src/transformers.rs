//! The built-in transformer pipeline of one kustomization, in kustomize's order:
//!
//! 1. `patchesStrategicMerge`  — `patch_strategic_merge` (kz-patch)
//! 2. `patches`                — `patch` (kz-patch: strategic merge or JSON6902, with targets)
//! 3. `namespace`              — [`crate::namespace`]
//! 4. `namePrefix`             — [`crate::prefix_suffix`]
//! 5. `nameSuffix`             — [`crate::prefix_suffix`]
//! 6. `labels`, `commonLabels` — [`crate::labels`]
//! 7. `commonAnnotations`      — [`crate::annotations`]
//! 8. `patchesJson6902`        — `patch_json6902` (kz-patch)
//! 9. `replicas`               — `replicas` (kz-patch), with `config.replicas` field specs
//! 10. `images`                — `images` (kz-patch), with `config.images` field specs
//! 11. `replacements`          — `replacements` (kz-patch)
//!
//! then the `transformers:` field (built-in transformer configs only; KRM function plugins are
//! refused, see [`crate::plugins`]). Vars are merged per kustomization and resolved once at the
//! end of the build (`merge_vars` / `resolve_vars` below).
//!
//! The patch-family steps call into kz-patch's modules with `(resmap, entries, context)`; each
//! entry list is the raw value list of the kustomization field.

use capstan_core::Value;

use crate::error::Result;
use crate::labels;
use crate::prefix_suffix::{self, Affix};
use crate::resmap::ResMap;
use crate::target::{Accumulator, Target};
use crate::{
    annotations, images, namespace, patch, plugins, replacements, replicas, transformations, vars,
};

/// Runs the built-in transformers of `target` over the accumulated resources.
pub fn run(target: &Target<'_>, acc: &mut Accumulator) -> Result<()> {
    let k = &target.kustomization;
    let config = acc.config.clone();
    let resmap = &mut acc.resmap;
    let loader = &target.loader;
    // With `transformerAnnotations` (any `buildMetadata`, as origins are tracked then), each
    // configured built-in transformer marks the objects it ran over.
    let mark = |resmap: &mut ResMap, kind: &str, times: usize| {
        if let Some(origin) = &target.origin {
            let by = transformations::builtin(origin, &target.file_name, kind);
            for _ in 0..times {
                transformations::record(resmap, &by);
            }
        }
    };
    if !k.patches_strategic_merge.is_empty() {
        patch::apply_strategic_merge(resmap, &k.patches_strategic_merge, loader)?;
        mark(resmap, "PatchStrategicMergeTransformer", 1);
    }
    if !k.patches.is_empty() {
        patch::apply_patches(resmap, &k.patches, loader)?;
        mark(resmap, "PatchTransformer", k.patches.len());
    }
    namespace::apply(resmap, &k.namespace, &config.namespace)?;
    if !k.namespace.is_empty() {
        mark(resmap, "NamespaceTransformer", 1);
    }
    prefix_suffix::apply(resmap, Affix::Prefix, &k.name_prefix, &config.name_prefix)?;
    if !k.name_prefix.is_empty() {
        mark(resmap, "PrefixTransformer", 1);
    }
    prefix_suffix::apply(resmap, Affix::Suffix, &k.name_suffix, &config.name_suffix)?;
    if !k.name_suffix.is_empty() {
        mark(resmap, "SuffixTransformer", 1);
    }
    for label in &k.labels {
        let specs = labels::label_field_specs(label, &config)?;
        labels::apply_map(resmap, &label.pairs, &specs)?;
    }
    if let Some(common) = &k.common_labels {
        labels::apply_map(resmap, common, &config.common_labels)?;
    }
    // kustomize configures one LabelTransformer per `labels` entry plus one for
    // `commonLabels` (even empty), but none at all when both are empty.
    let common_labels = k.common_labels.as_ref().map_or(0, |c| c.len());
    if !k.labels.is_empty() || common_labels > 0 {
        mark(resmap, "LabelTransformer", k.labels.len() + 1);
    }
    if let Some(common) = &k.common_annotations {
        annotations::apply(resmap, common, &config.common_annotations)?;
        if !common.is_empty() {
            mark(resmap, "AnnotationsTransformer", 1);
        }
    }
    if !k.patches_json6902.is_empty() {
        patch::apply_json6902(resmap, &k.patches_json6902, loader)?;
        mark(resmap, "PatchJson6902Transformer", k.patches_json6902.len());
    }
    if !k.replicas.is_empty() {
        replicas::apply(resmap, &k.replicas, &config.replicas)?;
        mark(resmap, "ReplicaCountTransformer", k.replicas.len());
    }
    if !k.images.is_empty() {
        images::apply(resmap, &k.images, &config.images)?;
        mark(resmap, "ImageTagTransformer", k.images.len());
    }
    if !k.replacements.is_empty() {
        replacements::apply(resmap, &k.replacements, loader)?;
        mark(resmap, "ReplacementTransformer", 1);
    }
    for entry in &k.transformers {
        plugins::run_transformer(target, resmap, &config, entry)?;
    }
    Ok(())
}

/// Adds a nested kustomization's vars to the accumulated ones.
pub fn merge_var_sets(into: &mut Vec<Value>, incoming: Vec<Value>) -> Result<()> {
    vars::merge_var_sets(into, incoming)
}

/// Records this kustomization's `vars`.
pub fn merge_vars(acc: &mut Accumulator, incoming: &[Value]) -> Result<()> {
    vars::merge_vars(&mut acc.resmap, &mut acc.vars, incoming)
}

/// Replaces `$(VAR)` references once the build is complete.
pub fn resolve_vars(acc: &mut Accumulator) -> Result<()> {
    if acc.vars.is_empty() {
        return Ok(());
    }
    vars::resolve_vars(&mut acc.resmap, &acc.vars, &acc.config.var_reference)
}

/// The resources of a build, for callers that need only the map.
pub fn resmap_of(acc: &Accumulator) -> &ResMap {
    &acc.resmap
}
