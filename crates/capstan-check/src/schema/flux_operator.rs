//! The Flux CRD enum widenings the Flux Operator applies when it installs Flux.
//!
//! The operator patches notification-controller's CRDs so Flux can alert on, and receive
//! webhooks for, its own kinds: every served version of `alerts.notification.toolkit.fluxcd.io`
//! accepts `FluxInstance`, `ResourceSet` and `ResourceSetInputProvider` in
//! `spec.eventSources[].kind`, and `receivers.notification.toolkit.fluxcd.io` the same in
//! `spec.resources[].kind` (the operator's `notificationPatchTmpl`, applied for Flux 2.2 on).
//! A repository run by the operator is validated against the widened schemas; one installed by
//! `flux bootstrap` keeps Flux's own.

use capstan_core::Value;

/// The notification group whose CRDs the operator patches.
pub const NOTIFICATION_GROUP: &str = "notification.toolkit.fluxcd.io";

/// The kinds the operator adds to the enums.
pub const OPERATOR_KINDS: [&str; 3] = ["FluxInstance", "ResourceSet", "ResourceSetInputProvider"];

/// The schema path of the widened enum for a notification kind; `None` for kinds not patched.
pub fn widened_field(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Alert" => Some(&[
            "properties",
            "spec",
            "properties",
            "eventSources",
            "items",
            "properties",
            "kind",
        ]),
        "Receiver" => Some(&[
            "properties",
            "spec",
            "properties",
            "resources",
            "items",
            "properties",
            "kind",
        ]),
        _ => None,
    }
}

/// `schema` (one version's `openAPIV3Schema` of `kind`) with the operator's kinds added to the
/// enum it patches; `None` when the kind is not patched or the schema has no such enum.
pub fn widen(kind: &str, schema: &Value) -> Option<Value> {
    let path = widened_field(kind)?;
    let mut schema = schema.clone();
    let mut node = &mut schema;
    for step in path {
        node = node.get_mut(*step)?;
    }
    let values = node.get_mut("enum")?.as_array_mut()?;
    for kind in OPERATOR_KINDS {
        if !values.iter().any(|v| v.as_str() == Some(kind)) {
            values.push(Value::String(kind.to_owned()));
        }
    }
    Some(schema)
}

/// True when a rendered object shows the repository runs the Flux Operator: a `FluxInstance`
/// (or any other `fluxcd.controlplane.io` object), or a HelmRelease of the `flux-instance` chart.
pub fn runs_flux_operator(object: &Value) -> bool {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    api_version.starts_with("fluxcd.controlplane.io/")
        || capstan_flux::operator::fluxinstance::is_flux_instance_release(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert_schema() -> Value {
        json!({"properties": {"spec": {"properties": {"eventSources": {"items": {"properties": {
            "kind": {"type": "string", "enum": ["Kustomization", "HelmRelease"]}}}}}}}})
    }

    #[test]
    fn alert_event_sources_take_the_operator_kinds() {
        let widened = widen("Alert", &alert_schema()).expect("patched");
        let values = widened
            .pointer("/properties/spec/properties/eventSources/items/properties/kind/enum")
            .cloned();
        assert_eq!(
            values,
            Some(json!([
                "Kustomization",
                "HelmRelease",
                "FluxInstance",
                "ResourceSet",
                "ResourceSetInputProvider"
            ]))
        );
    }

    #[test]
    fn other_kinds_and_schemas_without_the_enum_are_left_alone() {
        assert_eq!(widen("Provider", &alert_schema()), None);
        assert_eq!(widen("Receiver", &alert_schema()), None);
    }

    #[test]
    fn operator_objects_and_the_flux_instance_chart_mark_the_repository() {
        assert!(runs_flux_operator(&json!({
            "apiVersion": "fluxcd.controlplane.io/v1", "kind": "FluxInstance"})));
        assert!(runs_flux_operator(&json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "flux-instance"}}})));
        assert!(!runs_flux_operator(&json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization"})));
    }
}
