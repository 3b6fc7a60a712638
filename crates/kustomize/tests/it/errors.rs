//! Bad input gets an error that names the file (and line, or field) at
//! fault, and nothing outside the build root is read.

use std::path::Path;

use ferroflux_kustomize::Error;
use ferroflux_kustomize::build::{LoadRestrictor, Options, build};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Builds `dir` under `root` (Flux's setting: no load restriction, but
/// confined to the root).
fn build_in(root: &Path, dir: &str) -> Result<Vec<serde_json::Value>, Error> {
    build(
        &root.join(dir),
        &Options {
            root: root.to_path_buf(),
            load_restrictor: LoadRestrictor::None,
            enable_helm: false,
        },
    )
}

#[test]
fn malformed_yaml_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\n",
    );
    write(
        dir.path(),
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"unclosed\n",
    );
    let err = build_in(dir.path(), "app").unwrap_err().to_string();
    assert!(err.contains("cm.yaml") && err.contains("line "), "{err}");
}

#[test]
fn paths_leaving_the_root_are_refused_even_through_symlinks() {
    let outside = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    write(&root, "app/kustomization.yaml", "resources:\n- link.yaml\n");
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        root.join("app/link.yaml"),
    )
    .unwrap();
    let err = build_in(&root, "app").unwrap_err();
    assert!(matches!(err, Error::Escape { .. }), "{err}");
    assert!(err.to_string().contains("outside the build root"), "{err}");

    write(
        &root,
        "up/kustomization.yaml",
        "resources:\n- ../../outside.yaml\n",
    );
    write(
        dir.path(),
        "outside.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: o\n",
    );
    let err = build_in(&root, "up").unwrap_err();
    assert!(matches!(err, Error::Escape { .. }), "{err}");
}

#[test]
fn missing_resources_and_refused_fields_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "missing/kustomization.yaml",
        "resources:\n- nowhere.yaml\n",
    );
    let err = build_in(dir.path(), "missing").unwrap_err().to_string();
    assert!(err.contains("resources entry 'nowhere.yaml'"), "{err}");

    // Refused as kustomize run by Flux refuses them, each saying why and
    // what to do instead: a Helm chart (no --enable-helm), an exec plugin,
    // a kind with no built-in, a generator listed as a transformer.
    write(
        dir.path(),
        "helm/kustomization.yaml",
        "resources: []\nhelmCharts:\n- name: x\n",
    );
    let err = build_in(dir.path(), "helm").unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("helmCharts") && err.contains("--enable-helm") && err.contains("HelmRelease"),
        "{err}"
    );
    write(
        dir.path(),
        "exec/kustomization.yaml",
        "transformers:\n- |-\n  apiVersion: someteam.example.com/v1\n  kind: Chmod\n  metadata:\n    name: x\n",
    );
    let err = build_in(dir.path(), "exec").unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("transformers: plugin Chmod (apiVersion someteam.example.com/v1)")
            && err.contains("exec, Go or container plugin"),
        "{err}"
    );
    write(
        dir.path(),
        "helm-plugin/kustomization.yaml",
        "generators:\n- |-\n  apiVersion: builtin\n  kind: HelmChartInflationGenerator\n  metadata:\n    name: x\n",
    );
    let err = build_in(dir.path(), "helm-plugin").unwrap_err().to_string();
    assert!(
        err.contains("generators HelmChartInflationGenerator: kustomize inflates Helm charts only with --enable-helm"),
        "{err}"
    );
    write(
        dir.path(),
        "unknown/kustomization.yaml",
        "validators:\n- |-\n  apiVersion: builtin\n  kind: SortOrderTransformer\n  metadata:\n    name: x\n",
    );
    let err = build_in(dir.path(), "unknown").unwrap_err().to_string();
    assert!(
        err.contains(
            "validators SortOrderTransformer: kustomize has no built-in plugin of this kind"
        ),
        "{err}"
    );
    write(
        dir.path(),
        "swapped/kustomization.yaml",
        "transformers:\n- |-\n  apiVersion: builtin\n  kind: SecretGenerator\n  metadata:\n    name: x\n",
    );
    let err = build_in(dir.path(), "swapped").unwrap_err().to_string();
    assert!(
        err.contains("transformers SecretGenerator: this is a generator, not a transformer"),
        "{err}"
    );

    // A validator that changes an object names it.
    write(
        dir.path(),
        "validator/kustomization.yaml",
        "resources: [cm.yaml]\nvalidators:\n- |-\n  apiVersion: builtin\n  kind: AnnotationsTransformer\n  metadata:\n    name: x\n  annotations:\n    a: b\n  fieldSpecs:\n  - path: metadata/annotations\n    create: true\n",
    );
    write(
        dir.path(),
        "validator/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: checked\n",
    );
    let err = build_in(dir.path(), "validator").unwrap_err().to_string();
    assert!(
        err.contains("validators AnnotationsTransformer: a validator must not change the objects")
            && err.contains("checked"),
        "{err}"
    );

    write(dir.path(), "typo/kustomization.yaml", "namePrefx: x-\n");
    let err = build_in(dir.path(), "typo").unwrap_err().to_string();
    assert!(err.contains("namePrefx"), "{err}");
}

