#!/usr/bin/env bash
# Dashboard benchmarks (panel images, a 12-panel dashboard in Chromium, auto-refresh memory) on
# loopback against the release build; docs/performance.md records the figures.
#   bench/dashboards.sh                       everything (about 7 minutes)
#   BENCH_REFRESH_SECONDS=600 bench/dashboards.sh   a longer auto-refresh run
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/portal-target}"
export PATH="$HOME/.cargo/bin:$PWD/tests/e2e/node_modules/.bin:$PATH"
.ci/tools.sh
cargo xtask build --release
cargo run --release -q -p server --example render
PORTAL_BIN="$CARGO_TARGET_DIR/release/portal" PORTAL_SITE_ROOT="$CARGO_TARGET_DIR/site" node bench/dashboards.mjs
