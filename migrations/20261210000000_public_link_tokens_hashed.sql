-- Public-link tokens are kept as SHA-256 hashes of their text, as API tokens are: a copy of this
-- table opens no dashboard. A link is named by its id (to revoke it) and the first characters of
-- its token (to tell links apart); the whole link is shown once, when it is made.
alter table public_link add column id bigint generated always as identity;
alter table public_link add column token_hash bytea;
alter table public_link add column hint text;
update public_link set token_hash = sha256(convert_to(token, 'UTF8')), hint = left(token, 4);
alter table public_link drop constraint public_link_pkey;
alter table public_link drop column token;
alter table public_link alter column token_hash set not null;
alter table public_link alter column hint set not null;
alter table public_link add primary key (token_hash);
alter table public_link add constraint public_link_id_key unique (id);
