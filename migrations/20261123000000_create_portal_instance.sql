-- The installation's identity: exactly one row, made on first start.
create table portal_instance (
    portal_instance_id uuid primary key,
    created_at timestamptz not null default now(),
    singleton boolean not null default true unique check (singleton)
);
