//! The objects `ferroflux create ...` writes, built from flags. The same
//! object is printed with `--export` and applied without it. Pure
//! functions, but for `create secret git` reading the files its flags name.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::kinds;

/// `create source git`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct GitSource {
    /// The repository URL (https://, http:// or ssh://).
    #[arg(long)]
    pub url: String,
    /// Branch to follow (main when no ref is given).
    #[arg(long)]
    pub branch: Option<String>,
    /// Tag to check out.
    #[arg(long)]
    pub tag: Option<String>,
    /// Semver range of tags to follow.
    #[arg(long = "tag-semver")]
    pub semver: Option<String>,
    /// Commit to check out.
    #[arg(long)]
    pub commit: Option<String>,
    /// How often to fetch.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Timeout of git operations.
    // Named apart from the global `--timeout`: clap would otherwise take
    // the global flag for this one and refuse it after the subcommand.
    #[arg(long)]
    pub fetch_timeout: Option<String>,
    /// Secret with the credentials.
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// Paths to leave out (gitignore syntax).
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
}

/// `create source helm`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct HelmSource {
    /// The chart repository URL (https://, http://, or oci:// for a registry).
    #[arg(long)]
    pub url: String,
    /// How often to fetch the index.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Timeout of index downloads.
    // Named apart from the global `--timeout`, as for `create source git`.
    #[arg(long)]
    pub fetch_timeout: Option<String>,
    /// Secret with `username` and `password` (basic auth).
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// Secret with `ca.crt`, and `tls.crt` with `tls.key`, for TLS.
    #[arg(long)]
    pub cert_secret_ref: Option<String>,
    /// Send the credentials to chart URLs on other hosts too.
    #[arg(long, default_value_t = false)]
    pub pass_credentials: bool,
}

/// `create source chart`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ChartSource {
    /// The chart: its name in a Helm repository, or its path in a Git
    /// repository or Bucket.
    #[arg(long)]
    pub chart: String,
    /// Semver range of chart versions (Helm repository sources).
    #[arg(long)]
    pub chart_version: Option<String>,
    /// The source: Kind/name, the kind one of HelmRepository,
    /// GitRepository, Bucket.
    #[arg(long)]
    pub source: String,
    /// How often to check the source.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// When to build a new chart: `ChartVersion` or `Revision`.
    #[arg(long, default_value = "ChartVersion")]
    pub reconcile_strategy: String,
    /// Values files merged in order into the packaged chart's values.yaml.
    #[arg(long, value_delimiter = ',')]
    pub values_files: Vec<String>,
}

/// `create source bucket`, with `flux create source bucket`'s flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct BucketSource {
    /// The bucket's name.
    #[arg(long)]
    pub bucket_name: String,
    /// The S3 endpoint: a host and port, or an http(s):// URL.
    #[arg(long)]
    pub endpoint: String,
    /// Talk plain HTTP to the endpoint.
    #[arg(long)]
    pub insecure: bool,
    /// The bucket's region.
    #[arg(long)]
    pub region: Option<String>,
    /// The storage provider: generic, aws, gcp or azure.
    #[arg(long, default_value = "generic")]
    pub provider: String,
    /// Access key, stored with --secret-key in a Secret named as the Bucket.
    #[arg(long)]
    pub access_key: Option<String>,
    /// Secret key, stored with --access-key in a Secret named as the Bucket.
    #[arg(long)]
    pub secret_key: Option<String>,
    /// An existing Secret with `accesskey` and `secretkey`.
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// An existing Secret with the proxy's `address` (and `username`, `password`).
    #[arg(long)]
    pub proxy_secret_ref: Option<String>,
    /// How often to check the bucket.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Only the objects whose keys start with this.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Paths to leave out (gitignore syntax).
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
}

/// A Bucket, with `secretRef` naming the Secret [`bucket_secret`] writes
/// when keys are given.
///
/// # Errors
/// [`Error::Usage`] for an unknown provider, or keys given with
/// `--secret-ref` or one without the other.
pub fn bucket(name: &str, namespace: &str, flags: &BucketSource) -> Result<Value> {
    if !["generic", "aws", "gcp", "azure"].contains(&flags.provider.as_str()) {
        return Err(Error::Usage(format!(
            "--provider '{}': use generic, aws, gcp or azure",
            flags.provider
        )));
    }
    if flags.bucket_name.is_empty() || flags.endpoint.is_empty() {
        return Err(Error::Usage(
            "--bucket-name and --endpoint are required".into(),
        ));
    }
    let keys = bucket_keys(flags)?;
    let mut spec = json!({
        "bucketName": flags.bucket_name,
        "endpoint": flags.endpoint,
        "interval": flags.interval,
        "provider": flags.provider,
    });
    insert(&mut spec, "region", flags.region.as_ref());
    insert(&mut spec, "prefix", flags.prefix.as_ref());
    if flags.insecure {
        spec["insecure"] = json!(true);
    }
    let secret = if keys.is_some() {
        Some(name.to_owned())
    } else {
        flags.secret_ref.clone()
    };
    for (key, value) in [
        ("secretRef", &secret),
        ("proxySecretRef", &flags.proxy_secret_ref),
    ] {
        if let Some(v) = value.as_ref().filter(|s| !s.is_empty()) {
            spec[key] = json!({"name": v});
        }
    }
    if !flags.ignore_paths.is_empty() {
        spec["ignore"] = json!(flags.ignore_paths.join("\n"));
    }
    Ok(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "Bucket",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
}

/// The Secret `name` holding `--access-key` and `--secret-key`, as `flux
/// create source bucket` writes it; `None` without keys.
///
/// # Errors
/// As [`bucket`].
pub fn bucket_secret(name: &str, namespace: &str, flags: &BucketSource) -> Result<Option<Value>> {
    let Some((access, secret)) = bucket_keys(flags)? else {
        return Ok(None);
    };
    let data: Map<String, Value> = [("accesskey", access), ("secretkey", secret)]
        .into_iter()
        .map(|(key, value)| {
            let encoded = serde_json::to_value(k8s_openapi::ByteString(value.as_bytes().to_vec()))
                .unwrap_or_default();
            (key.to_owned(), encoded)
        })
        .collect();
    Ok(Some(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": data,
    })))
}

