#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::json;

use crate::{natural_cmp, parse_documents, to_yaml, to_yaml_stream};

#[test]
fn plain_scalars_resolve_as_kustomize_reads_them() {
    let docs = parse_documents(
        "a: yes\nb: True\nc: 0777\nd: 1e3\ne: '3'\nf: ~\ng: 2024-01-15\nh: 0x1F\ni: 1_000\nj: 2.50\n",
    )
    .unwrap();
    assert_eq!(
        docs[0],
        json!({"a": "yes", "b": true, "c": 511, "d": 1000, "e": "3", "f": null,
               "g": "2024-01-15T00:00:00Z", "h": 31, "i": 1000, "j": 2.5})
    );
}

#[test]
fn anchors_merge_keys_and_errors() {
    let docs =
        parse_documents("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n---\n---\nz: 1\n").unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["use"], json!({"x": 1, "y": 3}));
    let err = parse_documents("a: 1\nb: [1, 2\n").unwrap_err();
    assert!(err.line >= 2, "{err}");
    let err = parse_documents("80: http\n").unwrap_err();
    assert!(err.message.contains("not a string"), "{err}");
}

#[test]
fn an_alias_bomb_is_refused_quickly() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        let refs = vec![format!("*a{prev}"); 10].join(", ");
        let _ = writeln!(text, "a{i}: &a{i} [{refs}]");
    }
    let err = parse_documents(&text).unwrap_err();
    assert!(err.message.contains("alias bomb"), "{err}");
}

/// Issue 15, defect 4: the budget counted nodes only, so aliases of one
/// large scalar (here 16 KiB, 200 000 times: 3.2 GB expanded from a 1.4 MB
/// file) passed it and allocated gigabytes.
#[test]
fn aliases_of_a_large_scalar_are_refused_by_size() {
    let mut text = format!("big: &big \"{}\"\nrefs:\n", "x".repeat(16 << 10));
    for _ in 0..200_000 {
        text.push_str("- *big\n");
    }
    let err = parse_documents(&text).unwrap_err();
    assert!(
        err.message.contains("MiB of text (an alias bomb?)"),
        "{err}"
    );
    // A file of the same size without aliases is fine.
    let plain = format!("big: \"{}\"\n", "x".repeat(2 << 20));
    assert_eq!(parse_documents(&plain).unwrap().len(), 1);
}

