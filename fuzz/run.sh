#!/usr/bin/env bash
# Fuzzes every target in fuzz_targets/ for RUNS executions (10 million unless given) or
# MAX_SECONDS each (0: no limit), two at a time, on a nightly toolchain, without a sanitizer (the
# code under test is safe Rust), optimised with debug assertions and overflow checks on
# (`BUILD="--dev"` builds unoptimised instead, with less memory and far fewer executions a second).
#
# The targets link the server library built with `--cfg fuzzing`, which leaves out the HTTP
# layer (it renders the whole UI, whose instrumented build outgrows a 24 GiB machine); the build
# runs under an 18 GiB address-space limit so that it fails instead of thrashing the machine.
# Each target's corpus grows outside the clone, in $FUZZ_CORPUS/<target> (by default
# ~/.cache/portal-fuzz/corpus), seeded from corpus/<target>, which git keeps small: the grown
# corpora are thousands of files a target. A crash
# stops that target and is left in artifacts/<target>/ to be fixed and copied to
# regressions/<target>/, which `cargo test` replays. Figures go to results/<target>.log and a
# summary to stdout. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
MAX_SECONDS=${MAX_SECONDS:-0}
BUILD=${BUILD:---debug-assertions}
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/portal-fuzz-target}
export FUZZ_CORPUS=${FUZZ_CORPUS:-$HOME/.cache/portal-fuzz/corpus}

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

targets=$(ls fuzz_targets | sed 's/\.rs$//')
mkdir -p results
(
  ulimit -v $((18 << 20))
  for target in $targets; do
    cargo +nightly fuzz build $BUILD --sanitizer none "$target"
  done
)

run_one() {
  local target=$1
  mkdir -p "$FUZZ_CORPUS/$target" "artifacts/$target"
  local started=$SECONDS status=ok
  cargo +nightly fuzz run $BUILD --sanitizer none "$target" "$FUZZ_CORPUS/$target" "corpus/$target" -- \
    -runs="$RUNS" -max_total_time="$MAX_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"results/$target.log" 2>&1 || status=crash
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "results/$target.log" | grep -o '[0-9]*$' || echo 0)
  printf '%-20s %12s executions  %6ss  %s\n' "$target" "$runs" "$((SECONDS - started))" "$status"
}
export -f run_one
export RUNS MAX_SECONDS BUILD FUZZ_CORPUS
printf '%s\n' $targets | xargs -P 2 -I{} bash -c 'run_one {}'
