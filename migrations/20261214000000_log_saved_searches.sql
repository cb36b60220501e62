-- Log searches saved by name, shared by everyone who reads logs (as Kibana's saved searches).
create table log_saved_search (
    id bigserial primary key,
    name text not null unique,
    query text not null,
    created_by text not null,
    created_at timestamptz not null default now()
);
