-- Raw samples as they arrive: one row per write request and two-hour block, the request's
-- samples of that block grouped by series (format: server/src/store/batch.rs). Queries never
-- search these rows: recent samples are served from the portal's memory, which is loaded from
-- here at start-up, and the compactor turns each complete block into metric_chunk rows and drops
-- its partition. metric_sample, the row-per-sample table of earlier versions, is only read by
-- the compactor now.
create table metric_batch (
    block_time timestamptz not null,
    received_at timestamptz not null default now(),
    data bytea not null
) partition by range (block_time);
