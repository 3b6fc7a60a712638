use super::*;

fn has(name: &str) -> bool {
    matches!(name, "printf" | "len" | "eq")
}

fn parse_one(src: &str) -> Result<Vec<Tree>, ParseError> {
    parse("t", src, &has)
}

fn err(src: &str) -> String {
    parse_one(src).expect_err("a parse error").to_string()
}

#[test]
fn nodes_print_back_as_go_prints_them() {
    let trees = parse_one("{{ $x := printf \"%d\" 1 | len }}{{ if eq 1 2 }}a{{ else if $x }}b{{ else }}c{{ end }}{{ (len \"a\").x }}").expect("parses");
    let root = &trees.last().expect("a tree").root;
    assert_eq!(
        root.to_string(),
        "{{$x := printf \"%d\" 1 | len}}{{if eq 1 2}}a{{else}}{{if $x}}b{{else}}c{{end}}{{end}}{{(len \"a\").x}}"
    );
}

#[test]
fn defines_become_their_own_trees() {
    let trees =
        parse_one("{{ define \"a\" }}A{{ end }}x{{ block \"b\" . }}B{{ end }}").expect("parses");
    let names: Vec<&str> = trees.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "t"]);
}

#[test]
fn parse_errors_are_go_messages_with_lines() {
    for (src, msg) in [
        ("{{ nope }}", "template: t:1: function \"nope\" not defined"),
        ("\n{{ $x }}", "template: t:2: undefined variable \"$x\""),
        ("{{ break }}", "template: t:1: {{break}} outside {{range}}"),
        (
            "{{ continue }}",
            "template: t:1: {{continue}} outside {{range}}",
        ),
        ("{{ if }}{{ end }}", "template: t:1: missing value for if"),
        ("{{ if 1 }}", "template: t:1: unexpected EOF"),
        ("{{ end }}", "template: t:1: unexpected {{end}}"),
        (
            "{{ 1 | 2 }}",
            "template: t:1: non executable command in pipeline stage 2",
        ),
        (
            "{{ \"a\".b }}",
            "template: t:1: unexpected . after term \"\\\"a\\\"\"",
        ),
        (
            "{{ define \"a\" }}x{{ end }}{{ define \"a\" }}y{{ end }}",
            "template: t:1: template: multiple definition of template \"a\"",
        ),
        (
            "{{ range $a, $b, $c := . }}{{ end }}",
            "template: t:1: too many declarations in range",
        ),
        ("{{ 1 }", "template: t:1: unexpected \"}\" in operand"),
        (
            "{{ 99999999999999999999 }}",
            "template: t:1: integer overflow: \"99999999999999999999\"",
        ),
        ("{{ \"\\q\" }}", "template: t:1: invalid syntax"),
    ] {
        assert_eq!(err(src), msg, "{src}");
    }
}

#[test]
fn variables_are_scoped_to_their_control_structure() {
    assert!(parse_one("{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}").is_err());
    assert!(parse_one("{{ range $i, $v := . }}{{ $i }}{{ $v }}{{ break }}{{ end }}").is_ok());
    assert!(parse_one("{{ define \"d\" }}{{ $x }}{{ end }}{{ $x := 1 }}").is_err());
}

#[test]
fn nesting_is_capped_instead_of_exhausting_the_stack() {
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(2000), ")".repeat(2000));
    assert!(err(&deep).contains("nesting deeper than"));
}
