//! Output order: kustomize's legacy order (kinds in a fixed order, then by gvk, name and
//! namespace) or input order ("fifo"), chosen by the kustomization's `sortOptions` or, when it
//! has none, by the `--reorder` flag.

use crate::Reorder;
use crate::error::{Error, Result};
use crate::kustomization::SortOptions;
use crate::resid::{Gvk, ORDER_FIRST, ORDER_LAST};
use crate::resmap::ResMap;

/// Sorts `resmap` as `kubectl kustomize` would, given the kustomization's `sortOptions` and
/// the `--reorder` flag.
pub fn apply(
    resmap: &mut ResMap,
    sort_options: Option<&SortOptions>,
    reorder: Reorder,
) -> Result<()> {
    let Some(options) = sort_options else {
        if reorder == Reorder::Legacy {
            legacy_sort(resmap, ORDER_FIRST, ORDER_LAST);
        }
        return Ok(());
    };
    match options.order.as_str() {
        "legacy" => {
            let (first, last): (Vec<&str>, Vec<&str>) = match &options.legacy_sort_options {
                Some(l) => (
                    l.order_first.iter().map(String::as_str).collect(),
                    l.order_last.iter().map(String::as_str).collect(),
                ),
                None => (ORDER_FIRST.to_vec(), ORDER_LAST.to_vec()),
            };
            legacy_sort(resmap, &first, &last);
            Ok(())
        }
        "fifo" => {
            if options.legacy_sort_options.is_some() {
                return Err(Error::msg(
                    "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'",
                ));
            }
            Ok(())
        }
        _ => Err(Error::msg(
            "the field 'sortOptions.order' must be one of [fifo, legacy]",
        )),
    }
}

fn rank(kind: &str, first: &[&str], last: &[&str]) -> i64 {
    if let Some(i) = first.iter().position(|k| *k == kind) {
        return i as i64 - first.len() as i64;
    }
    if let Some(i) = last.iter().position(|k| *k == kind) {
        return 1 + i as i64;
    }
    0
}

/// The legacy sort with the given first and last kinds.
pub fn legacy_sort(resmap: &mut ResMap, first: &[&str], last: &[&str]) {
    let resources = resmap.resources_mut();
    resources.sort_by(|a, b| {
        let (ga, gb) = (a.gvk(), b.gvk());
        if ga != gb {
            let by_rank = rank(&ga.kind, first, last).cmp(&rank(&gb.kind, first, last));
            if by_rank.is_ne() {
                return by_rank;
            }
            if ga.kind == "Namespace"
                && gb.kind == "Namespace"
                && (ga.group.is_empty() || gb.group.is_empty())
            {
                return stable_sort_string(&gb).cmp(&stable_sort_string(&ga));
            }
            return stable_sort_string(&ga).cmp(&stable_sort_string(&gb));
        }
        let (ia, ib) = (a.id(), b.id());
        legacy_sort_string(&ia.namespace, &ia.name)
            .cmp(&legacy_sort_string(&ib.namespace, &ib.name))
    });
}

fn stable_sort_string(gvk: &Gvk) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_owned()
        } else {
            s.to_owned()
        }
    };
    format!(
        "{}_{}_{}",
        or(&gvk.group, "~G"),
        or(&gvk.version, "~V"),
        or(&gvk.kind, "~K")
    )
}

fn legacy_sort_string(namespace: &str, name: &str) -> String {
    let ns = if namespace.is_empty() {
        "~X"
    } else {
        namespace
    };
    let name = if name.is_empty() { "~N" } else { name };
    format!("{ns}|{name}")
}
