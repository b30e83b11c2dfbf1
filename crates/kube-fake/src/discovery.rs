//! Discovery documents: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/<group>[/<version>]`, and
//! the aggregated documents (`apidiscovery.k8s.io/v2`) kubectl asks for first. Custom kinds
//! appear once their CRD is Established.

use serde_json::{Value, json};

use crate::registry::{Registry, ResourceType};

/// The content type of aggregated discovery responses.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the Accept header asks for aggregated discovery.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.contains("as=APIGroupDiscoveryList") && accept.contains("v=v2")
}

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-kube-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions(addr: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}],
    })
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or(json!({}));
    json!({"name": name, "versions": vs, "preferredVersion": preferred})
}

pub fn group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_doc(&g, &vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(reg: &Registry, name: &str) -> Option<Value> {
    let (_, vs) = reg.groups().into_iter().find(|(g, _)| g == name)?;
    let mut doc = group_doc(name, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn verbs(_t: &ResourceType) -> Vec<&'static str> {
    vec![
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
}

pub fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&std::sync::Arc<ResourceType>> = reg
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for t in types {
        let mut r = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": verbs(t),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        let cats = categories(t);
        if !cats.is_empty() {
            r["categories"] = json!(cats);
        }
        resources.push(r);
        if t.status {
            resources.push(json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}));
        }
        if t.scale {
            resources.push(json!({"name": format!("{}/scale", t.plural), "singularName": "", "namespaced": t.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
        if t.group.is_empty() && t.kind == "Namespace" {
            resources.push(json!({"name": "namespaces/finalize", "singularName": "", "namespaced": false, "kind": "Namespace", "verbs": ["update"]}));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn categories(t: &ResourceType) -> Vec<String> {
    if !t.categories.is_empty() {
        return t.categories.clone();
    }
    let all = matches!(
        (t.group.as_str(), t.kind.as_str()),
        ("", "Pod")
            | ("", "Service")
            | ("", "ReplicationController")
            | ("apps", "Deployment")
            | ("apps", "StatefulSet")
            | ("apps", "DaemonSet")
            | ("apps", "ReplicaSet")
            | ("batch", "Job")
            | ("batch", "CronJob")
            | ("autoscaling", "HorizontalPodAutoscaler")
    );
    if all {
        vec!["all".to_string()]
    } else {
        Vec::new()
    }
}

/// The aggregated document for the core group (`core = true`) or every named group.
pub fn aggregated(reg: &Registry, core: bool) -> Value {
    let mut items = Vec::new();
    for (g, vs) in reg.groups() {
        if g.is_empty() != core {
            continue;
        }
        let mut versions = Vec::new();
        for v in &vs {
            let mut resources = Vec::new();
            for t in reg.all().iter().filter(|t| t.group == g && &t.version == v) {
                let kind = json!({"group": t.group, "version": t.version, "kind": t.kind});
                let mut subs = Vec::new();
                if t.status {
                    subs.push(json!({"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}));
                }
                if t.scale {
                    subs.push(json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]}));
                }
                let mut r = json!({
                    "resource": t.plural,
                    "responseKind": kind,
                    "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                    "singularResource": t.singular,
                    "verbs": verbs(t),
                });
                if !t.short_names.is_empty() {
                    r["shortNames"] = json!(t.short_names);
                }
                let cats = categories(t);
                if !cats.is_empty() {
                    r["categories"] = json!(cats);
                }
                if !subs.is_empty() {
                    r["subresources"] = json!(subs);
                }
                resources.push(r);
            }
            versions.push(json!({"version": v, "resources": resources, "freshness": "Current"}));
        }
        items.push(
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions}),
        );
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

/// `/openapi/v3`: one entry per group/version, keyed by `api/v1` or `apis/<group>/<version>`.
pub fn openapi_v3_index(reg: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, vs) in reg.groups() {
        for v in vs {
            let key = if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{g}/{v}")
            };
            let hash = openapi_hash(reg, &g, &v);
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
            );
        }
    }
    json!({"paths": paths})
}

fn openapi_hash(reg: &Registry, group: &str, version: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for t in reg
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        h.update(t.plural.as_bytes());
        h.update(t.kind.as_bytes());
        if let Some(schema) = &t.openapi {
            h.update(schema.to_string().as_bytes());
        }
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// `/openapi/v3/<group-version>`: a document with each resource's PATCH operation, tagged with
/// its kind and declaring the `fieldValidation` parameter, so kubectl and helm leave validation
/// to the server (which validates strictly when asked), and the field schemas of its kinds
/// ([`crate::openapi`]) for `kubectl explain`.
pub fn openapi_v3_doc(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&std::sync::Arc<ResourceType>> = reg
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = serde_json::Map::new();
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": true});
    for t in types {
        let path = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        paths.insert(
            path,
            json!({
                "patch": {
                    "operationId": format!("patch{}", t.kind),
                    "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                }
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": crate::openapi::schemas(reg, group, version)},
    }))
}
