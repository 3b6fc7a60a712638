#!/usr/bin/env python3
"""Generate crates/kustomize/data/openapi.json from the Kubernetes schema kustomize merges with.

The output is the small slice of the schema the kustomize builder needs:
  - kinds: "<group>/<version>/<Kind>" -> {"def": <definition>, "namespaced": bool}
  - defs:  definition -> {field -> strategic-merge metadata}, pruned to what is
           needed to descend from a kind to every field that carries a patch strategy,
           merge key or list type.
See crates/kustomize/data/README.md for the schema.

Usage: scripts/gen-openapi-data.py [INPUT] [-o OUTPUT]
Input: kustomize's own Kubernetes v1.21.2 schema as a JSON bundle (`definitions`, and `resources`
with each kind's scope; gzipped or not), by default
../shared/kustomize-openapi/kubernetes-openapi-union-v1.21.2.bundle-v1.json.gz beside the
repository. A Swagger 2.0 document (`swagger.json`, with `paths`) is read too.
Python 3 standard library only; the output is deterministic.
"""

import argparse
import glob
import gzip
import hashlib
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

GENERATOR = "scripts/gen-openapi-data.py"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "crates" / "kustomize" / "data" / "openapi.json"
REF_PREFIX = "#/definitions/"

# Kinds that have a GVK and show up in paths/responses but are not resources.
NON_RESOURCE_KINDS = {
    "APIGroup",
    "APIGroupList",
    "APIResourceList",
    "APIVersions",
    "DeleteOptions",
    "Status",
    "WatchEvent",
}

# Swagger property extension -> key in the output.
FIELD_META = (
    ("x-kubernetes-patch-strategy", "strategy"),
    ("x-kubernetes-patch-merge-key", "key"),
    ("x-kubernetes-list-type", "listType"),
    ("x-kubernetes-list-map-keys", "listMapKeys"),
)


def die(msg):
    print(f"gen-openapi-data: {msg}", file=sys.stderr)
    sys.exit(1)


DEFAULT_BUNDLE = REPO_ROOT.parent / "shared" / "kustomize-openapi" / "kubernetes-openapi-union-v1.21.2.bundle-v1.json.gz"


def default_input():
    if DEFAULT_BUNDLE.is_file():
        return str(DEFAULT_BUNDLE)
    cache = os.environ.get("FERROFLUX_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ferroflux")
    pattern = os.path.join(cache, "src", "kubernetes-*", "api", "openapi-spec", "swagger.json")
    matches = sorted(glob.glob(pattern))
    if not matches:
        die(
            f"no Kubernetes swagger.json found (looked for {pattern}); "
            "run `scripts/install-deps.sh control-plane` first, or pass the path as an argument"
        )
    if len(matches) > 1:
        print(f"gen-openapi-data: several candidates, using {matches[-1]}", file=sys.stderr)
    return matches[-1]


def upstream_version(debian_version):
    """'1.20.5+really1.20.2-1.1+deb12u1' -> '1.20.2'."""
    v = debian_version.split(":", 1)[-1]
    if "-" in v:
        v = v.rsplit("-", 1)[0]  # Debian revision
    if "+really" in v:
        v = v.split("+really", 1)[1]
    return v


def source_description(path, doc):
    """Name the Kubernetes version the document comes from.

    The swagger.json committed in the Kubernetes tree says info.version "unversioned",
    so fall back to the source tree it sits in (debian/changelog, or the directory name).
    """
    info_version = str(doc.get("info", {}).get("version", "")).strip()
    if info_version and info_version != "unversioned":
        return f"Kubernetes {info_version} (swagger.json info.version)"
    tree = Path(path).resolve().parent.parent.parent  # <tree>/api/openapi-spec/swagger.json
    changelog = tree / "debian" / "changelog"
    if changelog.is_file():
        m = re.match(r"^(\S+) \(([^)]+)\)", changelog.read_text(encoding="utf-8", errors="replace"))
        if m:
            return (
                f"Kubernetes v{upstream_version(m.group(2))} api/openapi-spec/swagger.json "
                f"(Debian source package {m.group(1)} {m.group(2)}; info.version: {info_version or 'missing'})"
            )
    m = re.match(r"^kubernetes-(.+)$", tree.name)
    if m:
        return (
            f"Kubernetes v{upstream_version(m.group(1))} api/openapi-spec/swagger.json "
            f"(source tree {tree.name}; info.version: {info_version or 'missing'})"
        )
    return f"Kubernetes api/openapi-spec/swagger.json (info.version: {info_version or 'missing'})"