#[test]
fn generator_and_patch_files_cannot_leave_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    write(dir.path(), "passwd", "root:x:0:0\n");
    write(
        &root,
        "gen/kustomization.yaml",
        "configMapGenerator:\n- name: stolen\n  files:\n  - ../../passwd\n",
    );
    let err = build_in(&root, "gen").unwrap_err().to_string();
    assert!(
        err.contains("configMapGenerator[stolen]") && err.contains("outside the build root"),
        "{err}"
    );
    assert!(!err.contains("root:x"), "{err}");

    write(
        &root,
        "patch/kustomization.yaml",
        "resources: []\npatches:\n- path: /etc/hostname\n",
    );
    let err = build_in(&root, "patch").unwrap_err();
    assert!(matches!(err, Error::Escape { .. }), "{err}");
}

#[test]
fn bad_generators_and_patches_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "dup/kustomization.yaml",
        "configMapGenerator:\n- name: cm\n  literals:\n  - a=1\n  - a=2\n",
    );
    let err = build_in(dir.path(), "dup").unwrap_err().to_string();
    assert!(
        err.contains("configMapGenerator[cm]") && err.contains("'a' is repeated"),
        "{err}"
    );

    write(
        dir.path(),
        "literal/kustomization.yaml",
        "secretGenerator:\n- name: s\n  literals:\n  - novalue\n",
    );
    let err = build_in(dir.path(), "literal").unwrap_err().to_string();
    assert!(
        err.contains("'novalue' is not of the form key=value"),
        "{err}"
    );

    write(
        dir.path(),
        "merge/kustomization.yaml",
        "configMapGenerator:\n- name: cm\n  behavior: merge\n  literals:\n  - a=1\n",
    );
    let err = build_in(dir.path(), "merge").unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");

    write(
        dir.path(),
        "nopatch/kustomization.yaml",
        "resources: [cm.yaml]\npatches:\n- patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: other\n",
    );
    write(
        dir.path(),
        "nopatch/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
    );
    let err = build_in(dir.path(), "nopatch").unwrap_err().to_string();
    assert!(
        err.contains("patches[0]") && err.contains("no object is ConfigMap other"),
        "{err}"
    );

    write(
        dir.path(),
        "json/kustomization.yaml",
        "resources: [cm.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: '[{\"op\": \"remove\", \"path\": \"/data/missing\"}]'\n",
    );
    write(
        dir.path(),
        "json/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n",
    );
    let err = build_in(dir.path(), "json").unwrap_err().to_string();
    assert!(
        err.contains("patches[0]") && err.contains("ConfigMap cm") && err.contains("/data/missing"),
        "{err}"
    );
}

const COMPONENT: &str = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n";

/// Issue 15, defect 2: components had no cycle detection, so a Component
/// listing itself (or two listing each other) recursed until the stack
/// overflowed and aborted the whole controller.
#[test]
fn component_cycles_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "self/kustomization.yaml",
        &format!("{COMPONENT}components:\n- .\n"),
    );
    write(
        dir.path(),
        "app/kustomization.yaml",
        "resources:\n- cm.yaml\ncomponents:\n- ../self\n",
    );
    write(
        dir.path(),
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    );
    let err = build_in(dir.path(), "app").unwrap_err();
    assert!(
        matches!(&err, Error::Cycle { dir } if dir.ends_with("self")),
        "{err}"
    );
    assert!(
        err.to_string().contains("cycle of bases or components"),
        "{err}"
    );

    // A <-> B, entered from an overlay.
    write(
        dir.path(),
        "a/kustomization.yaml",
        &format!("{COMPONENT}components:\n- ../b\n"),
    );
    write(
        dir.path(),
        "b/kustomization.yaml",
        &format!("{COMPONENT}components:\n- ../a\n"),
    );
    write(
        dir.path(),
        "overlay/kustomization.yaml",
        "resources:\n- ../app/cm.yaml\ncomponents:\n- ../a\n",
    );
    let err = build_in(dir.path(), "overlay").unwrap_err();
    assert!(
        matches!(&err, Error::Cycle { dir } if dir.ends_with("a")),
        "{err}"
    );

    // A kustomization listing itself as a component.
    write(dir.path(), "loop/kustomization.yaml", "components:\n- .\n");
    let err = build_in(dir.path(), "loop").unwrap_err();
    assert!(matches!(err, Error::Cycle { .. }), "{err}");
}

