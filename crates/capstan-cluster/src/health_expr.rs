//! `spec.healthCheckExprs`: CEL expressions that decide the health of custom kinds, as Flux's
//! status evaluator does. Entries match on the apiVersion's group and, when given, the kind (the
//! more specific entry wins). An integer observedGeneration that differs from generation is
//! InProgress first; then `inProgress`, `failed` and `current` are tried in that order and the
//! first true one decides; none true is InProgress.

use serde_json::Value;

use crate::kstatus::{Health, Status};

/// One compiled `healthCheckExprs` entry.
pub struct HealthExpr {
    pub api_version: String,
    pub kind: Option<String>,
    current: Option<cel::Program>,
    in_progress: Option<cel::Program>,
    failed: Option<cel::Program>,
}

/// An expression that does not compile (Flux makes the Kustomization Stalled).
#[derive(Debug, thiserror::Error)]
#[error("healthCheckExprs[{index}].{field}: invalid CEL expression: {message}")]
pub struct ExprError {
    pub index: usize,
    pub field: &'static str,
    pub message: String,
}

impl HealthExpr {
    /// Compiles the entries of `spec.healthCheckExprs`.
    pub fn compile_all(entries: &[Value]) -> Result<Vec<HealthExpr>, ExprError> {
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
                let program = |field: &'static str| -> Result<Option<cel::Program>, ExprError> {
                    match text(field) {
                        None => Ok(None),
                        Some(source) => {
                            cel::Program::compile(&source)
                                .map(Some)
                                .map_err(|e| ExprError {
                                    index,
                                    field,
                                    message: e.to_string(),
                                })
                        }
                    }
                };
                Ok(HealthExpr {
                    api_version: text("apiVersion").unwrap_or_default(),
                    kind: text("kind"),
                    current: program("current")?,
                    in_progress: program("inProgress")?,
                    failed: program("failed")?,
                })
            })
            .collect()
    }

    fn group(&self) -> &str {
        crate::id::split_api_version(&self.api_version).0
    }
}

/// The entry that applies to an object, the kind-specific one first.
pub fn matching<'a>(exprs: &'a [HealthExpr], group: &str, kind: &str) -> Option<&'a HealthExpr> {
    exprs
        .iter()
        .filter(|e| e.group() == group)
        .find(|e| e.kind.as_deref() == Some(kind))
        .or_else(|| {
            exprs
                .iter()
                .filter(|e| e.group() == group)
                .find(|e| e.kind.is_none())
        })
}

/// Evaluates an entry against a live object.
pub fn evaluate(expr: &HealthExpr, object: &Value) -> Status {
    let status = |health, message: String| Status { health, message };
    if let (Some(observed), Some(generation)) = (
        object
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64),
        object
            .pointer("/metadata/generation")
            .and_then(Value::as_i64),
    ) && observed != generation
    {
        return status(
            Health::InProgress,
            "observedGeneration is not generation".into(),
        );
    }
    let mut context = cel::Context::default();
    if context.add_variable("self", object.clone()).is_err() {
        return status(
            Health::InProgress,
            "object could not be handed to CEL".into(),
        );
    }
    for (program, health, name) in [
        (&expr.in_progress, Health::InProgress, "inProgress"),
        (&expr.failed, Health::Failed, "failed"),
        (&expr.current, Health::Current, "current"),
    ] {
        let Some(program) = program else { continue };
        match program.execute(&context) {
            Ok(cel::Value::Bool(true)) => {
                return status(health, format!("{name} expression is true"));
            }
            Ok(_) => {}
            Err(e) => return status(Health::InProgress, format!("{name} expression failed: {e}")),
        }
    }
    status(Health::InProgress, "no expression is true yet".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_true_expression_decides() {
        let exprs = HealthExpr::compile_all(&[
            json!({"apiVersion":"example.com/v1","current":"self.status.phase == 'Ready'","failed":"self.status.phase == 'Broken'"}),
            json!({"apiVersion":"example.com/v1","kind":"Special","current":"true"}),
        ])
        .expect("compiles");
        let e = matching(&exprs, "example.com", "Widget").expect("group entry");
        assert_eq!(
            evaluate(e, &json!({"status":{"phase":"Ready"}})).health,
            Health::Current
        );
        assert_eq!(
            evaluate(e, &json!({"status":{"phase":"Broken"}})).health,
            Health::Failed
        );
        assert_eq!(
            evaluate(e, &json!({"status":{"phase":"Other"}})).health,
            Health::InProgress
        );
        assert_eq!(evaluate(e, &json!({"metadata":{"generation":2},"status":{"observedGeneration":1,"phase":"Ready"}})).health, Health::InProgress);
        let special = matching(&exprs, "example.com", "Special").expect("kind entry");
        assert!(special.kind.is_some());
        assert!(matching(&exprs, "other.io", "Widget").is_none());
        let bad = HealthExpr::compile_all(&[json!({"apiVersion":"x/v1","current":"self.("})]);
        assert!(matches!(
            bad,
            Err(ExprError {
                index: 0,
                field: "current",
                ..
            })
        ));
    }
}