def ref_name(schema):
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if ref is None:
        return None
    if not ref.startswith(REF_PREFIX):
        die(f"unsupported $ref {ref!r}")
    return ref[len(REF_PREFIX):]


def gvk_key(gvk):
    return f"{gvk['group']}/{gvk['version']}/{gvk['kind']}"


def is_resource_kind(kind):
    return not (kind.endswith("List") or kind.endswith("Options") or kind in NON_RESOURCE_KINDS)


def collect_kinds(doc):
    defs = doc["definitions"]
    gvk_to_def = {}
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            key = gvk_key(gvk)
            if key in gvk_to_def and gvk_to_def[key] != name:
                die(f"{key} is claimed by both {gvk_to_def[key]} and {name}")
            gvk_to_def[key] = name

    paths_of = defaultdict(set)  # gvk key -> paths whose operations act on that kind
    response_defs = set()  # definitions returned by some operation
    for path, item in doc["paths"].items():
        for op in item.values():
            if not isinstance(op, dict):
                continue  # e.g. the path-level "parameters" list
            gvk = op.get("x-kubernetes-group-version-kind")
            if gvk:
                paths_of[gvk_key(gvk)].add(path)
            for resp in op.get("responses", {}).values():
                name = ref_name(resp.get("schema", {}))
                if name:
                    response_defs.add(name)

    kinds = {}
    for key, name in gvk_to_def.items():
        kind = key.rsplit("/", 1)[1]
        if not is_resource_kind(kind):
            continue
        if key not in paths_of and name not in response_defs:
            continue
        namespaced = any("/namespaces/{namespace}/" in p for p in paths_of.get(key, ()))
        kinds[key] = {"def": name, "namespaced": namespaced}
    return kinds


