#!/usr/bin/env python3
"""`make bench-helm`: ferroflux-helm measured against `helm template` on the shared corpus.

Every case of ../shared/helm-corpus (or $FERROFLUX_HELM_CORPUS) is rendered by both tools as
`template rel <chart> --namespace ns [-f <values>]`, alternately (the order flips every round),
after one untimed warm-up run of each. Wall time is spawn to exit with stdout going to a file;
peak RSS is GNU time's %M (see run_once).

Before anything is reported, every output is checked: identical stdout for rendering cases
(CRLF read as LF), identical once random values are masked for the cases that use random
functions, and both tools failing for the refused cases. A mismatch prints the case and exits 1,
so a broken build never reports a speedup.

Prints a Markdown section for docs/benchmarks.md on stdout; progress on stderr.

Usage: scripts/bench-helm.py [--ours PATH] [--helm PATH] [--rounds N] [--corpus DIR]
Defaults: --ours $CARGO_TARGET_DIR/release/ferroflux-helm (CARGO_TARGET_DIR defaults to
$FERROFLUX_CACHE/target), --helm $FERROFLUX_CACHE/reference/bin/helm, FERROFLUX_CACHE defaulting
to ~/.cache/ferroflux. Python 3 standard library only.
"""

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GNU_TIME = Path("/usr/bin/time")
CACHE = Path(os.environ.get("FERROFLUX_CACHE", Path.home() / ".cache/ferroflux"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target"))

# The cases whose output holds random values, and the shapes masked there (as the corpus test).
RANDOM = {
    "elastic/elasticsearch",
    "jenkinsci/jenkins",
    "jenkinsci/jenkins:default-values",
    "jenkinsci/jenkins:other-values",
    "jenkinsci/jenkins:with-secrets-values",
    "kubernetes-sigs/metrics-server:tls-helm-values",
    "open-telemetry/opentelemetry-operator:cert-manager-disable-values",
    "open-telemetry/opentelemetry-operator:cert-manager-disable-nameoverride-values",
    "open-telemetry/opentelemetry-operator:manager-config-values",
    "grafana/loki-distributed:persistence-values",
}
MASKS = [
    (r"LS0tLS1CRUdJTi[A-Za-z0-9+/=]+", "<base64 pem>"),
    (r"-----BEGIN [A-Z ]+-----[A-Za-z0-9+/=\n\\ ]+-----END [A-Z ]+-----", "<pem>"),
    (r"\$2a\$10\$[./A-Za-z0-9]{53}", "<bcrypt>"),
    (r'(jenkins-admin-password|password): "?[A-Za-z0-9+/=]+"?', r"\1: <random>"),
    (r"-test-[a-z0-9]{5}\b", "-test-<random>"),
    (r"\b([a-z0-9-]+)-[a-zA-Z]{5}-test\b", r"\1-<random>-test"),
]


def mask(text):
    for pattern, repl in MASKS:
        text = re.sub(pattern, repl, text)
    return text


def run_once(argv, out_path):
    """Runs argv with stdout to a file; returns (seconds, peak RSS KiB, exit code).

    GNU time forks the tool, so the figure is the tool's own (a child forked from Python would
    keep Python's resident pages in ru_maxrss).
    """
    rss_file = Path(str(out_path) + ".rss")
    wrapped = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *argv] if GNU_TIME.exists() else argv
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    maxrss = usage.ru_maxrss
    if GNU_TIME.exists():
        lines = rss_file.read_text().strip().splitlines()
        maxrss = int(lines[-1]) if lines and lines[-1].isdigit() else maxrss
        rss_file.unlink()
    return elapsed, maxrss, code


def cases(corpus):
    for line in (corpus / "cases.txt").read_text().splitlines():
        if not line.strip():
            continue
        case_dir, values, status = line.split("\t")
        key = case_dir if values == "-" else f"{case_dir}:{Path(values).stem}"
        args = ["template", "rel", str(corpus / case_dir / "chart"), "--namespace", "ns"]
        if values != "-":
            args += ["-f", str(corpus / case_dir / "chart" / values)]
        yield key, args, status == "ok"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", default=str(TARGET / "release/ferroflux-helm"))
    parser.add_argument("--helm", default=str(CACHE / "reference/bin/helm"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--corpus",
        default=os.environ.get("FERROFLUX_HELM_CORPUS", str(REPO_ROOT.parent / "shared/helm-corpus")),
    )
    args = parser.parse_args()
    corpus = Path(args.corpus)
    tools = {"ours": args.ours, "helm": args.helm}
    for name, path in tools.items():
        if not Path(path).exists():
            sys.exit(f"no {name} binary at {path}")
    times = {"ours": {}, "helm": {}}
    rss = {"ours": {}, "helm": {}}
    with tempfile.TemporaryDirectory() as tmp:
        all_cases = list(cases(corpus))
        for index, (key, argv, renders) in enumerate(all_cases):
            print(f"[{index + 1}/{len(all_cases)}] {key}", file=sys.stderr)
            outs = {}
            for name, binary in tools.items():
                out = Path(tmp) / f"{name}.warm"
                _, _, code = run_once([binary, *argv], out)
                outs[name] = (code, out.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n"))
            (ours_code, ours_out), (helm_code, helm_out) = outs["ours"], outs["helm"]
            if renders:
                same = ours_code == 0 and helm_code == 0 and (
                    ours_out == helm_out or (key in RANDOM and mask(ours_out) == mask(helm_out))
                )
            else:
                same = ours_code != 0 and helm_code != 0
            if not same:
                sys.exit(f"{key}: the outputs differ (exit codes {ours_code} and {helm_code}); nothing is reported")
            for round_index in range(args.rounds):
                order = ["ours", "helm"] if round_index % 2 == 0 else ["helm", "ours"]
                for name in order:
                    elapsed, maxrss, _ = run_once([tools[name], *argv], Path(tmp) / f"{name}.out")
                    times[name].setdefault(key, []).append(elapsed)
                    rss[name][key] = max(rss[name].get(key, 0), maxrss)
    median = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    total = {name: sum(m.values()) for name, m in median.items()}
    per_case_ratio = [median["helm"][k] / median["ours"][k] for k in median["ours"]]
    # Cases that generate RSA keys (genCA and friends) spend most of their time in key generation.
    keygen = {k for k in RANDOM if not k.startswith("jenkinsci/")}
    rest = [k for k in median["ours"] if k not in keygen]
    total_rest = {name: sum(m[k] for k in rest) for name, m in median.items()}
    peak = {name: max(r.values()) / 1024 for name, r in rss.items()}
    median_rss = {name: statistics.median(r.values()) / 1024 for name, r in rss.items()}
    commit = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    n = len(median["ours"])
    print("## helm (`make bench-helm`)\n")
    print("Command: `make bench-helm` (release build of `ferroflux-helm`, then `python3 scripts/bench-helm.py`).")
    print(f"Run on {datetime.date.today()}, commit `{commit}`, against helm v4.1.4, {os.cpu_count()} CPUs, {args.rounds} timed rounds per case.\n")
    print("| measure | ferroflux-helm | helm template | ratio |")
    print("|---|---|---|---|")
    print(f"| whole corpus ({n} cases), sum of per-case medians | {total['ours']:.2f} s | {total['helm']:.2f} s | {total['helm'] / total['ours']:.1f}× faster |")
    print(f"| the {len(rest)} cases without RSA key generation, sum of medians | {total_rest['ours']:.2f} s | {total_rest['helm']:.2f} s | {total_rest['helm'] / total_rest['ours']:.1f}× faster |")
    print(f"| per-case speed-up (median over cases; min, max) | | | {statistics.median(per_case_ratio):.1f}× ({min(per_case_ratio):.1f}×, {max(per_case_ratio):.1f}×) |")
    print(f"| median per-case time | {statistics.median(median['ours'].values()) * 1000:.1f} ms | {statistics.median(median['helm'].values()) * 1000:.1f} ms | |")
    print(f"| peak RSS, largest case | {peak['ours']:.1f} MiB | {peak['helm']:.1f} MiB | {peak['ours'] / peak['helm']:.2f}× |")
    print(f"| peak RSS, median case | {median_rss['ours']:.1f} MiB | {median_rss['helm']:.1f} MiB | {median_rss['ours'] / median_rss['helm']:.2f}× |")
    print("\nEvery case's output was checked before timing: identical stdout (CRLF read as LF), identical")
    print("once random values are masked in the cases that use random functions, or refused by both.")


if __name__ == "__main__":
    main()
