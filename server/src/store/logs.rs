//! The logs tables: `log_stream` (a row per label set) and `log_line` (a row per line, in day
//! partitions). Searches are built from a [`Condition`] with every value bound as a parameter;
//! the time range always bounds them, so PostgreSQL reads only the partitions it covers.

use super::{chunks, copy::BinaryRows};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

pub const PARENT: &str = "log_line";
const DAY_US: i64 = 86_400_000_000;

/// The partition holding the day that starts at `day_us` (µs since the epoch).
pub fn partition_name(day_us: i64) -> String {
    format!("log_line_p{}", super::utc(day_us / 1000).format("%Y%m%d"))
}

/// The start (µs) of the day of a partition named by [`partition_name`].
pub fn partition_day(name: &str) -> Option<i64> {
    let date = name.strip_prefix("log_line_p")?;
    Some(
        chrono::NaiveDate::parse_from_str(date, "%Y%m%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp_micros(),
    )
}

/// The start (µs) of the day `us` falls in.
pub fn day_of(us: i64) -> i64 {
    us.div_euclid(DAY_US) * DAY_US
}

pub async fn create_partition(db: impl PgExecutor<'_>, day_us: i64) -> sqlx::Result<()> {
    chunks::create_partition(
        db,
        PARENT,
        &partition_name(day_us),
        (day_us / 1000, (day_us + DAY_US) / 1000),
        chunks::RowStorage::Packed,
    )
    .await
}

pub async fn select_partitions(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    chunks::select_partitions(db, PARENT).await
}

/// Forgets that a dropped partition was compacted.
pub async fn forget_compacted(db: impl PgExecutor<'_>, partition: &str) -> sqlx::Result<()> {
    sqlx::query("delete from log_partition_compacted where partition = $1")
        .bind(partition)
        .execute(db)
        .await
        .map(|_| ())
}

/// The partitions whose token index was rebuilt since their day ended.
pub async fn compacted_partitions(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select partition from log_partition_compacted")
        .fetch_all(db)
        .await
}

/// The pending-list size (kB) past which a writer merges the token index's pending entries
/// itself, instead of leaving them to [`clean_pending_tokens`].
const WRITER_PENDING_LIMIT_KB: i64 = 64 * 1024;

/// Merges the pending token entries of the partitions of the days starting at `days_us` (µs)
/// into their token indexes, as far as each list reached when its merge began; a missing
/// partition is skipped. `gin_clean_pending_list` would merge until the list is empty, which
/// under steady writes is never (measured: one call ran for minutes); the merge a write
/// starts stops where the list ended when it began. So this writes a line that asks for that
/// merge (the session's limit at its 64 kB floor) and takes it back: the merge stays, the line
/// does not.
pub async fn clean_pending_tokens(db: &sqlx::PgPool, days_us: &[i64]) -> sqlx::Result<()> {
    let names: Vec<String> = days_us.iter().map(|&day| partition_name(day)).collect();
    let present: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'log_line'::regclass and c.relname = any($1)",
    )
    .bind(&names)
    .fetch_all(db)
    .await?;
    for (name, &day) in names.iter().zip(days_us) {
        if !present.contains(name) {
            continue;
        }
        let mut tx = db.begin().await?;
        sqlx::query("set local gin_pending_list_limit = 64")
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "insert into {name} (time, id, stream_id, service, severity, body, tokens)
             values ($1, 0, 0, '', 0, '', '{{0}}')"
        ))
        .bind(super::utc(0) + chrono::Duration::microseconds(day))
        .execute(&mut *tx)
        .await?;
        tx.rollback().await?;
    }
    Ok(())
}

/// Rebuilds a closed day's token index at once (without blocking its readers) and records it.
/// `partition` must be a name [`partition_day`] reads.
pub async fn compact_partition(db: &sqlx::PgPool, partition: &str) -> sqlx::Result<()> {
    if partition_day(partition).is_none() {
        return Err(sqlx::Error::Protocol(format!(
            "{partition:?} is not a log partition"
        )));
    }
    let index: Option<String> = sqlx::query_scalar(
        "select i.relname::text from pg_index x join pg_class i on i.oid = x.indexrelid
         join pg_class t on t.oid = x.indrelid join pg_am a on a.oid = i.relam
         where t.relname = $1 and a.amname = 'gin'",
    )
    .bind(partition)
    .fetch_optional(db)
    .await?;
    if let Some(index) = index {
        sqlx::query(&format!("reindex index concurrently {index}"))
            .execute(db)
            .await?;
    }
    sqlx::query(
        "insert into log_partition_compacted (partition) values ($1) on conflict do nothing",
    )
    .bind(partition)
    .execute(db)
    .await
    .map(|_| ())
}

/// A stream not stored yet: its hash, labels (a JSON object) and service.
pub struct NewStream<'a> {
    pub hash: &'a [u8],
    pub labels: Value,
    pub service: &'a str,
}

/// Stores the streams not stored yet and answers the id of each (by hash).
pub async fn upsert_streams(
    db: &mut PgConnection,
    streams: &[NewStream<'_>],
) -> sqlx::Result<Vec<(Vec<u8>, i64)>> {
    let mut insert =
        QueryBuilder::<Postgres>::new("insert into log_stream (labels_hash, labels, service) ");
    insert.push_values(streams, |mut row, s| {
        row.push_bind(s.hash)
            .push_bind(&s.labels)
            .push_bind(s.service);
    });
    insert.push(" on conflict (labels_hash) do nothing");
    insert.build().execute(&mut *db).await?;
    let hashes: Vec<&[u8]> = streams.iter().map(|s| s.hash).collect();
    sqlx::query_as("select labels_hash, id from log_stream where labels_hash = any($1)")
        .bind(hashes)
        .fetch_all(db)
        .await
}

pub async fn count_streams(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from log_stream")
        .fetch_one(db)
        .await
}

/// How many of the streams with these hashes are stored.
pub async fn count_known_streams(db: impl PgExecutor<'_>, hashes: &[&[u8]]) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from log_stream where labels_hash = any($1)")
        .bind(hashes)
        .fetch_one(db)
        .await
}

/// Whether a condition narrows the lines through an inverted index (words, phrases, a field's
/// or a label's value, a trace id) wherever it holds.
pub fn uses_an_inverted_index(condition: &Condition) -> bool {
    if token_need(condition).is_some() {
        return true;
    }
    match condition {
        Condition::Equals { field, .. } => matches!(field, Field::TraceId),
        Condition::And(parts) => parts.iter().any(uses_an_inverted_index),
        Condition::Or(parts) => !parts.is_empty() && parts.iter().all(uses_an_inverted_index),
        _ => false,
    }
}

/// Steers the transaction's searches to the inverted indexes (bitmap scans) rather than to
/// walking the time index newest first and testing each line: PostgreSQL cannot tell how rare
/// a word is, and the walk through a day's lines for one that is rare takes seconds where its
/// index answers in milliseconds.
pub async fn prefer_inverted_indexes(tx: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("select set_config('enable_indexscan', 'off', true)")
        .execute(tx)
        .await
        .map(|_| ())
}

/// Makes the transaction read-only, its statements stopped by PostgreSQL after `timeout`.
pub async fn limit_transaction(
    tx: &mut PgConnection,
    timeout: std::time::Duration,
) -> sqlx::Result<()> {
    sqlx::query(
        "select set_config('statement_timeout', $1, true), set_config('transaction_read_only', 'on', true)",
    )
    .bind(timeout.as_millis().max(1).to_string())
    .execute(tx)
    .await
    .map(|_| ())
}

/// One line to store.
pub struct NewLine<'a> {
    pub time_us: i64,
    pub id: i64,
    pub stream_id: i64,
    pub service: &'a str,
    pub severity: i16,
    pub body: &'a str,
    /// The fields as JSON object text.
    pub fields: &'a [u8],
    pub trace_id: Option<&'a str>,
    pub span_id: Option<&'a str>,
    /// The line's tokens, sorted and distinct.
    pub tokens: &'a [i32],
}

