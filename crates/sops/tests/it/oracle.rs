//! Our decryption against `sops -d` on documents the reference `sops`
//! encrypted: every format, every value type, comments, nested lists, the
//! encryption rules, age and PGP keys.

use anyhow::Result;
use ferroflux_sops::{Format, Keys, decrypt, decrypt_file};

use crate::support::{Fixture, age_keys};

/// Every value type, nesting and comments sops keeps.
const YAML: &str = r#"# a head comment
string: hello world
quoted: "needs: quoting"
yes_string: "yes"
empty: ""
int: 42
negative: -7
float: 3.25
whole_float: 2.0
bool_true: true
bool_false: false
nothing: null
multiline: "line one\nline two"
nested:
    # a nested comment
    inner: value
    deeper:
        key: 1
    list:
        - a
        - 2
        - 1.5
        - false
        - x: y
          z: w
        - - inner list
          - 3
    empty_map: {}
    empty_list: []
unicode: "héllo ✓"
# a foot comment
"#;

fn assert_same(ours: &[u8], theirs: &[u8], what: &str) {
    assert_eq!(
        String::from_utf8_lossy(ours),
        String::from_utf8_lossy(theirs),
        "{what}: our decryption differs from sops -d"
    );
}

#[test]
fn yaml_with_every_value_type_decrypts_as_sops_does() -> Result<()> {
    let f = Fixture::new()?;
    let enc = f.encrypt_age("values.yaml", YAML.as_bytes(), &[])?;
    let ours = decrypt_file("values.yaml", &enc, Format::Yaml, &age_keys(&f))?;
    let theirs = f.decrypt_ref("values.yaml", &enc, &[])?;
    assert_same(&ours, &theirs, "YAML");
    // The values, as JSON, match sops's own YAML-to-JSON output.
    let doc = decrypt("values.yaml", &enc, Format::Yaml, &age_keys(&f))?;
    let json: serde_json::Value =
        serde_json::from_slice(&f.decrypt_ref("values.yaml", &enc, &["--output-type", "json"])?)?;
    assert_eq!(doc.to_json()[0], json);
    Ok(())
}

#[test]
fn multi_document_yaml_decrypts_every_document() -> Result<()> {
    let f = Fixture::new()?;
    let plain = "a: 1\n# between\nb: [x, y]\n---\nc:\n    d: secret\n";
    let enc = f.encrypt_age("multi.yaml", plain.as_bytes(), &[])?;
    let doc = decrypt("multi.yaml", &enc, Format::Yaml, &age_keys(&f))?;
    assert_eq!(doc.branches.len(), 2);
    let ours = decrypt_file("multi.yaml", &enc, Format::Yaml, &age_keys(&f))?;
    assert_same(
        &ours,
        &f.decrypt_ref("multi.yaml", &enc, &[])?,
        "multi-document YAML",
    );
    Ok(())
}

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
    name: db
    namespace: default
type: Opaque
stringData:
    password: hunter2
    port: \"5432\"
data:
    token: c2VjcmV0
";

#[test]
fn encrypted_regex_leaves_the_rest_in_clear() -> Result<()> {
    let f = Fixture::new()?;
    let enc = f.encrypt_age(
        "secret.yaml",
        SECRET.as_bytes(),
        &["--encrypted-regex", "^(data|stringData)$"],
    )?;
    let text = String::from_utf8(enc.clone())?;
    assert!(
        text.contains("name: db") && !text.contains("hunter2"),
        "sops encrypted as expected"
    );
    let ours = decrypt_file("secret.yaml", &enc, Format::Yaml, &age_keys(&f))?;
    assert_same(
        &ours,
        &f.decrypt_ref("secret.yaml", &enc, &[])?,
        "encrypted_regex",
    );
    Ok(())
}

#[test]
fn unencrypted_suffix_and_unencrypted_regex_are_honoured() -> Result<()> {
    let f = Fixture::new()?;
    let plain = "user_plain: admin\npassword: s3cret\nnested_plain:\n    all: clear\n";
    let enc = f.encrypt_age(
        "suffix.yaml",
        plain.as_bytes(),
        &["--unencrypted-suffix", "_plain"],
    )?;
    assert!(String::from_utf8(enc.clone())?.contains("user_plain: admin"));
    let ours = decrypt_file("suffix.yaml", &enc, Format::Yaml, &age_keys(&f))?;
    assert_same(
        &ours,
        &f.decrypt_ref("suffix.yaml", &enc, &[])?,
        "unencrypted_suffix",
    );

    let enc = f.encrypt_age(
        "regex.yaml",
        plain.as_bytes(),
        &["--unencrypted-regex", "^user"],
    )?;
    let ours = decrypt_file("regex.yaml", &enc, Format::Yaml, &age_keys(&f))?;
    assert_same(
        &ours,
        &f.decrypt_ref("regex.yaml", &enc, &[])?,
        "unencrypted_regex",
    );

    let enc = f.encrypt_age(
        "esuffix.yaml",
        plain.as_bytes(),
        &["--encrypted-suffix", "word"],
    )?;
    let ours = decrypt_file("esuffix.yaml", &enc, Format::Yaml, &age_keys(&f))?;
    assert_same(
        &ours,
        &f.decrypt_ref("esuffix.yaml", &enc, &[])?,
        "encrypted_suffix",
    );
    Ok(())
}

