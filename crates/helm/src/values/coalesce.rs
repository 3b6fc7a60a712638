//! Helm's value coalescing (`CoalesceValues` and `MergeValues` as in helm v4.1.4): the user's
//! values over a chart's defaults, maps merged, lists and scalars replaced; each subchart's
//! defaults under its name, with the parent's `global` map merged down. Coalescing lets a
//! user's `null` delete a default; merging (an earlier step of dependency processing) keeps
//! nulls for the coalescing that follows.
//!
//! Type clashes keep the destination and are reported as Helm's warnings, which the caller may
//! log.

use serde_json::Value as Json;

use crate::chart::Chart;
use crate::values::Values;

/// A values tree that cannot be coalesced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The values for a subchart are not a map.
    #[error(
        "type mismatch on {subchart}: the values under {subchart:?} must be a map for the subchart of that name"
    )]
    TypeMismatch {
        /// The subchart's name.
        subchart: String,
    },
}

/// What coalescing noticed but did not stop for (Helm logs these).
pub type Warnings = Vec<String>;

/// `CoalesceValues`: `user` over the chart tree's defaults; a user `null` deletes a default.
///
/// # Errors
/// [`Error::TypeMismatch`] when a subchart's values are not a map.
pub fn coalesce_values(
    chart: &Chart,
    user: &Values,
    warnings: &mut Warnings,
) -> Result<Values, Error> {
    let mut dest = user.clone();
    coalesce(chart, &mut dest, "", false, warnings)?;
    Ok(dest)
}

/// `MergeValues`: as [`coalesce_values`], but nulls are kept.
///
/// # Errors
/// As [`coalesce_values`].
pub fn merge_values(
    chart: &Chart,
    user: &Values,
    warnings: &mut Warnings,
) -> Result<Values, Error> {
    let mut dest = user.clone();
    coalesce(chart, &mut dest, "", true, warnings)?;
    Ok(dest)
}

fn prefixed(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn coalesce(
    chart: &Chart,
    dest: &mut Values,
    prefix: &str,
    merge: bool,
    warnings: &mut Warnings,
) -> Result<(), Error> {
    coalesce_chart_values(chart, dest, prefix, merge, warnings);
    let sub_prefix = prefixed(prefix, chart.name());
    for sub in &chart.dependencies {
        let name = sub.name().to_owned();
        match dest.get(&name) {
            None => {
                dest.insert(name.clone(), Json::Object(Values::new()));
            }
            Some(Json::Object(_)) => {}
            Some(_) => return Err(Error::TypeMismatch { subchart: name }),
        }
        let parent_global = dest.get("global").cloned();
        if let Some(Json::Object(sub_values)) = dest.get_mut(&name) {
            coalesce_globals(sub_values, parent_global.as_ref(), warnings);
            crate::template::deep(|| coalesce(sub, sub_values, &sub_prefix, merge, warnings))?;
        }
    }
    Ok(())
}

/// Merges the parent's `global` map down into the subchart's: the parent wins.
fn coalesce_globals(dest: &mut Values, parent_global: Option<&Json>, warnings: &mut Warnings) {
    let mut dg = match dest.get("global") {
        None => Values::new(),
        Some(Json::Object(m)) => m.clone(),
        Some(_) => {
            warnings.push(
                "warning: skipping globals because destination global is not a table.".to_owned(),
            );
            return;
        }
    };
    let sg = match parent_global {
        None => Values::new(),
        Some(Json::Object(m)) => m.clone(),
        Some(_) => {
            warnings
                .push("warning: skipping globals because source global is not a table.".to_owned());
            return;
        }
    };
    for (key, val) in sg {
        if let Json::Object(parent_table) = &val {
            let mut vv = parent_table.clone();
            match dg.get(&key) {
                None => {
                    dg.insert(key, Json::Object(vv));
                }
                Some(Json::Object(own)) => {
                    coalesce_tables(&mut vv, own.clone(), &key, true, warnings);
                    dg.insert(key, Json::Object(vv));
                }
                Some(_) => warnings.push(format!(
                    "Conflict: cannot merge map onto non-map for {key:?}. Skipping."
                )),
            }
        } else if matches!(dg.get(&key), Some(Json::Object(_))) {
            warnings.push(format!("key {key} is table. Skipping"));
        } else {
            dg.insert(key, val);
        }
    }
    dest.insert("global".to_owned(), Json::Object(dg));
}

/// A chart's own defaults under `dest` (the values meant for this chart).
fn coalesce_chart_values(
    chart: &Chart,
    dest: &mut Values,
    prefix: &str,
    merge: bool,
    warnings: &mut Warnings,
) {
    let sub_prefix = prefixed(prefix, chart.name());
    for (key, default) in &chart.values {
        match dest.get_mut(key) {
            Some(Json::Null) if !merge => {
                dest.remove(key);
            }
            Some(Json::Object(table)) => match default {
                Json::Object(src) => {
                    let merge = merge || chart.dependencies.iter().any(|d| d.name() == key);
                    coalesce_tables(
                        table,
                        src.clone(),
                        &prefixed(&sub_prefix, key),
                        merge,
                        warnings,
                    );
                }
                Json::Null => {}
                _ => warnings.push(format!(
                    "warning: skipped value for {}: Not a table.",
                    prefixed(&sub_prefix, key)
                )),
            },
            Some(_) => {}
            None => {
                dest.insert(key.clone(), default.clone());
            }
        }
    }
}

/// `src` under `dst`, `dst` winning.
fn coalesce_tables(
    dst: &mut Values,
    mut src: Values,
    prefix: &str,
    merge: bool,
    warnings: &mut Warnings,
) {
    let src_non_null: std::collections::HashSet<String> = src
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    for (k, v) in dst.iter() {
        if v.is_null() {
            src.insert(k.clone(), Json::Null);
        }
    }
    for (key, val) in src {
        let full = prefixed(prefix, &key);
        match dst.get_mut(&key) {
            Some(Json::Null) => {
                if !merge && src_non_null.contains(&key) {
                    dst.remove(&key);
                }
            }
            None => {
                dst.insert(key, val);
            }
            Some(Json::Object(dv)) => match val {
                Json::Object(sv) => {
                    crate::template::deep(|| coalesce_tables(dv, sv, &full, merge, warnings));
                }
                Json::Null => {}
                other => warnings.push(format!(
                    "warning: destination for {full} is a table. Ignoring non-table value ({})",
                    go_v(&other)
                )),
            },
            Some(_) => {
                if val.is_object() {
                    warnings.push(format!(
                        "warning: cannot overwrite table with non table for {full} ({})",
                        go_v(&val)
                    ));
                }
            }
        }
    }
}

/// Roughly Go's `%v`, for warnings only.
fn go_v(v: &Json) -> String {
    crate::template::format_v(&crate::values::to_template(v))
}
