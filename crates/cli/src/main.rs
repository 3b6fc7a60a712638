//! `ferroflux`: flags and wiring; the commands live in the library.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ferroflux_cli::artifacts::{self, PushFlags, RegistryFlags};
use ferroflux_cli::commands::{self, Context};
use ferroflux_cli::error::Error;
use ferroflux_cli::kinds::{self, Kind};
use ferroflux_cli::manifests::{
    self, AlertFlags, BucketSource, ChartSource, GitSecretFlags, GitSource, HelmReleaseFlags,
    HelmSource, KustomizationFlags, OciSource, ProviderFlags, ReceiverFlags,
};
use ferroflux_cli::sops::{self, SopsSecretFlags};
use ferroflux_cli::ui::Ui;
use ferroflux_cli::{cluster, helmrelease, install, local, tree};

/// Ferroflux: Flux's toolkit in Rust, for Flux's objects.
#[derive(Parser)]
#[command(name = "ferroflux", version, about)]
struct Cli {
    /// Path to the kubeconfig (else KUBECONFIG, ~/.kube/config or in-cluster).
    #[arg(long, global = true)]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    context: Option<String>,
    /// The namespace of the objects.
    #[arg(short, long, global = true, default_value = "flux-system")]
    namespace: String,
    /// How long to wait for the controllers (e.g. 90s, 5m).
    #[arg(long, global = true, default_value = "5m")]
    timeout: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the CRDs and the controllers into flux-system.
    Install {
        /// Print the manifests instead of applying them.
        #[arg(long)]
        export: bool,
        /// Extra components to install besides the default controllers, as
        /// Flux's `--components-extra`: `source-watcher`.
        #[arg(long, value_delimiter = ',')]
        components_extra: Vec<String>,
        /// Wait for the controllers to be available.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        wait: bool,
    },
    /// Remove the controllers, the CRDs and every Flux object (the objects
    /// they applied stay).
    Uninstall {
        /// Keep the flux-system namespace.
        #[arg(long)]
        keep_namespace: bool,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        silent: bool,
    },
    /// Check the prerequisites, the CRDs and the controllers.
    Check {
        /// Only the prerequisites.
        #[arg(long)]
        pre: bool,
    },
    /// Create or update an object (apply, then wait for it).
    #[command(subcommand)]
    // Boxed: `create helmrelease`'s flags make it far larger than the
    // other commands.
    Create(Box<Create>),
    /// List objects with their state.
    Get(Get),
    /// Reconcile an object now and wait for the result.
    Reconcile {
        #[command(subcommand)]
        target: Target,
        /// For a Kustomization its source, for a HelmRelease its chart:
        /// reconcile it first.
        #[arg(long, global = true)]
        with_source: bool,
        /// For a HelmRelease: a one-off install or upgrade, even when in
        /// sync.
        #[arg(long, global = true)]
        force: bool,
        /// For a HelmRelease: reset its install and upgrade failure counts
        /// (after retries ran out).
        #[arg(long, global = true)]
        reset: bool,
    },
    /// Stop reconciling an object.
    Suspend {
        #[command(subcommand)]
        target: Target,
    },
    /// Reconcile a suspended object again.
    Resume {
        #[command(subcommand)]
        target: Target,
    },
    /// Print objects as YAML to store in git (no status).
    Export {
        #[command(subcommand)]
        target: Target,
    },
    /// Build a Kustomization from a local directory as the controller would.
    Build {
        #[command(subcommand)]
        target: LocalTarget,
    },
    /// Show what applying a local directory, or a HelmRelease's next
    /// upgrade, would change (exit code 1 when something would).
    Diff {
        #[command(subcommand)]
        target: DiffTarget,
    },
    /// Show the objects a Kustomization manages.
    Tree {
        #[command(subcommand)]
        target: TreeTarget,
    },
    /// Push a directory or file to an OCI registry as a Flux artifact.
    #[command(subcommand)]
    Push(PushTarget),
    /// Pull a Flux artifact from an OCI registry and unpack it.
    #[command(subcommand)]
    Pull(PullTarget),
    /// Tag a Flux artifact in an OCI registry.
    #[command(subcommand)]
    Tag(TagTarget),
    /// List the Flux artifacts of an OCI repository.
    #[command(subcommand)]
    List(ListTarget),
    /// Show the events about Flux objects.
    Events {
        /// In every namespace.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Only this object, as Kind/name.
        #[arg(long = "for")]
        only: Option<String>,
    },
}

