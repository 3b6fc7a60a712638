//! Tests of the streaming index reader.

use super::*;

fn write(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

const INDEX: &str = r#"apiVersion: v1
entries:
  demo:
  - apiVersion: v2
    name: demo
    version: 1.1.0
    digest: abc
    created: "2024-01-01T00:00:00Z"
    urls:
    - demo-1.1.0.tgz
    maintainers: [{name: x, email: y}]
    annotations: {a: b}
  - name: demo
    version: 1.0.0
    urls: [https://example.com/demo-1.0.0.tgz]
  other:
  - name: other
    version: 0.1.0
    urls: [other-0.1.0.tgz]
generated: "2024-01-01T00:00:00Z"
"#;

#[test]
fn only_the_asked_charts_versions_are_kept() {
    let file = write(INDEX);
    let versions = versions_of(file.path(), "demo").unwrap();
    assert_eq!(
        versions,
        [
            ChartVersion {
                version: "1.1.0".into(),
                urls: vec!["demo-1.1.0.tgz".into()],
                digest: Some("abc".into()),
                created: Some("2024-01-01T00:00:00Z".into()),
            },
            ChartVersion {
                version: "1.0.0".into(),
                urls: vec!["https://example.com/demo-1.0.0.tgz".into()],
                digest: None,
                created: None,
            },
        ]
    );
    assert!(versions_of(file.path(), "absent").unwrap().is_empty());
}

#[test]
fn a_summary_counts_charts_and_versions() {
    let file = write(INDEX);
    assert_eq!(
        summarize(file.path()).unwrap(),
        Summary {
            charts: 2,
            versions: 3
        }
    );
}

#[test]
fn json_indexes_are_read_too() {
    let file =
        write(r#"{"apiVersion":"v1","entries":{"demo":[{"version":"2.0.0","urls":["d.tgz"]}]}}"#);
    assert_eq!(
        versions_of(file.path(), "demo").unwrap()[0].version,
        "2.0.0"
    );
}

#[test]
fn what_is_not_an_index_is_refused_with_a_reason() {
    for (text, want) in [
        ("", "empty"),
        ("- a\n- b\n", "not a mapping"),
        ("entries: {}\n", "apiVersion"),
        ("apiVersion: v1\n", "entries"),
        (
            "apiVersion: v1\nentries: [1]\n",
            "not a mapping of chart names",
        ),
        ("apiVersion: v1\nentries:\n  demo: 3\n", "not a list"),
        ("<html><body>not found</body></html>\n", "not a mapping"),
        ("apiVersion: v1\nentries: {demo: [\n", "YAML"),
    ] {
        let file = write(text);
        let err = summarize(file.path()).unwrap_err().to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn an_empty_repository_is_an_index() {
    let file = write("apiVersion: v1\nentries:\n");
    assert_eq!(summarize(file.path()).unwrap(), Summary::default());
}
