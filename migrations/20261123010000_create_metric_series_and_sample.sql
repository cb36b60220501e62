-- The series dictionary: one row per metric name and label set.
create table metric_series (
    series_id bigint generated always as identity primary key,
    metric_name text not null,
    -- Every label but __name__, as a JSON object.
    labels jsonb not null,
    -- XXH3-128 of the name and the sorted labels; the identity writers look series up by.
    labels_hash bytea not null,
    -- The first and last day (UTC) with samples, so series searches by time need no sample scan.
    first_day date not null default current_date,
    last_day date not null default current_date,
    created_at timestamptz not null default now(),
    constraint metric_series_labels_hash_key unique (labels_hash)
);
create index metric_series_metric_name_idx on metric_series (metric_name);
-- jsonb_ops (not jsonb_path_ops): label-value look-ups need the ? operator as well as @>.
create index metric_series_labels_idx on metric_series using gin (labels);

-- Raw samples as they arrive, partitioned by day (partitions are made by the writers).
create table metric_sample (
    series_id bigint not null,
    sample_time timestamptz not null,
    value double precision not null
) partition by range (sample_time);

-- What senders said about their metrics (remote-write metadata, OTLP descriptions).
create table metric_metadata (
    metric_name text primary key,
    metric_type text not null,
    help text not null default '',
    unit text not null default '',
    updated_at timestamptz not null default now()
);