/// Lines and bytes of one minute, stream and level class, to add to `log_count`.
pub struct NewCount<'a> {
    pub minute_us: i64,
    pub stream_id: i64,
    pub class: i16,
    pub service: &'a str,
    pub lines: i64,
    pub bytes: i64,
}

/// Appends counts to `log_count` (in the transaction that writes their lines): new rows, never
/// an update of a row another writer may hold, so concurrent writes do not wait on each other.
pub async fn add_counts(conn: &mut PgConnection, counts: &[NewCount<'_>]) -> sqlx::Result<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let mut q = QueryBuilder::<Postgres>::new(
        "insert into log_count (minute, stream_id, severity, service, lines, bytes) ",
    );
    q.push_values(counts, |mut row, c| {
        row.push_bind(super::utc(0) + chrono::Duration::microseconds(c.minute_us))
            .push_bind(c.stream_id)
            .push_bind(c.class)
            .push_bind(c.service)
            .push_bind(c.lines)
            .push_bind(c.bytes);
    });
    q.build().execute(conn).await.map(|_| ())
}

/// Folds the rows appended for up to `keys` minutes, streams and levels into one row each; the
/// keys folded. Rows a writer commits meanwhile stay for the next fold (the delete does not see
/// them), and two folds at once each fold what the other left.
pub async fn fold_counts(db: impl PgExecutor<'_>, keys: i64) -> sqlx::Result<u64> {
    sqlx::query(
        "with keys as (
             select distinct minute, stream_id, severity from log_count where not folded limit $1
         ), gone as (
             delete from log_count l using keys k
             where l.minute = k.minute and l.stream_id = k.stream_id and l.severity = k.severity
             returning l.*
         )
         insert into log_count (minute, stream_id, severity, service, lines, bytes, folded)
         select minute, stream_id, severity, min(service), sum(lines), sum(bytes), true
         from gone group by minute, stream_id, severity",
    )
    .bind(keys)
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}

/// Forgets the counts of minutes before `cut_us`.
pub async fn delete_counts_before(db: impl PgExecutor<'_>, cut_us: i64) -> sqlx::Result<u64> {
    sqlx::query("delete from log_count where minute < $1")
        .bind(super::utc(0) + chrono::Duration::microseconds(cut_us))
        .execute(db)
        .await
        .map(|r| r.rows_affected())
}

/// Whether `log_count` can answer for a condition: it looks only at the stream (labels,
/// service) and the level, which the counts keep.
pub fn counted_by_minute(condition: &Condition) -> bool {
    match condition {
        Condition::All => true,
        Condition::Compare {
            field: Field::Severity,
            ..
        } => true,
        Condition::Equals { field, .. }
        | Condition::Regex { field, .. }
        | Condition::Prefix { field, .. }
        | Condition::Exists(field) => matches!(field, Field::Label(_) | Field::Service),
        Condition::Not(inner) => counted_by_minute(inner),
        Condition::And(parts) | Condition::Or(parts) => parts.iter().all(counted_by_minute),
        _ => false,
    }
}

/// Like [`histogram`], from `log_count`, for whole minutes (`from_us` and `to_us` on minutes)
/// and a condition [`counted_by_minute`] accepts; `step_us` a whole number of minutes.
pub async fn histogram_by_minute(
    db: impl PgExecutor<'_>,
    condition: &Condition,
    (from_us, to_us): (i64, i64),
    step_us: i64,
) -> sqlx::Result<Vec<(i64, i16, i64)>> {
    let mut q = QueryBuilder::new(format!(
        "select ((extract(epoch from l.minute) * 1000000)::int8 / {step_us}) * {step_us} as bucket, l.severity, sum(l.lines)::int8
         from log_count l join log_stream s on s.id = l.stream_id where l.minute >= "
    ));
    q.push_bind(super::utc(0) + chrono::Duration::microseconds(from_us))
        .push(" and l.minute < ")
        .push_bind(super::utc(0) + chrono::Duration::microseconds(to_us))
        .push(" and ");
    push_condition(&mut q, condition);
    q.push(" group by 1, 2 order by 1, 2");
    q.build_query_as().fetch_all(db).await
}

/// `n` new line ids, from the lines' sequence.
pub async fn next_line_ids(conn: &mut PgConnection, n: usize) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("select nextval('log_line_id_seq') from generate_series(1, $1)")
        .bind(n as i64)
        .fetch_all(conn)
        .await
}

