//! Sprig's cryptographic functions as Helm 4.1.4 exposes them:
//! - certificates: `genCA genCAWithKey genSelfSignedCert genSelfSignedCertWithKey genSignedCert
//!   genSignedCertWithKey buildCustomCert`, returning Sprig's `certificate` struct (fields `Cert`
//!   and `Key`, PEM strings);
//! - keys: `genPrivateKey` (`rsa` 4096-bit PKCS#1, `ecdsa` P-256 SEC1, `ed25519` PKCS#8);
//! - passwords: `bcrypt htpasswd derivePassword`;
//! - `encryptAES decryptAES` (AES-256-CBC with a random IV, base64).
//!
//! Certificates are laid out as Go's `crypto/x509` writes Sprig's templates: version 3, a random
//! serial below 2^128, the subject's common name only, `NotBefore` now and `NotAfter` now plus
//! the days, key usage (critical), server and client auth, basic constraints (critical), a
//! subject key identifier on CAs (the first 20 bytes of the SHA-256 of the public key, as Go
//! 1.25 makes it), the authority key identifier of the issuer, and the DNS and IP names. New keys
//! are RSA 2048 as in Sprig, written as PKCS#1 `RSA PRIVATE KEY`.
//!
//! # Caveats
//!
//! DSA keys (`genPrivateKey "dsa"`, a `DSA PRIVATE KEY`) and EC keys on curves other than P-256
//! are refused by name. ECDSA signatures are deterministic (RFC 6979) where Go's are random;
//! both verify the same way.

mod der;

use std::net::IpAddr;
use std::rc::Rc;

use aes::cipher::{BlockDecrypt as _, BlockEncrypt as _, KeyInit as _};
use rand_core::OsRng;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::Digest as _;

use self::der::{
    BIT_STRING, BOOLEAN, GENERALIZED_TIME, INTEGER, NULL, OCTET_STRING, PRINTABLE_STRING, Reader,
    SEQUENCE, SET, UTC_TIME, UTF8_STRING, bits, cons, pem_decode, pem_encode, tlv, uint,
};
use super::encoding::{b64_decode, b64_encode};
use super::{arg_int, arg_str, arg_type, strval};
use crate::template::{Arity, FuncError, Funcs, ListType, Object, Value, format_v};

/// Sprig's type name for the certificate struct.
const CERTIFICATE_TYPE: &str = "sprig.certificate";

