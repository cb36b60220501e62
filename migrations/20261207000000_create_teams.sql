-- Teams of accounts, and per-folder permissions for dashboards and alert rules given to a team
-- or an account. A folder without any permission row is open to every role as the role says;
-- a folder with rows can be seen and changed only as they say (admins always can).
create table team (
    id bigserial primary key,
    name text not null unique,
    created_at timestamptz not null default now()
);

create table team_member (
    team_id bigint not null references team (id) on delete cascade,
    account_id bigint not null references account (id) on delete cascade,
    primary key (team_id, account_id)
);
create index team_member_account_idx on team_member (account_id);

create table folder_permission (
    id bigserial primary key,
    kind text not null check (kind in ('dashboards', 'rules')),
    folder text not null,
    team_id bigint references team (id) on delete cascade,
    account_id bigint references account (id) on delete cascade,
    permission text not null check (permission in ('view', 'edit')),
    check ((team_id is null) <> (account_id is null))
);
create unique index folder_permission_grantee_idx
    on folder_permission (kind, folder, coalesce(team_id, 0), coalesce(account_id, 0));