/// Writes lines in one COPY on `conn` (a transaction the caller commits).
pub async fn copy_lines(conn: &mut PgConnection, lines: &[NewLine<'_>]) -> sqlx::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    // New tokens wait in the index's pending list, which `clean_pending_tokens` merges into
    // the index from one session. A writer that found the list past PostgreSQL's 4 MB limit
    // would merge it itself, and, with other writers appending meanwhile, go on merging for
    // as long as they write: one request held a minute while the others went through. Writers
    // merge only past this much (a cleaner that cannot keep up).
    sqlx::query(&format!(
        "set local gin_pending_list_limit = {WRITER_PENDING_LIMIT_KB}"
    ))
    .execute(&mut *conn)
    .await?;
    let mut rows = BinaryRows::with_capacity(
        lines
            .iter()
            .map(|l| 100 + l.body.len() + l.fields.len() + l.service.len() + 8 * l.tokens.len())
            .sum(),
    );
    for l in lines {
        rows.row(10)
            .timestamp_us(l.time_us)
            .i64(l.id)
            .i64(l.stream_id)
            .text(l.service)
            .i16(l.severity)
            .text(l.body)
            .jsonb(l.fields)
            .opt_text(l.trace_id)
            .opt_text(l.span_id)
            .i32_array(l.tokens);
    }
    super::copy_binary(
        conn,
        "copy log_line (time, id, stream_id, service, severity, body, fields, trace_id, span_id, tokens) from stdin with (format binary)",
        rows.finish(),
    )
    .await
}

/// What a search looks for; built by the logs query language.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// Every line.
    All,
    /// Lines with all these words (tokens, case-insensitive); a word ending in `*` is a prefix.
    Words(Vec<String>),
    /// Lines containing this text (case-insensitive), found through its words first.
    Phrase(String),
    /// Lines containing this text exactly (LogQL's `|=`).
    Contains(String),
    /// A field whose text matches a regular expression (the body when `field` is `Body`).
    Regex {
        field: Field,
        pattern: String,
        case_insensitive: bool,
    },
    /// A field equal to a value (text, or the number or boolean it spells).
    Equals {
        field: Field,
        value: String,
    },
    /// A field starting with a text.
    Prefix {
        field: Field,
        prefix: String,
    },
    /// A numeric field compared with a number (lines where it is not a number never match).
    Compare {
        field: Field,
        op: Op,
        value: f64,
    },
    /// A field present.
    Exists(Field),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

/// What a condition looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Body,
    Service,
    /// The severity number.
    Severity,
    TraceId,
    SpanId,
    /// A stream label or a structured field of this name.
    Named(String),
    /// A stream label only (LogQL's stream selectors).
    Label(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// `%` and `_` taken literally in a LIKE pattern.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn push_condition(q: &mut QueryBuilder<'_, Postgres>, condition: &Condition) {
    match condition {
        Condition::All => {
            q.push("true");
        }
        Condition::Words(words) => {
            push_joined(q, words, " and ", |q, w| match w.strip_suffix('*') {
                Some(stem) => push_whole_word(q, stem, true),
                None => push_whole_word(q, w, false),
            })
        }
        Condition::Phrase(text) => push_whole_word(q, text, false),
        Condition::Contains(text) => {
            q.push("strpos(l.body, ")
                .push_bind(text.clone())
                .push(") > 0");
        }
        Condition::Regex {
            field,
            pattern,
            case_insensitive,
        } => {
            let op = if *case_insensitive { " ~* " } else { " ~ " };
            push_text_of(q, field, |q| {
                q.push(op).push_bind(pattern.clone());
            });
        }
        Condition::Equals { field, value } => push_equals(q, field, value),
        Condition::Prefix { field, prefix } => {
            push_text_of(q, field, |q| {
                q.push(" like ")
                    .push_bind(format!("{}%", like_escaped(prefix)));
            });
        }
        Condition::Compare { field, op, value } => match field {
            Field::Severity => {
                q.push("l.severity ")
                    .push(op.sql())
                    .push(" ")
                    .push_bind(*value as i16);
            }
            Field::Named(name) => {
                // Numbers compare, and text that spells one (Loki's structured metadata is
                // text): a CASE keeps the cast from seeing any other value.
                q.push("(case when jsonb_typeof(l.fields -> ")
                    .push_bind(name.clone())
                    .push(") = 'number' or (l.fields ->> ")
                    .push_bind(name.clone())
                    .push(") ~ '^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$' then (l.fields ->> ")
                    .push_bind(name.clone())
                    .push(")::float8 ")
                    .push(op.sql())
                    .push(" ")
                    .push_bind(*value)
                    .push(" else false end)");
            }
            _ => {
                q.push("false");
            }
        },
        Condition::Exists(field) => match field {
            Field::Named(name) => {
                q.push("(l.fields ? ")
                    .push_bind(name.clone())
                    .push(" or s.labels ? ")
                    .push_bind(name.clone())
                    .push(")");
            }
            Field::Label(name) => {
                q.push("s.labels ? ").push_bind(name.clone());
            }
            Field::TraceId => {
                q.push("l.trace_id is not null");
            }
            Field::SpanId => {
                q.push("l.span_id is not null");
            }
            _ => {
                q.push("true");
            }
        },
        Condition::Not(inner) => {
            q.push("not coalesce((");
            push_condition(q, inner);
            q.push("), false)");
        }
        Condition::And(parts) => push_joined(q, parts, " and ", push_condition),
        Condition::Or(parts) => push_joined(q, parts, " or ", push_condition),
    }
}

/// The body holds `text` (any case) with no word character just before it when it starts with
/// one, nor just after it when it ends with one (unless `prefix`): what the word tokens find,
/// tested on the line. A substring test first keeps the regular expression to the few lines
/// that hold the text at all.
fn push_whole_word(q: &mut QueryBuilder<'_, Postgres>, text: &str, prefix: bool) {
    let lower = text.to_lowercase();
    let mut pattern = String::new();
    if lower.chars().next().is_some_and(is_word_char) {
        pattern.push_str("(?<![[:alnum:]_])");
    }
    for c in lower.chars() {
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    if !prefix && lower.chars().next_back().is_some_and(is_word_char) {
        pattern.push_str("(?![[:alnum:]_])");
    }
    q.push("(strpos(lower(l.body), ")
        .push_bind(lower)
        .push(") > 0 and l.body ~* ")
        .push_bind(pattern)
        .push(")");
}

/// `(a and b …)` or `(a or b …)` (`joiner`) of `items` pushed by `push`; with none, what the
/// empty conjunction or disjunction is (`true`, `false`).
fn push_joined<T>(
    q: &mut QueryBuilder<'_, Postgres>,
    items: &[T],
    joiner: &str,
    push: fn(&mut QueryBuilder<'_, Postgres>, &T),
) {
    q.push("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            q.push(joiner);
        }
        push(q, item);
    }
    if items.is_empty() {
        q.push(if joiner == " and " { "true" } else { "false" });
    }
    q.push(")");
}

/// `field = value`: a label or field equal to the text, or to the number or boolean it spells
/// (so `status:500` finds `{"status": 500}`), through the GIN indexes' containment.
fn push_equals(q: &mut QueryBuilder<'_, Postgres>, field: &Field, value: &str) {
    match field {
        Field::Named(name) => {
            let mut candidates = vec![Value::String(value.to_string())];
            if let Ok(n) = value.parse::<i64>() {
                candidates.push(Value::from(n));
            } else if let Some(n) = value
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                candidates.push(Value::Number(n));
            }
            if let Ok(b) = value.parse::<bool>() {
                candidates.push(Value::Bool(b));
            }
            q.push("(");
            for (i, candidate) in candidates.into_iter().enumerate() {
                if i > 0 {
                    q.push(" or ");
                }
                let object = Value::Object([(name.clone(), candidate)].into_iter().collect());
                q.push("l.fields @> ").push_bind(object);
            }
            let object = Value::Object(
                [(name.clone(), Value::String(value.to_string()))]
                    .into_iter()
                    .collect(),
            );
            q.push(" or s.labels @> ").push_bind(object).push(")");
        }
        Field::Label(name) => {
            let object = Value::Object(
                [(name.clone(), Value::String(value.to_string()))]
                    .into_iter()
                    .collect(),
            );
            q.push("s.labels @> ").push_bind(object);
        }
        Field::Severity => {
            q.push("false");
        }
        other => push_text_of(q, other, |q| {
            q.push(" = ").push_bind(value.to_string());
        }),
    }
}

/// `<text of field> <rest>`: for a named field, its label or field value as text.
fn push_text_of(
    q: &mut QueryBuilder<'_, Postgres>,
    field: &Field,
    rest: impl Fn(&mut QueryBuilder<'_, Postgres>),
) {
    match field {
        Field::Body => {
            q.push("l.body");
            rest(q);
        }
        Field::Service => {
            q.push("l.service");
            rest(q);
        }
        Field::TraceId => {
            q.push("l.trace_id");
            rest(q);
        }
        Field::SpanId => {
            q.push("l.span_id");
            rest(q);
        }
        Field::Severity => {
            q.push("false");
        }
        Field::Label(name) => {
            q.push("(s.labels ->> ").push_bind(name.clone()).push(")");
            rest(q);
        }
        Field::Named(name) => {
            q.push("(coalesce(l.fields ->> ")
                .push_bind(name.clone())
                .push(", s.labels ->> ")
                .push_bind(name.clone())
                .push(")");
            rest(q);
            q.push(")");
        }
    }
}

/// A stored line with its stream's labels.
#[derive(Debug, sqlx::FromRow)]
pub struct LineRow {
    pub time_us: i64,
    pub id: i64,
    pub stream_id: i64,
    pub service: String,
    pub severity: i16,
    pub body: String,
    pub fields: Value,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub labels: Value,
}

const LINE_COLUMNS: &str = "(extract(epoch from l.time) * 1000000)::int8 as time_us, l.id, l.stream_id, l.service, l.severity, l.body, l.fields, l.trace_id, l.span_id, s.labels";

/// The search's `from` clause and its conditions, up to `where … ` (without ordering): the
/// lines of `from_us..to_us` matching `condition`, narrowed to those holding what `need` names
/// (see [`stored_need`]; `None` tests every line of the range).
fn matching<'a>(
    select: &str,
    condition: &Condition,
    (from_us, to_us): (i64, i64),
    need: Option<&Need>,
) -> QueryBuilder<'a, Postgres> {
    let mut q = QueryBuilder::new(select);
    q.push(" from log_line l join log_stream s on s.id = l.stream_id where l.time >= ")
        .push_bind(super::utc(0) + chrono::Duration::microseconds(from_us))
        .push(" and l.time < ")
        .push_bind(super::utc(0) + chrono::Duration::microseconds(to_us))
        .push(" and ");
    push_condition(&mut q, condition);
    if let Some(need) = need {
        push_tokens(&mut q, need);
    }
    q
}

