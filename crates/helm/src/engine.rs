//! Rendering a chart tree's templates as Helm's engine does:
//! - every template of the chart and of its enabled subcharts is named
//!   `<chart>/templates/<file>` (subcharts as `<chart>/charts/<sub>/templates/<file>`);
//! - all are parsed into one set, deepest paths first and then by name descending, so a
//!   parent's `define` replaces a subchart's of the same name;
//! - the files whose base name does not start with `_` run in the same order (values
//!   mutated by one template are seen by the next), each with its chart's dot: `.Values`,
//!   `.Chart`, `.Files`, `.Release`, `.Capabilities`, `.Subcharts`, `.Template`;
//! - `<no value>` is removed from every output. Library charts contribute only partials.

use std::collections::BTreeMap;

use crate::chart::{Chart, Metadata};
use crate::files::Files;
use crate::funcs::helm_funcs;
use crate::helm_error::{exec_message, parse_message};
use crate::template::{List, ListType, Map, MapType, Templates, Value};

/// The release a render is for (`.Release`).
#[derive(Debug, Clone)]
pub struct Release {
    /// The release name.
    pub name: String,
    /// The namespace.
    pub namespace: String,
    /// The revision (1 for an install).
    pub revision: i64,
    /// Whether this is an upgrade (`IsUpgrade`; `IsInstall` is the opposite).
    pub is_upgrade: bool,
}

/// A template that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A template does not parse; the message is Helm's (`parse error at (<file>:<line>): ...`).
    #[error("{0}")]
    Parse(String),
    /// A template fails while running; the message is Helm's (`execution error at (...)`, or
    /// Go's `template: ...` form).
    #[error("{0}")]
    Exec(String),
    /// The templates together write more than [`MAX_RENDER_BYTES`].
    #[error(
        "{file}: the chart's templates write more than {MAX_RENDER_BYTES} bytes together; a chart this large is refused"
    )]
    TooLarge {
        /// The template that crossed the limit.
        file: String,
    },
    /// A template is not UTF-8 text, which this renderer cannot represent.
    #[error("{file}: the template is not UTF-8 text; Ferroflux renders UTF-8 templates only")]
    NotUtf8 {
        /// The template's name.
        file: String,
    },
}

/// Most bytes all templates of one render may write together (each execution has its own cap
/// too): real charts write a few MiB at most, and one tenant's chart must not exhaust the
/// controller's memory.
pub const MAX_RENDER_BYTES: usize = 128 * 1024 * 1024;

/// One template to run.
struct Renderable {
    name: String,
    text: String,
    dot: Map,
    base_path: String,
}

/// Renders the chart tree (dependencies already processed) with coalesced `values`; returns
/// each rendered file (partials excluded, `NOTES.txt` included) by name. `lookup` answers
/// Helm's `lookup` from a cluster; without it `lookup` returns an empty map, as in
/// `helm template`.
///
/// # Errors
/// [`Error`]: the first template that fails to parse or run.
pub fn render(
    chart: &Chart,
    values: &crate::values::Values,
    release: &Release,
    capabilities: &Value,
    lookup: Option<&std::sync::Arc<dyn crate::lookup::Lookup>>,
) -> Result<BTreeMap<String, String>, Error> {
    let top = Map::typed(BTreeMap::new(), MapType::Values);
    top.insert(
        "Values".to_owned(),
        Value::Map(crate::values::map_to_template(values, MapType::Values)),
    );
    top.insert("Release".to_owned(), release_value(release));
    top.insert("Capabilities".to_owned(), capabilities.clone());
    let mut renderables = Vec::new();
    collect(chart, &top, chart.name(), true, &mut renderables)?;
    renderables.sort_by(|a, b| {
        let depth = |s: &str| s.bytes().filter(|c| *c == b'/').count();
        depth(&b.name)
            .cmp(&depth(&a.name))
            .then_with(|| b.name.cmp(&a.name))
    });
    let mut funcs = helm_funcs();
    if let Some(source) = lookup {
        funcs.insert(
            "lookup",
            crate::template::Arity::Exact(4),
            crate::lookup::function(source.clone()),
        );
    }
    let mut set = Templates::new("gotpl", funcs);
    for r in &renderables {
        set.parse(&r.name, &r.text)
            .map_err(|e| Error::Parse(parse_message(&e)))?;
    }
    let mut out = BTreeMap::new();
    let mut total = 0usize;
    for r in &renderables {
        let base = r.name.rsplit('/').next().unwrap_or(&r.name);
        if base.starts_with('_') {
            continue;
        }
        let template = Map::typed(BTreeMap::new(), MapType::Values);
        template.insert("Name".to_owned(), Value::str(&r.name));
        template.insert("BasePath".to_owned(), Value::str(&r.base_path));
        r.dot.insert("Template".to_owned(), Value::Map(template));
        let mut text = String::new();
        set.execute(&r.name, &Value::Map(r.dot.clone()), &mut text)
            .map_err(|e| Error::Exec(exec_message(&e)))?;
        total = total.saturating_add(text.len());
        if total > MAX_RENDER_BYTES {
            return Err(Error::TooLarge {
                file: r.name.clone(),
            });
        }
        out.insert(r.name.clone(), text.replace("<no value>", ""));
    }
    Ok(out)
}

