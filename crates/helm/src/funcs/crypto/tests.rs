//! The generated certificates and keys, read back with an independent parser (`x509-parser`)
//! and checked field by field against what Sprig's Go code makes.

use super::*;
use crate::funcs::helm_funcs;
use crate::template::Templates;
use x509_parser::prelude::*;

/// Renders `src` and splits the output at `|`.
fn render(src: &str) -> Vec<String> {
    let mut t = Templates::new("gotpl", helm_funcs());
    t.parse("t", src).expect("parses");
    let mut out = String::new();
    t.execute("t", &Value::Nil, &mut out).expect("renders");
    out.split('|').map(str::to_owned).collect()
}

fn render_err(src: &str) -> String {
    let mut t = Templates::new("gotpl", helm_funcs());
    t.parse("t", src).expect("parses");
    let mut out = String::new();
    t.execute("t", &Value::Nil, &mut out)
        .expect_err("fails")
        .to_string()
}

fn der_of(pem: &str, label: &str) -> Vec<u8> {
    let block = pem_decode(pem).expect("a PEM block");
    assert_eq!(block.label, label);
    assert_eq!(pem_encode(label, &block.der), pem, "Go's PEM layout");
    block.der
}

fn now() -> i64 {
    crate::funcs::dates::now_unix().0
}

fn common_name(name: &X509Name<'_>) -> String {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .expect("a common name")
        .to_owned()
}

fn check_validity(cert: &X509Certificate<'_>, days: i64) {
    let from = cert.validity().not_before.timestamp();
    let to = cert.validity().not_after.timestamp();
    assert!((now() - from).abs() <= 5, "NotBefore is now");
    assert_eq!(to - from, days * 86_400, "NotAfter is now plus the days");
}

#[test]
fn gen_ca_is_a_self_signed_rsa_2048_ca_as_sprig_makes_it() {
    let out = render(r#"{{ $ca := genCA "my-ca" 365 }}{{ $ca.Cert }}|{{ $ca.Key }}"#);
    let der = der_of(&out[0], "CERTIFICATE");
    let (rest, cert) = X509Certificate::from_der(&der).expect("a certificate");
    assert!(rest.is_empty());
    assert_eq!(cert.version(), X509Version::V3);
    assert_eq!(common_name(cert.subject()), "my-ca");
    assert_eq!(cert.subject().as_raw(), cert.issuer().as_raw());
    assert!(cert.is_ca());
    check_validity(&cert, 365);
    assert!(cert.tbs_certificate.raw_serial().len() <= 17);
    let usage = cert.key_usage().expect("valid").expect("present");
    assert!(usage.critical);
    assert!(
        usage.value.digital_signature()
            && usage.value.key_encipherment()
            && usage.value.key_cert_sign()
    );
    let ext = cert.extended_key_usage().expect("valid").expect("present");
    assert!(ext.value.server_auth && ext.value.client_auth && !ext.critical);
    let basic = cert.basic_constraints().expect("valid").expect("present");
    assert!(basic.critical && basic.value.ca);
    let Some(ParsedExtension::SubjectKeyIdentifier(skid)) = cert
        .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        .expect("valid")
        .map(X509Extension::parsed_extension)
    else {
        panic!("a subject key identifier");
    };
    let spki_bits = cert.public_key().subject_public_key.data.to_vec();
    let digest = sha2::Sha256::digest(&spki_bits);
    assert_eq!(skid.0, digest.get(..20).expect("20 bytes"));
    assert!(
        cert.get_extension_unique(
            &x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER
        )
        .expect("valid")
        .is_none(),
        "Go gives a self-signed certificate no authority key identifier"
    );
    cert.verify_signature(None).expect("self-signed");

    let key_der = der_of(&out[1], "RSA PRIVATE KEY");
    let key = RsaPrivateKey::from_pkcs1_der(&key_der).expect("PKCS#1");
    assert_eq!(rsa::traits::PublicKeyParts::size(&key), 256, "RSA 2048");
    let spki = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key.to_public_key()).expect("spki");
    assert_eq!(
        spki.as_bytes(),
        cert.public_key().raw,
        "the key is the certificate's"
    );
}

#[test]
fn gen_signed_cert_is_issued_by_the_ca_with_its_names() {
    let out = render(
        r#"{{ $ca := genCA "the-ca" 10 }}{{ $c := genSignedCert "leaf.example" (list "10.0.0.1" "::1" "::ffff:1.2.3.4") (list "a.example" "*.b.example") 30 $ca }}{{ $ca.Cert }}|{{ $c.Cert }}|{{ $c.Key }}"#,
    );
    let ca_der = der_of(&out[0], "CERTIFICATE");
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("the CA");
    let der = der_of(&out[1], "CERTIFICATE");
    let (_, cert) = X509Certificate::from_der(&der).expect("the leaf");
    assert_eq!(cert.issuer().as_raw(), ca.subject().as_raw());
    assert_eq!(common_name(cert.subject()), "leaf.example");
    assert!(!cert.is_ca());
    let basic = cert.basic_constraints().expect("valid").expect("present");
    assert!(basic.critical && !basic.value.ca);
    check_validity(&cert, 30);
    let usage = cert.key_usage().expect("valid").expect("present");
    assert!(!usage.value.key_cert_sign());
    let san = cert
        .subject_alternative_name()
        .expect("valid")
        .expect("present");
    assert!(!san.critical);
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => format!("dns:{d}"),
            GeneralName::IPAddress(ip) => format!("ip:{}", ip.len()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        ["dns:a.example", "dns:*.b.example", "ip:4", "ip:16", "ip:4"]
    );
    let Some(ParsedExtension::AuthorityKeyIdentifier(akid)) = cert
        .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
        .expect("valid")
        .map(X509Extension::parsed_extension)
    else {
        panic!("an authority key identifier");
    };
    let Some(ParsedExtension::SubjectKeyIdentifier(skid)) = ca
        .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_SUBJECT_KEY_IDENTIFIER)
        .expect("valid")
        .map(X509Extension::parsed_extension)
    else {
        panic!("the CA's subject key identifier");
    };
    assert_eq!(akid.key_identifier.as_ref().map(|k| k.0), Some(skid.0));
    cert.verify_signature(Some(ca.public_key()))
        .expect("signed by the CA");
    assert!(
        cert.verify_signature(Some(cert.public_key())).is_err(),
        "not self-signed"
    );
    der_of(&out[2], "RSA PRIVATE KEY");
}

