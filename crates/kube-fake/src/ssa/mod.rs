//! Server-side apply: the field-ownership algebra of Kubernetes' structured-merge-diff, over JSON
//! values and the merge schemas of [`schema`]. [`apply`] merges an applied configuration, removes
//! the fields its manager stopped applying that nobody else owns, and reports conflicts with other
//! managers (or, forced, takes their fields); [`update`] records what a non-apply write changed.
//! Managers are keyed by an opaque string (the server uses the real server's identity encoding).

pub mod fieldset;
pub mod managed;
pub mod schema;
pub mod typed;

use std::collections::BTreeMap;

use serde_json::Value;

use fieldset::{Path, Set};
use schema::TypeRef;
use typed::{
    Comparison, WalkError, compare, ensure_named_fields_are_members, merge, remove_items,
    to_field_set,
};

/// One manager's fields, the API version it wrote them at, and whether it applied them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedSet {
    pub set: Set,
    pub api_version: String,
    pub applied: bool,
}

/// Every manager's fields, by manager key.
pub type Managers = BTreeMap<String, VersionedSet>;

/// A field another manager owns that an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub path: Path,
}

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error("{} conflict(s)", .0.len())]
    Conflicts(Vec<Conflict>),
}

/// Applies `config` for `manager` over `live`. Returns the new object (`None` when nothing
/// changed) and the managers afterwards.
pub fn apply(
    live: &Value,
    config: &Value,
    ty: &TypeRef,
    version: &str,
    mut managers: Managers,
    manager: &str,
    force: bool,
) -> Result<(Option<Value>, Managers), ApplyError> {
    let merged = merge(Some(live), Some(config), ty)?.unwrap_or(Value::Null);
    let last = managers.get(manager).cloned();
    let set = to_field_set(config, ty)?;
    managers.insert(
        manager.to_string(),
        VersionedSet {
            set,
            api_version: version.to_string(),
            applied: true,
        },
    );
    let pruned = prune(&merged, &managers, manager, last.as_ref(), ty)?;
    let (managers, cmp) = update_managers(live, &pruned, ty, version, managers, manager, force)?;
    let out = (!cmp.is_same()).then_some(pruned);
    Ok((out, managers))
}

/// Records a non-apply write (`new` replacing `live`) by `manager`: it takes the fields it
/// changed from everyone else.
pub fn update(
    live: &Value,
    new: &Value,
    ty: &TypeRef,
    version: &str,
    managers: Managers,
    manager: &str,
) -> Result<Managers, WalkError> {
    let (mut managers, cmp) = match update_managers(live, new, ty, version, managers, manager, true)
    {
        Ok(r) => r,
        Err(ApplyError::Walk(e)) => return Err(e),
        Err(ApplyError::Conflicts(_)) => unreachable_conflicts(),
    };
    let mine = managers
        .get(manager)
        .map(|v| v.set.clone())
        .unwrap_or_default();
    let set = mine
        .union(&cmp.modified)
        .union(&cmp.added)
        .difference(&cmp.removed);
    if set.is_empty() {
        managers.remove(manager);
    } else {
        managers.insert(
            manager.to_string(),
            VersionedSet {
                set,
                api_version: version.to_string(),
                applied: false,
            },
        );
    }
    Ok(managers)
}

fn unreachable_conflicts() -> (Managers, Comparison) {
    // A forced update never reports conflicts; an empty result keeps this total.
    (Managers::new(), Comparison::default())
}

fn update_managers(
    old: &Value,
    new: &Value,
    ty: &TypeRef,
    version: &str,
    mut managers: Managers,
    workflow: &str,
    force: bool,
) -> Result<(Managers, Comparison), ApplyError> {
    let cmp = compare(Some(old), Some(new), ty)?;
    let _ = version;
    let changed = cmp.modified.union(&cmp.added);
    let mut conflicts: BTreeMap<String, Set> = BTreeMap::new();
    let mut removed: Vec<String> = Vec::new();
    for (name, vs) in &managers {
        if name == workflow {
            continue;
        }
        let c = vs.set.intersection(&changed);
        if !c.is_empty() {
            conflicts.insert(name.clone(), c);
        }
        if !cmp.removed.is_empty() {
            removed.push(name.clone());
        }
    }
    if !force && !conflicts.is_empty() {
        let mut out = Vec::new();
        for (manager, set) in conflicts {
            for path in set.paths() {
                out.push(Conflict {
                    manager: manager.clone(),
                    path,
                });
            }
        }
        return Err(ApplyError::Conflicts(out));
    }
    for (name, c) in &conflicts {
        if let Some(vs) = managers.get_mut(name) {
            vs.set = vs.set.difference(c);
        }
    }
    for name in &removed {
        if let Some(vs) = managers.get_mut(name) {
            vs.set = vs.set.difference(&cmp.removed);
        }
    }
    managers.retain(|_, vs| !vs.set.is_empty());
    Ok((managers, cmp))
}

fn prune(
    merged: &Value,
    managers: &Managers,
    manager: &str,
    last: Option<&VersionedSet>,
    ty: &TypeRef,
) -> Result<Value, WalkError> {
    let Some(last) = last.filter(|l| !l.set.is_empty()) else {
        return Ok(merged.clone());
    };
    let named = |s: &Set| ensure_named_fields_are_members(s, Some(ty));
    let pruned = remove_items(merged, &named(&last.set), ty);
    // Add back what any manager (the applier included) still owns.
    let mut managed = Set::new();
    for vs in managers.values() {
        managed = managed.union(&vs.set);
    }
    let merged_set = to_field_set(merged, ty)?;
    let pruned_set = to_field_set(&pruned, ty)?;
    let keep = named(&pruned_set).union(&named(&managed));
    let pruned = remove_items(merged, &named(&merged_set).difference(&keep), ty);
    // Add back "dangling" items: what the last apply owned and the prune left nothing to hold.
    let pruned_set = named(&to_field_set(&pruned, ty)?);
    let merged_set = named(&merged_set);
    let last_set = named(&last.set);
    let _ = manager;
    Ok(remove_items(
        merged,
        &merged_set.difference(&pruned_set).intersection(&last_set),
        ty,
    ))
}