/// What the lines matching `condition` hold ([`token_need`]), less the labels no stream has:
/// a field's value is then needed as a token alone, and the tokens of every part of the
/// condition are looked up together, so the index intersects them instead of handing over
/// every line that holds any one of them. One look-up in the streams' index a label.
pub async fn stored_need(
    db: &mut PgConnection,
    condition: &Condition,
) -> sqlx::Result<Option<Need>> {
    let Some(need) = token_need(condition) else {
        return Ok(None);
    };
    let mut labels = Vec::new();
    need.labels(&mut labels);
    let mut held = std::collections::HashSet::new();
    for (name, value) in labels {
        let object = Value::Object(
            [(name.clone(), Value::String(value.clone()))]
                .into_iter()
                .collect(),
        );
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from log_stream where labels @> $1)")
                .bind(object)
                .fetch_one(&mut *db)
                .await?;
        if exists {
            held.insert((name.clone(), value.clone()));
        }
    }
    Ok(Some(need.narrowed(&|name, value| {
        held.contains(&(name.to_string(), value.to_string()))
    })))
}

/// [`matching`], narrowed by the condition's [`stored_need`] (resolved here).
async fn matching_stored<'a>(
    db: &mut PgConnection,
    select: &str,
    condition: &Condition,
    range: (i64, i64),
) -> sqlx::Result<QueryBuilder<'a, Postgres>> {
    let need = stored_need(db, condition).await?;
    Ok(matching(select, condition, range, need.as_ref()))
}

/// The newest `limit` matching lines in `from_us..to_us` older than `before` (time µs, id),
/// narrowed to those holding what `need` names ([`stored_need`]); with no need, found by
/// testing the lines in time order (for a range [`newest_edge`] bounded).
pub async fn search(
    db: &mut PgConnection,
    condition: &Condition,
    range: (i64, i64),
    before: Option<(i64, i64)>,
    limit: i64,
    need: Option<&Need>,
) -> sqlx::Result<Vec<LineRow>> {
    let mut q = matching(&format!("select {LINE_COLUMNS}"), condition, range, need);
    push_before(&mut q, before);
    q.push(" order by l.time desc, l.id desc limit ")
        .push_bind(limit);
    q.build_query_as().fetch_all(db).await
}

/// `and` the lines older than the line (time µs, id) `before` names, if any.
fn push_before(q: &mut QueryBuilder<'_, Postgres>, before: Option<(i64, i64)>) {
    if let Some((time_us, id)) = before {
        q.push(" and (l.time, l.id) < (")
            .push_bind(super::utc(0) + chrono::Duration::microseconds(time_us))
            .push(", ")
            .push_bind(id)
            .push(")");
    }
}

/// The time (µs) of the line `n` lines down from the newest in `from_us..to_us` older than
/// `before`, read down the time index; `None` when the range holds no more than `n` lines.
pub async fn newest_edge(
    db: impl PgExecutor<'_>,
    (from_us, to_us): (i64, i64),
    before: Option<(i64, i64)>,
    n: i64,
) -> sqlx::Result<Option<i64>> {
    let mut q = QueryBuilder::<Postgres>::new(
        "select (extract(epoch from l.time) * 1000000)::int8 from log_line l where l.time >= ",
    );
    q.push_bind(super::utc(0) + chrono::Duration::microseconds(from_us))
        .push(" and l.time < ")
        .push_bind(super::utc(0) + chrono::Duration::microseconds(to_us));
    push_before(&mut q, before);
    q.push(" order by l.time desc, l.id desc offset ")
        .push_bind(n)
        .push(" limit 1");
    q.build_query_scalar().fetch_optional(db).await
}

/// The severity class of a line (the lowest number of its level; 0 unknown), in SQL.
const CLASS: &str =
    "(case when l.severity between 1 and 24 then ((l.severity - 1) / 4) * 4 + 1 else 0 end)::int2";

/// Matching lines per `step_us` bucket (aligned to the epoch) and severity class, as (bucket
/// start µs, class, count); narrowed to the lines holding what `need` names ([`stored_need`]).
pub async fn histogram(
    db: &mut PgConnection,
    condition: &Condition,
    range: (i64, i64),
    step_us: i64,
    need: Option<&Need>,
) -> sqlx::Result<Vec<(i64, i16, i64)>> {
    let mut q = matching(
        &format!(
            "select ((extract(epoch from l.time) * 1000000)::int8 / {step_us}) * {step_us} as bucket, {CLASS} as class, count(*)"
        ),
        condition,
        range,
        need,
    );
    q.push(" group by 1, 2 order by 1, 2");
    q.build_query_as().fetch_all(db).await
}

/// The most common values of each field and label among the newest `sample` matching lines:
/// how many lines were sampled, and (field, value, count) with at most `per_field` values a
/// field. `level` values are severity classes.
pub async fn facets(
    db: &mut PgConnection,
    condition: &Condition,
    range: (i64, i64),
    sample: i64,
    per_field: i64,
) -> sqlx::Result<(i64, Vec<(String, String, i64)>)> {
    let mut q = matching_stored(
        &mut *db,
        &format!("with hits as (select l.service, {CLASS} as class, l.fields, s.labels"),
        condition,
        range,
    )
    .await?;
    q.push(" order by l.time desc, l.id desc limit ")
        .push_bind(sample)
        .push(
            "), pairs as (
                select 'service' as field, service as value from hits
                union all select 'level', class::text from hits
                union all select key, value from hits, jsonb_each_text(labels)
                    where key not in ('service', 'level')
                union all select key, left(value, 200) from hits, jsonb_each_text(fields)
                    where jsonb_typeof(fields -> key) in ('string', 'number', 'boolean')
                      and key not in ('service', 'level')
            ), counted as (
                select field, value, count(*) as n,
                       row_number() over (partition by field order by count(*) desc, value) as rank
                from pairs group by field, value
            )
            select field, value, n, (select count(*) from hits) from counted where rank <= ",
        )
        .push_bind(per_field)
        .push(" order by field, n desc, value");
    let rows: Vec<(String, String, i64, i64)> = q.build_query_as().fetch_all(db).await?;
    let sampled = rows.first().map_or(0, |r| r.3);
    Ok((
        sampled,
        rows.into_iter().map(|(f, v, n, _)| (f, v, n)).collect(),
    ))
}

