#!/usr/bin/env bash
# make fuzz: builds the fuzz targets (fuzz/) with libFuzzer's coverage
# instrumentation on the stable toolchain (libfuzzer-sys brings libFuzzer and
# builds it with the C++ compiler; no sanitizer, so no nightly), seeds them
# from the test corpora and runs each for FUZZ_RUNS executions (default a
# million), stopping earlier after FUZZ_SECONDS (default 900), with a 256 MiB
# memory limit and a 1 s per-input timeout. The corpus grows in the
# cache (FERROFLUX_CACHE/fuzz), so later runs start where earlier ones ended;
# a crash is saved there and the run fails. Prints a table of executions per
# target, as recorded in docs/fuzzing.md.
# Usage: scripts/fuzz.sh [target ...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${FERROFLUX_CACHE:-$HOME/.cache/ferroflux}"
EACH="${FUZZ_SECONDS:-900}"
RUNS="${FUZZ_RUNS:-1000000}"
ALL=(yaml kustomize_build json6902 strategic_merge openapi_schema selector substitute tar_extract event_payload)
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=("${ALL[@]}")
WORK="$CACHE/fuzz"
export CARGO_TARGET_DIR="$CACHE/fuzz-target"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares \
  -Cdebug-assertions -Coverflow-checks"

# An explicit --target keeps RUSTFLAGS (the instrumentation) off build
# scripts and proc-macros, which run on the host without libFuzzer.
HOST=$(rustc -vV | sed -n 's/^host: //p')
echo "==> building the fuzz targets" >&2
cargo build --release --locked --manifest-path fuzz/Cargo.toml --bins --target "$HOST"
BIN="$CARGO_TARGET_DIR/$HOST/release"
rm -rf "$WORK/seeds"
python3 scripts/fuzz-seeds.py "$WORK/seeds"
mkdir -p "$WORK/crashes" "$WORK/logs"
# The targets that write files (a build tree, extracted archives) run several
# times faster on a memory file system.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm/ferroflux-fuzz
  mkdir -p "$TMPDIR"
fi

failed=0
printf '| target | seconds | executions | exec/s | corpus | peak RSS MiB | slowest input s | result |\n|---|---|---|---|---|---|---|---|\n'
for t in "${TARGETS[@]}"; do
  corpus="$WORK/corpus/$t"
  mkdir -p "$corpus" "$WORK/seeds/$t"
  log="$WORK/logs/$t.log"
  echo "==> fuzzing $t: $RUNS runs, at most ${EACH}s" >&2
  result=ok
  started=$(date +%s)
  "$BIN/$t" "$corpus" "$WORK/seeds/$t" \
    -runs="$RUNS" -max_total_time="$EACH" -rss_limit_mb=256 -malloc_limit_mb=256 -timeout=1 \
    -print_final_stats=1 -artifact_prefix="$WORK/crashes/$t-" >"$log" 2>&1 || { result="FOUND (see $log)"; failed=1; }
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  took=$(( $(date +%s) - started ))
  rate=$(( runs / (took > 0 ? took : 1) ))
  slowest=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo ?)
  size=$(ls "$corpus" | wc -l)
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo ?)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$took" "$runs" "$rate" "$size" "$rss" "$slowest" "$result"
done
exit "$failed"