/// The same component reached through two bases is no cycle.
#[test]
fn a_component_shared_by_two_bases_is_not_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "comp/kustomization.yaml",
        &format!("{COMPONENT}commonLabels:\n  shared: \"yes\"\n"),
    );
    for base in ["one", "two"] {
        write(
            dir.path(),
            &format!("{base}/kustomization.yaml"),
            "resources:\n- cm.yaml\ncomponents:\n- ../comp\n",
        );
        write(
            dir.path(),
            &format!("{base}/cm.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {base}\n"),
        );
    }
    write(
        dir.path(),
        "top/kustomization.yaml",
        "resources:\n- ../one\n- ../two\n",
    );
    let objs = build_in(dir.path(), "top").unwrap();
    assert_eq!(objs.len(), 2);
    assert!(
        objs.iter()
            .all(|o| o["metadata"]["labels"]["shared"] == "yes")
    );
}

/// A chain of bases deeper than the bound is refused with a message, not
/// followed until the stack overflows; run on a thread with a tokio
/// worker's 2 MiB stack.
#[test]
fn nesting_deeper_than_the_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let depth = ferroflux_kustomize::build::MAX_DEPTH + 5;
    for i in 0..depth {
        write(
            dir.path(),
            &format!("k{i}/kustomization.yaml"),
            &format!("resources:\n- ../k{}\n", i + 1),
        );
    }
    write(
        dir.path(),
        &format!("k{depth}/kustomization.yaml"),
        "resources:\n- cm.yaml\n",
    );
    write(
        dir.path(),
        &format!("k{depth}/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    );
    let root = dir.path().to_path_buf();
    let err = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || build_in(&root, "k0").map(|o| o.len()))
        .unwrap()
        .join()
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().contains("nested more than 64 deep"),
        "{err}"
    );
    // Within the bound, the chain builds.
    let objs = build_in(dir.path(), &format!("k{}", depth - 60)).unwrap();
    assert_eq!(objs.len(), 1);
}

/// Issue 17: a built-in plugin's configuration of the wrong shape is an
/// error naming the plugin; a `transformers` entry naming the kustomization's
/// own directory is a cycle, not endless recursion; a `configurations` file
/// that is not a table of field specs names the file.
#[test]
fn malformed_plugins_and_configurations_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
    write(dir.path(), "shape/cm.yaml", cm);
    write(
        dir.path(),
        "shape/kustomization.yaml",
        "resources: [cm.yaml]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: LabelTransformer\n  metadata:\n    name: l\n  labels: [not, a, map]\n",
    );
    let err = build_in(dir.path(), "shape").unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    let err = err.to_string();
    assert!(err.contains("LabelTransformer"), "{err}");

    write(dir.path(), "self/cm.yaml", cm);
    write(
        dir.path(),
        "self/kustomization.yaml",
        "resources: [cm.yaml]\ntransformers:\n- .\n",
    );
    let err = build_in(dir.path(), "self").unwrap_err();
    assert!(matches!(err, Error::Cycle { .. }), "{err}");

    write(dir.path(), "config/cm.yaml", cm);
    write(dir.path(), "config/bad.yaml", "images: 5\n");
    write(
        dir.path(),
        "config/kustomization.yaml",
        "resources: [cm.yaml]\nconfigurations: [bad.yaml]\n",
    );
    let err = build_in(dir.path(), "config").unwrap_err().to_string();
    assert!(
        err.contains("bad.yaml") && err.contains("not a transformer configuration"),
        "{err}"
    );
}

/// Builds `dir` under `root` with Helm charts enabled, as the
/// kustomize-controller builds.
fn build_with_helm(root: &Path, dir: &str) -> Result<Vec<serde_json::Value>, Error> {
    build(
        &root.join(dir),
        &Options {
            root: root.to_path_buf(),
            load_restrictor: LoadRestrictor::None,
            enable_helm: true,
        },
    )
}

