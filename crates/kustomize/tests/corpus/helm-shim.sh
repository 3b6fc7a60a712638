#!/bin/sh
# The `helm` the reference `kubectl kustomize --enable-helm` runs for the corpus cases whose
# `args` hold --enable-helm. kustomize 5.7.1 asks `helm version -c --short` and accepts only
# helm v3; the reference helm is v4.1.4, which dropped `-c`. Answer that one question as a
# helm v3 would and hand every other command (`template`) to the reference helm unchanged.
helm=${REFERENCE_HELM:-${FERROFLUX_CACHE:-$HOME/.cache/ferroflux}/reference/bin/helm}
if [ "$1" = version ]; then
  echo v3.99.0
  exit 0
fi
exec "$helm" "$@"
