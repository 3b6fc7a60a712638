//! Flux's artifact verbs, against an OCI registry and no cluster:
//! `push artifact` packs a directory or file as `flux push artifact` does
//! (Flux's media types and annotations), `pull artifact` unpacks one,
//! `tag artifact` adds a tag, `list artifacts` shows the tags with their
//! digests, sources and revisions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferroflux_oci::artifact::{self, Metadata};
use ferroflux_oci::auth::Credentials;
use ferroflux_oci::url::OciUrl;
use ferroflux_oci::{Registry, RegistryOptions};

use crate::error::{Error, Result};
use crate::ui::Ui;

/// How `pull artifact` bounds what it unpacks: the source-controller's default.
const MAX_PULL_SIZE: u64 = 1 << 30;

/// Flags every artifact verb takes.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RegistryFlags {
    /// Credentials for the registry, as `username:password`.
    #[arg(long)]
    pub creds: Option<String>,
    /// Talk plain HTTP to the registry.
    #[arg(long)]
    pub insecure_registry: bool,
    /// A PEM file of CA certificates to trust besides the system's.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// `push artifact`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PushFlags {
    /// The directory or file to push.
    #[arg(long)]
    pub path: PathBuf,
    /// Where the content comes from (a Git URL): the source annotation.
    #[arg(long)]
    pub source: String,
    /// The source revision (`<branch>@sha1:<commit>`): the revision annotation.
    #[arg(long)]
    pub revision: String,
    /// Further annotations, `key=value`.
    #[arg(short = 'a', long, value_delimiter = ',')]
    pub annotations: Vec<String>,
}

/// Parses an `oci://` URL for a verb; `reference` demands a tag or digest.
///
/// # Errors
/// [`Error::Usage`] saying what is wrong.
pub fn parse_url(url: &str, reference: bool) -> Result<OciUrl> {
    let parsed = OciUrl::parse(url, true).map_err(|e| Error::Usage(e.to_string()))?;
    if reference && parsed.tag.is_none() && parsed.digest.is_none() {
        return Err(Error::Usage(format!(
            "'{url}' names no tag or digest; write oci://<registry>/<repository>:<tag>"
        )));
    }
    Ok(parsed)
}

/// A registry client as the flags say.
///
/// # Errors
/// [`Error::Usage`] for malformed `--creds` or an unreadable `--ca-file`,
/// [`Error::Registry`] when the client cannot be built.
pub fn registry(flags: &RegistryFlags, timeout: Duration) -> Result<Registry> {
    let credentials = flags
        .creds
        .as_deref()
        .map(|c| {
            c.split_once(':')
                .map(|(u, p)| Credentials {
                    username: u.to_owned(),
                    password: p.to_owned(),
                })
                .ok_or_else(|| Error::Usage("--creds must be username:password".into()))
        })
        .transpose()?;
    let ca_pem = flags
        .ca_file
        .as_deref()
        .map(|p| {
            std::fs::read(p).map_err(|e| Error::Usage(format!("--ca-file {}: {e}", p.display())))
        })
        .transpose()?;
    Registry::new(RegistryOptions {
        insecure: flags.insecure_registry,
        ca_pem,
        credentials,
        timeout: Some(timeout),
    })
    .map_err(|e| Error::Registry(e.to_string()))
}

fn registry_error(secret: Option<&str>) -> impl Fn(artifact::Error) -> Error + '_ {
    move |e| {
        let text = e.to_string();
        // Errors never carry credentials; masking the password again costs
        // nothing should a registry echo it.
        Error::Registry(match secret.and_then(|c| c.split_once(':')) {
            Some((_, p)) if !p.is_empty() => text.replace(p, "***"),
            _ => text,
        })
    }
}

