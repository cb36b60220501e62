-- Rows larger than a page (a batch of many thousand samples) are compressed before they move to
-- the TOAST table: with lz4 where the server has it, several times cheaper than pglz, which was
-- a fifth of PostgreSQL's work under ingest. New partitions keep their parent's setting. A
-- server built without lz4 keeps pglz.
do $$
begin
  alter table metric_batch alter column data set compression lz4;
  alter table metric_chunk alter column data set compression lz4;
exception when feature_not_supported then
  null;
end $$;
