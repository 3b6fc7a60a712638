//! Go's `encoding/json` string quoting, which the kustomize builder (the
//! content hash of generated objects) and the Helm renderer (`toJson`)
//! must reproduce byte for byte.

use std::fmt::Write as _;

/// Appends `s` to `out` quoted as Go's `json.Marshal` writes it: `"` and
/// `\` escaped, `\n`, `\r`, `\t` by name, other control characters and
/// U+2028/U+2029 as `\u00XX`, and with `escape_html` (Go's default) also
/// `<`, `>` and `&`.
pub fn quote(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn strings_quote_as_go_marshals_them() {
        let quoted = |s: &str, html: bool| {
            let mut out = String::new();
            quote(&mut out, s, html);
            out
        };
        assert_eq!(
            quoted("a\"b\\c\n\r\t\u{1}<&>\u{2028}é", true),
            "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u003c\\u0026\\u003e\\u2028é\""
        );
        assert_eq!(quoted("<&>", false), "\"<&>\"");
    }
}
