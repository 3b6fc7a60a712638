#!/usr/bin/env python3
"""`make bench-kustomize`: ferroflux-kustomize measured against `kubectl kustomize`.

Both tools are run in the same session, on the same machine, on two generated
kustomization trees (deterministic for a given --seed):
  - small: a typical app, base (Deployment, Service, ConfigMap, ServiceAccount)
    plus a `production` overlay (namespace, namePrefix, commonLabels, images,
    replicas, configMapGenerator, a strategic-merge patch file and a JSON 6902
    patch with a target);
  - large: about 1,000 objects through three levels (base -> mid -> top), with
    configMap/secret generators referenced from Deployments, generator merges
    and replaces, strategic-merge and JSON 6902 patches (with and without
    targets), namePrefix on every level, labels, annotations, images, replicas.

For each tree, after one untimed warm-up run of each tool, the two tools are run
alternately (the order flips every round). Wall time is spawn to exit, stdout
going to a file; peak RSS is GNU time's %M for the tool (see run_once).
Reported: the median wall time, the peak RSS over the timed runs, and the ratios
kubectl / ours (time) and ours / kubectl (memory).

The outputs must agree before anything is reported: byte-identical, or else (if
PyYAML is importable) equal as parsed objects, in order. Otherwise a diff of the
first differing object is printed and the exit status is 1, so a broken build
never reports a speedup. Every timed run's output must equal its warm-up output.

Prints a Markdown section for docs/benchmarks.md on stdout; progress on stderr.

Usage: scripts/bench-kustomize.py [--ours PATH] [--kubectl PATH] [--runs-small N]
                                  [--runs-large N] [--only small|large] [--seed N]
                                  [--keep DIR] [--generate-only]
Defaults: --ours $CARGO_TARGET_DIR/release/ferroflux-kustomize (CARGO_TARGET_DIR
defaults to $FERROFLUX_CACHE/target), --kubectl $FERROFLUX_CACHE/reference/bin/kubectl,
FERROFLUX_CACHE defaulting to ~/.cache/ferroflux. Python 3 standard library only
(PyYAML is used when present, for the object comparison).
"""

import argparse
import datetime
import difflib
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MARKER = ".bench-kustomize"

try:
    import yaml  # PyYAML, optional: parsed-object comparison only

    YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
except ImportError:  # pragma: no cover - depends on the machine
    yaml = None
    YAML_LOADER = None


def die(msg, code=1):
    print(f"bench-kustomize: {msg}", file=sys.stderr)
    sys.exit(code)


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def cache_dir():
    return Path(os.environ.get("FERROFLUX_CACHE") or Path.home() / ".cache" / "ferroflux")


def default_ours():
    target = os.environ.get("CARGO_TARGET_DIR") or str(cache_dir() / "target")
    return Path(target) / "release" / "ferroflux-kustomize"


def default_kubectl():
    return cache_dir() / "reference" / "bin" / "kubectl"


# ---------------------------------------------------------------------------
# A small YAML writer for the generated inputs (block style, insertion order).

_PLAIN = re.compile(r"^[A-Za-z_/.][A-Za-z0-9_./@=+:-]*$")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and not text.endswith(":") and text.lower() not in _YAML11_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _inline(value):
    if isinstance(value, dict):
        assert not value
        return "{}"
    if isinstance(value, list):
        assert not value
        return "[]"
    return _scalar(value)


def _emit(node, indent, out):
    pad = " " * indent
    if isinstance(node, dict):
        for key, value in node.items():
            k = _scalar(key)
            if isinstance(value, dict) and value:
                out.append(f"{pad}{k}:")
                _emit(value, indent + 2, out)
            elif isinstance(value, list) and value:
                out.append(f"{pad}{k}:")
                _emit(value, indent, out)  # sequences not indented under their key
            elif isinstance(value, str) and "\n" in value:
                chomp = "" if value.endswith("\n") and not value.endswith("\n\n") else "-"
                out.append(f"{pad}{k}: |{chomp}")
                for line in value.rstrip("\n").split("\n"):
                    out.append(f"{pad}  {line}" if line else "")
            else:
                out.append(f"{pad}{k}: {_inline(value)}")
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)) and item:
                sub = []
                _emit(item, indent + 2, sub)
                sub[0] = f"{pad}- {sub[0][indent + 2:]}"
                out.extend(sub)
            else:
                out.append(f"{pad}- {_inline(item)}")
    else:
        raise TypeError(f"not a collection: {node!r}")


def to_yaml(node):
    out = []
    _emit(node, 0, out)
    return "\n".join(out) + "\n"


def to_yaml_stream(docs):
    return "---\n".join(to_yaml(d) for d in docs)


