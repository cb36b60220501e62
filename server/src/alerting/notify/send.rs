//! Messages and their delivery: Alertmanager's webhook payload (version 4, with Grafana's
//! per-alert links), a Slack incoming-webhook message, a PagerDuty Events v2 event and an email
//! over SMTP. Each delivery is tried up to [`ATTEMPTS`] times with doubling waits, and every
//! attempt lands in the notification log.

use super::super::template;
use crate::store::alerting as db;
use app::api::alerting::{ContactKind, ContactPoint};
use app::format::timestamp;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::{collections::BTreeMap, time::Duration};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Tries per notification, and the wait before the second (doubled each time).
pub const ATTEMPTS: u32 = 5;
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of a receiver's answer the log keeps.
const ANSWER_BYTES: usize = 512;

/// The variables message templates have (besides `$labels` and `$value`).
pub const MESSAGE_VARS: [&str; 8] = [
    "status",
    "count",
    "firing",
    "resolved",
    "alertname",
    "groupLabels",
    "alerts",
    "receiver",
];

pub const DEFAULT_TITLE: &str =
    "[{{ $status | toUpper }}{{ $count }}] {{ $alertname }} {{ $groupLabels }}";
pub const DEFAULT_BODY: &str = "{{ $alerts }}";

/// One alert of a notification.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifiedAlert {
    pub fingerprint: i64,
    pub rule_uid: String,
    pub firing: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub value: f64,
    pub rule_url: String,
    pub explore_url: String,
    pub image_url: String,
}

/// One notification: the alerts of one aggregation group for one contact point.
#[derive(Clone, Debug)]
pub struct Notification {
    pub receiver: String,
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    pub alerts: Vec<NotifiedAlert>,
    pub external_url: String,
}

