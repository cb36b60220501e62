#!/usr/bin/env bash
# First visits in headless Chromium (start page and a dashboard: bytes transferred, requests,
# time to interactive; cold and cached; loopback and a 20 Mbit/s link) against the release
# build; docs/performance.md records the figures. About 3 minutes.
#   PORTAL_BIN=… PORTAL_SITE_ROOT=… bench/first_visit.sh   another build, as it is
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/portal-target}"
export PATH="$HOME/.cargo/bin:$PATH"
if [ -z "${PORTAL_BIN:-}" ]; then
  .ci/tools.sh
  cargo xtask build --release
  export PORTAL_BIN="$CARGO_TARGET_DIR/release/portal" PORTAL_SITE_ROOT="$CARGO_TARGET_DIR/site"
fi
node bench/first_visit.mjs
