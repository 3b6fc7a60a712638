//! `ferroflux-kustomize build <dir>`: prints the objects the kustomization
//! in `<dir>` builds to, as `kubectl kustomize` would.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ferroflux_kustomize::build::{LoadRestrictor, Options, build};

/// A kustomize-compatible builder.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Builds the kustomization in DIR and prints multi-document YAML.
    Build {
        /// The kustomization directory.
        dir: PathBuf,
        /// No file outside this directory is read; the current directory by
        /// default (so `build overlays/prod` may use `../../base` when run
        /// from the repository's top).
        #[arg(long)]
        root: Option<PathBuf>,
        /// Let kustomizations read files anywhere inside the root, as Flux does
        /// (`LoadRestrictionsNone`), not only below their own directory.
        #[arg(long)]
        no_load_restrictions: bool,
        /// Inflate `helmCharts` (charts already in the tree) with Ferroflux's
        /// own Helm renderer, as kustomize's `--enable-helm` does with `helm`.
        #[arg(long)]
        enable_helm: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let Command::Build {
        dir,
        root,
        no_load_restrictions,
        enable_helm,
    } = Cli::parse().command;
    let root = match root {
        Some(root) => root,
        None => std::env::current_dir().context("reading the current directory")?,
    };
    let options = Options {
        root,
        load_restrictor: if no_load_restrictions {
            LoadRestrictor::None
        } else {
            LoadRestrictor::RootOnly
        },
        enable_helm,
    };
    let objects = build(&dir, &options).with_context(|| format!("building {}", dir.display()))?;
    std::io::stdout()
        .write_all(ferroflux_kustomize::yaml::to_yaml_stream(&objects).as_bytes())
        .context("writing to stdout")?;
    Ok(())
}
