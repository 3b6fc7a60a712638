//! sha256 digests in Flux's `sha256:<hex>` form, and a writer that computes one
//! while the bytes pass through.

use std::io::Write;

use sha2::{Digest as _, Sha256};

/// Formats a finished sha256 as `sha256:<lowercase hex>`.
fn format(hash: &[u8]) -> String {
    let mut out = String::with_capacity(7 + hash.len() * 2);
    out.push_str("sha256:");
    for b in hash {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The digest of `bytes`, `sha256:<hex>`.
#[must_use]
pub fn of(bytes: &[u8]) -> String {
    format(&Sha256::digest(bytes))
}

/// An incremental sha256 over data fed in pieces.
#[derive(Default, Clone, Debug)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    /// Adds `bytes` to the digest.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// How many bytes went in so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing went in yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest, `sha256:<hex>`.
    #[must_use]
    pub fn finish(self) -> String {
        format(&self.inner.finalize())
    }
}

/// A writer that hashes and counts what it forwards to `inner`.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Hasher::default(),
        }
    }

    /// The inner writer, the digest and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_of_known_input_matches_sha256sum() {
        // `printf abc | sha256sum`
        assert_eq!(
            super::of(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hashing_writer_agrees_with_one_shot_digest() {
        use std::io::Write;
        let mut w = super::HashingWriter::new(Vec::new());
        w.write_all(b"a").unwrap();
        w.write_all(b"bc").unwrap();
        let (bytes, digest, len) = w.finish();
        assert_eq!((bytes.as_slice(), len), (&b"abc"[..], 3));
        assert_eq!(digest, super::of(b"abc"));
    }
}
