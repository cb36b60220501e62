//! Alerting: rule groups and rules kept in PostgreSQL, evaluated on their group's interval by
//! one replica ([`scheduler`]), alert instances moving through [`state`], their history, the
//! preview of a rule over stored data, Prometheus rule files in and out ([`promfile`]), and
//! notifications ([`notify`]). Nothing here knows about HTTP.

pub mod builtin;
pub mod evaluate;
pub mod muting;
pub mod notify;
pub mod promfile;
pub mod schedule;
pub mod scheduler;
pub mod silences;
pub mod state;
pub mod template;

use crate::{
    accounts::FolderAccess,
    error::ApiError,
    ingest::Ingester,
    logs::LogsService,
    query::{QueryRange, QueryService},
    store::alerting as db,
};
use app::api::{
    accounts::{FolderKind, Permission},
    alerting::{
        duration_text, Alert, AlertState, Preview, PreviewRequest, Rule, RuleGroup, RuleHealth,
        RuleHistory, RuleKind, RuleSource, RuleSummary, SaveRule, Signal, StateChange, ALERTNAME,
    },
    dashboard::ModelError,
};
use chrono::{Duration, Utc};
use sqlx::PgPool;
use std::{collections::BTreeMap, sync::Arc};

/// Most state changes one history answer holds.
pub const HISTORY_LIMIT: i64 = 5_000;

/// The alerting service; cheap to clone.
#[derive(Clone)]
pub struct Alerting {
    pub(crate) pool: PgPool,
    pub(crate) queries: QueryService,
    /// Log rules count lines through it.
    pub(crate) logs: LogsService,
    pub(crate) ingester: Arc<Ingester>,
    /// Links in notifications and `$externalURL` in templates start with this.
    pub(crate) external_url: String,
    /// The longest a silence may last.
    pub(crate) max_silence: Duration,
    /// How long the notification log keeps a record.
    pub(crate) notification_retention: Duration,
}

fn invalid(e: ModelError) -> ApiError {
    ApiError::invalid(e.field, e.message)
}

/// The error with its field put under `prefix` (`rules[2].` + `for`).
pub(crate) fn prefixed(e: ApiError, prefix: &str) -> ApiError {
    match e {
        ApiError::Invalid {
            field,
            message,
            fault,
        } => ApiError::Invalid {
            field: format!("{prefix}{field}"),
            message,
            fault,
        },
        other => other,
    }
}

/// A rule's row turned back into the API's rule.
pub(crate) fn rule_of(row: &db::RuleRow) -> Rule {
    let mut rule: Rule = serde_json::from_value(row.spec.clone()).unwrap_or_default();
    rule.uid = row.uid.clone();
    rule.name = row.name.clone();
    rule.paused = row.paused;
    rule
}

fn source_of(text: &str) -> RuleSource {
    match text {
        "provisioned" => RuleSource::Provisioned,
        "built_in" => RuleSource::BuiltIn,
        _ => RuleSource::Api,
    }
}

pub(crate) fn source_text(source: RuleSource) -> &'static str {
    match source {
        RuleSource::Api => "api",
        RuleSource::Provisioned => "provisioned",
        RuleSource::BuiltIn => "built_in",
    }
}

fn kind_text(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Alerting => "alerting",
        RuleKind::Recording => "recording",
    }
}

/// Labels or annotations as stored (a JSON object of strings).
pub(crate) fn labels_of(json: &serde_json::Value) -> BTreeMap<String, String> {
    serde_json::from_value(json.clone()).unwrap_or_default()
}

fn new_uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Which alerts one caller is shown: those of rules in folders it may see, and those other
/// tools sent (they belong to no folder).
pub(crate) struct Shown<'a> {
    folders: &'a FolderAccess,
    rule_folders: BTreeMap<String, String>,
}

