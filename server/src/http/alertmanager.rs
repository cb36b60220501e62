//! Alertmanager's v2 API, with its JSON shapes and status codes, so `amtool`, a Prometheus
//! pointed at the portal as its Alertmanager, and other Alertmanager clients work against it:
//! `GET /api/v2/status`, `GET /api/v2/receivers`, `GET/POST /api/v2/alerts`,
//! `GET /api/v2/alerts/groups`, `GET/POST /api/v2/silences`, `GET/DELETE /api/v2/silence/{id}`.
//! Recurring maintenance windows show as silences spanning their running (or next) window.

use super::{access::Folders, params::Params, AppState};
use crate::{
    alerting::{
        muting::{FiringAlert, PostedAlert},
        Alerting,
    },
    error::ApiError,
};
use app::api::{
    alerting::{parse_matchers, LabelMatcher, MatchOp},
    silences::{SaveSilence, Silence},
};
use app::format::timestamp;
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When this process started answering (the status' uptime).
static STARTED: std::sync::LazyLock<DateTime<Utc>> = std::sync::LazyLock::new(Utc::now);

pub fn router() -> Router<AppState> {
    std::sync::LazyLock::force(&STARTED);
    Router::new()
        .route("/api/v2/status", get(status))
        .route("/api/v2/receivers", get(receivers))
        .route("/api/v2/alerts", get(list_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(alert_groups))
        .route("/api/v2/silences", get(list_silences).post(post_silence))
        .route(
            "/api/v2/silence/{id}",
            get(get_silence).delete(delete_silence),
        )
}

/// Alertmanager answers errors as a JSON string with the status code.
struct AmError(ApiError);

impl<E: Into<ApiError>> From<E> for AmError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for AmError {
    fn into_response(self) -> Response {
        let status = match self.0.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            other => other,
        };
        let retry_after = match &self.0 {
            ApiError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let body = self.0.body();
        let message = match body.error.field {
            Some(field) => format!("{field}: {}", body.error.message),
            None => body.error.message,
        };
        let mut response = (status, Json(message)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmMatcher {
    name: String,
    value: String,
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

impl From<&LabelMatcher> for AmMatcher {
    fn from(m: &LabelMatcher) -> Self {
        Self {
            name: m.name.clone(),
            value: m.value.clone(),
            is_regex: matches!(m.op, MatchOp::Regex | MatchOp::NotRegex),
            is_equal: matches!(m.op, MatchOp::Equal | MatchOp::Regex),
        }
    }
}

impl From<AmMatcher> for LabelMatcher {
    fn from(m: AmMatcher) -> Self {
        let op = match (m.is_regex, m.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Self {
            name: m.name,
            op,
            value: m.value,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableSilence {
    id: String,
    status: SilenceStatus,
    updated_at: String,
    comment: String,
    created_by: String,
    ends_at: String,
    starts_at: String,
    matchers: Vec<AmMatcher>,
}

#[derive(Serialize)]
struct SilenceStatus {
    state: &'static str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<AmMatcher>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    created_by: String,
    #[serde(default)]
    comment: String,
}

fn gettable(s: &Silence) -> GettableSilence {
    // A recurring window is what it mutes now, or next.
    let (starts_at, ends_at) = match (&s.schedule, s.occurrences.first()) {
        (Some(_), Some(w)) if s.state != app::api::silences::SilenceState::Expired => {
            (w.starts_at, w.ends_at)
        }
        _ => (s.starts_at, s.ends_at),
    };
    GettableSilence {
        id: s.id.clone(),
        status: SilenceStatus {
            state: s.state.as_str(),
        },
        updated_at: timestamp(s.updated_at),
        comment: s.comment.clone(),
        created_by: s.created_by.clone(),
        ends_at: timestamp(ends_at),
        starts_at: timestamp(starts_at),
        matchers: s.matchers.iter().map(AmMatcher::from).collect(),
    }
}

/// `filter=` matchers narrow the list to silences that have an equal matcher for each.
async fn list_silences(
    State(alerting): State<Alerting>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<GettableSilence>>, AmError> {
    let params = Params::new(query, &[]);
    let mut filters = Vec::new();
    for f in params.all("filter") {
        filters.extend(parse_matchers(f).map_err(|e| ApiError::bad_request("filter", e))?);
    }
    let silences = alerting.silences(true).await?;
    Ok(Json(
        silences
            .iter()
            .filter(|s| filters.iter().all(|f| s.matchers.contains(f)))
            .map(gettable)
            .collect(),
    ))
}

async fn post_silence(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AmError> {
    let posted: PostableSilence = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("body", format!("not a silence: {e}")))?;
    if !posted.id.is_empty() {
        if let Ok(old) = alerting.silence(&posted.id).await {
            if old.schedule.is_some() {
                return Err(ApiError::invalid(
                    "id",
                    "this silence is a recurring maintenance window: change it on the portal's Silences page or through /api/alerting/silences",
                )
                .into());
            }
        }
    }
    let id = alerting
        .save_silence(SaveSilence {
            id: posted.id,
            matchers: posted
                .matchers
                .into_iter()
                .map(LabelMatcher::from)
                .collect(),
            starts_at: posted.starts_at,
            ends_at: posted.ends_at,
            created_by: posted.created_by,
            comment: posted.comment,
            schedule: None,
            notify: String::new(),
        })
        .await?;
    Ok(Json(serde_json::json!({ "silenceID": id })))
}

async fn get_silence(
    State(alerting): State<Alerting>,
    Path(id): Path<String>,
) -> Result<Json<GettableSilence>, AmError> {
    Ok(Json(gettable(&alerting.silence(&id).await?)))
}

async fn delete_silence(
    State(alerting): State<Alerting>,
    Path(id): Path<String>,
) -> Result<StatusCode, AmError> {
    alerting.expire_silence(&id).await?;
    Ok(StatusCode::OK)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    cluster: ClusterStatus,
    config: ConfigStatus,
    uptime: String,
    version_info: VersionInfo,
}

#[derive(Serialize)]
struct ClusterStatus {
    peers: Vec<serde_json::Value>,
    status: &'static str,
}

#[derive(Serialize)]
struct ConfigStatus {
    original: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionInfo {
    branch: String,
    build_date: String,
    build_user: String,
    go_version: String,
    revision: String,
    version: String,
}

/// The status: no cluster (replicas share PostgreSQL instead), the routing tree, receivers
/// and inhibition rules as the configuration (JSON, which YAML readers read too).
async fn status(State(alerting): State<Alerting>) -> Result<Json<Status>, AmError> {
    let policy = alerting.policy().await?;
    let receivers: Vec<serde_json::Value> = alerting
        .contact_points()
        .await?
        .iter()
        .map(|p| serde_json::json!({ "name": p.name }))
        .collect();
    let config = serde_json::json!({
        "route": policy.root,
        "receivers": receivers,
        "inhibit_rules": alerting.inhibit_rules().await?,
    });
    Ok(Json(Status {
        cluster: ClusterStatus {
            peers: Vec::new(),
            status: "disabled",
        },
        config: ConfigStatus {
            original: serde_json::to_string_pretty(&config).unwrap_or_default(),
        },
        uptime: timestamp(*STARTED),
        version_info: VersionInfo {
            branch: String::new(),
            build_date: String::new(),
            build_user: String::new(),
            go_version: String::new(),
            revision: String::new(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
    }))
}

#[derive(Serialize, Clone)]
struct Receiver {
    name: String,
}

async fn receivers(State(alerting): State<Alerting>) -> Result<Json<Vec<Receiver>>, AmError> {
    Ok(Json(
        alerting
            .contact_points()
            .await?
            .into_iter()
            .map(|p| Receiver { name: p.name })
            .collect(),
    ))
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct AlertStatus {
    inhibited_by: Vec<String>,
    silenced_by: Vec<String>,
    state: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct GettableAlert {
    annotations: BTreeMap<String, String>,
    ends_at: String,
    fingerprint: String,
    receivers: Vec<Receiver>,
    starts_at: String,
    status: AlertStatus,
    updated_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    generator_url: String,
    labels: BTreeMap<String, String>,
}

fn hex(fp: i64) -> String {
    format!("{:016x}", fp as u64)
}

fn gettable_alert(a: &FiringAlert) -> GettableAlert {
    let mut receivers: Vec<Receiver> = Vec::new();
    for m in &a.routes {
        if !receivers.iter().any(|r| r.name == m.receiver) {
            receivers.push(Receiver {
                name: m.receiver.clone(),
            });
        }
    }
    let muted = !a.silenced_by.is_empty() || !a.inhibited_by.is_empty();
    GettableAlert {
        annotations: a.annotations.clone(),
        ends_at: timestamp(a.ends_at),
        fingerprint: hex(a.fingerprint),
        receivers,
        starts_at: timestamp(a.starts_at),
        status: AlertStatus {
            inhibited_by: a.inhibited_by.iter().map(|fp| hex(*fp)).collect(),
            silenced_by: a.silenced_by.clone(),
            state: if muted { "suppressed" } else { "active" },
        },
        updated_at: timestamp(a.updated_at),
        generator_url: a.generator_url.clone(),
        labels: a.labels.clone(),
    }
}

/// The filters of `GET /api/v2/alerts` and `/alerts/groups`.
struct AlertFilter {
    matchers: Vec<LabelMatcher>,
    active: bool,
    silenced: bool,
    inhibited: bool,
    receiver: Option<regex::Regex>,
}

fn flag(params: &Params, name: &str) -> Result<bool, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(true),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::bad_request(
            name,
            format!("\"{other}\" is not true or false"),
        )),
    }
}

impl AlertFilter {
    fn parse(query: Option<String>) -> Result<Self, ApiError> {
        let params = Params::new(query, &[]);
        let mut matchers = Vec::new();
        for f in params.all("filter") {
            matchers.extend(parse_matchers(f).map_err(|e| {
                ApiError::bad_request("filter", format!("bad matcher format: {e}"))
            })?);
        }
        crate::alerting::notify::check_matchers(&matchers, "filter")?;
        // Alertmanager has no "unprocessed" state here: alerts are routed as they arrive.
        flag(&params, "unprocessed")?;
        let receiver = match params.get("receiver").filter(|r| !r.is_empty()) {
            None => None,
            Some(r) => Some(regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                ApiError::bad_request("receiver", format!("bad regular expression: {e}"))
            })?),
        };
        Ok(Self {
            matchers,
            active: flag(&params, "active")?,
            silenced: flag(&params, "silenced")?,
            inhibited: flag(&params, "inhibited")?,
            receiver,
        })
    }

    fn keeps(&self, a: &FiringAlert) -> bool {
        if !crate::alerting::silences::matches(&self.matchers, &a.labels) {
            return false;
        }
        if let Some(re) = &self.receiver {
            if !a.routes.iter().any(|m| re.is_match(&m.receiver)) {
                return false;
            }
        }
        let silenced = !a.silenced_by.is_empty();
        let inhibited = !a.inhibited_by.is_empty();
        (self.silenced || !silenced)
            && (self.inhibited || !inhibited)
            && (self.active || silenced || inhibited)
    }
}

async fn list_alerts(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<GettableAlert>>, AmError> {
    let filter = AlertFilter::parse(query)?;
    Ok(Json(
        alerting
            .firing(&folders)
            .await?
            .iter()
            .filter(|a| filter.keeps(a))
            .map(gettable_alert)
            .collect(),
    ))
}

/// Takes alerts (a Prometheus sends them here when configured with the portal as its
/// Alertmanager): checked whole, then grouped, silenced, inhibited, routed and notified like
/// the portal's own.
async fn post_alerts(State(alerting): State<Alerting>, body: Bytes) -> Result<StatusCode, AmError> {
    let posted: Vec<PostedAlert> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("body", format!("not a list of alerts: {e}")))?;
    alerting.receive(posted).await?;
    Ok(StatusCode::OK)
}

#[derive(Serialize)]
struct AlertGroup {
    alerts: Vec<GettableAlert>,
    labels: BTreeMap<String, String>,
    receiver: Receiver,
}

/// The firing alerts by aggregation group (route and `group_by` values), as the notifier
/// gathers them.
async fn alert_groups(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<AlertGroup>>, AmError> {
    let filter = AlertFilter::parse(query)?;
    let mut groups: BTreeMap<(String, String, String), AlertGroup> = BTreeMap::new();
    for a in alerting
        .firing(&folders)
        .await?
        .iter()
        .filter(|a| filter.keeps(a))
    {
        let shown = gettable_alert(a);
        for m in &a.routes {
            if filter
                .receiver
                .as_ref()
                .is_some_and(|re| !re.is_match(&m.receiver))
            {
                continue;
            }
            let labels = crate::alerting::notify::group_labels(m, &a.labels);
            let key = (m.path.clone(), m.receiver.clone(), format!("{labels:?}"));
            groups
                .entry(key)
                .or_insert_with(|| AlertGroup {
                    alerts: Vec::new(),
                    labels,
                    receiver: Receiver {
                        name: m.receiver.clone(),
                    },
                })
                .alerts
                .push(shown.clone());
        }
    }
    Ok(Json(groups.into_values().collect()))
}