fn common(maps: Vec<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let Some((first, rest)) = maps.split_first() else {
        return BTreeMap::new();
    };
    first
        .iter()
        .filter(|(k, v)| rest.iter().all(|m| m.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn value_text(v: f64) -> String {
    if v.is_finite() {
        template::format_g(v, 6)
    } else {
        "no value".into()
    }
}

impl Notification {
    /// The rules whose alerts this carries (alerts other tools sent have none).
    pub fn rule_uids(&self) -> Vec<String> {
        let mut uids: Vec<String> = self
            .alerts
            .iter()
            .filter(|a| !a.rule_uid.is_empty())
            .map(|a| a.rule_uid.clone())
            .collect();
        uids.sort();
        uids.dedup();
        uids
    }

    pub fn firing(&self) -> usize {
        self.alerts.iter().filter(|a| a.firing).count()
    }

    pub fn status(&self) -> &'static str {
        if self.firing() > 0 {
            "firing"
        } else {
            "resolved"
        }
    }

    pub fn common_labels(&self) -> BTreeMap<String, String> {
        common(self.alerts.iter().map(|a| &a.labels).collect())
    }

    pub fn common_annotations(&self) -> BTreeMap<String, String> {
        common(self.alerts.iter().map(|a| &a.annotations).collect())
    }

    /// The variables message templates see.
    fn vars(&self) -> BTreeMap<&'static str, String> {
        let firing = self.firing();
        let resolved = self.alerts.len() - firing;
        let common = self.common_labels();
        let alertname = common
            .get(app::api::alerting::ALERTNAME)
            .cloned()
            .unwrap_or_else(|| "Several alerts".into());
        let group_labels = self
            .group_labels
            .iter()
            .filter(|(k, _)| *k != app::api::alerting::ALERTNAME)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut list = String::new();
        for a in &self.alerts {
            let summary = a
                .annotations
                .get("summary")
                .cloned()
                .unwrap_or_else(|| a.labels.get("alertname").cloned().unwrap_or_default());
            let labels = a
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            list.push_str(&format!(
                "[{}] {summary}\n  value: {}\n  labels: {labels}\n",
                if a.firing { "FIRING" } else { "RESOLVED" },
                value_text(a.value),
            ));
            if let Some(d) = a.annotations.get("description") {
                list.push_str(&format!("  {d}\n"));
            }
            if let Some(r) = a.annotations.get("runbook_url") {
                list.push_str(&format!("  runbook: {r}\n"));
            }
            list.push_str(&format!(
                "  rule: {}\n  explore: {}\n",
                a.rule_url, a.explore_url
            ));
            if let Some(d) = a.annotations.get("dashboard_url") {
                list.push_str(&format!("  dashboard: {d}\n"));
            }
            if !a.image_url.is_empty() {
                list.push_str(&format!("  chart: {}\n", a.image_url));
            }
        }
        BTreeMap::from([
            ("status", self.status().to_string()),
            (
                "count",
                if firing > 0 {
                    format!(":{firing}")
                } else {
                    String::new()
                },
            ),
            ("firing", firing.to_string()),
            ("resolved", resolved.to_string()),
            ("alertname", alertname),
            (
                "groupLabels",
                if group_labels.is_empty() {
                    String::new()
                } else {
                    format!("({group_labels})")
                },
            ),
            ("alerts", list.trim_end().to_string()),
            ("receiver", self.receiver.clone()),
        ])
    }

    /// The title and body from the contact point's templates (or the defaults).
    pub fn texts(&self, point: &ContactPoint) -> (String, String) {
        let vars = self.vars();
        let labels = self.common_labels();
        let ctx = template::Context {
            labels: &labels,
            value: self.alerts.first().map_or(f64::NAN, |a| a.value),
            external_url: &self.external_url,
            vars: &vars,
        };
        let pick = |custom: &str, default: &str| {
            let text = if custom.trim().is_empty() {
                default
            } else {
                custom
            };
            template::expand(text, &ctx).unwrap_or_else(|e| format!("<template error: {e}>"))
        };
        (
            pick(&point.title_template, DEFAULT_TITLE)
                .trim()
                .to_string(),
            pick(&point.body_template, DEFAULT_BODY),
        )
    }

    /// Alertmanager's webhook payload (version 4), with Grafana's `title`, `message` and
    /// per-alert `values`, `ruleURL`, `exploreURL`, `imageURL` and `dashboardURL`.
    pub fn webhook(&self, point: &ContactPoint, max_alerts: u32) -> Value {
        let (title, message) = self.texts(point);
        let limit = if max_alerts == 0 {
            usize::MAX
        } else {
            max_alerts as usize
        };
        let alerts: Vec<Value> = self
            .alerts
            .iter()
            .take(limit)
            .map(|a| {
                json!({
                    "status": if a.firing { "firing" } else { "resolved" },
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": timestamp(a.starts_at),
                    "endsAt": a.ends_at.map(timestamp).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
                    "generatorURL": a.rule_url,
                    "fingerprint": format!("{:016x}", a.fingerprint as u64),
                    "values": { "A": if a.value.is_finite() { json!(a.value) } else { Value::Null } },
                    "valueString": value_text(a.value),
                    "ruleURL": a.rule_url,
                    "exploreURL": a.explore_url,
                    "imageURL": a.image_url,
                    "dashboardURL": a.annotations.get("dashboard_url").cloned().unwrap_or_default(),
                })
            })
            .collect();
        json!({
            "version": "4",
            "groupKey": self.group_key,
            "truncatedAlerts": self.alerts.len().saturating_sub(limit),
            "status": self.status(),
            "receiver": self.receiver,
            "groupLabels": self.group_labels,
            "commonLabels": self.common_labels(),
            "commonAnnotations": self.common_annotations(),
            "externalURL": self.external_url,
            "alerts": alerts,
            "title": title,
            "message": message,
        })
    }

    /// A Slack incoming-webhook message: the title, one attachment per alert (red while
    /// firing, green when resolved) with its chart.
    pub fn slack(&self, point: &ContactPoint, channel: &str) -> Value {
        let (title, body) = self.texts(point);
        let attachments: Vec<Value> = self
            .alerts
            .iter()
            .take(20)
            .map(|a| {
                let summary = a.annotations.get("summary").cloned().unwrap_or_default();
                let mut att = json!({
                    "color": if a.firing { "#d63232" } else { "#2eb67d" },
                    "title": format!("[{}] {}", if a.firing { "FIRING" } else { "RESOLVED" },
                                     a.labels.get("alertname").cloned().unwrap_or_default()),
                    "title_link": a.rule_url,
                    "text": format!("{summary}\nValue: {}\n<{}|Explore> · <{}|Rule>{}",
                                    value_text(a.value), a.explore_url, a.rule_url,
                                    a.annotations.get("dashboard_url")
                                        .map(|d| format!(" · <{d}|Dashboard>"))
                                        .unwrap_or_default()),
                    "fields": a.labels.iter().filter(|(k, _)| *k != "alertname")
                        .map(|(k, v)| json!({"title": k, "value": v, "short": true}))
                        .collect::<Vec<_>>(),
                    "ts": a.starts_at.timestamp(),
                });
                if !a.image_url.is_empty() {
                    att["image_url"] = json!(a.image_url);
                }
                att
            })
            .collect();
        let mut msg = json!({
            "username": "Portal",
            "text": format!("*{title}*"),
            "attachments": attachments,
        });
        if point.body_template.trim().is_empty() {
            // The attachments say it all.
        } else {
            msg["text"] = json!(format!("*{title}*\n{body}"));
        }
        if !channel.is_empty() {
            msg["channel"] = json!(channel);
        }
        msg
    }

    /// A PagerDuty Events API v2 event: trigger while anything fires, resolve after; one
    /// incident per aggregation group (its key is the dedup key).
    pub fn pagerduty(&self, point: &ContactPoint, routing_key: &str, severity: &str) -> Value {
        let (title, body) = self.texts(point);
        let first = self.alerts.first();
        let mut links = vec![];
        let mut images = vec![];
        if let Some(a) = first {
            links.push(json!({"href": a.rule_url, "text": "Alert rule"}));
            links.push(json!({"href": a.explore_url, "text": "Explore"}));
            if !a.image_url.is_empty() {
                images.push(json!({"src": a.image_url, "href": a.explore_url, "alt": "Chart"}));
            }
        }
        let summary: String = title.chars().take(1024).collect();
        json!({
            "routing_key": routing_key,
            "event_action": if self.firing() > 0 { "trigger" } else { "resolve" },
            "dedup_key": format!("{:016x}", xxhash_rust::xxh3::xxh3_64(self.group_key.as_bytes())),
            "payload": {
                "summary": summary,
                "source": self.external_url,
                "severity": severity,
                "timestamp": first.map(|a| timestamp(a.starts_at)),
                "class": self.common_labels().get("alertname").cloned().unwrap_or_default(),
                "group": self.group_labels.values().cloned().collect::<Vec<_>>().join(","),
                "custom_details": {
                    "firing": self.firing(),
                    "resolved": self.alerts.len() - self.firing(),
                    "details": body,
                    "common_labels": self.common_labels(),
                },
            },
            "client": "Portal",
            "client_url": self.external_url,
            "links": links,
            "images": images,
        })
    }

    /// An email (RFC 5322, plain text) with the title as its subject.
    pub fn email(&self, point: &ContactPoint, from: &str, to: &[String]) -> String {
        let (title, body) = self.texts(point);
        let subject: String = title.chars().filter(|c| !c.is_control()).collect();
        let date = Utc::now().to_rfc2822();
        let id = format!(
            "<{:016x}.{}@portal>",
            xxhash_rust::xxh3::xxh3_64(self.group_key.as_bytes()),
            Utc::now().timestamp_millis()
        );
        let body = body.replace("\r\n", "\n").replace('\n', "\r\n");
        format!(
            "From: {from}\r\nTo: {}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: {id}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Portal-Status: {}\r\n\r\n{body}\r\n",
            to.join(", "),
            self.status(),
        )
    }
}

/// What a contact point is sent, ready for delivery and for the log.
pub enum Message {
    Json {
        url: String,
        body: Value,
    },
    Email {
        smtp: String,
        from: String,
        to: Vec<String>,
        data: String,
    },
}

impl Message {
    pub fn of(point: &ContactPoint, n: &Notification) -> Self {
        match &point.kind {
            ContactKind::Webhook { url, max_alerts } => Self::Json {
                url: url.clone(),
                body: n.webhook(point, *max_alerts),
            },
            ContactKind::Slack { url, channel } => Self::Json {
                url: url.clone(),
                body: n.slack(point, channel),
            },
            ContactKind::Pagerduty {
                routing_key,
                url,
                severity,
            } => Self::Json {
                url: url.clone(),
                body: n.pagerduty(point, routing_key, severity),
            },
            ContactKind::Email { smtp, from, to } => Self::Email {
                smtp: smtp.clone(),
                from: from.clone(),
                to: to.clone(),
                data: n.email(point, from, to),
            },
        }
    }

    /// What the log keeps of it.
    pub fn logged(&self) -> Value {
        match self {
            Self::Json { url, body } => json!({"url": url, "body": body}),
            Self::Email { smtp, to, data, .. } => json!({"smtp": smtp, "to": to, "data": data}),
        }
    }

    /// One attempt: `Ok` with the receiver's answer, `Err` with why it failed.
    pub async fn deliver(&self, client: &reqwest::Client) -> Result<String, String> {
        match self {
            Self::Json { url, body } => {
                let response = client
                    .post(url)
                    .timeout(ATTEMPT_TIMEOUT)
                    .json(body)
                    .send()
                    .await
                    // Without the URL: a webhook's URL carries its secret.
                    .map_err(|e| format!("request failed: {}", e.without_url()))?;
                let status = response.status();
                // Only the start of the answer is kept, and only that much is read.
                let mut response = response;
                let mut body = Vec::new();
                while body.len() < ANSWER_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                let answer = format!("{status} {}", truncate(&String::from_utf8_lossy(&body)));
                if status.is_success() {
                    Ok(answer)
                } else {
                    Err(answer)
                }
            }
            Self::Email {
                smtp,
                from,
                to,
                data,
            } => tokio::time::timeout(ATTEMPT_TIMEOUT, send_mail(smtp, from, to, data))
                .await
                .map_err(|_| "the SMTP server did not answer in time".to_string())?,
        }
    }
}

fn truncate(text: &str) -> String {
    let mut end = text.len().min(ANSWER_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim().to_string()
}

/// Delivers `message` (logged as `log_id`), retrying with doubling waits until `stop`.
pub async fn deliver_with_retries(
    pool: PgPool,
    client: reqwest::Client,
    message: Message,
    log_id: i64,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut wait = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let result = message.deliver(&client).await;
        let (outcome, answer) = match &result {
            Ok(a) => ("delivered", a.clone()),
            Err(e) if attempt == ATTEMPTS => ("failed", e.clone()),
            Err(e) => ("sending", e.clone()),
        };
        if let Err(e) = db::record_attempt(&pool, log_id, outcome, &answer).await {
            tracing::warn!(error = %e, "could not record a notification attempt");
        }
        if result.is_ok() {
            return;
        }
        tracing::warn!(log_id, attempt, error = %answer, "notification not delivered");
        if attempt < ATTEMPTS {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {
                    let _ = db::record_attempt(&pool, log_id, "failed", "the portal stopped before the notification could be delivered").await;
                    return;
                }
            }
            wait *= 2;
        }
    }
}