/// Deep nesting is an error, not a stack overflow (on a thread with a tokio
/// worker's 2 MiB stack); nesting within the bound reads and writes back.
#[test]
fn nesting_is_bounded() {
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let ok = format!("a: {}1{}", "[".repeat(200), "]".repeat(200));
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            // The parser's own recursion limit or ours, whichever is lower.
            let err = parse_documents(&deep).unwrap_err();
            assert!(
                err.message.contains("nested more than 256 deep")
                    || err.message.contains("recursion limit"),
                "{err}"
            );
            let docs = parse_documents(&ok).unwrap();
            let text = to_yaml(&docs[0]);
            assert_eq!(parse_documents(&text).unwrap(), docs);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn keys_sort_naturally_and_strings_quote_when_they_would_read_back_otherwise() {
    assert_eq!(natural_cmp("a1", "a01"), Ordering::Less);
    assert_eq!(natural_cmp("a9", "a10"), Ordering::Less);
    assert_eq!(natural_cmp("-x", "a"), Ordering::Less);
    let out = to_yaml(&json!({"b": "yes", "a": ["1", "x: y", "@daily", "multi\nline\n"], "c": {}}));
    assert_eq!(
        out,
        "a:\n- \"1\"\n- 'x: y'\n- '@daily'\n- |\n  multi\n  line\nb: \"yes\"\nc: {}\n"
    );
}

#[test]
fn floats_are_written_as_go_formats_them() {
    for (value, want) in [
        (12_345_678.9, "1.23456789e+07"),
        (1_000_000.5, "1.0000005e+06"),
        (123_456.5, "123456.5"),
        (0.0001, "0.0001"),
        (0.000_01, "1e-05"),
        (2.5e-5, "2.5e-05"),
        (1.5e-7, "1.5e-07"),
        (1e21, "1e+21"),
        (1e300, "1e+300"),
        (-0.5, "-0.5"),
    ] {
        assert_eq!(
            to_yaml(&serde_json::json!(value)),
            format!("{want}\n"),
            "{value}"
        );
    }
}

/// Found by fuzzing (issue 15): a long key was folded across lines like a
/// value, which no YAML reader accepts for a simple key; go-yaml never
/// breaks a key. Both a double-quoted key (a BOM inside) and a plain key
/// with spaces now stay on one line and read back.
#[test]
fn long_keys_are_never_folded() {
    let quoted = "pl\u{feff}7777\u{feff}7pl77\u{feff} a:\u{feff}\u{feff}77\u{feff} a:\u{feff} :77\u{feff} a:\u{feff} a";
    let plain = "word ".repeat(30).trim_end().to_owned();
    for key in [quoted, plain.as_str()] {
        let docs = vec![json!({ key: {"nested": "value with several words ".repeat(5)} })];
        let written = to_yaml_stream(&docs);
        assert!(written.lines().next().unwrap().ends_with(':'), "{written}");
        assert_eq!(parse_documents(&written).unwrap(), docs, "{written}");
    }
}

/// Issue 17: kustomize writes an object's own annotations as the text of
/// their scalars, whatever YAML would resolve them to; nothing else changes.
#[test]
fn objects_keep_the_text_of_their_own_annotations() {
    let text = "\
metadata:
  annotations:
    port: 8080
    ratio: 1.50
    happy: yes
    flag: true
    tilde: ~
    empty:
    hex: 0x10
    day: 2024-01-01
    quoted: \"q\"
  labels:
    n: 1
spec:
  template:
    metadata:
      annotations:
        x: 1.50
";
    let docs = crate::parse_objects(text).expect("parses");
    let annotations = &docs[0]["metadata"]["annotations"];
    for (key, want) in [
        ("port", "8080"),
        ("ratio", "1.50"),
        ("happy", "yes"),
        ("flag", "true"),
        ("tilde", "~"),
        ("empty", ""),
        ("hex", "0x10"),
        ("day", "2024-01-01"),
        ("quoted", "q"),
    ] {
        assert_eq!(annotations[key], serde_json::json!(want), "{key}");
    }
    assert_eq!(docs[0]["metadata"]["labels"]["n"], serde_json::json!(1));
    assert_eq!(
        docs[0]["spec"]["template"]["metadata"]["annotations"]["x"],
        serde_json::json!(1.5)
    );
    let plain = crate::parse_documents(text).expect("parses");
    assert_eq!(
        plain[0]["metadata"]["annotations"]["port"],
        serde_json::json!(8080)
    );
}

/// Issue 17: a patch's null annotation deletes it, so it stays null; a
/// kustomization file reads `yes` as a boolean and keeps the last of
/// repeated keys, as go-yaml v2 through JSON does.
#[test]
fn patches_keep_null_annotations_and_kustomizations_read_as_yaml_1_1() {
    let patch = crate::parse_patches(
        "metadata:\n  annotations:\n    gone: null\n    empty:\n    kept: 1.50\n",
    )
    .expect("parses");
    let annotations = &patch[0]["metadata"]["annotations"];
    assert_eq!(annotations["gone"], serde_json::Value::Null);
    assert_eq!(annotations["empty"], serde_json::Value::Null);
    assert_eq!(annotations["kept"], serde_json::json!("1.50"));
    let k = crate::parse_documents_yaml11("a: yes\nb: Off\nc: yesterday\nd: 1\nd: 2\n")
        .expect("parses");
    assert_eq!(
        k[0],
        serde_json::json!({"a": true, "b": false, "c": "yesterday", "d": 2})
    );
    assert!(
        crate::parse_documents("d: 1\nd: 2\n").is_err(),
        "objects refuse repeated keys"
    );
}