class Tree:
    """Files of one generated tree, written under `root`."""

    def __init__(self, root, build_dir):
        self.root = Path(root)
        self.build_dir = self.root / build_dir
        self.files = 0
        self.docs = 0
        self.bytes = 0

    def write(self, rel, text, docs=0):
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.files += 1
        self.docs += docs
        self.bytes += len(text.encode("utf-8"))

    def resources(self, rel, docs):
        self.write(rel, to_yaml_stream(docs), len(docs))

    def kustomization(self, rel_dir, body):
        doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
        doc.update(body)
        self.write(f"{rel_dir}/kustomization.yaml", to_yaml(doc))


def _token(rng, n):
    return "".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(n))


def _fake_pem(rng, label, lines):
    body = "\n".join(
        "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(64))
        for _ in range(lines)
    )
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


# ---------------------------------------------------------------------------
# The small tree: one app, one overlay.


def generate_small(root, rng):
    t = Tree(root, "overlays/production")
    labels = {"app": "web"}
    t.resources(
        "base/deployment.yaml",
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "labels": dict(labels)},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": dict(labels)},
                    "template": {
                        "metadata": {"labels": dict(labels)},
                        "spec": {
                            "serviceAccountName": "web",
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "nginx:1.25.3",
                                    "ports": [{"name": "http", "containerPort": 8080}],
                                    "envFrom": [{"configMapRef": {"name": "web-config"}}],
                                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                                    "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}],
                                }
                            ],
                            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
                        },
                    },
                },
            }
        ],
    )
    t.resources(
        "base/service.yaml",
        [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "labels": dict(labels)},
                "spec": {
                    "type": "ClusterIP",
                    "selector": dict(labels),
                    "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                },
            }
        ],
    )
    t.resources(
        "base/configmap.yaml",
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "web-config"},
                "data": {
                    "LOG_LEVEL": "info",
                    "config.yaml": "listen: 0.0.0.0:8080\ncache:\n  size: 256\n  ttl: 30s\n",
                },
            }
        ],
    )
    t.resources(
        "base/serviceaccount.yaml",
        [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web"}}],
    )
    t.kustomization(
        "base",
        {"resources": ["deployment.yaml", "service.yaml", "configmap.yaml", "serviceaccount.yaml"]},
    )

    ov = "overlays/production"
    t.write(
        f"{ov}/app.properties",
        "".join(f"feature.{name}={rng.choice(['on', 'off'])}\n" for name in ["search", "checkout", "reviews"]),
    )
    t.write(
        f"{ov}/deployment-patch.yaml",
        to_yaml(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"prometheus.io/scrape": "true"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "envFrom": [
                                        {"configMapRef": {"name": "web-config"}},
                                        {"configMapRef": {"name": "web-env"}},
                                    ],
                                    "resources": {
                                        "requests": {"cpu": "250m", "memory": "256Mi"},
                                        "limits": {"memory": "512Mi"},
                                    },
                                }
                            ]
                        },
                    }
                },
            }
        ),
    )
    t.write(
        f"{ov}/service-patch.yaml",
        to_yaml(
            [
                {"op": "replace", "path": "/spec/type", "value": "LoadBalancer"},
                {
                    "op": "add",
                    "path": "/metadata/annotations",
                    "value": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
                },
            ]
        ),
    )
    t.kustomization(
        ov,
        {
            "resources": ["../../base"],
            "namespace": "production",
            "namePrefix": "prod-",
            "commonLabels": {"env": "production"},
            "images": [{"name": "nginx", "newName": "registry.example.com/mirror/nginx", "newTag": "1.27.2"}],
            "replicas": [{"name": "web", "count": 3}],
            "configMapGenerator": [
                {
                    "name": "web-env",
                    "literals": ["LOG_LEVEL=warn", f"RELEASE={_token(rng, 8)}"],
                    "files": ["app.properties"],
                }
            ],
            "patches": [
                {"path": "deployment-patch.yaml"},
                {"path": "service-patch.yaml", "target": {"kind": "Service", "name": "web"}},
            ],
        },
    )
    return t


# ---------------------------------------------------------------------------
# The large tree: 15 groups x 10 apps, three levels.

GROUPS = 15
APPS_PER_GROUP = 10
IMAGES = {
    "api": ["registry.example.com/team-a/api:1.4.2", "registry.example.com/team-b/api:2.0.1"],
    "web": ["nginx:1.25.3", "registry.example.com/team-a/frontend:3.2.0"],
    "worker": ["ghcr.io/example/worker:v2.1.0", "redis:7.2"],
}
SIDECARS = ["busybox:1.36", "envoyproxy/envoy:v1.29.1"]