#[test]
fn mac_only_encrypted_covers_only_the_encrypted_values() -> Result<()> {
    let f = Fixture::new()?;
    // `mac_only_encrypted` is set by a creation rule (the CLI has no flag).
    std::fs::write(
        f.path(".sops.yaml"),
        format!(
            "creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n    age: {}\n",
            f.age_recipient
        ),
    )?;
    std::fs::write(f.path("maconly.yaml"), SECRET)?;
    let enc = f.sops(&["encrypt", "maconly.yaml"])?;
    assert!(String::from_utf8(enc.clone())?.contains("mac_only_encrypted: true"));
    // Changing a value in clear keeps the MAC valid, as in sops.
    let edited = String::from_utf8(enc)?.replace("name: db", "name: renamed");
    let ours = decrypt_file(
        "maconly.yaml",
        edited.as_bytes(),
        Format::Yaml,
        &age_keys(&f),
    )?;
    assert_same(
        &ours,
        &f.decrypt_ref("maconly.yaml", edited.as_bytes(), &[])?,
        "mac_only_encrypted",
    );
    Ok(())
}

#[test]
fn json_with_every_value_type_decrypts_as_sops_does() -> Result<()> {
    let f = Fixture::new()?;
    let plain = r#"{"s": "str <&> \"q\"", "i": 1, "f": 2.5, "big": 1e21, "small": 1e-7, "t": true, "n": null,
        "o": {"l": [1, "two", false, {"k": "v"}, []], "e": {}}, "u": "✓"}"#;
    let enc = f.encrypt_age("doc.json", plain.as_bytes(), &[])?;
    let ours = decrypt_file("doc.json", &enc, Format::Json, &age_keys(&f))?;
    assert_same(&ours, &f.decrypt_ref("doc.json", &enc, &[])?, "JSON");
    Ok(())
}

#[test]
fn dotenv_decrypts_as_sops_does() -> Result<()> {
    let f = Fixture::new()?;
    let plain = "# database\nDB_USER=admin\nDB_PASS=p@ss=word\nMULTI=a\\nb\nEMPTY=\n";
    let enc = f.encrypt_age("app.env", plain.as_bytes(), &[])?;
    let ours = decrypt_file("app.env", &enc, Format::Dotenv, &age_keys(&f))?;
    assert_same(&ours, &f.decrypt_ref("app.env", &enc, &[])?, "dotenv");
    Ok(())
}

#[test]
fn ini_decrypts_as_sops_does() -> Result<()> {
    let f = Fixture::new()?;
    let plain =
        "; head\n[database]\nuser = admin\n# inner\npassword = hunter2\n\n[cache]\nttl = 30\n";
    let enc = f.encrypt_age("app.ini", plain.as_bytes(), &[])?;
    let ours = decrypt_file("app.ini", &enc, Format::Ini, &age_keys(&f))?;
    assert_same(&ours, &f.decrypt_ref("app.ini", &enc, &[])?, "INI");
    Ok(())
}

#[test]
fn binary_decrypts_byte_for_byte() -> Result<()> {
    let f = Fixture::new()?;
    let plain: Vec<u8> = b"-----BEGIN KEY-----\nbinary\x01\x02 data\n\twith tabs\n".to_vec();
    let enc = f.encrypt_age("tls.key", &plain, &[])?;
    let ours = decrypt_file("tls.key", &enc, Format::Binary, &age_keys(&f))?;
    assert_eq!(ours, plain);
    assert_same(
        &ours,
        &f.decrypt_ref(
            "tls.key",
            &enc,
            &["--input-type", "binary", "--output-type", "binary"],
        )?,
        "binary",
    );
    Ok(())
}

#[test]
fn openpgp_keys_decrypt_yaml_and_dotenv() -> Result<()> {
    let f = Fixture::new()?;
    for algo in ["default", "rsa2048"] {
        let (fp, armored) = f.gpg_key(algo)?;
        let mut keys = Keys::new();
        keys.add_pgp("sops.asc", &armored)?;
        std::fs::write(f.path("pgp.yaml"), YAML)?;
        let enc = f.sops(&["encrypt", "--pgp", &fp, "pgp.yaml"])?;
        let ours = decrypt_file("pgp.yaml", &enc, Format::Yaml, &keys)?;
        assert_same(&ours, &f.decrypt_ref("pgp.yaml", &enc, &[])?, "PGP YAML");
        std::fs::write(f.path("pgp.env"), "A=1\nB=two\n")?;
        let enc = f.sops(&["encrypt", "--pgp", &fp, "pgp.env"])?;
        assert_eq!(
            decrypt_file("pgp.env", &enc, Format::Dotenv, &keys)?,
            b"A=1\nB=two\n"
        );
        std::fs::remove_dir_all(f.path("gnupg"))?;
    }
    Ok(())
}

#[test]
fn a_file_for_age_and_pgp_decrypts_with_either_key() -> Result<()> {
    let f = Fixture::new()?;
    let (fp, armored) = f.gpg_key("default")?;
    std::fs::write(f.path("both.yaml"), "k: v\n")?;
    let enc = f.sops(&[
        "encrypt",
        "--pgp",
        &fp,
        "--age",
        &f.age_recipient,
        "both.yaml",
    ])?;
    let mut pgp_only = Keys::new();
    pgp_only.add_pgp("k.asc", &armored)?;
    assert_eq!(
        decrypt_file("both.yaml", &enc, Format::Yaml, &pgp_only)?,
        b"k: v\n"
    );
    assert_eq!(
        decrypt_file("both.yaml", &enc, Format::Yaml, &age_keys(&f))?,
        b"k: v\n"
    );
    Ok(())
}