pub(super) fn register(f: &mut Funcs) {
    f.insert("genCA", Arity::Exact(2), |_, a| {
        let (cn, days) = (arg_str(a, 0)?, arg_int(a, 1)?);
        let key = PrivateKey::generate_rsa(2048)?;
        certificate_authority(cn, days, &key)
    });
    f.insert("genCAWithKey", Arity::Exact(3), |_, a| {
        let (cn, days) = (arg_str(a, 0)?, arg_int(a, 1)?);
        let key = PrivateKey::from_pem(arg_str(a, 2)?).map_err(parsing_key)?;
        certificate_authority(cn, days, &key)
    });
    f.insert("genSelfSignedCert", Arity::Exact(4), |_, a| {
        let spec = CertSpec::from_args(a)?;
        let key = PrivateKey::generate_rsa(2048)?;
        self_signed(&spec, &key)
    });
    f.insert("genSelfSignedCertWithKey", Arity::Exact(5), |_, a| {
        let spec = CertSpec::from_args(a)?;
        let key = PrivateKey::from_pem(arg_str(a, 4)?).map_err(parsing_key)?;
        self_signed(&spec, &key)
    });
    f.insert("genSignedCert", Arity::Exact(5), |_, a| {
        let spec = CertSpec::from_args(a)?;
        let ca = arg_certificate(a, 4)?;
        let key = PrivateKey::generate_rsa(2048)?;
        signed(&spec, &ca, &key)
    });
    f.insert("genSignedCertWithKey", Arity::Exact(6), |_, a| {
        let spec = CertSpec::from_args(a)?;
        let ca = arg_certificate(a, 4)?;
        let key = PrivateKey::from_pem(arg_str(a, 5)?).map_err(parsing_key)?;
        signed(&spec, &ca, &key)
    });
    f.insert("buildCustomCert", Arity::Exact(2), |_, a| {
        build_custom_cert(arg_str(a, 0)?, arg_str(a, 1)?)
    });
    f.insert("genPrivateKey", Arity::Exact(1), |_, a| {
        let key = match arg_str(a, 0)? {
            "" | "rsa" => PrivateKey::generate_rsa(4096),
            "ecdsa" => Ok(PrivateKey::Ec(p256::SecretKey::random(&mut OsRng))),
            "ed25519" => {
                let mut seed = [0u8; 32];
                rand_core::RngCore::try_fill_bytes(&mut OsRng, &mut seed)
                    .map_err(|e| FuncError::Failed(format!("failed to generate private key: {e}")))?;
                Ok(PrivateKey::Ed25519(seed))
            }
            "dsa" => Err(FuncError::Failed(
                "genPrivateKey \"dsa\" is not supported: DSA keys are deprecated; use rsa, ecdsa or ed25519".to_owned(),
            )),
            other => return Ok(Value::from(format!("Unknown type {other}"))),
        }?;
        Ok(Value::from(key.to_pem()?))
    });
    f.insert("bcrypt", Arity::Exact(1), |_, a| {
        Ok(Value::from(bcrypt_hash(arg_str(a, 0)?)))
    });
    f.insert("htpasswd", Arity::Exact(2), |_, a| {
        let (user, password) = (arg_str(a, 0)?, arg_str(a, 1)?);
        if user.contains(':') {
            return Ok(Value::from(format!("invalid username: {user}")));
        }
        Ok(Value::from(format!("{user}:{}", bcrypt_hash(password))))
    });
    f.insert("derivePassword", Arity::Exact(5), |_, a| {
        let counter = match a.first() {
            Some(Value::Int(n, crate::template::IntType::Uint64)) => *n,
            Some(Value::Int(n, _)) if u32::try_from(*n).is_ok() => *n,
            other => return Err(arg_type(0, "uint32", other)),
        };
        let counter = u32::try_from(counter).map_err(|_| arg_type(0, "uint32", a.first()))?;
        derive_password(
            counter,
            arg_str(a, 1)?,
            arg_str(a, 2)?,
            arg_str(a, 3)?,
            arg_str(a, 4)?,
        )
        .map(Value::from)
    });
    f.insert("encryptAES", Arity::Exact(2), |_, a| {
        encrypt_aes(arg_str(a, 0)?, arg_str(a, 1)?).map(Value::from)
    });
    f.insert("decryptAES", Arity::Exact(2), |_, a| {
        decrypt_aes(arg_str(a, 0)?, arg_str(a, 1)?).map(Value::from)
    });
}

/// Sprig's `certificate` struct: a PEM certificate and its PEM private key.
#[derive(Clone, Debug)]
pub(crate) struct Certificate {
    cert: String,
    key: String,
}

impl Object for Certificate {
    fn type_name(&self) -> String {
        CERTIFICATE_TYPE.to_owned()
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::str(&self.cert)),
            "Key" => Some(Value::str(&self.key)),
            _ => None,
        }
    }

    fn format(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }
}

fn cert_value(cert: String, key: String) -> Value {
    Value::Object(Rc::new(Certificate { cert, key }))
}

