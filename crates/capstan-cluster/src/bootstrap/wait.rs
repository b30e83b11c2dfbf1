//! The wait step and every other step's health gate: named objects Current by kstatus, CEL
//! expressions true with `self` bound to an object, polled until all hold or the step's timeout
//! passes. [`check`] is one look (what `status` shows); [`until_healthy`] polls.

use std::time::{Duration, Instant};

use capstan_flux::bootstrap::{CelGate, ObjectRef as PlanRef, WaitStep};
use serde_json::json;

use super::StepError;
use crate::cluster::Cluster;
use crate::health_expr::{self, HealthExpr};
use crate::id::{ObjectRef, split_api_version};
use crate::kstatus::{self, Health};

/// One gate's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Gate {
    /// `Kind namespace/name`, or what the gate is about.
    pub object: String,
    pub healthy: bool,
    pub message: String,
}

impl Gate {
    pub fn ok(object: impl Into<String>, message: impl Into<String>) -> Gate {
        Gate {
            object: object.into(),
            healthy: true,
            message: message.into(),
        }
    }

    pub fn failing(object: impl Into<String>, message: impl Into<String>) -> Gate {
        Gate {
            object: object.into(),
            healthy: false,
            message: message.into(),
        }
    }
}

/// The reference of a plan's object.
pub fn object_ref(r: &PlanRef) -> ObjectRef {
    let (group, version) = split_api_version(&r.api_version);
    ObjectRef {
        group: group.into(),
        version: version.into(),
        kind: r.kind.clone(),
        namespace: r.namespace.clone().unwrap_or_default(),
        name: r.name.clone(),
    }
}

/// kstatus of one object.
pub async fn kstatus_gate<C: Cluster>(cluster: &C, r: &ObjectRef) -> Gate {
    match cluster.get(r).await {
        Ok(Some(object)) => {
            let status = kstatus::compute(&object);
            Gate {
                object: r.to_string(),
                healthy: status.health == Health::Current,
                message: format!("{:?}: {}", status.health, status.message),
            }
        }
        Ok(None) => Gate::failing(r.to_string(), "not found"),
        Err(e) => Gate::failing(r.to_string(), e.to_string()),
    }
}

async fn cel_gate<C: Cluster>(cluster: &C, gate: &CelGate) -> Gate {
    let r = object_ref(&gate.object);
    let shown = format!("{r} ({})", gate.expression);
    let compiled = HealthExpr::compile_all(&[json!({
        "apiVersion": gate.object.api_version,
        "kind": gate.object.kind,
        "current": gate.expression,
    })]);
    let expr = match compiled {
        Ok(mut e) if !e.is_empty() => e.remove(0),
        Ok(_) => return Gate::failing(shown, "no expression"),
        Err(e) => return Gate::failing(shown, e.to_string()),
    };
    match cluster.get(&r).await {
        Ok(Some(object)) => {
            let status = health_expr::evaluate(&expr, &object);
            Gate {
                object: shown,
                healthy: status.health == Health::Current,
                message: if status.health == Health::Current {
                    "true".into()
                } else {
                    status.message
                },
            }
        }
        Ok(None) => Gate::failing(shown, "not found"),
        Err(e) => Gate::failing(shown, e.to_string()),
    }
}

/// One look at a wait step's gates.
pub async fn check<C: Cluster>(cluster: &C, wait: &WaitStep) -> Vec<Gate> {
    let mut gates = Vec::new();
    for r in &wait.objects {
        gates.push(kstatus_gate(cluster, &object_ref(r)).await);
    }
    for gate in &wait.cel {
        gates.push(cel_gate(cluster, gate).await);
    }
    gates
}

/// Polls `look` until every gate holds, or fails with the ones still pending at `timeout`.
pub async fn until_healthy<F, Fut>(
    timeout: Duration,
    poll: Duration,
    mut look: F,
) -> Result<Vec<Gate>, StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<Gate>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let gates = look().await;
        if gates.iter().all(|g| g.healthy) {
            return Ok(gates);
        }
        if Instant::now() >= deadline {
            let pending: Vec<String> = gates
                .iter()
                .filter(|g| !g.healthy)
                .map(|g| format!("{} ({})", g.object, g.message))
                .collect();
            return Err(StepError::Timeout {
                seconds: timeout.as_secs(),
                pending: pending.join(", "),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// The wait step: its gates polled until they hold.
pub async fn run<C: Cluster>(
    cluster: &C,
    wait: &WaitStep,
    timeout: Duration,
    poll: Duration,
) -> Result<String, StepError> {
    let gates = until_healthy(timeout, poll, || check(cluster, wait)).await?;
    Ok(format!("{} gate(s) green", gates.len()))
}