#[derive(Subcommand)]
enum PushTarget {
    /// oci://<registry>/<repository>:<tag>
    Artifact {
        url: String,
        #[command(flatten)]
        flags: PushFlags,
        #[command(flatten)]
        registry: RegistryFlags,
    },
}

#[derive(Subcommand)]
enum PullTarget {
    /// oci://<registry>/<repository>:<tag> or @<digest>
    Artifact {
        url: String,
        /// The directory to unpack into.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        registry: RegistryFlags,
    },
}

#[derive(Subcommand)]
enum TagTarget {
    /// oci://<registry>/<repository>:<tag> or @<digest>
    Artifact {
        url: String,
        /// The tags to add.
        #[arg(long = "tag", required = true)]
        tags: Vec<String>,
        #[command(flatten)]
        registry: RegistryFlags,
    },
}

#[derive(Subcommand)]
enum ListTarget {
    /// oci://<registry>/<repository>
    Artifacts {
        url: String,
        /// Only tags matching this regular expression.
        #[arg(long)]
        filter_regex: Option<String>,
        #[command(flatten)]
        registry: RegistryFlags,
    },
}

#[derive(Subcommand)]
enum Create {
    /// A source.
    #[command(subcommand)]
    Source(CreateSource),
    /// A Kustomization.
    #[command(alias = "ks")]
    Kustomization {
        name: String,
        #[command(flatten)]
        flags: KustomizationFlags,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// A HelmRelease.
    #[command(alias = "hr")]
    Helmrelease {
        name: String,
        #[command(flatten)]
        flags: HelmReleaseFlags,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// A notification Provider.
    AlertProvider {
        name: String,
        #[command(flatten)]
        flags: ProviderFlags,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// An Alert.
    Alert {
        name: String,
        #[command(flatten)]
        flags: AlertFlags,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// A webhook Receiver.
    Receiver {
        name: String,
        #[command(flatten)]
        flags: ReceiverFlags,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// A Secret holding credentials.
    #[command(subcommand)]
    Secret(CreateSecret),
}

#[derive(Subcommand)]
enum CreateSecret {
    /// Credentials of a Git repository, for `create source git --secret-ref`.
    Git {
        name: String,
        #[command(flatten)]
        flags: GitSecretFlags,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// The SOPS decryption keys of a Kustomization, for `create
    /// kustomization --decryption-secret` (age identities as
    /// `<stem>.agekey`, PGP private keys as `<stem>.asc`).
    Sops {
        name: String,
        #[command(flatten)]
        flags: SopsSecretFlags,
        #[command(flatten)]
        common: CreateCommon,
    },
}

#[derive(Subcommand)]
enum CreateSource {
    /// A GitRepository.
    Git {
        name: String,
        #[command(flatten)]
        flags: GitSource,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// A HelmRepository (an HTTP(S) chart repository, or an OCI registry).
    Helm {
        name: String,
        #[command(flatten)]
        flags: HelmSource,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// A HelmChart from a HelmRepository, GitRepository or Bucket.
    Chart {
        name: String,
        #[command(flatten)]
        flags: ChartSource,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// An OCIRepository.
    Oci {
        name: String,
        #[command(flatten)]
        flags: OciSource,
        #[command(flatten)]
        common: CreateCommon,
    },
    /// A Bucket (S3-compatible object storage); with --access-key and
    /// --secret-key, also a Secret named as the Bucket holding them.
    Bucket {
        name: String,
        #[command(flatten)]
        flags: BucketSource,
        #[command(flatten)]
        common: CreateCommon,
    },
}

#[derive(Args)]
struct CreateCommon {
    /// Print the YAML instead of applying it.
    #[arg(long)]
    export: bool,
}

#[derive(Args)]
struct Get {
    #[command(subcommand)]
    what: GetWhat,
    /// In every namespace.
    #[arg(short = 'A', long, global = true)]
    all_namespaces: bool,
    /// Keep printing changes.
    #[arg(short, long, global = true)]
    watch: bool,
}

#[derive(Subcommand)]
enum GetWhat {
    /// Sources: git, oci, helm, chart, bucket, external or all.
    Sources { kind: String },
    /// ArtifactGenerators: `get artifact generators`.
    Artifact { kind: String },
    /// Kustomizations.
    #[command(alias = "ks")]
    Kustomizations,
    /// HelmReleases.
    #[command(aliases = ["hr", "helmrelease"])]
    Helmreleases,
    /// Alerts.
    Alerts,
    /// Alert Providers.
    AlertProviders,
    /// Receivers.
    Receivers,
    /// Every kind.
    All,
}

#[derive(Subcommand)]
enum Target {
    /// A source: git, oci, helm, chart, bucket or external, then its name.
    Source {
        kind: String,
        name: Option<String>,
        /// Every object of the kind (export).
        #[arg(long)]
        all: bool,
    },
    /// An ArtifactGenerator: `artifact generator NAME`.
    Artifact {
        kind: String,
        name: Option<String>,
        /// Every object of the kind (export).
        #[arg(long)]
        all: bool,
    },
    /// A Kustomization.
    #[command(alias = "ks")]
    Kustomization {
        name: Option<String>,
        /// Every object of the kind (export).
        #[arg(long)]
        all: bool,
    },
    /// A HelmRelease.
    #[command(alias = "hr")]
    Helmrelease {
        name: Option<String>,
        /// Every object of the kind (export).
        #[arg(long)]
        all: bool,
    },
    /// A Receiver.
    Receiver {
        name: Option<String>,
        /// Every object of the kind (export).
        #[arg(long)]
        all: bool,
    },
    /// An Alert.
    Alert {
        name: Option<String>,
        /// Every object of the kind (export).
        #[arg(long)]
        all: bool,
    },
    /// A Provider.
    AlertProvider {
        name: Option<String>,
        /// Every object of the kind (export).
        #[arg(long)]
        all: bool,
    },
}

impl Target {
    fn resolve(&self) -> Result<(Kind, Option<String>, bool), Error> {
        let (kind, name, all) = match self {
            Self::Source { kind, name, all } => (
                kinds::source(kind).ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown source kind '{kind}'; use git, oci, helm, chart, bucket or external"
                    ))
                })?,
                name,
                all,
            ),
            Self::Artifact { kind, name, all } => (artifact_kind(kind)?, name, all),
            Self::Kustomization { name, all } => (kinds::kustomization(), name, all),
            Self::Helmrelease { name, all } => (kinds::helm_release(), name, all),
            Self::Receiver { name, all } => (kinds::receiver(), name, all),
            Self::Alert { name, all } => (kinds::alert(), name, all),
            Self::AlertProvider { name, all } => (kinds::provider(), name, all),
        };
        Ok((kind, name.clone(), *all))
    }

    fn named(&self) -> Result<(Kind, String), Error> {
        let (kind, name, _) = self.resolve()?;
        let name =
            name.ok_or_else(|| Error::Usage(format!("name the {} to act on", kind.name())))?;
        Ok((kind, name))
    }
}

#[derive(Subcommand)]
enum LocalTarget {
    /// A Kustomization.
    #[command(alias = "ks")]
    Kustomization {
        name: String,
        /// The local directory that stands for its spec.path.
        #[arg(long)]
        path: PathBuf,
        #[command(flatten)]
        decryption: Decryption,
    },
}

/// Local SOPS decryption for `build` and `diff kustomization`.
#[derive(Args)]
struct Decryption {
    /// Decrypt SOPS files and values with this private key, as the
    /// controller does with its decryption Secret: an age identity file or
    /// an armored PGP private key; `-` reads standard input. Repeatable.
    /// Without it, encrypted objects stay encrypted.
    #[arg(long = "decryption-key", value_name = "FILE")]
    keys: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum DiffTarget {
    /// A Kustomization, built from a local directory.
    #[command(alias = "ks")]
    Kustomization {
        name: String,
        /// The local directory that stands for its spec.path.
        #[arg(long)]
        path: PathBuf,
        #[command(flatten)]
        decryption: Decryption,
    },
    /// A HelmRelease: its chart and values now against its deployed
    /// release.
    #[command(alias = "hr")]
    Helmrelease { name: String },
}

#[derive(Subcommand)]
enum TreeTarget {
    /// A Kustomization.
    #[command(alias = "ks")]
    Kustomization { name: String },
    /// An ArtifactGenerator's ExternalArtifacts: `tree artifact generator NAME`.
    Artifact { kind: String, name: String },
}

/// The extra components of an `install --export`, if the command is one.
fn install_export(command: &Command) -> Option<&[String]> {
    match command {
        Command::Install {
            export: true,
            components_extra,
            ..
        } => Some(components_extra),
        _ => None,
    }
}

/// The kind `artifact <kind>` names: only `generator(s)`, as in Flux.
fn artifact_kind(kind: &str) -> Result<Kind, Error> {
    match kind {
        "generator" | "generators" => Ok(kinds::artifact_generator()),
        _ => Err(Error::Usage(format!(
            "unknown artifact kind '{kind}'; use `artifact generator`"
        ))),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let ui = Ui::detect();
    match run(cli, ui).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            ui.failure(&e.to_string());
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(cli: Cli, ui: Ui) -> Result<(), Error> {
    let timeout = ferroflux_api::duration::parse(&cli.timeout)
        .map_err(|e| Error::Usage(format!("--timeout: {e}")))?;
    // Printing what `create --export` or `install --export` would write
    // needs no cluster.
    if let Some(objects) = exported_objects(&cli.command, &cli.namespace)? {
        commands::print_yaml(&objects);
        return Ok(());
    }
    if let Some(result) = artifact_verb(&cli.command, ui, timeout).await {
        return result;
    }
    if let Some(extra) = install_export(&cli.command) {
        ferroflux_cli::ui::out(&install::manifest(extra)?);
        return Ok(());
    }
    let client = cluster::client(cli.kubeconfig.as_deref(), cli.context.as_deref()).await?;
    let ctx = Context {
        client,
        namespace: cli.namespace,
        timeout,
        ui,
    };
    match cli.command {
        Command::Install {
            export,
            wait,
            components_extra,
        } => install::install(&ctx, export, wait, &components_extra).await,
        Command::Uninstall {
            keep_namespace,
            silent,
        } => install::uninstall(&ctx, keep_namespace, silent).await,
        Command::Check { pre } => install::check(&ctx, pre).await,
        Command::Create(create) => run_create(&ctx, &create).await,
        Command::Get(get) => run_get(&ctx, &get).await,
        Command::Reconcile {
            target,
            with_source,
            force,
            reset,
        } => {
            let (kind, name) = target.named()?;
            if (force || reset) && kind.name() != "HelmRelease" {
                return Err(Error::Usage(format!(
                    "--force and --reset are for HelmReleases, not a {}",
                    kind.name()
                )));
            }
            let also: Vec<&str> = [(force, cluster::FORCE_AT), (reset, cluster::RESET_AT)]
                .into_iter()
                .filter_map(|(on, key)| on.then_some(key))
                .collect();
            commands::reconcile(&ctx, &kind, &name, with_source, &also).await
        }
        Command::Suspend { target } => {
            let (kind, name) = target.named()?;
            commands::suspend(&ctx, &kind, &name, true).await
        }
        Command::Resume { target } => {
            let (kind, name) = target.named()?;
            commands::suspend(&ctx, &kind, &name, false).await
        }
        Command::Export { target } => {
            let (kind, name, all) = target.resolve()?;
            if name.is_none() && !all {
                return Err(Error::Usage(format!(
                    "name the {} to export, or pass --all",
                    kind.name()
                )));
            }
            commands::export(&ctx, &kind, name.as_deref()).await
        }
        Command::Build { target } => build(&ctx, target).await,
        Command::Diff { target } => diff(&ctx, target).await,
        Command::Tree { target } => run_tree(&ctx, target).await,
        Command::Events {
            all_namespaces,
            only,
        } => commands::events(&ctx, all_namespaces, only.as_deref()).await,
        Command::Push(_) | Command::Pull(_) | Command::Tag(_) | Command::List(_) => {
            Err(Error::Usage("artifact verbs run without a cluster".into()))
        }
    }
}

/// The artifact verbs, which talk to a registry and need no cluster.
async fn artifact_verb(
    command: &Command,
    ui: Ui,
    timeout: std::time::Duration,
) -> Option<Result<(), Error>> {
    Some(match command {
        Command::Push(PushTarget::Artifact {
            url,
            flags,
            registry,
        }) => artifacts::push(ui, url, flags, registry, timeout).await,
        Command::Pull(PullTarget::Artifact {
            url,
            output,
            registry,
        }) => artifacts::pull(ui, url, output, registry, timeout).await,
        Command::Tag(TagTarget::Artifact {
            url,
            tags,
            registry,
        }) => artifacts::tag(ui, url, tags, registry, timeout).await,
        Command::List(ListTarget::Artifacts {
            url,
            filter_regex,
            registry,
        }) => artifacts::list(url, filter_regex.as_deref(), registry, timeout).await,
        _ => return None,
    })
}

async fn run_tree(ctx: &Context, target: TreeTarget) -> Result<(), Error> {
    let node = match target {
        TreeTarget::Kustomization { name } => {
            tree::tree(&ctx.client, &ctx.namespace, &name, 16).await?
        }
        TreeTarget::Artifact { kind, name } => {
            artifact_kind(&kind)?;
            tree::generator(&ctx.client, &ctx.namespace, &name).await?
        }
    };
    ferroflux_cli::ui::out(&tree::render(&node));
    Ok(())
}

async fn run_get(ctx: &Context, get: &Get) -> Result<(), Error> {
    let kinds: Vec<Kind> = match &get.what {
        GetWhat::Sources { kind } if kind == "all" => {
            kinds::all().into_iter().filter(|k| k.source).collect()
        }
        GetWhat::Sources { kind } => vec![kinds::source(kind).ok_or_else(|| {
            Error::Usage(format!(
                "unknown source kind '{kind}'; use git, oci, helm, chart, bucket, external or all"
            ))
        })?],
        GetWhat::Artifact { kind } => vec![artifact_kind(kind)?],
        GetWhat::Kustomizations => vec![kinds::kustomization()],
        GetWhat::Helmreleases => vec![kinds::helm_release()],
        GetWhat::Alerts => vec![kinds::alert()],
        GetWhat::AlertProviders => vec![kinds::provider()],
        GetWhat::Receivers => vec![kinds::receiver()],
        GetWhat::All => kinds::all(),
    };
    if get.watch {
        let [kind] = kinds.as_slice() else {
            return Err(Error::Usage("--watch follows one kind at a time".into()));
        };
        return commands::watch(ctx, kind, get.all_namespaces).await;
    }
    // Cut long messages to a terminal's width when it says what it is.
    let width = std::io::stdout()
        .is_terminal()
        .then(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .flatten();
    commands::get(ctx, &kinds, get.all_namespaces, width).await
}

/// Builds a Kustomization from a local directory, decrypting with the
/// `--decryption-key` files when given; warns on stderr about objects left
/// encrypted, and about keys given for a Kustomization the controller does
/// not decrypt. Returns the objects and how many stayed encrypted.
async fn build_local(
    ctx: &Context,
    name: &str,
    path: &std::path::Path,
    decryption: &Decryption,
) -> Result<(Vec<serde_json::Value>, usize), Error> {
    let keys = sops::decryption_keys(&decryption.keys)?;
    let built = local::build(&ctx.client, &ctx.namespace, name, path, keys.as_ref()).await?;
    if keys.is_some() && !built.decryption {
        ctx.ui.warning(&format!(
            "Kustomization {name} has no spec.decryption, so the controller will not decrypt its objects; decrypted here as asked"
        ));
    }
    let encrypted = sops::still_encrypted(&built.objects);
    if !encrypted.is_empty() {
        ctx.ui.warning(&sops::not_decrypted_note(&encrypted));
    }
    Ok((built.objects, encrypted.len()))
}

async fn build(ctx: &Context, target: LocalTarget) -> Result<(), Error> {
    let LocalTarget::Kustomization {
        name,
        path,
        decryption,
    } = target;
    let (objects, _) = build_local(ctx, &name, &path, &decryption).await?;
    commands::print_yaml(&objects);
    Ok(())
}

async fn diff(ctx: &Context, target: DiffTarget) -> Result<(), Error> {
    let (name, path, decryption) = match target {
        DiffTarget::Kustomization {
            name,
            path,
            decryption,
        } => (name, path, decryption),
        DiffTarget::Helmrelease { name } => return diff_helm_release(ctx, &name).await,
    };
    let (objects, encrypted) = build_local(ctx, &name, &path, &decryption).await?;
    let drift = local::diff(&ctx.client, &objects).await?;
    let mut changed = 0;
    for (id, d) in &drift {
        match d {
            local::Drift::Created => {
                ferroflux_cli::ui::out(&format!("► {id} created\n"));
                changed += 1;
            }
            local::Drift::Changed(text) => {
                ferroflux_cli::ui::out(&format!("► {id} drifted\n{text}"));
                changed += 1;
            }
            local::Drift::Unchanged | local::Drift::NotCompared => {}
        }
    }
    if changed > 0 {
        return Err(Error::Found(format!(
            "{changed} of {} objects would change",
            drift.len()
        )));
    }
    let unseen = if encrypted > 0 {
        format!(" ({encrypted} SOPS-encrypted: only their keys compared)")
    } else {
        String::new()
    };
    ctx.ui.success(&format!(
        "no changes: {} objects as in the cluster{unseen}",
        drift.len()
    ));
    Ok(())
}

async fn diff_helm_release(ctx: &Context, name: &str) -> Result<(), Error> {
    let report = helmrelease::diff(&ctx.client, &ctx.namespace, name).await?;
    ferroflux_cli::ui::out(&report.render());
    if report.changes() {
        return Err(Error::Found(format!(
            "the next reconcile of HelmRelease {name} would write a new revision of {}; {} of {} objects would change",
            report.release,
            report.changed_objects(),
            report.objects.len()
        )));
    }
    ctx.ui.success(&format!(
        "no changes: release {} is in sync with its chart and values",
        report.release
    ));
    Ok(())
}

/// `create`: the companion objects, then the object, waiting for it.
async fn run_create(ctx: &Context, create: &Create) -> Result<(), Error> {
    for (kind, obj) in companion_objects(create, &ctx.namespace)? {
        commands::create(ctx, &kind, obj, false).await?;
    }
    let (kind, obj) = create_object(create, &ctx.namespace)?;
    // An OCI HelmRepository is never reconciled: nothing to wait for.
    let wait = obj["spec"]["type"] != "oci";
    commands::create(ctx, &kind, obj, wait).await
}

/// The objects a `create ... --export` prints, if the command is one.
fn exported_objects(
    command: &Command,
    namespace: &str,
) -> Result<Option<Vec<serde_json::Value>>, Error> {
    let Command::Create(create) = command else {
        return Ok(None);
    };
    let export = match create.as_ref() {
        Create::Source(
            CreateSource::Git { common, .. }
            | CreateSource::Helm { common, .. }
            | CreateSource::Chart { common, .. }
            | CreateSource::Oci { common, .. }
            | CreateSource::Bucket { common, .. },
        )
        | Create::Kustomization { common, .. }
        | Create::Helmrelease { common, .. }
        | Create::AlertProvider { common, .. }
        | Create::Alert { common, .. }
        | Create::Receiver { common, .. }
        | Create::Secret(CreateSecret::Git { common, .. } | CreateSecret::Sops { common, .. }) => {
            common.export
        }
    };
    if !export {
        return Ok(None);
    }
    let mut objects: Vec<serde_json::Value> = companion_objects(create, namespace)?
        .into_iter()
        .map(|(_, obj)| obj)
        .collect();
    objects.push(create_object(create, namespace)?.1);
    Ok(Some(objects))
}

/// The objects a `create` applies before its own: the Secret holding a
/// Bucket's keys.
fn companion_objects(
    create: &Create,
    namespace: &str,
) -> Result<Vec<(Kind, serde_json::Value)>, Error> {
    Ok(match create {
        Create::Source(CreateSource::Bucket { name, flags, .. }) => {
            manifests::bucket_secret(name, namespace, flags)?
                .map(|secret| (kinds::secret(), secret))
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    })
}

fn create_object(create: &Create, namespace: &str) -> Result<(Kind, serde_json::Value), Error> {
    Ok(match create {
        Create::Source(CreateSource::Git { name, flags, .. }) => (
            kinds::git_repository(),
            manifests::git_repository(name, namespace, flags)?,
        ),
        Create::Source(CreateSource::Helm { name, flags, .. }) => (
            kinds::helm_repository(),
            manifests::helm_repository(name, namespace, flags),
        ),
        Create::Source(CreateSource::Chart { name, flags, .. }) => (
            kinds::helm_chart(),
            manifests::helm_chart(name, namespace, flags)?,
        ),
        Create::Source(CreateSource::Oci { name, flags, .. }) => (
            kinds::oci_repository(),
            manifests::oci_repository(name, namespace, flags)?,
        ),
        Create::Source(CreateSource::Bucket { name, flags, .. }) => {
            (kinds::bucket(), manifests::bucket(name, namespace, flags)?)
        }
        Create::Kustomization { name, flags, .. } => (
            kinds::kustomization(),
            manifests::kustomization(name, namespace, flags)?,
        ),
        Create::Helmrelease { name, flags, .. } => (
            kinds::helm_release(),
            manifests::helm_release(name, namespace, flags)?,
        ),
        Create::AlertProvider { name, flags, .. } => (
            kinds::provider(),
            manifests::provider(name, namespace, flags),
        ),
        Create::Alert { name, flags, .. } => {
            (kinds::alert(), manifests::alert(name, namespace, flags)?)
        }
        Create::Receiver { name, flags, .. } => (
            kinds::receiver(),
            manifests::receiver(name, namespace, flags)?,
        ),
        Create::Secret(CreateSecret::Git { name, flags, .. }) => (
            kinds::secret(),
            manifests::git_secret(name, namespace, flags)?,
        ),
        Create::Secret(CreateSecret::Sops { name, flags, .. }) => {
            (kinds::secret(), sops::secret(name, namespace, flags)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Cli, Command, Create, CreateSecret, DiffTarget, LocalTarget};

    #[test]
    fn decryption_keys_repeat_on_build_and_diff() {
        let cli = Cli::try_parse_from([
            "ferroflux",
            "build",
            "kustomization",
            "app",
            "--path",
            "./deploy",
            "--decryption-key",
            "age.txt",
            "--decryption-key",
            "pgp.asc",
        ])
        .unwrap();
        let Command::Build {
            target: LocalTarget::Kustomization { decryption, .. },
        } = cli.command
        else {
            panic!("not a build");
        };
        assert_eq!(
            decryption.keys,
            [std::path::PathBuf::from("age.txt"), "pgp.asc".into()]
        );
        let cli = Cli::try_parse_from([
            "ferroflux",
            "diff",
            "ks",
            "app",
            "--path",
            ".",
            "--decryption-key",
            "-",
        ])
        .unwrap();
        let Command::Diff {
            target: DiffTarget::Kustomization { decryption, .. },
        } = cli.command
        else {
            panic!("not a diff");
        };
        assert_eq!(decryption.keys, [std::path::PathBuf::from("-")]);
        // Without the flag nothing is decrypted.
        let cli = Cli::try_parse_from(["ferroflux", "build", "ks", "app", "--path", "."]).unwrap();
        let Command::Build {
            target: LocalTarget::Kustomization { decryption, .. },
        } = cli.command
        else {
            panic!("not a build");
        };
        assert!(decryption.keys.is_empty());
    }

    #[test]
    fn create_secret_sops_takes_both_kinds_of_key_files() {
        let cli = Cli::try_parse_from([
            "ferroflux",
            "create",
            "secret",
            "sops",
            "sops-keys",
            "--age-key-file",
            "a.txt",
            "--age-key-file",
            "-",
            "--pgp-key-file",
            "p.asc",
            "--export",
        ])
        .unwrap();
        let Command::Create(create) = cli.command else {
            panic!("not a create");
        };
        let Create::Secret(CreateSecret::Sops {
            name,
            flags,
            common,
        }) = *create
        else {
            panic!("not create secret sops");
        };
        assert_eq!(name, "sops-keys");
        assert_eq!(
            flags.age_key_files,
            [std::path::PathBuf::from("a.txt"), "-".into()]
        );
        assert_eq!(flags.pgp_key_files, [std::path::PathBuf::from("p.asc")]);
        assert!(common.export);
        assert!(
            Cli::try_parse_from([
                "ferroflux",
                "create",
                "kustomization",
                "app",
                "--source",
                "app",
                "--decryption-provider",
                "sops",
                "--decryption-secret",
                "sops-keys",
            ])
            .is_ok()
        );
    }
}
