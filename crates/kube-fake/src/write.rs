//! Writes: create (POST), update (PUT), the patch types, and server-side apply, all ending in one
//! admission path that does what the real server does to every write — system metadata kept,
//! status kept apart from the main endpoint, defaults, immutable fields, `generation` bumped only
//! for changes outside metadata and status, managed fields recorded, finalizers honoured,
//! unchanged writes not stored (no new resourceVersion), and dry runs not persisted.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::defaults;
use crate::meta::{self, strip_nulls};
use crate::patch;
use crate::registry::{ResourceType, crd_types};
use crate::ssa::{self, ApplyError, Managers, fieldset::path_string, managed};
use crate::status::ApiError;
use crate::store::{EventKind, Store};

/// Who writes, and how.
#[derive(Debug, Clone, Default)]
pub struct WriteCtx {
    pub namespace: String,
    pub name: String,
    pub subresource: String,
    pub dry_run: bool,
    pub field_manager: String,
    pub force: bool,
    /// `fieldValidation=Strict`: unknown fields are a 400 instead of being dropped.
    pub strict: bool,
}

/// The patch types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let ct = ct.split(';').next().unwrap_or("").trim();
        match ct {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml"
            | "application/apply-patch+json"
            | "application/apply-patch+cbor" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

enum How {
    Update,
    Apply(Managers, bool),
}

impl Store {
    /// POST.
    pub fn create(
        &mut self,
        rt: &Arc<ResourceType>,
        mut body: Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        check_kind(rt, &body)?;
        let md = meta::metadata_mut(&mut body);
        let body_ns = md
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if rt.namespaced {
            if !body_ns.is_empty() && !ctx.namespace.is_empty() && body_ns != ctx.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            md.insert("namespace".into(), json!(ctx.namespace));
        } else {
            md.remove("namespace");
        }
        let mut name = md
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            let generate = md
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if generate.is_empty() {
                return Err(ApiError::invalid(
                    &rt.kind,
                    &rt.group,
                    "",
                    vec![(
                        "FieldValueRequired".into(),
                        "metadata.name".into(),
                        "Required value: name or generateName is required".into(),
                    )],
                ));
            }
            let n = self.next_seq();
            name = format!("{generate}{}", meta::name_suffix(n));
            meta::metadata_mut(&mut body).insert("name".into(), json!(name));
        }
        let ctx = WriteCtx {
            name: name.clone(),
            ..ctx.clone()
        };
        if self.get(rt, &ctx.namespace, &name).is_some() {
            return Err(ApiError::already_exists(&rt.plural, &rt.group, &name));
        }
        self.admit(rt, None, body, How::Update, &ctx)
    }

    /// PUT (main endpoint or a subresource).
    pub fn update(
        &mut self,
        rt: &Arc<ResourceType>,
        body: Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        check_kind(rt, &body)?;
        let body_name = meta::name(&body);
        if !body_name.is_empty() && body_name != ctx.name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({})",
                ctx.name
            )));
        }
        let old = self.get_or_404(rt, &ctx.namespace, &ctx.name)?;
        precondition(rt, &old, &body)?;
        self.admit(rt, Some(old), body, How::Update, ctx)
    }

    /// PATCH of any type; apply creates a missing object.
    pub fn patch(
        &mut self,
        rt: &Arc<ResourceType>,
        kind: PatchType,
        body: &Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        if kind == PatchType::Apply {
            return self.apply(rt, body, ctx);
        }
        if ctx.force {
            return Err(ApiError::bad_request("force is only allowed for apply"));
        }
        let old = self.get_or_404(rt, &ctx.namespace, &ctx.name)?;
        let patched = match kind {
            PatchType::Merge => patch::merge_patch(&old, body),
            PatchType::Json => {
                patch::json_patch(&old, body).map_err(|e| ApiError::new(422, "Invalid", e.0))?
            }
            PatchType::Strategic => {
                if rt.crd.is_some() {
                    return Err(ApiError::unsupported_media(
                        "application/strategic-merge-patch+json",
                    ));
                }
                patch::strategic_merge_patch(&old, body, &rt.schema)
                    .map_err(|e| ApiError::new(422, "Invalid", e.0))?
            }
            PatchType::Apply => unreachable_apply(&old),
        };
        precondition(rt, &old, &patched)?;
        self.admit(rt, Some(old), patched, How::Update, ctx)
    }

    fn apply(
        &mut self,
        rt: &Arc<ResourceType>,
        config: &Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        if ctx.field_manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requests must set the fieldManager parameter",
            ));
        }
        let mut config = config.clone();
        if !config.is_object() {
            return Err(ApiError::bad_request(
                "error decoding YAML: the apply configuration must be an object",
            ));
        }
        check_kind_required(rt, &config)?;
        let cname = meta::name(&config).to_string();
        if cname.is_empty() {
            return Err(ApiError::bad_request(
                "metadata.name: Required value: name is required",
            ));
        }
        if cname != ctx.name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({cname}) does not match the name on the URL ({})",
                ctx.name
            )));
        }
        let cns = meta::namespace(&config).to_string();
        if rt.namespaced && !cns.is_empty() && cns != ctx.namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if config
            .pointer("/metadata/managedFields")
            .is_some_and(|m| !m.is_null())
        {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        let unknown = ssa::typed::unknown_fields(&config, &rt.schema);
        if let Some(first) = unknown.first() {
            let message = format!("{}: field not declared in schema", path_string(first));
            return Err(if ctx.strict {
                ApiError::bad_request(message)
            } else {
                ApiError::internal(format!(
                    "failed to create typed patch object ({}, Kind={}): {message}",
                    if rt.group.is_empty() {
                        format!("/{}", rt.version)
                    } else {
                        format!("{}/{}", rt.group, rt.version)
                    },
                    rt.kind
                ))
            });
        }
        let old = self.get(rt, &ctx.namespace, &ctx.name);
        let key = managed::manager_key(&ctx.field_manager, "Apply", "", &ctx.subresource);
        let version = rt.api_version();
        let decoded = match &old {
            Some(o) => managed::decode(o.pointer("/metadata/managedFields")).map_err(|m| {
                ApiError::bad_request(format!("failed to decode managed fields: {m}"))
            })?,
            None => managed::Decoded::default(),
        };
        let mut times = decoded.times.clone();
        let mut managers = decoded.managers;
        let mut live = old
            .clone()
            .map(|o| smd_view(rt, &o, ctx))
            .unwrap_or_else(|| json!({"apiVersion": version, "kind": rt.kind}));
        strip_nulls(&mut live);
        if let (Some(_), true) = (&old, managers.is_empty()) {
            // Before the first apply, whoever wrote the object owns what it has.
            let bfa = managed::manager_key("before-first-apply", "Update", &version, "");
            let empty = json!({});
            let m = ssa::update(&empty, &live, &rt.schema, &version, Managers::new(), &bfa)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            managers = m;
            if let Some(vs) = managers.get_mut(&bfa) {
                vs.set = restrict(rt, ctx, &managed::strip_meta(&vs.set));
            }
            managers.retain(|_, vs| !vs.set.is_empty());
        }
        // Config as the endpoint takes it.
        if let Some(m) = config.as_object_mut()
            && ctx.subresource.is_empty()
            && rt.status
        {
            m.remove("status");
        }
        let result = ssa::apply(
            &live, &config, &rt.schema, &version, managers, &key, ctx.force,
        );
        let (merged, mut managers) = match result {
            Ok(r) => r,
            Err(ApplyError::Conflicts(cs)) => return Err(conflict_error(&cs)),
            Err(ApplyError::Walk(e)) => {
                return Err(ApiError::new(
                    500,
                    "InternalError",
                    format!(
                        "failed to create typed patch object ({}/{}, Kind={}): {e}",
                        rt.group, rt.version, rt.kind
                    ),
                ));
            }
        };
        let changed = merged.is_some();
        for vs in managers.values_mut() {
            vs.set = managed::strip_meta(&vs.set);
        }
        if let Some(vs) = managers.get_mut(&key) {
            vs.set = restrict(rt, ctx, &vs.set);
        }
        managers.retain(|_, vs| !vs.set.is_empty());
        let mut new = match merged {
            Some(m) => m,
            None => live,
        };
        strip_nulls(&mut new);
        let before = decoded_sets(&old);
        if changed || before.get(&key) != managers.get(&key).map(|v| &v.set) {
            times.insert(key.clone(), meta::now_rfc3339());
        }
        let d = managed::Decoded { managers, times };
        meta::metadata_mut(&mut new).insert("managedFields".into(), managed::encode(&d));
        match old {
            Some(o) => self.admit(rt, Some(o), new, How::Apply(d.managers, changed), ctx),
            None => {
                if rt.namespaced {
                    meta::metadata_mut(&mut new).insert("namespace".into(), json!(ctx.namespace));
                }
                self.admit(rt, None, new, How::Apply(d.managers, changed), ctx)
            }
        }
    }

    /// The admission path every write ends in.
    fn admit(
        &mut self,
        rt: &Arc<ResourceType>,
        old: Option<Value>,
        mut new: Value,
        how: How,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        if let Some(m) = new.as_object_mut() {
            m.insert("apiVersion".into(), json!(rt.api_version()));
            m.insert("kind".into(), json!(rt.kind));
        }
        let now = meta::now_rfc3339();
        // Subresources take only their part.
        if let Some(o) = &old {
            match ctx.subresource.as_str() {
                "status" => {
                    let mut merged = o.clone();
                    let status = new.get("status").cloned();
                    set_or_remove(&mut merged, "status", status);
                    carry_managed(&mut merged, &new);
                    new = merged;
                }
                "finalize" => {
                    let mut merged = o.clone();
                    let fins = new
                        .pointer("/spec/finalizers")
                        .cloned()
                        .unwrap_or(json!([]));
                    if let Some(spec) = merged.get_mut("spec").and_then(Value::as_object_mut) {
                        spec.insert("finalizers".into(), fins);
                    }
                    carry_managed(&mut merged, &new);
                    new = merged;
                }
                _ => {
                    if rt.status {
                        let status = o.get("status").cloned();
                        set_or_remove(&mut new, "status", status);
                    }
                }
            }
        } else if rt.status
            && ctx.subresource.is_empty()
            && let Some(m) = new.as_object_mut()
        {
            m.remove("status");
        }
        // System metadata.
        {
            let md = meta::metadata_mut(&mut new);
            md.remove("selfLink");
            match &old {
                Some(o) => {
                    for f in [
                        "uid",
                        "creationTimestamp",
                        "deletionTimestamp",
                        "deletionGracePeriodSeconds",
                        "generation",
                        "resourceVersion",
                    ] {
                        match o.pointer(&format!("/metadata/{f}")) {
                            Some(v) => {
                                md.insert(f.into(), v.clone());
                            }
                            None => {
                                md.remove(f);
                            }
                        }
                    }
                    md.insert("name".into(), json!(meta::name(o)));
                    if rt.namespaced {
                        md.insert("namespace".into(), json!(meta::namespace(o)));
                    } else {
                        md.remove("namespace");
                    }
                }
                None => {
                    md.insert("uid".into(), json!(""));
                    md.insert("creationTimestamp".into(), json!(now));
                    md.remove("deletionTimestamp");
                    md.remove("deletionGracePeriodSeconds");
                    md.remove("resourceVersion");
                    if rt.generation {
                        md.insert("generation".into(), json!(1));
                    } else {
                        md.remove("generation");
                    }
                }
            }
        }
        if old.is_none() {
            let uid = self.next_uid();
            meta::metadata_mut(&mut new).insert("uid".into(), json!(uid));
        }
        if let How::Update = how {
            let unknown = ssa::typed::unknown_fields(&new, &rt.schema);
            if ctx.strict && !unknown.is_empty() {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|p| {
                        format!(
                            "unknown field {:?}",
                            path_string(p).trim_start_matches('.').to_string()
                        )
                    })
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    list.join(", ")
                )));
            }
            ssa::typed::prune_unknown(&mut new, &rt.schema);
        }
        defaults::apply(rt, &mut new, old.as_ref());
        strip_nulls(&mut new);
        self.validate(rt, old.as_ref(), &new, ctx)?;
        // generation
        if let Some(o) = &old
            && rt.generation
            && spec_changed(o, &new)
        {
            let g = o
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta::metadata_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        // managed fields
        match how {
            How::Apply(managers, changed) => {
                let _ = (managers, changed);
            }
            How::Update => self.track_update(rt, old.as_ref(), &mut new, ctx)?,
        }
        if new
            .pointer("/metadata/managedFields")
            .is_some_and(|m| m.as_array().is_some_and(Vec::is_empty))
        {
            meta::metadata_mut(&mut new).remove("managedFields");
        }
        // A deleting object whose finalizers are gone goes now.
        if let Some(o) = &old
            && meta::is_deleting(o)
        {
            let before = meta::finalizers(o);
            let added: Vec<String> = meta::finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::invalid(
                    &rt.kind,
                    &rt.group,
                    &ctx.name,
                    vec![(
                        "FieldValueForbidden".into(),
                        "metadata.finalizers".into(),
                        format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                            added
                                .iter()
                                .map(|f| format!("{f:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )],
                ));
            }
            if meta::finalizers(&new).is_empty() && !ctx.dry_run {
                self.put(rt, new, EventKind::Modified);
                let gone = self
                    .remove(rt, &ctx.namespace, &ctx.name)
                    .unwrap_or_default();
                self.after_delete(rt, &gone);
                return Ok(gone);
            }
        }
        if let Some(o) = &old {
            let mut a = o.clone();
            let mut b = new.clone();
            meta::metadata_mut(&mut a).remove("resourceVersion");
            meta::metadata_mut(&mut b).remove("resourceVersion");
            if a == b {
                return Ok(o.clone());
            }
        }
        if ctx.dry_run {
            if old.is_none() {
                meta::metadata_mut(&mut new).remove("resourceVersion");
            }
            return Ok(new);
        }
        let kind = if old.is_some() {
            EventKind::Modified
        } else {
            EventKind::Added
        };
        let stored = self.put(rt, new, kind);
        if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
            self.sync_crd(&stored);
        }
        Ok(stored)
    }

    fn track_update(
        &mut self,
        rt: &ResourceType,
        old: Option<&Value>,
        new: &mut Value,
        ctx: &WriteCtx,
    ) -> Result<(), ApiError> {
        let version = rt.api_version();
        let req_mf = new.pointer("/metadata/managedFields").cloned();
        let reset = req_mf
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty));
        let from_request = if reset {
            Some(managed::Decoded::default())
        } else {
            match managed::decode(req_mf.as_ref()) {
                Ok(d) if !d.managers.is_empty() => Some(d),
                Ok(_) => None,
                Err(m) => {
                    return Err(ApiError::invalid(
                        &rt.kind,
                        &rt.group,
                        &ctx.name,
                        vec![(
                            "FieldValueInvalid".into(),
                            "metadata.managedFields".into(),
                            m,
                        )],
                    ));
                }
            }
        };
        let decoded = match from_request {
            Some(d) => d,
            None => match old {
                Some(o) => {
                    managed::decode(o.pointer("/metadata/managedFields")).unwrap_or_default()
                }
                None => managed::Decoded::default(),
            },
        };
        // Objects written without managed fields are not tracked by later updates.
        if old.is_some() && decoded.managers.is_empty() && !reset {
            meta::metadata_mut(new).remove("managedFields");
            return Ok(());
        }
        if reset {
            meta::metadata_mut(new).remove("managedFields");
            return Ok(());
        }
        let mut times = decoded.times;
        let manager = if ctx.field_manager.is_empty() {
            "unknown".to_string()
        } else {
            ctx.field_manager.clone()
        };
        let key = managed::manager_key(&manager, "Update", &version, &ctx.subresource);
        let mut before = old
            .map(|o| smd_view(rt, o, ctx))
            .unwrap_or_else(|| json!({}));
        let mut after = smd_view(rt, new, ctx);
        strip_nulls(&mut before);
        strip_nulls(&mut after);
        let prev = decoded.managers.get(&key).map(|v| v.set.clone());
        let mut managers = ssa::update(
            &before,
            &after,
            &rt.schema,
            &version,
            decoded.managers,
            &key,
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(vs) = managers.get_mut(&key) {
            vs.set = restrict(rt, ctx, &managed::strip_meta(&vs.set));
        }
        managers.retain(|_, vs| !vs.set.is_empty());
        if managers.get(&key).map(|v| &v.set) != prev.as_ref() || before != after {
            times.insert(key, meta::now_rfc3339());
        }
        let d = managed::Decoded { managers, times };
        meta::metadata_mut(new).insert("managedFields".into(), managed::encode(&d));
        Ok(())
    }

    /// Keeps the served kinds of a CRD in step with its Established condition.
    pub fn sync_crd(&mut self, crd: &Value) {
        let name = meta::name(crd).to_string();
        let established = crd
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type") == Some(&json!("Established"))
                        && c.get("status") == Some(&json!("True"))
                })
            });
        if established && !meta::is_deleting(crd) {
            self.registry.set_crd(&name, crd_types(crd));
        } else if meta::is_deleting(crd) {
            // Terminating CRDs keep serving so their instances can be cleaned up.
        } else {
            self.registry.set_crd(&name, Vec::new());
        }
    }

    fn validate(
        &self,
        rt: &ResourceType,
        old: Option<&Value>,
        new: &Value,
        ctx: &WriteCtx,
    ) -> Result<(), ApiError> {
        let name = meta::name(new);
        if old.is_none() {
            if !valid_name(name) {
                return Err(ApiError::invalid(
                    &rt.kind,
                    &rt.group,
                    name,
                    vec![(
                        "FieldValueInvalid".into(),
                        "metadata.name".into(),
                        format!(
                            "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                        ),
                    )],
                ));
            }
            if rt.namespaced {
                match self.namespace_state(&ctx.namespace) {
                    None => return Err(ApiError::not_found("namespaces", "", &ctx.namespace)),
                    Some(true) => {
                        return Err(ApiError::forbidden(format!(
                            "{} {name:?} is forbidden: unable to create new content in namespace {} because it is being terminated",
                            rt.qualified(),
                            ctx.namespace
                        ))
                        .with_details(json!({
                            "name": name,
                            "group": rt.group,
                            "kind": rt.plural,
                            "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {} is being terminated", ctx.namespace), "field": "metadata.namespace"}]
                        })));
                    }
                    Some(false) => {}
                }
            }
        }
        if let Some(o) = old {
            for (path, field) in immutable_fields(rt) {
                if o.pointer(path) != new.pointer(path) {
                    return Err(ApiError::invalid(
                        &rt.kind,
                        &rt.group,
                        name,
                        vec![(
                            "FieldValueInvalid".into(),
                            field.to_string(),
                            "Invalid value: field is immutable".into(),
                        )],
                    ));
                }
            }
            if let Some(msg) = defaults::immutable_message(rt, o, new) {
                return Err(ApiError::invalid(&rt.kind, &rt.group, name, vec![msg]));
            }
        }
        Ok(())
    }
}