def _app_docs(rng, n, group):
    app = f"app-{n:04d}"
    component = ["api", "web", "worker"][n % 3]
    labels = {"app": app, "group": f"g{group:02d}", "component": component}
    replicas = rng.randint(1, 3)
    docs = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": app, "labels": dict(labels)}}]
    has_role = n % 3 == 0
    if has_role:
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": f"{app}-reader", "labels": dict(labels)},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps", "secrets"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            }
        )
    docs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": app, "labels": dict(labels)},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role" if has_role else "ClusterRole",
                "name": f"{app}-reader" if has_role else "view",
            },
            "subjects": [{"kind": "ServiceAccount", "name": app}],
        }
    )
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{app}-config", "labels": dict(labels)},
            "data": {
                "LOG_LEVEL": rng.choice(["debug", "info", "warn"]),
                "WORKERS": str(rng.randint(1, 16)),
                "app.yaml": (
                    f"name: {app}\n"
                    f"timeouts:\n  read: {rng.randint(1, 30)}s\n  write: {rng.randint(1, 30)}s\n"
                    f"upstreams:\n- http://app-{rng.randint(0, GROUPS * APPS_PER_GROUP - 1):04d}:80\n"
                ),
            },
        }
    )
    env = [{"name": "APP_NAME", "value": app}]
    env.append({"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": f"{app}-config", "key": "LOG_LEVEL"}}})
    for i in range(rng.randint(0, 3)):
        env.append({"name": f"OPTION_{i}", "value": _token(rng, 6)})
    main = {
        "name": "main",
        "image": rng.choice(IMAGES[component]),
        "args": [f"--port={8080}", f"--group=g{group:02d}"],
        "env": env,
        "envFrom": [
            {"configMapRef": {"name": f"group-{group:02d}-settings"}},
            {"secretRef": {"name": f"group-{group:02d}-credentials"}},
        ],
        "ports": [{"name": "http", "containerPort": 8080}],
        "resources": {"requests": {"cpu": f"{rng.choice([50, 100, 250])}m", "memory": f"{rng.choice([64, 128, 256])}Mi"}},
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app"},
            {"name": "credentials", "mountPath": "/var/run/credentials", "readOnly": True},
        ],
    }
    containers = [main]
    if n % 4 == 1:
        containers.append(
            {
                "name": "sidecar",
                "image": rng.choice(SIDECARS),
                "args": ["--admin-port=9901"],
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
            }
        )
    docs.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "labels": dict(labels)},
            "spec": {
                "replicas": replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": {"app": app}},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {
                        "serviceAccountName": app,
                        "containers": containers,
                        "volumes": [
                            {"name": "config", "configMap": {"name": f"{app}-config"}},
                            {"name": "credentials", "secret": {"secretName": f"group-{group:02d}-credentials"}},
                        ],
                    },
                },
            },
        }
    )
    if component != "worker":
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": app, "labels": dict(labels)},
                "spec": {
                    "selector": {"app": app},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                },
            }
        )
    if component == "web":
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": app, "labels": dict(labels)},
                "spec": {
                    "tls": [{"hosts": [f"{app}.example.com"], "secretName": "wildcard-tls"}],
                    "rules": [
                        {
                            "host": f"{app}.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": app, "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ],
                },
            }
        )
    if component == "api":
        docs.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": app, "labels": dict(labels)},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                    "minReplicas": replicas,
                    "maxReplicas": replicas * 4,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                        }
                    ],
                },
            }
        )
    if replicas >= 2:
        docs.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": app, "labels": dict(labels)},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": app}}},
            }
        )
    return docs


