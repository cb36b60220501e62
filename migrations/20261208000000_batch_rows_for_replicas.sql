-- Replicas keep their in-memory head in step by reading the batch rows other replicas commit.
-- Each row gets an id and the id of the transaction that wrote it (pg_current_xact_id(), as a
-- bigint): a replica reads the rows of transactions that had not finished at its previous look,
-- which it finds by transaction id through the index (see server/src/tsdb/mod.rs, `sync`).
alter table metric_batch add column id bigserial not null;
alter table metric_batch add column xact bigint not null default (pg_current_xact_id()::text::bigint);
create index metric_batch_xact on metric_batch (xact);
