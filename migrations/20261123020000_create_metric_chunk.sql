-- Compressed samples (the Gorilla format of server/src/store/codec.rs). Raw samples arrive in
-- metric_sample partitions of two hours; once a block is complete the compactor moves it here
-- and drops its raw partition. resolution_ms 0 holds every sample, one row per series and
-- two-hour block; resolution_ms 300000 holds the five-minute downsampled stream (each bucket's
-- first, last, lowest and highest samples and those around counter resets), one row per series
-- and day, which long-range queries read instead. Partitioned by day so retention drops whole
-- partitions.
create table metric_chunk (
    series_id bigint not null,
    resolution_ms integer not null,
    start_time timestamptz not null,
    end_time timestamptz not null,
    sample_count integer not null,
    data bytea not null,
    primary key (series_id, resolution_ms, start_time)
) partition by range (start_time);
