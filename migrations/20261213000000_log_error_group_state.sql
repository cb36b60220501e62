-- What people decided about an error group (a fingerprint of exception type, normalised
-- message and top frame): resolved, or ignored. A group without a row is open; a resolved
-- group with lines after `changed_at` has regressed.
create table log_error_group_state (
    fingerprint text primary key,
    status text not null check (status in ('open', 'resolved', 'ignored')),
    changed_at timestamptz not null default now(),
    changed_by text not null
);
