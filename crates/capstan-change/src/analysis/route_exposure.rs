//! `route-exposure`: an Ingress or Gateway API route loses a host name (the site stops answering
//! on it) or an Ingress loses TLS for a host (served without its certificate).

use std::collections::BTreeSet;

use capstan_core::Value;

use super::{Analysis, AnalysisMeta, Category, Context, Hit};
use crate::diff::ObjectChange;
use crate::plan::Risk;

pub struct RouteExposure;

static META: AnalysisMeta = AnalysisMeta {
    id: "route-exposure",
    category: Category::TakesDown,
    risk: Risk::High,
    summary: "An Ingress or route loses a host name or its TLS.",
};

fn strings<'a>(v: Option<&'a Value>, key: Option<&str>) -> BTreeSet<&'a str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| match key {
            Some(k) => e.get(k).and_then(Value::as_str),
            None => e.as_str(),
        })
        .collect()
}

fn tls_hosts(v: &Value) -> BTreeSet<&str> {
    v.pointer("/spec/tls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|t| strings(t.get("hosts"), None))
        .collect()
}

impl Analysis for RouteExposure {
    fn meta(&self) -> &'static AnalysisMeta {
        &META
    }

    fn run(&self, cx: &Context<'_>, out: &mut Vec<Hit>) {
        for (group, object) in cx.objects() {
            if object.change != ObjectChange::Changed {
                continue;
            }
            let (Some(before), Some(after)) = (&object.before, &object.after) else {
                continue;
            };
            let (hosts_field, hosts): (&str, fn(&Value) -> BTreeSet<&str>) =
                match (object.id.group.as_str(), object.id.kind.as_str()) {
                    ("networking.k8s.io", "Ingress") => ("spec.rules", |v| {
                        strings(v.pointer("/spec/rules"), Some("host"))
                    }),
                    ("gateway.networking.k8s.io", "HTTPRoute" | "GRPCRoute" | "TLSRoute") => {
                        ("spec.hostnames", |v| {
                            strings(v.pointer("/spec/hostnames"), None)
                        })
                    }
                    _ => continue,
                };
            let now = hosts(after);
            for host in hosts(before).difference(&now) {
                out.push(Hit::on(group, object, hosts_field).reason(format!(
                    "host {host} is no longer routed: it stops answering when Flux applies the change"
                )));
            }
            if object.id.kind == "Ingress" {
                let tls = tls_hosts(after);
                for host in tls_hosts(before).difference(&tls) {
                    if now.contains(host) {
                        out.push(Hit::on(group, object, "spec.tls").reason(format!(
                            "host {host} loses TLS: it is served without its certificate"
                        )));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
super::testing::fixture_test!(super::RouteExposure, "route-exposure");
