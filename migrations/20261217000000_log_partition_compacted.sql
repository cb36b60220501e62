-- Day partitions of log_line whose token index was rebuilt once the day was over: an index
-- built at once is a fraction of the size of one grown line by line (random 32-bit keys split
-- its pages half full), and a closed day takes no more lines.
create table log_partition_compacted (
    partition text primary key,
    compacted_at timestamptz not null default now()
);
