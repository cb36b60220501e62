#!/usr/bin/env bash
# Every check and test: formatting, lints, unit and API tests (against a private PostgreSQL, once
# with one portal per test and once with two replicas behind a proxy),
# the compose file, and the end-to-end tests: all of them against the debug build (whose overflow
# checks and debug assertions are on), then again against the release build those that drive
# the UI in headless Chromium (only the release build runs wasm-opt, which can break hydration)
# and the hostile-query guards (stack depth differs between the builds).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/portal-target}"
export CARGO_TARGET_DIR
export PATH="$HOME/.cargo/bin:$PWD/tests/e2e/node_modules/.bin:$PATH"

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
started=$SECONDS

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --all-targets -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "compose file (docker compose config)"
if docker compose version >/dev/null 2>&1; then docker compose config -q; else docker-compose config -q; fi

step "unit and API tests"
cargo test -p app -p server

step "API tests against two replicas on one database, behind a round-robin proxy"
PORTAL_TEST_REPLICAS=2 cargo test -p server --test api

e2e() {
  local profile=$1
  shift
  step "end-to-end tests against the $profile build"
  (cd tests/e2e && PORTAL_BIN="$CARGO_TARGET_DIR/$profile/portal" PORTAL_SITE_ROOT="$CARGO_TARGET_DIR/site" \
     E2E_SCREENSHOTS="$CARGO_TARGET_DIR/e2e-screenshots/$profile" node --test --test-concurrency=1 "$@")
}

step "debug build (cargo leptos build)"
cargo leptos build
e2e debug

step "release build (cargo leptos build --release)"
cargo leptos build --release
mapfile -t release_files < <(cd tests/e2e && { grep -l "lib/browser.mjs" ./*.test.mjs; echo ./guards.test.mjs; } | sort -u)
e2e release "${release_files[@]}"

step "all tests passed in $((SECONDS - started))s"
