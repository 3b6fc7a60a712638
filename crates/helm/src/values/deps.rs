//! Helm's dependency processing before rendering (`ProcessDependenciesWithMerge` in v4.1.4):
//! - the subcharts a chart lists are matched to those in `charts/` (by name and version range,
//!   an `alias` renaming a copy), unlisted ones kept first;
//! - each listed dependency is enabled or disabled by its `tags` and then its `condition`
//!   paths, read from the values coalesced so far; disabled subcharts are dropped;
//! - `import-values` copy a child's values into the parent's defaults, the parent's own keys
//!   winning.

use serde_json::Value as Json;

use crate::chart::Chart;
use crate::values::Values;
use crate::values::coalesce::{Error, Warnings, coalesce_values, merge_values};

/// Enables, disables and renames the chart tree's subcharts for `user` values, then imports
/// values, as Helm does before rendering.
///
/// # Errors
/// Values that cannot be coalesced (a subchart's values that are not a map).
pub fn process(chart: &mut Chart, user: &Values, warnings: &mut Warnings) -> Result<(), Error> {
    enable(chart, user, "", warnings)?;
    import(chart, warnings)
}

fn compatible(range: &str, version: &str) -> bool {
    crate::funcs::semver::satisfies(range, version).unwrap_or(false)
}

fn enable(
    chart: &mut Chart,
    values: &Values,
    path: &str,
    warnings: &mut Warnings,
) -> Result<(), Error> {
    if !chart.metadata.dependencies_declared {
        return Ok(());
    }
    let existing = std::mem::take(&mut chart.dependencies);
    let mut deps: Vec<Chart> =
        existing
            .iter()
            .filter(|c| {
                !chart.metadata.dependencies.iter().any(|req| {
                    c.name() == req.name && compatible(&req.version, &c.metadata.version)
                })
            })
            .cloned()
            .collect();
    for req in &mut chart.metadata.dependencies {
        if let Some(found) = existing
            .iter()
            .find(|c| c.name() == req.name && compatible(&req.version, &c.metadata.version))
        {
            let mut copy = found.clone();
            if !req.alias.is_empty() {
                copy.metadata.name.clone_from(&req.alias);
            }
            deps.push(copy);
        }
        if !req.alias.is_empty() {
            req.name.clone_from(&req.alias);
        }
        req.enabled = true;
    }
    chart.dependencies = deps;
    let cvals = coalesce_values(chart, values, warnings)?;
    tags(chart, &cvals, warnings);
    conditions(chart, &cvals, path, warnings);
    let disabled: Vec<String> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    chart
        .dependencies
        .retain(|c| !disabled.contains(&c.metadata.name));
    chart
        .metadata
        .dependencies
        .retain(|r| !disabled.contains(&r.name));
    for sub in &mut chart.dependencies {
        let sub_path = format!("{path}{}.", sub.metadata.name);
        crate::template::deep(|| enable(sub, &cvals, &sub_path, warnings))?;
    }
    Ok(())
}

fn tags(chart: &mut Chart, cvals: &Values, warnings: &mut Warnings) {
    let Some(Json::Object(tags)) = cvals.get("tags") else {
        return;
    };
    for req in &mut chart.metadata.dependencies {
        let (mut has_true, mut has_false) = (false, false);
        for tag in &req.tags {
            match tags.get(tag) {
                Some(Json::Bool(true)) => has_true = true,
                Some(Json::Bool(false)) => has_false = true,
                Some(_) => warnings.push(format!(
                    "Warning: Tag '{tag}' for chart {} returned non-bool value",
                    req.name
                )),
                None => {}
            }
        }
        req.enabled = has_true || !has_false;
    }
}

/// The value at a dotted path through maps, as Helm's `PathValue` finds it.
fn path_value<'a>(values: &'a Values, path: &str) -> Option<&'a Json> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut current = values.get(first)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

fn conditions(chart: &mut Chart, cvals: &Values, path: &str, warnings: &mut Warnings) {
    for req in &mut chart.metadata.dependencies {
        for cond in req.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            match path_value(cvals, &format!("{path}{cond}")) {
                Some(Json::Bool(b)) => {
                    req.enabled = *b;
                    break;
                }
                Some(Json::Null) | None => {}
                Some(_) => warnings.push(format!(
                    "Warning: Condition path '{cond}' for chart {} returned non-bool value",
                    req.name
                )),
            }
        }
    }
}

/// `import-values`, children first.
fn import(chart: &mut Chart, warnings: &mut Warnings) -> Result<(), Error> {
    for sub in &mut chart.dependencies {
        crate::template::deep(|| import(sub, warnings))?;
    }
    if !chart.metadata.dependencies_declared {
        return Ok(());
    }
    let cvals = merge_values(chart, &Values::new(), warnings)?;
    let mut imported = Values::new();
    for req in &chart.metadata.dependencies {
        for item in &req.import_values {
            let (child, parent) = match item {
                Json::Object(m) => (
                    format!("{}", GoV(m.get("child"))),
                    format!("{}", GoV(m.get("parent"))),
                ),
                Json::String(s) => (format!("exports.{s}"), ".".to_owned()),
                _ => continue,
            };
            let table_path = format!("{}.{child}", req.name);
            let Some(Json::Object(table)) = path_value(&cvals, &table_path) else {
                warnings.push(format!(
                    "Warning: ImportValues missing table from chart {}: {table_path}",
                    req.name
                ));
                continue;
            };
            let src = path_to_map(&parent, table.clone());
            merge_tables(&mut imported, src);
        }
    }
    let mut values = cvals;
    let mut parent_wins = imported;
    std::mem::swap(&mut values, &mut parent_wins);
    // `values` now holds the imports and `parent_wins` the chart's values: the chart wins.
    merge_tables(&mut parent_wins, values);
    chart.values = parent_wins;
    Ok(())
}

/// `MergeTables`: `src` under `dst`, `dst` winning, nulls kept.
fn merge_tables(dst: &mut Values, src: Values) {
    for (key, val) in src {
        match (dst.get_mut(&key), val) {
            (None, val) => {
                dst.insert(key, val);
            }
            (Some(Json::Object(d)), Json::Object(s)) => {
                crate::template::deep(|| merge_tables(d, s));
            }
            _ => {}
        }
    }
}

/// `parent` as nested maps (`a.b` → `{a: {b: data}}`; `.` is the root).
fn path_to_map(parent: &str, data: Values) -> Values {
    if parent == "." {
        return data;
    }
    let mut out = data;
    for part in parent.split('.').rev() {
        let mut m = Values::new();
        m.insert(part.to_owned(), Json::Object(out));
        out = m;
    }
    out
}

/// Go's `%v` of an `import-values` field (usually a string).
struct GoV<'a>(Option<&'a Json>);

impl std::fmt::Display for GoV<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None | Some(Json::Null) => f.write_str("<nil>"),
            Some(Json::String(s)) => f.write_str(s),
            Some(other) => f.write_str(&crate::template::format_v(&crate::values::to_template(
                other,
            ))),
        }
    }
}
