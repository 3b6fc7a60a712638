//! The CEL fields every reconciler that has them reads the same way: `spec.healthCheckExprs`
//! (compiled into [`ferroflux_ssa::health::CustomCheck`]s) and `spec.dependsOn[].readyExpr`.
//! They are compiled when the reconcile starts, so an expression that does not parse stalls the
//! object (`InvalidCELExpression`, Flux's reason) naming its field, before anything is applied.

use ferroflux_api::kustomize::{CustomHealthCheck, DependencyReference};
use ferroflux_cel::Expression;
use ferroflux_ssa::health::CustomCheck;

use crate::error::ReconcileError;
use crate::scrub::Scrubbed;

/// The reason of an expression that does not parse, as Flux's.
pub const INVALID_CEL_EXPRESSION: &str = "InvalidCELExpression";

fn stalled(e: &ferroflux_cel::Error) -> ReconcileError {
    ReconcileError::stalled(INVALID_CEL_EXPRESSION, Scrubbed::new(&e.to_string()))
}

/// `spec.healthCheckExprs`, compiled.
///
/// # Errors
/// A stalled `InvalidCELExpression` naming the first expression that does not parse.
pub fn health_checks(exprs: &[CustomHealthCheck]) -> Result<Vec<CustomCheck>, ReconcileError> {
    exprs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            CustomCheck::compile(
                "spec.healthCheckExprs",
                i,
                &c.api_version,
                c.kind.as_deref(),
                &c.current,
                c.in_progress.as_deref(),
                c.failed.as_deref(),
            )
        })
        .collect::<Result<_, _>>()
        .map_err(|e| stalled(&e))
}

/// `spec.dependsOn[].readyExpr`, compiled, one per entry (`None` where there is none).
///
/// # Errors
/// A stalled `InvalidCELExpression` naming the first that does not parse.
pub fn ready_expressions(
    depends_on: &[DependencyReference],
) -> Result<Vec<Option<Expression>>, ReconcileError> {
    depends_on
        .iter()
        .enumerate()
        .map(|(i, d)| {
            d.ready_expr
                .as_deref()
                .filter(|e| !e.trim().is_empty())
                .map(|e| Expression::compile(&format!("spec.dependsOn[{i}].readyExpr"), e))
                .transpose()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| stalled(&e))
}

/// Whether the dependency `dep` is ready by `expression`, with `self` the object being
/// reconciled: `Err` with why not (false, or the evaluation's error).
///
/// # Errors
/// The text for the `DependencyNotReady` message.
pub fn dependency_ready(
    expression: &Expression,
    this: &impl serde::Serialize,
    dep: &impl serde::Serialize,
) -> Result<(), String> {
    let this = serde_json::to_value(this).unwrap_or_default();
    let dep = serde_json::to_value(dep).unwrap_or_default();
    match expression.evaluate_bool(&[("self", &this), ("dep", &dep)]) {
        Ok(true) => Ok(()),
        Ok(false) => Err("is not ready according to its readyExpr".to_owned()),
        Err(e) => Err(format!("is not ready: {e}")),
    }
}
