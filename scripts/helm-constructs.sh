#!/usr/bin/env bash
# Regenerates crates/helm/tests/constructs/<case>/expected with the reference helm binary.
#
# Each case is a template (template.yaml) and optional values (values.yaml). The script wraps
# them in a throwaway chart (Chart.yaml apiVersion v2, name c, version 0.1.0; the template as
# templates/t.yaml), runs `helm template rel <chart> --namespace ns`, and stores:
#   - on success, stdout without helm's "---\n# Source: c/templates/t.yaml\n" header and without
#     the one newline helm prints after the document (an empty render, "\n", is stored as "");
#   - on failure, helm's stderr as is (it starts with "Error: ").
#
# Usage: scripts/helm-constructs.sh [case...]   (default: every case)
# HELM overrides the binary (default: ~/.cache/ferroflux/reference/bin/helm).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cases="$root/crates/helm/tests/constructs"
helm="${HELM:-$HOME/.cache/ferroflux/reference/bin/helm}"
[ -x "$helm" ] || { echo "no helm binary at $helm" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

render() { # case-dir -> writes $work/out, $work/err; returns helm's exit code
  local dir="$1" chart="$work/c"
  rm -rf "$chart"
  mkdir -p "$chart/templates"
  printf 'apiVersion: v2\nname: c\nversion: 0.1.0\n' > "$chart/Chart.yaml"
  cp "$dir/template.yaml" "$chart/templates/t.yaml"
  if [ -f "$dir/values.yaml" ]; then cp "$dir/values.yaml" "$chart/values.yaml"; fi
  "$helm" template rel "$chart" --namespace ns > "$work/out" 2> "$work/err"
}

header=$'---\n# Source: c/templates/t.yaml\n'
if [ $# -gt 0 ]; then names=("$@"); else names=(); for d in "$cases"/*/; do names+=("$(basename "$d")"); done; fi
for name in "${names[@]}"; do
  dir="$cases/$name"
  if render "$dir"; then
    python3 - "$work/out" "$dir/expected" "$header" <<'PY'
import sys
out = open(sys.argv[1], encoding="utf-8", newline="").read()
header = sys.argv[3]
if out == "\n":
    body = ""
elif out.startswith(header) and out.endswith("\n"):
    body = out[len(header):-1]
else:
    sys.exit(f"unexpected helm output shape: {out!r}")
open(sys.argv[2], "w", encoding="utf-8", newline="").write(body)
PY
  else
    cp "$work/err" "$dir/expected"
  fi
  echo "$name"
done
