//! Bad charts, values and archives: each fails with one error that names the file (and line,
//! where there is one), and nothing panics.

use std::io::Write as _;
use std::path::Path;

use ferroflux_helm::action::{Error, Notices, TemplateOptions, template};
use ferroflux_helm::chart::{self, Chart, File};

fn file(name: &str, data: &str) -> File {
    File {
        name: name.to_owned(),
        data: data.as_bytes().to_vec(),
    }
}

fn chart_with(files: Vec<File>) -> Result<Chart, chart::Error> {
    let mut all = vec![file(
        "Chart.yaml",
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )];
    all.extend(files);
    Chart::from_files(all, "c", &|_| Err("no archives".to_owned()))
}

fn render(files: Vec<File>, opts: &TemplateOptions) -> Result<String, Error> {
    let chart = chart_with(files).expect("the chart loads");
    template(chart, opts, &mut Notices::default())
}

fn render_err(files: Vec<File>) -> String {
    render(files, &TemplateOptions::new("rel", "ns"))
        .expect_err("the render fails")
        .to_string()
}

#[test]
fn a_template_syntax_error_names_the_file_and_line() {
    // Checked against helm v4.1.4.
    let e = render_err(vec![file("templates/t.yaml", "a: 1\nb: {{ .Values.x \n")]);
    assert_eq!(
        e,
        "parse error at (c/templates/t.yaml:3): unclosed action started at c/templates/t.yaml:2"
    );
}

#[test]
fn an_unknown_function_is_a_parse_error_even_in_dead_code() {
    let e = render_err(vec![file(
        "templates/t.yaml",
        "{{ if false }}{{ nope 1 }}{{ end }}",
    )]);
    assert_eq!(
        e,
        "parse error at (c/templates/t.yaml:1): function \"nope\" not defined"
    );
}

#[test]
fn required_and_fail_messages_pass_through_with_the_position() {
    let e = render_err(vec![file(
        "templates/t.yaml",
        "x: 1\ny: {{ required \"set .Values.host\" .Values.host }}",
    )]);
    assert_eq!(
        e,
        "execution error at (c/templates/t.yaml:2:6): set .Values.host"
    );
    let e = render_err(vec![file("templates/t.yaml", "{{ fail \"no\" }}")]);
    assert_eq!(e, "execution error at (c/templates/t.yaml:1:3): no");
}

#[test]
fn a_function_not_implemented_is_refused_by_name() {
    let e = render_err(vec![file("templates/t.yaml", "{{ getHostByName \"x\" }}")]);
    assert!(e.contains("getHostByName"), "{e}");
    assert!(e.contains("not implemented"), "{e}");
}

#[test]
fn endless_include_recursion_fails_instead_of_overflowing() {
    let e = render_err(vec![file(
        "templates/t.yaml",
        "{{ define \"a\" }}{{ include \"a\" . }}{{ end }}{{ include \"a\" . }}",
    )]);
    assert!(e.contains("nested reference name: a"), "{e}");
}

#[test]
fn output_past_the_cap_fails() {
    // Each file writes under the per-execution cap; together they pass the render's cap.
    let big = "{{ range until 40 }}{{ repeat 1000000 \"x\" }}{{ end }}";
    let files = (0..5)
        .map(|i| file(&format!("templates/t{i}.yaml"), big))
        .collect();
    let e = render_err(files);
    assert!(e.contains("more than"), "{e}");
}

#[test]
fn a_schema_violation_names_the_chart_and_value_path() {
    let schema = r#"{"type":"object","properties":{"port":{"type":"integer"}}}"#;
    let mut opts = TemplateOptions::new("rel", "ns");
    opts.values.set.push("port=http".to_owned());
    let e = render(
        vec![
            file("values.schema.json", schema),
            file("templates/t.yaml", "p: {{ .Values.port }}"),
        ],
        &opts,
    )
    .expect_err("the schema refuses the values")
    .to_string();
    assert_eq!(
        e,
        "values don't meet the specifications of the schema(s) in the following chart(s):\nc:\n- at '/port': got string, want integer\n"
    );
}

