//! The little DER (ASN.1) the certificate functions need: writing the TLVs of a certificate as
//! Go's `crypto/x509` lays them out, reading the fields of a CA certificate and of private keys,
//! and PEM armour.

use crate::funcs::encoding::{b64_decode, b64_encode};

/// ASN.1 tags used here.
pub(super) const INTEGER: u8 = 0x02;
pub(super) const BIT_STRING: u8 = 0x03;
pub(super) const OCTET_STRING: u8 = 0x04;
pub(super) const NULL: u8 = 0x05;
pub(super) const OID: u8 = 0x06;
pub(super) const UTF8_STRING: u8 = 0x0c;
pub(super) const PRINTABLE_STRING: u8 = 0x13;
pub(super) const UTC_TIME: u8 = 0x17;
pub(super) const GENERALIZED_TIME: u8 = 0x18;
pub(super) const SEQUENCE: u8 = 0x30;
pub(super) const SET: u8 = 0x31;
pub(super) const BOOLEAN: u8 = 0x01;

/// A TLV with the given tag and content.
pub(super) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let n = bytes.len() - skip;
        out.push(0x80 | u8::try_from(n).unwrap_or(0));
        out.extend_from_slice(bytes.get(skip..).unwrap_or_default());
    }
    out.extend_from_slice(content);
    out
}

/// A constructed TLV holding `parts` one after the other.
pub(super) fn cons(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// An INTEGER holding the unsigned big-endian number `bytes` (minimal, positive).
pub(super) fn uint(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().take_while(|b| **b == 0).count();
    let digits = bytes.get(start..).unwrap_or_default();
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    tlv(INTEGER, &content)
}

/// A BIT STRING of whole bytes.
pub(super) fn bits(bytes: &[u8]) -> Vec<u8> {
    let mut content = vec![0];
    content.extend_from_slice(bytes);
    tlv(BIT_STRING, &content)
}

/// A parsed TLV: its tag, its content, and the whole encoding.
#[derive(Clone, Copy)]
pub(super) struct Tlv<'a> {
    pub(super) tag: u8,
    pub(super) content: &'a [u8],
    pub(super) raw: &'a [u8],
}

/// Reads TLVs one after the other from a buffer.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { rest: data }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next TLV, or `None` when the data is malformed or used up.
    pub(super) fn next_tlv(&mut self) -> Option<Tlv<'a>> {
        let data = self.rest;
        let tag = *data.first()?;
        let first = usize::from(*data.get(1)?);
        let (len, header) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 4 {
                return None;
            }
            let len = data
                .get(2..2 + n)?
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        let end = header.checked_add(len)?;
        let raw = data.get(..end)?;
        self.rest = data.get(end..)?;
        Some(Tlv {
            tag,
            content: raw.get(header..)?,
            raw,
        })
    }

    /// The next TLV if it has tag `tag`.
    pub(super) fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        self.next_tlv().filter(|t| t.tag == tag)
    }

    /// The next TLV if it has tag `tag`, leaving the reader as it was otherwise.
    pub(super) fn optional(&mut self, tag: u8) -> Option<Tlv<'a>> {
        if *self.rest.first()? == tag {
            self.next_tlv()
        } else {
            None
        }
    }
}

/// A PEM block, as Go's `pem.Decode` finds the first one.
pub(super) struct Pem {
    pub(super) label: String,
    pub(super) der: Vec<u8>,
}

/// The first PEM block in `text` (headers skipped), or `None` as Go's `pem.Decode` gives nil.
pub(super) fn pem_decode(text: &str) -> Option<Pem> {
    let mut search = text;
    loop {
        let begin = search.find("-----BEGIN ")?;
        let after = search.get(begin + 11..)?;
        let label_end = after.find("-----")?;
        let label = after.get(..label_end)?;
        let body_start = after.get(label_end + 5..)?;
        let end_marker = format!("-----END {label}-----");
        if !label.contains('\n')
            && let Some(stop) = body_start.find(&end_marker)
        {
            let body = body_start.get(..stop)?;
            // Skip RFC 1421 headers (`Key: value` lines before an empty line).
            let body = match body.find("\n\n") {
                Some(i) if body.get(..i).is_some_and(|h| h.contains(':')) => body.get(i + 2..)?,
                _ => body,
            };
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            if let Ok(der) = b64_decode(&compact) {
                return Some(Pem {
                    label: label.to_owned(),
                    der,
                });
            }
        }
        search = after;
    }
}

/// Go's `pem.EncodeToMemory`: base64 in lines of 64 characters.
pub(super) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = b64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}