impl<'a> Shown<'a> {
    /// What `folders` is shown, given the rule groups and rules (read once by the caller).
    pub(crate) fn of(
        folders: &'a FolderAccess,
        groups: &[db::GroupRow],
        rules: &[db::RuleRow],
    ) -> Self {
        let folder_of: BTreeMap<i64, &str> =
            groups.iter().map(|g| (g.id, g.folder.as_str())).collect();
        Self {
            folders,
            rule_folders: rules
                .iter()
                .filter_map(|r| Some((r.uid.clone(), folder_of.get(&r.group_id)?.to_string())))
                .collect(),
        }
    }

    /// The same, reading the groups and rules.
    pub(crate) async fn new(
        alerting: &Alerting,
        folders: &'a FolderAccess,
    ) -> Result<Self, ApiError> {
        let groups = db::select_groups(&alerting.pool).await?;
        let rules = db::select_rules(&alerting.pool).await?;
        Ok(Self::of(folders, &groups, &rules))
    }

    /// Whether an alert of rule `uid` (empty: sent by another tool) is shown.
    pub(crate) fn alert_of(&self, uid: &str) -> bool {
        uid.is_empty() || self.rule_folders.get(uid).is_some_and(|f| self.folder(f))
    }

    /// Whether rule folder `folder` is shown.
    pub(crate) fn folder(&self, folder: &str) -> bool {
        self.folders
            .allows(FolderKind::Rules, folder, Permission::View)
    }
}

impl Alerting {
    pub fn new(
        pool: PgPool,
        queries: QueryService,
        logs: LogsService,
        ingester: Arc<Ingester>,
        external_url: String,
    ) -> Self {
        Self {
            pool,
            queries,
            logs,
            ingester,
            external_url,
            max_silence: Duration::days(app::api::silences::DEFAULT_MAX_DURATION_DAYS),
            notification_retention: Duration::days(30),
        }
    }

    /// The same service with `max` as the longest a silence may last.
    pub fn with_notification_retention(mut self, retention: Duration) -> Self {
        self.notification_retention = retention;
        self
    }

    pub fn with_max_silence(mut self, max: Duration) -> Self {
        self.max_silence = max;
        self
    }

    /// Checks a rule fully: its fields, its PromQL and its templates; the first problem found,
    /// naming its field.
    pub fn check_rule(&self, rule: &Rule) -> Result<(), ApiError> {
        if let Some(e) = rule.validate().into_iter().next() {
            return Err(invalid(e));
        }
        let checked: Result<(), ApiError> = match rule.signal {
            Signal::Metrics => self
                .queries
                .parse(&rule.query)
                .map(|_| ())
                .map_err(Into::into),
            Signal::Logs => crate::logs::loki_query::parse_count_query(&rule.query)
                .map(|_| ())
                .map_err(Into::into),
        };
        checked.map_err(|e| match e {
            ApiError::Invalid { message, .. } => ApiError::invalid("query", message),
            other => other,
        })?;
        for (field, map) in [("labels", &rule.labels), ("annotations", &rule.annotations)] {
            for (name, text) in map {
                template::check(text)
                    .map_err(|e| ApiError::invalid(format!("{field}.{name}"), e))?;
            }
        }
        Ok(())
    }

    /// Checks that the contact point a rule sends to exists.
    async fn check_contact_point(&self, rule: &Rule) -> Result<(), ApiError> {
        if let Some(name) = &rule.contact_point {
            if self.contact_point(name).await.is_err() {
                return Err(ApiError::invalid(
                    "contact_point",
                    format!("no contact point \"{name}\""),
                ));
            }
        }
        Ok(())
    }

