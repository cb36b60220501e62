#!/usr/bin/env bash
# Log benchmarks on loopback: the portal (release build, embedded PostgreSQL) taking Loki pushes
# from 4 senders, then LOGS_LINES lines spread over a day, searched and counted.
#
#   bench/logs.sh                   ingest for 30 s, load 10 M lines, time searches, bytes a line
#   LOGS_LINES=1000000 bench/logs.sh   a smaller store (a few minutes)
#
# Prints one line per measurement; docs/performance.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/portal-target}"
export PATH="$HOME/.cargo/bin:$PATH"
LINES="${LOGS_LINES:-10000000}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release -q -p server --example logs_bench

source bench/lib.sh
start_portal 3920
LB="$BIN/examples/logs_bench"

echo "== ingest: 4 senders, 2,000 lines a request, 30 s"
"$LB" ingest "$PORTAL" 2000 4 30
echo "== ingest: 8 senders, 500 lines a request, 30 s"
"$LB" ingest "$PORTAL" 500 8 30
echo "== load: $LINES lines over 24 h"
"$LB" load "$PORTAL" "$LINES" 24
psql_portal "vacuum analyze log_line" >/dev/null
stored=$(psql_portal "select count(*) from log_line")
raw=$(psql_portal "select sum(octet_length(body) + octet_length(fields::text)) from log_line")
disk_report() {
  local disk tables
  disk=$(psql_portal "select sum(pg_total_relation_size(c.oid)) from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'log_line'::regclass")
  tables=$(psql_portal "select sum(pg_relation_size(c.oid) + coalesce(pg_total_relation_size(c.reltoastrelid), 0)) from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'log_line'::regclass")
  echo "$1: on disk $disk B ($(( disk / stored )) B a line, of which table $(( tables / stored )) B, indexes $(( (disk - tables) / stored )) B)"
}
echo "stored: $stored lines; raw body + fields $raw B ($(( raw / stored )) B a line)"
disk_report "as written"
# What the retention job does to each day once it is over: the token index rebuilt at once.
for index in $(psql_portal "select c.relname from pg_inherits i join pg_index x on x.indrelid = i.inhrelid join pg_class c on c.oid = x.indexrelid join pg_am a on a.oid = c.relam where i.inhparent = 'log_line'::regclass and a.amname = 'gin'"); do
  psql_portal "reindex index $index" >/dev/null
done
disk_report "every day's token index rebuilt (as the retention job does once a day is over)"

echo "== search, the newest 100 over 24 h"
for q in timeout kerberos '"upstream timeout"' 'service:coder level>=error' 'agent_id:agent-7 tool:shell' 'tokens>7990' '/kerb.ros/'; do
  "$LB" search "$PORTAL" "$q" now-24h 21
done
echo "== histogram over 24 h"
"$LB" histogram "$PORTAL" '' now-24h 11
"$LB" histogram "$PORTAL" timeout now-24h 11
"$LB" histogram "$PORTAL" 'service:coder' now-24h 11
