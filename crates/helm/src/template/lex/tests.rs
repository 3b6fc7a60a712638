use super::*;

fn kinds(src: &str) -> Vec<(Kind, String)> {
    lex(src).into_iter().map(|i| (i.kind, i.val)).collect()
}

#[test]
fn trim_markers_eat_surrounding_whitespace() {
    let items = kinds("a  \n{{- 1 -}}\n  b");
    assert_eq!(items.first(), Some(&(Kind::Text, "a".to_owned())));
    assert!(items.contains(&(Kind::Number, "1".to_owned())));
    assert!(items.contains(&(Kind::Text, "b".to_owned())));
}

#[test]
fn a_dash_without_space_is_a_negative_number() {
    let items = kinds("{{-3}}");
    assert!(
        items.contains(&(Kind::Number, "-3".to_owned())),
        "{items:?}"
    );
}

#[test]
fn comments_vanish_and_must_touch_the_delimiters() {
    assert_eq!(
        kinds("x {{- /* c */ -}} y"),
        vec![
            (Kind::Text, "x".to_owned()),
            (Kind::Text, "y".to_owned()),
            (Kind::Eof, String::new())
        ]
    );
    let bad = lex("{{/* c */ x}}");
    assert_eq!(
        bad.last().map(|i| i.val.as_str()),
        Some("comment ends before closing delimiter")
    );
    let unclosed = lex("{{/* c");
    assert_eq!(
        unclosed.last().map(|i| i.val.as_str()),
        Some("unclosed comment")
    );
}

#[test]
fn numbers_fields_variables_and_strings() {
    let items = kinds("{{ 0x1p20 1_000 .5 'a' .a.b $x := \"s\\n\" `raw` }}");
    let want = [
        (Kind::Number, "0x1p20"),
        (Kind::Number, "1_000"),
        (Kind::Number, ".5"),
        (Kind::CharConstant, "'a'"),
        (Kind::Field, ".a"),
        (Kind::Field, ".b"),
        (Kind::Variable, "$x"),
        (Kind::Declare, ":="),
        (Kind::String, "\"s\\n\""),
        (Kind::RawString, "`raw`"),
    ];
    let got: Vec<(Kind, String)> = items
        .into_iter()
        .filter(|(k, _)| {
            !matches!(
                k,
                Kind::Space | Kind::LeftDelim | Kind::RightDelim | Kind::Eof
            )
        })
        .collect();
    let want: Vec<(Kind, String)> = want.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    assert_eq!(got, want);
}

#[test]
fn lexing_errors_carry_go_messages() {
    for (src, msg) in [
        ("{{ \"abc }}", "unterminated quoted string"),
        ("{{ `abc }}", "unterminated raw quoted string"),
        ("{{ 'a }}", "unterminated character constant"),
        ("{{ 3x }}", "bad number syntax: \"3x\""),
        ("{{ ( }}", "unclosed left paren"),
        ("{{ ) }}", "unexpected right paren"),
        ("{{ a", "unclosed action"),
        ("{{ a: }}", "expected :="),
        ("{{ .a# }}", "bad character U+0023 '#'"),
    ] {
        let items = lex(src);
        let last = items.last().expect("an item");
        assert_eq!((last.kind, last.val.as_str()), (Kind::Error, msg), "{src}");
    }
}
