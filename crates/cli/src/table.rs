//! What `ferroflux get` prints: one row per object with its Ready state,
//! revision, suspension and message, laid out in aligned columns.

use std::fmt::Write as _;

use serde_json::Value;

use crate::kinds::Kind;

/// One object's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The namespace.
    pub namespace: String,
    /// The name (prefixed with the kind in `get all`).
    pub name: String,
    /// The revision: the artifact's for sources, the last applied one for
    /// Kustomizations, the chart version for HelmReleases, empty for the
    /// rest.
    pub revision: String,
    /// `True` or `False`.
    pub suspended: String,
    /// The Ready condition's status, `Unknown` while there is none, `-` for
    /// kinds without a status.
    pub ready: String,
    /// The Ready condition's message.
    pub message: String,
}

/// The Ready condition of `obj`, if it has one.
#[must_use]
pub fn ready_condition(obj: &Value) -> Option<&Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
}

/// A HelmRelease's revision as Flux shows it: the chart version of its
/// latest release, else the one last attempted.
#[must_use]
pub fn helm_release_revision(obj: &Value) -> String {
    let status = &obj["status"];
    status["history"][0]["chartVersion"]
        .as_str()
        .or_else(|| status["lastAttemptedRevision"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Whether an ArtifactGenerator is paused by its
/// `source.extensions.fluxcd.io/reconcile: disabled` annotation.
#[must_use]
pub fn generator_disabled(obj: &Value) -> bool {
    obj["metadata"]["annotations"]
        [ferroflux_api::extensions::artifactgenerator::RECONCILE_ANNOTATION]
        .as_str()
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

/// The row for `obj`, an object of `kind`.
#[must_use]
pub fn row(kind: &Kind, obj: &Value) -> Row {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let revision = if kind.source {
        text(&obj["status"]["artifact"]["revision"])
    } else if kind.name() == "HelmRelease" {
        helm_release_revision(obj)
    } else {
        text(&obj["status"]["lastAppliedRevision"])
    };
    let (ready, message) = if kind.has_status {
        ready_condition(obj).map_or_else(
            || ("Unknown".to_owned(), "waiting to be reconciled".to_owned()),
            |c| (text(&c["status"]), text(&c["message"])),
        )
    } else {
        ("-".to_owned(), String::new())
    };
    Row {
        namespace: text(&obj["metadata"]["namespace"]),
        name: text(&obj["metadata"]["name"]),
        revision,
        suspended: if obj["spec"]["suspend"] == true || generator_disabled(obj) {
            "True"
        } else {
            "False"
        }
        .to_owned(),
        ready,
        message: message.lines().next().unwrap_or_default().to_owned(),
    }
}

/// The rows as aligned columns under a header; with the namespace first
/// when `all_namespaces`. Messages are cut to `width` characters when a
/// width is given.
#[must_use]
pub fn render(rows: &[Row], all_namespaces: bool, width: Option<usize>) -> String {
    let mut lines: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    let header = ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"];
    let mut head: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    if all_namespaces {
        head.insert(0, "NAMESPACE".to_owned());
    }
    lines.push(head);
    for r in rows {
        let mut line = vec![
            r.name.clone(),
            r.revision.clone(),
            r.suspended.clone(),
            r.ready.clone(),
            r.message.clone(),
        ];
        if all_namespaces {
            line.insert(0, r.namespace.clone());
        }
        lines.push(line);
    }
    let text = columns(&lines);
    match width {
        Some(w) => text
            .lines()
            .map(|line| {
                if line.chars().count() > w {
                    let mut cut: String = line.chars().take(w.saturating_sub(1)).collect();
                    cut.push('…');
                    cut + "\n"
                } else {
                    format!("{line}\n")
                }
            })
            .collect(),
        None => text,
    }
}

/// Aligned columns, two spaces apart, the last column unpadded.
#[must_use]
pub fn columns(lines: &[Vec<String>]) -> String {
    let n = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|c| {
            lines
                .iter()
                .filter_map(|l| l.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            if c + 1 == line.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ", w = widths[c]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{columns, render, row};
    use crate::kinds;

    #[test]
    fn rows_show_ready_revision_and_suspension() {
        let git = json!({"metadata": {"name": "app", "namespace": "flux-system"},
            "spec": {"suspend": true},
            "status": {"artifact": {"revision": "main@sha1:abc"},
                       "conditions": [{"type": "Ready", "status": "True",
                                       "message": "stored artifact for revision 'main@sha1:abc'\nmore"}]}});
        let r = row(&kinds::git_repository(), &git);
        assert_eq!(
            (
                r.revision.as_str(),
                r.suspended.as_str(),
                r.ready.as_str(),
                r.message.as_str()
            ),
            (
                "main@sha1:abc",
                "True",
                "True",
                "stored artifact for revision 'main@sha1:abc'"
            )
        );
        let fresh = json!({"metadata": {"name": "web", "namespace": "apps"}, "spec": {}});
        let r = row(&kinds::kustomization(), &fresh);
        assert_eq!(
            (r.ready.as_str(), r.suspended.as_str()),
            ("Unknown", "False")
        );
        assert_eq!(row(&kinds::alert(), &fresh).ready, "-");
        let hr = json!({"metadata": {"name": "web", "namespace": "apps"}, "spec": {},
            "status": {"lastAttemptedRevision": "0.2.0",
                       "history": [{"chartVersion": "0.1.0"}]}});
        assert_eq!(row(&kinds::helm_release(), &hr).revision, "0.1.0");
        let table = render(&[r], true, None);
        let mut lines = table.lines();
        assert!(lines.next().unwrap().starts_with("NAMESPACE  NAME"));
        assert!(lines.next().unwrap().starts_with("apps       web "));
        assert!(
            render(&[row(&kinds::git_repository(), &git)], false, Some(20))
                .lines()
                .all(|l| l.chars().count() <= 20)
        );
    }

    #[test]
    fn columns_align() {
        let text = columns(&[
            vec!["A".into(), "LONG HEADER".into(), "X".into()],
            vec!["value".into(), "v".into(), "last".into()],
        ]);
        assert_eq!(text, "A      LONG HEADER  X\nvalue  v            last\n");
    }
}
