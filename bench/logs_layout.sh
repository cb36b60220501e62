#!/usr/bin/env bash
# What PostgreSQL spends a log line on in two layouts, measured on the same lines: the table the
# portal writes now (a row a line, its tokens in a GIN index) against chunks (a stream's lines
# of a write, or of a longer stretch, in one row: a compressed payload and the distinct tokens
# of its lines in a GIN index).
#
#   bench/logs_layout.sh                 500,000 lines over an hour, chunks of 40 and 1,000 lines
#   LAYOUT_LINES=2000000 bench/logs_layout.sh
#
# The lines are the bench fleet's (server/examples/logs_bench.rs), stored by the portal, then
# copied into both layouts by one INSERT each (three runs, the tables emptied and checkpointed
# in between). A chunk's payload is as long as `zstd -1` makes the text of its lines (measured
# here on 1,000 lines of one stream) and stored as it is (no second compression). Prints a line
# per measurement; docs/performance.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/portal-target}"
export PATH="$HOME/.cargo/bin:$PATH"
LINES="${LAYOUT_LINES:-500000}"
command -v zstd >/dev/null || { echo "zstd is needed (apt-get install zstd)" >&2; exit 1; }
[ -n "${BENCH_BIN:-}" ] || cargo build --release -q -p server --example logs_bench

source bench/lib.sh
start_portal 3925
"$BIN/examples/logs_bench" load "$PORTAL" "$LINES" 1

psql_portal "create unlogged table x_src as select * from log_line where tokens is not null" >/dev/null
n=$(psql_portal "select count(*) from x_src")
sample="$work/chunk.tsv"
psql_portal "copy (select time, id, severity, body, fields::text, trace_id, span_id from x_src where stream_id = (select min(stream_id) from x_src) order by time, id limit 1000) to stdout" >"$sample"
payload=$(( $(zstd -1 -c "$sample" | wc -c) / $(wc -l <"$sample") + 1 ))
echo "lines: $n; a line's text $(( $(wc -c <"$sample") / $(wc -l <"$sample") )) B, after zstd -1 over 1,000 lines of a stream $payload B"

psql_portal "create table x_line (like x_src);
create index on x_line (time desc, id desc);
create index on x_line (stream_id, time, id);
create index on x_line using gin (tokens);" >/dev/null
for size in 40 1000; do
  psql_portal "create unlogged table x_chunks_$size as
    with numbered as (
      select stream_id, time, tokens,
        (row_number() over (partition by stream_id order by time, id) - 1) / $size as chunk
      from x_src)
    select stream_id, min(time) as t0, max(time) as t1, count(*)::int as lines,
      (select array_agg(distinct t order by t) from numbered m, unnest(m.tokens) t
        where m.stream_id = n.stream_id and m.chunk = n.chunk) as tokens,
      convert_to(repeat('x', $payload * count(*)::int), 'UTF8') as payload
    from numbered n group by stream_id, chunk;
  create table x_chunk_$size (like x_chunks_$size);
  alter table x_chunk_$size alter payload set storage external;
  create index on x_chunk_$size (t1 desc);
  create index on x_chunk_$size (stream_id, t1);
  create index on x_chunk_$size using gin (tokens);" >/dev/null
  echo "chunks of $size lines: $(psql_portal "select count(*) || ' chunks, ' || round(sum(cardinality(tokens))::numeric / $n, 2) || ' index entries a line' from x_chunks_$size")"
done
# The third layout: chunks of 1,000 lines as arrays, compressed by PostgreSQL itself (lz4, when a
# row passes 2 kB) so that SQL can still read their lines (unnest) without the portal.
psql_portal "create unlogged table x_arrays_src as
  with numbered as (
    select *, (row_number() over (partition by stream_id order by time, id) - 1) / 1000 as chunk
    from x_src)
  select stream_id, min(time) as t0, max(time) as t1,
    array_agg(time order by time, id) as times, array_agg(id order by time, id) as ids,
    array_agg(severity order by time, id) as severities, array_agg(body order by time, id) as bodies,
    array_agg(fields order by time, id) as fields,
    (select array_agg(distinct t order by t) from numbered m, unnest(m.tokens) t
      where m.stream_id = n.stream_id and m.chunk = n.chunk) as tokens
  from numbered n group by stream_id, chunk;
