//! Webhook signatures: the `sha256=<hex>` HMAC headers Flux's Receivers
//! check (`generic-hmac`, GitHub's `X-Hub-Signature-256`), compared in
//! constant time.

use hmac::{Hmac, Mac as _};
use sha2_hmac::Sha256;

/// Equality that takes as long whatever the inputs share.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a `sha256=<hex>` signature header against the HMAC-SHA256 of
/// `body` with `token`, in constant time; `false` for a missing or
/// malformed header.
#[must_use]
pub fn matches(signature: Option<&str>, token: &str, body: &[u8]) -> bool {
    let Some(hex) = signature.and_then(|s| s.strip_prefix("sha256=")) else {
        return false;
    };
    let Some(expected) = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(token.as_bytes()) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::{constant_time_eq, matches};
    use crate::providers::sign;

    #[test]
    fn signatures_are_checked_as_flux_does() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let good = format!("sha256={}", sign("key", body));
        assert!(matches(Some(&good), "key", body));
        assert!(!matches(Some(&good), "other", body));
        assert!(!matches(Some("sha256=zz"), "key", body));
        assert!(!matches(Some("sha1=00"), "key", body));
        assert!(!matches(Some("sha256=0"), "key", body));
        assert!(!matches(None, "key", body));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
