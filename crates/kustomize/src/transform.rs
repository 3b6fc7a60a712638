//! The builtin transformers other than labels and namespaces: replicas,
//! images, and the output order.

use std::path::Path;

use serde_json::Value;

use crate::Error;
use crate::fieldspec::{FieldSpec, LegacyOrder, TABLES};
use crate::kustomization::{Image, Replicas};
use crate::resource::{Resource, api_kind, metadata_str};

/// Sets the replica count of the objects named `r.name`, in the fields of
/// `specs` (the configuration's `replicas` table).
///
/// # Errors
/// [`Error::Invalid`] when no object matches, as kustomize fails then.
pub fn replicas(
    acc: &mut [Resource],
    r: &Replicas,
    specs: &[FieldSpec],
    file: &Path,
) -> Result<(), Error> {
    let mut matched = false;
    for res in acc.iter_mut() {
        // Matched by the name now or any earlier one (`d` or `p-d`).
        if !res.any_id(|id| id.name == r.name) {
            continue;
        }
        let obj = &mut res.obj;
        let (api_version, kind) = api_kind(obj);
        for spec in specs.iter().filter(|s| s.applies(&api_version, &kind)) {
            matched = true;
            spec.visit(obj, &|| Value::Null, &mut |field| {
                *field = Value::from(r.count);
            });
        }
    }
    if matched {
        Ok(())
    } else {
        Err(Error::Invalid {
            file: file.to_path_buf(),
            message: format!(
                "replicas: no Deployment, ReplicationController, ReplicaSet or StatefulSet is named '{}'",
                r.name
            ),
        })
    }
}

/// Rewrites the images matching `image.name` in containers and init
/// containers anywhere (except in CRDs) and in the fields of `specs` (the
/// configuration's `images` table).
pub fn images(acc: &mut [Resource], image: &Image, specs: &[FieldSpec]) {
    for obj in acc.iter_mut().map(|r| &mut r.obj) {
        let (api_version, kind) = api_kind(obj);
        if kind == "CustomResourceDefinition" {
            continue;
        }
        walk_containers(obj, image);
        for spec in specs.iter().filter(|s| s.applies(&api_version, &kind)) {
            let mut fields = spec.clone();
            // The table never creates a missing image.
            fields.create = false;
            fields.visit(obj, &|| Value::Null, &mut |field| {
                update_image(field, image);
            });
        }
    }
}

fn walk_containers(node: &mut Value, image: &Image) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if (key == "containers" || key == "initContainers") && value.is_array() {
                    for c in value.as_array_mut().into_iter().flatten() {
                        if let Some(field) = c.get_mut("image") {
                            update_image(field, image);
                        }
                    }
                }
                walk_containers(value, image);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk_containers(item, image);
            }
        }
        _ => {}
    }
}

fn update_image(field: &mut Value, image: &Image) {
    let Some(current) = field.as_str() else {
        return;
    };
    let Some(rest) = current.strip_prefix(image.name.as_str()) else {
        return;
    };
    // After the name: an optional `:tag`, then an optional `@sha256:digest`.
    let tag_char = |c: char| c.is_ascii_alphanumeric() || "_.{}-".contains(c);
    let (tag_part, digest_part) = match rest.find('@') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let tag_ok =
        tag_part.is_empty() || (tag_part.starts_with(':') && tag_part[1..].chars().all(tag_char));
    let digest_ok = digest_part.is_empty()
        || digest_part
            .strip_prefix("@sha256:")
            .is_some_and(|d| d.chars().all(tag_char));
    if !(tag_ok && digest_ok) {
        return;
    }
    // kustomize reads an empty string as not given.
    let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let name = given(&image.new_name).unwrap_or_else(|| image.name.clone());
    let updated = match (given(&image.new_tag), given(&image.digest)) {
        (Some(tag), Some(digest)) => format!("{name}:{tag}@{digest}"),
        (Some(tag), None) => format!("{name}:{tag}"),
        (None, Some(digest)) => format!("{name}@{digest}"),
        // The suffix goes on the tag there is (or on an empty one) and the
        // digest is dropped. Each pass appends it again: kustomize rewrites
        // an image both as a container image and through the `images` field
        // specs, so `spec/containers[]` of a Pod gets it twice, as there.
        (None, None) => match given(&image.tag_suffix) {
            Some(suffix) => format!(
                "{name}:{}{suffix}",
                tag_part.strip_prefix(':').unwrap_or(tag_part)
            ),
            None => format!("{name}{tag_part}{digest_part}"),
        },
    };
    *field = Value::String(updated);
}

/// Sorts `acc` by `sortOptions` (legacy by default); `file` is the
/// kustomization (or its directory) named in errors.
///
/// # Errors
/// [`Error::Invalid`] when `sortOptions` is malformed.
pub fn sort(acc: &mut [Resource], options: Option<&Value>, file: &Path) -> Result<(), Error> {
    let invalid = |message: String| Error::Invalid {
        file: file.to_path_buf(),
        message,
    };
    // Without sortOptions the order is legacy; with them, kustomize wants
    // the order said, and legacy options only with the legacy order.
    let order = match options {
        None => "legacy",
        Some(o) => o.get("order").and_then(Value::as_str).ok_or_else(|| {
            invalid("the field 'sortOptions.order' must be one of [fifo, legacy]".into())
        })?,
    };
    match order {
        "fifo" if options.is_some_and(|o| o.get("legacySortOptions").is_some()) => Err(invalid(
            "sortOptions.legacySortOptions is set, but sortOptions.order is fifo; remove one"
                .into(),
        )),
        "fifo" => Ok(()),
        "legacy" => {
            let custom = options
                .and_then(|o| o.get("legacySortOptions"))
                .map(|v| serde_json::from_value::<LegacyOrder>(v.clone()))
                .transpose()
                .map_err(|e| invalid(format!("sortOptions.legacySortOptions: {e}")))?;
            let order = custom.as_ref().unwrap_or(&TABLES.legacy_sort_order);
            let rank = |kind: &str| -> (usize, usize) {
                if let Some(i) = order.order_first.iter().position(|k| k == kind) {
                    (0, i)
                } else if let Some(i) = order.order_last.iter().position(|k| k == kind) {
                    (2, i)
                } else {
                    (1, 0)
                }
            };
            acc.sort_by(|a, b| {
                let (av, ak) = api_kind(&a.obj);
                let (bv, bk) = api_kind(&b.obj);
                rank(&ak)
                    .cmp(&rank(&bk))
                    .then_with(|| gvk_key(&av, &ak).cmp(&gvk_key(&bv, &bk)))
                    .then_with(|| ns_name_key(&a.obj).cmp(&ns_name_key(&b.obj)))
            });
            Ok(())
        }
        other => Err(invalid(format!(
            "sortOptions.order '{other}' is neither legacy nor fifo"
        ))),
    }
}

/// kustomize's tie-break between kinds of the same rank: `group_version_kind`
/// with the core group written `~G`.
fn gvk_key(api_version: &str, kind: &str) -> String {
    let (group, version) = crate::fieldspec::group_version(api_version);
    let group = if group.is_empty() { "~G" } else { group };
    format!("{group}_{version}_{kind}")
}

/// Within a kind: `namespace|name`, with no namespace sorting last.
fn ns_name_key(obj: &Value) -> (bool, String, String) {
    let ns = metadata_str(obj, "namespace");
    (
        ns.is_empty(),
        ns.to_owned(),
        metadata_str(obj, "name").to_owned(),
    )
}
