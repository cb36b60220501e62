-- Alerting: rule groups and rules, the live alert instances (one per rule and series), every
-- state change, contact points, the routing tree, notification groups and the notification log.
create table alert_rule_group (
    id bigserial primary key,
    folder text not null,
    name text not null,
    interval_ms bigint not null check (interval_ms between 1000 and 86400000),
    -- api | provisioned | built_in
    source text not null default 'api',
    -- The provisioning file a group comes from.
    source_path text,
    -- The last evaluation slot (aligned to the interval) that was evaluated.
    last_slot_ms bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (folder, name)
);

create table alert_rule (
    uid text primary key,
    group_id bigint not null references alert_rule_group (id) on delete cascade,
    position integer not null,
    kind text not null,
    name text not null,
    -- The rest of the rule as the API shapes it (query, condition, durations, labels, …).
    spec jsonb not null,
    paused boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    last_eval_at timestamptz,
    last_eval_ms double precision,
    last_error text
);
create index alert_rule_group_idx on alert_rule (group_id, position);

-- An alert instance that is pending, firing, without data, or resolved and not yet notified.
create table alert_instance (
    rule_uid text not null references alert_rule (uid) on delete cascade,
    fingerprint bigint not null,
    labels jsonb not null,
    annotations jsonb not null default '{}',
    -- pending | firing | nodata | inactive (resolved, kept until its notification went out)
    state text not null,
    active_at timestamptz not null,
    fired_at timestamptz,
    -- When the condition last held, and since when a firing alert is kept firing without it.
    last_active_at timestamptz not null,
    keep_firing_since timestamptz,
    resolved_at timestamptz,
    value double precision not null,
    primary key (rule_uid, fingerprint)
);

create table alert_state_change (
    id bigserial primary key,
    rule_uid text not null,
    fingerprint bigint not null,
    labels jsonb not null,
    at timestamptz not null,
    from_state text not null,
    to_state text not null,
    value double precision not null
);
create index alert_state_change_rule_at_idx on alert_state_change (rule_uid, at desc);
create index alert_state_change_at_idx on alert_state_change (at desc);

-- How many alerts of each rule started firing, by the hour: the rule list's "fired in 7 days"
-- without counting a million changes.
create table alert_rule_fired (
    rule_uid text not null,
    hour timestamptz not null,
    fired integer not null,
    primary key (rule_uid, hour)
);

create table contact_point (
    name text primary key,
    spec jsonb not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- The routing tree, one row.
create table notification_policy (
    id boolean primary key default true check (id),
    spec jsonb not null,
    updated_at timestamptz not null default now()
);

-- An aggregation group: the alerts of one route with the same group_by values.
create table notification_group (
    group_key text primary key,
    receiver text not null,
    labels jsonb not null,
    first_seen_at timestamptz not null default now(),
    next_flush_at timestamptz not null,
    last_sent_at timestamptz,
    -- fingerprint -> state as last notified
    notified jsonb not null default '{}'
);

create table notification_log (
    id bigserial primary key,
    group_key text not null,
    receiver text not null,
    status text not null,
    alerts integer not null,
    payload jsonb not null,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    attempts integer not null default 0,
    -- sending | delivered | failed
    outcome text not null default 'sending',
    response text not null default ''
);
create index notification_log_created_idx on notification_log (created_at desc);

-- Secrets the portal signs links with (expiring alert-image links).
create table portal_secret (
    name text primary key,
    value bytea not null,
    created_at timestamptz not null default now()
);
