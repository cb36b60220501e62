-- Recurring maintenance windows are silences with a schedule; a silence may tell a contact
-- point when it starts and shortly before it ends.
alter table silence add column schedule jsonb;
alter table silence add column notify text not null default '';

-- What was told of each window of a silence, so a restart or another replica does not tell
-- it twice: kind is 'started' or 'ending'.
create table silence_notice (
    silence_id text not null references silence (id) on delete cascade,
    window_start timestamptz not null,
    kind text not null,
    at timestamptz not null default now(),
    primary key (silence_id, window_start, kind)
);

-- Inhibition rules: while an alert matching the source matchers fires, alerts matching the
-- target matchers with equal values of the `equal` labels are muted.
create table inhibit_rule (
    id bigserial primary key,
    source_matchers jsonb not null,
    target_matchers jsonb not null,
    equal jsonb not null default '[]',
    comment text not null default '',
    created_at timestamptz not null default now()
);

-- Alerts sent by other alerting tools (a Prometheus pointed at the portal as its
-- Alertmanager), kept until they resolve and their resolution has been notified.
create table received_alert (
    fingerprint bigint primary key,
    labels jsonb not null,
    annotations jsonb not null default '{}',
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    generator_url text not null default '',
    updated_at timestamptz not null default now()
);
create index received_alert_ends_at_idx on received_alert (ends_at);