#[test]
fn certificates_with_given_ec_and_ed25519_keys_verify() {
    let out = render(
        r#"{{ $ecKey := genPrivateKey "ecdsa" }}{{ $ca := genCAWithKey "ec-ca" 3 $ecKey }}{{ $edKey := genPrivateKey "ed25519" }}{{ $c := genSignedCertWithKey "ed" nil nil 1 $ca $edKey }}{{ $s := genSelfSignedCertWithKey "" nil (list "only.example") 2 $edKey }}{{ $ca.Cert }}|{{ $c.Cert }}|{{ $s.Cert }}|{{ $ca.Key }}|{{ $ecKey }}|{{ $c.Key }}|{{ $edKey }}"#,
    );
    assert_eq!(out[3], out[4], "the CA keeps the given key");
    assert_eq!(out[5], out[6], "the certificate keeps the given key");
    der_of(&out[4], "EC PRIVATE KEY");
    der_of(&out[6], "PRIVATE KEY");
    let ca_der = der_of(&out[0], "CERTIFICATE");
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("the EC CA");
    ca.verify_signature(None).expect("self-signed with ECDSA");
    let der = der_of(&out[1], "CERTIFICATE");
    let (_, cert) = X509Certificate::from_der(&der).expect("the Ed25519 leaf");
    cert.verify_signature(Some(ca.public_key()))
        .expect("signed by the EC CA");
    assert!(cert.subject_alternative_name().expect("valid").is_none());
    let der = der_of(&out[2], "CERTIFICATE");
    let (_, self_signed) = X509Certificate::from_der(&der).expect("the Ed25519 self-signed");
    self_signed
        .verify_signature(None)
        .expect("self-signed with Ed25519");
    assert!(self_signed.subject().iter().next().is_none(), "no subject");
    let san = self_signed
        .subject_alternative_name()
        .expect("valid")
        .expect("present");
    assert!(
        san.critical,
        "Go marks the names critical under an empty subject"
    );
}

#[test]
fn custom_certificates_sign_like_generated_ones() {
    let out = render(
        r#"{{ $ca := genCA "ca" 1 }}{{ $c := buildCustomCert (b64enc $ca.Cert) (b64enc $ca.Key) }}{{ $l := genSignedCert "l" nil nil 1 $c }}{{ $ca.Cert }}|{{ $l.Cert }}"#,
    );
    let ca_der = der_of(&out[0], "CERTIFICATE");
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("CA");
    let leaf_der = der_of(&out[1], "CERTIFICATE");
    let (_, leaf) = X509Certificate::from_der(&leaf_der).expect("leaf");
    leaf.verify_signature(Some(ca.public_key()))
        .expect("signed");
}

#[test]
fn a_ca_whose_key_does_not_match_is_refused() {
    let e = render_err(
        r#"{{ $a := genCA "a" 1 }}{{ $b := genCAWithKey "b" 1 (genPrivateKey "ecdsa") }}{{ genSignedCert "x" nil nil 1 (buildCustomCert (b64enc $a.Cert) (b64enc $b.Key)) }}"#,
    );
    assert!(
        e.ends_with("x509: provided PrivateKey doesn't match parent's PublicKey"),
        "{e}"
    );
    let e = render_err(r#"{{ genSignedCert "x" nil nil 1 (dict "Cert" "" "Key" "") }}"#);
    assert!(
        e.ends_with("expected sprig.certificate; got map[string]interface {}"),
        "{e}"
    );
    let e = render_err(r#"{{ genPrivateKey "dsa" }}"#);
    assert!(e.contains("DSA keys"), "{e}");
}

#[test]
fn gen_private_key_rsa_is_4096_bits_pkcs1() {
    let out = render(r#"{{ genPrivateKey "rsa" }}"#);
    let key = RsaPrivateKey::from_pkcs1_der(&der_of(&out[0], "RSA PRIVATE KEY")).expect("PKCS#1");
    assert_eq!(rsa::traits::PublicKeyParts::size(&key), 512);
}

#[test]
fn htpasswd_and_bcrypt_verify_with_bcrypt() {
    let out = render(r#"{{ htpasswd "user" "s3cret pass" }}|{{ bcrypt "other" }}"#);
    let hash = out[0].strip_prefix("user:").expect("user:hash");
    assert!(hash.starts_with("$2a$10$"));
    assert!(bcrypt::verify("s3cret pass", hash).expect("a hash"));
    assert!(!bcrypt::verify("wrong", hash).expect("a hash"));
    assert!(bcrypt::verify("other", &out[1]).expect("a hash"));
}

#[test]
fn common_names_use_printable_or_utf8_strings_as_go_does() {
    assert_eq!(name("*.a-b.example").get(11), Some(&PRINTABLE_STRING));
    assert_eq!(name("a&b").get(11), Some(&UTF8_STRING));
    assert_eq!(name("ü").get(11), Some(&UTF8_STRING));
    assert_eq!(name(""), vec![SEQUENCE, 0]);
}