#[test]
fn a_malformed_chart_yaml_names_the_file() {
    let e = Chart::from_files(
        vec![file("Chart.yaml", "apiVersion: v2\nname: [c\n")],
        "c",
        &|_| Err("no archives".to_owned()),
    )
    .expect_err("Chart.yaml does not parse")
    .to_string();
    // Helm's wording: the file and the line, without the chart's path (the caller has it).
    assert!(
        e.starts_with("cannot load Chart.yaml: Chart.yaml: error converting YAML to JSON: line 2:"),
        "{e}"
    );
    let e = Chart::from_files(
        vec![file("Chart.yaml", "apiVersion: v2\nname: c\n")],
        "c",
        &|_| Err("no archives".to_owned()),
    )
    .expect_err("no version")
    .to_string();
    assert_eq!(e, "validation: chart.metadata.version is required");
    let e = Chart::from_files(vec![file("values.yaml", "a: 1\n")], "c", &|_| {
        Err("no archives".to_owned())
    })
    .expect_err("no Chart.yaml")
    .to_string();
    assert!(e.contains("Chart.yaml file is missing"), "{e}");
}

#[test]
fn values_helm_cannot_read_are_refused_with_the_file() {
    let e = chart_with(vec![file("values.yaml", "- a\n- b\n")])
        .expect_err("a list is not values")
        .to_string();
    assert!(e.contains("values.yaml"), "{e}");
    assert!(e.contains("cannot unmarshal array"), "{e}");
    let mut opts = TemplateOptions::new("rel", "ns");
    opts.values
        .files
        .push(("extra.yaml".to_owned(), "a: .inf\n".to_owned()));
    let e = render(vec![file("templates/t.yaml", "x: 1")], &opts)
        .expect_err(".inf is refused")
        .to_string();
    assert!(e.starts_with("extra.yaml: "), "{e}");
}

/// A gzipped tarball of `entries` (name, content), written by hand so names are not checked.
fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        let raw = header.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *data).expect("an entry");
    }
    let tar = builder.into_inner().expect("the tarball");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn a_packaged_chart_loads_like_a_directory() {
    let bytes = tgz(&[
        ("c/Chart.yaml", b"apiVersion: v2\nname: c\nversion: 0.1.0\n"),
        ("c/values.yaml", b"greeting: hi\n"),
        ("c/templates/t.yaml", b"g: {{ .Values.greeting }}\n"),
    ]);
    let chart = chart::load_archive(&bytes, "c-0.1.0.tgz").expect("the archive loads");
    let out = template(
        chart,
        &TemplateOptions::new("rel", "ns"),
        &mut Notices::default(),
    )
    .expect("it renders");
    assert_eq!(out, "---\n# Source: c/templates/t.yaml\ng: hi\n");
}

#[test]
fn an_archive_reaching_outside_the_chart_is_refused() {
    let bytes = tgz(&[
        ("c/Chart.yaml", b"apiVersion: v2\nname: c\nversion: 0.1.0\n"),
        ("c/../../etc/passwd", b"x"),
    ]);
    let e = chart::load_archive(&bytes, "evil.tgz")
        .expect_err("refused")
        .to_string();
    assert!(e.starts_with("evil.tgz: "), "{e}");
    assert!(e.contains("parent directory"), "{e}");
}

#[test]
fn a_decompression_bomb_stops_at_the_cap() {
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let bytes = tgz(&[
        ("c/Chart.yaml", b"apiVersion: v2\nname: c\nversion: 0.1.0\n"),
        ("c/files/zeros", &zeros),
    ]);
    assert!(bytes.len() < 100_000, "the bomb is small: {}", bytes.len());
    let e = chart::load_archive(&bytes, "bomb.tgz")
        .expect_err("refused")
        .to_string();
    assert!(e.starts_with("bomb.tgz: "), "{e}");
}

#[test]
fn a_symlink_leading_outside_the_chart_directory_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().join("c");
    std::fs::create_dir_all(root.join("templates")).expect("the chart");
    std::fs::write(
        root.join("Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(dir.path().join("secret"), "s3cret").expect("a file outside");
    std::os::unix::fs::symlink(dir.path().join("secret"), root.join("leak.txt")).expect("the link");
    let e = chart::load(Path::new(&root))
        .expect_err("refused")
        .to_string();
    assert!(e.contains("leak.txt"), "{e}");
    assert!(e.contains("outside the chart"), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
}

#[test]
fn a_document_that_is_not_yaml_names_its_template() {
    let e = render_err(vec![file("templates/t.yaml", "a: [1\n")]);
    assert!(
        e.starts_with("YAML parse error on c/templates/t.yaml"),
        "{e}"
    );
}
