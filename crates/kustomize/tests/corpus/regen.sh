#!/usr/bin/env bash
# Regenerates the expected output of corpus cases with the reference kubectl
# (kustomize v5.7.1 inside kubectl v1.35.2).
#
# Usage: regen.sh [case...]     (no arguments: every case)
#
# A case is a directory holding:
#   in/                  the files; the build target is in/ unless `target` says otherwise
#   target               optional: the build directory, relative to in/
#   args                 optional: extra `kubectl kustomize` flags, one per line
#                        (only --load-restrictor=LoadRestrictionsNone and --enable-helm are understood
#                        by the Rust side; --enable-helm runs the reference helm through helm-shim.sh)
#   expected.yaml        written here when kubectl succeeds (its stdout)
#   expected-error.txt   written here when kubectl fails (its stderr, case path made relative)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kubectl=${KUBECTL:-${FERROFLUX_CACHE:-$HOME/.cache/ferroflux}/reference/bin/kubectl}
[ -x "$kubectl" ] || { echo "regen.sh: no kubectl at $kubectl; run scripts/install-deps.sh reference" >&2; exit 1; }
cd "$here"
if [ $# -eq 0 ]; then set -- */; fi
for c in "$@"; do
  c=${c%/}
  [ -d "$c/in" ] || { echo "regen.sh: $c has no in/ directory" >&2; exit 1; }
  target="$here/$c/in"
  [ -f "$c/target" ] && target="$target/$(tr -d '\n' < "$c/target")"
  args=()
  [ -f "$c/args" ] && mapfile -t args < "$c/args"
  # Helm charts: the reference helm, through a shim that satisfies kustomize 5.7.1's version check.
  if [[ " ${args[*]} " == *" --enable-helm "* ]]; then args+=(--helm-command "$here/helm-shim.sh"); fi
  if "$kubectl" kustomize "${args[@]}" "$target" > "$c/expected.yaml.tmp" 2> "$c/expected-error.txt.tmp"; then
    mv "$c/expected.yaml.tmp" "$c/expected.yaml"
    rm -f "$c/expected-error.txt" "$c/expected-error.txt.tmp"
  else
    sed "s#$here/##g" "$c/expected-error.txt.tmp" > "$c/expected-error.txt"
    rm -f "$c/expected.yaml" "$c/expected.yaml.tmp" "$c/expected-error.txt.tmp"
  fi
done
