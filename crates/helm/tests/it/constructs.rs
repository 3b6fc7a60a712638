//! The construct cases under `tests/constructs/<case>/`: a template (`template.yaml`), optional
//! values (`values.yaml`) and what the reference `helm template` printed for them (`expected`,
//! written by `scripts/helm-constructs.sh`). Every case must render here exactly as stored; when
//! the reference binary is present, the stored expectations are also re-checked against it.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferroflux_helm::action::{Error, Notices, TemplateOptions, template};
use ferroflux_helm::chart::{Chart, File};

const FILE: &str = "c/templates/t.yaml";
const DEBUG_HINT: &str = "\n\nUse --debug flag to render out invalid YAML\n";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/constructs")
}

fn cases() -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(cases_dir())
        .expect("the constructs directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.join("template.yaml").is_file())
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

/// The one-template chart `scripts/helm-constructs.sh` builds for a case.
fn chart(template: &str, values_yaml: Option<&str>) -> Chart {
    let mut files = vec![
        File {
            name: "Chart.yaml".to_owned(),
            data: b"apiVersion: v2\nname: c\nversion: 0.1.0\n".to_vec(),
        },
        File {
            name: "templates/t.yaml".to_owned(),
            data: template.as_bytes().to_vec(),
        },
    ];
    if let Some(values) = values_yaml {
        files.push(File {
            name: "values.yaml".to_owned(),
            data: values.as_bytes().to_vec(),
        });
    }
    Chart::from_files(files, "c", &|_| Err("no archives here".to_owned())).expect("the chart loads")
}

/// What `helm template rel <chart> --namespace ns` would print for the case, in the form
/// `expected` stores (stdout without the first header and the final newline, or stderr).
fn render(template_text: &str, values_yaml: Option<&str>) -> String {
    let mut notices = Notices::default();
    let opts = TemplateOptions::new("rel", "ns");
    match template(chart(template_text, values_yaml), &opts, &mut notices) {
        Ok(out) => {
            if out == "\n" {
                return String::new();
            }
            let header = format!("---\n# Source: {FILE}\n");
            out.strip_prefix(&header)
                .and_then(|s| s.strip_suffix('\n'))
                .unwrap_or(&out)
                .to_owned()
        }
        Err(e @ (Error::Render(_) | Error::Manifest(_))) => format!("Error: {e}{DEBUG_HINT}"),
        Err(e) => format!("Error: {e}\n"),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn every_construct_case_renders_as_helm_does() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} construct cases", cases.len());
    let mut failures = Vec::new();
    for (name, dir) in &cases {
        let want = read(&dir.join("expected"));
        let values = std::fs::read_to_string(dir.join("values.yaml")).ok();
        let got = render(&read(&dir.join("template.yaml")), values.as_deref());
        if got != want {
            failures.push(format!("{name}:\n  want: {want:?}\n  got:  {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} construct cases differ from helm:\n{}",
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

/// Runs the reference helm on a case as `scripts/helm-constructs.sh` does.
fn helm_expected(helm: &Path, dir: &Path) -> String {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let chart = tmp.path().join("c");
    std::fs::create_dir_all(chart.join("templates")).expect("the chart directory");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::copy(dir.join("template.yaml"), chart.join("templates/t.yaml")).expect("the template");
    if dir.join("values.yaml").is_file() {
        std::fs::copy(dir.join("values.yaml"), chart.join("values.yaml")).expect("the values");
    }
    let out = Command::new(helm)
        .args(["template", "rel"])
        .arg(&chart)
        .args(["--namespace", "ns"])
        .output()
        .expect("helm runs");
    if !out.status.success() {
        return String::from_utf8(out.stderr).expect("utf-8 stderr");
    }
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    if stdout == "\n" {
        return String::new();
    }
    let header = format!("---\n# Source: {FILE}\n");
    stdout
        .strip_prefix(&header)
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("unexpected helm output shape: {stdout:?}"))
        .to_owned()
}

#[test]
fn stored_expectations_are_what_the_reference_helm_prints() {
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
        "stale expectations (run scripts/helm-constructs.sh): {stale:?}"
    );
}
