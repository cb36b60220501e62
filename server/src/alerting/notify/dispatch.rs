//! The dispatcher: every second, on the one replica holding the "alert-notifier" lock, firing
//! and resolved alerts are routed, gathered into aggregation groups (route × `group_by`
//! values) and flushed as Alertmanager does: the first notification `group_wait` after the
//! group appears, then at most every `group_interval` when its alerts changed, and every
//! `repeat_interval` while it fires unchanged; resolved alerts are told once. Each group's
//! state and the notification-log entry are committed together before delivery starts, so a
//! notification is sent once even when another replica takes over.

use super::{
    group_labels, routes_of,
    send::{self, Message, Notification, NotifiedAlert},
    Matched,
};
use crate::{
    alerting::{labels_of, Alerting},
    error::ApiError,
    store::alerting::{self as db, InstanceRow, NotificationGroupRow},
};
use app::api::alerting::{ContactPoint, Rule, TestOutcome};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tokio_util::sync::CancellationToken;

/// The worker's name (and advisory lock).
pub const WORKER: &str = "alert-notifier";
pub const TICK: std::time::Duration = std::time::Duration::from_secs(1);
/// How long before a silence's window ends its contact point is told (at most half the
/// window).
pub const ENDING_NOTICE: Duration = Duration::minutes(10);

/// Delivers notifications; one per portal, its passes run by the supervisor.
#[derive(Clone)]
pub struct Dispatcher {
    alerting: Alerting,
    client: reqwest::Client,
    stop: CancellationToken,
}

/// Which notice of a running window is due at `now`: "ending" from `ENDING_NOTICE` before its
/// end (half the window when it is shorter than twice that), "started" before.
fn notice_due(window: app::api::silences::Window, now: DateTime<Utc>) -> &'static str {
    let lead = ENDING_NOTICE.min((window.ends_at - window.starts_at) / 2);
    if now >= window.ends_at - lead {
        "ending"
    } else {
        "started"
    }
}

/// What a notified alert links to: its rule, or the tool that sent it.
struct Links<'a> {
    rules: &'a HashMap<String, Rule>,
    sources: &'a HashMap<i64, String>,
    secret: &'a [u8],
}

/// The alerts of one aggregation group at this pass.
struct Current {
    matched: Matched,
    group_labels: BTreeMap<String, String>,
    alerts: Vec<InstanceRow>,
}

fn group_key(m: &Matched, labels: &BTreeMap<String, String>) -> String {
    let text = labels
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(",");
    format!("{}/{}:{{{text}}}", m.path, m.receiver)
}

/// The one HTTP client notifications go out with (the dispatcher's and "send test"): its own
/// user agent, and no redirects followed (a receiver's redirect is its answer, not a new target).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("portal-alerting")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

impl Dispatcher {
    pub fn new(alerting: Alerting, stop: CancellationToken) -> Self {
        Self {
            alerting,
            client: client(),
            stop,
        }
    }

    /// One pass over every aggregation group.
    pub async fn pass(&self) -> anyhow::Result<()> {
        let a = &self.alerting;
        let policy = a.policy().await?;
        let points: HashMap<String, ContactPoint> = a
            .contact_points()
            .await?
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        let rules: HashMap<String, Rule> = db::select_rules(&a.pool)
            .await?
            .into_iter()
            .map(|r| (r.uid.clone(), crate::alerting::rule_of(&r)))
            .collect();
        let silences = a.active_silences().await?;
        self.silence_notices(&points, &silences).await?;
        if policy.root.receiver.is_empty()
            && policy.root.routes.is_empty()
            && rules.values().all(|r| r.contact_point.is_none())
        {
            return Ok(());
        }
        let held = a.held().await?;
        let muting = a.muting_with(&held, silences).await?;
        let mut current: BTreeMap<String, Current> = BTreeMap::new();
        for instance in held.instances {
            if !matches!(instance.state.as_str(), "firing" | "inactive") {
                continue;
            }
            let labels = labels_of(&instance.labels);
            // A silenced or inhibited alert is not notified (nor its resolution) while muted.
            if muting.muted(instance.fingerprint, &labels) {
                continue;
            }
            let rule = rules.get(&instance.rule_uid);
            for m in routes_of(&policy.root, rule, &instance.rule_uid, &labels) {
                let group_labels = group_labels(&m, &labels);
                let key = group_key(&m, &group_labels);
                current
                    .entry(key)
                    .or_insert_with(|| Current {
                        matched: m,
                        group_labels,
                        alerts: Vec::new(),
                    })
                    .alerts
                    .push(instance.clone());
            }
        }
        let mut stored: HashMap<String, NotificationGroupRow> =
            db::select_notification_groups(&a.pool)
                .await?
                .into_iter()
                .map(|g| (g.group_key.clone(), g))
                .collect();
        let now = Utc::now();
        let secret = a.image_secret().await?;
        let links = Links {
            rules: &rules,
            sources: &held.sources,
            secret: &secret,
        };
        for (key, cur) in current {
            let row = stored.remove(&key);
            self.flush(key, cur, row, now, &points, &links).await?;
        }
        // Groups whose alerts are gone (rule deleted, resolution forgotten) end.
        for key in stored.keys() {
            db::delete_notification_group(&a.pool, key).await?;
        }
        Ok(())
    }