/// One line by its time (µs) and id.
pub async fn line(db: impl PgExecutor<'_>, time_us: i64, id: i64) -> sqlx::Result<Option<LineRow>> {
    let at = super::utc(0) + chrono::Duration::microseconds(time_us);
    sqlx::query_as(&format!(
        "select {LINE_COLUMNS} from log_line l join log_stream s on s.id = l.stream_id
         where l.time = $1 and l.id = $2"
    ))
    .bind(at)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Up to `n` lines of `stream_id` just before (`older`) or after the line at (time µs, id),
/// nearest first.
pub async fn neighbours(
    db: impl PgExecutor<'_>,
    stream_id: i64,
    (time_us, id): (i64, i64),
    older: bool,
    n: i64,
) -> sqlx::Result<Vec<LineRow>> {
    let at = super::utc(0) + chrono::Duration::microseconds(time_us);
    let (cmp, order) = if older { ("<", "desc") } else { (">", "asc") };
    sqlx::query_as(&format!(
        "select {LINE_COLUMNS} from log_line l join log_stream s on s.id = l.stream_id
         where l.stream_id = $1 and (l.time, l.id) {cmp} ($2, $3)
         order by l.time {order}, l.id {order} limit $4"
    ))
    .bind(stream_id)
    .bind(at)
    .bind(id)
    .bind(n)
    .fetch_all(db)
    .await
}

/// Up to `limit` matching lines in `from_us..to_us`, the newest or the oldest first.
pub async fn lines_in_order(
    db: &mut PgConnection,
    condition: &Condition,
    range: (i64, i64),
    newest_first: bool,
    limit: i64,
) -> sqlx::Result<Vec<LineRow>> {
    let mut q = matching_stored(
        &mut *db,
        &format!("select {LINE_COLUMNS}"),
        condition,
        range,
    )
    .await?;
    let order = if newest_first { "desc" } else { "asc" };
    q.push(format!(" order by l.time {order}, l.id {order} limit "))
        .push_bind(limit);
    q.build_query_as().fetch_all(db).await
}

/// The newest slice of time a search looks at first.
const FIRST_SLICE_US: i64 = 5 * 60 * 1_000_000;

/// `from_us..to_us` cut into slices from its end, the first [`FIRST_SLICE_US`] wide and each
/// twice the last: a search reads the newest slices first, so a common term is answered from
/// the first slice and a rare one costs an index look-up a slice, instead of every candidate
/// line of the range being read to be sorted.
pub fn slices((from_us, mut end): (i64, i64)) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut width = FIRST_SLICE_US;
    while from_us < end {
        let cut = end.saturating_sub(width).max(from_us);
        out.push((cut, end));
        end = cut;
        width = width.saturating_mul(2);
    }
    out
}

/// The level name of a line's severity, in SQL.
const LEVEL_NAME: &str = "(case when l.severity between 1 and 4 then 'trace' when l.severity between 5 and 8 then 'debug' when l.severity between 9 and 12 then 'info' when l.severity between 13 and 16 then 'warn' when l.severity between 17 and 20 then 'error' when l.severity between 21 and 24 then 'fatal' else 'unknown' end)";

/// What matching lines are counted by.
pub enum CountKey<'a> {
    /// Each stream (its labels), and with `fields` each distinct set of fields too.
    Streams { fields: bool },
    /// These labels only: a stream label or field of the name (`a_b` also finds `a.b`);
    /// `level` falls back to the line's level, which `detected_level` always is.
    Labels(&'a [String]),
}

/// Lines and their bytes per bucket and key, for LogQL's range functions. Buckets are
/// `bucket_us` long and numbered from `origin_us`: bucket `k` holds the lines in
/// `(origin + (k-1)·bucket, origin + k·bucket]`, over `(origin_us, end_us]`. Rows are
/// `(k, key as a JSON object, lines, bytes)`; at most `max_rows` + 1 are read, so that a caller
/// can tell the limit was passed.
pub async fn counts(
    db: &mut PgConnection,
    condition: &Condition,
    (origin_us, end_us): (i64, i64),
    bucket_us: i64,
    key: &CountKey<'_>,
    max_rows: i64,
) -> sqlx::Result<Vec<(i64, Value, i64, i64)>> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "select (((extract(epoch from l.time) * 1000000)::int8 - {origin_us}) + {bucket_us} - 1) / {bucket_us} as k, "
    ));
    let group = match key {
        CountKey::Streams { fields: false } => {
            q.push("s.labels");
            "1, s.id"
        }
        CountKey::Streams { fields: true } => {
            q.push("s.labels || jsonb_build_object('__fields__', l.fields)");
            "1, s.id, l.fields"
        }
        CountKey::Labels(names) => {
            q.push("jsonb_build_object(");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push_bind(name.clone()).push("::text, ");
                if name == "detected_level" {
                    q.push(LEVEL_NAME);
                    continue;
                }
                q.push("coalesce(s.labels ->> ")
                    .push_bind(name.clone())
                    .push(", l.fields ->> ")
                    .push_bind(name.clone())
                    .push(", l.fields ->> ")
                    .push_bind(name.replace('_', "."))
                    .push(", ")
                    .push(if name == "level" { LEVEL_NAME } else { "null" })
                    .push(")");
            }
            q.push(")");
            "1, 2"
        }
    };
    q.push(" as key, count(*)::int8, sum(octet_length(l.body))::int8 from log_line l join log_stream s on s.id = l.stream_id where l.time > ")
        .push_bind(super::utc(0) + chrono::Duration::microseconds(origin_us))
        .push(" and l.time <= ")
        .push_bind(super::utc(0) + chrono::Duration::microseconds(end_us))
        .push(" and ");
    push_condition(&mut q, condition);
    if let Some(need) = stored_need(&mut *db, condition).await? {
        push_tokens(&mut q, &need);
    }
    q.push(format!(" group by {group} limit "))
        .push_bind(max_rows + 1);
    q.build_query_as().fetch_all(db).await
}

