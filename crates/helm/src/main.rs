//! `ferroflux-helm template [NAME] CHART [flags]`: renders a chart as `helm template` does,
//! with the flags that apply without a cluster.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferroflux_helm::action::{Notices, TemplateOptions, template};

#[derive(Parser)]
#[command(
    name = "ferroflux-helm",
    about = "Render Helm charts as `helm template` does"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a chart's templates to stdout.
    Template(TemplateArgs),
}

#[derive(clap::Args)]
struct TemplateArgs {
    /// The release name (default `release-name`), then the chart directory.
    #[arg(num_args = 1..=2, required = true)]
    args: Vec<String>,
    /// Values files, merged in order.
    #[arg(short = 'f', long = "values")]
    values: Vec<PathBuf>,
    /// Values as `key=value[,key=value]`, typed as Helm types them.
    #[arg(long)]
    set: Vec<String>,
    /// Values as `key=value`, always strings.
    #[arg(long)]
    set_string: Vec<String>,
    /// Values as `key=<JSON>`.
    #[arg(long)]
    set_json: Vec<String>,
    /// Values as `key=path`: the file's content.
    #[arg(long)]
    set_file: Vec<String>,
    /// One value as `key=value`, taken literally.
    #[arg(long)]
    set_literal: Vec<String>,
    /// The release namespace.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// The Kubernetes version for `.Capabilities` and the chart's `kubeVersion` check.
    #[arg(long)]
    kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions`.
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    api_versions: Vec<String>,
    /// Print the charts' `crds/` files first.
    #[arg(long)]
    include_crds: bool,
    /// Leave out test hooks.
    #[arg(long)]
    skip_tests: bool,
    /// Only print the documents of templates matching this pattern (repeatable).
    #[arg(short = 's', long)]
    show_only: Vec<String>,
    /// Render as an upgrade (`.Release.IsUpgrade`).
    #[arg(long)]
    is_upgrade: bool,
}

fn run(
    args: &TemplateArgs,
    notices: &mut Notices,
) -> anyhow::Result<Result<String, ferroflux_helm::action::Error>> {
    let (name, chart_path) = match args.args.as_slice() {
        [chart] => ("release-name", chart),
        [name, chart, ..] => (name.as_str(), chart),
        [] => anyhow::bail!("give the chart to render"),
    };
    // Helm prints the loader's message alone; its sources are already part of it.
    let chart = ferroflux_helm::chart::load(std::path::Path::new(chart_path))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut opts = TemplateOptions::new(name, &args.namespace);
    for file in &args.values {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the values file {}", file.display()))?;
        opts.values.files.push((file.display().to_string(), text));
    }
    opts.values.set.clone_from(&args.set);
    opts.values.set_string.clone_from(&args.set_string);
    opts.values.set_json.clone_from(&args.set_json);
    opts.values.set_file.clone_from(&args.set_file);
    opts.values.set_literal.clone_from(&args.set_literal);
    opts.kube_version.clone_from(&args.kube_version);
    opts.api_versions.clone_from(&args.api_versions);
    opts.include_crds = args.include_crds;
    opts.skip_tests = args.skip_tests;
    opts.show_only.clone_from(&args.show_only);
    opts.release.is_upgrade = args.is_upgrade;
    Ok(template(chart, &opts, notices))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Template(args) = cli.command;
    let mut stderr = std::io::stderr();
    let mut notices = Notices::default();
    let result = run(&args, &mut notices);
    for w in &notices.warnings {
        let _ = writeln!(stderr, "level=WARN msg={w:?}");
    }
    for i in &notices.info {
        let _ = writeln!(stderr, "level=INFO msg={i:?}");
    }
    match result {
        Ok(Ok(output)) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(output.as_bytes()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            let hint = if e.debug_hint() {
                "\n\nUse --debug flag to render out invalid YAML"
            } else {
                ""
            };
            let _ = writeln!(stderr, "Error: {e}{hint}");
            ExitCode::FAILURE
        }
        Err(e) => {
            let _ = writeln!(stderr, "Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