    async fn flush(
        &self,
        key: String,
        cur: Current,
        row: Option<NotificationGroupRow>,
        now: DateTime<Utc>,
        points: &HashMap<String, ContactPoint>,
        links: &Links<'_>,
    ) -> anyhow::Result<()> {
        let pool = &self.alerting.pool;
        let m = &cur.matched;
        let notified: BTreeMap<String, String> = row
            .as_ref()
            .map(|r| serde_json::from_value(r.notified.clone()).unwrap_or_default())
            .unwrap_or_default();
        let firing: Vec<&InstanceRow> = cur.alerts.iter().filter(|i| i.state == "firing").collect();
        let resolved: Vec<&InstanceRow> = cur
            .alerts
            .iter()
            .filter(|i| {
                i.state == "inactive"
                    && notified.get(&i.fingerprint.to_string()).map(String::as_str)
                        == Some("firing")
            })
            .collect();
        let Some(row) = row else {
            if firing.is_empty() {
                // Resolved before anyone was told: nothing to say.
                return Ok(());
            }
            let new = NotificationGroupRow {
                group_key: key,
                receiver: m.receiver.clone(),
                labels: serde_json::to_value(&cur.group_labels)?,
                next_flush_at: now + Duration::milliseconds(m.group_wait_ms),
                last_sent_at: None,
                notified: serde_json::json!({}),
            };
            db::upsert_notification_group(pool, &new).await?;
            if m.group_wait_ms > 0 {
                return Ok(());
            }
            return Box::pin(self.flush(new.group_key.clone(), cur, Some(new), now, points, links))
                .await;
        };
        if now < row.next_flush_at {
            return Ok(());
        }
        let firing_now: BTreeSet<String> =
            firing.iter().map(|i| i.fingerprint.to_string()).collect();
        let firing_told: BTreeSet<String> = notified
            .iter()
            .filter(|(_, s)| *s == "firing")
            .map(|(f, _)| f.clone())
            .collect();
        let done = firing.is_empty();
        let send_resolved = points.get(&m.receiver).is_none_or(|p| p.send_resolved);
        let changed = if send_resolved {
            firing_now != firing_told || !resolved.is_empty()
        } else {
            // As Alertmanager: a receiver not told of resolutions hears of a group again only
            // when an alert it was not told of fires (or every alert is gone, which clears
            // the group without a message).
            !firing_now.is_subset(&firing_told) || (done && !firing_told.is_empty())
        };
        let repeat_due = !firing.is_empty()
            && row
                .last_sent_at
                .is_none_or(|t| now - t >= Duration::milliseconds(m.repeat_interval_ms));
        let mut next = NotificationGroupRow {
            next_flush_at: now + Duration::milliseconds(m.group_interval_ms),
            notified: serde_json::to_value(
                firing_now
                    .iter()
                    .map(|f| (f.clone(), "firing"))
                    .collect::<BTreeMap<_, _>>(),
            )?,
            ..row.clone()
        };
        if !(changed || repeat_due) {
            return Ok(());
        }
        if done && resolved.is_empty() {
            // Its alerts went quiet without anything to tell (silenced, or forgotten).
            db::delete_notification_group(pool, &row.group_key).await?;
            return Ok(());
        }
        next.last_sent_at = Some(now);
        let point = points.get(&m.receiver);
        let message = point.filter(|p| !done || p.send_resolved).map(|p| {
            let alerts = firing
                .iter()
                .chain(resolved.iter().filter(|_| p.send_resolved))
                .map(|i| self.notified_alert(i, links, now))
                .collect();
            let n = Notification {
                receiver: m.receiver.clone(),
                group_key: row.group_key.clone(),
                group_labels: cur.group_labels.clone(),
                alerts,
                external_url: self.alerting.external_url.clone(),
            };
            (Message::of(p, &n), n)
        });
        let mut tx = pool.begin().await?;
        let log_id = match &message {
            Some((msg, n)) => Some(
                db::insert_notification(
                    &mut *tx,
                    &n.group_key,
                    &n.receiver,
                    n.status(),
                    n.alerts.len() as i32,
                    &msg.logged(),
                    &n.rule_uids(),
                )
                .await?,
            ),
            None => None,
        };
        if done {
            db::delete_notification_group(&mut *tx, &row.group_key).await?;
        } else {
            db::upsert_notification_group(&mut *tx, &next).await?;
        }
        tx.commit().await?;
        if let (Some((msg, _)), Some(id)) = (message, log_id) {
            tokio::spawn(send::deliver_with_retries(
                pool.clone(),
                self.client.clone(),
                msg,
                id,
                self.stop.clone(),
            ));
        }
        Ok(())
    }

