-- Accounts, their sessions and API tokens. Passwords are argon2id PHC strings; session and
-- token secrets are kept only as SHA-256 hashes.
create table account (
    id bigserial primary key,
    login text not null unique,
    name text not null default '',
    role text not null check (role in ('viewer', 'editor', 'admin')),
    password_hash text not null,
    created_at timestamptz not null default now(),
    password_changed_at timestamptz not null default now()
);

create table account_session (
    token_hash bytea primary key,
    account_id bigint not null references account (id) on delete cascade,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null,
    address text not null default '',
    user_agent text not null default ''
);
create index account_session_account_idx on account_session (account_id);

create table api_token (
    id bigserial primary key,
    name text not null,
    token_hash bytea not null unique,
    scopes text[] not null,
    created_by text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