/// Sends one email over SMTP (no authentication, no TLS: a local relay or sink).
async fn send_mail(smtp: &str, from: &str, to: &[String], data: &str) -> Result<String, String> {
    let stream = tokio::net::TcpStream::connect(smtp)
        .await
        .map_err(|e| format!("cannot connect to {smtp}: {e}"))?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    async fn reply(
        read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        expect: u16,
    ) -> Result<String, String> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = read
                .read_line(&mut line)
                .await
                .map_err(|e| format!("SMTP read failed: {e}"))?;
            if n == 0 {
                return Err("the SMTP server closed the connection".into());
            }
            if line.len() > 1_000 || text.len() > 10_000 {
                return Err("the SMTP server's answer is too long".into());
            }
            text.push_str(&line);
            // "250-..." continues, "250 ..." ends.
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        let code: u16 = text.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if code / 100 == expect / 100 {
            Ok(text.trim().to_string())
        } else {
            Err(format!("SMTP: {}", text.trim()))
        }
    }
    async fn command(
        read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        write: &mut tokio::net::tcp::OwnedWriteHalf,
        line: &str,
        expect: u16,
    ) -> Result<String, String> {
        write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| format!("SMTP write failed: {e}"))?;
        reply(read, expect).await
    }
    reply(&mut read, 220).await?;
    command(&mut read, &mut write, "EHLO portal", 250).await?;
    command(&mut read, &mut write, &format!("MAIL FROM:<{from}>"), 250).await?;
    for rcpt in to {
        command(&mut read, &mut write, &format!("RCPT TO:<{rcpt}>"), 250).await?;
    }
    command(&mut read, &mut write, "DATA", 354).await?;
    // Dot-stuffing: a line that starts with "." gets another.
    let mut stuffed = String::with_capacity(data.len() + 16);
    for line in data.split("\r\n") {
        if line.starts_with('.') {
            stuffed.push('.');
        }
        stuffed.push_str(line);
        stuffed.push_str("\r\n");
    }
    write
        .write_all(stuffed.as_bytes())
        .await
        .map_err(|e| format!("SMTP write failed: {e}"))?;
    let answer = command(&mut read, &mut write, ".", 250).await?;
    let _ = command(&mut read, &mut write, "QUIT", 221).await;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_templates_know_exactly_the_variables_messages_have() {
        let n = Notification {
            receiver: "r".into(),
            group_key: "k".into(),
            group_labels: BTreeMap::new(),
            alerts: Vec::new(),
            external_url: String::new(),
        };
        let mut known: Vec<&str> = n.vars().into_keys().collect();
        let mut declared = MESSAGE_VARS.to_vec();
        known.sort();
        declared.sort();
        assert_eq!(known, declared);
    }
}