fn bucket_keys(flags: &BucketSource) -> Result<Option<(&str, &str)>> {
    match (flags.access_key.as_deref(), flags.secret_key.as_deref()) {
        (None, None) => Ok(None),
        (Some(a), Some(s)) if flags.secret_ref.is_none() => Ok(Some((a, s))),
        (Some(_), Some(_)) => Err(Error::Usage(
            "give --access-key and --secret-key, or --secret-ref, not both".into(),
        )),
        _ => Err(Error::Usage(
            "--access-key and --secret-key go together".into(),
        )),
    }
}

/// `create source oci`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct OciSource {
    /// The repository URL (oci://<registry>/<repository>).
    #[arg(long)]
    pub url: String,
    /// Tag to follow (latest when no ref is given).
    #[arg(long)]
    pub tag: Option<String>,
    /// Semver range of tags to follow.
    #[arg(long = "tag-semver")]
    pub semver: Option<String>,
    /// Regular expression the tags of `--tag-semver` must match.
    #[arg(long)]
    pub semver_filter: Option<String>,
    /// Digest to pin (sha256:...).
    #[arg(long)]
    pub digest: Option<String>,
    /// How often to check the registry.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Timeout of registry operations.
    #[arg(long)]
    pub fetch_timeout: Option<String>,
    /// Secret (kubernetes.io/dockerconfigjson) with the registry login.
    #[arg(long)]
    pub secret_ref: Option<String>,
    /// ServiceAccount whose image pull secrets log in.
    #[arg(long)]
    pub service_account: Option<String>,
    /// Secret with the registry's CA (ca.crt).
    #[arg(long)]
    pub cert_ref: Option<String>,
    /// Talk plain HTTP to the registry.
    #[arg(long)]
    pub insecure: bool,
    /// Media type of the layer to take.
    #[arg(long)]
    pub layer_media_type: Option<String>,
    /// What to do with that layer: extract (a tar.gz) or copy.
    #[arg(long)]
    pub layer_operation: Option<String>,
    /// Paths to leave out (gitignore syntax).
    #[arg(long, value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
}

/// An OCIRepository.
///
/// # Errors
/// [`Error::Usage`] when more than one of tag, semver and digest is given,
/// or `--layer-operation` is neither extract nor copy.
pub fn oci_repository(name: &str, namespace: &str, flags: &OciSource) -> Result<Value> {
    let given = [&flags.tag, &flags.semver, &flags.digest]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if given > 1 {
        return Err(Error::Usage(
            "give one of --tag, --tag-semver and --digest".into(),
        ));
    }
    if let Some(op) = flags.layer_operation.as_deref()
        && op != "extract"
        && op != "copy"
    {
        return Err(Error::Usage(format!(
            "--layer-operation '{op}': use extract or copy"
        )));
    }
    let mut oci_ref = Map::new();
    for (key, value) in [
        ("tag", &flags.tag),
        ("semver", &flags.semver),
        ("semverFilter", &flags.semver_filter),
        ("digest", &flags.digest),
    ] {
        if let Some(v) = value {
            oci_ref.insert(key.to_owned(), json!(v));
        }
    }
    if given == 0 {
        oci_ref.insert("tag".to_owned(), json!("latest"));
    }
    let mut spec = json!({"url": flags.url, "interval": flags.interval, "ref": oci_ref});
    insert(&mut spec, "timeout", flags.fetch_timeout.as_ref());
    insert(
        &mut spec,
        "serviceAccountName",
        flags.service_account.as_ref(),
    );
    for (key, value) in [
        ("secretRef", &flags.secret_ref),
        ("certSecretRef", &flags.cert_ref),
    ] {
        if let Some(v) = value.as_ref().filter(|s| !s.is_empty()) {
            spec[key] = json!({"name": v});
        }
    }
    if flags.insecure {
        spec["insecure"] = json!(true);
    }
    if flags.layer_media_type.is_some() || flags.layer_operation.is_some() {
        let mut selector = Map::new();
        if let Some(t) = &flags.layer_media_type {
            selector.insert("mediaType".to_owned(), json!(t));
        }
        if let Some(o) = &flags.layer_operation {
            selector.insert("operation".to_owned(), json!(o));
        }
        spec["layerSelector"] = Value::Object(selector);
    }
    if !flags.ignore_paths.is_empty() {
        spec["ignore"] = json!(flags.ignore_paths.join("\n"));
    }
    Ok(object(&kinds::oci_repository(), name, namespace, spec))
}

/// `create kustomization`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct KustomizationFlags {
    /// The source: [Kind/]name[.namespace]; the kind defaults to
    /// GitRepository.
    #[arg(long)]
    pub source: String,
    /// The path inside the source.
    #[arg(long, default_value = "./")]
    pub path: String,
    /// Delete what is removed from the source.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub prune: bool,
    /// How often to reconcile.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Put every object into this namespace.
    #[arg(long)]
    pub target_namespace: Option<String>,
    /// Wait for every applied object to be ready.
    #[arg(long)]
    pub wait: bool,
    /// Timeout of the apply and the health checks.
    // Named apart from the global `--timeout`, as in `GitSource`.
    #[arg(long)]
    pub kustomization_timeout: Option<String>,
    /// Kustomizations that must be Ready first: name or namespace/name.
    #[arg(long, value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// Apply as this ServiceAccount.
    #[arg(long)]
    pub service_account: Option<String>,
    /// Apply to the remote cluster whose kubeconfig is in this Secret (key `value`).
    #[arg(long)]
    pub kubeconfig_secret_ref: Option<String>,
    /// How soon to retry after a failure.
    #[arg(long)]
    pub retry_interval: Option<String>,
    /// Decrypt SOPS-encrypted files and values: `sops` (the only provider).
    #[arg(long)]
    pub decryption_provider: Option<String>,
    /// The Secret holding the decryption keys (`*.agekey`, `*.asc`), as
    /// `ferroflux create secret sops` writes it.
    #[arg(long)]
    pub decryption_secret: Option<String>,
}

/// `create alert-provider`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ProviderFlags {
    /// slack, discord, msteams, googlechat, generic, generic-hmac or github.
    #[arg(long = "type")]
    pub provider_type: String,
    /// The webhook URL, or the repository URL for github.
    #[arg(long)]
    pub address: Option<String>,
    /// Channel to post to.
    #[arg(long)]
    pub channel: Option<String>,
    /// Name to post as.
    #[arg(long)]
    pub username: Option<String>,
    /// Secret with address, token or headers.
    #[arg(long)]
    pub secret_ref: Option<String>,
}