def generate_large(root, rng):
    t = Tree(root, "top")

    # --- base: the apps, one file per group, and the shared generators.
    group_files = []
    config_gens = []
    secret_gens = []
    for g in range(GROUPS):
        docs = []
        for a in range(APPS_PER_GROUP):
            docs.extend(_app_docs(rng, g * APPS_PER_GROUP + a, g))
        group_files.append(f"group-{g:02d}.yaml")
        t.resources(f"base/group-{g:02d}.yaml", docs)
        t.write(
            f"base/settings/group-{g:02d}.properties",
            "".join(f"setting.{k}={_token(rng, 10)}\n" for k in range(rng.randint(3, 8))),
        )
        config_gens.append(
            {
                "name": f"group-{g:02d}-settings",
                "literals": [f"GROUP=g{g:02d}", f"SHARD={rng.randint(0, 7)}"],
                "files": [f"settings/group-{g:02d}.properties"],
            }
        )
        secret_gens.append(
            {
                "name": f"group-{g:02d}-credentials",
                "literals": [f"DB_USER=group{g:02d}", f"DB_PASSWORD={_token(rng, 24)}"],
            }
        )
    t.write("base/tls/tls.crt", _fake_pem(rng, "CERTIFICATE", 12))
    t.write("base/tls/tls.key", _fake_pem(rng, "PRIVATE KEY", 8))
    secret_gens.append({"name": "wildcard-tls", "type": "kubernetes.io/tls", "files": ["tls/tls.crt", "tls/tls.key"]})
    t.write(
        "base/pod-security.yaml",
        to_yaml(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "any"},
                "spec": {
                    "template": {
                        "spec": {
                            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                            "terminationGracePeriodSeconds": 45,
                        }
                    }
                },
            }
        ),
    )
    t.kustomization(
        "base",
        {
            "resources": group_files,
            "namePrefix": "b-",
            "labels": [{"pairs": {"app.kubernetes.io/part-of": "fleet"}}],
            "commonAnnotations": {"fleet.example.com/owner": "platform-team"},
            "images": [{"name": "busybox", "newTag": "1.36.1"}],
            "replicas": [{"name": "app-0000", "count": 2}],
            "generatorOptions": {"labels": {"fleet.example.com/generated": "true"}},
            "configMapGenerator": config_gens,
            "secretGenerator": secret_gens,
            "patches": [{"path": "pod-security.yaml", "target": {"group": "apps", "kind": "Deployment"}}],
        },
    )

    # --- mid: namespace, a second prefix, generator merges, patches of every kind.
    t.resources(
        "mid/extras.yaml",
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "fleet-dashboard"},
                "data": {"panels": "\n".join(f"- app-{n:04d}" for n in range(0, 40, 4)) + "\n"},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "fleet-gateway", "labels": {"app": "fleet-gateway", "component": "web"}},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "fleet-gateway"}},
                    "template": {
                        "metadata": {"labels": {"app": "fleet-gateway", "component": "web"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "main",
                                    "image": "envoyproxy/envoy:v1.29.1",
                                    "env": [{"name": "APP_NAME", "value": "fleet-gateway"}],
                                    "envFrom": [{"configMapRef": {"name": "mid-shared"}}],
                                }
                            ]
                        },
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "fleet-gateway", "labels": {"app": "fleet-gateway"}},
                "spec": {"selector": {"app": "fleet-gateway"}, "ports": [{"port": 443, "targetPort": 8443}]},
            },
        ],
    )
    t.write(
        "mid/shared/feature-flags.yaml",
        "".join(f"{name}: {rng.choice(['true', 'false'])}\n" for name in ["search", "checkout", "beta-ui", "audit"]),
    )
    smp_docs = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"b-app-{n:04d}"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "main", "env": [{"name": "PATCHED_BY", "value": "mid-psm"}]},
                        ]
                    }
                }
            },
        }
        for n in (3, 14, 25, 36)
    ]
    smp_docs.append(  # drops a sidecar (app 9 has one: 9 % 4 == 1)
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "app-0009"},
            "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}},
        }
    )
    t.resources("mid/psm-deployments.yaml", smp_docs)
    t.write(
        "mid/worker-resources.yaml",
        to_yaml(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "workers"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "main",
                                    "resources": {
                                        "limits": {"cpu": "1", "memory": "512Mi"},
                                        "requests": {"memory": "256Mi"},
                                    },
                                }
                            ]
                        }
                    }
                },
            }
        ),
    )
    t.write(
        "mid/early-apps.json",
        json.dumps(
            [
                {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "EARLY", "value": "1"}},
                {"op": "replace", "path": "/spec/revisionHistoryLimit", "value": 3},
                {"op": "add", "path": "/metadata/annotations/fleet.example.com~1early", "value": "true"},
            ],
            indent=2,
        )
        + "\n",
    )
    t.kustomization(
        "mid",
        {
            "resources": ["../base", "extras.yaml"],
            "namespace": "fleet",
            "namePrefix": "m-",
            "commonLabels": {"fleet.example.com/tier": "mid"},
            "labels": [{"pairs": {"fleet.example.com/stage": "staging"}, "includeTemplates": True}],
            "images": [
                {"name": "nginx", "newTag": "1.27.3"},
                {"name": "registry.example.com/team-a/api", "newName": "registry.example.com/team-a/api-next"},
            ],
            "replicas": [{"name": "b-app-0001", "count": 4}],
            "configMapGenerator": [
                {"name": "group-00-settings", "behavior": "merge", "literals": ["REGION=eu-west-1", "SHARD=9"]},
                {"name": "mid-shared", "files": ["shared/feature-flags.yaml"]},
            ],
            "secretGenerator": [
                {"name": "group-01-credentials", "behavior": "merge", "literals": [f"DB_PASSWORD={_token(rng, 24)}"]},
            ],
            "patchesStrategicMerge": ["psm-deployments.yaml"],
            "patches": [
                {"path": "worker-resources.yaml", "target": {"kind": "Deployment", "labelSelector": "component=worker"}},
                {
                    "path": "early-apps.json",
                    "target": {"group": "apps", "version": "v1", "kind": "Deployment", "name": "app-00[0-4][0-9]"},
                },
                {
                    "target": {"kind": "Deployment", "labelSelector": "group in (g00,g01,g02)"},
                    "patch": to_yaml(
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "metadata": {"name": "ignored"},
                            "spec": {
                                "template": {
                                    "spec": {
                                        "containers": [
                                            {
                                                "name": "main",
                                                "volumeMounts": [{"name": "flags", "mountPath": "/etc/flags"}],
                                            }
                                        ],
                                        "volumes": [{"name": "flags", "configMap": {"name": "mid-shared"}}],
                                    }
                                }
                            },
                        }
                    ),
                },
                {
                    "target": {"version": "v1", "kind": "Service", "labelSelector": "component=web"},
                    "patch": to_yaml(
                        [
                            {"op": "add", "path": "/spec/type", "value": "NodePort"},
                            {"op": "add", "path": "/metadata/annotations/fleet.example.com~1exposed", "value": "true"},
                        ]
                    ),
                },
            ],
        },
    )

    # --- top: the production overlay over mid.
    t.resources(
        "top/extras.yaml",
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fleet-prod"}},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "release-info"},
                "data": {"release": "2025.11", "commit": hashlib.sha1(_token(rng, 16).encode()).hexdigest()},
            },
        ],
    )
    t.write(
        "top/feature-flags.yaml",
        "".join(f"{name}: {rng.choice(['true', 'false'])}\n" for name in ["search", "checkout", "beta-ui"]),
    )
    t.write(
        "top/top.env",
        "# production settings\nENVIRONMENT=production\n"
        + "".join(f"LIMIT_{i}={rng.randint(10, 1000)}\n" for i in range(6)),
    )
    t.write(
        "top/hpa-limits.yaml",
        to_yaml([{"op": "replace", "path": "/spec/maxReplicas", "value": 20}]),
    )
    t.write(
        "top/app-0005.yaml",
        to_yaml(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "app-0005"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "main", "args": ["--port=8080", "--group=g00", "--verbose"]},
                            ]
                        }
                    }
                },
            }
        ),
    )
    t.kustomization(
        "top",
        {
            "resources": ["../mid", "extras.yaml"],
            "namespace": "fleet-prod",
            "namePrefix": "t-",
            "nameSuffix": "-prod",
            "labels": [
                {"pairs": {"env": "prod"}, "includeSelectors": True},
                {"pairs": {"fleet.example.com/release": "2025.11"}},
            ],
            "commonAnnotations": {"fleet.example.com/contact": "oncall@example.com"},
            "images": [
                {"name": "redis", "digest": "sha256:" + hashlib.sha256(b"redis").hexdigest()},
                {"name": "busybox", "newName": "mirror.example.com/library/busybox"},
                {"name": "ghcr.io/example/worker", "newTag": "v2.2.0"},
            ],
            "replicas": [{"name": "app-0002", "count": 5}, {"name": "m-b-app-0010", "count": 6}],
            "generatorOptions": {"annotations": {"fleet.example.com/generated-by": "top"}},
            "configMapGenerator": [
                {"name": "mid-shared", "behavior": "replace", "files": ["feature-flags.yaml"]},
                {"name": "top-env", "envs": ["top.env"]},
            ],
            "secretGenerator": [
                {"name": "group-02-credentials", "behavior": "merge", "literals": ["DB_USER=prod-group02"]},
            ],
            "patches": [
                {"path": "app-0005.yaml"},
                {"path": "hpa-limits.yaml", "target": {"group": "autoscaling", "kind": "HorizontalPodAutoscaler"}},
                {
                    "target": {"kind": "Ingress"},
                    "patch": to_yaml(
                        [
                            {
                                "op": "add",
                                "path": "/metadata/annotations/nginx.ingress.kubernetes.io~1proxy-body-size",
                                "value": "16m",
                            },
                            {"op": "add", "path": "/spec/ingressClassName", "value": "public"},
                        ]
                    ),
                },
                {
                    "target": {"kind": "Deployment", "annotationSelector": "fleet.example.com/owner=platform-team"},
                    "patch": to_yaml(
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "metadata": {"name": "ignored"},
                            "spec": {
                                "template": {
                                    "metadata": {"annotations": {"fleet.example.com/restarted-at": "2025-11-01T00:00:00Z"}},
                                    "spec": {
                                        "priorityClassName": "production-high",
                                        "containers": [
                                            {
                                                "name": "main",
                                                "env": [{"name": "ENVIRONMENT", "value": "production"}],
                                                "volumeMounts": [{"name": "top-env", "mountPath": "/etc/top"}],
                                            }
                                        ],
                                        "volumes": [{"name": "top-env", "configMap": {"name": "top-env"}}],
                                    },
                                }
                            },
                        }
                    ),
                },
            ],
        },
    )
    return t