    /// Tells a silence's contact point when each of its windows starts and shortly before it
    /// ends, once each (claimed in the database before sending).
    async fn silence_notices(
        &self,
        points: &HashMap<String, ContactPoint>,
        silences: &[app::api::silences::Silence],
    ) -> anyhow::Result<()> {
        let a = &self.alerting;
        let now = Utc::now();
        for silence in silences {
            let Some(point) = points.get(&silence.notify) else {
                continue;
            };
            let Some(window) = silence.running(now) else {
                continue;
            };
            let kind = notice_due(window, now);
            let mut tx = a.pool.begin().await?;
            let mut claimed = false;
            for k in ["started", "ending"] {
                // An "ending" notice claims the start too: one that never went out stays quiet.
                if k == "started" || kind == "ending" {
                    let new = crate::store::silences::claim_notice(
                        &mut *tx,
                        &silence.id,
                        window.starts_at,
                        k,
                    )
                    .await?;
                    claimed |= new && k == kind;
                }
            }
            if !claimed {
                tx.rollback().await?;
                continue;
            }
            let matchers = app::api::alerting::matchers_text(&silence.matchers);
            let (name, summary) = match kind {
                "started" => (
                    "SilenceStarted",
                    format!(
                        "Silence {{{matchers}}} by {} started; it ends {}",
                        silence.created_by,
                        window.ends_at.format("%Y-%m-%d %H:%M UTC")
                    ),
                ),
                _ => (
                    "SilenceEnding",
                    format!(
                        "Silence {{{matchers}}} by {} ends at {}",
                        silence.created_by,
                        window.ends_at.format("%Y-%m-%d %H:%M UTC")
                    ),
                ),
            };
            let labels = BTreeMap::from([
                ("alertname".to_string(), name.to_string()),
                ("silence_id".to_string(), silence.id.clone()),
            ]);
            let n = Notification {
                receiver: point.name.clone(),
                group_key: format!("silence/{}:{{}}", silence.id),
                group_labels: labels.clone(),
                alerts: vec![NotifiedAlert {
                    fingerprint: 0,
                    rule_uid: String::new(),
                    firing: true,
                    labels,
                    annotations: BTreeMap::from([
                        ("summary".to_string(), summary),
                        ("description".to_string(), silence.comment.clone()),
                    ]),
                    starts_at: window.starts_at,
                    ends_at: None,
                    value: 0.0,
                    rule_url: format!("{}/alerting/silences?edit={}", a.external_url, silence.id),
                    explore_url: String::new(),
                    image_url: String::new(),
                }],
                external_url: a.external_url.clone(),
            };
            let msg = Message::of(point, &n);
            let id = db::insert_notification(
                &mut *tx,
                &n.group_key,
                &n.receiver,
                "firing",
                1,
                &msg.logged(),
                &n.rule_uids(),
            )
            .await?;
            tx.commit().await?;
            tokio::spawn(send::deliver_with_retries(
                a.pool.clone(),
                self.client.clone(),
                msg,
                id,
                self.stop.clone(),
            ));
        }
        Ok(())
    }

