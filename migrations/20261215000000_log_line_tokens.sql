-- Logs: one inverted index of hashed tokens instead of PostgreSQL's text search. The word
-- index parsed every line with to_tsvector at ingest (about 12 µs a line) and the fields had a
-- second GIN index; the portal now hashes a line's words, its fields' and labels' name=value
-- and its service to 32-bit tokens, stored with the line in one GIN-indexed int4[]. Searches
-- look tokens up and test the lines found exactly, with the portal's own idea of a word (the
-- one the live tail and the archives use).

drop index if exists log_line_words;
drop index if exists log_line_fields;

-- Null for lines stored before; searches test those one by one (found through the index
-- below), so nothing stored earlier goes missing.
alter table log_line add column tokens int4[];
create index log_line_tokens on log_line using gin (tokens);
create index log_line_untokened on log_line (time) where tokens is null;
