#!/usr/bin/env bash
# Every check and test: formatting, lints, unit and API tests (against a private PostgreSQL, once
# with one portal per test and once with two replicas behind a proxy), the compose file, and the
# end-to-end tests against the release build `make run` serves: the real binary with its
# embedded database, real peers and headless Chromium. The release build is the one users run
# and the only one wasm-opt touches (which can break hydration); the debug build's overflow
# checks and debug assertions are on in the unit and API tests, which drive the same code, and
# the hostile-query guards run in both (query_guards.rs in debug, guards.test.mjs in release),
# as stack depth differs between the builds.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/portal-target}"
export CARGO_TARGET_DIR
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
started=$SECONDS

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "compose file (docker compose config)"
if docker compose version >/dev/null 2>&1; then docker compose config -q; else docker-compose config -q; fi

step "unit and API tests"
cargo test -p app -p server

step "API tests against two replicas on one database, behind a round-robin proxy"
PORTAL_TEST_REPLICAS=2 cargo test -p server --test api

step "the release build (cargo xtask build --release) and the build tool's own tests"
cargo xtask build --release
# In release, like the `cargo xtask` alias: the build tool's dependencies are built once.
cargo test --release -p xtask

step "end-to-end tests against the release build"
(cd tests/e2e && PORTAL_BIN="$CARGO_TARGET_DIR/release/portal" PORTAL_SITE_ROOT="$CARGO_TARGET_DIR/site" \
   E2E_SCREENSHOTS="$CARGO_TARGET_DIR/e2e-screenshots/release" node --test --test-concurrency=1 ./*.test.mjs)

step "all tests passed in $((SECONDS - started))s"
