//! The ordered set of objects a build works on. Order is input order (kustomize's "fifo") until
//! a sort is applied; ids are unique by kustomize's equality (an empty namespace equals
//! `default` for namespaced kinds).

use capstan_core::Value;

use crate::error::{Error, Result};
use crate::resid::ResId;
use crate::resource::{Behavior, Resource};

/// An ordered list of resources with unique current ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResMap {
    resources: Vec<Resource>,
}

impl ResMap {
    pub fn new() -> ResMap {
        ResMap::default()
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Resource> {
        self.resources.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Resource> {
        self.resources.iter_mut()
    }

    /// The resources, in order.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// Mutable access to the list, for transformers that reorder or rewrite in place.
    pub fn resources_mut(&mut self) -> &mut Vec<Resource> {
        &mut self.resources
    }

    /// The objects, in order.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.resources.iter().map(|r| &r.object)
    }

    pub fn into_resources(self) -> Vec<Resource> {
        self.resources
    }

    /// The current ids, in order.
    pub fn ids(&self) -> Vec<ResId> {
        self.resources.iter().map(Resource::id).collect()
    }

    /// Adds a resource; fails when one with an equal current id is already present.
    pub fn append(&mut self, resource: Resource) -> Result<()> {
        let id = resource.id();
        if self.resources.iter().any(|r| r.id().equals(&id)) {
            return Err(Error::DuplicateId { id: id.to_string() });
        }
        self.resources.push(resource);
        Ok(())
    }

    /// Appends every resource of `other`, failing on the first duplicate id.
    pub fn append_all(&mut self, other: ResMap) -> Result<()> {
        for resource in other.resources {
            self.append(resource)?;
        }
        Ok(())
    }

    /// Index of the one resource whose current id equals `id`.
    pub fn index_of_current_id(&self, id: &ResId) -> Result<Option<usize>> {
        let matches: Vec<usize> = self
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.id().equals(id))
            .map(|(i, _)| i)
            .collect();
        match matches.len() {
            0 => Ok(None),
            1 => Ok(Some(matches[0])),
            n => Err(Error::msg(format!("id matched {n} resources"))),
        }
    }

    /// Indices of resources whose current id satisfies `matches`.
    pub fn matching_current(&self, matches: impl Fn(&ResId) -> bool) -> Vec<usize> {
        self.resources
            .iter()
            .enumerate()
            .filter(|(_, r)| matches(&r.id()))
            .map(|(i, _)| i)
            .collect()
    }

    /// Indices of resources whose current or any previous id satisfies `matches`.
    pub fn matching_any(&self, matches: impl Fn(&ResId) -> bool) -> Vec<usize> {
        self.resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.any_id(&matches))
            .map(|(i, _)| i)
            .collect()
    }

    /// The one resource whose current or previous id equals `id` (kustomize's `GetById`).
    pub fn get_by_any_id(&self, id: &ResId) -> Result<usize> {
        let found = self.matching_any(|candidate| candidate.equals(id));
        match found.len() {
            1 => Ok(found[0]),
            0 => Err(Error::msg(format!(
                "no matches for Id {id}; failed to find unique target for patch {id}"
            ))),
            _ => Err(Error::msg(format!(
                "multiple matches for Id {id}; failed to find unique target for patch {id}"
            ))),
        }
    }

    pub fn get(&self, index: usize) -> Option<&Resource> {
        self.resources.get(index)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut Resource> {
        self.resources.get_mut(index)
    }

    /// Removes the resource at `index`.
    pub fn remove(&mut self, index: usize) -> Resource {
        self.resources.remove(index)
    }

    /// Keeps only the resources for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Resource) -> bool) {
        self.resources.retain(keep);
    }

    /// Adds generated resources, honouring each one's behaviour: `create` appends (failing on a
    /// duplicate), `merge` and `replace` combine with the one existing object of that id.
    pub fn absorb_all(&mut self, other: ResMap) -> Result<()> {
        for resource in other.resources {
            self.absorb(resource)?;
        }
        Ok(())
    }

    fn absorb(&mut self, mut resource: Resource) -> Result<()> {
        let id = resource.id();
        let matches = self.matching_any(|candidate| candidate.equals(&id));
        match matches.as_slice() {
            [] => match resource.behavior {
                Behavior::Merge | Behavior::Replace => Err(Error::msg(format!(
                    "id {} does not exist; cannot merge or replace",
                    go_id_debug(&id)
                ))),
                _ => self.append(resource),
            },
            [index] => {
                let old = &self.resources[*index];
                match resource.behavior {
                    Behavior::Replace => crate::generator::copy_merge_metadata(&mut resource, old),
                    Behavior::Merge => {
                        // The merged object keeps the origin of the one it merges into.
                        let origin = old
                            .annotation(crate::origin::ORIGIN_ANNOTATION)
                            .map(str::to_owned);
                        crate::generator::copy_merge_metadata(&mut resource, old);
                        crate::generator::merge_data(&mut resource, old);
                        if let Some(origin) = origin {
                            crate::origin::set_origin_annotation(&mut resource, &origin);
                        }
                    }
                    _ => {
                        return Err(Error::msg(format!(
                            "id {} exists; behavior must be merge or replace",
                            go_id_debug(&id)
                        )));
                    }
                }
                self.resources[*index] = resource;
                Ok(())
            }
            many => Err(Error::msg(format!(
                "found multiple objects {} that could accept merge of {id}",
                many.iter()
                    .map(|i| self.resources[*i].id().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// Go's `%#v` of a `resid.ResId`, which kustomize prints in generator merge errors.
fn go_id_debug(id: &ResId) -> String {
    format!(
        "resid.ResId{{Gvk:resid.Gvk{{Group:\"{}\", Version:\"{}\", Kind:\"{}\", isClusterScoped:{}}}, Name:\"{}\", Namespace:\"{}\"}}",
        id.gvk.group,
        id.gvk.version,
        id.gvk.kind,
        id.gvk.is_cluster_scoped(),
        id.name,
        id.namespace
    )
}

impl<'a> IntoIterator for &'a ResMap {
    type Item = &'a Resource;
    type IntoIter = std::slice::Iter<'a, Resource>;
    fn into_iter(self) -> Self::IntoIter {
        self.resources.iter()
    }
}

impl FromIterator<Resource> for ResMap {
    /// Collects without the duplicate check; use [`ResMap::append`] where ids must be unique.
    fn from_iter<T: IntoIterator<Item = Resource>>(iter: T) -> Self {
        ResMap {
            resources: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str, ns: Option<&str>) -> Resource {
        let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        if let Some(ns) = ns {
            v["metadata"]["namespace"] = json!(ns);
        }
        Resource::new(v)
    }

    #[test]
    fn rejects_duplicate_ids() {
        let mut m = ResMap::new();
        m.append(cm("a", None)).unwrap();
        m.append(cm("a", Some("other"))).unwrap();
        let err = m.append(cm("a", Some("default"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "may not add resource with an already registered id: ConfigMap.v1.[noGrp]/a.default"
        );
    }
}