/// `create alert`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct AlertFlags {
    /// The Provider to send to.
    #[arg(long)]
    pub provider_ref: String,
    /// Kind/name[.namespace] of the objects whose events to send; the name
    /// may be *.
    #[arg(long = "event-source", value_delimiter = ',', required = true)]
    pub event_sources: Vec<String>,
    /// info (everything) or error.
    #[arg(long, default_value = "info")]
    pub event_severity: String,
    /// A summary added to every message.
    #[arg(long)]
    pub summary: Option<String>,
}

/// `create receiver`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ReceiverFlags {
    /// generic, generic-hmac, github or gitlab.
    #[arg(long = "type")]
    pub receiver_type: String,
    /// Events to accept (e.g. push).
    #[arg(long = "event", value_delimiter = ',')]
    pub events: Vec<String>,
    /// Kind/name[.namespace] to reconcile on a call; the name may be *.
    #[arg(long = "resource", value_delimiter = ',', required = true)]
    pub resources: Vec<String>,
    /// Secret holding the token.
    #[arg(long)]
    pub secret_ref: String,
}

/// `create secret git`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct GitSecretFlags {
    /// The repository URL: https:// or http:// for a password or token,
    /// ssh:// for a key.
    #[arg(long)]
    pub url: String,
    /// Username for basic auth.
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    /// Password for basic auth, or the passphrase of the private key.
    #[arg(long, short = 'p')]
    pub password: Option<String>,
    /// Bearer token (instead of a username and password).
    #[arg(long)]
    pub bearer_token: Option<String>,
    /// CA certificate (PEM) that signed the git server's certificate.
    #[arg(long)]
    pub ca_crt_file: Option<PathBuf>,
    /// Private key for ssh:// (e.g. made with `ssh-keygen -t ed25519`).
    #[arg(long)]
    pub private_key_file: Option<PathBuf>,
    /// The server's host keys for ssh:// (e.g. from `ssh-keyscan <host>`).
    #[arg(long)]
    pub known_hosts_file: Option<PathBuf>,
}

/// `create helmrelease`, with `flux create helmrelease`'s flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct HelmReleaseFlags {
    /// The chart's source for a `spec.chart` template: Kind/name[.namespace],
    /// the kind one of HelmRepository, GitRepository, Bucket.
    #[arg(long)]
    pub source: Option<String>,
    /// The chart: its name in a Helm repository, or its path in a Git
    /// repository or Bucket (with --source).
    #[arg(long)]
    pub chart: Option<String>,
    /// Semver range of chart versions (with --source).
    #[arg(long)]
    pub chart_version: Option<String>,
    /// An existing chart source instead of a template: Kind/name[.namespace],
    /// the kind OCIRepository or HelmChart (`spec.chartRef`).
    #[arg(long)]
    pub chart_ref: Option<String>,
    /// When the templated HelmChart builds a new chart: `ChartVersion` or
    /// `Revision`.
    #[arg(long, default_value = "ChartVersion")]
    pub reconcile_strategy: String,
    /// How often the templated HelmChart checks for new chart versions.
    #[arg(long)]
    pub chart_interval: Option<String>,
    /// The Helm release name (default `[<target-namespace>-]<name>`).
    #[arg(long)]
    pub release_name: Option<String>,
    /// The namespace the release's objects go to (default the
    /// HelmRelease's).
    #[arg(long)]
    pub target_namespace: Option<String>,
    /// Create the target namespace on install if it does not exist.
    #[arg(long)]
    pub create_target_namespace: bool,
    /// The namespace of the release records (default the HelmRelease's).
    #[arg(long)]
    pub storage_namespace: Option<String>,
    /// Local values files, merged in order into `spec.values`.
    #[arg(long, value_delimiter = ',')]
    pub values: Vec<PathBuf>,
    /// ConfigMaps or Secrets whose `values.yaml` key holds values:
    /// Kind/name.
    #[arg(long, value_delimiter = ',')]
    pub values_from: Vec<String>,
    /// HelmReleases that must be Ready first: name or namespace/name.
    #[arg(long, value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// How often to reconcile.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Timeout of the Helm actions (`spec.timeout`).
    // Named apart from the global `--timeout`, as `--kustomization-timeout`.
    #[arg(long)]
    pub release_timeout: Option<String>,
    /// Reconcile as this ServiceAccount.
    #[arg(long)]
    pub service_account: Option<String>,
    /// Release to the remote cluster whose kubeconfig is in this Secret (key `value`).
    #[arg(long)]
    pub kubeconfig_secret_ref: Option<String>,
    /// How CRDs are upgraded: `Skip`, `Create` or `CreateReplace` (installs
    /// create them).
    #[arg(long)]
    pub crds: Option<String>,
}

fn read(path: &Path, flag: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("{flag} {}: cannot be read: {e}", path.display()))
}

/// The Secret a GitRepository's `spec.secretRef` names, in the keys the
/// source-controller reads: `username`/`password` or `bearerToken` and
/// `ca.crt` for HTTPS; `identity`, `known_hosts` and the key's
/// `password` for SSH. The values go in `data` (base64), not
/// `stringData`: a server-side apply then removes keys an earlier run
/// wrote and this one does not, which it cannot do for `stringData`.
///
/// # Errors
/// A flag that does not fit the URL's scheme, a username without a
/// password (or the reverse), both a password and a token, a token or CA
/// over `http://`, an SSH URL without a key or host keys, or a file that
/// cannot be read, as [`Error::Usage`]. No message shows a value given.
pub fn git_secret(name: &str, namespace: &str, flags: &GitSecretFlags) -> Result<Value> {
    let scheme = flags.url.split_once("://").map(|(s, _)| s);
    let data = match scheme {
        Some("ssh") => ssh_keys(flags),
        Some(scheme @ ("https" | "http")) => http_keys(flags, scheme == "https"),
        _ => Err(format!(
            "--url: the scheme '{}' is not one of https://, http:// or ssh://",
            scheme.unwrap_or("(none)")
        )),
    }
    .map_err(Error::Usage)?;
    let data: Map<String, Value> = data
        .into_iter()
        .map(|(key, value)| {
            let encoded = serde_json::to_value(k8s_openapi::ByteString(value.into_bytes()))
                .unwrap_or_default();
            (key.to_owned(), encoded)
        })
        .collect();
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": data,
    }))
}