/// The labels of the streams matching `condition` (on stream labels only) that have lines in
/// `from_us..to_us`, `limit` streams at most.
pub async fn streams_with_lines(
    db: impl PgExecutor<'_>,
    condition: &Condition,
    (from_us, to_us): (i64, i64),
    limit: i64,
) -> sqlx::Result<Vec<Value>> {
    let mut q = QueryBuilder::<Postgres>::new("select s.labels from log_stream s where ");
    push_condition(&mut q, condition);
    q.push(" and exists (select 1 from log_line l where l.stream_id = s.id and l.time >= ")
        .push_bind(super::utc(0) + chrono::Duration::microseconds(from_us))
        .push(" and l.time < ")
        .push_bind(super::utc(0) + chrono::Duration::microseconds(to_us))
        .push(") order by s.id limit ")
        .push_bind(limit);
    let rows: Vec<(Value,)> = q.build_query_as().fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Streams, lines and bytes matching `condition` in `from_us..to_us` (Loki's index stats).
pub async fn stats(
    db: &mut PgConnection,
    condition: &Condition,
    range: (i64, i64),
) -> sqlx::Result<(i64, i64, i64)> {
    let mut q = matching_stored(
        &mut *db,
        "select count(distinct l.stream_id)::int8, count(*)::int8, coalesce(sum(octet_length(l.body)), 0)::int8",
        condition,
        range,
    )
    .await?;
    q.build_query_as().fetch_one(db).await
}

/// The channel committed lines are announced on, for other replicas' live tails.
pub const LINES_CHANNEL: &str = "portal_log_lines";

/// Announces lines on [`LINES_CHANNEL`], delivered when the transaction commits.
pub async fn announce_lines(conn: &mut PgConnection, payload: &str) -> sqlx::Result<()> {
    sqlx::query("select pg_notify($1, $2)")
        .bind(LINES_CHANNEL)
        .bind(payload)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The lines whose ids fall in these runs (inclusive), within `from_us..=to_us`.
pub async fn lines_by_ids(
    db: impl PgExecutor<'_>,
    runs: &[(i64, i64)],
    (from_us, to_us): (i64, i64),
) -> sqlx::Result<Vec<LineRow>> {
    let starts: Vec<i64> = runs.iter().map(|r| r.0).collect();
    let ends: Vec<i64> = runs.iter().map(|r| r.1).collect();
    sqlx::query_as(&format!(
        "select {LINE_COLUMNS} from log_line l join log_stream s on s.id = l.stream_id
         join unnest($1::int8[], $2::int8[]) as r(a, b) on l.id between r.a and r.b
         where l.time >= $3 and l.time <= $4
         order by l.id"
    ))
    .bind(starts)
    .bind(ends)
    .bind(super::utc(0) + chrono::Duration::microseconds(from_us))
    .bind(super::utc(0) + chrono::Duration::microseconds(to_us))
    .fetch_all(db)
    .await
}

/// What was decided about an error group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErrorGroupStateRow {
    pub fingerprint: String,
    pub status: String,
    pub changed_at: DateTime<Utc>,
    pub changed_by: String,
}

/// The decisions about the groups `fingerprints` (those without one are open).
pub async fn error_group_states(
    db: impl PgExecutor<'_>,
    fingerprints: &[String],
) -> sqlx::Result<Vec<ErrorGroupStateRow>> {
    sqlx::query_as(
        "select fingerprint, status, changed_at, changed_by from log_error_group_state where fingerprint = any($1)",
    )
    .bind(fingerprints)
    .fetch_all(db)
    .await
}

/// Records a decision about an error group; returns it.
pub async fn set_error_group_state(
    db: impl PgExecutor<'_>,
    fingerprint: &str,
    status: &str,
    by: &str,
) -> sqlx::Result<ErrorGroupStateRow> {
    sqlx::query_as(
        "insert into log_error_group_state (fingerprint, status, changed_at, changed_by) values ($1, $2, now(), $3)
         on conflict (fingerprint) do update set status = excluded.status, changed_at = excluded.changed_at, changed_by = excluded.changed_by
         returning fingerprint, status, changed_at, changed_by",
    )
    .bind(fingerprint)
    .bind(status)
    .bind(by)
    .fetch_one(db)
    .await
}

/// Error lines of one write, by group: the group's fingerprint, its first and last line's time
/// (µs) and how many lines.
pub struct SeenGroup<'a> {
    pub fingerprint: &'a str,
    pub first_us: i64,
    pub last_us: i64,
    pub lines: i64,
}

/// Records error groups as seen; answers those never seen before, and the resolved ones seen
/// again after they were resolved whose regression was not announced yet (marked announced).
/// Groups are taken in fingerprint order, so concurrent writers never deadlock.
pub async fn see_error_groups(
    conn: &mut PgConnection,
    groups: &[SeenGroup<'_>],
) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    let mut sorted: Vec<&SeenGroup> = groups.iter().collect();
    sorted.sort_by_key(|g| g.fingerprint);
    let at = |us: i64| super::utc(0) + chrono::Duration::microseconds(us);
    let fingerprints: Vec<&str> = sorted.iter().map(|g| g.fingerprint).collect();
    let firsts: Vec<DateTime<Utc>> = sorted.iter().map(|g| at(g.first_us)).collect();
    let lasts: Vec<DateTime<Utc>> = sorted.iter().map(|g| at(g.last_us)).collect();
    let lines: Vec<i64> = sorted.iter().map(|g| g.lines).collect();
    let seen: Vec<(String, bool)> = sqlx::query_as(
        "insert into log_error_group_seen (fingerprint, first_seen, last_seen, lines)
         select * from unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::int8[])
         on conflict (fingerprint) do update set
            first_seen = least(log_error_group_seen.first_seen, excluded.first_seen),
            last_seen = greatest(log_error_group_seen.last_seen, excluded.last_seen),
            lines = log_error_group_seen.lines + excluded.lines
         returning fingerprint, xmax = 0",
    )
    .bind(&fingerprints)
    .bind(&firsts)
    .bind(&lasts)
    .bind(&lines)
    .fetch_all(&mut *conn)
    .await?;
    let new = seen.into_iter().filter(|s| s.1).map(|s| s.0).collect();
    let regressed = sqlx::query_scalar(
        "update log_error_group_state s set regressed_at = now()
         from unnest($1::text[], $2::timestamptz[]) as seen(fingerprint, last_seen)
         where s.fingerprint = seen.fingerprint and s.status = 'resolved'
           and seen.last_seen > s.changed_at
           and (s.regressed_at is null or s.regressed_at < s.changed_at)
         returning s.fingerprint",
    )
    .bind(&fingerprints)
    .bind(&lasts)
    .fetch_all(&mut *conn)
    .await?;
    Ok((new, regressed))
}

/// Forgets the error groups not seen since `cut_us` (their lines are gone).
pub async fn forget_error_groups_before(db: impl PgExecutor<'_>, cut_us: i64) -> sqlx::Result<u64> {
    sqlx::query("delete from log_error_group_seen where last_seen < $1")
        .bind(super::utc(0) + chrono::Duration::microseconds(cut_us))
        .execute(db)
        .await
        .map(|r| r.rows_affected())
}

/// The lines of one day's partition in order, `limit` at a time after the line `after`
/// (time µs, id), for its archive. `partition` must be a name [`partition_day`] reads.
pub async fn partition_lines(
    db: impl PgExecutor<'_>,
    partition: &str,
    after: Option<(i64, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<LineRow>> {
    if partition_day(partition).is_none() {
        return Err(sqlx::Error::Protocol(format!(
            "{partition:?} is not a log partition"
        )));
    }
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "select {LINE_COLUMNS} from {partition} l join log_stream s on s.id = l.stream_id"
    ));
    if let Some((time_us, id)) = after {
        q.push(" where (l.time, l.id) > (")
            .push_bind(super::utc(0) + chrono::Duration::microseconds(time_us))
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" order by l.time, l.id limit ").push_bind(limit);
    q.build_query_as().fetch_all(db).await
}

/// A saved search.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedSearchRow {
    pub id: i64,
    pub name: String,
    pub query: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// Every saved search, by name.