# ---------------------------------------------------------------------------
# Running and comparing.


GNU_TIME = Path("/usr/bin/time")


def run_once(argv, out_path, err_path):
    """Runs argv with stdout/stderr to files; returns (seconds, peak RSS KiB, exit code).

    A child forked from Python starts with Python's resident pages, and Linux keeps
    that figure in the child's ru_maxrss even after exec, so a small tool would be
    charged for this script's memory. GNU time (a small C program) forks the tool
    instead, so the floor is its own few hundred KiB; without it, wait4's figure is
    used and the report says so.
    """
    rss_file = Path(str(out_path) + ".rss")
    wrapped = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *argv] if GNU_TIME.exists() else argv
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    maxrss = usage.ru_maxrss
    if GNU_TIME.exists():
        text = rss_file.read_text().strip().splitlines()
        maxrss = int(text[-1]) if text and text[-1].isdigit() else maxrss
        rss_file.unlink()
    return elapsed, maxrss, proc.returncode


def split_docs(text):
    """The documents of a kustomize output stream (separated by `---` lines)."""
    if not text:
        return []
    return re.split(r"(?m)^---\n", text)


def doc_label(doc_text, obj=None):
    if isinstance(obj, dict):
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace")
        return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"
    kind = re.search(r"(?m)^kind: (.*)$", doc_text)
    name = re.search(r"(?m)^  name: (.*)$", doc_text)
    return f"{kind.group(1) if kind else '?'} {name.group(1) if name else '?'}"