    /// Saves one rule into its folder and group (made when missing); returns it with its uid.
    pub async fn save_rule(&self, request: SaveRule) -> Result<RuleSummary, ApiError> {
        let SaveRule {
            folder,
            group,
            interval,
            mut rule,
        } = request;
        self.check_rule(&rule)?;
        self.check_contact_point(&rule).await?;
        let probe = RuleGroup {
            folder: folder.trim().to_string(),
            name: group.trim().to_string(),
            interval: interval.clone().unwrap_or_else(|| "1m".into()),
            rules: Vec::new(),
            source: RuleSource::Api,
        };
        if let Some(e) = probe.validate().into_iter().next() {
            return Err(ApiError::invalid(
                if e.field == "name" {
                    "group".into()
                } else {
                    e.field
                },
                e.message,
            ));
        }
        let mut tx = self.pool.begin().await?;
        let existing_group = db::select_group(&mut *tx, &probe.folder, &probe.name).await?;
        if let Some(g) = &existing_group {
            if g.source == "provisioned" {
                return Err(ApiError::Conflict(format!(
                    "group \"{}\" comes from the rule file {}; change the file instead",
                    g.name,
                    g.source_path.as_deref().unwrap_or("")
                )));
            }
        }
        if rule.uid.is_empty() {
            rule.uid = new_uid();
        } else if let Some(old) = db::select_rule(&mut *tx, &rule.uid).await? {
            let old_group = db::select_group_by_id(&mut *tx, old.group_id).await?;
            if old_group.is_some_and(|g| g.source == "provisioned") {
                return Err(ApiError::Conflict(format!(
                    "rule \"{}\" comes from a rule file; change the file instead",
                    rule.uid
                )));
            }
        }
        let interval_ms = match (&interval, &existing_group) {
            (Some(_), _) => probe.interval_ms(),
            (None, Some(g)) => g.interval_ms,
            (None, None) => 60_000,
        };
        let source = existing_group
            .as_ref()
            .map_or("api", |g| g.source.as_str())
            .to_string();
        let group_id = db::upsert_group(
            &mut *tx,
            &probe.folder,
            &probe.name,
            interval_ms,
            &source,
            None,
        )
        .await?;
        let spec = serde_json::to_value(&rule).map_err(anyhow::Error::from)?;
        db::upsert_rule(
            &mut *tx,
            &db::NewRule {
                uid: &rule.uid,
                group_id,
                position: None,
                kind: kind_text(rule.kind),
                name: rule.name.trim(),
                spec: &spec,
                paused: rule.paused,
            },
        )
        .await?;
        db::delete_empty_groups(&mut *tx).await?;
        tx.commit().await?;
        self.rule(&rule.uid).await
    }

