-- The audit log: every change and every sign-in, with who made it, from where, and the state
-- of what it changed before and after.
create table audit_event (
    id bigserial primary key,
    at timestamptz not null default now(),
    actor text not null,
    address text not null default '',
    action text not null,
    target text not null default '',
    outcome smallint not null,
    before jsonb,
    after jsonb
);
create index audit_event_at_idx on audit_event (at desc, id desc);
create index audit_event_actor_idx on audit_event (actor, at desc);