def diff_head(a, b, a_name, b_name, limit):
    lines = list(
        difflib.unified_diff(a.splitlines(), b.splitlines(), fromfile=a_name, tofile=b_name, lineterm="", n=2)
    )
    head = lines[:limit]
    if len(lines) > limit:
        head.append(f"... ({len(lines) - limit} more diff lines)")
    return "\n".join(head)


def compare(ref_text, ours_text):
    """Returns (verdict, detail): verdict is 'bytes', 'objects' or None (different)."""
    if ref_text == ours_text:
        return "bytes", ""
    ref_docs, our_docs = split_docs(ref_text), split_docs(ours_text)
    ref_objs = our_objs = None
    parse_error = ""
    if yaml is not None:
        try:
            ref_objs = [d for d in yaml.load_all(ref_text, Loader=YAML_LOADER) if d is not None]
        except yaml.YAMLError as e:
            die(f"kubectl's output does not parse as YAML: {e}")
        try:
            our_objs = [d for d in yaml.load_all(ours_text, Loader=YAML_LOADER) if d is not None]
        except yaml.YAMLError as e:
            our_objs = None
            parse_error = str(e)
    # The first differing document: by object when parsed, else by text.
    if ref_objs is not None and our_objs is not None:
        if ref_objs == our_objs:
            first = next(
                (i for i, (x, y) in enumerate(zip(ref_docs, our_docs)) if x != y), min(len(ref_docs), len(our_docs))
            )
            detail = (
                f"same {len(ref_objs)} objects in the same order, formatting differs "
                f"(first at document {first}, {doc_label(ref_docs[first] if first < len(ref_docs) else '')})"
            )
            if first < len(ref_docs) and first < len(our_docs):
                detail += "\n" + diff_head(ref_docs[first], our_docs[first], "kubectl", "ours", 20)
            return "objects", detail
        first = next(
            (i for i, (x, y) in enumerate(zip(ref_objs, our_objs)) if x != y), min(len(ref_objs), len(our_objs))
        )
        summary = f"objects differ: kubectl {len(ref_objs)}, ours {len(our_objs)}; first difference at object {first}"
        if first < len(ref_objs):
            summary += f" ({doc_label('', ref_objs[first])})"
    else:
        first = next(
            (i for i, (x, y) in enumerate(zip(ref_docs, our_docs)) if x != y), min(len(ref_docs), len(our_docs))
        )
        summary = f"outputs differ: kubectl {len(ref_docs)} documents, ours {len(our_docs)}; first difference at document {first}"
        if first < len(ref_docs):
            summary += f" ({doc_label(ref_docs[first])})"
        if yaml is None:
            summary += " (PyYAML not importable: compared bytes only)"
        elif our_objs is None:
            summary += f"; our output does not parse as YAML: {parse_error}"
    # Text documents line up with objects (kustomize never emits empty documents).
    a = ref_docs[first] if first < len(ref_docs) else ""
    b = our_docs[first] if first < len(our_docs) else ""
    return None, summary + "\n" + diff_head(a, b, f"kubectl (document {first})", f"ours (document {first})", 60)