/// `push artifact`: packs `--path` and pushes it; prints the digest URL.
///
/// # Errors
/// [`Error::Usage`], [`Error::Registry`].
pub async fn push(
    ui: Ui,
    url: &str,
    flags: &PushFlags,
    registry_flags: &RegistryFlags,
    timeout: Duration,
) -> Result<()> {
    let url = parse_url(url, true)?;
    let tag = url.tag.clone().ok_or_else(|| {
        Error::Usage("push artifact needs a tag: oci://<registry>/<repository>:<tag>".into())
    })?;
    let mut annotations = BTreeMap::new();
    for a in &flags.annotations {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--annotations '{a}' is not key=value")))?;
        annotations.insert(k.to_owned(), v.to_owned());
    }
    let registry = registry(registry_flags, timeout)?;
    let fail = registry_error(registry_flags.creds.as_deref());
    ui.action(&format!(
        "pushing artifact to {}:{tag}",
        url.repository_url()
    ));
    let content = artifact::pack(&flags.path).map_err(&fail)?;
    let metadata = Metadata {
        source: flags.source.clone(),
        revision: flags.revision.clone(),
        created: None,
        annotations,
    };
    let digest = artifact::push(&registry, &url, &tag, content, &metadata)
        .await
        .map_err(&fail)?;
    ui.success("artifact successfully pushed");
    crate::ui::out(&format!("{}@{digest}\n", url.repository_url()));
    Ok(())
}

/// `pull artifact`: unpacks the artifact's content into `output`.
///
/// # Errors
/// [`Error::Usage`], [`Error::Registry`].
pub async fn pull(
    ui: Ui,
    url: &str,
    output: &Path,
    registry_flags: &RegistryFlags,
    timeout: Duration,
) -> Result<()> {
    let url = parse_url(url, true)?;
    let registry = registry(registry_flags, timeout)?;
    let fail = registry_error(registry_flags.creds.as_deref());
    ui.action(&format!("pulling artifact from {}", shown(&url)));
    let manifest = artifact::pull(&registry, &url, output, MAX_PULL_SIZE)
        .await
        .map_err(&fail)?;
    let annotations = manifest.annotations();
    for (what, key) in [
        ("source", ferroflux_oci::SOURCE_ANNOTATION),
        ("revision", ferroflux_oci::REVISION_ANNOTATION),
    ] {
        if let Some(v) = annotations.get(key) {
            ui.success(&format!("{what} {v}"));
        }
    }
    ui.success(&format!(
        "artifact content extracted to {} ({})",
        output.display(),
        manifest.digest
    ));
    Ok(())
}

/// `tag artifact`: gives the artifact each of `tags`.
///
/// # Errors
/// [`Error::Usage`], [`Error::Registry`].
pub async fn tag(
    ui: Ui,
    url: &str,
    tags: &[String],
    registry_flags: &RegistryFlags,
    timeout: Duration,
) -> Result<()> {
    let url = parse_url(url, true)?;
    if tags.is_empty() {
        return Err(Error::Usage("give at least one --tag".into()));
    }
    let registry = registry(registry_flags, timeout)?;
    let fail = registry_error(registry_flags.creds.as_deref());
    for t in tags {
        ui.action(&format!("tagging artifact {} as {t}", shown(&url)));
        let digest = artifact::tag(&registry, &url, t).await.map_err(&fail)?;
        ui.success(&format!(
            "artifact tagged as {}:{t}@{digest}",
            url.repository_url()
        ));
    }
    Ok(())
}

/// `list artifacts`: a table of the repository's tags (those matching
/// `filter`, a regular expression, when given).
///
/// # Errors
/// [`Error::Usage`], [`Error::Registry`].
pub async fn list(
    url: &str,
    filter: Option<&str>,
    registry_flags: &RegistryFlags,
    timeout: Duration,
) -> Result<()> {
    let url = parse_url(url, false)?;
    let filter = filter
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| Error::Usage(format!("--filter-regex: {e}")))?;
    let registry = registry(registry_flags, timeout)?;
    let fail = registry_error(registry_flags.creds.as_deref());
    let mut tags = registry
        .list_tags(&url)
        .await
        .map_err(|e| fail(artifact::Error::from(e)))?;
    tags.retain(|t| filter.as_ref().is_none_or(|f| f.is_match(t)));
    tags.sort();
    let listed = artifact::list(&registry, &url, &tags)
        .await
        .map_err(&fail)?;
    let header = ["ARTIFACT", "DIGEST", "SOURCE", "REVISION"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = std::iter::once(header)
        .chain(
            listed
                .into_iter()
                .map(|l| vec![l.url, l.digest, l.source, l.revision]),
        )
        .collect();
    crate::ui::out(&crate::table::columns(&rows));
    Ok(())
}

fn shown(url: &OciUrl) -> String {
    match (&url.digest, &url.tag) {
        (Some(d), _) => format!("{}@{d}", url.repository_url()),
        (None, Some(t)) => format!("{}:{t}", url.repository_url()),
        (None, None) => url.repository_url(),
    }
}