fn ssh_keys(flags: &GitSecretFlags) -> Result<Vec<(&'static str, String)>, String> {
    if flags.username.is_some() || flags.bearer_token.is_some() || flags.ca_crt_file.is_some() {
        return Err("--username, --bearer-token and --ca-crt-file are for https:// URLs; an ssh:// URL authenticates with --private-key-file".into());
    }
    let key = flags.private_key_file.as_deref().ok_or(
        "an ssh:// URL needs --private-key-file (make one with `ssh-keygen -t ed25519 -f identity` and add identity.pub as a deploy key)",
    )?;
    let hosts = flags.known_hosts_file.as_deref().ok_or(
        "an ssh:// URL needs --known-hosts-file (e.g. `ssh-keyscan <host> > known_hosts`), so the server is verified",
    )?;
    let mut keys = vec![
        ("identity", read(key, "--private-key-file")?),
        ("known_hosts", read(hosts, "--known-hosts-file")?),
    ];
    if let Some(passphrase) = &flags.password {
        keys.push(("password", passphrase.clone()));
    }
    Ok(keys)
}

fn http_keys(flags: &GitSecretFlags, tls: bool) -> Result<Vec<(&'static str, String)>, String> {
    if flags.private_key_file.is_some() || flags.known_hosts_file.is_some() {
        return Err("--private-key-file and --known-hosts-file are for ssh:// URLs".into());
    }
    // The source-controller refuses both over plain HTTP.
    if !tls && (flags.bearer_token.is_some() || flags.ca_crt_file.is_some()) {
        return Err("--bearer-token and --ca-crt-file need an https:// URL".into());
    }
    let mut keys = Vec::new();
    match (&flags.username, &flags.password, &flags.bearer_token) {
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err("give either --username/--password or --bearer-token, not both".into());
        }
        (Some(_), None, None) | (None, Some(_), None) => {
            return Err("--username and --password go together".into());
        }
        (Some(user), Some(password), None) => {
            keys.push(("username", user.clone()));
            keys.push(("password", password.clone()));
        }
        (None, None, Some(token)) => keys.push(("bearerToken", token.clone())),
        (None, None, None) => {}
    }
    if let Some(ca) = &flags.ca_crt_file {
        keys.push(("ca.crt", read(ca, "--ca-crt-file")?));
    }
    if keys.is_empty() {
        return Err(
            "nothing to store: give --username and --password, --bearer-token or --ca-crt-file"
                .into(),
        );
    }
    Ok(keys)
}

fn object(kind: &kinds::Kind, name: &str, namespace: &str, spec: Value) -> Value {
    let mut obj = json!({
        "apiVersion": kind.resource.api_version,
        "kind": kind.name(),
        "metadata": {"name": name, "namespace": namespace},
    });
    obj["spec"] = spec;
    obj
}

fn insert(spec: &mut Value, key: &str, value: Option<&String>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        spec[key] = json!(v);
    }
}

