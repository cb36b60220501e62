//! The evaluator: every second, on the one replica holding the "alert-evaluator" lock, each
//! group whose interval has reached a new slot (times aligned to the interval) is evaluated at
//! that slot's time. A group's rules run in order; groups run side by side, each bounded by its
//! interval. The evaluated slot, the alert instances and their state changes are kept in
//! PostgreSQL, so a restart or a take-over by another replica goes on where evaluation was:
//! pending time is not lost and nothing fires (or notifies) twice.

use super::{
    evaluate::{self, alert_labels, annotations, SourceError},
    rule_of,
    state::{self, Active, AlertLabels, Instance, Instances, Timing},
    Alerting,
};
use crate::{
    ingest::IncomingSeries,
    labels::SeriesKey,
    logs::logql::MetricExpr,
    store::{alerting as db, utc},
};
use anyhow::Context as _;
use app::api::alerting::{AlertState, ErrorState, NoDataState, Rule, RuleKind, Signal, ALERTNAME};
use chrono::Utc;
use std::{collections::BTreeMap, time::Instant};
use tokio::task::JoinSet;

/// The worker's name (and advisory lock).
pub const WORKER: &str = "alert-evaluator";
/// How often the evaluator looks for groups that are due.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a resolved alert is kept (for its notification) before it is forgotten.
pub const RESOLVED_RETENTION: chrono::Duration = chrono::Duration::minutes(15);
/// How long state changes are kept (rule pages show any range within it).
pub const HISTORY_RETENTION: chrono::Duration = chrono::Duration::days(90);
/// How often old history is pruned.
const PRUNE_EVERY_MS: i64 = 3_600_000;
/// When this process last pruned (ms); the first pass prunes.
static LAST_PRUNE_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The slot (ms) an interval is at, at `now`.
pub fn slot(now_ms: i64, interval_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(interval_ms)
}