/// A minimal chart at `<root>/<dir>/charts/<name>`.
fn chart(root: &Path, dir: &str, name: &str) {
    write(
        root,
        &format!("{dir}/charts/{name}/Chart.yaml"),
        &format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n"),
    );
    write(
        root,
        &format!("{dir}/charts/{name}/values.yaml"),
        "env:\n- name: A\n  value: a\n",
    );
    write(
        root,
        &format!("{dir}/charts/{name}/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  env: {{ toJson .Values.env | quote }}\n",
    );
}

#[test]
fn helm_charts_are_inflated_only_from_the_tree_and_what_cannot_match_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    chart(root, "ok", "app");
    write(
        root,
        "ok/kustomization.yaml",
        "helmCharts:\n- name: app\n  releaseName: rel\n",
    );
    let objects = build_with_helm(root, "ok").unwrap();
    assert_eq!(objects[0]["metadata"]["name"], "rel", "{objects:?}");
    assert_eq!(objects[0]["data"]["env"], r#"[{"name":"A","value":"a"}]"#);
    // Without --enable-helm, as kustomize (and Flux) refuse it.
    let err = build_in(root, "ok").unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");

    // A chart that is not in the tree is never pulled.
    write(
        root,
        "remote/kustomization.yaml",
        "helmCharts:\n- name: podinfo\n  repo: https://stefanprodan.github.io/podinfo\n  version: 6.5.0\n  releaseName: p\n",
    );
    let err = build_with_helm(root, "remote").unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("helmCharts[podinfo].repo")
            && err.contains("charts/podinfo-6.5.0/podinfo")
            && err.contains("never pulls"),
        "{err}"
    );

    // No release name: helm would make one up on every build.
    chart(root, "unnamed", "app");
    write(
        root,
        "unnamed/kustomization.yaml",
        "helmCharts:\n- name: app\n",
    );
    let err = build_with_helm(root, "unnamed").unwrap_err().to_string();
    assert!(err.contains("helmCharts[app].releaseName"), "{err}");

    // Inline values kyaml would merge by key (a list of mappings over the
    // chart's) or drop (null) are refused, naming the path.
    chart(root, "lists", "app");
    write(
        root,
        "lists/kustomization.yaml",
        "helmCharts:\n- name: app\n  releaseName: r\n  valuesInline:\n    env:\n    - name: B\n",
    );
    let err = build_with_helm(root, "lists").unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("valuesInline (env:"), "{err}");
    chart(root, "nulls", "app");
    write(
        root,
        "nulls/kustomization.yaml",
        "helmCharts:\n- name: app\n  releaseName: r\n  valuesInline:\n    extra:\n      gone: null\n",
    );
    let err = build_with_helm(root, "nulls").unwrap_err().to_string();
    assert!(err.contains("valuesInline (extra.gone:"), "{err}");

    // chartHome and values files stay inside the build root.
    write(
        root,
        "escape/kustomization.yaml",
        "helmGlobals:\n  chartHome: ../../outside\nhelmCharts:\n- name: app\n  releaseName: r\n",
    );
    chart(dir.path().parent().unwrap(), "outside", "app");
    let err = build_with_helm(root, "escape").unwrap_err();
    assert!(
        matches!(err, Error::Escape { .. } | Error::Invalid { .. }),
        "{err}"
    );
    chart(root, "values", "app");
    write(
        root,
        "values/kustomization.yaml",
        "helmCharts:\n- name: app\n  releaseName: r\n  additionalValuesFiles: [/etc/passwd]\n",
    );
    let err = build_with_helm(root, "values").unwrap_err();
    assert!(matches!(err, Error::Escape { .. }), "{err}");
    assert!(!err.to_string().contains("root:x"), "{err}");
}

#[test]
fn a_chart_that_fails_or_renders_garbage_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A chart that fails to render names the chart and the template.
    chart(root, "broken", "app");
    write(
        root,
        "broken/charts/app/templates/bad.yaml",
        "{{ fail \"the chart refuses\" }}\n",
    );
    write(
        root,
        "broken/kustomization.yaml",
        "helmCharts:\n- name: app\n  releaseName: r\n",
    );
    let err = build_with_helm(root, "broken").unwrap_err().to_string();
    assert!(
        err.contains("helmCharts[app]") && err.contains("the chart refuses"),
        "{err}"
    );

    // A chart whose output is not YAML, and a helmCharts that is not a
    // list, are named too.
    chart(root, "garbage", "app");
    write(
        root,
        "garbage/charts/app/templates/bad.yaml",
        "kind: ConfigMap\nmetadata: [unclosed\n",
    );
    write(
        root,
        "garbage/kustomization.yaml",
        "helmCharts:\n- name: app\n  releaseName: r\n",
    );
    let err = build_with_helm(root, "garbage").unwrap_err().to_string();
    assert!(err.contains("helmCharts[app]"), "{err}");
    write(
        root,
        "notalist/kustomization.yaml",
        "helmCharts:\n  name: app\n",
    );
    let err = build_with_helm(root, "notalist").unwrap_err().to_string();
    assert!(err.contains("helmCharts must be a list"), "{err}");
}