/// Argument `i` as Sprig's `certificate` parameter: the struct `genCA` and friends return.
fn arg_certificate(a: &[Value], i: usize) -> Result<Certificate, FuncError> {
    match a.get(i) {
        Some(Value::Object(o)) if o.type_name() == CERTIFICATE_TYPE => {
            let field = |name: &str| o.field(name).map(|v| strval(&v)).unwrap_or_default();
            Ok(Certificate {
                cert: field("Cert"),
                key: field("Key"),
            })
        }
        other => Err(arg_type(i, CERTIFICATE_TYPE, other)),
    }
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(parsing_key)`"
)]
fn parsing_key(e: String) -> FuncError {
    FuncError::Failed(format!("parsing private key: {e}"))
}

/// A private key of one of the kinds Sprig makes or reads.
enum PrivateKey {
    Rsa(Box<RsaPrivateKey>),
    Ec(p256::SecretKey),
    Ed25519([u8; 32]),
}

/// OIDs, DER-encoded with their tag.
const OID_RSA_ENCRYPTION: &[u8] = &[6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 1];
const OID_SHA256_WITH_RSA: &[u8] = &[6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11];
const OID_EC_PUBLIC_KEY: &[u8] = &[6, 7, 0x2a, 0x86, 0x48, 0xce, 0x3d, 2, 1];
const OID_PRIME256V1: &[u8] = &[6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7];
const OID_ECDSA_SHA256: &[u8] = &[6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2];
const OID_ED25519: &[u8] = &[6, 3, 0x2b, 0x65, 0x70];
const OID_COMMON_NAME: &[u8] = &[6, 3, 0x55, 4, 3];
const OID_KEY_USAGE: &[u8] = &[6, 3, 0x55, 0x1d, 0x0f];
const OID_EXT_KEY_USAGE: &[u8] = &[6, 3, 0x55, 0x1d, 0x25];
const OID_BASIC_CONSTRAINTS: &[u8] = &[6, 3, 0x55, 0x1d, 0x13];
const OID_SUBJECT_KEY_ID: &[u8] = &[6, 3, 0x55, 0x1d, 0x0e];
const OID_AUTHORITY_KEY_ID: &[u8] = &[6, 3, 0x55, 0x1d, 0x23];
const OID_SUBJECT_ALT_NAME: &[u8] = &[6, 3, 0x55, 0x1d, 0x11];
const OID_SERVER_AUTH: &[u8] = &[6, 8, 0x2b, 6, 1, 5, 5, 7, 3, 1];
const OID_CLIENT_AUTH: &[u8] = &[6, 8, 0x2b, 6, 1, 5, 5, 7, 3, 2];

impl PrivateKey {
    fn generate_rsa(bits: usize) -> Result<PrivateKey, FuncError> {
        RsaPrivateKey::new(&mut OsRng, bits)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(|e| FuncError::Failed(format!("error generating rsa key: {e}")))
    }

    /// Sprig's `parsePrivateKeyPEM`: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1
    /// `EC PRIVATE KEY`.
    fn from_pem(text: &str) -> Result<PrivateKey, String> {
        let block = pem_decode(text).ok_or("no PEM data in input")?;
        if block.label == "PRIVATE KEY" {
            return PrivateKey::from_pkcs8(&block.der)
                .map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
        }
        let Some(kind) = block.label.strip_suffix(" PRIVATE KEY") else {
            return Err(format!(
                "no private key data in PEM block of type {}",
                block.label
            ));
        };
        match kind {
            "RSA" => RsaPrivateKey::from_pkcs1_der(&block.der)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
            "EC" => p256::SecretKey::from_sec1_der(&block.der)
                .map(PrivateKey::Ec)
                .map_err(|_| {
                    "parsing EC private key from PEM: only P-256 EC keys are supported here"
                        .to_owned()
                }),
            "DSA" => Err("DSA private keys are not supported".to_owned()),
            _ => Err(format!("invalid private key type {}", block.label)),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, String> {
        let malformed = || "malformed PKCS#8 private key".to_owned();
        let mut outer = Reader::new(der);
        let info = outer.expect(SEQUENCE).ok_or_else(malformed)?;
        let mut r = Reader::new(info.content);
        r.expect(INTEGER).ok_or_else(malformed)?;
        let alg = r.expect(SEQUENCE).ok_or_else(malformed)?;
        let oid = Reader::new(alg.content)
            .expect(der::OID)
            .ok_or_else(malformed)?;
        match oid.raw {
            OID_RSA_ENCRYPTION => RsaPrivateKey::from_pkcs8_der(der)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|e| e.to_string()),
            OID_EC_PUBLIC_KEY => p256::SecretKey::from_pkcs8_der(der)
                .map(PrivateKey::Ec)
                .map_err(|_| "only P-256 EC keys are supported here".to_owned()),
            OID_ED25519 => {
                let key = r.expect(OCTET_STRING).ok_or_else(malformed)?;
                let seed = Reader::new(key.content)
                    .expect(OCTET_STRING)
                    .ok_or_else(malformed)?;
                let seed: [u8; 32] = seed
                    .content
                    .try_into()
                    .map_err(|_| "invalid Ed25519 private key".to_owned())?;
                Ok(PrivateKey::Ed25519(seed))
            }
            _ => Err("unknown private key algorithm".to_owned()),
        }
    }

    /// Sprig's `pemBlockForKey`: RSA as PKCS#1, EC as SEC1, others as PKCS#8.
    fn to_pem(&self) -> Result<String, FuncError> {
        let failed =
            |e: &dyn std::fmt::Display| FuncError::Failed(format!("error pem-encoding key: {e}"));
        Ok(match self {
            PrivateKey::Rsa(k) => {
                let der = k.to_pkcs1_der().map_err(|e| failed(&e))?;
                pem_encode("RSA PRIVATE KEY", der.as_bytes())
            }
            PrivateKey::Ec(k) => {
                // Go's SEC1 form names the curve, which the crate's encoder leaves out.
                let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                    &k.public_key(),
                    false,
                );
                let der = cons(
                    SEQUENCE,
                    &[
                        &uint(&[1]),
                        &tlv(OCTET_STRING, &k.to_bytes()),
                        &cons(0xa0, &[OID_PRIME256V1]),
                        &cons(0xa1, &[&bits(point.as_bytes())]),
                    ],
                );
                pem_encode("EC PRIVATE KEY", &der)
            }
            PrivateKey::Ed25519(seed) => {
                let inner = tlv(OCTET_STRING, seed);
                let der = cons(
                    SEQUENCE,
                    &[
                        &uint(&[0]),
                        &cons(SEQUENCE, &[OID_ED25519]),
                        &tlv(OCTET_STRING, &inner),
                    ],
                );
                pem_encode("PRIVATE KEY", &der)
            }
        })
    }

    /// The public key as a certificate holds it: the `SubjectPublicKeyInfo` and the bytes of
    /// its BIT STRING (what the key identifier hashes).
    fn public_key(&self) -> Result<(Vec<u8>, Vec<u8>), FuncError> {
        let (alg, key) = match self {
            PrivateKey::Rsa(k) => {
                let der = k
                    .to_public_key()
                    .to_pkcs1_der()
                    .map_err(|e| FuncError::Failed(format!("encoding the RSA public key: {e}")))?;
                (
                    cons(SEQUENCE, &[OID_RSA_ENCRYPTION, &tlv(NULL, &[])]),
                    der.as_bytes().to_vec(),
                )
            }
            PrivateKey::Ec(k) => (
                cons(SEQUENCE, &[OID_EC_PUBLIC_KEY, OID_PRIME256V1]),
                p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                    &k.public_key(),
                    false,
                )
                .as_bytes()
                .to_vec(),
            ),
            PrivateKey::Ed25519(seed) => {
                let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
                    .map_err(|e| FuncError::Failed(format!("invalid Ed25519 key: {e}")))?;
                (
                    cons(SEQUENCE, &[OID_ED25519]),
                    ring::signature::KeyPair::public_key(&pair)
                        .as_ref()
                        .to_vec(),
                )
            }
        };
        Ok((cons(SEQUENCE, &[&alg, &bits(&key)]), key))
    }

    /// The signature algorithm Go picks for this key.
    fn signature_algorithm(&self) -> Vec<u8> {
        match self {
            PrivateKey::Rsa(_) => cons(SEQUENCE, &[OID_SHA256_WITH_RSA, &tlv(NULL, &[])]),
            PrivateKey::Ec(_) => cons(SEQUENCE, &[OID_ECDSA_SHA256]),
            PrivateKey::Ed25519(_) => cons(SEQUENCE, &[OID_ED25519]),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, FuncError> {
        let failed = |e: &dyn std::fmt::Display| {
            FuncError::Failed(format!("error creating certificate: x509: signing: {e}"))
        };
        match self {
            PrivateKey::Rsa(k) => {
                let digest = <rsa::sha2::Sha256 as rsa::sha2::Digest>::digest(message);
                k.sign(Pkcs1v15Sign::new::<rsa::sha2::Sha256>(), &digest)
                    .map_err(|e| failed(&e))
            }
            PrivateKey::Ec(k) => {
                let signer = p256::ecdsa::SigningKey::from(k);
                let sig: p256::ecdsa::Signature =
                    p256::ecdsa::signature::Signer::try_sign(&signer, message)
                        .map_err(|e| failed(&e))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            PrivateKey::Ed25519(seed) => {
                let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
                    .map_err(|e| failed(&e))?;
                Ok(pair.sign(message).as_ref().to_vec())
            }
        }
    }
}

/// The parts of Sprig's certificate template the caller chooses.
struct CertSpec {
    cn: String,
    ips: Vec<IpAddr>,
    dns: Vec<String>,
    days: i64,
}

impl CertSpec {
    /// `cn ips alternateDNS daysValid`, the first four arguments of the certificate functions.
    fn from_args(a: &[Value]) -> Result<CertSpec, FuncError> {
        let cn = arg_str(a, 0)?.to_owned();
        let ips = arg_interface_list(a, 1)?;
        let dns = arg_interface_list(a, 2)?;
        let days = arg_int(a, 3)?;
        let ips = ips
            .iter()
            .map(|v| match v {
                Value::String(s) => s
                    .parse::<IpAddr>()
                    .map_err(|_| FuncError::Failed(format!("error parsing ip: {s}"))),
                other => Err(FuncError::Failed(format!(
                    "error parsing ip: {} is not a string",
                    format_v(other)
                ))),
            })
            .collect::<Result<_, _>>()?;
        let dns = dns
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.to_string()),
                other => Err(FuncError::Failed(format!(
                    "error processing alternate dns name: {} is not a string",
                    format_v(other)
                ))),
            })
            .collect::<Result<_, _>>()?;
        Ok(CertSpec { cn, ips, dns, days })
    }
}

/// Argument `i` as a Go `[]interface {}` parameter (nil gives an empty list).
fn arg_interface_list(a: &[Value], i: usize) -> Result<Vec<Value>, FuncError> {
    match a.get(i) {
        None | Some(Value::Nil | Value::Invalid) => Ok(Vec::new()),
        Some(Value::List(l)) if l.list_type() == ListType::Any => Ok(l.items().to_vec()),
        other => Err(arg_type(i, "[]interface {}", other)),
    }
}

/// Who signs a certificate: the certificate's own key, or a CA.
struct Issuer<'a> {
    /// The issuer's name (DER); `None` for a self-signed certificate.
    name: Option<Vec<u8>>,
    subject_key_id: Vec<u8>,
    key: &'a PrivateKey,
}

fn certificate_authority(cn: &str, days: i64, key: &PrivateKey) -> Result<Value, FuncError> {
    let spec = CertSpec {
        cn: cn.to_owned(),
        ips: Vec::new(),
        dns: Vec::new(),
        days,
    };
    let issuer = Issuer {
        name: None,
        subject_key_id: Vec::new(),
        key,
    };
    let cert = create_certificate(&spec, true, key, &issuer)?;
    Ok(cert_value(cert, key.to_pem()?))
}

fn self_signed(spec: &CertSpec, key: &PrivateKey) -> Result<Value, FuncError> {
    let issuer = Issuer {
        name: None,
        subject_key_id: Vec::new(),
        key,
    };
    let cert = create_certificate(spec, false, key, &issuer)?;
    Ok(cert_value(cert, key.to_pem()?))
}

fn signed(spec: &CertSpec, ca: &Certificate, key: &PrivateKey) -> Result<Value, FuncError> {
    let block = pem_decode(&ca.cert).ok_or("unable to decode certificate")?;
    let parent = ParsedCertificate::parse(&block.der).ok_or_else(|| {
        FuncError::Failed(
            "error parsing certificate: decodedSignerCert.Bytes: x509: malformed certificate"
                .to_owned(),
        )
    })?;
    let signer = PrivateKey::from_pem(&ca.key)
        .map_err(|e| FuncError::Failed(format!("error parsing private key: {e}")))?;
    if signer.public_key()?.0 != parent.public_key_info {
        return Err(FuncError::Failed(
            "error creating certificate: x509: provided PrivateKey doesn't match parent's PublicKey"
                .to_owned(),
        ));
    }
    let issuer = Issuer {
        name: Some(parent.subject),
        subject_key_id: parent.subject_key_id,
        key: &signer,
    };
    let cert = create_certificate(spec, false, key, &issuer)?;
    Ok(cert_value(cert, key.to_pem()?))
}

fn build_custom_cert(b64_cert: &str, b64_key: &str) -> Result<Value, FuncError> {
    let cert = b64_decode(b64_cert).map_err(|_| "unable to decode base64 certificate")?;
    let key = b64_decode(b64_key).map_err(|_| "unable to decode base64 private key")?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    let block = pem_decode(&cert).ok_or("unable to decode certificate")?;
    if ParsedCertificate::parse(&block.der).is_none() {
        return Err(FuncError::Failed(
            "error parsing certificate: decodedCert.Bytes: x509: malformed certificate".to_owned(),
        ));
    }
    PrivateKey::from_pem(&key)
        .map_err(|e| FuncError::Failed(format!("error parsing private key: {e}")))?;
    Ok(cert_value(cert, key))
}

/// What the signer needs from a CA certificate.
struct ParsedCertificate {
    subject: Vec<u8>,
    public_key_info: Vec<u8>,
    subject_key_id: Vec<u8>,
}

impl ParsedCertificate {
    fn parse(der: &[u8]) -> Option<ParsedCertificate> {
        let cert = Reader::new(der).expect(SEQUENCE)?;
        let mut parts = Reader::new(cert.content);
        let tbs = parts.expect(SEQUENCE)?;
        parts.expect(SEQUENCE)?;
        parts.expect(BIT_STRING)?;
        let mut r = Reader::new(tbs.content);
        r.optional(0xa0);
        r.expect(INTEGER)?;
        r.expect(SEQUENCE)?;
        r.expect(SEQUENCE)?;
        r.expect(SEQUENCE)?;
        let subject = r.expect(SEQUENCE)?;
        let spki = r.expect(SEQUENCE)?;
        let mut subject_key_id = Vec::new();
        while !r.is_empty() {
            let field = r.next_tlv()?;
            if field.tag != 0xa3 {
                continue;
            }
            let list = Reader::new(field.content).expect(SEQUENCE)?;
            let mut exts = Reader::new(list.content);
            while !exts.is_empty() {
                let ext = exts.expect(SEQUENCE)?;
                let mut e = Reader::new(ext.content);
                let oid = e.expect(der::OID)?;
                e.optional(BOOLEAN);
                let value = e.expect(OCTET_STRING)?;
                if oid.raw == OID_SUBJECT_KEY_ID {
                    subject_key_id = Reader::new(value.content)
                        .expect(OCTET_STRING)?
                        .content
                        .to_vec();
                }
            }
        }
        Some(ParsedCertificate {
            subject: subject.raw.to_vec(),
            public_key_info: spki.raw.to_vec(),
            subject_key_id,
        })
    }
}

/// A name holding only a common name, as Go's `pkix.Name{CommonName: cn}` marshals it
/// (empty when the name is).
fn name(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return cons(SEQUENCE, &[]);
    }
    // Go writes a PrintableString when every character allows it, else UTF-8.
    let printable = cn
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?*".contains(&b));
    let tag = if printable {
        PRINTABLE_STRING
    } else {
        UTF8_STRING
    };
    let atv = cons(SEQUENCE, &[OID_COMMON_NAME, &tlv(tag, cn.as_bytes())]);
    cons(SEQUENCE, &[&cons(SET, &[&atv])])
}

/// A validity time as X.509 writes it: `UTCTime` through 2049, `GeneralizedTime` after.
fn asn1_time(unix: i64) -> Result<Vec<u8>, FuncError> {
    let t = super::dates::Civil::from_unix(unix, 0);
    if !(0..=9999).contains(&t.year) {
        return Err(FuncError::Failed(format!(
            "error creating certificate: x509: cannot represent year {} in a certificate",
            t.year
        )));
    }
    let rest = format!(
        "{:02}{:02}{:02}{:02}{:02}Z",
        t.month, t.day, t.hour, t.minute, t.second
    );
    Ok(if (1950..2050).contains(&t.year) {
        tlv(UTC_TIME, format!("{:02}{rest}", t.year % 100).as_bytes())
    } else {
        tlv(GENERALIZED_TIME, format!("{:04}{rest}", t.year).as_bytes())
    })
}

fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let octets = tlv(OCTET_STRING, value);
    if critical {
        cons(SEQUENCE, &[oid, &tlv(BOOLEAN, &[0xff]), &octets])
    } else {
        cons(SEQUENCE, &[oid, &octets])
    }
}

/// Go's `x509.CreateCertificate` for Sprig's template, as PEM.
fn create_certificate(
    spec: &CertSpec,
    is_ca: bool,
    key: &PrivateKey,
    issuer: &Issuer<'_>,
) -> Result<String, FuncError> {
    let mut serial = [0u8; 16];
    rand_core::RngCore::try_fill_bytes(&mut OsRng, &mut serial)
        .map_err(|e| FuncError::Failed(format!("reading random bytes: {e}")))?;
    let now = super::dates::now_unix().0;
    let not_after = spec
        .days
        .checked_mul(86_400)
        .and_then(|d| now.checked_add(d))
        .ok_or("error creating certificate: x509: validity out of range")?;
    let subject = name(&spec.cn);
    let (spki, public_bits) = key.public_key()?;

    let mut exts = Vec::new();
    // Key usage: digital signature and key encipherment, plus certificate signing on a CA.
    let usage: &[u8] = if is_ca { &[2, 0xa4] } else { &[5, 0xa0] };
    exts.push(extension(OID_KEY_USAGE, true, &tlv(BIT_STRING, usage)));
    exts.push(extension(
        OID_EXT_KEY_USAGE,
        false,
        &cons(SEQUENCE, &[OID_SERVER_AUTH, OID_CLIENT_AUTH]),
    ));
    let basic = if is_ca {
        cons(SEQUENCE, &[&tlv(BOOLEAN, &[0xff])])
    } else {
        cons(SEQUENCE, &[])
    };
    exts.push(extension(OID_BASIC_CONSTRAINTS, true, &basic));
    let own_key_id = if is_ca {
        let digest = sha2::Sha256::digest(&public_bits);
        digest.get(..20).unwrap_or_default().to_vec()
    } else {
        Vec::new()
    };
    if !own_key_id.is_empty() {
        exts.push(extension(
            OID_SUBJECT_KEY_ID,
            false,
            &tlv(OCTET_STRING, &own_key_id),
        ));
    }
    let issuer_name = issuer.name.clone().unwrap_or_else(|| subject.clone());
    if issuer_name != subject && !issuer.subject_key_id.is_empty() {
        exts.push(extension(
            OID_AUTHORITY_KEY_ID,
            false,
            &cons(SEQUENCE, &[&tlv(0x80, &issuer.subject_key_id)]),
        ));
    }
    if !spec.dns.is_empty() || !spec.ips.is_empty() {
        let mut names = Vec::new();
        for dns in &spec.dns {
            if !dns.is_ascii() {
                return Err(FuncError::Failed(format!(
                    "error creating certificate: x509: {dns:?} cannot be encoded as an IA5String"
                )));
            }
            names.push(tlv(0x82, dns.as_bytes()));
        }
        for ip in &spec.ips {
            let bytes = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => v4.octets().to_vec(),
                    None => v6.octets().to_vec(),
                },
            };
            names.push(tlv(0x87, &bytes));
        }
        // Go marks the names critical when the subject is empty, as RFC 5280 asks.
        exts.push(extension(
            OID_SUBJECT_ALT_NAME,
            spec.cn.is_empty(),
            &tlv(SEQUENCE, &names.concat()),
        ));
    }

    let signature_algorithm = issuer.key.signature_algorithm();
    let tbs = cons(
        SEQUENCE,
        &[
            &cons(0xa0, &[&uint(&[2])]),
            &uint(&serial),
            &signature_algorithm,
            &issuer_name,
            &cons(SEQUENCE, &[&asn1_time(now)?, &asn1_time(not_after)?]),
            &subject,
            &spki,
            &cons(0xa3, &[&tlv(SEQUENCE, &exts.concat())]),
        ],
    );
    let signature = issuer.key.sign(&tbs)?;
    let cert = cons(SEQUENCE, &[&tbs, &signature_algorithm, &bits(&signature)]);
    Ok(pem_encode("CERTIFICATE", &cert))
}

/// Go's `bcrypt.DefaultCost` (the crate's default is 12).
const BCRYPT_COST: u32 = 10;

/// Go's `bcrypt.GenerateFromPassword` at the default cost (10), as `$2a$`. Sprig returns its
/// error as the result string.
fn bcrypt_hash(password: &str) -> String {
    // Go refuses passwords over 72 bytes; the crate would also refuse them.
    match bcrypt::hash_with_result(password, BCRYPT_COST) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(bcrypt::BcryptError::Truncation(_)) => {
            "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
                .to_owned()
        }
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

/// Master Password's templates for each password type.
fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

/// The characters a template letter stands for.
fn template_characters(class: u8) -> &'static str {
    match class {
        b'V' => "AEIOU",
        b'C' => "BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => "aeiou",
        b'c' => "bcdfghjklmnpqrstvwxyz",
        b'A' => "AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => "AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => "0123456789",
        b'o' => "@&%?,=[]_:-+*$#!'^~;()/.",
        _ => "AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

const MASTER_PASSWORD_SEED: &str = "com.lyndir.masterpassword";

/// The Master Password algorithm (v3): scrypt of the password salted with the user name, then
/// HMAC-SHA256 of the site and counter picks a template and its characters.
fn derive_password(
    counter: u32,
    kind: &str,
    password: &str,
    user: &str,
    site: &str,
) -> Result<String, FuncError> {
    let Some(templates) = password_templates(kind) else {
        return Ok(format!("cannot find password template {kind}"));
    };
    let be_len = |s: &str| u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes();
    let mut salt = MASTER_PASSWORD_SEED.as_bytes().to_vec();
    salt.extend_from_slice(&be_len(user));
    salt.extend_from_slice(user.as_bytes());
    let params = scrypt::Params::new(15, 8, 2, 64)
        .map_err(|e| FuncError::Failed(format!("failed to derive password: {e}")))?;
    let mut key = [0u8; 64];
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key)
        .map_err(|e| FuncError::Failed(format!("failed to derive password: {e}")))?;
    let mut message = MASTER_PASSWORD_SEED.as_bytes().to_vec();
    message.extend_from_slice(&be_len(site));
    message.extend_from_slice(site.as_bytes());
    message.extend_from_slice(&counter.to_be_bytes());
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        &message,
    );
    let seed = mac.as_ref();
    let pick = |i: usize, n: usize| usize::from(seed.get(i).copied().unwrap_or(0)) % n.max(1);
    let template = templates
        .get(pick(0, templates.len()))
        .copied()
        .unwrap_or_default();
    Ok(template
        .bytes()
        .enumerate()
        .map(|(i, class)| {
            let chars = template_characters(class).as_bytes();
            char::from(chars.get(pick(i + 1, chars.len())).copied().unwrap_or(b'x'))
        })
        .collect())
}

/// The AES-256 key Sprig makes of a password: its bytes, cut or zero-padded to 32.
fn aes_key(password: &str) -> aes::Aes256 {
    let mut key = [0u8; 32];
    for (k, b) in key.iter_mut().zip(password.as_bytes()) {
        *k = *b;
    }
    aes::Aes256::new(&key.into())
}

/// Sprig's `encryptAES`: PKCS#7-padded AES-256-CBC under a random IV, the IV first, base64.
fn encrypt_aes(password: &str, plaintext: &str) -> Result<String, FuncError> {
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    let cipher = aes_key(password);
    let mut content = plaintext.as_bytes().to_vec();
    let pad = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(u8::try_from(pad).unwrap_or(16), pad));
    let mut iv = [0u8; 16];
    rand_core::RngCore::try_fill_bytes(&mut OsRng, &mut iv)
        .map_err(|e| FuncError::Failed(e.to_string()))?;
    let mut out = iv.to_vec();
    let mut previous = iv;
    for chunk in content.chunks(16) {
        let mut block = aes::Block::default();
        for ((b, p), c) in block.iter_mut().zip(&previous).zip(chunk) {
            *b = p ^ c;
        }
        cipher.encrypt_block(&mut block);
        previous.copy_from_slice(&block);
        out.extend_from_slice(&block);
    }
    Ok(b64_encode(&out))
}

/// Sprig's `decryptAES`: the inverse of [`encrypt_aes`]. Go panics on input that is not whole
/// blocks; that is an error here.
fn decrypt_aes(password: &str, encrypted: &str) -> Result<String, FuncError> {
    if encrypted.is_empty() {
        return Ok(String::new());
    }
    let data = b64_decode(encrypted)
        .map_err(|at| FuncError::Failed(format!("illegal base64 data at input byte {at}")))?;
    if data.len() < 32 || data.len() % 16 != 0 {
        return Err(FuncError::Failed(
            "crypto/cipher: input not full blocks".to_owned(),
        ));
    }
    let cipher = aes_key(password);
    let (iv, body) = data.split_at(16);
    let mut previous: [u8; 16] = iv.try_into().unwrap_or_default();
    let mut plain = Vec::with_capacity(body.len());
    for chunk in body.chunks(16) {
        let mut block = aes::Block::clone_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        for (b, p) in block.iter().zip(&previous) {
            plain.push(b ^ p);
        }
        previous.copy_from_slice(chunk);
    }
    let pad = usize::from(plain.last().copied().unwrap_or(0));
    let keep = plain
        .len()
        .checked_sub(pad)
        .ok_or_else(|| FuncError::Failed("runtime error: slice bounds out of range".to_owned()))?;
    plain.truncate(keep);
    Ok(String::from_utf8_lossy(&plain).into_owned())
}

#[cfg(test)]
mod tests;
