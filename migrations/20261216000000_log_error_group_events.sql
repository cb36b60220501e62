-- Error groups as the store has seen them, so that the first line of a new group, and the first
-- line of a resolved group after it was resolved, can each be announced once (as a line of the
-- portal's own stream, which log alert rules count like any other).
create table log_error_group_seen (
    fingerprint text primary key,
    first_seen timestamptz not null,
    last_seen timestamptz not null,
    lines bigint not null
);

-- When a resolved group's regression was announced (again after each new resolve).
alter table log_error_group_state add column regressed_at timestamptz;