create table x_arrays (like x_arrays_src);
alter table x_arrays alter bodies set compression lz4, alter fields set compression lz4;
create index on x_arrays (t1 desc);
create index on x_arrays (stream_id, t1);
create index on x_arrays using gin (tokens);" >/dev/null
echo "a row a line: $(psql_portal "select round(sum(cardinality(tokens))::numeric / $n, 2) || ' index entries a line' from x_src")"

timed_insert() {
  local target=$1 source=$2 start end
  psql_portal "truncate $target" >/dev/null
  psql_portal "checkpoint" >/dev/null
  start=$(date +%s%N)
  psql_portal "set gin_pending_list_limit = '64MB'; insert into $target select * from $source" >/dev/null
  end=$(date +%s%N)
  echo "$(( (end - start) / n )) ns"
}
for run in 1 2 3; do
  echo "run $run, PostgreSQL's time a line: a row a line $(timed_insert x_line x_src)," \
    "chunks of 40 $(timed_insert x_chunk_40 x_chunks_40), chunks of 1,000 $(timed_insert x_chunk_1000 x_chunks_1000)," \
    "chunks of 1,000 as lz4 arrays $(timed_insert x_arrays x_arrays_src)"
done
for table in x_line x_chunk_40 x_chunk_1000 x_arrays; do
  echo "$table on disk: $(( $(psql_portal "select pg_total_relation_size('$table')") / n )) B a line"
done
# Reading every line back to test it: a regular expression over each body, from the rows and
# from the arrays (decompressed by PostgreSQL), then what zstd takes to decompress a chunk.
read_all() {
  local start end
  start=$(date +%s%N)
  psql_portal "$1" >/dev/null
  end=$(date +%s%N)
  echo "$(( (end - start) / n )) ns"
}
for run in 1 2 3; do
  echo "run $run, every line read and tested: rows $(read_all "select count(*) from x_line where body ~ 'kerb.ros'")," \
    "lz4 arrays $(read_all "select count(*) from x_arrays, unnest(bodies) b where b ~ 'kerb.ros'")"
done
# Two searches, the same answer from each layout (p50 of 11 runs): the newest 100 lines
# holding a rare word, and a common word's lines counted by minute. The token of a word is
# what the portal stores (FNV-1a of "w" and the word, store::logs::word_token).
token() { python3 -c 'import sys
h = 0x811c9dc5
for b in b"w" + sys.argv[1].encode():
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print(h - (1 << 32) if h >= 1 << 31 else h)' "$1"; }
p50() {
  local runs=() start end
  for _ in $(seq 11); do
    start=$(date +%s%N)
    psql_portal "$1" >/dev/null
    end=$(date +%s%N)
    runs+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 6p | awk '{printf "%.1f ms", $1 / 1000}'
}
rare=$(token kerberos)
common=$(token timeout)
psql_portal "vacuum analyze x_line" >/dev/null
psql_portal "vacuum analyze x_arrays" >/dev/null
echo "lines holding the tokens: 'kerberos' $(psql_portal "select count(*) from x_line where tokens @> array[$rare]")," \
  "'timeout' $(psql_portal "select count(*) from x_line where tokens @> array[$common]")"
echo "newest 100 lines with 'kerberos': rows $(p50 "select time, body from x_line where tokens @> array[$rare] and body ~* '\\mkerberos\\M' order by time desc, id desc limit 100")," \
  "lz4 arrays $(p50 "select t, b from x_arrays c, unnest(c.times, c.ids, c.bodies) u(t, i, b) where c.tokens @> array[$rare] and b ~* '\\mkerberos\\M' order by t desc, i desc limit 100")"
echo "lines with 'timeout' by minute: rows $(p50 "select date_trunc('minute', time), count(*) from x_line where tokens @> array[$common] and body ~* '\\mtimeout\\M' group by 1")," \
  "lz4 arrays $(p50 "select date_trunc('minute', t), count(*) from x_arrays c, unnest(c.times, c.bodies) u(t, b) where c.tokens @> array[$common] and b ~* '\\mtimeout\\M' group by 1")"
echo "zstd -1 over 1,000 lines of a stream (ratio, compression, decompression):" \
  "$(zstd -b1 -i2 "$sample" 2>&1 | tr '\r' '\n' | grep 'MB/s.*MB/s' | tail -1 | sed 's/.*://')"
