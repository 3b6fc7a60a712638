//! The expressions Flux's documentation and its CEL cheatsheet use, over real-shaped objects.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use ferroflux_cel::{Error, Expression};
use serde_json::json;

fn certificate(ready: &str, generation: i64, observed: i64) -> serde_json::Value {
    json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "app", "generation": generation},
        "spec": {"secretName": "app-tls"},
        "status": {"conditions": [
            {"type": "Ready", "status": ready, "observedGeneration": observed},
        ]},
    })
}

#[test]
fn health_expressions_see_the_object_fields_as_variables() {
    let current = Expression::compile(
        "spec.healthCheckExprs[0].current",
        "status.conditions.filter(e, e.type == 'Ready').all(e, e.observedGeneration == metadata.generation && e.status == 'True')",
    )
    .unwrap();
    assert!(
        current
            .evaluate_on_object(&certificate("True", 2, 2))
            .unwrap()
    );
    assert!(
        !current
            .evaluate_on_object(&certificate("True", 3, 2))
            .unwrap()
    );
    assert!(
        !current
            .evaluate_on_object(&certificate("False", 2, 2))
            .unwrap()
    );
}

#[test]
fn optional_syntax_guards_missing_fields_and_a_bare_reference_fails() {
    let guarded = Expression::compile(
        "current",
        "status.?conditions.orValue([]).exists(e, e.type == 'Ready' && e.status == 'True')",
    )
    .unwrap();
    let fresh = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}, "status": {}});
    assert!(!guarded.evaluate_on_object(&fresh).unwrap());
    let bare =
        Expression::compile("current", "status.conditions.exists(e, e.status == 'True')").unwrap();
    let err = bare.evaluate_on_object(&fresh).unwrap_err();
    assert!(matches!(err, Error::Evaluate { .. }), "{err}");
    assert!(err.to_string().starts_with("current: evaluating"), "{err}");
    let no_status = json!({"metadata": {"name": "a"}});
    assert!(bare.evaluate_on_object(&no_status).is_err());
    let has = Expression::compile("current", "has(status.ready) && status.ready").unwrap();
    assert!(!has.evaluate_on_object(&json!({"status": {}})).unwrap());
    assert!(
        has.evaluate_on_object(&json!({"status": {"ready": true}}))
            .unwrap()
    );
}

#[test]
fn ready_expressions_compare_self_and_dep() {
    let expr = Expression::compile(
        "spec.dependsOn[0].readyExpr",
        "dep.metadata.labels.app_version == self.metadata.labels.app_version && dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
    )
    .unwrap();
    let me = json!({"metadata": {"labels": {"app_version": "v2"}}});
    let ready = |version: &str, status: &str| {
        json!({"metadata": {"labels": {"app_version": version}},
               "status": {"conditions": [{"type": "Ready", "status": status}]}})
    };
    let dep = ready("v2", "True");
    assert!(expr.evaluate_bool(&[("self", &me), ("dep", &dep)]).unwrap());
    let old = ready("v1", "True");
    assert!(!expr.evaluate_bool(&[("self", &me), ("dep", &old)]).unwrap());
    let failing = ready("v2", "False");
    assert!(
        !expr
            .evaluate_bool(&[("self", &me), ("dep", &failing)])
            .unwrap()
    );
}

#[test]
fn syntax_errors_and_non_boolean_results_name_the_field() {
    let err = Expression::compile(
        "spec.healthCheckExprs[1].failed",
        "status.conditions.filter(",
    )
    .unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("spec.healthCheckExprs[1].failed: the CEL expression"),
        "{err}"
    );
    let number = Expression::compile("current", "metadata.generation + 1").unwrap();
    let err = number
        .evaluate_on_object(&json!({"metadata": {"generation": 1}}))
        .unwrap_err();
    assert!(
        err.to_string().contains("evaluated to a int, not a bool"),
        "{err}"
    );
}

#[test]
fn long_values_are_not_quoted_in_full() {
    let expr = Expression::compile("current", "spec.blob == 1").unwrap();
    let blob = "x".repeat(10_000);
    let err = expr
        .evaluate_on_object(&json!({"spec": {"blob": blob}}))
        .map_or_else(|e| e.to_string(), |b| b.to_string());
    assert!(err.len() < 1_000, "{}", err.len());
}

#[test]
fn nested_list_macros_and_huge_expressions_are_refused_by_name() {
    // A tenant's expression must not make one reconcile walk list x list x list.
    let err = Expression::compile(
        "spec.healthCheckExprs[0].current",
        "status.items.all(a, status.items.exists(b, status.items.exists(c, a == b && b == c)))",
    )
    .unwrap_err();
    assert!(matches!(err, Error::TooCostly { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("spec.healthCheckExprs[0].current:"),
        "{text}"
    );
    assert!(text.contains("`exists` is nested inside `all`"), "{text}");
    // Chained macros and macros named inside strings are fine.
    for fine in [
        "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
        "status.?conditions.orValue([]).exists(e, e.message == 'x.all(y, z.exists(w, true))')",
        "has(status.ready) && status.items.map(i, i.name).exists(n, n == 'a')",
    ] {
        assert!(Expression::compile("current", fine).is_ok(), "{fine}");
    }
    let long = format!("true{}", " && true".repeat(1000));
    let err = Expression::compile("current", &long).unwrap_err();
    assert!(err.to_string().contains("above the limit of 4096"), "{err}");
}
