//! One `ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]` value: AES-256-GCM
//! with sops's 32-byte nonce, the key path as additional data, and the type
//! that says how to read the plaintext.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::ValueError;

/// AES-256-GCM with the 32-byte nonces sops generates.
type SopsGcm = AesGcm<Aes256, U32>;

/// A decrypted value, typed as its `type:` field says.
pub(crate) enum Plain {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    Comment(String),
}

/// The fields of an `ENC[...]` value.
struct Parts<'a> {
    data: &'a str,
    iv: &'a str,
    tag: &'a str,
    kind: &'a str,
}

/// Splits `ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]` as sops's regular
/// expression does (`^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`;
/// base64 has no commas, so the first `,iv:` and so on end each field).
fn split(value: &str) -> Option<Parts<'_>> {
    let rest = value.strip_prefix("ENC[AES256_GCM,data:")?;
    let (data, rest) = rest.split_once(",iv:")?;
    let (iv, rest) = rest.split_once(",tag:")?;
    let (tag, rest) = rest.split_once(",type:")?;
    let end = rest.rfind(']')?;
    let kind = &rest[..end];
    if data.is_empty() || iv.is_empty() || tag.is_empty() || kind.is_empty() {
        return None;
    }
    Some(Parts {
        data,
        iv,
        tag,
        kind,
    })
}

/// Decrypts one value with the data key and the additional data sops used
/// (the key path joined with `:` plus a trailing `:`, or `lastmodified` for
/// the MAC). An empty string is the empty string, as in sops.
pub(crate) fn decrypt(value: &str, key: &[u8; 32], aad: &str) -> Result<Plain, ValueError> {
    if value.is_empty() {
        return Ok(Plain::Str(String::new()));
    }
    let parts = split(value).ok_or(ValueError::Format)?;
    let mut data = STANDARD
        .decode(parts.data)
        .map_err(|_| ValueError::Base64("data"))?;
    let iv = STANDARD
        .decode(parts.iv)
        .map_err(|_| ValueError::Base64("iv"))?;
    let tag = STANDARD
        .decode(parts.tag)
        .map_err(|_| ValueError::Base64("tag"))?;
    if iv.len() != 32 {
        return Err(ValueError::Nonce(iv.len()));
    }
    data.extend_from_slice(&tag);
    let cipher = SopsGcm::new(key.into());
    let plain = cipher
        .decrypt(
            Nonce::<U32>::from_slice(&iv),
            Payload {
                msg: &data,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| ValueError::Auth)?;
    typed(parts.kind, plain)
}

/// Reads decrypted bytes as sops's Go code does for each type.
fn typed(kind: &str, plain: Vec<u8>) -> Result<Plain, ValueError> {
    let text = || String::from_utf8(plain.clone());
    Ok(match kind {
        "str" => Plain::Str(text().map_err(|_| ValueError::Type("UTF-8 string"))?),
        "comment" => Plain::Comment(text().map_err(|_| ValueError::Type("UTF-8 comment"))?),
        "bytes" => Plain::Bytes(plain),
        "int" | "int64" => Plain::Int(
            text()
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or(ValueError::Type("integer"))?,
        ),
        "float" => Plain::Float(
            text()
                .ok()
                .and_then(|s| parse_go_float(&s))
                .ok_or(ValueError::Type("float"))?,
        ),
        "bool" => Plain::Bool(match text().as_deref() {
            Ok("1" | "t" | "T" | "TRUE" | "true" | "True") => true,
            Ok("0" | "f" | "F" | "FALSE" | "false" | "False") => false,
            _ => return Err(ValueError::Type("boolean")),
        }),
        other => return Err(ValueError::UnknownType(other.to_owned())),
    })
}

/// Go's `strconv.ParseFloat(s, 64)` for the texts sops writes (decimal and
/// exponent forms, `NaN`, `+Inf`, `-Inf`).
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that
/// reads back as `f`, never in exponent form. What the MAC hashes for a
/// float.
pub(crate) fn format_float_f(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        // Rust's `Display` for f64 is the shortest round-trip form without
        // an exponent, as Go's 'f' with precision -1.
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_formatted_as_go_formats_them() {
        assert_eq!(format_float_f(1.0), "1");
        assert_eq!(format_float_f(1.5), "1.5");
        assert_eq!(format_float_f(0.1), "0.1");
        assert_eq!(format_float_f(1e21), "1000000000000000000000");
        assert_eq!(format_float_f(-2.25e-7), "-0.000000225");
    }

    #[test]
    fn malformed_values_are_format_errors() {
        let key = [0u8; 32];
        for bad in [
            "plain",
            "ENC[AES256_GCM,data:,iv:a,tag:b,type:str]",
            "ENC[AES256_GCM,data:YQ==,iv:YQ==]",
        ] {
            assert!(
                matches!(decrypt(bad, &key, "a:"), Err(ValueError::Format)),
                "{bad}"
            );
        }
        assert!(matches!(
            decrypt(
                "ENC[AES256_GCM,data:YQ==,iv:YQ==,tag:YQ==,type:str]",
                &key,
                "a:"
            ),
            Err(ValueError::Nonce(1))
        ));
    }
}