def collect_bundle_kinds(doc):
    """Kinds of a schema bundle: every definition's group-version-kinds (as kustomize's
    schema lookup has them), minus lists, options and other non-resources; namespaced
    from the bundle's `resources` scope."""
    scope = {}
    for res in doc["resources"]:
        group, _, version = res["apiVersion"].rpartition("/")
        if "scope" in res:
            scope[f"{group}/{version}/{res['kind']}"] = res["scope"] == "Namespaced"
    kinds = {}
    for name, schema in doc["definitions"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            key = gvk_key(gvk)
            if not is_resource_kind(gvk["kind"]):
                continue
            if key in kinds and kinds[key]["def"] != name:
                die(f"{key} is claimed by both {kinds[key]['def']} and {name}")
            kinds[key] = {"def": name, "namespaced": scope.get(key, False)}
    return kinds


def bundle_description(path, raw, doc):
    versions = ", ".join(s.get("kubernetesVersion", "?") for s in doc.get("sources", []))
    digest = hashlib.sha256(raw).hexdigest()
    return f"Kubernetes {versions}: kustomize v5.7.1's embedded schema ({Path(path).name}, sha256 {digest})"


def field_meta(prop):
    return {out: prop[ext] for ext, out in FIELD_META if ext in prop}


def reachable_defs(defs, roots):
    seen, stack = set(), list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in defs:
            die(f"dangling reference to {name}")
        seen.add(name)
        for prop in defs[name].get("properties", {}).values():
            for sub in (prop, prop.get("items", {}), prop.get("additionalProperties", {})):
                target = ref_name(sub)
                if target:
                    stack.append(target)
    return seen


def field_targets(prop):
    """(kind, target definition) of a property: kind is 'ref', 'list' or 'map' (target may be None)."""
    if ref_name(prop):
        return "ref", ref_name(prop)
    if prop.get("type") == "array":
        items = prop.get("items", {})
        if items.get("type") in ("array", "object") or "additionalProperties" in items:
            die(f"nested collection items are not supported: {items}")
        return "list", ref_name(items)
    ap = prop.get("additionalProperties")
    if isinstance(ap, dict):
        return "map", ref_name(ap)
    return None, None


def build_defs(defs, roots):
    names = sorted(reachable_defs(defs, roots))

    # Fixed point: a definition is relevant when one of its fields carries patch
    # metadata or leads to a relevant definition.
    relevant = set()
    changed = True
    while changed:
        changed = False
        for name in names:
            if name in relevant:
                continue
            for prop in defs[name].get("properties", {}).values():
                _, target = field_targets(prop)
                if field_meta(prop) or (target is not None and target in relevant):
                    relevant.add(name)
                    changed = True
                    break

    out = {}
    leaves = set()  # irrelevant definitions named by a kept field: emitted as {}
    for name in sorted(relevant):
        fields = {}
        for fname, prop in sorted(defs[name].get("properties", {}).items()):
            kind, target = field_targets(prop)
            meta = field_meta(prop)
            target_relevant = target is not None and target in relevant
            if not meta and not target_relevant:
                continue
            if kind == "list":
                entry = {"list": True}
                if target:
                    entry["items"] = target
            elif kind in ("ref", "map"):
                entry = {kind: target} if target else {}
            else:
                entry = {}
            if target and not target_relevant:
                leaves.add(target)
            entry.update(meta)
            fields[fname] = entry
        out[name] = fields
    for name in roots:
        if name not in out:
            leaves.add(name)
    for name in leaves:
        out.setdefault(name, {})
    return out


def dump(data):
    """Sorted keys, compact, one kind / definition per line."""
    def compact(v):
        return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    lines = ["{"]
    top = sorted(data)
    for i, key in enumerate(top):
        sep = "," if i + 1 < len(top) else ""
        value = data[key]
        if isinstance(value, dict):
            lines.append(f"{compact(key)}:{{")
            entries = sorted(value)
            for j, k in enumerate(entries):
                lines.append(f"{compact(k)}:{compact(value[k])}" + ("," if j + 1 < len(entries) else ""))
            lines.append("}" + sep)
        else:
            lines.append(f"{compact(key)}:{compact(value)}{sep}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("swagger", nargs="?", help="the schema bundle or a swagger.json (default: kustomize's v1.21.2 bundle in ../shared)")
    ap.add_argument("-o", "--output", default=str(DEFAULT_OUTPUT), help=f"output file (default: {DEFAULT_OUTPUT})")
    args = ap.parse_args()

    path = args.swagger or default_input()
    if not os.path.isfile(path):
        die(f"{path} does not exist")
    with open(path, "rb") as f:
        raw = f.read()
    text_in = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    doc = json.loads(text_in)
    if "resources" in doc and "definitions" in doc:
        kinds = collect_bundle_kinds(doc)
        source = bundle_description(path, raw, doc)
    elif doc.get("swagger") == "2.0" and "definitions" in doc and "paths" in doc:
        kinds = collect_kinds(doc)
        source = source_description(path, doc)
    else:
        die(f"{path} is neither a schema bundle (definitions, resources) nor a Swagger 2.0 document")
    defs = build_defs(doc["definitions"], sorted({k["def"] for k in kinds.values()}))
    data = {
        "defs": defs,
        "generator": GENERATOR,
        "kinds": kinds,
        "source": source,
    }
    text = dump(data)
    json.loads(text)  # self-check: the hand-rolled layout is valid JSON

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}: {len(kinds)} kinds, {len(defs)} defs, {len(text.encode())} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