/// One pass: evaluates every group that has reached a new slot.
pub async fn pass(alerting: &Alerting) -> anyhow::Result<()> {
    let now = Utc::now().timestamp_millis();
    let groups = db::select_groups(&alerting.pool).await?;
    let mut running = JoinSet::new();
    for group in groups {
        let slot = slot(now, group.interval_ms);
        if group.last_slot_ms.is_some_and(|last| last >= slot) {
            continue;
        }
        let alerting = alerting.clone();
        let budget = std::time::Duration::from_millis(group.interval_ms as u64);
        running.spawn(async move {
            let name = group.name.clone();
            match tokio::time::timeout(budget, evaluate_group(&alerting, &group, slot)).await {
                Ok(result) => result.with_context(|| format!("group \"{name}\"")),
                Err(_) => {
                    // The slot counts as done: the next one starts on time. The rules it did
                    // not reach say so in their health.
                    let why = format!(
                        "not evaluated: group \"{name}\" took longer than its interval ({}) and was stopped",
                        app::api::alerting::duration_text(group.interval_ms)
                    );
                    db::set_cut_off(&alerting.pool, group.id, utc(slot), &why).await?;
                    db::set_group_slot(&alerting.pool, group.id, slot).await?;
                    Err(anyhow::anyhow!(
                        "group \"{name}\" took longer than its interval and was stopped"
                    ))
                }
            }
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = running.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{e:#}")),
            Err(e) => failures.push(e.to_string()),
        }
    }
    db::delete_resolved_before(&alerting.pool, Utc::now() - RESOLVED_RETENTION).await?;
    let last = LAST_PRUNE_MS.load(std::sync::atomic::Ordering::Relaxed);
    if now - last >= PRUNE_EVERY_MS {
        LAST_PRUNE_MS.store(now, std::sync::atomic::Ordering::Relaxed);
        let pruned = db::delete_history_before(
            &alerting.pool,
            Utc::now() - HISTORY_RETENTION,
            Utc::now() - chrono::Duration::days(8),
        )
        .await?;
        if pruned > 0 {
            tracing::info!(pruned, "old alert state changes forgotten");
        }
        let received = alerting.prune_received().await?;
        if received > 0 {
            tracing::info!(received, "received alerts resolved a day ago forgotten");
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(failures.join("; ")))
    }
}

/// Evaluates each rule of `group` at `slot` and records the slot.
pub async fn evaluate_group(
    alerting: &Alerting,
    group: &db::GroupRow,
    slot: i64,
) -> anyhow::Result<()> {
    let rows = db::select_rules_of_group(&alerting.pool, group.id).await?;
    let uids: Vec<String> = rows.iter().map(|r| r.uid.clone()).collect();
    let mut instances: BTreeMap<String, Instances> = BTreeMap::new();
    for row in db::select_instances(&alerting.pool, &uids).await? {
        let (uid, fp, instance) = instance_of(row);
        instances.entry(uid).or_default().insert(fp, instance);
    }
    for row in &rows {
        let rule = rule_of(row);
        let started = Instant::now();
        let outcome = match rule.kind {
            RuleKind::Recording => record(alerting, &rule, slot).await,
            RuleKind::Alerting => {
                let mine = instances.remove(&rule.uid).unwrap_or_default();
                alert(alerting, &rule, mine, slot).await
            }
        };
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let error = match outcome {
            Ok(()) => None,
            Err(e) => Some(format!("{e:#}")),
        };
        db::set_rule_health(
            &alerting.pool,
            &rule.uid,
            utc(slot),
            elapsed,
            error.as_deref(),
        )
        .await?;
    }
    db::set_group_slot(&alerting.pool, group.id, slot).await?;
    Ok(())
}

/// Writes a recording rule's result at `slot` into the store.
async fn record(alerting: &Alerting, rule: &Rule, slot: i64) -> anyhow::Result<()> {
    if rule.paused {
        return Ok(());
    }
    let values = alerting.source(rule)?.values_at(slot).await?;
    let mut batch = Vec::with_capacity(values.len());
    for (labels, value) in values {
        let mut pairs: BTreeMap<String, String> = labels;
        pairs.extend(rule.labels.clone());
        pairs.insert("__name__".into(), rule.name.clone());
        let key = SeriesKey::from_pairs(pairs).map_err(|e| anyhow::anyhow!("{e}"))?;
        batch.push(IncomingSeries {
            key,
            samples: vec![(slot, value)],
        });
    }
    if !batch.is_empty() {
        let outcome = alerting.ingester.write("rules", batch).await?;
        if let Some(refused) = outcome.refusal_message(alerting.ingester.limits()) {
            anyhow::bail!("{refused}");
        }
    }
    Ok(())
}

/// Steps an alerting rule's instances at `slot` and saves them with their changes.
async fn alert(
    alerting: &Alerting,
    rule: &Rule,
    mut instances: Instances,
    slot: i64,
) -> anyhow::Result<()> {
    let url = &alerting.external_url;
    let mut failure = None;
    let changes = if rule.paused {
        state::advance(&mut instances, Vec::new(), slot, Timing::default())
    } else {
        let result = match alerting.source(rule) {
            Ok(source) => evaluate::evaluate_alerting(&source, rule, slot, url).await,
            Err(e) => Err(e),
        };
        let timing = evaluate::timing(rule);
        match result {
            Ok(Some(active)) => state::advance(&mut instances, active, slot, timing),
            Ok(None) => match rule.no_data {
                NoDataState::Ok => state::advance(&mut instances, Vec::new(), slot, timing),
                NoDataState::Alerting => {
                    let labels = special_labels(rule, "nodata", url);
                    state::advance(
                        &mut instances,
                        vec![Active::without_value(labels)],
                        slot,
                        timing,
                    )
                }
                NoDataState::NoData => {
                    state::no_data(&mut instances, special_labels(rule, "", url), slot)
                }
            },
            Err(e) => {
                let message = query_error_text(&e);
                failure = Some(message);
                match rule.on_error {
                    ErrorState::KeepLast => Vec::new(),
                    ErrorState::Alerting => {
                        let labels = special_labels(rule, "error", url);
                        state::advance(
                            &mut instances,
                            vec![Active::without_value(labels)],
                            slot,
                            timing,
                        )
                    }
                }
            }
        }
    };
    // A log rule's query, read once for the lines of all its alerts.
    let counting = match rule.signal {
        Signal::Logs => crate::logs::loki_query::parse_count_query(&rule.query).ok(),
        Signal::Metrics => None,
    };
    let mut with_lines = 0;
    for instance in instances.values_mut() {
        let active = matches!(instance.state, AlertState::Pending | AlertState::Firing);
        if active || instance.annotations.is_empty() {
            instance.annotations = annotations(rule, &instance.labels, instance.value, url);
        }
        let Some(metric) = counting.as_ref().filter(|_| active) else {
            continue;
        };
        if with_lines < MAX_ALERTS_WITH_LINES {
            with_lines += 1;
            if let Some(lines) = counted_lines(alerting, rule, metric, &instance.labels, slot).await
            {
                instance.annotations.insert(LINES_ANNOTATION.into(), lines);
            }
        }
    }
    let rows: Vec<db::InstanceRow> = instances
        .iter()
        .map(|(fp, i)| instance_row(&rule.uid, *fp, i))
        .collect();
    let change_rows: Vec<db::ChangeRow> = changes
        .into_iter()
        .map(|c| db::ChangeRow {
            rule_uid: rule.uid.clone(),
            fingerprint: c.fingerprint,
            labels: serde_json::to_value(&c.labels).unwrap_or_default(),
            at: utc(c.at),
            from_state: c.from.as_str().into(),
            to_state: c.to.as_str().into(),
            value: if c.value.is_finite() { c.value } else { 0.0 },
        })
        .collect();
    let mut tx = alerting.pool.begin().await?;
    db::save_rule_state(&mut tx, &rule.uid, &rows, &change_rows).await?;
    tx.commit().await?;
    match failure {
        Some(message) => Err(anyhow::anyhow!(message)),
        None => Ok(()),
    }
}

fn query_error_text(e: &SourceError) -> String {
    if e.is_internal() {
        format!("query failed: {e}")
    } else {
        e.to_string()
    }
}

/// The annotation a log rule's alerts carry their newest matching lines in.
pub const LINES_ANNOTATION: &str = "matching_lines";
/// Lines an alert of a log rule carries, and how much of each.
const LINES_PER_ALERT: i64 = 5;
const LINE_CHARS: usize = 500;
/// Alerts of one rule that fetch their lines at an evaluation (the rest go without).
const MAX_ALERTS_WITH_LINES: usize = 20;

/// The newest lines a log rule counted for an alert's series, one per line of text
/// (`time level body`), or `None` when they could not be read.
async fn counted_lines(
    alerting: &Alerting,
    rule: &Rule,
    metric: &MetricExpr,
    labels: &AlertLabels,
    slot: i64,
) -> Option<String> {
    // The series' own labels: the alert's, without what the rule adds.
    let series: AlertLabels = labels
        .iter()
        .filter(|(k, _)| k.as_str() != ALERTNAME && !rule.labels.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rows = alerting
        .logs
        .counted_lines(metric, &series, slot, LINES_PER_ALERT)
        .await
        .inspect_err(|e| tracing::warn!(rule = %rule.uid, "reading a log rule's lines failed: {e}"))
        .ok()?;
    let text: Vec<String> = rows
        .into_iter()
        .map(|row| {
            let at = utc(row.time_us / 1000).format("%Y-%m-%dT%H:%M:%S%.3fZ");
            let level = app::api::logs::level_name(row.severity as u8);
            let body: String = row.body.chars().take(LINE_CHARS).collect();
            format!("{at} {level} {body}")
        })
        .collect();
    Some(text.join("\n"))
}

/// The labels of a rule's "no data" or "error" alert: the rule's labels and a marker.
fn special_labels(rule: &Rule, marker: &str, url: &str) -> AlertLabels {
    let mut series = AlertLabels::new();
    if !marker.is_empty() {
        series.insert(marker.into(), "true".into());
    }
    alert_labels(rule, series, f64::NAN, url)
}

fn instance_of(row: db::InstanceRow) -> (String, i64, Instance) {
    let ms = |t: chrono::DateTime<Utc>| t.timestamp_millis();
    (
        row.rule_uid,
        row.fingerprint,
        Instance {
            labels: serde_json::from_value(row.labels).unwrap_or_default(),
            annotations: serde_json::from_value(row.annotations).unwrap_or_default(),
            state: AlertState::parse(&row.state).unwrap_or(AlertState::Inactive),
            active_at: ms(row.active_at),
            fired_at: row.fired_at.map(ms),
            last_active_at: ms(row.last_active_at),
            keep_firing_since: row.keep_firing_since.map(ms),
            resolved_at: row.resolved_at.map(ms),
            value: row.value,
        },
    )
}

fn instance_row(rule_uid: &str, fingerprint: i64, i: &Instance) -> db::InstanceRow {
    db::InstanceRow {
        rule_uid: rule_uid.into(),
        fingerprint,
        labels: serde_json::to_value(&i.labels).unwrap_or_default(),
        annotations: serde_json::to_value(&i.annotations).unwrap_or_default(),
        state: i.state.as_str().into(),
        active_at: utc(i.active_at),
        fired_at: i.fired_at.map(utc),
        last_active_at: utc(i.last_active_at),
        keep_firing_since: i.keep_firing_since.map(utc),
        resolved_at: i.resolved_at.map(utc),
        value: if i.value.is_finite() {
            i.value
        } else {
            f64::NAN
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slots_are_aligned_to_the_interval() {
        assert_eq!(super::slot(125_000, 60_000), 120_000);
        assert_eq!(super::slot(120_000, 60_000), 120_000);
        assert_eq!(super::slot(1_999, 1_000), 1_000);
    }
}
