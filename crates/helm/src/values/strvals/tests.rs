//! Every expectation here was checked with helm 4.1.4: a chart whose only template is
//! `{{ toJson .Values }} {{ printf "%T" .Values.a }}`, rendered with `helm template rel ./c`
//! and the flags shown. `%T` told `int64` from `float64`, which `toJson` prints alike.

use serde_json::{Value, json};

use super::*;

/// Applies each `(mode, line)` in order to one map, as Helm applies repeated flags.
fn apply(lines: &[(Mode, &str)]) -> Result<Value> {
    let mut dest = Map::new();
    for (mode, line) in lines {
        parse_into(line, &mut dest, *mode)?;
    }
    Ok(Value::Object(dest))
}

fn set(line: &str) -> Result<Value> {
    apply(&[(Mode::Typed, line)])
}

#[test]
fn typed_values_are_helms() {
    let cases: &[(&str, Value)] = &[
        ("a=1", json!({"a": 1})),
        ("a=0", json!({"a": 0})),
        ("a=-5", json!({"a": -5})),
        ("a=+5", json!({"a": 5})),
        ("a=007", json!({"a": "007"})),
        ("a=1.5", json!({"a": "1.5"})),
        ("a=9223372036854775808", json!({"a": "9223372036854775808"})),
        ("a=TRUE", json!({"a": true})),
        ("a=falſe", json!({"a": false})),
        ("a=Null", json!({"a": null})),
        ("a=", json!({"a": ""})),
        ("a= 1", json!({"a": " 1"})),
        ("a=x=y", json!({"a": "x=y"})),
        ("a=b\\", json!({"a": "b"})),
        ("a=1,", json!({"a": 1})),
        ("a=1,a=2", json!({"a": 2})),
        ("=1", json!({})),
        ("a\\.b=1,c=x\\,y", json!({"a.b": 1, "c": "x,y"})),
        ("a\\=b=c", json!({"a=b": "c"})),
        ("a.b.c=1,a.b.d=x", json!({"a": {"b": {"c": 1, "d": "x"}}})),
        ("a={1,2,true,null}", json!({"a": [1, 2, true, null]})),
        ("a={}", json!({"a": [""]})),
        ("a={1,2}x=3", json!({"a": [1, 2], "x": 3})),
        ("a[2]=x", json!({"a": [null, null, "x"]})),
        ("a[+1]=x", json!({"a": [null, "x"]})),
        ("a[0].c=1,a[2]=x", json!({"a": [{"c": 1}, null, "x"]})),
        ("a[1]=1,a[0]=0", json!({"a": [0, 1]})),
        ("a[0][1]=x", json!({"a": [[null, "x"]]})),
        ("a[0]={1,2}", json!({"a": [[1, 2]]})),
        ("a[0].b=1,a[0].c=2", json!({"a": [{"b": 1, "c": 2}]})),
        (
            "a[1].b=1,a[0]=x,a[0].c=2",
            json!({"a": [{"c": 2}, {"b": 1}]}),
        ),
        // The line ends inside an index: Helm stops quietly.
        ("a[1", json!({})),
        ("a[0]", json!({"a": []})),
        ("a[0][1]", json!({"a": []})),
    ];
    for (line, want) in cases {
        assert_eq!(set(line).unwrap(), *want, "--set {line:?}");
    }
    let value = set("a=1").unwrap();
    assert!(value["a"].is_i64(), "an int64 is an i64 Number");
}

#[test]
fn deep_names_stop_at_thirty_levels() {
    let ok = vec!["a"; 31].join(".") + "=1";
    assert!(set(&ok).is_ok());
    let too_deep = vec!["a"; 32].join(".") + "=1";
    assert_eq!(
        set(&too_deep).unwrap_err().to_string(),
        "value name nested level is greater than maximum supported nested level of 30"
    );
}

