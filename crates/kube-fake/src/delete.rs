//! Deletes: propagation policies (Background, Foreground adds `foregroundDeletion`, Orphan adds
//! `orphan`), finalizers (the object stays with a `deletionTimestamp` until they are gone),
//! preconditions, namespaces (phase Terminating; their contents go when the namespace controller
//! runs), CRDs (their instances go with them), and collections by selector.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::meta;
use crate::registry::ResourceType;
use crate::status::ApiError;
use crate::store::{EventKind, Store};

/// DELETE options, from the query and the DeleteOptions body.
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    pub propagation: Option<String>,
    pub dry_run: bool,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl DeleteOpts {
    /// Reads a DeleteOptions body over query options.
    pub fn merge_body(mut self, body: &Value) -> Self {
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation = Some(p.to_string());
        }
        if body.get("orphanDependents") == Some(&json!(true)) {
            self.propagation = Some("Orphan".into());
        }
        if let Some(d) = body.get("dryRun").and_then(Value::as_array)
            && d.iter().any(|x| x == "All")
        {
            self.dry_run = true;
        }
        if let Some(u) = body.pointer("/preconditions/uid").and_then(Value::as_str) {
            self.uid = Some(u.to_string());
        }
        if let Some(r) = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            self.resource_version = Some(r.to_string());
        }
        self
    }
}

impl Store {
    /// Deletes one object. Returns the object (gone, or marked for deletion).
    pub fn delete(
        &mut self,
        rt: &Arc<ResourceType>,
        namespace: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Value, ApiError> {
        let mut obj = self.get_or_404(rt, namespace, name)?;
        if let Some(uid) = &opts.uid
            && uid != meta::uid(&obj)
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    rt.qualified(),
                    meta::uid(&obj)
                ),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && rv != meta::str_at(&obj, "/metadata/resourceVersion")
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    rt.qualified(),
                    meta::str_at(&obj, "/metadata/resourceVersion")
                ),
            ));
        }
        if let Some(p) = &opts.propagation
            && !matches!(p.as_str(), "Background" | "Foreground" | "Orphan")
        {
            return Err(ApiError::invalid(
                "DeleteOptions",
                "",
                "",
                vec![(
                    "FieldValueNotSupported".into(),
                    "propagationPolicy".into(),
                    format!(
                        "Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                )],
            ));
        }
        if opts.dry_run {
            return Ok(obj);
        }
        let mut fins = meta::finalizers(&obj);
        match opts.propagation.as_deref() {
            Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
                fins.push("foregroundDeletion".into())
            }
            Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
            _ => {}
        }
        let is_namespace = rt.group.is_empty() && rt.kind == "Namespace";
        let ns_finalizers = is_namespace
            && obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
        if fins.is_empty() && !ns_finalizers {
            let gone = self.remove(rt, namespace, name).unwrap_or(obj);
            self.after_delete(rt, &gone);
            return Ok(gone);
        }
        if meta::is_deleting(&obj) {
            // Already deleting: only a propagation change may add its finalizer.
            if fins != meta::finalizers(&obj) {
                meta::set_finalizers(&mut obj, &fins);
                return Ok(self.put(rt, obj, EventKind::Modified));
            }
            return Ok(obj);
        }
        meta::set_finalizers(&mut obj, &fins);
        let md = meta::metadata_mut(&mut obj);
        md.insert("deletionTimestamp".into(), json!(meta::now_rfc3339()));
        md.insert("deletionGracePeriodSeconds".into(), json!(0));
        if is_namespace && let Some(m) = obj.as_object_mut() {
            let status = m.entry("status").or_insert_with(|| json!({}));
            if let Some(s) = status.as_object_mut() {
                s.insert("phase".into(), json!("Terminating"));
            }
        }
        Ok(self.put(rt, obj, EventKind::Modified))
    }

    /// What goes with an object once it is gone: a CRD's kinds and instances.
    pub fn after_delete(&mut self, rt: &ResourceType, gone: &Value) {
        if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
            let name = meta::name(gone).to_string();
            let group = meta::str_at(gone, "/spec/group").to_string();
            let plural = meta::str_at(gone, "/spec/names/plural").to_string();
            let keys: Vec<_> = self
                .objects
                .keys()
                .filter(|k| k.0 == group && k.1 == plural)
                .cloned()
                .collect();
            for k in keys {
                if let Some(t) = self.storage_type(&k.0, &k.1) {
                    self.remove(&t, &k.2, &k.3);
                }
            }
            self.registry.set_crd(&name, Vec::new());
        }
    }

    /// DELETE on a collection: every object matching the selectors.
    pub fn delete_collection(
        &mut self,
        rt: &Arc<ResourceType>,
        namespace: Option<&str>,
        labels: &meta::LabelSelector,
        fields: &meta::FieldSelector,
        opts: &DeleteOpts,
    ) -> Result<Value, ApiError> {
        let items = self.list(rt, namespace, labels, fields);
        let mut out = Vec::new();
        for item in items {
            let ns = meta::namespace(&item).to_string();
            let name = meta::name(&item).to_string();
            out.push(self.delete(rt, &ns, &name, opts)?);
        }
        Ok(self.list_object(rt, out))
    }
}