fn unreachable_apply(old: &Value) -> Value {
    old.clone()
}

/// The object as server-side apply compares it: no managedFields, and only the part of it the
/// endpoint writes (no status on the main endpoint of a type with a status subresource).
fn smd_view(rt: &ResourceType, obj: &Value, ctx: &WriteCtx) -> Value {
    let mut v = obj.clone();
    meta::metadata_mut(&mut v).remove("managedFields");
    if ctx.subresource.is_empty()
        && rt.status
        && let Some(m) = v.as_object_mut()
    {
        m.remove("status");
    }
    v
}

fn restrict(rt: &ResourceType, ctx: &WriteCtx, set: &ssa::fieldset::Set) -> ssa::fieldset::Set {
    match ctx.subresource.as_str() {
        "" if rt.status => managed::without_top(set, "status"),
        "status" => managed::only_top(set, "status"),
        _ => set.clone(),
    }
}

fn decoded_sets(old: &Option<Value>) -> std::collections::BTreeMap<String, ssa::fieldset::Set> {
    old.as_ref()
        .and_then(|o| managed::decode(o.pointer("/metadata/managedFields")).ok())
        .map(|d| d.managers.into_iter().map(|(k, v)| (k, v.set)).collect())
        .unwrap_or_default()
}

fn carry_managed(target: &mut Value, from: &Value) {
    match from.pointer("/metadata/managedFields") {
        Some(mf) => {
            meta::metadata_mut(target).insert("managedFields".into(), mf.clone());
        }
        None => {
            meta::metadata_mut(target).remove("managedFields");
        }
    }
}

