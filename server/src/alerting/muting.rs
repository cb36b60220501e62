//! Every alert the portal notifies, its own rules' and the ones other tools send it (a
//! Prometheus using it as its Alertmanager), and what mutes each: the silences and recurring
//! windows running now, and inhibition rules.

use super::{labels_of, notify::check_matchers, silences::matches, state::fingerprint, Alerting};
use crate::{
    accounts::FolderAccess,
    error::ApiError,
    store::{
        alerting::{self as db, InstanceRow},
        silences::{self as sdb, ReceivedAlertRow},
    },
};
use app::api::{alerting::LabelMatcher, silences::InhibitRule, silences::Silence};
use chrono::{DateTime, Datelike, Duration, Utc};
use std::collections::{BTreeMap, HashMap};

/// At most this many inhibition rules.
pub const MAX_INHIBIT_RULES: usize = 200;
/// At most this many alerts in one post (Prometheus sends up to 64 per request).
pub const MAX_POSTED_ALERTS: usize = 10_000;
/// At most this many received alerts are held (firing, or resolved within the day): a sender
/// that keeps inventing labels is told to wait rather than fill the database.
pub const MAX_RECEIVED_ALERTS: i64 = 50_000;
/// Received alerts are kept this long after they resolve, for their resolution to be told.
pub const RESOLVED_KEPT: i64 = 24;
/// An alert posted without an end resolves this long after its last post, as
/// Alertmanager's `resolve_timeout` does.
pub const RESOLVE_TIMEOUT_MINUTES: i64 = 5;

/// An alert as another tool posts it (Alertmanager's `postableAlert`).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostedAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
}

/// The alerts of one pass: the portal's instances and the received ones as instances (rule
/// uid empty), with the received ones' links.
pub struct Held {
    pub instances: Vec<InstanceRow>,
    pub sources: HashMap<i64, String>,
    pub updated: HashMap<i64, DateTime<Utc>>,
    /// When each received alert ends (resolves unless posted again).
    pub ends: HashMap<i64, DateTime<Utc>>,
}

/// An inhibition rule's firing source alerts by the values of its `equal` labels.
type Sources = HashMap<Vec<String>, Vec<usize>>;

/// What mutes alerts at one moment.
pub struct Muting {
    silences: Vec<Silence>,
    /// Each inhibition rule with its firing source alerts by the values of its `equal` labels
    /// (indices into `firing`): a target is looked up, not compared with every source.
    rules: Vec<(InhibitRule, Sources)>,
    /// The firing alerts: fingerprint and labels.
    firing: Vec<(i64, BTreeMap<String, String>)>,
}

fn equal_key(rule: &InhibitRule, labels: &BTreeMap<String, String>) -> Vec<String> {
    rule.equal
        .iter()
        .map(|n| labels.get(n).cloned().unwrap_or_default())
        .collect()
}

/// `name{label="value", …}`: how an alert is named to a person.
pub fn alert_text(labels: &BTreeMap<String, String>) -> String {
    let name = labels.get("alertname").map(String::as_str).unwrap_or("");
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| *k != "alertname")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

impl Muting {
    pub fn new(
        silences: Vec<Silence>,
        rules: Vec<InhibitRule>,
        firing: Vec<(i64, BTreeMap<String, String>)>,
    ) -> Self {
        let rules = rules
            .into_iter()
            .map(|rule| {
                let mut sources = Sources::new();
                for (i, (_, labels)) in firing.iter().enumerate() {
                    if matches(&rule.source_matchers, labels) {
                        sources.entry(equal_key(&rule, labels)).or_default().push(i);
                    }
                }
                (rule, sources)
            })
            .collect();
        Self {
            silences,
            rules,
            firing,
        }
    }

    pub fn silenced_by(&self, labels: &BTreeMap<String, String>) -> Vec<String> {
        Alerting::silenced_by(&self.silences, labels)
    }

    /// The firing alerts inhibiting the alert `fp` with `labels`, as Alertmanager decides:
    /// a rule whose target matchers match it and a firing source alert (not itself) with the
    /// same values of the rule's `equal` labels (missing on both sides counts as equal).
    pub fn inhibited_by(
        &self,
        fp: i64,
        labels: &BTreeMap<String, String>,
    ) -> Vec<(i64, &BTreeMap<String, String>)> {
        let mut out: Vec<(i64, &BTreeMap<String, String>)> = Vec::new();
        for (rule, sources) in &self.rules {
            if sources.is_empty() || !matches(&rule.target_matchers, labels) {
                continue;
            }
            for &i in sources.get(&equal_key(rule, labels)).into_iter().flatten() {
                let (source_fp, source) = &self.firing[i];
                if *source_fp != fp && !out.iter().any(|(f, _)| f == source_fp) {
                    out.push((*source_fp, source));
                }
            }
        }
        out
    }

