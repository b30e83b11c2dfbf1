//! The network found unreachable, said once per run: when a fetch finds no network, every
//! later chart fetch of the run fails at once with the same cause. Each release then says only
//! that its chart was not fetched for want of a network, and the build report carries one
//! [`NetworkOutage`] naming the host, the cause and every release affected (and one
//! `flux/network-unreachable` diagnostic with the same text).

use capstan_core::network::Unreachable;
use capstan_core::{Diagnostic, Severity};

use super::{BuildReport, Reason};
use crate::model::ObjectKey;

/// How many affected objects the summary names before counting the rest.
const NAMED: usize = 10;

/// The run's network outage and what it kept from rendering.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetworkOutage {
    /// The first failure that showed the network unreachable.
    #[serde(serialize_with = "serialize_cause")]
    pub cause: Unreachable,
    /// The HelmReleases whose charts were not fetched because of it, in report order.
    pub affected: Vec<ObjectKey>,
}

fn serialize_cause<S: serde::Serializer>(cause: &Unreachable, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut state = s.serialize_struct("Unreachable", 2)?;
    state.serialize_field("host", &cause.host)?;
    state.serialize_field("reason", &cause.reason)?;
    state.end()
}

impl std::fmt::Display for NetworkOutage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "network unreachable: {}: {}; no further fetches were tried in this run",
            self.cause.host, self.cause.reason
        )?;
        if !self.affected.is_empty() {
            let named: Vec<String> = self
                .affected
                .iter()
                .take(NAMED)
                .map(|k| format!("{}/{}", k.namespace, k.name))
                .collect();
            write!(
                f,
                "; charts not fetched for {} HelmRelease{}: {}",
                self.affected.len(),
                if self.affected.len() == 1 { "" } else { "s" },
                named.join(", ")
            )?;
            if self.affected.len() > NAMED {
                write!(f, " and {} more", self.affected.len() - NAMED)?;
            }
        }
        write!(f, " (--offline reads the chart cache only)")
    }
}

/// The short message of a release whose chart was not fetched for want of a network.
pub fn short_message(key: &ObjectKey) -> String {
    format!("{key}: chart not fetched: the network is unreachable (reported once for the run)")
}

/// With `cause` set (the run found no network), shortens the message of each release whose
/// chart was not fetched, records the outage on the report and adds one diagnostic.
pub fn summarize(report: &mut BuildReport, cause: Option<Unreachable>) {
    let Some(cause) = cause else {
        return;
    };
    let mut affected = Vec::new();
    for result in &mut report.helm_releases {
        let unreachable = result
            .reasons
            .iter()
            .position(|r| matches!(r, Reason::ChartUnreachable { .. }));
        let Some(index) = unreachable else {
            continue;
        };
        if let Some(message) = result.errors.get_mut(index) {
            *message = short_message(&result.key);
        } else if result.errors.len() == 1 {
            result.errors[0] = short_message(&result.key);
        }
        affected.push(result.key.clone());
    }
    let outage = NetworkOutage { cause, affected };
    report.diagnostics.push(Diagnostic::new(
        "flux/network-unreachable",
        Severity::Warning,
        outage.to_string(),
    ));
    report.network = Some(outage);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildResult, Status};
    use crate::model::FluxKind;

    fn failed(name: &str, reason: Reason) -> BuildResult {
        let mut result = BuildResult::new(
            ObjectKey::new(FluxKind::HelmRelease, "apps", name),
            ".",
            None,
        );
        result.status = Status::Failed;
        result.reasons.push(reason);
        result.errors.push(format!(
            "HelmRelease/apps/{name}: registry unreachable at https://ghcr.io/…: network unreachable: ghcr.io: dns"
        ));
        result
    }

    #[test]
    fn the_cause_is_said_once_with_the_releases_it_affected() {
        let mut report = BuildReport::default();
        for name in ["a", "b"] {
            report.helm_releases.push(failed(
                name,
                Reason::ChartUnreachable {
                    chart: "x".to_owned(),
                },
            ));
        }
        report.helm_releases.push(failed("c", Reason::Chart));
        let cause = Unreachable {
            host: "ghcr.io".to_owned(),
            reason: "dns".to_owned(),
        };
        summarize(&mut report, Some(cause));
        let outage = report.network.as_ref().expect("an outage");
        assert_eq!(outage.affected.len(), 2);
        let text = outage.to_string();
        assert!(
            text.starts_with("network unreachable: ghcr.io: dns")
                && text.contains("2 HelmReleases: apps/a, apps/b"),
            "{text}"
        );
        let messages: Vec<&String> = report
            .helm_releases
            .iter()
            .flat_map(|r| &r.errors)
            .filter(|m| m.contains("ghcr.io"))
            .collect();
        assert_eq!(
            messages.len(),
            1,
            "only the unrelated failure keeps its text"
        );
        assert_eq!(
            report
                .diagnostics
                .iter()
                .filter(|d| d.code == "flux/network-unreachable")
                .count(),
            1
        );
    }

    #[test]
    fn nothing_is_said_when_the_network_was_there() {
        let mut report = BuildReport::default();
        report.helm_releases.push(failed("a", Reason::Chart));
        summarize(&mut report, None);
        assert!(report.network.is_none() && report.diagnostics.is_empty());
    }
}
