//! `ferroflux-crdgen [--check] [DIR]`: writes the CRD YAML into DIR (default
//! `crds`), or with `--check` fails when DIR differs from what the types produce.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

fn main() -> anyhow::Result<()> {
    let mut check = false;
    let mut dir = PathBuf::from("crds");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                eprintln!("usage: ferroflux-crdgen [--check] [DIR]  (DIR defaults to crds)");
                return Ok(());
            }
            flag if flag.starts_with('-') => {
                bail!("unknown flag {flag}; usage: ferroflux-crdgen [--check] [DIR]")
            }
            path => dir = PathBuf::from(path),
        }
    }
    if check {
        let problems = ferroflux_crdgen::check(&dir).context("checking the CRDs failed")?;
        if !problems.is_empty() {
            bail!(
                "{} is out of date with crates/api; run `make crds`:\n{}",
                dir.display(),
                problems.join("\n")
            );
        }
        eprintln!("{} is up to date", dir.display());
    } else {
        ferroflux_crdgen::write(&dir).context("writing the CRDs failed")?;
        eprintln!("wrote the CRDs to {}", dir.display());
    }
    Ok(())
}
