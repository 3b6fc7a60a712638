//! The chart cases under `tests/charts/<case>/`: a full chart (`chart/`, subcharts under
//! `chart/charts/`), the extra `helm template` arguments (`args`, one line split on whitespace,
//! paths relative to the case directory) and what the reference helm printed for
//! `helm template rel chart --namespace ns <args>` run from the case directory (`expected`:
//! stdout on success, stderr on failure; written by `scripts/helm-charts.sh`). They cover what a
//! one-template case cannot: subcharts, values across charts, dependency processing, the loader,
//! output assembly and the flags. Every case must render here exactly as stored, except that a
//! case with a `refused` file (a message prefix) only has to fail with that prefix, as helm's
//! stored error does: there the YAML reader's own words and line differ from go-yaml's. When the
//! reference binary is present, the stored expectations are also re-checked against it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferroflux_helm::action::{Notices, TemplateOptions, template};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charts")
}

fn cases() -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(cases_dir())
        .expect("the charts directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.join("chart").is_dir())
        .map(|p| {
            (
                p.file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned(),
                p,
            )
        })
        .collect();
    cases.sort();
    cases
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The case's extra arguments, split on whitespace as the script's `read -ra` splits them.
fn args(dir: &Path) -> Vec<String> {
    read(&dir.join("args"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// `args` as `TemplateOptions`, for the flags the cases use; paths are taken from `dir`.
fn options(dir: &Path, args: &[String]) -> Result<TemplateOptions, String> {
    let mut opts = TemplateOptions::new("rel", "ns");
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} takes a value"))
        };
        match flag.as_str() {
            "-f" | "--values" => {
                let name = value()?;
                let text = std::fs::read_to_string(dir.join(&name))
                    .map_err(|e| format!("reading {name}: {e}"))?;
                opts.values.files.push((name, text));
            }
            "--set" => opts.values.set.push(value()?),
            "--set-string" => opts.values.set_string.push(value()?),
            "--set-json" => opts.values.set_json.push(value()?),
            "--set-literal" => opts.values.set_literal.push(value()?),
            "--set-file" => {
                let line = value()?;
                let (key, path) = line
                    .split_once('=')
                    .ok_or_else(|| format!("--set-file {line}: no '='"))?;
                let path = dir.join(path);
                opts.values
                    .set_file
                    .push(format!("{key}={}", path.display()));
            }
            "--kube-version" => opts.kube_version = Some(value()?),
            "-a" | "--api-versions" => opts
                .api_versions
                .extend(value()?.split(',').map(str::to_owned)),
            "--include-crds" => opts.include_crds = true,
            "--skip-tests" => opts.skip_tests = true,
            "-s" | "--show-only" => opts.show_only.push(value()?),
            "--is-upgrade" => opts.release.is_upgrade = true,
            other => return Err(format!("the test does not know the flag {other}")),
        }
    }
    Ok(opts)
}

/// What `ferroflux-helm template` prints for the case: stdout on success, otherwise stderr
/// (Helm's log lines, then `Error: ...` as `src/main.rs` writes it).
fn render(dir: &Path) -> Result<String, String> {
    let opts = options(dir, &args(dir))?;
    let chart = match ferroflux_helm::chart::load(&dir.join("chart")) {
        Ok(chart) => chart,
        Err(e) => return Ok(format!("Error: {e}\n")),
    };
    let mut notices = Notices::default();
    let result = template(chart, &opts, &mut notices);
    let mut stderr = String::new();
    for w in &notices.warnings {
        let _ = writeln!(stderr, "level=WARN msg={w:?}");
    }
    for i in &notices.info {
        let _ = writeln!(stderr, "level=INFO msg={i:?}");
    }
    Ok(match result {
        Ok(out) => out,
        Err(e) => {
            let hint = if e.debug_hint() {
                "\n\nUse --debug flag to render out invalid YAML"
            } else {
                ""
            };
            let _ = writeln!(stderr, "Error: {e}{hint}");
            stderr
        }
    })
}

#[test]
fn every_chart_case_renders_as_helm_does() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} chart cases", cases.len());
    let mut failures = Vec::new();
    for (name, dir) in &cases {
        let want = read(&dir.join("expected"));
        let refused = std::fs::read_to_string(dir.join("refused")).ok();
        match render(dir) {
            Ok(got) if got == want => {}
            Ok(got)
                if refused
                    .as_deref()
                    .is_some_and(|p| want.starts_with(p) && got.starts_with(p)) => {}
            Ok(got) => failures.push(format!("{name}:\n  want: {want:?}\n  got:  {got:?}")),
            Err(e) => failures.push(format!("{name}: the case does not run: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} chart cases differ from helm:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn reference_helm() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = Path::new(&home).join(".cache/ferroflux/reference/bin/helm");
    path.is_file().then_some(path)
}

/// Runs the reference helm on a case as `scripts/helm-charts.sh` does.
fn helm_expected(helm: &Path, dir: &Path) -> String {
    let out = Command::new(helm)
        .current_dir(dir)
        .args(["template", "rel", "chart", "--namespace", "ns"])
        .args(args(dir))
        .output()
        .expect("helm runs");
    let bytes = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    String::from_utf8(bytes).expect("utf-8 output")
}

#[test]
fn stored_chart_expectations_are_what_the_reference_helm_prints() {
    let Some(helm) = reference_helm() else {
        eprintln!("no reference helm binary: the stored expectations are used as they are");
        return;
    };
    let cases = cases();
    let stale: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = cases
            .chunks(cases.len().div_ceil(4).max(1))
            .map(|chunk| {
                let helm = &helm;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter(|(_, dir)| helm_expected(helm, dir) != read(&dir.join("expected")))
                        .map(|(name, _)| name.clone())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker"))
            .collect()
    });
    assert!(
        stale.is_empty(),
        "stale expectations (run scripts/helm-charts.sh): {stale:?}"
    );
}
