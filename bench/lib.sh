# Shared by the benchmark scripts: a release portal on an embedded PostgreSQL in a scratch
# directory, started on loopback, with an ingest-and-read token for the bench client.
#
#   source bench/lib.sh; start_portal PORT [ENV=VALUE...]   sets PORTAL, work, BENCH_TOKEN, BIN
# Everything started is stopped, and the scratch directory removed, when the script exits.
# BENCH_BIN=DIR runs the portal and bench binaries already built in DIR (two builds compared run
# against run) instead of building them.

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  cargo build --release -q -p server --bin portal --example bench
  BIN="$CARGO_TARGET_DIR/release"
fi
work=$(mktemp -d /tmp/portal-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  # What went wrong, if anything did, before the scratch directory goes.
  grep '"level":"ERROR"' "$work/portal.log" 2>/dev/null | tail -5 >&2 || true
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

psql_portal() { psql -h "$work/portal/postgres-run" -U postgres -d portal -Atc "$1"; }

start_portal() {
  local port=$1
  shift
  PORTAL=http://127.0.0.1:$port
  env PORTAL_DATA_DIR="$work/portal" PORTAL_LISTEN=127.0.0.1:$port PORTAL_SCRAPE_SELF=false PORTAL_LOG=warn \
    PORTAL_SITE_ROOT="$CARGO_TARGET_DIR/site" "$@" "$BIN/portal" >"$work/portal.log" 2>&1 &
  pids+=($!)
  PORTAL_PID=$!
  for _ in $(seq 100); do
    curl -fs "$PORTAL/readyz" >/dev/null && break
    sleep 0.3
  done
  # The portal asks every sender for a token: sign in as the first admin and make an ingest
  # and read token, which the bench sends as a bearer credential (Prometheus ignores it).
  local cookie
  cookie=$(curl -fsS -o /dev/null -D - -H 'content-type: application/json' \
    -d "{\"login\":\"admin\",\"password\":\"$(cat "$work/portal/admin-password")\"}" \
    "$PORTAL/api/auth/sign-in" | sed -n 's/^set-cookie: \([^;]*\).*/\1/Ip')
  BENCH_TOKEN=$(curl -fsS -H 'content-type: application/json' -H "cookie: $cookie" \
    -d '{"name":"bench","scopes":["ingest","read"]}' "$PORTAL/api/auth/tokens" |
    sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
  export BENCH_TOKEN
}
