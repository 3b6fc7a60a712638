//! The reference tools: `sops` (installed by `scripts/install-deps.sh sops`
//! under `$FERROFLUX_CACHE/reference/bin`), `age-keygen` and `gpg` (Debian).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, ensure};

/// The reference `sops` binary.
pub(crate) fn sops_bin() -> PathBuf {
    let cache = std::env::var_os("FERROFLUX_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ferroflux"),
        PathBuf::from,
    );
    let bin = cache.join("reference/bin/sops");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/install-deps.sh sops",
        bin.display()
    );
    bin
}

/// A working directory with an age key and optionally a `GNUPGHOME`.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) age_key: String,
    pub(crate) age_recipient: String,
}

impl Fixture {
    pub(crate) fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let key_path = dir.path().join("age.agekey");
        let out = Command::new("age-keygen")
            .arg("-o")
            .arg(&key_path)
            .output()
            .context("run age-keygen")?;
        ensure!(
            out.status.success(),
            "age-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let age_key = std::fs::read_to_string(&key_path)?;
        let out = Command::new("age-keygen")
            .arg("-y")
            .arg(&key_path)
            .output()?;
        let age_recipient = String::from_utf8(out.stdout)?.trim().to_owned();
        Ok(Self {
            dir,
            age_key,
            age_recipient,
        })
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the reference sops with the age key file and `GNUPGHOME` set.
    pub(crate) fn sops(&self, args: &[&str]) -> Result<Vec<u8>> {
        let out = Command::new(sops_bin())
            .args(args)
            .current_dir(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", self.path("age.agekey"))
            .env("GNUPGHOME", self.path("gnupg"))
            .env_remove("SOPS_AGE_KEY")
            .output()
            .context("run sops")?;
        ensure!(
            out.status.success(),
            "sops {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out.stdout)
    }

    /// Writes `plain` to `name` and encrypts it for the age recipient with
    /// extra sops flags; returns the encrypted bytes.
    pub(crate) fn encrypt_age(&self, name: &str, plain: &[u8], flags: &[&str]) -> Result<Vec<u8>> {
        std::fs::write(self.path(name), plain)?;
        let mut args = vec!["encrypt", "--age", &self.age_recipient];
        args.extend_from_slice(flags);
        args.push(name);
        self.sops(&args)
    }

    /// `sops -d` of an encrypted document written to `name`.
    pub(crate) fn decrypt_ref(
        &self,
        name: &str,
        encrypted: &[u8],
        flags: &[&str],
    ) -> Result<Vec<u8>> {
        let path = self.path(&format!("enc-{name}"));
        std::fs::write(&path, encrypted)?;
        let mut args = vec!["decrypt"];
        args.extend_from_slice(flags);
        let p = path.to_string_lossy().into_owned();
        args.push(&p);
        self.sops(&args)
    }

    /// Generates a passphrase-less PGP key in a throwaway `GNUPGHOME`;
    /// returns its fingerprint and the armored secret key.
    /// `algo` is gpg's (`default`: ed25519 with a cv25519 subkey; `rsa2048`:
    /// one RSA key that signs and encrypts).
    pub(crate) fn gpg_key(&self, algo: &str) -> Result<(String, Vec<u8>)> {
        let home = self.path("gnupg");
        std::fs::create_dir_all(&home)?;
        set_private(&home)?;
        // The agent's own log, quoted when gpg fails: two full runs lost
        // the agent for reasons its client does not say.
        let agent_log = home.join("agent.log");
        let gpg = |args: &[&str]| -> Result<Vec<u8>> {
            let out = Command::new("gpg")
                .args([
                    "--batch",
                    "--quiet",
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    "",
                ])
                .args(args)
                .env("GNUPGHOME", &home)
                .output()?;
            ensure!(
                out.status.success(),
                "gpg {args:?}: {}\n--- gpg-agent's log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&agent_log).unwrap_or_default()
            );
            Ok(out.stdout)
        };
        // Start the agent ourselves rather than through gpg's auto-start,
        // which twice failed in full runs ("can't connect to the agent",
        // then "gpg-connect-agent NOP: General error" from `gpgconf
        // --launch`). The agent binds its socket before `--daemon` returns,
        // so later calls (gpg's and the reference sops's) find it waiting.
        let launched = Command::new("gpg-agent")
            .args(["--homedir"])
            .arg(&home)
            .args(["--daemon", "--quiet", "--log-file"])
            .arg(&agent_log)
            .env("GNUPGHOME", &home)
            .output()?;
        ensure!(
            launched.status.success(),
            "gpg-agent --daemon: {}\n--- its log:\n{}",
            String::from_utf8_lossy(&launched.stderr),
            std::fs::read_to_string(&agent_log).unwrap_or_default()
        );
        let usage = if algo == "default" {
            "default"
        } else {
            "sign,encr"
        };
        gpg(&[
            "--quick-gen-key",
            "Ferroflux Test <test@ferroflux.invalid>",
            algo,
            usage,
            "never",
        ])?;
        let listing = String::from_utf8(gpg(&["--with-colons", "--list-secret-keys"])?)?;
        let fp = listing
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_owned())
            })
            .context("no fingerprint")?;
        let armored = gpg(&["--armor", "--export-secret-keys", &fp])?;
        Ok((fp, armored))
    }
}

fn set_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// The keys holding the fixture's age identity.
pub(crate) fn age_keys(f: &Fixture) -> ferroflux_sops::Keys {
    ferroflux_sops::Keys::from_entries([("age.agekey", f.age_key.as_bytes())])
        .expect("the generated age key parses")
}
