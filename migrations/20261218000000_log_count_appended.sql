-- Writers append their lines' counts instead of adding them to one row per minute, stream and
-- level. Concurrent writes of the same streams (every shipper's batch spans them) waited on
-- each other's row locks there until each commit: sampled under 8 writers of 500 lines, most
-- active sessions were waiting on `insert into log_count ... on conflict do update`. Readers
-- sum the rows of a key whatever their number; the `logs-counts` job folds a key's appended
-- rows into one.
alter table log_count drop constraint log_count_pkey;
-- Rows there before are one a key already.
alter table log_count add column folded boolean not null default true;
alter table log_count alter column folded set default false;
create index log_count_minute on log_count (minute, stream_id, severity);
create index log_count_unfolded on log_count (minute, stream_id, severity) where not folded;
