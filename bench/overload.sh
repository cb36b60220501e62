#!/usr/bin/env bash
# Overload on loopback: the portal (release build, embedded PostgreSQL) is first driven as fast
# as four closed-loop senders go, which gives the rate this machine sustains, then offered twice
# that rate in an open loop (requests started on a clock, whatever the answers, each retried
# after its Retry-After as Prometheus does). Prints what each run saw: acknowledged samples a
# second, answers by status, the slowest answer, the portal's largest resident memory, and
# whether every acknowledged sample is stored. docs/reliability.md records the figures.
#
#   bench/overload.sh            2,000 samples a request (1,000 series), 20 s runs
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/portal-target}"
export PATH="$HOME/.cargo/bin:$PATH"
SERIES="${BENCH_SERIES:-1000}"
BATCH="${BENCH_BATCH:-2000}"
SECONDS_EACH="${BENCH_SECONDS:-20}"

source bench/lib.sh
start_portal 3911

echo "== sustained: 4 closed-loop senders, $BATCH samples a request, ${SECONDS_EACH}s"
line=$("$BIN/examples/bench" ingest "$PORTAL/api/v1/write" "$SERIES" "$BATCH" 4 "$SECONDS_EACH")
echo "$line"
sustained=$(echo "$line" | sed -n 's/.*: \([0-9]*\) samples\/s.*/\1/p')
rate=$(( 2 * sustained / BATCH ))
echo "== twice that: $rate requests a second in an open loop, ${SECONDS_EACH}s"
"$BIN/examples/bench" overload "$PORTAL" "$SERIES" "$BATCH" "$rate" "$SECONDS_EACH"
echo "== the portal's own count of shed writes"
curl -fsS "$PORTAL/metrics" | grep -E '^portal_ingest_requests_shed_total' || echo "none shed by the in-flight budget or the head limit"
