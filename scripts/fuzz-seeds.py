#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (make fuzz) into DIR/<target>/.

Seeds come from the test corpora (the kustomize corpus's trees and files)
plus a few hand-written cases per target; parts of one input are separated
by NUL bytes, as the targets expect (see fuzz/fuzz_targets/*.rs).
Usage: scripts/fuzz-seeds.py DIR
"""
import io
import json
import pathlib
import sys
import tarfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "crates/kustomize/tests/corpus"


def write(out, target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def main(out):
    out = pathlib.Path(out)
    cases = sorted(p for p in CORPUS.iterdir() if (p / "in").is_dir())
    yamls = []
    for case in cases:
        for f in sorted((case / "in").rglob("*.yaml")):
            if f.is_file() and f.stat().st_size < 64 << 10:
                yamls.append(f)
    for i, f in enumerate(yamls[:600]):
        text = f.read_text(errors="replace")
        write(out, "yaml", f"corpus-{i}", text)
        write(out, "substitute", f"corpus-{i}", "app=web\ncount=3\nempty=\n\0" + text)
    for i, case in enumerate(cases):
        k = case / "in" / "kustomization.yaml"
        if not k.is_file():
            continue
        others = sorted(p for p in (case / "in").glob("*.yaml") if p.name != "kustomization.yaml")
        parts = [k.read_text(errors="replace")] + [p.read_text(errors="replace") for p in others[:2]]
        write(out, "kustomize_build", f"corpus-{i}", "\0".join(parts))
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\n"
        "spec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: app\n"
        "        image: nginx\n        ports:\n        - containerPort: 80\n"
    )
    write(out, "json6902", "replace", deployment + "\0- op: replace\n  path: /spec/replicas\n  value: 3\n")
    write(out, "json6902", "add-move", deployment
          + "\0- op: add\n  path: /metadata/labels/x\n  value: y\n- op: move\n  from: /metadata/labels/x\n  path: /metadata/labels/z\n- op: test\n  path: /spec/replicas\n  value: 1\n")
    write(out, "strategic_merge", "containers", deployment
          + "\0spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:2\n      - name: side\n        image: busybox\n")
    write(out, "strategic_merge", "directives", deployment
          + "\0spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        $patch: delete\n      $setElementOrder/containers:\n      - name: app\n")
    # Custom openapi schemas of the corpus, each with its case's first
    # object and a patch of it.
    for i, case in enumerate(cases):
        schemas = sorted(p for p in (case / "in").rglob("*") if p.is_file() and "schema" in p.name)
        objects = sorted(p for p in (case / "in").rglob("*.yaml") if p.name != "kustomization.yaml" and "schema" not in p.name)
        for j, schema in enumerate(schemas[:2]):
            obj = objects[0].read_text(errors="replace") if objects else deployment
            write(out, "openapi_schema", f"corpus-{i}-{j}", schema.read_text(errors="replace") + "\0" + obj + "\0" + obj)
    write(out, "selector", "labels", "kind: Deployment\nname: web.*\nlabelSelector: app in (web, api),tier!=db\n\0" + deployment)
    write(out, "selector", "annotations", "group: apps\nversion: v1\nannotationSelector: a=b\nnamespace: prod\n\0" + deployment)
    write(out, "substitute", "nested", "a=1\nb=2\n\0x: ${a:-${b:=${c}}}\ny: $${a}\nz: ${missing}\n")
    for i, fmt in enumerate([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            for name in ["dir/", "dir/a.yaml", ("d" * 120) + "/long.yaml"]:
                info = tarfile.TarInfo(name.rstrip("/"))
                if name.endswith("/"):
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                else:
                    data = b"a: 1\n"
                    info.size = len(data)
                    try:
                        tar.addfile(info, io.BytesIO(data))
                    except ValueError:
                        pass  # ustar cannot hold the long name
        write(out, "tar_extract", f"format-{i}", buf.getvalue())
    event = {
        "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                           "name": "app", "namespace": "apps", "uid": "u"},
        "severity": "info", "timestamp": "2026-11-23T10:00:00Z", "message": "applied",
        "reason": "ReconciliationSucceeded", "reportingController": "kustomize-controller",
        "metadata": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc", "summary": "s"},
    }
    write(out, "event_payload", "kustomization", json.dumps(event))
    event["severity"] = "error"
    event["involvedObject"]["kind"] = "GitRepository"
    event["involvedObject"]["apiVersion"] = "source.toolkit.fluxcd.io/v1"
    write(out, "event_payload", "gitrepository", json.dumps(event))


if __name__ == "__main__":
    main(sys.argv[1])
