//! SOPS with the CLI, against the reference tools: a fresh `age-keygen`
//! identity and a `gpg` key, files encrypted by the reference `sops`
//! (`scripts/install-deps.sh sops`). `create secret sops --export` writes
//! the entries the controller reads (checked with `ferroflux_sops::Keys`
//! decrypting real files), files that are not keys are refused by name
//! without their content; `build kustomization` prints encrypted objects
//! as they are with a note unless `--decryption-key` is given, and `diff
//! kustomization` never shows a Secret value, decrypted or not.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::expect;

const AGE_PASSWORD: &str = "age-plaintext-0451";
const PGP_TOKEN: &str = "pgp-plaintext-7731";
const LIVE_PASSWORD: &str = "live-plaintext-1138";

/// The reference `sops` (`scripts/install-deps.sh sops`).
fn sops_bin() -> PathBuf {
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

/// A directory with an age identity (`age-keys.txt`) and a PGP key pair
/// (`pgp-private.asc`, `pgp-public.asc`) in a throwaway `GNUPGHOME`.
struct Fixture {
    dir: tempfile::TempDir,
    age_recipient: String,
    pgp_fingerprint: String,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let age = dir.path().join("age-keys.txt");
        let out = Command::new("age-keygen")
            .arg("-o")
            .arg(&age)
            .output()
            .unwrap();
        assert!(out.status.success(), "age-keygen: {out:?}");
        let out = Command::new("age-keygen")
            .arg("-y")
            .arg(&age)
            .output()
            .unwrap();
        let age_recipient = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let mut fixture = Self {
            dir,
            age_recipient,
            pgp_fingerprint: String::new(),
        };
        let home = fixture.path("gnupg");
        std::fs::create_dir(&home).unwrap();
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        fixture.gpg(&[
            "--quick-gen-key",
            "Ferroflux CLI Test <cli@ferroflux.invalid>",
            "default",
            "default",
            "never",
        ]);
        let listing =
            String::from_utf8(fixture.gpg(&["--with-colons", "--list-secret-keys"])).unwrap();
        let fingerprint: String = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .unwrap()
            .trim_matches(':')
            .into();
        fixture.pgp_fingerprint = fingerprint;
        let fp = fixture.pgp_fingerprint.clone();
        let private = fixture.gpg(&["--armor", "--export-secret-keys", &fp]);
        std::fs::write(fixture.path("pgp-private.asc"), private).unwrap();
        let public = fixture.gpg(&["--armor", "--export", &fp]);
        std::fs::write(fixture.path("pgp-public.asc"), public).unwrap();
        fixture
    }

    /// A second PGP key, protected by a passphrase, exported to
    /// `protected.asc`.
    fn protected_key(&self) -> PathBuf {
        let locked = |args: &[&str]| {
            let out = Command::new("gpg")
                .args(["--batch", "--quiet", "--pinentry-mode", "loopback"])
                .args(["--passphrase", "correct-horse"])
                .args(args)
                .env("GNUPGHOME", self.path("gnupg"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let uid = "Locked Key <locked@ferroflux.invalid>";
        locked(&["--quick-gen-key", uid, "default", "default", "never"]);
        let path = self.path("protected.asc");
        std::fs::write(&path, locked(&["--armor", "--export-secret-keys", uid])).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
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
            .env("GNUPGHOME", self.path("gnupg"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// `plain` written to `dir/name` and encrypted in place by the
    /// reference sops with `recipient` (`--age R` or `--pgp FPR`), only
    /// `data`/`stringData` encrypted as Flux's guide does it.
    fn encrypt(&self, dir: &Path, name: &str, plain: &str, recipient: [&str; 2]) {
        let path = dir.join(name);
        std::fs::write(&path, plain).unwrap();
        let out = Command::new(sops_bin())
            .args([
                "encrypt",
                "--in-place",
                "--encrypted-regex",
                "^(data|stringData)$",
            ])
            .args(recipient)
            .arg(&path)
            .env("GNUPGHOME", self.path("gnupg"))
            .env_remove("SOPS_AGE_KEY_FILE")
            .env_remove("SOPS_AGE_KEY")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sops encrypt {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // gpg started an agent for the throwaway home: stop it.
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.path("gnupg"))
            .status();
    }
}

/// The decoded `data` entries of an exported Secret.
fn secret_entries(yaml: &str) -> Vec<(String, Vec<u8>)> {
    let docs = ferroflux_kustomize::yaml::parse_documents(yaml).unwrap();
    let [secret] = docs.as_slice() else {
        panic!("one Secret expected: {yaml}");
    };
    assert_eq!(secret["kind"], "Secret", "{yaml}");
    secret["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let bytes: k8s_openapi::ByteString = serde_json::from_value(v.clone()).unwrap();
            (k.clone(), bytes.0)
        })
        .collect()
}

fn secret_yaml(name: &str, key: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\nstringData:\n  {key}: {value}\n"
    )
}

#[test]
fn create_secret_sops_exports_what_the_controller_reads() {
    let fx = Fixture::new();
    let no_cluster = Path::new("/nonexistent/kubeconfig");
    let age = fx.path("age-keys.txt");
    let pgp = fx.path("pgp-private.asc");
    let run = expect(
        no_cluster,
        0,
        &[
            "create",
            "secret",
            "sops",
            "sops-keys",
            "-n",
            "apps",
            "--age-key-file",
            age.to_str().unwrap(),
            "--pgp-key-file",
            pgp.to_str().unwrap(),
            "--export",
        ],
    );
    assert!(
        run.stdout.contains("name: sops-keys\n  namespace: apps\n"),
        "{}",
        run.stdout
    );
    let entries = secret_entries(&run.stdout);
    let names: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["age-keys.agekey", "pgp-private.asc"]);
    assert_eq!(entries[0].1, std::fs::read(&age).unwrap());
    assert_eq!(entries[1].1, std::fs::read(&pgp).unwrap());

    // The entries, read as the controller reads its decryption Secret,
    // decrypt what the reference sops encrypted for each key.
    let keys =
        ferroflux_sops::Keys::from_entries(entries.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .unwrap();
    let work = fx.path("work");
    std::fs::create_dir(&work).unwrap();
    for (name, value, recipient) in [
        (
            "age.yaml",
            AGE_PASSWORD,
            ["--age", fx.age_recipient.as_str()],
        ),
        (
            "pgp.yaml",
            PGP_TOKEN,
            ["--pgp", fx.pgp_fingerprint.as_str()],
        ),
    ] {
        fx.encrypt(&work, name, &secret_yaml("s", "v", value), recipient);
        let encrypted = std::fs::read(work.join(name)).unwrap();
        assert!(!String::from_utf8_lossy(&encrypted).contains(value));
        let plain =
            ferroflux_sops::decrypt_file(name, &encrypted, ferroflux_sops::Format::Yaml, &keys)
                .unwrap();
        assert!(String::from_utf8_lossy(&plain).contains(value), "{name}");
    }

    // An age identity on standard input is stored as age.agekey, as
    // Flux's guide names it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroflux"))
        .args([
            "create",
            "secret",
            "sops",
            "sops-age",
            "--age-key-file",
            "-",
            "--export",
        ])
        .env("KUBECONFIG", no_cluster)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&age).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let entries = secret_entries(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(entries[0].0, "age.agekey");
    assert_eq!(entries[0].1, std::fs::read(&age).unwrap());
}

#[test]
fn create_secret_sops_refuses_what_is_not_a_private_key_without_printing_it() {
    let fx = Fixture::new();
    let no_cluster = Path::new("/nonexistent/kubeconfig");
    let notes = fx.path("notes.txt");
    std::fs::write(&notes, "db-password: hunter2-never-printed\n").unwrap();
    let public = fx.path("pgp-public.asc");
    let public_text = std::fs::read_to_string(&public).unwrap();
    let age = fx.path("age-keys.txt");
    let protected = fx.protected_key();
    for (flag, file, says) in [
        (
            "--pgp-key-file",
            protected.as_path(),
            "protected by a passphrase",
        ),
        (
            "--age-key-file",
            notes.as_path(),
            "not an age X25519 identity",
        ),
        (
            "--pgp-key-file",
            notes.as_path(),
            "not an armored PGP private key",
        ),
        (
            "--pgp-key-file",
            public.as_path(),
            "gpg --export-secret-keys --armor",
        ),
        (
            "--age-key-file",
            fx.path("pgp-private.asc").as_path(),
            "--pgp-key-file",
        ),
    ] {
        let file = file.to_str().unwrap();
        let run = expect(
            no_cluster,
            2,
            &[
                "create",
                "secret",
                "sops",
                "keys",
                "--age-key-file",
                age.to_str().unwrap(),
                flag,
                file,
                "--export",
            ],
        );
        assert!(run.stdout.is_empty(), "nothing is written: {}", run.stdout);
        assert!(
            run.stderr.contains(&format!("{flag} {file}")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
        // No line of a key file shows up either.
        for line in public_text
            .lines()
            .chain(std::fs::read_to_string(&age).unwrap().lines())
            .filter(|l| l.len() > 16)
        {
            assert!(!run.stderr.contains(line), "{}", run.stderr);
        }
    }
}

/// Creates the Kustomization `app` (its source need not exist: `build`
/// and `diff` read only its spec) with `spec.decryption`.
async fn kustomization(client: &Client, ns: &str) {
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &kube::api::ApiResource::erase::<ferroflux_api::kustomize::Kustomization>(&()),
    );
    let ks = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"interval": "1h", "path": "./", "prune": true, "targetNamespace": ns,
                 "sourceRef": {"kind": "GitRepository", "name": "app"},
                 "decryption": {"provider": "sops", "secretRef": {"name": "sops-keys"}}},
    });
    api.patch("app", &PatchParams::apply("test"), &Patch::Apply(&ks))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_and_diff_decrypt_only_when_asked_and_never_show_secret_values() {
    let _crds_stay = crate::CLUSTER_WIDE.lock().await;
    let (client, ns) = ferroflux_testenv::setup("cli-sops", &ferroflux_api::all_crds()).await;
    let cp = ferroflux_testenv::shared().unwrap();
    let kc = cp.kubeconfig();
    kustomization(&client, &ns).await;
    // The cluster has `db` with another password.
    let live = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": ns},
        "stringData": {"password": LIVE_PASSWORD}});
    Api::<Secret>::namespaced(client.clone(), &ns)
        .patch("db", &PatchParams::apply("test"), &Patch::Apply(&live))
        .await
        .unwrap();

    let fx = Fixture::new();
    let repo = fx.path("repo");
    std::fs::create_dir(&repo).unwrap();
    fx.encrypt(
        &repo,
        "db.yaml",
        &secret_yaml("db", "password", AGE_PASSWORD),
        ["--age", &fx.age_recipient],
    );
    fx.encrypt(
        &repo,
        "api.yaml",
        &secret_yaml("api", "token", PGP_TOKEN),
        ["--pgp", &fx.pgp_fingerprint],
    );
    std::fs::write(
        repo.join("config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  color: blue\n",
    )
    .unwrap();
    let path = repo.to_str().unwrap();
    let (age, pgp) = (fx.path("age-keys.txt"), fx.path("pgp-private.asc"));
    let (age, pgp) = (age.to_str().unwrap(), pgp.to_str().unwrap());
    let scene = Scene {
        kc,
        ns: &ns,
        path,
        age,
        pgp,
        pgp_fingerprint: &fx.pgp_fingerprint,
        notes: &fx.path("notes.txt"),
    };
    build_decrypts_only_with_keys(&scene);
    diff_never_shows_secret_values(&scene);
    create_secret_sops_applies_the_keys(&scene, client).await;
}

/// What the build and diff steps share.
struct Scene<'a> {
    kc: &'a Path,
    ns: &'a str,
    path: &'a str,
    age: &'a str,
    pgp: &'a str,
    pgp_fingerprint: &'a str,
    notes: &'a Path,
}

const PLAINTEXTS: [&str; 3] = [AGE_PASSWORD, PGP_TOKEN, LIVE_PASSWORD];

/// `build` prints ciphertext and a note without keys, plaintext with
/// them, and fails naming the file a key is missing for.
fn build_decrypts_only_with_keys(scene: &Scene<'_>) {
    let Scene {
        kc,
        ns,
        path,
        age,
        pgp,
        pgp_fingerprint,
        notes,
    } = *scene;
    let plaintexts = PLAINTEXTS;

    // Without keys: the encrypted form, and a note naming both Secrets.
    let run = expect(kc, 0, &["build", "ks", "app", "-n", ns, "--path", path]);
    assert!(run.stdout.contains("ENC[AES256_GCM,"), "{}", run.stdout);
    assert!(run.stdout.contains("color: blue"), "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!(
            "2 objects are SOPS-encrypted and were not decrypted (Secret/{ns}/api, Secret/{ns}/db)"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--decryption-key"), "{}", run.stderr);
    for p in plaintexts {
        assert!(!run.stdout.contains(p) && !run.stderr.contains(p), "{p}");
    }

    // With both keys: decrypted as the controller would apply it.
    let run = expect(
        kc,
        0,
        &[
            "build",
            "ks",
            "app",
            "-n",
            ns,
            "--path",
            path,
            "--decryption-key",
            age,
            "--decryption-key",
            pgp,
        ],
    );
    let objects = ferroflux_kustomize::yaml::parse_documents(&run.stdout).unwrap();
    let secret = |name: &str| -> Value {
        objects
            .iter()
            .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no Secret {name}: {}", run.stdout))
    };
    assert_eq!(secret("db")["stringData"]["password"], AGE_PASSWORD);
    assert_eq!(secret("api")["stringData"]["token"], PGP_TOKEN);
    assert!(secret("db").get("sops").is_none(), "{}", run.stdout);
    assert!(!run.stdout.contains("ENC["), "{}", run.stdout);
    assert!(!run.stderr.contains("SOPS-encrypted"), "{}", run.stderr);

    // Only the age key: the PGP file is named, nothing is printed.
    let run = expect(
        kc,
        1,
        &[
            "build",
            "ks",
            "app",
            "-n",
            ns,
            "--path",
            path,
            "--decryption-key",
            age,
        ],
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("api.yaml"), "{}", run.stderr);
    assert!(run.stderr.contains(pgp_fingerprint), "{}", run.stderr);
    for p in plaintexts {
        assert!(!run.stderr.contains(p), "{p}: {}", run.stderr);
    }

    // A file that is not a key: refused by name before anything is built.
    std::fs::write(notes, "hunter2-never-printed\n").unwrap();
    let run = expect(
        kc,
        2,
        &[
            "build",
            "ks",
            "app",
            "-n",
            ns,
            "--path",
            path,
            "--decryption-key",
            notes.to_str().unwrap(),
        ],
    );
    assert!(run.stderr.contains("--decryption-key"), "{}", run.stderr);
    assert!(run.stderr.contains("notes.txt"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

/// `diff` masks Secret values with keys, and without them compares only
/// an encrypted Secret's key names.
fn diff_never_shows_secret_values(scene: &Scene<'_>) {
    let Scene {
        kc,
        ns,
        path,
        age,
        pgp,
        ..
    } = *scene;
    let plaintexts = PLAINTEXTS;
    // Diff with the keys: db's password differs and api is new; neither
    // value shows, decrypted or live.
    let run = expect(
        kc,
        1,
        &[
            "diff",
            "ks",
            "app",
            "-n",
            ns,
            "--path",
            path,
            "--decryption-key",
            age,
            "--decryption-key",
            pgp,
        ],
    );
    assert!(
        run.stdout.contains(&format!("► Secret/{ns}/db drifted")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("*** (local value)"), "{}", run.stdout);
    assert!(run.stdout.contains("*** (cluster value)"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("► Secret/{ns}/api created")),
        "{}",
        run.stdout
    );
    for p in plaintexts {
        assert!(
            !run.stdout.contains(p) && !run.stderr.contains(p),
            "{p}: {}",
            run.stdout
        );
    }

    // Diff without keys: the encrypted db is not dry-run; its keys match
    // the cluster's, so it is not shown as drifted; the note says why.
    let run = expect(kc, 1, &["diff", "ks", "app", "-n", ns, "--path", path]);
    assert!(!run.stdout.contains("db drifted"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("► Secret/{ns}/api created")),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("SOPS-encrypted"), "{}", run.stderr);
    assert!(!run.stdout.contains("ENC["), "{}", run.stdout);
    for p in plaintexts {
        assert!(
            !run.stdout.contains(p) && !run.stderr.contains(p),
            "{p}: {}",
            run.stdout
        );
    }
}

/// `create secret sops` applies the Secret the Kustomization names.
async fn create_secret_sops_applies_the_keys(scene: &Scene<'_>, client: Client) {
    let Scene {
        kc, ns, age, pgp, ..
    } = *scene;
    // The keys through `create secret sops`, applied: the Secret the
    // Kustomization names, with both entries.
    expect(
        kc,
        0,
        &[
            "create",
            "secret",
            "sops",
            "sops-keys",
            "-n",
            ns,
            "--age-key-file",
            age,
            "--pgp-key-file",
            pgp,
        ],
    );
    let stored = Api::<Secret>::namespaced(client, ns)
        .get("sops-keys")
        .await
        .unwrap();
    let data = stored.data.unwrap_or_default();
    let keys =
        ferroflux_sops::Keys::from_entries(data.iter().map(|(k, v)| (k.as_str(), v.0.as_slice())))
            .unwrap();
    assert!(!keys.is_empty());
    assert_eq!(
        data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["age-keys.agekey", "pgp-private.asc"]
    );
}
