-- Dashboards as data: the current model of each dashboard, every saved version, short links,
-- public (token) links and portal-wide preferences such as the home dashboard.
create table dashboard (
    uid text primary key,
    title text not null,
    folder text not null default '',
    tags text[] not null default '{}',
    version integer not null,
    model jsonb not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    updated_by text not null default '',
    starred boolean not null default false,
    -- The provisioning file this dashboard comes from; null for dashboards made in the portal.
    provisioned_from text
);
create index dashboard_tags_idx on dashboard using gin (tags);
create index dashboard_folder_title_idx on dashboard (folder, lower(title));

create table dashboard_version (
    uid text not null references dashboard (uid) on delete cascade,
    version integer not null,
    model jsonb not null,
    created_at timestamptz not null default now(),
    created_by text not null default '',
    message text not null default '',
    primary key (uid, version)
);

create table short_link (
    code text primary key,
    path text not null unique,
    created_at timestamptz not null default now(),
    last_used_at timestamptz
);

create table public_link (
    token text primary key,
    dashboard_uid text not null references dashboard (uid) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz,
    revoked_at timestamptz
);
create index public_link_dashboard_idx on public_link (dashboard_uid);

create table portal_preference (
    key text primary key,
    value jsonb not null
);
