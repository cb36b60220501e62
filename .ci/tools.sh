#!/usr/bin/env bash
# Installs every tool the build and the tests need, each only when it is missing or at the
# wrong version, so a second run costs seconds. Versions are the ones verified on this kind
# of machine (see docs/build.md).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.129

log() { printf '\033[1;34m[tools]\033[0m %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo-leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes ~20 min on 2 cores, once per machine)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
fi

# wasm-opt (npm binaryen) and playwright-core live in tests/e2e/node_modules.
if [ ! -x "$here/tests/e2e/node_modules/.bin/wasm-opt" ] || [ ! -d "$here/tests/e2e/node_modules/playwright-core" ] \
   || [ "$here/tests/e2e/package-lock.json" -nt "$here/tests/e2e/node_modules/.package-lock.json" ]; then
  log "installing npm packages (binaryen, playwright-core)"
  (cd "$here/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
fi

apt_missing=()
command -v /usr/bin/chromium >/dev/null 2>&1 || apt_missing+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_missing+=(fonts-dejavu-core)
command -v promtool >/dev/null 2>&1 || apt_missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || apt_missing+=(prometheus-alertmanager)
[ -x /usr/lib/postgresql/15/bin/initdb ] || apt_missing+=(postgresql-15)
command -v psql >/dev/null 2>&1 || apt_missing+=(postgresql-client-15)
command -v pgrep >/dev/null 2>&1 || apt_missing+=(procps)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || apt_missing+=(docker-compose)
if [ ${#apt_missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${apt_missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  # The prometheus and alertmanager packages start their services on install; the tests start
  # their own on loopback, so the ones just installed are stopped (never ones there before).
  if [[ " ${apt_missing[*]} " == *" prometheus "* ]]; then
    if command -v systemctl >/dev/null 2>&1; then $sudo systemctl stop prometheus 2>/dev/null || true; fi
    $sudo pkill -x prometheus 2>/dev/null || true
  fi
  if [[ " ${apt_missing[*]} " == *" prometheus-alertmanager "* ]]; then
    if command -v systemctl >/dev/null 2>&1; then $sudo systemctl stop prometheus-alertmanager 2>/dev/null || true; fi
    $sudo pkill -x prometheus-alertmanager 2>/dev/null || true
    $sudo pkill -x alertmanager 2>/dev/null || true
  fi
fi
# The OpenTelemetry Python SDK, a real OTLP sender for the tests, in a venv outside the clone.
otel_venv="${PORTAL_OTEL_VENV:-$HOME/.cache/portal-tools/otel}"
if ! cmp -s "$here/tests/otel/requirements.txt" "$otel_venv/requirements.txt" 2>/dev/null; then
  python3 -c 'import venv, ensurepip' 2>/dev/null || {
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  }
  log "installing the OpenTelemetry Python SDK into $otel_venv"
  rm -rf "$otel_venv"
  python3 -m venv "$otel_venv"
  "$otel_venv/bin/pip" install -q --disable-pip-version-check -r "$here/tests/otel/requirements.txt"
  cp "$here/tests/otel/requirements.txt" "$otel_venv/requirements.txt"
fi
log "tools ready"
