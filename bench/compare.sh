#!/usr/bin/env bash
# Side-by-side benchmark on loopback: the portal (release build, embedded PostgreSQL) and a stock
# Prometheus 2.42 (Debian's package, remote-write receiver on), same load, same machine.
#
#   bench/compare.sh            ingest, 1 h query, storage after compaction
#   BENCH_DAYS=30 bench/compare.sh   also loads 30 days into the portal and times 30-day queries
#   BENCH_STORAGE=0 bench/compare.sh    ingest and the 1 h query only (a few minutes)
#
# Prints one line per measurement; docs/performance.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/portal-target}"
export PATH="$HOME/.cargo/bin:$PATH"
SERIES="${BENCH_SERIES:-1000}"
DAYS="${BENCH_DAYS:-0}"

source bench/lib.sh
start_portal 3910 PORTAL_RETENTION=$(( DAYS + 5 ))d

PROM=http://127.0.0.1:9910
printf 'global:\n  scrape_interval: 1h\n' >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
  --web.listen-address=127.0.0.1:9910 --web.enable-remote-write-receiver --log.level=warn \
  >"$work/prometheus.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fs "$PROM/-/ready" >/dev/null && break
  sleep 0.3
done

echo "== remote-write ingest, $SERIES series, 4 senders, 20 s each"
# 500 samples a request is what a stock Prometheus sends (max_samples_per_send); 2,000 is a
# bulk sender.
for batch in 500 2000; do
  "$BIN/examples/bench" ingest "$PROM/api/v1/write" "$SERIES" "$batch" 4 20
  "$BIN/examples/bench" ingest "$PORTAL/api/v1/write" "$SERIES" "$batch" 4 20
done

echo "== sum by (agent_id) (rate(agent_task_success_total[5m])) over 1 h at 15 s, $SERIES series"
"$BIN/examples/bench" load "$PROM/api/v1/write" "$SERIES" 1
"$BIN/examples/bench" load "$PORTAL/api/v1/write" "$SERIES" 1
Q='sum by (agent_id) (rate(agent_task_success_total{job="query"}[5m]))'
for url in "$PROM" "$PORTAL"; do "$BIN/examples/bench" query "$url" "$Q" 1h 15s 3 >/dev/null; done
"$BIN/examples/bench" query "$PROM" "$Q" 1h 15s 30
"$BIN/examples/bench" query "$PORTAL" "$Q" 1h 15s 30

[ "${BENCH_STORAGE:-1}" = 0 ] && exit 0

echo "== storage: a day of $SERIES series ending a day ago, in the portal after compaction"
"$BIN/examples/bench" load "$PORTAL/api/v1/write" "$SERIES" 24 1
if [ "$DAYS" -gt 1 ]; then
  echo "== loading $DAYS days of $SERIES series into the portal"
  "$BIN/examples/bench" load "$PORTAL/api/v1/write" "$SERIES" $(( (DAYS - 2) * 24 )) 2
fi
echo "waiting for the compactor (a pass a minute, blocks older than 2 h 10 min)"
start=$(date +%s)
while [ "$(psql_portal "select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where p.relname = 'metric_batch' and c.relname < 'metric_batch_p$(date -u -d '-3 hours' +%Y%m%d_%H)'")" != 0 ]; do
  sleep 5
done
echo "compaction done $(( $(date +%s) - start )) s after the load"
psql_portal "select 'full resolution: ' || sum(sample_count) || ' samples in ' || count(*) || ' chunks, '
    || round(sum(octet_length(data))::numeric / sum(sample_count), 3) || ' B/sample of chunk data'
  from metric_chunk where resolution_ms = 0"
psql_portal "select 'downsampled stream: ' || sum(sample_count) || ' samples, '
    || round(sum(octet_length(data))::numeric / (select sum(sample_count) from metric_chunk where resolution_ms = 0), 3)
    || ' B per original sample'
  from metric_chunk where resolution_ms = 300000"
psql_portal "select 'on disk (tables, TOAST and indexes of every chunk partition): '
    || round(sum(pg_total_relation_size(c.oid))::numeric / (select sum(sample_count) from metric_chunk where resolution_ms = 0), 3)
    || ' B/sample'
  from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
  where p.relname = 'metric_chunk'"

if [ "$DAYS" -gt 1 ]; then
  echo "== the same query over $DAYS days in the portal"
  for step in 1h 3h; do
    "$BIN/examples/bench" query "$PORTAL" "$Q" "${DAYS}d" "$step" 10
  done
fi