/// A GitRepository.
///
/// # Errors
/// [`Error::Usage`] when more than one of branch, tag, semver and commit is
/// given.
pub fn git_repository(name: &str, namespace: &str, flags: &GitSource) -> Result<Value> {
    let refs: Vec<(&str, &String)> = [
        ("branch", flags.branch.as_ref()),
        ("tag", flags.tag.as_ref()),
        ("semver", flags.semver.as_ref()),
        ("commit", flags.commit.as_ref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    if refs.len() > 1 {
        return Err(Error::Usage(
            "give one of --branch, --tag, --tag-semver and --commit".into(),
        ));
    }
    let git_ref: Map<String, Value> = if refs.is_empty() {
        [("branch".to_owned(), json!("main"))].into_iter().collect()
    } else {
        refs.into_iter()
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect()
    };
    let mut spec = json!({"url": flags.url, "interval": flags.interval, "ref": git_ref});
    insert(&mut spec, "timeout", flags.fetch_timeout.as_ref());
    if let Some(secret) = flags.secret_ref.as_ref().filter(|s| !s.is_empty()) {
        spec["secretRef"] = json!({"name": secret});
    }
    if !flags.ignore_paths.is_empty() {
        spec["ignore"] = json!(flags.ignore_paths.join("\n"));
    }
    Ok(object(&kinds::git_repository(), name, namespace, spec))
}

/// A HelmRepository; `type: oci` for an `oci://` URL, as Flux writes it.
#[must_use]
pub fn helm_repository(name: &str, namespace: &str, flags: &HelmSource) -> Value {
    let mut spec = json!({"url": flags.url, "interval": flags.interval});
    if flags.url.starts_with("oci://") {
        spec["type"] = json!("oci");
    }
    insert(&mut spec, "timeout", flags.fetch_timeout.as_ref());
    if let Some(secret) = flags.secret_ref.as_ref().filter(|s| !s.is_empty()) {
        spec["secretRef"] = json!({"name": secret});
    }
    if let Some(secret) = flags.cert_secret_ref.as_ref().filter(|s| !s.is_empty()) {
        spec["certSecretRef"] = json!({"name": secret});
    }
    if flags.pass_credentials {
        spec["passCredentials"] = json!(true);
    }
    object(&kinds::helm_repository(), name, namespace, spec)
}

/// A HelmChart.
///
/// # Errors
/// [`Error::Usage`] when `--source` is not `Kind/name` of a chart source or
/// the strategy is unknown.
pub fn helm_chart(name: &str, namespace: &str, flags: &ChartSource) -> Result<Value> {
    let (kind, source) = flags.source.split_once('/').ok_or_else(|| {
        Error::Usage(format!(
            "--source '{}' must be Kind/name, e.g. HelmRepository/podinfo",
            flags.source
        ))
    })?;
    let kind = ["HelmRepository", "GitRepository", "Bucket"]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(kind))
        .ok_or_else(|| {
            Error::Usage(format!(
                "--source kind '{kind}' is not one of HelmRepository, GitRepository, Bucket"
            ))
        })?;
    if source.is_empty() {
        return Err(Error::Usage("--source needs a name after the kind".into()));
    }
    if !matches!(
        flags.reconcile_strategy.as_str(),
        "ChartVersion" | "Revision"
    ) {
        return Err(Error::Usage(format!(
            "--reconcile-strategy '{}' is not ChartVersion or Revision",
            flags.reconcile_strategy
        )));
    }
    let mut spec = json!({
        "chart": flags.chart,
        "interval": flags.interval,
        "reconcileStrategy": flags.reconcile_strategy,
        "sourceRef": {"kind": kind, "name": source},
    });
    insert(&mut spec, "version", flags.chart_version.as_ref());
    if !flags.values_files.is_empty() {
        spec["valuesFiles"] = json!(flags.values_files);
    }
    Ok(object(&kinds::helm_chart(), name, namespace, spec))
}

/// `--depends-on` entries as Flux reads them: `name`, or `namespace/name`
/// (not the `name.namespace` of `--source`: a name may hold dots).
///
/// # Errors
/// [`Error::Usage`] for an empty name or namespace, or more than one `/`.
fn depends_on(entries: &[String]) -> Result<Value> {
    entries
        .iter()
        .map(|entry| {
            let (namespace, name) = match entry.split_once('/') {
                Some((ns, name)) => (Some(ns), name),
                None => (None, entry.as_str()),
            };
            if name.is_empty() || name.contains('/') || namespace == Some("") {
                return Err(Error::Usage(format!(
                    "--depends-on '{entry}' is not a dependency; write name or namespace/name"
                )));
            }
            let mut dep = json!({"name": name});
            if let Some(ns) = namespace {
                dep["namespace"] = json!(ns);
            }
            Ok(dep)
        })
        .collect::<Result<Vec<Value>>>()
        .map(Value::Array)
}

/// A Kustomization.
///
/// # Errors
/// [`Error::Usage`] when `--source` is not a reference or its kind not a
/// source kind, or a `--depends-on` entry is not `name` or
/// `namespace/name`.
pub fn kustomization(name: &str, namespace: &str, flags: &KustomizationFlags) -> Result<Value> {
    let source = kinds::parse_reference(&flags.source)?;
    let source_kind = match source.kind.as_deref() {
        None => "GitRepository".to_owned(),
        Some(kind) => kinds::by_kind(kind)
            .filter(|k| k.source)
            .map(|k| k.name().to_owned())
            .ok_or_else(|| Error::Usage(format!("--source kind '{kind}' is not a source kind")))?,
    };
    let mut source_ref = json!({"kind": source_kind, "name": source.name});
    insert(&mut source_ref, "namespace", source.namespace.as_ref());
    let path = if flags.path.is_empty() {
        "./"
    } else {
        &flags.path
    };
    let mut spec = json!({"interval": flags.interval, "path": path, "prune": flags.prune,
                          "sourceRef": source_ref});
    if flags.wait {
        spec["wait"] = json!(true);
    }
    insert(
        &mut spec,
        "targetNamespace",
        flags.target_namespace.as_ref(),
    );
    insert(&mut spec, "timeout", flags.kustomization_timeout.as_ref());
    insert(
        &mut spec,
        "serviceAccountName",
        flags.service_account.as_ref(),
    );
    insert(&mut spec, "retryInterval", flags.retry_interval.as_ref());
    kube_config(&mut spec, flags.kubeconfig_secret_ref.as_deref());
    if !flags.depends_on.is_empty() {
        spec["dependsOn"] = depends_on(&flags.depends_on)?;
    }
    if let Some(decryption) = decryption(flags)? {
        spec["decryption"] = decryption;
    }
    Ok(object(&kinds::kustomization(), name, namespace, spec))
}

/// `spec.decryption` from `--decryption-provider` and
/// `--decryption-secret`, as `flux create kustomization` writes it.
///
/// # Errors
/// [`Error::Usage`] for a provider other than `sops`, or a Secret without
/// a provider (which `flux` ignores silently).
fn decryption(flags: &KustomizationFlags) -> Result<Option<Value>> {
    let secret = flags.decryption_secret.as_ref().filter(|s| !s.is_empty());
    let Some(provider) = flags.decryption_provider.as_ref() else {
        return match secret {
            Some(_) => Err(Error::Usage(
                "--decryption-secret needs --decryption-provider sops".into(),
            )),
            None => Ok(None),
        };
    };
    let provider = one_of(provider, &["sops"], "--decryption-provider")?;
    let mut decryption = json!({"provider": provider});
    if let Some(name) = secret {
        decryption["secretRef"] = json!({"name": name});
    }
    Ok(Some(decryption))
}

/// `spec.kubeConfig.secretRef` from `--kubeconfig-secret-ref`, when given.
fn kube_config(spec: &mut Value, secret: Option<&str>) {
    if let Some(name) = secret.filter(|n| !n.is_empty()) {
        spec["kubeConfig"] = json!({"secretRef": {"name": name}});
    }
}

/// The word among `allowed` that `value` names, case-insensitively; `what`
/// names the value in the error (`--crds`, `--source kind`).
fn one_of(value: &str, allowed: &[&'static str], what: &str) -> Result<&'static str> {
    allowed
        .iter()
        .find(|k| k.eq_ignore_ascii_case(value))
        .copied()
        .ok_or_else(|| {
            Error::Usage(format!(
                "{what} '{value}' is not one of {}",
                allowed.join(", ")
            ))
        })
}

/// `Kind/name[.namespace]` with a kind among `allowed`, as
/// `{kind, name[, namespace]}`.
fn kind_reference(text: &str, allowed: &[&'static str], flag: &str) -> Result<Value> {
    let r = kinds::parse_reference(text)?;
    let kind = r.kind.ok_or_else(|| {
        Error::Usage(format!(
            "{flag} '{text}' needs a kind: Kind/name, the kind one of {}",
            allowed.join(", ")
        ))
    })?;
    let kind = one_of(&kind, allowed, &format!("{flag} kind"))?;
    let mut out = json!({"kind": kind, "name": r.name});
    insert(&mut out, "namespace", r.namespace.as_ref());
    Ok(out)
}

/// Merges `from` into `into` as Flux's `transform.MergeMaps`: maps merge
/// key by key, anything else is replaced.
fn merge_maps(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                merge_maps(existing, incoming);
            }
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// The values files merged in order; `None` when none is given.
fn values_files(paths: &[PathBuf]) -> Result<Option<Value>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut merged = Map::new();
    for path in paths {
        let text = read(path, "--values").map_err(Error::Usage)?;
        let docs = ferroflux_kustomize::yaml::parse_documents(&text).map_err(|e| {
            Error::Usage(format!(
                "--values {}: not YAML: {e}; fix the file",
                path.display()
            ))
        })?;
        match docs.into_iter().next() {
            Some(Value::Object(map)) => merge_maps(&mut merged, map),
            None | Some(Value::Null) => {}
            Some(_) => {
                return Err(Error::Usage(format!(
                    "--values {}: the values must be a YAML map",
                    path.display()
                )));
            }
        }
    }
    Ok(Some(Value::Object(merged)))
}

/// A HelmRelease (`helm.toolkit.fluxcd.io/v2`), as `flux create
/// helmrelease` writes it: `--source` and `--chart` make a `spec.chart`
/// template, `--chart-ref` a `spec.chartRef`; `--crds` sets
/// `install.crds: Create` and `upgrade.crds` to the policy.
///
/// # Errors
/// [`Error::Usage`]: neither or both of `--chart` and `--chart-ref`,
/// `--chart` without `--source`, a reference of a kind the field does not
/// take, an unknown strategy or CRD policy, or a values file that cannot be
/// read or is not a YAML map.
#[expect(
    clippy::too_many_lines,
    reason = "one flag after the other into Flux's spec, in Flux's order"
)]
pub fn helm_release(name: &str, namespace: &str, flags: &HelmReleaseFlags) -> Result<Value> {
    let mut spec = json!({"interval": flags.interval});
    match (&flags.chart, &flags.chart_ref) {
        (Some(chart), None) => {
            let source = flags.source.as_deref().ok_or_else(|| {
                Error::Usage(
                    "--chart needs --source (HelmRepository, GitRepository or Bucket/name)".into(),
                )
            })?;
            if !matches!(
                flags.reconcile_strategy.as_str(),
                "ChartVersion" | "Revision"
            ) {
                return Err(Error::Usage(format!(
                    "--reconcile-strategy '{}' is not ChartVersion or Revision",
                    flags.reconcile_strategy
                )));
            }
            let source_ref = kind_reference(
                source,
                &["HelmRepository", "GitRepository", "Bucket"],
                "--source",
            )?;
            let mut chart_spec = json!({
                "chart": chart,
                "reconcileStrategy": flags.reconcile_strategy,
                "sourceRef": source_ref,
            });
            insert(&mut chart_spec, "version", flags.chart_version.as_ref());
            insert(&mut chart_spec, "interval", flags.chart_interval.as_ref());
            spec["chart"] = json!({"spec": chart_spec});
        }
        (None, Some(chart_ref)) => {
            if flags.source.is_some() || flags.chart_version.is_some() {
                return Err(Error::Usage(
                    "--source and --chart-version make a chart template; --chart-ref names an existing chart source instead".into(),
                ));
            }
            spec["chartRef"] =
                kind_reference(chart_ref, &["OCIRepository", "HelmChart"], "--chart-ref")?;
        }
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "give either --chart (with --source) or --chart-ref, not both".into(),
            ));
        }
        (None, None) => {
            return Err(Error::Usage(
                "give --chart with --source, or --chart-ref".into(),
            ));
        }
    }
    insert(&mut spec, "releaseName", flags.release_name.as_ref());
    insert(
        &mut spec,
        "targetNamespace",
        flags.target_namespace.as_ref(),
    );
    insert(
        &mut spec,
        "storageNamespace",
        flags.storage_namespace.as_ref(),
    );
    insert(&mut spec, "timeout", flags.release_timeout.as_ref());
    insert(
        &mut spec,
        "serviceAccountName",
        flags.service_account.as_ref(),
    );
    kube_config(&mut spec, flags.kubeconfig_secret_ref.as_deref());
    if !flags.depends_on.is_empty() {
        spec["dependsOn"] = depends_on(&flags.depends_on)?;
    }
    if flags.create_target_namespace {
        spec["install"]["createNamespace"] = json!(true);
    }
    if let Some(crds) = &flags.crds {
        let policy = one_of(crds, &["Skip", "Create", "CreateReplace"], "--crds")?;
        spec["install"]["crds"] = json!("Create");
        spec["upgrade"] = json!({"crds": policy});
    }
    if let Some(values) = values_files(&flags.values)? {
        spec["values"] = values;
    }
    if !flags.values_from.is_empty() {
        let refs = flags
            .values_from
            .iter()
            .map(|text| {
                let (kind, name) = text.split_once('/').ok_or_else(|| {
                    Error::Usage(format!(
                        "--values-from '{text}' must be Kind/name, the kind Secret or ConfigMap"
                    ))
                })?;
                if name.is_empty() {
                    return Err(Error::Usage(format!(
                        "--values-from '{text}' needs a name after the kind"
                    )));
                }
                let kind = one_of(kind, &["Secret", "ConfigMap"], "--values-from kind")?;
                Ok(json!({"kind": kind, "name": name}))
            })
            .collect::<Result<Vec<Value>>>()?;
        spec["valuesFrom"] = json!(refs);
    }
    Ok(object(&kinds::helm_release(), name, namespace, spec))
}