fn release_value(release: &Release) -> Value {
    let m = Map::new(BTreeMap::new());
    m.insert("Name".to_owned(), Value::str(&release.name));
    m.insert("Namespace".to_owned(), Value::str(&release.namespace));
    m.insert("IsUpgrade".to_owned(), Value::Bool(release.is_upgrade));
    m.insert("IsInstall".to_owned(), Value::Bool(!release.is_upgrade));
    m.insert("Revision".to_owned(), Value::int(release.revision));
    m.insert("Service".to_owned(), Value::str("Helm"));
    Value::Map(m)
}

/// Builds the dot of `chart` (from its parent's dot) and queues its templates.
fn collect(
    chart: &Chart,
    parent: &Map,
    full_path: &str,
    is_root: bool,
    out: &mut Vec<Renderable>,
) -> Result<Map, Error> {
    let dot = Map::typed(BTreeMap::new(), MapType::Values);
    let subcharts = Map::new(BTreeMap::new());
    dot.insert("Chart".to_owned(), chart_value(&chart.metadata, is_root));
    dot.insert("Files".to_owned(), Files::new(&chart.files).into_value());
    for key in ["Release", "Capabilities"] {
        dot.insert(key.to_owned(), parent.get_or_zero(key));
    }
    let values = if is_root {
        parent.get_or_zero("Values")
    } else {
        match parent.get("Values") {
            Some(Value::Map(v)) => match v.get(chart.name()) {
                Some(Value::Map(own)) => Value::Map(own.retyped(MapType::Values)),
                _ => Value::Map(Map::typed(BTreeMap::new(), MapType::Values)),
            },
            _ => Value::Map(Map::typed(BTreeMap::new(), MapType::Values)),
        }
    };
    dot.insert("Values".to_owned(), values);
    dot.insert("Subcharts".to_owned(), Value::Map(subcharts.clone()));
    for sub in &chart.dependencies {
        let sub_path = format!("{full_path}/charts/{}", sub.name());
        let sub_dot = crate::template::deep(|| collect(sub, &dot, &sub_path, false, out))?;
        subcharts.insert(sub.name().to_owned(), Value::Map(sub_dot));
    }
    let library = chart.metadata.chart_type == "library";
    for t in &chart.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if library && !base.starts_with('_') {
            continue;
        }
        let name = format!("{full_path}/{}", t.name);
        let text =
            String::from_utf8(t.data.clone()).map_err(|_| Error::NotUtf8 { file: name.clone() })?;
        out.push(Renderable {
            name,
            text,
            dot: dot.clone(),
            base_path: format!("{full_path}/templates"),
        });
    }
    Ok(dot)
}

fn strings(items: &[String]) -> Value {
    Value::List(List::typed(
        items.iter().map(|s| Value::str(s)).collect(),
        ListType::String,
    ))
}

/// `.Chart`: in Helm 4 a `map[string]interface {}` of the metadata's fields, by their Go names.
fn chart_value(md: &Metadata, is_root: bool) -> Value {
    let m = Map::new(BTreeMap::new());
    let s = |k: &str, v: &str| m.insert(k.to_owned(), Value::str(v));
    s("APIVersion", &md.api_version);
    s("AppVersion", &md.app_version);
    s("Condition", &md.condition);
    s("Description", &md.description);
    s("Home", &md.home);
    s("Icon", &md.icon);
    s("KubeVersion", &md.kube_version);
    s("Name", &md.name);
    s("Tags", &md.tags);
    s("Type", &md.chart_type);
    s("Version", &md.version);
    m.insert("Deprecated".to_owned(), Value::Bool(md.deprecated));
    m.insert("IsRoot".to_owned(), Value::Bool(is_root));
    m.insert("Keywords".to_owned(), strings(&md.keywords));
    m.insert("Sources".to_owned(), strings(&md.sources));
    m.insert(
        "Maintainers".to_owned(),
        Value::List(List::new(
            md.maintainers
                .iter()
                .map(crate::values::to_template)
                .collect(),
        )),
    );
    m.insert(
        "Dependencies".to_owned(),
        Value::List(List::new(
            md.dependencies
                .iter()
                .map(|d| {
                    let dm = Map::new(BTreeMap::new());
                    dm.insert("Name".to_owned(), Value::str(&d.name));
                    dm.insert("Version".to_owned(), Value::str(&d.version));
                    dm.insert("Repository".to_owned(), Value::str(&d.repository));
                    dm.insert("Condition".to_owned(), Value::str(&d.condition));
                    dm.insert("Tags".to_owned(), strings(&d.tags));
                    dm.insert("Enabled".to_owned(), Value::Bool(d.enabled));
                    dm.insert("Alias".to_owned(), Value::str(&d.alias));
                    Value::Map(dm)
                })
                .collect(),
        )),
    );
    let annotations = md.annotations.as_ref().map_or_else(
        || Map::nil(MapType::String),
        |a| {
            Map::typed(
                a.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect(),
                MapType::String,
            )
        },
    );
    m.insert("Annotations".to_owned(), Value::Map(annotations));
    Value::Map(m)
}
