#!/usr/bin/env bash
# Alerting benchmarks (evaluation cost, the 24 h preview over 1,000 series, history queries at
# 1,000,000 state changes) in one release process on an embedded PostgreSQL; docs/performance.md
# records the figures. About 3 minutes once built.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/portal-target}"
export PATH="$HOME/.cargo/bin:$PATH"
cargo run --release -q -p server --example alerting_bench
