//! `ingress-host-tls`: Ingress hosts follow the domain schema `<app>.<domain>` and are served
//! over TLS with a certificate from a cert-manager issuer.

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta, annotation, each_object, kind_of};
use crate::config::RuleConfig;
use crate::input::CheckInput;

pub struct IngressHostTls;

static META: RuleMeta = RuleMeta {
    id: "ingress-host-tls",
    severity: Severity::Warning,
    summary: "Ingress hosts are `<app>.<domain>` and use TLS with a cert-manager issuer.",
    why: "One naming schema makes every service findable and lets one wildcard record and certificate policy \
          cover them; TLS from cert-manager means certificates renew themselves instead of expiring in production.",
    example: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: grafana\nspec:\n  rules:\n  - host: grafana.other.org\n",
    fix: "Use `host: grafana.<domain>`, add `tls: [{hosts: [grafana.<domain>], secretName: grafana-tls}]` and the \
          annotation `cert-manager.io/cluster-issuer: <issuer>`.",
    options: "`domain: example.com` sets the domain hosts must be under (without it only TLS is checked).",
};

fn covers(tls_host: &str, host: &str) -> bool {
    match tls_host.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
        None => tls_host == host,
    }
}

impl Rule for IngressHostTls {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, config: &RuleConfig, out: &mut Vec<Hit>) {
        let domain = config
            .string("domain")
            .map(|d| d.trim_start_matches('.').to_owned());
        each_object(input, |u, o, _, rendered| {
            let object = &rendered.object;
            if kind_of(object) != "Ingress" {
                return;
            }
            let tls_hosts: Vec<&str> = object
                .pointer("/spec/tls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|t| {
                    t.get("hosts")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                .filter_map(Value::as_str)
                .collect();
            let mut any_host = false;
            for (i, rule) in object
                .pointer("/spec/rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some(host) = rule.get("host").and_then(Value::as_str) else {
                    continue;
                };
                any_host = true;
                let field = format!("spec.rules[{i}].host");
                if let Some(domain) = &domain {
                    let ok = host
                        .strip_suffix(domain.as_str())
                        .and_then(|p| p.strip_suffix('.'))
                        .is_some_and(|app| !app.is_empty() && !app.contains('.'));
                    if !ok {
                        out.push(
                            Hit::object(
                                u,
                                o,
                                format!("host \"{host}\" does not follow <app>.{domain}"),
                            )
                            .field(field.clone()),
                        );
                    }
                }
                if !tls_hosts.iter().any(|t| covers(t, host)) {
                    out.push(
                        Hit::object(u, o, format!("host \"{host}\" is not covered by spec.tls"))
                            .field(field),
                    );
                }
            }
            let issuer = annotation(object, "cert-manager.io/cluster-issuer")
                .or_else(|| annotation(object, "cert-manager.io/issuer"));
            if any_host && issuer.is_none() {
                out.push(Hit::object(u, o, "Ingress names no cert-manager issuer (cert-manager.io/cluster-issuer or cert-manager.io/issuer)").field("metadata.annotations"));
            }
        });
    }
}
