use super::*;
use crate::template::Templates;
use std::fmt::Write as _;

fn run(src: &str) -> Result<String, String> {
    let mut t = Templates::new("gotpl", helm_funcs());
    t.parse("t", src).map_err(|e| e.to_string())?;
    let mut out = String::new();
    t.execute("t", &Value::Nil, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn include_recursion_stops_at_the_depth_cap_without_exhausting_the_stack() {
    let e = run(r#"{{ define "r" }}{{ include "r" (list (include "r" .)) | quote }}{{ end }}{{ include "r" . }}"#)
        .expect_err("endless recursion");
    assert!(e.ends_with("error calling include: rendering template has a nested reference name: r: unable to execute template"), "{}", e.get(e.len().saturating_sub(300)..).unwrap_or(&e));
    let e = run(r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ include "r" . }}"#)
        .expect_err("endless recursion through template");
    assert!(
        e.ends_with("exceeded maximum template depth (1100)"),
        "{}",
        e.get(e.len().saturating_sub(300)..).unwrap_or(&e)
    );
}

#[test]
fn set_is_seen_through_every_alias_of_a_map() {
    let out = run(
        r#"{{ $d := dict "a" 1 }}{{ $l := list $d }}{{ $_ := set (index $l 0) "b" 2 }}{{ $d }} {{ hasKey $d "b" }}{{ $_ := unset $d "a" }} {{ $d }}"#,
    );
    assert_eq!(out.as_deref(), Ok("map[a:1 b:2] true map[b:2]"));
}

#[test]
fn random_templates_never_panic() {
    // A small deterministic generator over template fragments, valid and not: every input must
    // give output or an error, never a panic.
    const FRAGMENTS: &[&str] = &[
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        "\n",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "$x",
        ":=",
        "=",
        "$",
        ".",
        ".a",
        ".a.b",
        "(",
        ")",
        "|",
        "\"s\"",
        "`r`",
        "'c'",
        "1",
        "-1",
        "1.5",
        "0x1p3",
        "nil",
        "true",
        "len",
        "index",
        "printf",
        "\"%d %s %v %x %5.2f %!\"",
        "include",
        "tpl",
        "list",
        "dict",
        "set",
        "toYaml",
        "and",
        "or",
        "eq",
        "lt",
        "slice",
        "/*",
        "*/",
        ",",
        "é",
        "\u{0}",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut outcomes = [0usize; 2];
    for _ in 0..3000 {
        let len = next() % 24;
        let mut src = String::new();
        for _ in 0..len {
            let pick = usize::try_from(next() % FRAGMENTS.len() as u64).expect("small");
            src.push_str(FRAGMENTS.get(pick).expect("in range"));
        }
        let ok = run(&src).is_ok();
        outcomes[usize::from(ok)] += 1;
    }
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "both outcomes seen: {outcomes:?}"
    );
}

#[test]
fn every_helm_function_name_parses_and_env_does_not() {
    let funcs = helm_funcs();
    for name in HELM_FUNCTION_NAMES {
        assert!(funcs.contains(name), "{name} is registered");
    }
    assert!(!funcs.contains("env") && !funcs.contains("expandenv"));
    let e = run("{{ if false }}{{ getHostByName }}{{ end }}{{ getHostByName \"x\" }}")
        .expect_err("a stub");
    assert!(
        e.ends_with("error calling getHostByName: function \"getHostByName\" is not implemented"),
        "{e}"
    );
}

#[test]
fn a_map_containing_itself_does_not_crash_the_walkers() {
    let out = run(r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "self" $d }}{{ $c := deepCopy $d }}[{{ toJson $d }}][{{ toYaml $d }}]{{ $_ := merge $d $d }}{{ has $d (list $d) }}{{ len (printf "%v" $d) }}"#)
        .expect("renders");
    assert!(
        out.starts_with("[][]false"),
        "{}",
        out.get(..40).unwrap_or(&out)
    );
}

#[test]
fn a_large_template_renders_every_line() {
    let mut src = String::from(
        "{{- define \"row\" }}{{ .i }}: {{ printf \"%s-%d\" .name .i | quote }}{{ end }}\n",
    );
    for i in 0..5000 {
        writeln!(
            src,
            "{{{{ include \"row\" (dict \"i\" {i} \"name\" \"n\") }}}}"
        )
        .expect("writes to a String");
    }
    let out = run(&src).expect("renders");
    assert_eq!(out.trim_start().lines().count(), 5000);
    assert!(out.ends_with("4999: \"n-4999\"\n"));
}

#[test]
fn random_functions_give_the_asked_shape_and_differ() {
    let out = run("{{ randAlphaNum 16 }} {{ randAlpha 8 }} {{ randNumeric 5 }} {{ randAscii 4 | len }} {{ randInt 3 5 }} {{ uuidv4 }} [{{ randAlpha -1 }}]").expect("renders");
    let parts: Vec<&str> = out.split(' ').collect();
    assert_eq!(parts.len(), 7, "{out}");
    assert!(
        parts[0].len() == 16 && parts[0].chars().all(|c| c.is_ascii_alphanumeric()),
        "{out}"
    );
    assert!(
        parts[1].len() == 8 && parts[1].chars().all(|c| c.is_ascii_alphabetic()),
        "{out}"
    );
    assert!(
        parts[2].len() == 5 && parts[2].chars().all(|c| c.is_ascii_digit()),
        "{out}"
    );
    assert_eq!(parts[3], "4");
    assert!(parts[4] == "3" || parts[4] == "4", "{out}");
    let uuid = parts[5];
    assert!(
        uuid.len() == 36 && uuid.as_bytes()[14] == b'4' && uuid.matches('-').count() == 4,
        "{uuid}"
    );
    assert_eq!(parts[6], "[]");
    let again = run("{{ randAlphaNum 32 }}").expect("renders");
    assert_ne!(
        run("{{ randAlphaNum 32 }}").expect("renders"),
        again,
        "two draws of 32 characters differ"
    );
}