def fmt_ms(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


def fmt_mib(kib):
    return f"{kib / 1024:.1f} MiB"


def bench_tree(name, tree, runs, tools, out_dir, kept):
    """tools: [(label, argv_prefix)] with kubectl first; returns the result dict."""
    target = str(tree.build_dir)
    argvs = {label: prefix + [target] for label, prefix in tools}
    outputs = {}
    for label, argv in argvs.items():
        out = out_dir / f"{name}-{label}.yaml"
        err = out_dir / f"{name}-{label}.stderr"
        log(f"{name}: warm-up {shlex.join(argv)}")
        _, _, code = run_once(argv, out, err)
        if code != 0:
            sys.stderr.write(err.read_text(errors="replace"))
            if label == "kubectl":
                die(f"kubectl kustomize failed on the generated {name} tree ({target}): a generator bug")
            die(f"{label} failed (exit {code}) on the {name} tree ({target}); nothing measured")
        outputs[label] = out.read_bytes()
    ref_text = outputs["kubectl"].decode("utf-8")
    ours_text = outputs["ours"].decode("utf-8", errors="replace")
    verdict, detail = compare(ref_text, ours_text)
    if verdict is None:
        print(f"bench-kustomize: {name}: our output differs from kubectl kustomize's\n{detail}", file=sys.stderr)
        if kept:
            print(f"(full outputs: {out_dir}/{name}-kubectl.yaml and {out_dir}/{name}-ours.yaml)", file=sys.stderr)
        else:
            print("(rerun with --keep DIR to keep the trees and both outputs)", file=sys.stderr)
        sys.exit(1)
    if verdict == "objects":
        log(f"{name}: {detail}")
    digests = {label: hashlib.sha256(data).hexdigest() for label, data in outputs.items()}
    times = {label: [] for label in argvs}
    rss = {label: 0 for label in argvs}
    order = list(argvs)
    for i in range(runs):
        for label in order if i % 2 == 0 else reversed(order):
            out = out_dir / f"{name}-{label}.run.yaml"
            err = out_dir / f"{name}-{label}.run.stderr"
            elapsed, maxrss, code = run_once(argvs[label], out, err)
            if code != 0:
                sys.stderr.write(err.read_text(errors="replace"))
                die(f"{name}: {label} failed (exit {code}) in timed run {i + 1}")
            if hashlib.sha256(out.read_bytes()).hexdigest() != digests[label]:
                die(f"{name}: {label}'s output changed between runs (timed run {i + 1}): not deterministic")
            times[label].append(elapsed)
            rss[label] = max(rss[label], maxrss)
        log(
            f"{name}: run {i + 1}/{runs}: "
            + ", ".join(f"{label} {fmt_ms(times[label][-1])}" for label in order)
        )
    return {
        "name": name,
        "objects": len(split_docs(ref_text)),
        "runs": runs,
        "median": {label: statistics.median(ts) for label, ts in times.items()},
        "rss": rss,
        "verdict": verdict,
        "tree": tree,
    }


def git_describe():
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return f"`{commit}`" + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def kubectl_version(kubectl):
    try:
        text = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "kubectl"
    client = re.search(r"Client Version: (\S+)", text)
    kust = re.search(r"Kustomize Version: (\S+)", text)
    parts = f"kubectl {client.group(1) if client else '?'}"
    return parts + (f" (kustomize {kust.group(1)})" if kust else "")


def report(results, kubectl, command):
    today = datetime.date.today().isoformat()
    lines = [
        "## kustomize (`make bench-kustomize`)",
        "",
        "Command: `make bench-kustomize` (release build of `ferroflux-kustomize`, then",
        f"`{command}`).",
        f"Run on {today}, commit {git_describe()}, against {kubectl_version(kubectl)}, {os.cpu_count()} CPUs.",
        "",
    ]
    for r in results:
        t = r["tree"]
        shape = (
            "overlay `production` over a four-object base"
            if r["name"] == "small"
            else "base → mid → top, each with its own namePrefix, generators and patches"
        )
        lines.append(
            f"- {r['name']}: {shape}; {t.docs} resource documents in {t.files} input files "
            f"({t.bytes / 1024:.0f} KiB), {r['objects']} objects out."
        )
    lines += [
        "",
        "| tree | objects | runs | ferroflux (median) | kubectl kustomize (median) | time ratio (kubectl / ours) "
        "| ferroflux peak RSS | kubectl peak RSS | RSS ratio (ours / kubectl) | output |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m, rss = r["median"], r["rss"]
        verdict = "byte-identical" if r["verdict"] == "bytes" else "same objects, formatting differs"
        lines.append(
            f"| {r['name']} | {r['objects']} | {r['runs']} | {fmt_ms(m['ours'])} | {fmt_ms(m['kubectl'])} "
            f"| {m['kubectl'] / m['ours']:.2f}× | {fmt_mib(rss['ours'])} | {fmt_mib(rss['kubectl'])} "
            f"| {rss['ours'] / rss['kubectl']:.2f}× | {verdict} |"
        )
    lines += [
        "",
        "What the numbers include: wall time from spawning the process to its exit (start-up, reading",
        "the tree, building, writing the YAML to a file), median over the timed runs; the two tools run",
        "alternately, order flipped each round, after one untimed warm-up run each. Peak RSS is the",
        ("tool's maximum resident set size as GNU time reports it (`%M`)" if GNU_TIME.exists() else "child's `ru_maxrss` (`wait4`; includes pages inherited from the forking Python process)") + ", the maximum over the timed runs. The trees are generated by",
        "`scripts/bench-kustomize.py` (deterministic for its `--seed`); every output was checked against",
        "kubectl's before timing.",
    ]
    return "\n".join(lines)


def prepare_keep_dir(keep, names):
    keep = Path(keep).resolve()
    if keep.exists() and any(keep.iterdir()) and not (keep / MARKER).exists():
        die(f"--keep {keep}: exists, is not empty and was not written by this script; refusing to overwrite")
    for sub in [*names, "out"]:
        if (keep / sub).exists():
            shutil.rmtree(keep / sub)
    keep.mkdir(parents=True, exist_ok=True)
    (keep / MARKER).write_text("written by scripts/bench-kustomize.py\n")
    return keep


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ours", type=Path, default=default_ours(), help="the ferroflux-kustomize binary (default: %(default)s)")
    parser.add_argument("--kubectl", type=Path, default=default_kubectl(), help="the reference kubectl (default: %(default)s)")
    parser.add_argument("--runs-small", type=positive, default=10, help="timed runs per tool on the small tree (default: 10)")
    parser.add_argument("--runs-large", type=positive, default=5, help="timed runs per tool on the large tree (default: 5)")
    parser.add_argument("--only", choices=["small", "large"], help="benchmark one tree only")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated trees (default: 1)")
    parser.add_argument("--keep", metavar="DIR", help="write the trees and outputs under DIR instead of a temporary directory")
    parser.add_argument("--generate-only", action="store_true", help="write the trees (see --keep) and stop")
    args = parser.parse_args()

    if args.generate_only and not args.keep:
        die("--generate-only needs --keep DIR", 2)
    if not args.generate_only:
        for label, path in (("kubectl", args.kubectl), ("ours", args.ours)):
            if not (path.is_file() and os.access(path, os.X_OK)):
                hint = (
                    "run scripts/install-deps.sh reference"
                    if label == "kubectl"
                    else "build it: cargo build --release --locked -p ferroflux-kustomize --bins (or make bench-kustomize)"
                )
                die(f"no executable {label} at {path}; {hint}")

    names = [args.only] if args.only else ["small", "large"]
    tmp = None
    if args.keep:
        work = prepare_keep_dir(args.keep, names)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench-kustomize-")
        work = Path(tmp.name)
    try:
        trees = {}
        for name in names:
            rng = random.Random(f"{args.seed}:{name}")
            gen = generate_small if name == "small" else generate_large
            trees[name] = gen(work / name, rng)
            t = trees[name]
            log(f"{name}: {t.docs} documents in {t.files} files ({t.bytes / 1024:.0f} KiB) under {t.root}; build dir {t.build_dir}")
        if args.generate_only:
            return 0
        out_dir = work / "out"
        out_dir.mkdir(exist_ok=True)
        tools = [
            ("kubectl", [str(args.kubectl.resolve()), "kustomize"]),
            ("ours", [str(args.ours.resolve()), "build", "--root", str(work.resolve())]),
        ]
        results = []
        for name in names:
            runs = args.runs_small if name == "small" else args.runs_large
            results.append(bench_tree(name, trees[name], runs, tools, out_dir, kept=bool(args.keep)))
        command = shlex.join(["python3", sys.argv[0], *sys.argv[1:]])
        print(report(results, args.kubectl, command))
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