#[test]
fn custom_openapi_schemas_are_bounded_and_checked_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let crd = "apiVersion: example.com/v1\nkind: Foo\nmetadata:\n  name: f\nspec:\n  items:\n  - name: a\n    v: 1\n";
    let patch = "patches:\n- patch: |-\n    apiVersion: example.com/v1\n    kind: Foo\n    metadata:\n      name: f\n    spec:\n      items:\n      - name: b\n";
    let app = |name: &str, schema: &str| {
        write(dir.path(), &format!("{name}/foo.yaml"), crd);
        write(dir.path(), &format!("{name}/schema.yaml"), schema);
        write(
            dir.path(),
            &format!("{name}/kustomization.yaml"),
            &format!("resources:\n- foo.yaml\nopenapi:\n  path: schema.yaml\n{patch}"),
        );
    };

    // A schema the tenant controls is capped in size, with the file named.
    let big = format!("# {}\ndefinitions: {{}}\n", "x".repeat(9 << 20));
    app("big", &big);
    let err = build_in(dir.path(), "big").unwrap_err().to_string();
    assert!(
        err.contains("big/schema.yaml") && err.contains("more than the 8 MiB"),
        "{err}"
    );

    // kustomize loops forever on a $ref cycle; it is refused by name.
    app(
        "cycle",
        "definitions:\n  x.Foo:\n    properties:\n      spec: {$ref: '#/definitions/B'}\n  B: {$ref: '#/definitions/C'}\n  C: {$ref: '#/definitions/B'}\n",
    );
    let err = build_in(dir.path(), "cycle").unwrap_err().to_string();
    assert!(
        err.contains("cycle/schema.yaml") && err.contains("$ref cycle B -> C -> B"),
        "{err}"
    );

    // A schema this builder does not model is refused as not implemented.
    app("paths", "paths:\n  /apis/example.com/v1/foos: {}\n");
    let err = build_in(dir.path(), "paths").unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");

    // A good one merges the list by its key, and the same build without
    // `openapi` replaces it.
    app(
        "good",
        "definitions:\n  x.Foo:\n    x-kubernetes-group-version-kind: [{group: example.com, kind: Foo, version: v1}]\n    properties:\n      spec:\n        properties:\n          items:\n            type: array\n            x-kubernetes-patch-merge-key: name\n            x-kubernetes-patch-strategy: merge\n",
    );
    let objects = build_in(dir.path(), "good").unwrap();
    let names: Vec<&str> = objects[0]["spec"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "a"]);
    write(
        dir.path(),
        "good/kustomization.yaml",
        &format!("resources:\n- foo.yaml\n{patch}"),
    );
    let objects = build_in(dir.path(), "good").unwrap();
    assert_eq!(objects[0]["spec"]["items"].as_array().unwrap().len(), 1);
}

#[test]
fn an_object_written_with_its_own_transformations_list_is_refused_under_build_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let object = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: listed\n  annotations:\n    alpha.config.kubernetes.io/transformations: |\n      - configuredIn: elsewhere.yaml\n";
    write(dir.path(), "base/cm.yaml", object);
    write(
        dir.path(),
        "base/kustomization.yaml",
        "resources:\n- cm.yaml\nnamePrefix: p-\n",
    );
    write(
        dir.path(),
        "app/kustomization.yaml",
        "resources:\n- ../base\nbuildMetadata: [originAnnotations]\n",
    );
    // kustomize would add to the object's own list; the builder refuses to
    // guess, naming the object and the file that read it.
    let err = build_in(dir.path(), "app").unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("ConfigMap listed")
            && err.contains("alpha.config.kubernetes.io/transformations")
            && err.contains("base/kustomization.yaml"),
        "{err}"
    );
    // Without build metadata the annotation is removed, as kustomize does.
    write(
        dir.path(),
        "plain/kustomization.yaml",
        "resources:\n- ../base\n",
    );
    let built = build_in(dir.path(), "plain").unwrap();
    assert_eq!(built[0].pointer("/metadata/annotations"), None, "{built:?}");
}
