use super::*;

#[test]
fn numbers_read_as_go_reads_them() {
    let n = |s: &str| number(s).expect("a number");
    assert_eq!(n("0x1F").int, Some(31));
    assert_eq!(n("0o17").int, Some(15));
    assert_eq!(n("017").int, Some(15));
    assert_eq!(n("0b101").int, Some(5));
    assert_eq!(n("1_000").int, Some(1000));
    assert_eq!(n("-5").uint, None);
    assert_eq!(n("1e3").int, Some(1000));
    assert_eq!(n("1.5").int, None);
    assert_eq!(n("0x1p20").float, Some(1_048_576.0));
    assert_eq!(n("0x1.8p1").float, Some(3.0));
    assert_eq!(n("18446744073709551615").uint, Some(u64::MAX));
    assert_eq!(n("18446744073709551615").int, None);
}

#[test]
fn bad_numbers_fail_with_go_messages() {
    assert_eq!(
        number("0x").expect_err("bad"),
        "illegal number syntax: \"0x\""
    );
    assert_eq!(
        number("1__0").expect_err("bad"),
        "illegal number syntax: \"1__0\""
    );
    assert_eq!(
        number("99999999999999999999").expect_err("bad"),
        "integer overflow: \"99999999999999999999\""
    );
    // Go reads "08" as a float (8) after the octal read fails, then calls it an overflow.
    assert_eq!(number("08").expect_err("bad"), "integer overflow: \"08\"");
}

#[test]
fn strings_and_characters_unquote_as_go_does() {
    assert_eq!(
        unquote(r#""a\tb\x41\101\u00e9\U0001F600\"""#).as_deref(),
        Ok("a\tbAAé😀\"")
    );
    assert_eq!(unquote("`raw\\n\r\nline`").as_deref(), Ok("raw\\n\nline"));
    assert!(unquote(r#""\q""#).is_err());
    assert!(unquote(r#""\'""#).is_err());
    assert_eq!(char_number("'a'").expect("a rune").int, Some(97));
    assert_eq!(char_number(r"'\n'").expect("a rune").int, Some(10));
    assert_eq!(
        char_number("'ab'").expect_err("two runes"),
        "malformed character constant: 'ab'"
    );
}
