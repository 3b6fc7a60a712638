//! Bad input fails with typed errors naming the document and the path, and
//! never carrying the plaintext.

use anyhow::Result;
use ferroflux_sops::{Error, Format, Keys, ValueError, decrypt, decrypt_file};

use crate::support::{Fixture, age_keys};

const PLAIN: &str = "user: admin\npassword: correct-horse-battery\n";
const SECRET_WORD: &str = "correct-horse-battery";

fn assert_no_plaintext(e: &Error) {
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(SECRET_WORD),
        "the error leaks the plaintext: {shown}"
    );
    assert!(
        !shown.contains("admin"),
        "the error leaks a plaintext value: {shown}"
    );
}

#[test]
fn a_wrong_age_key_is_no_key_naming_the_recipient() -> Result<()> {
    let f = Fixture::new()?;
    let enc = f.encrypt_age("s.yaml", PLAIN.as_bytes(), &[])?;
    let other = Fixture::new()?;
    let e = decrypt("s.yaml", &enc, Format::Yaml, &age_keys(&other)).unwrap_err();
    assert!(matches!(e, Error::NoKey { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("s.yaml") && msg.contains(&f.age_recipient),
        "{msg}"
    );
    assert_no_plaintext(&e);
    Ok(())
}

#[test]
fn no_key_at_all_is_no_key() -> Result<()> {
    let f = Fixture::new()?;
    let enc = f.encrypt_age("s.yaml", PLAIN.as_bytes(), &[])?;
    let e = decrypt("s.yaml", &enc, Format::Yaml, &Keys::new()).unwrap_err();
    assert!(matches!(e, Error::NoKey { .. }), "{e}");
    Ok(())
}

#[test]
fn a_tampered_value_fails_naming_its_path() -> Result<()> {
    let f = Fixture::new()?;
    let enc = String::from_utf8(f.encrypt_age("s.yaml", PLAIN.as_bytes(), &[])?)?;
    // Swap the two encrypted values: each is bound to its own key path.
    let lines: Vec<&str> = enc.lines().collect();
    let user = lines[0].strip_prefix("user: ").unwrap();
    let pass = lines[1].strip_prefix("password: ").unwrap();
    let swapped = enc
        .replacen(user, "@@", 1)
        .replacen(pass, user, 1)
        .replacen("@@", pass, 1);
    let e = decrypt("s.yaml", swapped.as_bytes(), Format::Yaml, &age_keys(&f)).unwrap_err();
    match &e {
        Error::Value { name, path, reason } => {
            assert_eq!(name, "s.yaml");
            assert_eq!(path, "user");
            assert_eq!(*reason, ValueError::Auth);
        }
        other => panic!("expected a value error, got {other}"),
    }
    assert_no_plaintext(&e);
    Ok(())
}

#[test]
fn a_tampered_mac_is_a_mac_mismatch() -> Result<()> {
    let f = Fixture::new()?;
    // A value in clear edited by hand: every value decrypts, the MAC does not match.
    let plain = "user_plain: admin\npassword: correct-horse-battery\n";
    let enc = f.encrypt_age(
        "t.yaml",
        plain.as_bytes(),
        &["--unencrypted-suffix", "_plain"],
    )?;
    let edited = String::from_utf8(enc)?.replace("user_plain: admin", "user_plain: root");
    let e = decrypt("t.yaml", edited.as_bytes(), Format::Yaml, &age_keys(&f)).unwrap_err();
    assert!(matches!(e, Error::MacMismatch { .. }), "{e}");
    assert!(e.to_string().contains("t.yaml"));
    assert_no_plaintext(&e);
    let enc = f.encrypt_age("s.yaml", PLAIN.as_bytes(), &[])?;
    // The stored MAC itself corrupted.
    let text = String::from_utf8(enc)?;
    let at = text.find("mac: ENC[AES256_GCM,data:").unwrap() + "mac: ENC[AES256_GCM,data:".len();
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let e = decrypt("s.yaml", &bytes, Format::Yaml, &age_keys(&f)).unwrap_err();
    assert!(
        matches!(&e, Error::Value { path, reason: ValueError::Auth, .. } if path == "sops:mac"),
        "{e}"
    );
    Ok(())
}

#[test]
fn kms_only_files_are_refused_by_name() -> Result<()> {
    let f = Fixture::new()?;
    let enc = String::from_utf8(f.encrypt_age("s.yaml", PLAIN.as_bytes(), &[])?)?;
    // The age stanza replaced by a KMS one, as a file encrypted for AWS KMS only has.
    let start = enc.find("    age:").unwrap();
    let end = enc.find("    lastmodified:").unwrap();
    let kms = "    kms:\n        - arn: arn:aws:kms:eu-west-1:111122223333:key/abc\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: AQICAHh\n          aws_profile: \"\"\n";
    let kms_only = format!("{}{kms}{}", &enc[..start], &enc[end..]);
    let e = decrypt("s.yaml", kms_only.as_bytes(), Format::Yaml, &age_keys(&f)).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("AWS KMS"), "{e}");
    Ok(())
}

#[test]
fn plaintext_and_garbage_are_typed_errors() {
    let keys = Keys::new();
    assert!(matches!(
        decrypt("p.yaml", PLAIN.as_bytes(), Format::Yaml, &keys),
        Err(Error::NotEncrypted { .. })
    ));
    let e = decrypt("g.yaml", b"a: [unclosed", Format::Yaml, &keys).unwrap_err();
    assert!(matches!(e, Error::Parse { .. }), "{e}");
    let e = decrypt(
        "g.json",
        b"{\"password\": \"correct-horse-battery\"",
        Format::Json,
        &keys,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Parse { .. }), "{e}");
    assert_no_plaintext(&e);
    let big = vec![b'a'; ferroflux_sops::MAX_FILE_SIZE + 1];
    assert!(matches!(
        decrypt_file("big.bin", &big, Format::Binary, &keys),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn bad_keys_in_the_secret_are_named() {
    let e =
        Keys::from_entries([("age.agekey", b"AGE-SECRET-KEY-1NOTAKEY".as_slice())]).unwrap_err();
    assert!(e.to_string().contains("age.agekey"), "{e}");
    let e = Keys::from_entries([("key.asc", b"not armored".as_slice())]).unwrap_err();
    assert!(e.to_string().contains("key.asc"), "{e}");
    // Entries of other kinds are ignored, as Flux ignores them.
    assert!(
        Keys::from_entries([("sops.vault-token", b"x".as_slice())])
            .unwrap()
            .is_empty()
    );
}
