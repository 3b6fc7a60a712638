//! Integration tests of `ferroflux-sops`: documents encrypted by the
//! reference `sops` (with keys from `age-keygen` and `gpg`) decrypt to what
//! `sops -d` prints, and bad input fails with typed errors that never carry
//! plaintext.

mod bad_input;
mod oracle;
mod support;
