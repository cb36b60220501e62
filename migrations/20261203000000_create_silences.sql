-- Silences: label matchers and a window during which matching alerts are not notified.
create table silence (
    id text primary key,
    -- [{"name", "op", "value"}], as the API shapes them
    matchers jsonb not null,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    created_by text not null,
    comment text not null default '',
    updated_at timestamptz not null default now(),
    check (ends_at > starts_at)
);
create index silence_ends_at_idx on silence (ends_at);