fn set_or_remove(obj: &mut Value, field: &str, value: Option<Value>) {
    if let Some(m) = obj.as_object_mut() {
        match value {
            Some(v) => {
                m.insert(field.into(), v);
            }
            None => {
                m.remove(field);
            }
        }
    }
}

/// Whether anything outside metadata and status changed.
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

fn check_kind(rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    }
    let av = meta::str_at(body, "/apiVersion");
    let kind = meta::str_at(body, "/kind");
    if !av.is_empty() && av != rt.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    if !kind.is_empty() && kind != rt.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    Ok(())
}

fn check_kind_required(rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
    if meta::str_at(body, "/apiVersion").is_empty() || meta::str_at(body, "/kind").is_empty() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in apply configuration",
        ));
    }
    check_kind(rt, body)
}

fn precondition(rt: &ResourceType, old: &Value, new: &Value) -> Result<(), ApiError> {
    let want = meta::str_at(new, "/metadata/resourceVersion");
    if !want.is_empty() && want != meta::str_at(old, "/metadata/resourceVersion") {
        return Err(ApiError::stale(&rt.plural, &rt.group, meta::name(old)));
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn immutable_fields(rt: &ResourceType) -> &'static [(&'static str, &'static str)] {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "DaemonSet")
        | ("apps", "StatefulSet") => &[("/spec/selector", "spec.selector")],
        ("batch", "Job") => &[
            ("/spec/selector", "spec.selector"),
            ("/spec/template", "spec.template"),
            ("/spec/completionMode", "spec.completionMode"),
        ],
        ("", "Secret") | ("", "ConfigMap") => &[],
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => &[("/roleRef", "roleRef")],
        ("", "PersistentVolumeClaim") => &[("/spec/storageClassName", "spec.storageClassName")],
        ("storage.k8s.io", "StorageClass") => &[
            ("/provisioner", "provisioner"),
            ("/parameters", "parameters"),
        ],
        _ => &[],
    }
}

/// The 409 of an apply that conflicts, worded as the real server words it.
fn conflict_error(conflicts: &[ssa::Conflict]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", managed::describe_manager(&c.manager)),
                "field": path_string(&c.path),
            })
        })
        .collect();
    let message = if conflicts.len() == 1 {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            managed::describe_manager(&conflicts[0].manager),
            path_string(&conflicts[0].path)
        )
    } else {
        let mut by: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for c in conflicts {
            by.entry(managed::describe_manager(&c.manager))
                .or_default()
                .push(path_string(&c.path));
        }
        let mut lines = Vec::new();
        for (m, paths) in by {
            lines.push(format!("conflicts with {m}:"));
            for p in paths {
                lines.push(format!("- {p}"));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError::new(409, "Conflict", message).with_details(json!({"causes": causes}))
}