/// A Provider.
#[must_use]
pub fn provider(name: &str, namespace: &str, flags: &ProviderFlags) -> Value {
    let mut spec = json!({"type": flags.provider_type});
    insert(&mut spec, "address", flags.address.as_ref());
    insert(&mut spec, "channel", flags.channel.as_ref());
    insert(&mut spec, "username", flags.username.as_ref());
    if let Some(secret) = flags.secret_ref.as_ref().filter(|s| !s.is_empty()) {
        spec["secretRef"] = json!({"name": secret});
    }
    object(&kinds::provider(), name, namespace, spec)
}

/// `Kind/name[.namespace]` references as `{kind, name, namespace}`.
fn cross_references(refs: &[String], flag: &str) -> Result<Vec<Value>> {
    refs.iter()
        .map(|text| {
            let r = kinds::parse_reference(text)?;
            let kind = r
                .kind
                .ok_or_else(|| Error::Usage(format!("{flag} '{text}' needs a kind: Kind/name")))?;
            let kind = kinds::by_kind(&kind).map_or(kind, |k| k.name().to_owned());
            let mut out = json!({"kind": kind, "name": r.name});
            insert(&mut out, "namespace", r.namespace.as_ref());
            Ok(out)
        })
        .collect()
}

/// An Alert.
///
/// # Errors
/// [`Error::Usage`] when an event source is not `Kind/name`, or there is
/// none, or the severity is neither `info` nor `error`.
pub fn alert(name: &str, namespace: &str, flags: &AlertFlags) -> Result<Value> {
    if flags.event_sources.is_empty() {
        return Err(Error::Usage(
            "give at least one --event-source, e.g. Kustomization/*".into(),
        ));
    }
    if !["info", "error"].contains(&flags.event_severity.as_str()) {
        return Err(Error::Usage(format!(
            "--event-severity '{}' must be info or error",
            flags.event_severity
        )));
    }
    let mut spec = json!({
        "providerRef": {"name": flags.provider_ref},
        "eventSeverity": flags.event_severity,
        "eventSources": cross_references(&flags.event_sources, "--event-source")?,
    });
    insert(&mut spec, "summary", flags.summary.as_ref());
    Ok(object(&kinds::alert(), name, namespace, spec))
}

