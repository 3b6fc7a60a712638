use super::*;
use crate::template::value::{List, Map};
use std::collections::BTreeMap;

fn f(x: f64) -> Value {
    Value::Float(x)
}

#[test]
fn floats_print_as_go_prints_them_with_v() {
    for (x, want) in [
        (1_000_000.0, "1e+06"),
        (123_456.0, "123456"),
        (1.0, "1"),
        (0.0, "0"),
        (-0.000_012_3, "-1.23e-05"),
        (2.5e-5, "2.5e-05"),
        (123_456_789.0, "1.23456789e+08"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (f64::INFINITY, "+Inf"),
        (f64::NAN, "NaN"),
    ] {
        assert_eq!(format_v(&f(x)), want, "{x}");
    }
}

#[test]
fn fixed_precision_rounds_half_to_even_on_the_exact_value() {
    assert_eq!(
        sprintf("%.2f %.1f %.0f", &[f(0.125), f(0.25), f(0.5)]),
        "0.12 0.2 0"
    );
    assert_eq!(
        sprintf(
            "%e %E %.3g %g",
            &[f(1234.5678), f(0.5), f(1234.5678), f(100.0)]
        ),
        "1.234568e+03 5.000000E-01 1.23e+03 100"
    );
    assert_eq!(
        sprintf(
            "%.2g %8.3f|%-8.2f|%08.3f",
            &[f(100.0), f(1.23456), f(2.5), f(-1.23456)]
        ),
        "1e+02    1.235|2.50    |-001.235"
    );
}

#[test]
fn integers_take_flags_width_and_precision() {
    let i = Value::int;
    assert_eq!(
        sprintf(
            "%5d|%-5d|%05d|%+d|%x|%X|%#x|%o|%#o|%b|%O|%.3d",
            &[
                i(42),
                i(42),
                i(-42),
                i(7),
                i(255),
                i(255),
                i(255),
                i(8),
                i(8),
                i(5),
                i(8),
                i(7)
            ]
        ),
        "   42|42   |-0042|+7|ff|FF|0xff|10|010|101|0o10|007"
    );
    assert_eq!(
        sprintf("%c %q %U", &[i(65), i(97), i(0x1F600)]),
        "A 'a' U+1F600"
    );
}

#[test]
fn strings_quote_pad_and_hex() {
    let s = Value::str;
    assert_eq!(
        sprintf(
            "%05s|%-4s|%.2s|%q|%x|% x|%#q",
            &[
                s("a"),
                s("b"),
                s("hello"),
                s("a\"b\n"),
                s("hi"),
                s("hi"),
                s("raw")
            ]
        ),
        "0000a|b   |he|\"a\\\"b\\n\"|6869|68 69|`raw`"
    );
}

#[test]
fn bad_verbs_missing_and_extra_operands_are_marked_as_go_marks_them() {
    assert_eq!(sprintf("%d", &[f(8080.0)]), "%!d(float64=8080)");
    assert_eq!(sprintf("%s", &[Value::int(5)]), "%!s(int=5)");
    assert_eq!(sprintf("%d %d", &[Value::int(1)]), "1 %!d(MISSING)");
    assert_eq!(
        sprintf("%d", &[Value::int(1), Value::str("x"), Value::Nil]),
        "1%!(EXTRA string=x, <nil>)"
    );
    assert_eq!(sprintf("%d", &[Value::Nil]), "%!d(<nil>)");
    assert_eq!(sprintf("100%", &[]), "100%!(NOVERB)");
    assert_eq!(
        sprintf("%[2]d %[1]d", &[Value::int(1), Value::int(2)]),
        "2 1"
    );
    assert_eq!(
        sprintf(
            "%*d|%.*f",
            &[Value::int(4), Value::int(7), Value::int(1), f(2.25)]
        ),
        "   7|2.2"
    );
}

#[test]
fn collections_print_elementwise() {
    let list = Value::List(List::new(vec![Value::int(1), Value::str("a"), Value::Nil]));
    assert_eq!(format_v(&list), "[1 a <nil>]");
    assert_eq!(
        sprintf("%s", std::slice::from_ref(&list)),
        "[%!s(int=1) a <nil>]"
    );
    let mut m = BTreeMap::new();
    m.insert("b".to_owned(), f(2.0));
    m.insert("a".to_owned(), Value::Map(Map::new(BTreeMap::new())));
    assert_eq!(format_v(&Value::Map(Map::new(m))), "map[a:map[] b:2]");
    assert_eq!(
        sprint(&[Value::int(1), Value::int(2), Value::str("x"), Value::int(3)]),
        "1 2x3"
    );
    assert_eq!(sprintln(&[Value::str("a"), Value::str("b")]), "a b\n");
    assert_eq!(
        sprintf("%T %T %T", &[list, Value::Nil, f(1.0)]),
        "[]interface {} <nil> float64"
    );
}
