//! The report a run prints: the faults, the commits, the reconcile
//! outcomes, convergence, memory, and PASS or FAIL per check.

use std::fmt::Write as _;

use ferroflux_e2e::stack::Controller;

use crate::checks::mib;
use crate::driver::KUSTOMIZATIONS;
use crate::record::{Record, Sample};

/// The report, as text.
pub(crate) fn render(record: &Record) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "\n==== Ferroflux soak report ====");
    let _ = writeln!(
        w,
        "seed {} | set-up {:.0}s | fault phase {:.0}s | steady phase {:.0}s | run {:.0}s",
        record.seed,
        record.setup_seconds,
        record.fault_seconds,
        record.run_seconds - record.fault_seconds,
        record.run_seconds
    );
    faults(w, record);
    commits(w, record);
    outcomes(w, record);
    let _ = writeln!(w, "\nConvergence after the final commit");
    let _ = match record.converge_seconds {
        Some(s) => writeln!(
            w,
            "  {:.1}s until the GitRepository and both Kustomizations were Ready at {}",
            s,
            record.final_revision.as_deref().unwrap_or("?")
        ),
        None => writeln!(w, "  did not converge"),
    };
    memory(w, record);
    let _ = writeln!(w, "\nChecks");
    for check in &record.checks {
        let verdict = if check.pass { "PASS" } else { "FAIL" };
        let _ = writeln!(w, "  {verdict}  {}: {}", check.name, check.detail);
    }
    let failed = record.checks.iter().filter(|c| !c.pass).count();
    let _ = writeln!(
        w,
        "\nRESULT: {} ({} of {} checks passed)",
        if failed == 0 { "PASS" } else { "FAIL" },
        record.checks.len() - failed,
        record.checks.len()
    );
    out
}

fn faults(w: &mut String, record: &Record) {
    let total: u64 = record.kills.values().sum();
    let per: Vec<String> = Controller::ALL
        .into_iter()
        .map(|c| {
            format!(
                "{} {}",
                c.name(),
                record.kills.get(&c).copied().unwrap_or_default()
            )
        })
        .collect();
    let _ = writeln!(w, "\nFaults");
    let _ = writeln!(w, "  SIGKILLs: {total} ({})", per.join(", "));
    let restarts: Vec<String> = record
        .apiserver_restarts
        .iter()
        .map(|r| format!("at {:.0}s, ready again after {:.1}s", r.at, r.seconds))
        .collect();
    let _ = writeln!(
        w,
        "  kube-apiserver restarts: {} ({})",
        restarts.len(),
        restarts.join("; ")
    );
    let _ = match &record.git_outage {
        Some(o) => writeln!(
            w,
            "  git server away: {:.1}s from {:.0}s, back at the same URL",
            o.seconds, o.at
        ),
        None => writeln!(w, "  git server away: no outage"),
    };
    let _ = writeln!(
        w,
        "  controller processes that exited on their own: {}",
        record.crashes.len()
    );
    if !record.errors.is_empty() {
        let _ = writeln!(w, "  driver errors: {}", record.errors.join("; "));
    }
}

fn commits(w: &mut String, record: &Record) {
    let c = &record.commits;
    let _ = writeln!(w, "\nCommits");
    let _ = writeln!(
        w,
        "  {} commits: {} good (the final one included), {} broken, {} reverts of them",
        c.good + c.broken + c.reverts,
        c.good,
        c.broken,
        c.reverts
    );
    let _ = writeln!(
        w,
        "  objects: {} created, {} deleted (pruned), {} changed",
        c.created, c.deleted, c.changed
    );
    let t = &record.triggers;
    let _ = writeln!(
        w,
        "  reconcile requests: {} by the Receiver's webhook, {} by the requestedAt annotation \
         (webhook down), {} lost (API server down too)",
        t.webhook, t.annotation, t.lost
    );
    let good: Vec<&String> = record
        .pushed
        .iter()
        .filter(|(_, good)| *good)
        .map(|(r, _)| r)
        .collect();
    for name in KUSTOMIZATIONS {
        let seen = record.applied_seen.get(name);
        let applied = good
            .iter()
            .filter(|r| seen.is_some_and(|s| s.contains(r.as_str())))
            .count();
        let _ = writeln!(
            w,
            "  Kustomization/{name}: {applied} of {} good revisions (the first and the reverts \
             included) seen applied; the rest were superseded between two status samples or \
             two reconciles",
            good.len()
        );
    }
    for (n, episode) in record.episodes.iter().enumerate() {
        let revision = episode.revision.as_deref().unwrap_or("not pushed");
        let _ = match &episode.result {
            Ok(text) => writeln!(w, "  broken commit {} ({revision}): {text}", n + 1),
            Err(text) => writeln!(w, "  broken commit {} ({revision}): FAILED: {text}", n + 1),
        };
    }
}

fn outcomes(w: &mut String, record: &Record) {
    let _ = writeln!(
        w,
        "\nReconcile outcomes (changes of Ready seen in the status samples)"
    );
    let mut object = String::new();
    let mut line = String::new();
    for ((name, outcome), count) in &record.outcomes {
        if *name == object {
            line.push_str("; ");
        } else {
            if !line.is_empty() {
                let _ = writeln!(w, "  {object}: {line}");
            }
            object.clone_from(name);
            line.clear();
        }
        let _ = write!(line, "{outcome} x{count}");
    }
    if !line.is_empty() {
        let _ = writeln!(w, "  {object}: {line}");
    }
    let alerts: Vec<String> = record
        .alerts
        .iter()
        .map(|((kind, reason), n)| format!("{kind} {reason} x{n}"))
        .collect();
    let _ = writeln!(w, "  alerts at the sink: {}", alerts.join("; "));
}

fn memory(w: &mut String, record: &Record) {
    let _ = writeln!(
        w,
        "\nMemory (RSS in MiB, every process of the controller: start / mid-run / end, peak)"
    );
    let middle = record.run_seconds / 2.0;
    for controller in Controller::ALL {
        let samples = record
            .samples
            .get(&controller)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let nearest = samples
            .iter()
            .min_by(|a, b| (a.at - middle).abs().total_cmp(&(b.at - middle).abs()));
        let show =
            |s: Option<&Sample>| s.map_or_else(|| "?".to_owned(), |s| format!("{:.1}", mib(s.kib)));
        let peak = samples.iter().map(|s| s.kib).max().unwrap_or_default();
        let _ = writeln!(
            w,
            "  {:<24} {:>6} / {:>6} / {:>6}, peak {:.1} ({} samples, {} processes)",
            controller.name(),
            show(samples.first()),
            show(nearest),
            show(samples.last()),
            mib(peak),
            samples.len(),
            record
                .incarnation
                .get(&controller)
                .copied()
                .unwrap_or_default()
                + 1
        );
    }
}