/// A Receiver.
///
/// # Errors
/// [`Error::Usage`] when a resource is not `Kind/name`, or there is none.
pub fn receiver(name: &str, namespace: &str, flags: &ReceiverFlags) -> Result<Value> {
    if flags.resources.is_empty() {
        return Err(Error::Usage(
            "give at least one --resource, e.g. GitRepository/app".into(),
        ));
    }
    let mut spec = json!({
        "type": flags.receiver_type,
        "secretRef": {"name": flags.secret_ref},
        "resources": cross_references(&flags.resources, "--resource")?,
    });
    if !flags.events.is_empty() {
        spec["events"] = json!(flags.events);
    }
    Ok(object(&kinds::receiver(), name, namespace, spec))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn helm_sources_are_written_as_flux_writes_them() {
        let flags = HelmSource {
            url: "oci://ghcr.io/stefanprodan/charts".into(),
            interval: "10m".into(),
            secret_ref: Some("auth".into()),
            ..HelmSource::default()
        };
        assert_eq!(
            helm_repository("podinfo", "flux-system", &flags),
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                   "metadata": {"name": "podinfo", "namespace": "flux-system"},
                   "spec": {"url": "oci://ghcr.io/stefanprodan/charts", "interval": "10m",
                            "type": "oci", "secretRef": {"name": "auth"}}})
        );
        let chart = ChartSource {
            chart: "podinfo".into(),
            chart_version: Some("6.x".into()),
            source: "helmrepository/podinfo".into(),
            interval: "1m".into(),
            reconcile_strategy: "ChartVersion".into(),
            values_files: vec!["values.yaml".into(), "prod.yaml".into()],
        };
        assert_eq!(
            helm_chart("podinfo", "flux-system", &chart).unwrap()["spec"],
            json!({"chart": "podinfo", "version": "6.x", "interval": "1m",
                   "reconcileStrategy": "ChartVersion",
                   "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
                   "valuesFiles": ["values.yaml", "prod.yaml"]})
        );
        for source in ["podinfo", "Kustomization/x", "HelmRepository/"] {
            let bad = ChartSource {
                source: source.into(),
                ..chart.clone()
            };
            assert!(helm_chart("p", "ns", &bad).is_err(), "{source}");
        }
    }

    #[test]
    fn oci_repository_defaults_to_latest_and_takes_one_ref() {
        let flags = OciSource {
            url: "oci://ghcr.io/org/app".into(),
            interval: "5m".into(),
            secret_ref: Some("regcred".into()),
            layer_operation: Some("copy".into()),
            ..OciSource::default()
        };
        let obj = oci_repository("app", "flux-system", &flags).unwrap();
        assert_eq!(
            obj,
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                   "metadata": {"name": "app", "namespace": "flux-system"},
                   "spec": {"url": "oci://ghcr.io/org/app", "interval": "5m",
                            "ref": {"tag": "latest"}, "secretRef": {"name": "regcred"},
                            "layerSelector": {"operation": "copy"}}})
        );
        let two = OciSource {
            tag: Some("v1".into()),
            semver: Some("1.x".into()),
            ..flags.clone()
        };
        assert!(oci_repository("app", "ns", &two).is_err());
        let bad = OciSource {
            layer_operation: Some("move".into()),
            ..flags
        };
        assert!(oci_repository("app", "ns", &bad).is_err());
    }

    #[test]
    fn helm_release_values_files_merge_as_flux_merges_them() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&a, "image:\n  tag: v1\n  pull: Always\nlist: [1, 2]\n").unwrap();
        std::fs::write(&b, "image:\n  tag: v2\nlist: [3]\n").unwrap();
        let flags = HelmReleaseFlags {
            chart_ref: Some("helmchart/web.charts".into()),
            values: vec![a, b],
            interval: "5m".into(),
            reconcile_strategy: "ChartVersion".into(),
            kubeconfig_secret_ref: Some("edge".into()),
            ..HelmReleaseFlags::default()
        };
        assert_eq!(
            helm_release("web", "apps", &flags).unwrap()["spec"],
            json!({"interval": "5m",
                   "kubeConfig": {"secretRef": {"name": "edge"}},
                   "chartRef": {"kind": "HelmChart", "name": "web", "namespace": "charts"},
                   "values": {"image": {"tag": "v2", "pull": "Always"}, "list": [3]}})
        );
        let bad = dir.path().join("list.yaml");
        std::fs::write(&bad, "- 1\n").unwrap();
        let error = helm_release(
            "web",
            "apps",
            &HelmReleaseFlags {
                values: vec![bad],
                ..flags
            },
        )
        .unwrap_err();
        assert!(error.to_string().contains("must be a YAML map"), "{error}");
    }

    #[test]
    fn git_repository_defaults_to_main_and_takes_one_ref() {
        let flags = GitSource {
            url: "https://example.com/app.git".into(),
            interval: "1m".into(),
            secret_ref: Some("auth".into()),
            ..GitSource::default()
        };
        let obj = git_repository("app", "flux-system", &flags).unwrap();
        assert_eq!(
            obj,
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                   "metadata": {"name": "app", "namespace": "flux-system"},
                   "spec": {"url": "https://example.com/app.git", "interval": "1m",
                            "ref": {"branch": "main"}, "secretRef": {"name": "auth"}}})
        );
        let two = GitSource {
            tag: Some("v1".into()),
            commit: Some("abc".into()),
            ..flags
        };
        assert!(git_repository("app", "ns", &two).is_err());
    }

    #[test]
    fn git_secrets_hold_what_the_scheme_needs_and_refuse_the_rest() {
        let basic = GitSecretFlags {
            url: "https://example.com/app.git".into(),
            username: Some("git".into()),
            password: Some("s3cret".into()),
            ..GitSecretFlags::default()
        };
        assert_eq!(
            git_secret("auth", "ns", &basic).unwrap(),
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "auth", "namespace": "ns"}, "type": "Opaque",
                   "data": {"username": "Z2l0", "password": "czNjcmV0"}})
        );
        let dir = tempfile::tempdir().unwrap();
        let (key, hosts) = (dir.path().join("identity"), dir.path().join("known_hosts"));
        std::fs::write(&key, "KEY").unwrap();
        std::fs::write(&hosts, "HOSTS").unwrap();
        let ssh = GitSecretFlags {
            url: "ssh://git@example.com/app.git".into(),
            private_key_file: Some(key),
            known_hosts_file: Some(hosts),
            ..GitSecretFlags::default()
        };
        assert_eq!(
            git_secret("auth", "ns", &ssh).unwrap()["data"],
            json!({"identity": "S0VZ", "known_hosts": "SE9TVFM="})
        );
        for (flags, says) in [
            (
                GitSecretFlags {
                    known_hosts_file: None,
                    ..ssh.clone()
                },
                "ssh-keyscan",
            ),
            (
                GitSecretFlags {
                    password: None,
                    ..basic.clone()
                },
                "go together",
            ),
            (
                GitSecretFlags {
                    bearer_token: Some("t".into()),
                    ..basic.clone()
                },
                "not both",
            ),
            (
                GitSecretFlags {
                    url: "ftp://git:s3cret@example.com".into(),
                    ..basic.clone()
                },
                "the scheme 'ftp'",
            ),
            (
                GitSecretFlags {
                    url: "http://example.com/app.git".into(),
                    username: None,
                    password: None,
                    bearer_token: Some("s3cret".into()),
                    ..basic
                },
                "need an https:// URL",
            ),
        ] {
            let error = git_secret("auth", "ns", &flags).unwrap_err().to_string();
            assert!(error.contains(says), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn kustomization_references_its_source_and_dependencies() {
        let flags = KustomizationFlags {
            source: "OCIRepository/app.sources".into(),
            path: "./deploy".into(),
            prune: true,
            interval: "10m".into(),
            depends_on: vec!["infra".into(), "platform/crds".into(), "db.v2".into()],
            kubeconfig_secret_ref: Some("prod-kubeconfig".into()),
            ..KustomizationFlags::default()
        };
        let obj = kustomization("app", "apps", &flags).unwrap();
        assert_eq!(
            obj["spec"],
            json!({"interval": "10m", "path": "./deploy", "prune": true,
                   "kubeConfig": {"secretRef": {"name": "prod-kubeconfig"}},
                   "sourceRef": {"kind": "OCIRepository", "name": "app", "namespace": "sources"},
                   "dependsOn": [{"name": "infra"}, {"name": "crds", "namespace": "platform"},
                                 {"name": "db.v2"}]})
        );
        for entry in ["a/b/c", "/b", "a/"] {
            let bad = KustomizationFlags {
                depends_on: vec![entry.into()],
                ..flags.clone()
            };
            let error = kustomization("app", "apps", &bad).unwrap_err().to_string();
            assert!(
                error.contains("write name or namespace/name"),
                "{entry}: {error}"
            );
        }
        let bad = KustomizationFlags {
            source: "Deployment/app".into(),
            ..flags
        };
        assert!(
            kustomization("app", "apps", &bad)
                .unwrap_err()
                .to_string()
                .contains("not a source")
        );
    }

    #[test]
    fn kustomization_decryption_is_written_as_flux_writes_it() {
        let flags = KustomizationFlags {
            source: "app".into(),
            interval: "1m".into(),
            decryption_provider: Some("sops".into()),
            decryption_secret: Some("sops-keys".into()),
            ..KustomizationFlags::default()
        };
        assert_eq!(
            kustomization("app", "apps", &flags).unwrap()["spec"]["decryption"],
            json!({"provider": "sops", "secretRef": {"name": "sops-keys"}})
        );
        let no_secret = KustomizationFlags {
            decryption_secret: None,
            ..flags.clone()
        };
        assert_eq!(
            kustomization("app", "apps", &no_secret).unwrap()["spec"]["decryption"],
            json!({"provider": "sops"})
        );
        let none = KustomizationFlags {
            decryption_provider: None,
            decryption_secret: None,
            ..flags.clone()
        };
        assert!(
            kustomization("app", "apps", &none).unwrap()["spec"]
                .get("decryption")
                .is_none()
        );
        for (bad, says) in [
            (
                KustomizationFlags {
                    decryption_provider: Some("vault".into()),
                    ..flags.clone()
                },
                "--decryption-provider 'vault' is not one of sops",
            ),
            (
                KustomizationFlags {
                    decryption_provider: None,
                    ..flags
                },
                "--decryption-secret needs --decryption-provider sops",
            ),
        ] {
            let error = kustomization("app", "apps", &bad).unwrap_err();
            assert!(error.to_string().contains(says), "{error}");
            assert_eq!(error.exit_code(), 2);
        }
    }

    #[test]
    fn alerts_and_receivers_need_kinds() {
        let flags = AlertFlags {
            provider_ref: "slack".into(),
            event_sources: vec!["kustomization/*".into(), "GitRepository/app.infra".into()],
            event_severity: "error".into(),
            summary: None,
        };
        let obj = alert("errors", "apps", &flags).unwrap();
        assert_eq!(
            obj["spec"]["eventSources"],
            json!([{"kind": "Kustomization", "name": "*"},
                   {"kind": "GitRepository", "name": "app", "namespace": "infra"}])
        );
        let nameless = AlertFlags {
            event_sources: vec!["app".into()],
            ..flags
        };
        assert!(
            alert("errors", "apps", &nameless)
                .unwrap_err()
                .to_string()
                .contains("needs a kind")
        );
        let receiver_flags = ReceiverFlags {
            receiver_type: "github".into(),
            events: vec!["push".into()],
            resources: vec!["GitRepository/app".into()],
            secret_ref: "token".into(),
        };
        let obj = receiver("gh", "apps", &receiver_flags).unwrap();
        assert_eq!(obj["spec"]["events"], json!(["push"]));
        assert_eq!(obj["apiVersion"], "notification.toolkit.fluxcd.io/v1");
    }
}
