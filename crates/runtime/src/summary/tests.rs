//! Table-driven tests of the summary: before, result, want.

use std::time::Duration;

use ferroflux_api::meta::Condition;

use super::{Contract, Summary, summarize};
use crate::conditions;
use crate::error::{Outcome, ReconcileError};
use crate::scrub::Scrubbed;

const CONTRACT: Contract = Contract {
    negative: &["FetchFailed", "IncludeUnavailable"],
    ready_reason: "Succeeded",
};

/// `(type, status, reason)` of each condition, sorted by type.
fn shape(cs: &[Condition]) -> Vec<(String, String, String)> {
    cs.iter()
        .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
        .collect()
}

fn cond(t: &str, status: bool, reason: &str) -> (String, String, String) {
    (
        t.into(),
        if status { "True" } else { "False" }.into(),
        reason.into(),
    )
}

struct Case {
    name: &'static str,
    before: Vec<(&'static str, bool, &'static str)>,
    result: Result<Outcome, ReconcileError>,
    want: Vec<(String, String, String)>,
    want_summary: Summary,
}

fn cases() -> Vec<Case> {
    let fetch_failed =
        ReconcileError::transient("GitOperationFailed", Scrubbed::new("remote hung up"))
            .with_condition("FetchFailed");
    let stalled = ReconcileError::stalled("InvalidURL", Scrubbed::new("url is not a git URL"));
    let waiting = ReconcileError::waiting(
        Duration::from_secs(30),
        "DependencyNotReady",
        Scrubbed::new("dep"),
    );
    vec![
        Case {
            name: "success from nothing",
            before: vec![],
            result: Ok(Outcome::CONTINUE),
            want: vec![cond("Ready", true, "Succeeded")],
            want_summary: Summary {
                observed_generation: Some(3),
                ready: true,
            },
        },
        Case {
            name: "success clears reconciling and stalled",
            before: vec![
                ("Reconciling", true, "Progressing"),
                ("Stalled", true, "InvalidURL"),
                ("ArtifactInStorage", true, "Succeeded"),
            ],
            result: Ok(Outcome::CONTINUE),
            want: vec![
                cond("ArtifactInStorage", true, "Succeeded"),
                cond("Ready", true, "Succeeded"),
            ],
            want_summary: Summary {
                observed_generation: Some(3),
                ready: true,
            },
        },
        Case {
            name: "success with a negative condition left true is not ready",
            before: vec![("IncludeUnavailable", true, "IncludeUnavailable")],
            result: Ok(Outcome::CONTINUE),
            want: vec![
                cond("IncludeUnavailable", true, "IncludeUnavailable"),
                cond("Ready", false, "IncludeUnavailable"),
            ],
            want_summary: Summary {
                observed_generation: Some(3),
                ready: false,
            },
        },
        Case {
            name: "transient failure keeps the artifact condition and retries",
            before: vec![
                ("ArtifactInStorage", true, "Succeeded"),
                ("Ready", true, "Succeeded"),
            ],
            result: Err(fetch_failed),
            want: vec![
                cond("ArtifactInStorage", true, "Succeeded"),
                cond("FetchFailed", true, "GitOperationFailed"),
                cond("Ready", false, "GitOperationFailed"),
                cond("Reconciling", true, "ProgressingWithRetry"),
            ],
            want_summary: Summary {
                observed_generation: None,
                ready: false,
            },
        },
        Case {
            name: "stalled failure stalls and observes the generation",
            before: vec![("Reconciling", true, "Progressing")],
            result: Err(stalled),
            want: vec![
                cond("Ready", false, "InvalidURL"),
                cond("Stalled", true, "InvalidURL"),
            ],
            want_summary: Summary {
                observed_generation: Some(3),
                ready: false,
            },
        },
        Case {
            name: "waiting is a retry without a negative condition",
            before: vec![],
            result: Err(waiting),
            want: vec![
                cond("Ready", false, "DependencyNotReady"),
                cond("Reconciling", true, "ProgressingWithRetry"),
            ],
            want_summary: Summary {
                observed_generation: None,
                ready: false,
            },
        },
    ]
}

#[test]
fn summaries() {
    for case in cases() {
        let mut cs = Vec::new();
        for (t, status, reason) in &case.before {
            conditions::set(&mut cs, t, *status, reason, "", Some(2));
        }
        let summary = summarize(
            &mut cs,
            &CONTRACT,
            &case.result,
            Some(3),
            "stored artifact for revision 'main@sha1:abc'",
        );
        assert_eq!(shape(&cs), case.want, "{}", case.name);
        assert_eq!(summary, case.want_summary, "{}", case.name);
    }
}

#[test]
fn the_ready_message_on_success_is_the_one_given() {
    let mut cs = Vec::new();
    summarize(
        &mut cs,
        &CONTRACT,
        &Ok(Outcome::CONTINUE),
        Some(1),
        "stored artifact for revision 'main@sha1:abc'",
    );
    assert_eq!(
        conditions::get(&cs, "Ready").unwrap().message,
        "stored artifact for revision 'main@sha1:abc'"
    );
}