#[test]
fn typed_errors_are_worded_as_helm() {
    let cases: &[(&[(Mode, &str)], &str)] = &[
        (&[(Mode::Typed, "a")], "key \"a\" has no value"),
        (&[(Mode::Typed, "a.b")], "key \"b\" has no value"),
        (
            &[(Mode::Typed, "a,b=1")],
            "key \"a\" has no value (cannot end with ,)",
        ),
        (
            &[(Mode::Typed, ",a=1")],
            "key \"\" has no value (cannot end with ,)",
        ),
        (&[(Mode::Typed, "a.=1")], "key map \"a\" has no value"),
        (&[(Mode::Typed, "a={1,2")], "list must terminate with '}'"),
        (
            &[(Mode::Typed, "a[65537]=1")],
            "index of 65537 is greater than maximum supported index of 65536",
        ),
        (&[(Mode::Typed, "a[-1]=1")], "negative -1 index not allowed"),
        (
            &[(Mode::Typed, "a[x]=1")],
            "error parsing index: strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            &[(Mode::Typed, "a[]=x")],
            "error parsing index: strconv.Atoi: parsing \"\": invalid syntax",
        ),
        (
            &[(Mode::Typed, "a[99999999999999999999]=1")],
            "error parsing index: strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
        (
            &[(Mode::Typed, "a[0]x=1")],
            "unexpected data at end of array index: ['x']",
        ),
        (
            &[(Mode::Typed, "a=1"), (Mode::Typed, "a.b=2")],
            "unable to parse key: interface conversion: interface {} is int64, not map[string]interface {}",
        ),
        (
            &[(Mode::Typed, "a=x"), (Mode::Typed, "a[0]=1")],
            "unable to parse key: interface conversion: interface {} is string, not []interface {}",
        ),
        (
            &[(Mode::Typed, "a=null"), (Mode::Typed, "a.b=1")],
            "unable to parse key: interface conversion: interface {} is nil, not map[string]interface {}",
        ),
        (
            &[(Mode::Json, "a=1"), (Mode::Typed, "a.b=1")],
            "unable to parse key: interface conversion: interface {} is float64, not map[string]interface {}",
        ),
        (&[(Mode::Literal, "a")], "key \"a\" has no value"),
    ];
    for (lines, want) in cases {
        let err = apply(lines).unwrap_err();
        assert_eq!(err.to_string(), *want, "{lines:?}");
    }
}

#[test]
fn later_lines_replace_and_extend_earlier_ones() {
    let cases: &[(&[(Mode, &str)], Value)] = &[
        (
            &[(Mode::Typed, "a[0]=1"), (Mode::Typed, "a[0].b=2")],
            json!({"a": [{"b": 2}]}),
        ),
        (
            &[(Mode::Typed, "a.b=1"), (Mode::Typed, "a=2")],
            json!({"a": 2}),
        ),
        (
            &[(Mode::Typed, "a.b=1"), (Mode::Typed, "a.c=2")],
            json!({"a": {"b": 1, "c": 2}}),
        ),
    ];
    for (lines, want) in cases {
        assert_eq!(apply(lines).unwrap(), *want, "{lines:?}");
    }
}

#[test]
fn string_and_literal_values_stay_strings() {
    let cases: &[(Mode, &str, Value)] = &[
        (Mode::String, "a=1,b=true", json!({"a": "1", "b": "true"})),
        (Mode::String, "a={1,true}", json!({"a": ["1", "true"]})),
        (Mode::Literal, "a=x,b=c\\d", json!({"a": "x,b=c\\d"})),
        (
            Mode::Literal,
            "a.b[1]=x,y\\z",
            json!({"a": {"b": [null, "x,y\\z"]}}),
        ),
        (Mode::Literal, "a,b=1", json!({"a,b": "1"})),
    ];
    for (mode, line, want) in cases {
        assert_eq!(apply(&[(*mode, line)]).unwrap(), *want, "{mode:?} {line:?}");
    }
}

#[test]
fn json_values_are_go_json() {
    let cases: &[(&str, Value)] = &[
        ("a=1x=2", json!({"a": 1.0, "x": 2.0})),
        (
            "a={\"b\":[1,2.5]},c=",
            json!({"a": {"b": [1.0, 2.5]}, "c": null}),
        ),
        (
            "a= ,b=[1,{\"c\":\"d\"}] , c=true",
            json!({"a": null, "b": [1.0, {"c": "d"}], " c": true}),
        ),
        ("a=\"\\ud83d\\ude00x\\ud800\"", json!({"a": "😀x\u{fffd}"})),
        ("a[1]={\"x\":null}", json!({"a": [null, {"x": null}]})),
        (
            "a=12345678901234567890",
            json!({"a": 12_345_678_901_234_567_890.0}),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(
            apply(&[(Mode::Json, line)]).unwrap(),
            *want,
            "--set-json {line:?}"
        );
    }
    let value = apply(&[(Mode::Json, "a=1")]).unwrap();
    assert!(value["a"].is_f64(), "a float64 is an f64 Number");
    // helm refuses each of these ("failed parsing --set-json data a=...").
    for line in ["a=[1,", "a=1e400", "a=tru", "a=01", "a={\"a\" 1}", "a=\"x"] {
        assert!(apply(&[(Mode::Json, line)]).is_err(), "--set-json {line:?}");
    }
    let err = apply(&[(Mode::Json, "a=tru")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "key \"a\": invalid JSON value: unexpected EOF; quote strings and check the brackets"
    );
}

#[test]
fn file_values_are_the_files_content() {
    let read = |path: &str| match path {
        "f1.txt" => Ok("hello\nworld".to_owned()),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("open {path}: no such file or directory"),
        )),
    };
    let cases: &[(&str, Value)] = &[
        ("a=f1.txt", json!({"a": "hello\nworld"})),
        (
            "a={f1.txt,f1.txt}",
            json!({"a": ["hello\nworld", "hello\nworld"]}),
        ),
    ];
    for (line, want) in cases {
        let mut dest = Map::new();
        parse_file_into(line, &mut dest, read).unwrap();
        assert_eq!(Value::Object(dest), *want, "--set-file {line:?}");
    }
    let mut dest = Map::new();
    let err = parse_file_into("a=nope.txt", &mut dest, read).unwrap_err();
    assert!(
        matches!(&err, Error::File { key, path, .. } if key == "a" && path == "nope.txt"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("open nope.txt: no such file or directory")
    );
}

#[test]
fn deep_nesting_is_refused_before_the_stack_overflows() {
    let line = "a".to_owned() + &"[0]".repeat(900) + "=1";
    let value = set(&line).unwrap();
    let mut inner = &value["a"];
    for _ in 0..899 {
        inner = &inner[0];
    }
    assert_eq!(inner, &json!([1]));
    let too_deep = "a".to_owned() + &"[0]".repeat(50_000) + "=1";
    assert!(matches!(set(&too_deep), Err(Error::NestedTooDeep)));
    let deep_json = "a=".to_owned() + &"[".repeat(20_000);
    let err = apply(&[(Mode::Json, &deep_json)]).unwrap_err();
    assert!(err.to_string().contains("exceeded max depth"), "{err}");
}
