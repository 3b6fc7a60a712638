use super::*;
use std::collections::BTreeMap;

fn run(src: &str, dot: &Value) -> Result<String, String> {
    let mut t = Templates::new("t", Funcs::builtins());
    t.parse("t", src).map_err(|e| e.to_string())?;
    let mut out = String::new();
    t.execute("t", dot, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn values() -> Value {
    let mut m = BTreeMap::new();
    m.insert("n".to_owned(), Value::Float(1_000_000.0));
    m.insert("s".to_owned(), Value::str("x"));
    m.insert("nul".to_owned(), Value::Nil);
    Value::Map(Map::new(m))
}

#[test]
fn actions_print_values_as_go_does() {
    assert_eq!(
        run(
            "{{ .n }} {{ .s }} {{ .missing }} {{ print .missing }} {{ 1.0 }} {{ 0x10 }} {{ 'a' }}",
            &values()
        )
        .as_deref(),
        Ok("1e+06 x <no value> <nil> 1 16 97")
    );
}

#[test]
fn missing_and_nil_fields_fail_like_go() {
    let e = run("{{ .missing.x }}", &values()).expect_err("nil pointer");
    assert_eq!(
        e,
        "template: t:1:11: executing \"t\" at <.missing.x>: nil pointer evaluating interface {}.x"
    );
    assert_eq!(
        run("{{ $v := .missing }}{{ $v.x }}", &values()).as_deref(),
        Ok("<no value>")
    );
}

#[test]
fn redefining_with_an_empty_body_keeps_the_old_one() {
    let mut t = Templates::new("t", Funcs::builtins());
    t.parse("a", "{{ define \"d\" }}D1{{ end }}")
        .expect("parses");
    t.parse("b", "{{ define \"d\" }}  {{ end }}")
        .expect("parses");
    let mut out = String::new();
    t.execute("d", &Value::Nil, &mut out).expect("runs");
    assert_eq!(out, "D1");
    t.parse("c", "{{ define \"d\" }}D2{{ end }}")
        .expect("parses");
    out.clear();
    t.execute("d", &Value::Nil, &mut out).expect("runs");
    assert_eq!(out, "D2");
}

#[test]
fn recursion_stops_at_the_depth_cap_with_an_error() {
    let e = run(
        "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
        &Value::Nil,
    )
    .expect_err("too deep");
    assert!(e.ends_with("exceeded maximum template depth (1100)"), "{e}");
}

#[test]
fn output_is_capped() {
    let mut t = Templates::new("t", Funcs::builtins()).with_limits(Limits {
        max_depth: 10,
        max_output: 10,
        ..Limits::default()
    });
    t.parse("t", "{{ range 100 }}x{{ end }}").expect("parses");
    let e = t
        .execute("t", &Value::Nil, &mut String::new())
        .expect_err("too much");
    assert!(
        e.to_string()
            .ends_with("output exceeds the limit of 10 bytes"),
        "{e}"
    );
}

#[test]
fn steps_are_capped_even_without_output() {
    // Nested ranges with empty bodies write nothing (as over `until` in a chart): only the step budget stops them.
    let mut t = Templates::new("t", Funcs::builtins()).with_limits(Limits {
        max_steps: 10_000,
        ..Limits::default()
    });
    t.parse("t", "{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}")
        .expect("parses");
    let e = t
        .execute("t", &Value::Nil, &mut String::new())
        .expect_err("too many steps");
    assert!(
        e.to_string().contains("exceeds the limit of 10000 steps"),
        "{e}"
    );
    // The default budget leaves a real loop alone.
    let mut t = Templates::new("t", Funcs::builtins());
    t.parse("t", "{{ range 1000 }}{{ range 100 }}{{ end }}{{ end }}ok")
        .expect("parses");
    let mut out = String::new();
    t.execute("t", &Value::Nil, &mut out).expect("runs");
    assert_eq!(out, "ok");
}
