//! Alert rule groups and rules, alert instances, their state changes, contact points, the
//! routing tree, notification groups and the notification log.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::{PgExecutor, Postgres, Transaction};

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct GroupRow {
    pub id: i64,
    pub folder: String,
    pub name: String,
    pub interval_ms: i64,
    pub source: String,
    pub source_path: Option<String>,
    pub last_slot_ms: Option<i64>,
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct RuleRow {
    pub uid: String,
    pub group_id: i64,
    pub position: i32,
    pub kind: String,
    pub name: String,
    pub spec: Json,
    pub paused: bool,
    pub last_eval_at: Option<DateTime<Utc>>,
    pub last_eval_ms: Option<f64>,
    pub last_error: Option<String>,
}

const RULE_COLUMNS: &str =
    "uid, group_id, position, kind, name, spec, paused, last_eval_at, last_eval_ms, last_error";
const GROUP_COLUMNS: &str = "id, folder, name, interval_ms, source, source_path, last_slot_ms";

pub async fn select_groups(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<GroupRow>> {
    sqlx::query_as(&format!(
        "select {GROUP_COLUMNS} from alert_rule_group order by folder, name"
    ))
    .fetch_all(db)
    .await
}

pub async fn select_group(
    db: impl PgExecutor<'_>,
    folder: &str,
    name: &str,
) -> sqlx::Result<Option<GroupRow>> {
    sqlx::query_as(&format!(
        "select {GROUP_COLUMNS} from alert_rule_group where folder = $1 and name = $2"
    ))
    .bind(folder)
    .bind(name)
    .fetch_optional(db)
    .await
}

pub async fn select_group_by_id(
    db: impl PgExecutor<'_>,
    id: i64,
) -> sqlx::Result<Option<GroupRow>> {
    sqlx::query_as(&format!(
        "select {GROUP_COLUMNS} from alert_rule_group where id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn select_rules(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<RuleRow>> {
    sqlx::query_as(&format!(
        "select {RULE_COLUMNS} from alert_rule order by group_id, position"
    ))
    .fetch_all(db)
    .await
}

pub async fn select_rules_of_group(
    db: impl PgExecutor<'_>,
    group_id: i64,
) -> sqlx::Result<Vec<RuleRow>> {
    sqlx::query_as(&format!(
        "select {RULE_COLUMNS} from alert_rule where group_id = $1 order by position"
    ))
    .bind(group_id)
    .fetch_all(db)
    .await
}

pub async fn select_rule(db: impl PgExecutor<'_>, uid: &str) -> sqlx::Result<Option<RuleRow>> {
    sqlx::query_as(&format!(
        "select {RULE_COLUMNS} from alert_rule where uid = $1"
    ))
    .bind(uid)
    .fetch_optional(db)
    .await
}

/// Makes the group or updates its interval and source; returns its id.
pub async fn upsert_group(
    db: impl PgExecutor<'_>,
    folder: &str,
    name: &str,
    interval_ms: i64,
    source: &str,
    source_path: Option<&str>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into alert_rule_group (folder, name, interval_ms, source, source_path)
         values ($1, $2, $3, $4, $5)
         on conflict (folder, name) do update
           set interval_ms = excluded.interval_ms, source = excluded.source,
               source_path = excluded.source_path, updated_at = now()
         returning id",
    )
    .bind(folder)
    .bind(name)
    .bind(interval_ms)
    .bind(source)
    .bind(source_path)
    .fetch_one(db)
    .await
}

pub async fn delete_group(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("delete from alert_rule_group where id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

/// Groups left without rules (after a rule moved or was deleted) go away, unless built in.
pub async fn delete_empty_groups(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "delete from alert_rule_group g where source = 'api'
           and not exists (select 1 from alert_rule r where r.group_id = g.id)",
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// What one rule row holds.
pub struct NewRule<'a> {
    pub uid: &'a str,
    pub group_id: i64,
    pub position: Option<i32>,
    pub kind: &'a str,
    pub name: &'a str,
    pub spec: &'a Json,
    pub paused: bool,
}

/// Inserts or replaces a rule (its state and health stay when it keeps its uid). Without a
/// position it goes last in its group.
pub async fn upsert_rule(db: impl PgExecutor<'_>, rule: &NewRule<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into alert_rule (uid, group_id, position, kind, name, spec, paused)
         values ($1, $2,
                 coalesce($3, (select coalesce(max(position) + 1, 0) from alert_rule where group_id = $2)),
                 $4, $5, $6, $7)
         on conflict (uid) do update
           set group_id = excluded.group_id,
               position = case when alert_rule.group_id = excluded.group_id and $3 is null
                               then alert_rule.position else excluded.position end,
               kind = excluded.kind, name = excluded.name, spec = excluded.spec,
               paused = excluded.paused, updated_at = now()",
    )
    .bind(rule.uid)
    .bind(rule.group_id)
    .bind(rule.position)
    .bind(rule.kind)
    .bind(rule.name)
    .bind(rule.spec)
    .bind(rule.paused)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete_rule(db: impl PgExecutor<'_>, uid: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("delete from alert_rule where uid = $1")
        .bind(uid)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

/// Deletes the rules of `group_id` that are not in `keep`.
pub async fn delete_rules_not_in(
    db: impl PgExecutor<'_>,
    group_id: i64,
    keep: &[String],
) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("delete from alert_rule where group_id = $1 and not (uid = any($2))")
            .bind(group_id)
            .bind(keep)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

pub async fn set_paused(db: impl PgExecutor<'_>, uid: &str, paused: bool) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "update alert_rule set paused = $2,
           spec = jsonb_set(spec, '{paused}', to_jsonb($2)), updated_at = now()
         where uid = $1",
    )
    .bind(uid)
    .bind(paused)
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

pub async fn set_group_slot(db: impl PgExecutor<'_>, id: i64, slot_ms: i64) -> sqlx::Result<()> {
    sqlx::query("update alert_rule_group set last_slot_ms = $2 where id = $1")
        .bind(id)
        .bind(slot_ms)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_rule_health(
    db: impl PgExecutor<'_>,
    uid: &str,
    at: DateTime<Utc>,
    duration_ms: f64,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update alert_rule set last_eval_at = $2, last_eval_ms = $3, last_error = $4 where uid = $1",
    )
    .bind(uid)
    .bind(at)
    .bind(duration_ms)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks the rules of group `group_id` that were not evaluated at `slot` (their last
/// evaluation is older) with `error`, as evaluated then.
pub async fn set_cut_off(
    db: impl PgExecutor<'_>,
    group_id: i64,
    slot: DateTime<Utc>,
    error: &str,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update alert_rule set last_eval_at = $2, last_error = $3
         where group_id = $1 and (last_eval_at is null or last_eval_at < $2)",
    )
    .bind(group_id)
    .bind(slot)
    .bind(error)
    .execute(db)
    .await?
    .rows_affected())
}

/// Forgets notifications made before `cutoff`, a bounded batch at a time.
pub async fn delete_notifications_before(
    db: impl PgExecutor<'_> + Copy,
    cutoff: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let n = sqlx::query(
            "delete from notification_log where id in
               (select id from notification_log where created_at < $1 limit 10000)",
        )
        .bind(cutoff)
        .execute(db)
        .await?
        .rows_affected();
        total += n;
        if n < 10_000 {
            return Ok(total);
        }
    }
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct InstanceRow {
    pub rule_uid: String,
    pub fingerprint: i64,
    pub labels: Json,
    pub annotations: Json,
    pub state: String,
    pub active_at: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    pub last_active_at: DateTime<Utc>,
    pub keep_firing_since: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub value: f64,
}

const INSTANCE_COLUMNS: &str = "rule_uid, fingerprint, labels, annotations, state, active_at, fired_at, last_active_at, keep_firing_since, resolved_at, value";

pub async fn select_instances(
    db: impl PgExecutor<'_>,
    rule_uids: &[String],
) -> sqlx::Result<Vec<InstanceRow>> {
    sqlx::query_as(&format!(
        "select {INSTANCE_COLUMNS} from alert_instance where rule_uid = any($1)"
    ))
    .bind(rule_uids)
    .fetch_all(db)
    .await
}

/// Every instance, of every rule (the alerts page, the dispatcher).
pub async fn select_all_instances(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<InstanceRow>> {
    sqlx::query_as(&format!(
        "select {INSTANCE_COLUMNS} from alert_instance order by rule_uid, active_at"
    ))
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug)]
pub struct ChangeRow {
    pub rule_uid: String,
    pub fingerprint: i64,
    pub labels: Json,
    pub at: DateTime<Utc>,
    pub from_state: String,
    pub to_state: String,
    pub value: f64,
}

/// Replaces a rule's instances with `instances` and appends `changes`, in `tx`.
pub async fn save_rule_state(
    tx: &mut Transaction<'_, Postgres>,
    rule_uid: &str,
    instances: &[InstanceRow],
    changes: &[ChangeRow],
) -> sqlx::Result<()> {
    let keep: Vec<i64> = instances.iter().map(|i| i.fingerprint).collect();
    sqlx::query("delete from alert_instance where rule_uid = $1 and not (fingerprint = any($2))")
        .bind(rule_uid)
        .bind(&keep)
        .execute(&mut **tx)
        .await?;
    if !instances.is_empty() {
        let col = |f: fn(&InstanceRow) -> Json| instances.iter().map(f).collect::<Vec<_>>();
        let time = |f: fn(&InstanceRow) -> Option<DateTime<Utc>>| {
            instances.iter().map(f).collect::<Vec<_>>()
        };
        sqlx::query(
            "insert into alert_instance (rule_uid, fingerprint, labels, annotations, state, active_at,
                fired_at, last_active_at, keep_firing_since, resolved_at, value)
             select $1, * from unnest($2::bigint[], $3::jsonb[], $4::jsonb[], $5::text[],
                $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[],
                $10::timestamptz[], $11::float8[])
             on conflict (rule_uid, fingerprint) do update set
                labels = excluded.labels, annotations = excluded.annotations, state = excluded.state,
                active_at = excluded.active_at, fired_at = excluded.fired_at,
                last_active_at = excluded.last_active_at,
                keep_firing_since = excluded.keep_firing_since,
                resolved_at = excluded.resolved_at, value = excluded.value",
        )
        .bind(rule_uid)
        .bind(&keep)
        .bind(col(|i| i.labels.clone()))
        .bind(col(|i| i.annotations.clone()))
        .bind(instances.iter().map(|i| i.state.clone()).collect::<Vec<_>>())
        .bind(time(|i| Some(i.active_at)))
        .bind(time(|i| i.fired_at))
        .bind(time(|i| Some(i.last_active_at)))
        .bind(time(|i| i.keep_firing_since))
        .bind(time(|i| i.resolved_at))
        .bind(instances.iter().map(|i| i.value).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    insert_changes(tx, changes).await
}

/// Appends state changes and counts the alerts that started firing, by the hour.
pub async fn insert_changes(
    tx: &mut Transaction<'_, Postgres>,
    changes: &[ChangeRow],
) -> sqlx::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let fired: Vec<&ChangeRow> = changes.iter().filter(|c| c.to_state == "firing").collect();
    if !fired.is_empty() {
        sqlx::query(
            "insert into alert_rule_fired (rule_uid, hour, fired)
             select rule_uid, date_trunc('hour', at), count(*)
             from unnest($1::text[], $2::timestamptz[]) as c(rule_uid, at)
             group by 1, 2
             on conflict (rule_uid, hour) do update set fired = alert_rule_fired.fired + excluded.fired",
        )
        .bind(fired.iter().map(|c| c.rule_uid.clone()).collect::<Vec<_>>())
        .bind(fired.iter().map(|c| c.at).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "insert into alert_state_change (rule_uid, fingerprint, labels, at, from_state, to_state, value)
         select * from unnest($1::text[], $2::bigint[], $3::jsonb[], $4::timestamptz[],
                              $5::text[], $6::text[], $7::float8[])",
    )
    .bind(changes.iter().map(|c| c.rule_uid.clone()).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.fingerprint).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.labels.clone()).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.at).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.from_state.clone()).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.to_state.clone()).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.value).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Resolved instances whose resolution is older than `before` are forgotten.
pub async fn delete_resolved_before(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("delete from alert_instance where state = 'inactive' and resolved_at < $1")
            .bind(before)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Forgets state changes older than `before`, and firing counts older than `counts_before`.
pub async fn delete_history_before(
    db: impl PgExecutor<'_> + Copy,
    before: DateTime<Utc>,
    counts_before: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let changes = sqlx::query("delete from alert_state_change where at < $1")
        .bind(before)
        .execute(db)
        .await?
        .rows_affected();
    sqlx::query("delete from alert_rule_fired where hour < $1")
        .bind(counts_before)
        .execute(db)
        .await?;
    Ok(changes)
}

/// Times each rule's alerts started firing since the hour `since` falls in.
pub async fn select_fired_counts(
    db: impl PgExecutor<'_>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "select rule_uid, sum(fired)::bigint from alert_rule_fired
         where hour >= date_trunc('hour', $1) group by rule_uid",
    )
    .bind(since)
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct ChangeRecord {
    pub rule_uid: String,
    pub labels: Json,
    pub at: DateTime<Utc>,
    pub from_state: String,
    pub to_state: String,
    pub value: f64,
}

/// A rule's changes from `start` to `end`, newest first, at most `limit`.
pub async fn select_changes(
    db: impl PgExecutor<'_>,
    rule_uid: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<ChangeRecord>> {
    sqlx::query_as(
        "select rule_uid, labels, at, from_state, to_state, value from alert_state_change
         where rule_uid = $1 and at >= $2 and at <= $3 order by at desc limit $4",
    )
    .bind(rule_uid)
    .bind(start)
    .bind(end)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Times fired, mean seconds to resolve, and the label values that fired most, over a range.
pub async fn select_history_stats(
    db: impl PgExecutor<'_>,
    rule_uid: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> sqlx::Result<(i64, Option<f64>, Vec<(String, String, i64)>)> {
    let row: (i64, Option<f64>, Json) = sqlx::query_as(
        "with changes as (
            select labels, at, to_state,
                   lead(at) over (partition by fingerprint order by at) as next_at
            from alert_state_change
            where rule_uid = $1 and at >= $2 and at <= $3
         ), fired as (
            select labels, at, next_at from changes where to_state = 'firing'
         ), top as (
            select kv.key, kv.value, count(*) as n
            from fired f, jsonb_each_text(f.labels) kv
            where kv.key <> 'alertname'
            group by kv.key, kv.value order by n desc, kv.key, kv.value limit 10
         )
         select (select count(*) from fired),
                (select avg(extract(epoch from next_at - at))::float8 from fired
                 where next_at is not null),
                coalesce((select jsonb_agg(jsonb_build_array(key, value, n)) from top), '[]')",
    )
    .bind(rule_uid)
    .bind(start)
    .bind(end)
    .fetch_one(db)
    .await?;
    let top = row
        .2
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    Some((
                        i.get(0)?.as_str()?.to_string(),
                        i.get(1)?.as_str()?.to_string(),
                        i.get(2)?.as_i64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((row.0, row.1, top))
}

pub async fn select_contact_points(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, Json)>> {
    sqlx::query_as("select name, spec from contact_point order by name")
        .fetch_all(db)
        .await
}

pub async fn upsert_contact_point(
    db: impl PgExecutor<'_>,
    name: &str,
    spec: &Json,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into contact_point (name, spec) values ($1, $2)
         on conflict (name) do update set spec = excluded.spec, updated_at = now()",
    )
    .bind(name)
    .bind(spec)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete_contact_point(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("delete from contact_point where name = $1")
        .bind(name)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

pub async fn select_policy(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Json>> {
    sqlx::query_scalar("select spec from notification_policy")
        .fetch_optional(db)
        .await
}

pub async fn upsert_policy(db: impl PgExecutor<'_>, spec: &Json) -> sqlx::Result<()> {
    sqlx::query(
        "insert into notification_policy (id, spec) values (true, $1)
         on conflict (id) do update set spec = excluded.spec, updated_at = now()",
    )
    .bind(spec)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct NotificationGroupRow {
    pub group_key: String,
    pub receiver: String,
    pub labels: Json,
    pub next_flush_at: DateTime<Utc>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub notified: Json,
}

pub async fn select_notification_groups(
    db: impl PgExecutor<'_>,
) -> sqlx::Result<Vec<NotificationGroupRow>> {
    sqlx::query_as(
        "select group_key, receiver, labels, next_flush_at, last_sent_at, notified
         from notification_group",
    )
    .fetch_all(db)
    .await
}

pub async fn upsert_notification_group(
    db: impl PgExecutor<'_>,
    row: &NotificationGroupRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into notification_group (group_key, receiver, labels, next_flush_at, last_sent_at, notified)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (group_key) do update set receiver = excluded.receiver,
           labels = excluded.labels, next_flush_at = excluded.next_flush_at,
           last_sent_at = excluded.last_sent_at, notified = excluded.notified",
    )
    .bind(&row.group_key)
    .bind(&row.receiver)
    .bind(&row.labels)
    .bind(row.next_flush_at)
    .bind(row.last_sent_at)
    .bind(&row.notified)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete_notification_group(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<()> {
    sqlx::query("delete from notification_group where group_key = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a notification about to be sent; returns its id.
pub async fn insert_notification(
    db: impl PgExecutor<'_>,
    group_key: &str,
    receiver: &str,
    status: &str,
    alerts: i32,
    payload: &Json,
    rule_uids: &[String],
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into notification_log (group_key, receiver, status, alerts, payload, rule_uids)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(group_key)
    .bind(receiver)
    .bind(status)
    .bind(alerts)
    .bind(payload)
    .bind(rule_uids)
    .fetch_one(db)
    .await
}

pub async fn record_attempt(
    db: impl PgExecutor<'_>,
    id: i64,
    outcome: &str,
    response: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update notification_log set attempts = attempts + 1, outcome = $2, response = $3,
           delivered_at = case when $2 = 'delivered' then now() else delivered_at end
         where id = $1",
    )
    .bind(id)
    .bind(outcome)
    .bind(response)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub receiver: String,
    pub group_key: String,
    pub status: String,
    pub alerts: i32,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub outcome: String,
    pub response: String,
    /// NULL for records made before the column.
    pub rule_uids: Option<Vec<String>>,
}

pub async fn select_notifications(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<NotificationRow>> {
    sqlx::query_as(
        "select id, receiver, group_key, status, alerts, created_at, delivered_at, attempts,
                outcome, response, rule_uids
         from notification_log order by id desc limit $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The named secret, made (32 random bytes) the first time it is asked for.
pub async fn secret(db: impl PgExecutor<'_> + Copy, name: &str) -> sqlx::Result<Vec<u8>> {
    let fresh: [u8; 32] = rand::random();
    sqlx::query("insert into portal_secret (name, value) values ($1, $2) on conflict do nothing")
        .bind(name)
        .bind(&fresh[..])
        .execute(db)
        .await?;
    sqlx::query_scalar("select value from portal_secret where name = $1")
        .bind(name)
        .fetch_one(db)
        .await
}