    /// Whether anything mutes the alert.
    pub fn muted(&self, fp: i64, labels: &BTreeMap<String, String>) -> bool {
        !self.silenced_by(labels).is_empty() || !self.inhibited_by(fp, labels).is_empty()
    }
}

fn rule_of(row: &sdb::InhibitRuleRow) -> InhibitRule {
    InhibitRule {
        source_matchers: serde_json::from_value(row.source_matchers.clone()).unwrap_or_default(),
        target_matchers: serde_json::from_value(row.target_matchers.clone()).unwrap_or_default(),
        equal: serde_json::from_value(row.equal.clone()).unwrap_or_default(),
        comment: row.comment.clone(),
    }
}

fn instance_of(row: ReceivedAlertRow, now: DateTime<Utc>) -> InstanceRow {
    let firing = row.ends_at > now;
    InstanceRow {
        rule_uid: String::new(),
        fingerprint: row.fingerprint,
        labels: row.labels,
        annotations: row.annotations,
        state: if firing { "firing" } else { "inactive" }.into(),
        active_at: row.starts_at,
        fired_at: Some(row.starts_at),
        last_active_at: row.updated_at,
        keep_firing_since: None,
        resolved_at: (!firing).then_some(row.ends_at),
        value: f64::NAN,
    }
}

/// A firing alert as an Alertmanager client sees it.
pub struct FiringAlert {
    pub fingerprint: i64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub generator_url: String,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<i64>,
    /// The routes it takes, in the tree's order.
    pub routes: Vec<super::notify::Matched>,
}

impl Alerting {
    /// The firing alerts, the portal's own and the received ones, with what mutes them and
    /// where they are routed.
    pub async fn firing(&self, folders: &FolderAccess) -> Result<Vec<FiringAlert>, ApiError> {
        let now = Utc::now();
        let held = self.held().await?;
        let muting = self.muting(&held).await?;
        let policy = self.policy().await?;
        let rows = db::select_rules(&self.pool).await?;
        let shown = super::Shown::of(folders, &db::select_groups(&self.pool).await?, &rows);
        let rules: HashMap<String, app::api::alerting::Rule> = rows
            .iter()
            .map(|r| (r.uid.clone(), super::rule_of(r)))
            .collect();
        let mut out = Vec::new();
        for i in held
            .instances
            .iter()
            .filter(|i| i.state == "firing" && shown.alert_of(&i.rule_uid))
        {
            let labels = labels_of(&i.labels);
            let received = i.rule_uid.is_empty();
            out.push(FiringAlert {
                fingerprint: i.fingerprint,
                silenced_by: muting.silenced_by(&labels),
                inhibited_by: muting
                    .inhibited_by(i.fingerprint, &labels)
                    .into_iter()
                    .map(|(fp, _)| fp)
                    .collect(),
                routes: super::notify::routes_of(
                    &policy.root,
                    rules.get(&i.rule_uid),
                    &i.rule_uid,
                    &labels,
                ),
                annotations: labels_of(&i.annotations),
                starts_at: i.fired_at.unwrap_or(i.active_at),
                ends_at: match received {
                    true => held.ends.get(&i.fingerprint).copied().unwrap_or(now),
                    false => now + Duration::minutes(RESOLVE_TIMEOUT_MINUTES),
                },
                updated_at: held.updated.get(&i.fingerprint).copied().unwrap_or(now),
                generator_url: match held.sources.get(&i.fingerprint) {
                    Some(url) if received => url.clone(),
                    _ => format!("{}/alerting/rules/{}", self.external_url, i.rule_uid),
                },
                labels,
            });
        }
        Ok(out)
    }

    pub async fn inhibit_rules(&self) -> Result<Vec<InhibitRule>, ApiError> {
        Ok(sdb::select_inhibit_rules(&self.pool)
            .await?
            .iter()
            .map(rule_of)
            .collect())
    }