    fn notified_alert(
        &self,
        i: &InstanceRow,
        links: &Links<'_>,
        now: DateTime<Utc>,
    ) -> NotifiedAlert {
        let a = &self.alerting;
        let rules = links.rules;
        let firing = i.state == "firing";
        let at = i.fired_at.unwrap_or(i.active_at);
        let query = rules
            .get(&i.rule_uid)
            .map(|r| r.query.as_str())
            .unwrap_or("");
        let from = (at - Duration::hours(1)).timestamp_millis().to_string();
        let to = i
            .resolved_at
            .map(|t| t + Duration::minutes(15))
            .unwrap_or(now)
            .timestamp_millis()
            .to_string();
        NotifiedAlert {
            fingerprint: i.fingerprint,
            rule_uid: i.rule_uid.clone(),
            firing,
            labels: labels_of(&i.labels),
            annotations: labels_of(&i.annotations)
                .into_iter()
                .map(|(k, v)| {
                    // Links written relative to the portal (`/d/agent-overview`) open from a
                    // chat tool or a mailbox only when absolute.
                    let link = k.ends_with("_url") && v.starts_with('/');
                    let v = if link {
                        format!("{}{v}", a.external_url)
                    } else {
                        v
                    };
                    (k, v)
                })
                .collect(),
            starts_at: at,
            ends_at: if firing { None } else { i.resolved_at },
            value: i.value,
            rule_url: match links.sources.get(&i.fingerprint) {
                // Sent by another tool: its own link back.
                Some(url) if i.rule_uid.is_empty() => url.clone(),
                _ => format!("{}/alerting/rules/{}", a.external_url, i.rule_uid),
            },
            explore_url: format!(
                "{}/explore/metrics{}",
                a.external_url,
                app::format::query_string([
                    ("q", query),
                    ("from", from.as_str()),
                    ("to", to.as_str())
                ])
            ),
            image_url: if i.rule_uid.is_empty() {
                String::new()
            } else {
                a.image_link(links.secret, &i.rule_uid, at.timestamp_millis())
            },
        }
    }
}

impl Alerting {
    /// Sends a made-up firing alert to a contact point once, logs it, and says how it went.
    pub async fn test_contact_point(&self, point: &ContactPoint) -> Result<TestOutcome, ApiError> {
        if let Some(e) = point.validate().into_iter().next() {
            return Err(ApiError::invalid(e.field, e.message));
        }
        let now = Utc::now();
        let labels = BTreeMap::from([
            ("alertname".to_string(), "TestAlert".to_string()),
            ("severity".to_string(), "info".to_string()),
        ]);
        let n = Notification {
            receiver: point.name.clone(),
            group_key: format!("test/{}:{{}}", point.name),
            group_labels: BTreeMap::from([("alertname".into(), "TestAlert".into())]),
            alerts: vec![NotifiedAlert {
                fingerprint: 0,
                rule_uid: "test".into(),
                firing: true,
                labels,
                annotations: BTreeMap::from([(
                    "summary".to_string(),
                    "A test notification from the portal".to_string(),
                )]),
                starts_at: now,
                ends_at: None,
                value: 1.0,
                rule_url: format!("{}/alerting/rules", self.external_url),
                explore_url: format!("{}/explore/metrics", self.external_url),
                image_url: String::new(),
            }],
            external_url: self.external_url.clone(),
        };
        let message = Message::of(point, &n);
        let id = db::insert_notification(
            &self.pool,
            &n.group_key,
            &point.name,
            "test",
            1,
            &message.logged(),
            &[],
        )
        .await?;
        let result = message.deliver(&client()).await;
        let (outcome, answer) = match &result {
            Ok(a) => ("delivered", a.clone()),
            Err(e) => ("failed", e.clone()),
        };
        db::record_attempt(&self.pool, id, outcome, &answer).await?;
        Ok(TestOutcome {
            delivered: result.is_ok(),
            answer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::silences::Window;

    #[test]
    fn the_ending_notice_is_due_ten_minutes_before_the_end_or_halfway() {
        let start: DateTime<Utc> = "2026-12-06T01:00:00Z".parse().unwrap();
        let hours = Window {
            starts_at: start,
            ends_at: start + Duration::hours(2),
        };
        assert_eq!(notice_due(hours, start), "started");
        assert_eq!(notice_due(hours, start + Duration::minutes(109)), "started");
        assert_eq!(notice_due(hours, start + Duration::minutes(110)), "ending");
        let short = Window {
            starts_at: start,
            ends_at: start + Duration::minutes(6),
        };
        assert_eq!(notice_due(short, start + Duration::minutes(2)), "started");
        assert_eq!(notice_due(short, start + Duration::minutes(3)), "ending");
    }
}
