//! Unit tests of the key-file rules: entry names, refusals and their
//! messages, and which objects count as still encrypted. Real keys from
//! `age-keygen` and `gpg` are in the integration tests.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

#[test]
fn entries_are_named_by_stem_and_kind() {
    for (path, kind, want) in [
        ("keys.txt", KeyKind::Age, "keys.agekey"),
        (
            "/home/me/.config/sops/age/keys.txt",
            KeyKind::Age,
            "keys.agekey",
        ),
        ("age.agekey", KeyKind::Age, "age.agekey"),
        ("cluster", KeyKind::Age, "cluster.agekey"),
        ("sops.asc", KeyKind::Pgp, "sops.asc"),
        ("my key (prod).asc", KeyKind::Pgp, "my-key--prod-.asc"),
        ("prod.v2.asc", KeyKind::Pgp, "prod.v2.asc"),
        ("-", KeyKind::Age, "age.agekey"),
        ("-", KeyKind::Pgp, "sops.asc"),
        ("..", KeyKind::Pgp, "sops.asc"),
    ] {
        assert_eq!(entry_name(Path::new(path), kind), want, "{path}");
    }
}

#[test]
fn key_kind_is_told_by_content() {
    assert_eq!(
        KeyKind::of_content(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n..."),
        KeyKind::Pgp
    );
    assert_eq!(
        KeyKind::of_content(b"# created: 2024\nAGE-SECRET-KEY-1XYZ\n"),
        KeyKind::Age
    );
}

#[test]
fn a_secret_needs_a_key_and_distinct_entries() {
    let error = secret("keys", "ns", &SopsSecretFlags::default()).unwrap_err();
    assert!(error.to_string().contains("--age-key-file"), "{error}");
    assert_eq!(error.exit_code(), 2);

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.txt");
    let error = secret(
        "keys",
        "ns",
        &SopsSecretFlags {
            age_key_files: vec![missing],
            ..SopsSecretFlags::default()
        },
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("absent.txt: cannot be read"),
        "{error}"
    );
}

#[test]
fn files_that_are_not_keys_are_refused_by_name_without_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let secret_text = "password=hunter2-do-not-print-me\n";
    for (flags, names, says) in [
        (
            SopsSecretFlags {
                age_key_files: vec![write("notes.txt", secret_text)],
                ..SopsSecretFlags::default()
            },
            "--age-key-file",
            "notes.txt",
        ),
        (
            SopsSecretFlags {
                pgp_key_files: vec![write("notes.asc", secret_text)],
                ..SopsSecretFlags::default()
            },
            "--pgp-key-file",
            "notes.asc",
        ),
        (
            SopsSecretFlags {
                age_key_files: vec![write(
                    "public.txt",
                    "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
                )],
                ..SopsSecretFlags::default()
            },
            "age recipient (public key)",
            "public.txt",
        ),
        (
            SopsSecretFlags {
                pgp_key_files: vec![write(
                    "public.asc",
                    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZz\n-----END PGP PUBLIC KEY BLOCK-----\n",
                )],
                ..SopsSecretFlags::default()
            },
            "gpg --export-secret-keys --armor",
            "public.asc",
        ),
        (
            SopsSecretFlags {
                age_key_files: vec![write(
                    "typo.txt",
                    "# public key: age1xyz\nAGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n",
                )],
                ..SopsSecretFlags::default()
            },
            "line 2: not an age X25519 identity",
            "typo.txt",
        ),
        (
            SopsSecretFlags {
                pgp_key_files: vec![write(
                    "age-as-pgp.asc",
                    "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n",
                )],
                ..SopsSecretFlags::default()
            },
            "give it with --age-key-file",
            "age-as-pgp.asc",
        ),
    ] {
        let error = secret("keys", "ns", &flags).unwrap_err().to_string();
        assert!(error.contains(names), "{error}");
        assert!(error.contains(says), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        assert!(!error.contains("QQQQQQQQQQQQ"), "{error}");
    }
}

#[test]
fn a_message_quoting_the_file_is_detected() {
    let content = b"AGE-SECRET-KEY-1ABCDEFGHIJKLMNOP\n";
    assert!(leaks("line 1: bad key AGE-SECRET-KEY-1ABCDEF", content));
    assert!(!leaks("line 1: not an age X25519 identity", content));
    assert!(!leaks("            ", b"                  "));
}

#[test]
fn still_encrypted_objects_are_those_with_sops_metadata_or_encrypted_values() {
    let whole = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps"},
        "stringData": {"password": "ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]"},
        "sops": {"mac": "ENC[AES256_GCM,data:m,iv:x,tag:y,type:str]"}});
    let enc_value = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "env", "namespace": "apps"},
        "data": {"token": "RU5DW0FFUzI1Nl9HQ00sZGF0YTp4XQ=="}});
    let document =
        "a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n    mac: ENC[AES256_GCM,data:m]\n";
    let nested = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "files", "namespace": "apps"},
        "stringData": {"config.yaml": document}});
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "apps"},
        "data": {"x": "ENC[AES256_GCM,data:x]"}});
    let plain = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "plain", "namespace": "apps"},
        "data": {"password": "czNjcmV0"}});
    let mut disabled = whole.clone();
    disabled["metadata"]["name"] = json!("kept");
    disabled["metadata"]["annotations"] = json!({DECRYPT_ANNOTATION: "disabled"});
    let ids = still_encrypted(&[whole, enc_value, nested, config_map, plain, disabled]);
    assert_eq!(
        ids,
        ["Secret/apps/db", "Secret/apps/env", "Secret/apps/files"]
    );
    let note = not_decrypted_note(&ids);
    assert!(
        note.starts_with("3 objects are SOPS-encrypted and were not decrypted (Secret/apps/db, "),
        "{note}"
    );
    assert!(note.contains("--decryption-key FILE"), "{note}");
    let one = not_decrypted_note(&ids[..1]);
    assert!(
        one.starts_with("1 object is SOPS-encrypted and was not"),
        "{one}"
    );
    let many: Vec<String> = (0..7).map(|n| format!("Secret/apps/s{n}")).collect();
    assert!(not_decrypted_note(&many).contains("Secret/apps/s4 and 2 more)"));
}

#[test]
fn no_decryption_key_means_no_decryption() {
    assert!(decryption_keys(&[]).unwrap().is_none());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.txt");
    std::fs::write(&path, "# no key here\n").unwrap();
    let error = decryption_keys(&[path]).unwrap_err().to_string();
    assert!(error.starts_with("--decryption-key "), "{error}");
    assert!(error.contains("empty.txt"), "{error}");
}
