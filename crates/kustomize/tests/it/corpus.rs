//! Each case's `expected.yaml` was printed by `kubectl kustomize` (kustomize
//! v5.7.1); `expected-error.txt` means kustomize refused the case. A case
//! passes when our objects equal kustomize's, in order, or when both refuse
//! it. A case using a field this builder does not implement yet must be
//! refused with an error naming that field, never built differently.

use std::path::{Path, PathBuf};

use ferroflux_kustomize::Error;
use ferroflux_kustomize::build::{LoadRestrictor, Options, build};
use ferroflux_kustomize::yaml;

fn corpus_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("tests/corpus")
}

/// The build directory and options of a case.
fn case_input(case: &Path) -> (PathBuf, Options) {
    let root = case.join("in");
    let target = std::fs::read_to_string(case.join("target"))
        .map_or_else(|_| root.clone(), |t| root.join(t.trim()));
    let args = std::fs::read_to_string(case.join("args")).unwrap_or_default();
    let load_restrictor = if args.contains("LoadRestrictionsNone") {
        LoadRestrictor::None
    } else {
        LoadRestrictor::RootOnly
    };
    // The case directory is the root, so an escape out of `in/` is caught by
    // the load restrictor as kustomize catches it, not by the root.
    let options = Options {
        root: case.to_path_buf(),
        load_restrictor,
        enable_helm: args.contains("--enable-helm"),
    };
    (target, options)
}

#[derive(Default)]
struct Tally {
    identical: Vec<String>,
    equal: Vec<String>,
    both_refused: Vec<String>,
    unsupported: Vec<String>,
    wrong: Vec<String>,
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("in").is_dir())
        .collect();
    cases.sort();
    cases
}

#[test]
fn the_corpus_builds_as_kubectl_kustomize_does() {
    let mut tally = Tally::default();
    let cases = cases();
    assert!(cases.len() >= 645, "the corpus has {} cases", cases.len());
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let (target, options) = case_input(case);
        let expected = std::fs::read_to_string(case.join("expected.yaml")).ok();
        let result = build(&target, &options);
        match (result, expected) {
            (Err(Error::Unsupported { fields, .. }), _) => {
                tally.unsupported.push(format!("{name}: {fields}"));
            }
            (Err(_), None) => tally.both_refused.push(name),
            (Err(e), Some(_)) => tally.wrong.push(format!("{name}: we failed: {e}")),
            (Ok(_), None) => tally
                .wrong
                .push(format!("{name}: kustomize refused it, we built it")),
            (Ok(objects), Some(text)) => {
                let want = yaml::parse_documents(&text).unwrap();
                if objects != want {
                    let ours = yaml::to_yaml_stream(&objects);
                    tally.wrong.push(format!(
                        "{name}: different objects\n--- ours\n{ours}--- kustomize\n{text}"
                    ));
                } else if yaml::to_yaml_stream(&objects) == text {
                    tally.identical.push(name);
                } else {
                    tally.equal.push(name);
                }
            }
        }
    }
    eprintln!(
        "corpus: {} cases; {} equal objects ({} byte-identical), {} refused by both, {} refused as not implemented yet, {} wrong",
        cases.len(),
        tally.identical.len() + tally.equal.len(),
        tally.identical.len(),
        tally.both_refused.len(),
        tally.unsupported.len(),
        tally.wrong.len()
    );
    for line in &tally.unsupported {
        eprintln!("unsupported: {line}");
    }
    for line in &tally.equal {
        eprintln!("equal but not byte-identical: {line}");
    }
    assert!(tally.wrong.is_empty(), "{}", tally.wrong.join("\n\n"));
    // A floor, raised as features land: a regression that starts refusing
    // cases it used to build fails here.
    assert!(
        tally.identical.len() + tally.equal.len() >= 535,
        "only {} cases build to kustomize's objects",
        tally.identical.len() + tally.equal.len()
    );
}

/// The checked-in expectations are still what the reference kubectl prints
/// (skipped, with a message, where the reference binary is not installed).
#[test]
fn expected_outputs_match_the_reference_kubectl() {
    let Some(kubectl) = ferroflux_testenv::reference_binary("kubectl") else {
        eprintln!(
            "no reference kubectl installed (scripts/install-deps.sh reference); not re-checking"
        );
        return;
    };
    let mut drifted = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let (target, options) = case_input(&case);
        let mut command = std::process::Command::new(&kubectl);
        command.arg("kustomize");
        if options.load_restrictor == LoadRestrictor::None {
            command.arg("--load-restrictor=LoadRestrictionsNone");
        }
        if options.enable_helm {
            command
                .arg("--enable-helm")
                .arg("--helm-command")
                .arg(corpus_dir().join("helm-shim.sh"));
        }
        let out = command.arg(&target).output().unwrap();
        match std::fs::read_to_string(case.join("expected.yaml")) {
            Ok(expected) if !out.status.success() || out.stdout != expected.as_bytes() => {
                drifted.push(name);
            }
            Err(_) if out.status.success() => drifted.push(name),
            _ => {}
        }
    }
    assert!(
        drifted.is_empty(),
        "kubectl kustomize now disagrees with the checked-in expectation of: {}; run tests/corpus/regen.sh",
        drifted.join(", ")
    );
}
