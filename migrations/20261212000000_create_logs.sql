-- The logs wing. A stream is a set of labels (the service and a few resource attributes, or
-- a Loki push's labels); lines are stored one row each, partitioned by day (made by the first
-- write that needs one) so that retention drops whole partitions.

create table log_stream (
    id bigint generated always as identity primary key,
    -- The labels, as a JSON object of strings.
    labels jsonb not null,
    -- SHA-256 of the labels in name order: the stream's identity.
    labels_hash bytea not null unique,
    -- The service the stream's lines come from (service_name, service, job or app label).
    service text not null,
    created_at timestamptz not null default now()
);
create index log_stream_labels on log_stream using gin (labels jsonb_path_ops);

-- Line ids order lines that share a timestamp; a cache keeps COPY from taking a lock per row.
create sequence log_line_id_seq cache 1000;

create table log_line (
    time timestamptz not null,
    id bigint not null default nextval('log_line_id_seq'),
    stream_id bigint not null,
    service text not null,
    -- OTLP severity numbers: 0 unknown, 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn,
    -- 17-20 error, 21-24 fatal.
    severity smallint not null,
    body text not null,
    -- Structured fields: the record's attributes, what was parsed out of the line, the
    -- resource's other attributes.
    fields jsonb not null default '{}',
    trace_id text,
    span_id text
) partition by range (time);

-- Newest first over everything (the default search and its cursor).
create index log_line_time on log_line (time desc, id desc);
-- A stream's lines in order: the lines around a hit, Loki's selectors, live tail.
create index log_line_stream on log_line (stream_id, time, id);
-- Words anywhere in the store, without picking a stream first.
create index log_line_words on log_line using gin (to_tsvector('simple', body));
-- field:value filters.
create index log_line_fields on log_line using gin (fields jsonb_path_ops);
-- From a trace to its lines.
create index log_line_trace on log_line (trace_id) where trace_id is not null;

-- Lines and bytes per minute, stream and level, kept with the lines they count (in the same
-- transaction): the volume histogram of a day, or of a month, reads these instead of every
-- line. `severity` is the level's lowest severity number (1, 5, 9, 13, 17, 21; 0 unknown).
create table log_count (
    minute timestamptz not null,
    stream_id bigint not null,
    severity smallint not null,
    service text not null,
    lines bigint not null,
    bytes bigint not null,
    primary key (minute, stream_id, severity)
);