    /// Replaces a whole group (its interval and rules; rules keep state when they keep their
    /// uid or, without one, their name). Used by the API and by rule-file imports.
    pub async fn put_group(
        &self,
        mut group: RuleGroup,
        path: Option<&str>,
    ) -> Result<RuleGroup, ApiError> {
        if let Some(e) = group.validate().into_iter().next() {
            return Err(invalid(e));
        }
        for (i, rule) in group.rules.iter().enumerate() {
            self.check_rule(rule)
                .map_err(|e| prefixed(e, &format!("rules[{i}].")))?;
            self.check_contact_point(rule)
                .await
                .map_err(|e| prefixed(e, &format!("rules[{i}].")))?;
        }
        let mut tx = self.pool.begin().await?;
        let existing = db::select_group(&mut *tx, group.folder.trim(), group.name.trim()).await?;
        if let Some(g) = &existing {
            if g.source == "provisioned" && group.source != RuleSource::Provisioned {
                return Err(ApiError::Conflict(format!(
                    "group \"{}\" comes from a rule file; change the file instead",
                    g.name
                )));
            }
        }
        let old_rules = match &existing {
            Some(g) => db::select_rules_of_group(&mut *tx, g.id).await?,
            None => Vec::new(),
        };
        let group_id = db::upsert_group(
            &mut *tx,
            group.folder.trim(),
            group.name.trim(),
            group.interval_ms(),
            source_text(group.source),
            path,
        )
        .await?;
        let mut keep = Vec::new();
        for (position, rule) in group.rules.iter_mut().enumerate() {
            if rule.uid.is_empty() {
                // Same name and kind as before: the same rule (its alerts carry on).
                rule.uid = old_rules
                    .iter()
                    .find(|r| {
                        r.name == rule.name
                            && r.kind == kind_text(rule.kind)
                            && !keep.contains(&r.uid)
                    })
                    .map(|r| r.uid.clone())
                    .unwrap_or_else(new_uid);
            }
            if keep.contains(&rule.uid) {
                return Err(ApiError::invalid(
                    format!("rules[{position}].uid"),
                    "two rules of the group have the same uid",
                ));
            }
            if let Some(other) = db::select_rule(&mut *tx, &rule.uid).await? {
                if other.group_id != group_id {
                    return Err(ApiError::Conflict(format!(
                        "rule uid \"{}\" belongs to another group",
                        rule.uid
                    )));
                }
            }
            let spec = serde_json::to_value(&*rule).map_err(anyhow::Error::from)?;
            db::upsert_rule(
                &mut *tx,
                &db::NewRule {
                    uid: &rule.uid,
                    group_id,
                    position: Some(position as i32),
                    kind: kind_text(rule.kind),
                    name: rule.name.trim(),
                    spec: &spec,
                    paused: rule.paused,
                },
            )
            .await?;
            keep.push(rule.uid.clone());
        }
        db::delete_rules_not_in(&mut *tx, group_id, &keep).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn delete_group(&self, folder: &str, name: &str) -> Result<(), ApiError> {
        let group = db::select_group(&self.pool, folder, name)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("no rule group \"{name}\" in \"{folder}\""))
            })?;
        if group.source == "provisioned" {
            return Err(ApiError::Conflict(format!(
                "group \"{name}\" comes from a rule file; remove the file instead"
            )));
        }
        db::delete_group(&self.pool, group.id).await?;
        Ok(())
    }

    pub async fn delete_rule(&self, uid: &str) -> Result<(), ApiError> {
        // (Its history and counts stay until they age out: a rule made again under the same
        // uid, as provisioning does, keeps them.)
        let row = db::select_rule(&self.pool, uid)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no alert rule \"{uid}\"")))?;
        if db::select_group_by_id(&self.pool, row.group_id)
            .await?
            .is_some_and(|g| g.source == "provisioned")
        {
            return Err(ApiError::Conflict(format!(
                "rule \"{uid}\" comes from a rule file; change the file instead"
            )));
        }
        let mut tx = self.pool.begin().await?;
        db::delete_rule(&mut *tx, uid).await?;
        db::delete_empty_groups(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pauses (its alerts resolve at the next evaluation) or resumes a rule.
    pub async fn set_paused(&self, uid: &str, paused: bool) -> Result<RuleSummary, ApiError> {
        if !db::set_paused(&self.pool, uid, paused).await? {
            return Err(ApiError::not_found(format!("no alert rule \"{uid}\"")));
        }
        self.rule(uid).await
    }

    /// Every group with its rules, by folder and name.
    pub async fn groups(&self) -> Result<Vec<(db::GroupRow, Vec<Rule>)>, ApiError> {
        let groups = db::select_groups(&self.pool).await?;
        let rules = db::select_rules(&self.pool).await?;
        Ok(groups
            .into_iter()
            .map(|g| {
                let of_group = rules
                    .iter()
                    .filter(|r| r.group_id == g.id)
                    .map(rule_of)
                    .collect();
                (g, of_group)
            })
            .collect())
    }

    /// One group as the API shapes it.
    pub fn group_model(group: &db::GroupRow, rules: Vec<Rule>) -> RuleGroup {
        RuleGroup {
            folder: group.folder.clone(),
            name: group.name.clone(),
            interval: duration_text(group.interval_ms),
            rules,
            source: source_of(&group.source),
        }
    }

    /// Every rule with its state, health and how often it fired in the last 7 days.
    pub async fn rules(&self) -> Result<Vec<RuleSummary>, ApiError> {
        let groups = db::select_groups(&self.pool).await?;
        let rows = db::select_rules(&self.pool).await?;
        let instances = db::select_all_instances(&self.pool).await?;
        let fired: BTreeMap<String, i64> =
            db::select_fired_counts(&self.pool, Utc::now() - Duration::days(7))
                .await?
                .into_iter()
                .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(group) = groups.iter().find(|g| g.id == row.group_id) else {
                continue;
            };
            let mine = instances.iter().filter(|i| i.rule_uid == row.uid);
            let (mut firing, mut pending, mut nodata) = (0, 0, false);
            for i in mine {
                match AlertState::parse(&i.state) {
                    Some(AlertState::Firing) => firing += 1,
                    Some(AlertState::Pending) => pending += 1,
                    Some(AlertState::NoData) => nodata = true,
                    _ => {}
                }
            }
            let state = if firing > 0 {
                AlertState::Firing
            } else if pending > 0 {
                AlertState::Pending
            } else if nodata {
                AlertState::NoData
            } else {
                AlertState::Inactive
            };
            out.push(RuleSummary {
                rule: rule_of(row),
                folder: group.folder.clone(),
                group: group.name.clone(),
                interval: duration_text(group.interval_ms),
                source: source_of(&group.source),
                state,
                firing,
                pending,
                health: match (&row.last_eval_at, &row.last_error) {
                    (None, _) => RuleHealth::Unknown,
                    (Some(_), Some(_)) => RuleHealth::Error,
                    (Some(_), None) => RuleHealth::Ok,
                },
                last_evaluation: row.last_eval_at,
                evaluation_ms: row.last_eval_ms,
                last_error: row.last_error.clone(),
                fired_7d: fired.get(&row.uid).copied().unwrap_or(0) as u64,
            });
        }
        out.sort_by(|a, b| {
            (&a.folder, &a.group, &a.rule.name).cmp(&(&b.folder, &b.group, &b.rule.name))
        });
        Ok(out)
    }

    pub async fn rule(&self, uid: &str) -> Result<RuleSummary, ApiError> {
        self.rules()
            .await?
            .into_iter()
            .find(|r| r.rule.uid == uid)
            .ok_or_else(|| ApiError::not_found(format!("no alert rule \"{uid}\"")))
    }

    /// The live alerts `folders` may see: pending, firing and without data, the portal's own
    /// (of rules in folders it sees) and the ones other tools sent, each marked with the
    /// silences and the alerts muting it.
    pub async fn alerts(&self, folders: &FolderAccess) -> Result<Vec<Alert>, ApiError> {
        let held = self.held().await?;
        let muting = self.muting(&held).await?;
        let rows = db::select_rules(&self.pool).await?;
        let shown = Shown::of(folders, &db::select_groups(&self.pool).await?, &rows);
        let names: BTreeMap<&str, &str> = rows
            .iter()
            .map(|r| (r.uid.as_str(), r.name.as_str()))
            .collect();
        let mut alerts: Vec<Alert> = held
            .instances
            .into_iter()
            .filter_map(|i| {
                let state = AlertState::parse(&i.state)?;
                if state == AlertState::Inactive || !shown.alert_of(&i.rule_uid) {
                    return None;
                }
                let labels = labels_of(&i.labels);
                let silenced_by = muting.silenced_by(&labels);
                let inhibited_by = muting
                    .inhibited_by(i.fingerprint, &labels)
                    .into_iter()
                    .map(|(_, l)| muting::alert_text(l))
                    .collect();
                let rule_name = match names.get(i.rule_uid.as_str()) {
                    Some(name) => name.to_string(),
                    None => labels.get(ALERTNAME).cloned().unwrap_or_default(),
                };
                Some(Alert {
                    rule_name,
                    source_url: held
                        .sources
                        .get(&i.fingerprint)
                        .cloned()
                        .unwrap_or_default(),
                    rule_uid: i.rule_uid,
                    annotations: labels_of(&i.annotations),
                    state,
                    active_at: i.active_at,
                    fired_at: i.fired_at,
                    value: i.value,
                    silenced: !silenced_by.is_empty(),
                    silenced_by,
                    inhibited_by,
                    labels,
                })
            })
            .collect();
        alerts.sort_by(|a, b| {
            (a.state, a.active_at)
                .cmp(&(b.state, b.active_at))
                .reverse()
        });
        Ok(alerts)
    }

    /// A rule's state changes over a range, and what they add up to.
    pub async fn history(
        &self,
        uid: &str,
        start: chrono::DateTime<Utc>,
        end: chrono::DateTime<Utc>,
    ) -> Result<RuleHistory, ApiError> {
        if db::select_rule(&self.pool, uid).await?.is_none() {
            return Err(ApiError::not_found(format!("no alert rule \"{uid}\"")));
        }
        if end < start {
            return Err(ApiError::invalid("end", "must not be before start"));
        }
        let rows = db::select_changes(&self.pool, uid, start, end, HISTORY_LIMIT + 1).await?;
        let truncated = rows.len() as i64 > HISTORY_LIMIT;
        let (times_fired, mttr, top) =
            db::select_history_stats(&self.pool, uid, start, end).await?;
        Ok(RuleHistory {
            changes: rows
                .into_iter()
                .take(HISTORY_LIMIT as usize)
                .map(|r| StateChange {
                    rule_uid: r.rule_uid,
                    labels: labels_of(&r.labels),
                    at: r.at,
                    from: AlertState::parse(&r.from_state).unwrap_or(AlertState::Inactive),
                    to: AlertState::parse(&r.to_state).unwrap_or(AlertState::Inactive),
                    value: r.value,
                })
                .collect(),
            times_fired: times_fired as u64,
            mean_time_to_resolve_seconds: mttr,
            top_labels: top.into_iter().map(|(k, v, n)| (k, v, n as u64)).collect(),
            truncated,
        })
    }

    /// What a rule would have done over a range (default the last 24 hours).
    pub async fn preview(&self, request: PreviewRequest) -> Result<Preview, ApiError> {
        let PreviewRequest {
            rule,
            interval,
            start,
            end,
        } = request;
        self.check_rule(&rule)?;
        let interval_ms = app::api::alerting::duration_field("interval", &interval)
            .map_err(invalid)?
            .max(1000);
        let now = Utc::now().timestamp_millis();
        let end = end.unwrap_or(now);
        let start = start.unwrap_or(end - 86_400_000);
        if end <= start {
            return Err(ApiError::invalid("end", "must be after start"));
        }
        if end - start > 31 * 86_400_000 {
            return Err(ApiError::invalid(
                "start",
                "a preview covers at most 31 days",
            ));
        }
        let step = evaluate::preview_step(interval_ms, end - start);
        // Evaluations fall on the interval's grid, as the scheduler's do.
        let start = match start.rem_euclid(step) {
            0 => start,
            rem => start - rem + step,
        };
        let range = QueryRange::new(start, end, step)?;
        let source = self.source(&rule)?;
        Ok(evaluate::preview(&source, &rule, range, &self.external_url).await?)
    }

    /// What `rule`'s query is read through.
    pub(crate) fn source(
        &self,
        rule: &Rule,
    ) -> Result<evaluate::Source<'_>, evaluate::SourceError> {
        Ok(match rule.signal {
            Signal::Metrics => {
                evaluate::Source::Metrics(&self.queries, self.queries.parse(&rule.query)?)
            }
            Signal::Logs => evaluate::Source::Logs(
                &self.logs,
                crate::logs::loki_query::parse_count_query(&rule.query)?,
            ),
        })
    }
}
