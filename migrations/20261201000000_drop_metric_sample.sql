-- The row-per-sample table was replaced by metric_batch before any release wrote to it.
drop table if exists metric_sample cascade;
