#!/usr/bin/env bash
# Installs what the build and the tests need, each only when it is missing or at the wrong
# version, so a second run costs seconds. Versions are the ones verified on this kind of machine
# (see docs/build.md).
#
#   .ci/tools.sh build   what building and running the portal needs (make run)
#   .ci/tools.sh         that, and what the tests need besides (make test)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-all}

log() { printf '\033[1;34m[tools]\033[0m %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_updated=""
apt_install() {
  log "installing Debian packages: $*"
  if [ -z "$apt_updated" ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=yes
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Installs the npm packages of $1 when they are missing or older than its lockfile.
npm_ci() {
  local dir=$1 what=$2
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "installing npm packages ($what)"
    (cd "$dir" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error)
  fi
}

# --- building and running --------------------------------------------------------------------
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# wasm-opt (npm binaryen) and the CSS minifier (npm lightningcss-cli) ship ready to run; the
# rest of the site build (splitting, wasm-bindgen) is linked into `cargo xtask`.
npm_ci "$here/xtask" "wasm-opt, lightningcss"

build_missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || build_missing+=(postgresql-15)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || build_missing+=(fonts-dejavu-core)
if [ ${#build_missing[@]} -gt 0 ]; then
  apt_install "${build_missing[@]}"
fi

if [ "$mode" = build ]; then
  log "build tools ready"
  exit 0
fi

# --- the tests -------------------------------------------------------------------------------
npm_ci "$here/tests/e2e" "playwright-core"

apt_missing=()
command -v /usr/bin/chromium >/dev/null 2>&1 || apt_missing+=(chromium)
command -v promtool >/dev/null 2>&1 || apt_missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || apt_missing+=(prometheus-alertmanager)
command -v psql >/dev/null 2>&1 || apt_missing+=(postgresql-client-15)
command -v pgrep >/dev/null 2>&1 || apt_missing+=(procps)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || apt_missing+=(docker-compose)
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_missing+=(python3-venv)
if [ ${#apt_missing[@]} -gt 0 ]; then
  apt_install "${apt_missing[@]}"
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
  log "installing the OpenTelemetry Python SDK into $otel_venv"
  rm -rf "$otel_venv"
  python3 -m venv "$otel_venv"
  "$otel_venv/bin/pip" install -q --disable-pip-version-check -r "$here/tests/otel/requirements.txt"
  cp "$here/tests/otel/requirements.txt" "$otel_venv/requirements.txt"
fi
log "tools ready"
