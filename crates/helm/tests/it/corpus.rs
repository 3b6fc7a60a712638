//! The shared rendering corpus (`../shared/helm-corpus`, or `FERROFLUX_HELM_CORPUS`): 102 cases
//! from 36 real charts with what `helm template` v4.1.4 printed. Every case must render to the
//! same text (byte for byte, CRLF line ends read as LF since the stored files were normalised),
//! or to the same text once the values of random functions are masked by shape (only in the cases
//! listed in [`RANDOM`]), or be refused by both with helm's exact message. A case we refuse by
//! naming what is not implemented is counted apart; anything else is a silent difference and
//! fails the test.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use ferroflux_helm::action::{Notices, TemplateOptions, template};
use regex::Regex;

/// Cases whose output holds random values, and the shapes masked in them.
const RANDOM: &[&str] = &[
    "elastic/elasticsearch",
    "jenkinsci/jenkins",
    "jenkinsci/jenkins:default-values",
    "jenkinsci/jenkins:other-values",
    "jenkinsci/jenkins:with-secrets-values",
    "kubernetes-sigs/metrics-server:tls-helm-values",
    "open-telemetry/opentelemetry-operator:cert-manager-disable-values",
    "open-telemetry/opentelemetry-operator:cert-manager-disable-nameoverride-values",
    "open-telemetry/opentelemetry-operator:manager-config-values",
    "grafana/loki-distributed:persistence-values",
];

/// The shapes of random values: base64 of PEM, PEM blocks, bcrypt hashes, jenkins' and
/// elasticsearch's generated passwords and test-pod name suffixes.
static MASKS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"LS0tLS1CRUdJTi[A-Za-z0-9+/=]+", "<base64 pem>"),
        (
            r"-----BEGIN [A-Z ]+-----[A-Za-z0-9+/=\n\\ ]+-----END [A-Z ]+-----",
            "<pem>",
        ),
        (r"\$2a\$10\$[./A-Za-z0-9]{53}", "<bcrypt>"),
        (
            r#"(jenkins-admin-password|password): "?[A-Za-z0-9+/=]+"?"#,
            "$1: <random>",
        ),
        (r"-test-[a-z0-9]{5}\b", "-test-<random>"),
        (r"\b([a-z0-9-]+)-[a-zA-Z]{5}-test\b", "$1-<random>-test"),
    ]
    .into_iter()
    .map(|(re, with)| (Regex::new(re).expect("a mask pattern"), with))
    .collect()
});

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FERROFLUX_HELM_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/helm-corpus"),
        PathBuf::from,
    );
    dir.join("cases.txt").is_file().then_some(dir)
}

/// One line of `cases.txt`.
struct Case {
    key: String,
    dir: PathBuf,
    values: Option<String>,
    expected: PathBuf,
    refused: bool,
}

fn cases(root: &Path) -> Vec<Case> {
    let list = std::fs::read_to_string(root.join("cases.txt")).expect("cases.txt");
    list.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let (dir, values, status) = (fields[0], fields[1], fields[2]);
            let refused = status == "err";
            let ext = if refused { "err" } else { "yaml" };
            let (key, values, expected) = if values == "-" {
                (dir.to_owned(), None, format!("expected.{ext}"))
            } else {
                let stem = Path::new(values)
                    .file_stem()
                    .expect("a values file name")
                    .to_string_lossy()
                    .into_owned();
                (
                    format!("{dir}:{stem}"),
                    Some(values.to_owned()),
                    format!("expected.{stem}.{ext}"),
                )
            };
            Case {
                key,
                dir: root.join(dir),
                values,
                expected: root.join(dir).join(expected),
                refused,
            }
        })
        .collect()
}

/// What `helm template rel <case> --namespace ns [-f ...]` prints here: stdout, or everything
/// helm prints on stderr when it fails.
fn render(case: &Case) -> Result<String, String> {
    let chart_dir = case.dir.join("chart");
    let chart = ferroflux_helm::chart::load_dir(&chart_dir).map_err(|e| format!("Error: {e}\n"))?;
    let mut opts = TemplateOptions::new("rel", "ns");
    if let Some(values) = &case.values {
        let path = chart_dir.join(values);
        let text = std::fs::read_to_string(&path).expect("the values file");
        opts.values.files.push((path.display().to_string(), text));
    }
    let mut notices = Notices::default();
    let result = template(chart, &opts, &mut notices);
    result.map_err(|e| {
        let mut err = String::new();
        for w in &notices.warnings {
            let _ = writeln!(err, "level=WARN msg={w:?}");
        }
        let hint = if e.debug_hint() {
            "\n\nUse --debug flag to render out invalid YAML"
        } else {
            ""
        };
        let _ = writeln!(err, "Error: {e}{hint}");
        err
    })
}

fn mask(text: &str) -> String {
    MASKS.iter().fold(text.to_owned(), |t, (re, with)| {
        re.replace_all(&t, *with).into_owned()
    })
}

fn documents(text: &str) -> Option<Vec<serde_json::Value>> {
    ferroflux_yaml::parse_documents(text).ok()
}

#[derive(Default, Debug)]
struct Counts {
    identical: usize,
    equal_masked: usize,
    equal_objects: usize,
    refused_by_both: usize,
    refused_by_name: Vec<String>,
    wrong: Vec<String>,
}

#[test]
fn the_shared_corpus_renders_as_helm_template_does() {
    let Some(root) = corpus_dir() else {
        eprintln!("no helm corpus at ../shared/helm-corpus (set FERROFLUX_HELM_CORPUS): skipped");
        return;
    };
    let all = cases(&root);
    assert_eq!(all.len(), 102, "cases.txt lists 102 cases");
    let mut counts = Counts::default();
    for case in &all {
        let want = std::fs::read_to_string(&case.expected)
            .expect("the expected output")
            .replace("\r\n", "\n");
        match (render(case), case.refused) {
            (Err(got), true) if got == want => counts.refused_by_both += 1,
            (Err(got), _) if got.contains("is not implemented") => {
                counts
                    .refused_by_name
                    .push(format!("{}: {}", case.key, got.trim()));
            }
            (Ok(got), false) => {
                let got = got.replace("\r\n", "\n");
                if got == want {
                    counts.identical += 1;
                } else if RANDOM.contains(&case.key.as_str()) && mask(&got) == mask(&want) {
                    counts.equal_masked += 1;
                } else if documents(&got).is_some() && documents(&got) == documents(&want) {
                    counts.equal_objects += 1;
                } else {
                    counts.wrong.push(case.key.clone());
                }
            }
            (got, _) => counts
                .wrong
                .push(format!("{}: got {:?}", case.key, got.map(|s| s.len()))),
        }
    }
    eprintln!(
        "helm corpus: {} identical, {} equal once random values are masked, {} equal as objects, {} refused by both, {} refused by name, {} wrong",
        counts.identical,
        counts.equal_masked,
        counts.equal_objects,
        counts.refused_by_both,
        counts.refused_by_name.len(),
        counts.wrong.len()
    );
    assert!(
        counts.wrong.is_empty(),
        "silent differences: {:#?}",
        counts.wrong
    );
    assert!(
        counts.identical >= 87
            && counts.identical + counts.equal_masked + counts.equal_objects == 97
            && counts.refused_by_both == 5
            && counts.refused_by_name.is_empty(),
        "fewer cases than before render as helm does: {counts:#?}"
    );
}
