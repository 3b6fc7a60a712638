//! The construct cases under `tests/constructs/<case>/`: a template (`template.yaml`), optional
//! values (`values.yaml`) and what the reference `helm template` printed for them (`expected`,
//! written by `scripts/helm-constructs.sh`). Every case must render here exactly as stored; when
//! the reference binary is present, the stored expectations are also re-checked against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferroflux_helm::funcs::helm_funcs;
use ferroflux_helm::helm_error::{exec_message, parse_message};
use ferroflux_helm::objects::default_capabilities;
use ferroflux_helm::template::{List, Map, MapType, Templates, Value};

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

/// JSON (what Helm's YAML reader yields) into template values: every number a `float64`.
fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().expect("a finite number")),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => {
            Value::List(List::new(items.iter().map(from_json).collect()))
        }
        serde_json::Value::Object(m) => Value::Map(Map::new(
            m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect(),
        )),
    }
}

fn map(entries: Vec<(&str, Value)>, ty: MapType) -> Value {
    let m: BTreeMap<String, Value> = entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    Value::Map(Map::typed(m, ty))
}

/// Helm reads values with YAML 1.1 rules (`y`, `n`, `yes`, `off`, ... are booleans, as keys
/// and as values) while this harness reads YAML 1.2: a case using those words unquoted would
/// compare two different inputs, so it is refused.
fn check_yaml_1_1_words(values_yaml: &str) {
    const WORDS: [&str; 16] = [
        "y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    for token in
        values_yaml.split(|c: char| c.is_whitespace() || matches!(c, '{' | '}' | '[' | ']' | ','))
    {
        let word = token.strip_suffix(':').unwrap_or(token);
        assert!(
            !WORDS.contains(&word),
            "values.yaml uses the YAML 1.1 boolean {word:?}; quote it or pick another word"
        );
    }
}

/// The dot Helm gives `templates/t.yaml` of chart `c` released as `rel` in `ns`.
fn dot(values_yaml: &str) -> Value {
    check_yaml_1_1_words(values_yaml);
    let docs = ferroflux_yaml::parse_documents(values_yaml).expect("values.yaml parses");
    let values = match docs.first().map(from_json) {
        Some(Value::Map(m)) => Value::Map(Map::typed(
            m.entries().into_iter().collect(),
            MapType::Values,
        )),
        _ => map(vec![], MapType::Values),
    };
    let release = map(
        vec![
            ("Name", Value::str("rel")),
            ("Namespace", Value::str("ns")),
            ("Service", Value::str("Helm")),
            ("IsInstall", Value::Bool(true)),
            ("IsUpgrade", Value::Bool(false)),
            ("Revision", Value::int(1)),
        ],
        MapType::Any,
    );
    let chart = map(
        vec![("Name", Value::str("c")), ("Version", Value::str("0.1.0"))],
        MapType::Any,
    );
    let template = map(
        vec![
            ("Name", Value::str(FILE)),
            ("BasePath", Value::str("c/templates")),
        ],
        MapType::Any,
    );
    map(
        vec![
            ("Values", values),
            ("Release", release),
            ("Chart", chart),
            ("Template", template),
            ("Capabilities", default_capabilities()),
        ],
        MapType::Values,
    )
}

/// What `helm template` would print for the case, in the form `expected` stores.
fn render(template: &str, values_yaml: &str) -> String {
    let mut set = Templates::new("gotpl", helm_funcs());
    if let Err(e) = set.parse(FILE, template) {
        return format!("Error: {}{DEBUG_HINT}", parse_message(&e));
    }
    let mut out = String::new();
    if let Err(e) = set.execute(FILE, &dot(values_yaml), &mut out) {
        return format!("Error: {}{DEBUG_HINT}", exec_message(&e));
    }
    out.replace("<no value>", "")
        .trim_matches(|c: char| c.is_whitespace())
        .to_owned()
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
        let got = render(
            &read(&dir.join("template.yaml")),
            &read(&dir.join("values.yaml")),
        );
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
