#!/usr/bin/env bash
# Regenerates crates/helm/tests/charts/<case>/expected with the reference helm binary.
#
# Each case is a full chart (chart/, subcharts under chart/charts/) and an `args` file: one line
# of extra `helm template` arguments, split on whitespace (no quoting, no globbing), with paths
# relative to the case directory. The script runs, from the case directory,
#   helm template rel chart --namespace ns <args>
# and stores helm's stdout on success, or its stderr on failure, exactly as printed.
#
# Packaged subcharts are committed as they are; subchart-packaged-tgz's archive was made with
#   helm package src/packed -d chart/charts   (from the case directory).
#
# Usage: scripts/helm-charts.sh [case...]   (default: every case)
# HELM overrides the binary (default: ~/.cache/ferroflux/reference/bin/helm); HELM_CHARTS_DIR the
# cases directory (crates/helm/tests/charts-pending holds cases our renderer does not pass yet).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cases="${HELM_CHARTS_DIR:-$root/crates/helm/tests/charts}"
helm="${HELM:-$HOME/.cache/ferroflux/reference/bin/helm}"
[ -x "$helm" ] || { echo "no helm binary at $helm" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ $# -gt 0 ]; then names=("$@"); else names=(); for d in "$cases"/*/; do names+=("$(basename "$d")"); done; fi
for name in "${names[@]}"; do
  dir="$cases/$name"
  args=()
  if [ -f "$dir/args" ]; then read -ra args < "$dir/args" || true; fi
  if (cd "$dir" && "$helm" template rel chart --namespace ns ${args[@]+"${args[@]}"} > "$work/out" 2> "$work/err"); then
    cp "$work/out" "$dir/expected"
  else
    cp "$work/err" "$dir/expected"
  fi
  echo "$name"
done