pub async fn saved_searches(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<SavedSearchRow>> {
    sqlx::query_as(
        "select id, name, query, created_by, created_at from log_saved_search order by lower(name), id",
    )
    .fetch_all(db)
    .await
}

/// One saved search.
pub async fn saved_search(
    db: impl PgExecutor<'_>,
    id: i64,
) -> sqlx::Result<Option<SavedSearchRow>> {
    sqlx::query_as(
        "select id, name, query, created_by, created_at from log_saved_search where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Saves a search under `name`, replacing the search of that name; `None` when the store
/// already holds `max` searches and this is a new name.
pub async fn save_search(
    db: impl PgExecutor<'_>,
    name: &str,
    query: &str,
    by: &str,
    max: i64,
) -> sqlx::Result<Option<SavedSearchRow>> {
    sqlx::query_as(
        "insert into log_saved_search (name, query, created_by)
         select $1, $2, $3
         where exists (select 1 from log_saved_search where name = $1)
            or (select count(*) from log_saved_search) < $4
         on conflict (name) do update set query = excluded.query, created_by = excluded.created_by, created_at = now()
         returning id, name, query, created_by, created_at",
    )
    .bind(name)
    .bind(query)
    .bind(by)
    .bind(max)
    .fetch_optional(db)
    .await
}

/// Deletes a saved search; whether there was one.
pub async fn delete_saved_search(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("delete from log_saved_search where id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

// ---------------------------------------------------------------------------------------------
// Tokens: the inverted index of the lines.
//
// Each line carries the distinct tokens of its body's words, of its fields' and stream labels'
// `name=value`, and of its service, hashed by the portal to 32 bits, in one GIN-indexed
// `int4[]`. Searches look their tokens up in that index and test the lines found exactly (a
// hash shared by two tokens only costs a test), so the portal's tokenizer, not PostgreSQL's
// text search parser, decides what a word is, here and in the live tail alike; and a line
// costs PostgreSQL one GIN entry a token, not a text search parse and two GIN indexes.

/// Whether a character belongs to a word (a token of the body).
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The words of a text, lower case: its maximal runs of word characters.
pub fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

const FNV_START: u32 = 0x811c_9dc5;

fn fnv_step(mut h: u32, bytes: impl IntoIterator<Item = u8>) -> u32 {
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1a, 32 bits: stable across builds and versions (the hashes are stored).
fn fnv(parts: &[&[u8]]) -> i32 {
    parts
        .iter()
        .fold(FNV_START, |h, part| fnv_step(h, part.iter().copied())) as i32
}

/// The token of a word (lower case).
pub fn word_token(word: &str) -> i32 {
    fnv(&[b"w", word.as_bytes()])
}

/// Appends the token of each word of `text`, as `word_token` of each of `words_of`, without
/// making a string of each word (most are ASCII, lowered byte by byte as they are hashed).
pub fn push_word_tokens(text: &str, out: &mut Vec<i32>) {
    for word in text
        .split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
    {
        out.push(if word.is_ascii() {
            fnv_step(
                fnv_step(FNV_START, *b"w"),
                word.bytes().map(|b| b.to_ascii_lowercase()),
            ) as i32
        } else {
            word_token(&word.to_lowercase())
        });
    }
}

/// The token of a field or label `name` holding `value` (as text).
pub fn field_token(name: &str, value: &str) -> i32 {
    fnv(&[b"f", name.as_bytes(), b"\0", value.as_bytes()])
}

/// The text a field's value is indexed under: strings as they are, numbers in their shortest
/// form (`500` for 500 and 500.0), booleans; other values are not indexed.
pub fn field_value_text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::String(s) => Some(s.as_str().into()),
        Value::Bool(b) => Some(b.to_string().into()),
        Value::Number(n) => number_text(n.as_f64()?).map(Into::into),
        _ => None,
    }
}

fn number_text(n: f64) -> Option<String> {
    if !n.is_finite() {
        return None;
    }
    Some(if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    })
}

/// The tokens a line must hold to match a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Need {
    /// Every one of these tokens.
    All(Vec<i32>),
    /// At least one of these tokens.
    Any(Vec<i32>),
    Both(Vec<Need>),
    Either(Vec<Need>),
    /// A line of a stream with this label and value.
    Label(String, String),
    /// No line at all (a label no stream has).
    Nothing,
}

impl Need {
    /// The (label, value) pairs this names, into `out`.
    fn labels(&self, out: &mut Vec<(String, String)>) {
        match self {
            Need::Label(name, value) => out.push((name.clone(), value.clone())),
            Need::Both(needs) | Need::Either(needs) => {
                needs.iter().for_each(|need| need.labels(out))
            }
            Need::All(_) | Need::Any(_) | Need::Nothing => {}
        }
    }

    /// This need where only the labels `held` says some stream has can be met, simplified:
    /// parts that cannot be met dropped from an `Either` (and making a `Both` unmeetable),
    /// and the token lists a `Both` needs all of merged into one.
    fn narrowed(self, held: &dyn Fn(&str, &str) -> bool) -> Need {
        match self {
            Need::Label(name, value) if !held(&name, &value) => Need::Nothing,
            Need::Both(needs) => {
                let mut tokens: Vec<i32> = Vec::new();
                let mut rest = Vec::new();
                for need in needs {
                    match need.narrowed(held) {
                        Need::Nothing => return Need::Nothing,
                        Need::All(more) => tokens.extend(more),
                        other => rest.push(other),
                    }
                }
                if !tokens.is_empty() {
                    tokens.sort_unstable();
                    tokens.dedup();
                    rest.insert(0, Need::All(tokens));
                }
                match rest.len() {
                    1 => rest.pop().expect("one need"),
                    _ => Need::Both(rest),
                }
            }
            Need::Either(needs) => {
                let mut rest: Vec<Need> = needs
                    .into_iter()
                    .map(|need| need.narrowed(held))
                    .filter(|need| *need != Need::Nothing)
                    .collect();
                match rest.len() {
                    0 => Need::Nothing,
                    1 => rest.pop().expect("one need"),
                    _ => Need::Either(rest),
                }
            }
            other => other,
        }
    }
}

/// The tokens a text found as a whole word guarantees (see `has_word`): its words, the last
/// one only when it is complete (`prefix` false).
fn tokens_of_word(text: &str, prefix: bool) -> Vec<i32> {
    let mut words: Vec<String> = words_of(text).collect();
    if prefix && text.chars().next_back().is_some_and(is_word_char) {
        words.pop();
    }
    words.iter().map(|w| word_token(w)).collect()
}

/// The words wholly inside a text (bounded by other characters of the text on both sides),
/// which any line containing the text holds whatever surrounds it.
fn interior_tokens(text: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let mut start = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        if is_word_char(c) {
            if start.is_none() {
                start = Some((i, at));
            }
        } else if let Some((first, from)) = start.take() {
            if first > 0 {
                out.push(word_token(&text[from..at].to_lowercase()));
            }
        }
    }
    out
}

/// The tokens of a field equal to a value: its text, and the number it spells in shortest form.
fn field_tokens(name: &str, value: &str) -> Vec<i32> {
    let mut tokens = vec![field_token(name, value)];
    if let Some(n) = value.parse::<f64>().ok().and_then(number_text) {
        if n != value {
            tokens.push(field_token(name, &n));
        }
    }
    tokens
}

/// The tokens the lines matching `condition` hold; `None` when it says nothing about tokens.
pub fn token_need(condition: &Condition) -> Option<Need> {
    let nonempty = |tokens: Vec<i32>| (!tokens.is_empty()).then_some(tokens);
    match condition {
        Condition::Words(words) => {
            let tokens: Vec<i32> = words
                .iter()
                .flat_map(|w| match w.strip_suffix('*') {
                    Some(stem) => tokens_of_word(stem, true),
                    None => tokens_of_word(w, false),
                })
                .collect();
            nonempty(tokens).map(Need::All)
        }
        Condition::Phrase(text) => nonempty(tokens_of_word(text, false)).map(Need::All),
        Condition::Contains(text) => nonempty(interior_tokens(text)).map(Need::All),
        // A field's value is a token; a label is its stream's (found through the streams),
        // and so is the service: every line of a stream holds those, so the streams' own
        // index narrows better than a token of every line would.
        Condition::Equals {
            field: Field::Named(name),
            value,
        } => {
            let tokens = field_tokens(name, value);
            let fields = if tokens.len() == 1 {
                Need::All(tokens)
            } else {
                Need::Any(tokens)
            };
            Some(Need::Either(vec![
                fields,
                Need::Label(name.clone(), value.clone()),
            ]))
        }
        Condition::And(parts) => {
            let needs: Vec<Need> = parts.iter().filter_map(token_need).collect();
            match needs.len() {
                0 => None,
                1 => needs.into_iter().next(),
                _ => Some(Need::Both(needs)),
            }
        }
        Condition::Or(parts) if !parts.is_empty() => {
            let needs: Option<Vec<Need>> = parts.iter().map(token_need).collect();
            needs.map(Need::Either)
        }
        _ => None,
    }
}

fn push_need(q: &mut QueryBuilder<'_, Postgres>, need: &Need) {
    match need {
        Need::Label(name, value) => {
            let object = Value::Object(
                [(name.clone(), Value::String(value.clone()))]
                    .into_iter()
                    .collect(),
            );
            q.push("l.stream_id = any(array(select ls.id from log_stream ls where ls.labels @> ")
                .push_bind(object)
                .push("))");
        }
        Need::All(tokens) => {
            q.push("l.tokens @> ").push_bind(tokens.clone());
        }
        Need::Any(tokens) => {
            q.push("l.tokens && ").push_bind(tokens.clone());
        }
        Need::Both(needs) => push_joined(q, needs, " and ", push_need),
        Need::Either(needs) => push_joined(q, needs, " or ", push_need),
        Need::Nothing => {
            q.push("false");
        }
    }
}

/// `and` the lines restricted to those holding the tokens `need` names (lines stored before
/// tokens existed, whose tokens are null, are tested one by one).
fn push_tokens(q: &mut QueryBuilder<'_, Postgres>, need: &Need) {
    q.push(" and (");
    push_need(q, need);
    q.push(" or l.tokens is null)");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Condition {
        Condition::Words(ws.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn words_are_runs_of_letters_digits_and_underscores_in_lower_case() {
        let got: Vec<String> = words_of("GET /api/v1/query_range?x=Ünïcode-42 took 3ms").collect();
        assert_eq!(
            got,
            [
                "get",
                "api",
                "v1",
                "query_range",
                "x",
                "ünïcode",
                "42",
                "took",
                "3ms"
            ]
        );
    }

    #[test]
    fn word_tokens_are_the_tokens_of_the_lowered_words() {
        for text in [
            "GET /api/v1/query_range?x=Ünïcode-42 took 3ms",
            "TimeoutError: UPSTREAM İstanbul ΣΑΣ timed out",
            "",
            "--",
        ] {
            let mut got = Vec::new();
            push_word_tokens(text, &mut got);
            let want: Vec<i32> = words_of(text).map(|w| word_token(&w)).collect();
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn labels_no_stream_has_leave_the_tokens_to_be_looked_up_together() {
        let field = |name: &str, value: &str| Condition::Equals {
            field: Field::Named(name.into()),
            value: value.into(),
        };
        let need = token_need(&Condition::And(vec![
            field("agent_id", "agent-7"),
            field("tool", "shell"),
            words(&["timeout"]),
        ]))
        .unwrap();
        let mut labels = Vec::new();
        need.labels(&mut labels);
        assert_eq!(
            labels,
            [
                ("agent_id".to_string(), "agent-7".to_string()),
                ("tool".to_string(), "shell".to_string())
            ]
        );
        // No stream has either label: one look-up of all three tokens.
        let mut all = vec![
            field_token("agent_id", "agent-7"),
            field_token("tool", "shell"),
            word_token("timeout"),
        ];
        all.sort_unstable();
        assert_eq!(need.clone().narrowed(&|_, _| false), Need::All(all.clone()));
        // A stream has `tool=shell`: that part stays either the token or the streams.
        let tool_held = need.narrowed(&|name, _| name == "tool");
        let mut two = vec![field_token("agent_id", "agent-7"), word_token("timeout")];
        two.sort_unstable();
        assert_eq!(
            tool_held,
            Need::Both(vec![
                Need::All(two),
                Need::Either(vec![
                    Need::All(vec![field_token("tool", "shell")]),
                    Need::Label("tool".into(), "shell".into()),
                ]),
            ])
        );
        // Only labels, none held: no line can match.
        let only = Need::Both(vec![
            Need::All(vec![1]),
            Need::Either(vec![Need::Label("a".into(), "b".into())]),
        ]);
        assert_eq!(only.narrowed(&|_, _| false), Need::Nothing);
    }

    #[test]
    fn a_search_needs_only_the_tokens_every_match_holds() {
        assert_eq!(
            token_need(&words(&["Timeout", "tool*"])),
            Some(Need::All(vec![word_token("timeout")]))
        );
        // A word with signs inside holds each of its words.
        assert_eq!(
            token_need(&words(&["10.0.0.1"])),
            Some(Need::All(
                ["10", "0", "0", "1"]
                    .iter()
                    .map(|w| word_token(w))
                    .collect()
            ))
        );
        // A substring (LogQL's |=) guarantees only the words inside it.
        assert_eq!(token_need(&Condition::Contains("timeout".into())), None);
        assert_eq!(
            token_need(&Condition::Contains("ror: upstream timeout after".into())),
            Some(Need::All(vec![
                word_token("upstream"),
                word_token("timeout")
            ]))
        );
        // A number matches its text and its value; a label of that name its stream.
        assert_eq!(
            token_need(&Condition::Equals {
                field: Field::Named("status".into()),
                value: "500.0".into()
            }),
            Some(Need::Either(vec![
                Need::Any(vec![
                    field_token("status", "500.0"),
                    field_token("status", "500")
                ]),
                Need::Label("status".into(), "500.0".into())
            ]))
        );
        // Or narrows only when every side does; negation never does.
        assert_eq!(
            token_need(&Condition::Or(vec![
                words(&["a"]),
                Condition::Regex {
                    field: Field::Body,
                    pattern: "b".into(),
                    case_insensitive: false
                }
            ])),
            None
        );
        assert_eq!(token_need(&Condition::Not(Box::new(words(&["a"])))), None);
        assert_eq!(
            token_need(&Condition::And(vec![
                words(&["a"]),
                Condition::Not(Box::new(words(&["b"]))),
                Condition::Equals {
                    field: Field::Service,
                    value: "api".into()
                },
            ])),
            // The service is the stream's: left to the streams' index.
            Some(Need::All(vec![word_token("a")]))
        );
    }

    #[test]
    fn field_values_are_indexed_as_text_numbers_in_their_shortest_form() {
        assert_eq!(
            field_value_text(&serde_json::json!(500.0)).as_deref(),
            Some("500")
        );
        assert_eq!(
            field_value_text(&serde_json::json!(0.25)).as_deref(),
            Some("0.25")
        );
        assert_eq!(
            field_value_text(&serde_json::json!(true)).as_deref(),
            Some("true")
        );
        assert_eq!(field_value_text(&serde_json::json!({"a": 1})), None);
        assert_ne!(field_token("a", "b=c"), field_token("a=b", "c"));
        assert_ne!(word_token("api"), field_token("api", ""));
    }

    #[test]
    fn slices_cover_the_range_once_from_its_end() {
        let minute = 60_000_000;
        let newest = slices((0, 60 * minute));
        assert_eq!(newest[0], (55 * minute, 60 * minute));
        assert_eq!(newest[1], (45 * minute, 55 * minute));
        assert_eq!(newest.last().unwrap().0, 0);
        assert!(newest.windows(2).all(|w| w[1].1 == w[0].0));
        assert!(slices((5, 5)).is_empty());
    }
}