    /// Replaces the inhibition rules, all checked first.
    pub async fn put_inhibit_rules(&self, rules: Vec<InhibitRule>) -> Result<(), ApiError> {
        if rules.len() > MAX_INHIBIT_RULES {
            return Err(ApiError::invalid(
                "rules",
                format!("at most {MAX_INHIBIT_RULES} inhibition rules"),
            ));
        }
        let mut rows = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let prefix = format!("rules[{i}]");
            if let Some(e) = rule.validate(&prefix).into_iter().next() {
                return Err(ApiError::invalid(e.field, e.message));
            }
            check_matchers(&rule.source_matchers, &format!("{prefix}.source_matchers"))?;
            check_matchers(&rule.target_matchers, &format!("{prefix}.target_matchers"))?;
            let json = |m: &Vec<LabelMatcher>| serde_json::to_value(m).unwrap_or_default();
            rows.push(sdb::InhibitRuleRow {
                id: 0,
                source_matchers: json(&rule.source_matchers),
                target_matchers: json(&rule.target_matchers),
                equal: serde_json::to_value(&rule.equal).unwrap_or_default(),
                comment: rule.comment.trim().to_string(),
            });
        }
        let mut tx = self.pool.begin().await?;
        sdb::replace_inhibit_rules(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes alerts another tool sends, each checked (all or none are stored).
    pub async fn receive(&self, posted: Vec<PostedAlert>) -> Result<(), ApiError> {
        let now = Utc::now();
        let mut rows = check_received(posted, now)?;
        // The same alert twice in one post: the later one counts.
        let mut seen = std::collections::HashSet::new();
        rows.reverse();
        rows.retain(|r| seen.insert(r.fingerprint));
        rows.reverse();
        let fingerprints: Vec<i64> = rows.iter().map(|r| r.fingerprint).collect();
        let (held, known) = sdb::count_received_alerts(&self.pool, &fingerprints).await?;
        let new = rows.len() as i64 - known;
        if new > 0 && held + new > MAX_RECEIVED_ALERTS {
            return Err(ApiError::rate_limited(
                format!(
                    "the portal holds {held} received alerts, the most it keeps is {MAX_RECEIVED_ALERTS}: resolve some or send fewer distinct label sets"
                ),
                60,
            ));
        }
        sdb::upsert_received_alerts(&self.pool, &rows).await?;
        Ok(())
    }

    /// Forgets received alerts resolved more than a day ago.
    pub async fn prune_received(&self) -> Result<u64, ApiError> {
        Ok(
            sdb::delete_received_alerts(&self.pool, Utc::now() - Duration::hours(RESOLVED_KEPT))
                .await?,
        )
    }

    /// Every alert the portal holds now: its rules' instances and the received alerts.
    pub async fn held(&self) -> Result<Held, ApiError> {
        let now = Utc::now();
        let mut instances = db::select_all_instances(&self.pool).await?;
        let mut sources = HashMap::new();
        let mut updated: HashMap<i64, DateTime<Utc>> = HashMap::new();
        let mut ends = HashMap::new();
        for i in &instances {
            updated.insert(i.fingerprint, i.last_active_at);
        }
        for row in sdb::select_received_alerts(&self.pool).await? {
            sources.insert(row.fingerprint, row.generator_url.clone());
            updated.insert(row.fingerprint, row.updated_at);
            ends.insert(row.fingerprint, row.ends_at);
            instances.push(instance_of(row, now));
        }
        Ok(Held {
            instances,
            sources,
            updated,
            ends,
        })
    }

    /// What mutes alerts now, given the alerts held.
    pub async fn muting(&self, held: &Held) -> Result<Muting, ApiError> {
        self.muting_with(held, self.active_silences().await?).await
    }

    /// The same, with the silences running now already read.
    pub async fn muting_with(
        &self,
        held: &Held,
        silences: Vec<Silence>,
    ) -> Result<Muting, ApiError> {
        Ok(Muting::new(
            silences,
            self.inhibit_rules().await?,
            held.instances
                .iter()
                .filter(|i| i.state == "firing")
                .map(|i| (i.fingerprint, labels_of(&i.labels)))
                .collect(),
        ))
    }
}

/// Checks alerts another tool posts and makes their rows, or names the first field at fault;
/// touches nothing, so it is also what the fuzz target of Alertmanager bodies drives.
pub fn check_received(
    posted: Vec<PostedAlert>,
    now: DateTime<Utc>,
) -> Result<Vec<ReceivedAlertRow>, ApiError> {
    if posted.len() > MAX_POSTED_ALERTS {
        return Err(ApiError::invalid(
            "alerts",
            format!("at most {MAX_POSTED_ALERTS} alerts in one request"),
        ));
    }
    let mut rows = Vec::with_capacity(posted.len());
    for (i, a) in posted.into_iter().enumerate() {
        let labels: BTreeMap<String, String> = a
            .labels
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if labels.is_empty() {
            return Err(ApiError::invalid(
                format!("[{i}].labels"),
                "an alert needs at least one label",
            ));
        }
        if let Some((name, _)) = labels
            .iter()
            .find(|(k, _)| !app::api::dashboard::is_label_name(k))
        {
            return Err(ApiError::invalid(
                format!("[{i}].labels"),
                format!("\"{name}\" is not a label name"),
            ));
        }
        let size: usize = labels
            .iter()
            .chain(a.annotations.iter())
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if size > 64 * 1024 {
            return Err(ApiError::invalid(
                format!("[{i}]"),
                "labels and annotations take at most 64 KiB",
            ));
        }
        // Go clients send an unset time as year 1 ("0001-01-01T00:00:00Z").
        let set = |t: Option<DateTime<Utc>>| t.filter(|t| t.year() > 1);
        // Alertmanager's defaults: an alert sent resolved started when it ended.
        let starts_at = set(a.starts_at).or(set(a.ends_at)).unwrap_or(now);
        let ends_at = set(a.ends_at).unwrap_or(now + Duration::minutes(RESOLVE_TIMEOUT_MINUTES));
        if ends_at < starts_at {
            return Err(ApiError::invalid(
                format!("[{i}].endsAt"),
                "must not be before startsAt",
            ));
        }
        rows.push(ReceivedAlertRow {
            fingerprint: fingerprint(&labels),
            labels: serde_json::to_value(&labels).unwrap_or_default(),
            annotations: serde_json::to_value(&a.annotations).unwrap_or_default(),
            starts_at,
            ends_at,
            generator_url: a.generator_url,
            updated_at: now,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::alerting::parse_matchers;

    fn labels(text: &[(&str, &str)]) -> BTreeMap<String, String> {
        text.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn muting(rules: Vec<InhibitRule>, firing: Vec<BTreeMap<String, String>>) -> Muting {
        Muting::new(
            Vec::new(),
            rules,
            firing.into_iter().map(|l| (fingerprint(&l), l)).collect(),
        )
    }

    #[test]
    fn an_agent_down_alert_mutes_that_agents_task_failures_only() {
        let rule = InhibitRule {
            source_matchers: parse_matchers("alertname=\"AgentDown\"").unwrap(),
            target_matchers: parse_matchers("alertname=\"TaskFailures\"").unwrap(),
            equal: vec!["agent".into()],
            comment: String::new(),
        };
        let down = labels(&[("alertname", "AgentDown"), ("agent", "a1")]);
        let m = muting(vec![rule.clone()], vec![down.clone()]);
        let failing_a1 = labels(&[("alertname", "TaskFailures"), ("agent", "a1")]);
        let failing_a2 = labels(&[("alertname", "TaskFailures"), ("agent", "a2")]);
        assert_eq!(
            m.inhibited_by(fingerprint(&failing_a1), &failing_a1).len(),
            1
        );
        assert!(m
            .inhibited_by(fingerprint(&failing_a2), &failing_a2)
            .is_empty());
        // Missing on both sides counts as equal.
        let no_agent = labels(&[("alertname", "TaskFailures")]);
        let m2 = muting(vec![rule], vec![labels(&[("alertname", "AgentDown")])]);
        assert_eq!(m2.inhibited_by(fingerprint(&no_agent), &no_agent).len(), 1);
        assert!(m.inhibited_by(fingerprint(&no_agent), &no_agent).is_empty());
    }

    #[test]
    fn an_alert_matching_source_and_target_does_not_inhibit_itself() {
        let rule = InhibitRule {
            source_matchers: parse_matchers("severity=\"critical\"").unwrap(),
            target_matchers: parse_matchers("severity=~\"critical|warning\"").unwrap(),
            equal: vec!["cluster".into()],
            comment: String::new(),
        };
        let critical = labels(&[
            ("alertname", "A"),
            ("severity", "critical"),
            ("cluster", "x"),
        ]);
        let m = muting(vec![rule], vec![critical.clone()]);
        assert!(m.inhibited_by(fingerprint(&critical), &critical).is_empty());
        let warning = labels(&[
            ("alertname", "B"),
            ("severity", "warning"),
            ("cluster", "x"),
        ]);
        assert!(m.muted(fingerprint(&warning), &warning));
    }
}
