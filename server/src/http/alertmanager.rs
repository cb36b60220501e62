//! The silences of Alertmanager's v2 API, with its JSON shapes and status codes, so `amtool`
//! and other Alertmanager clients manage the portal's silences: `GET/POST /api/v2/silences`,
//! `GET/DELETE /api/v2/silence/{id}`.

use super::{params::Params, AppState};
use crate::{alerting::Alerting, error::ApiError};
use app::api::{
    alerting::{parse_matchers, LabelMatcher, MatchOp},
    silences::{SaveSilence, Silence},
};
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

pub fn router() -> Router<AppState> {
    Router::new()
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
        let body = self.0.body();
        let message = match body.error.field {
            Some(field) => format!("{field}: {}", body.error.message),
            None => body.error.message,
        };
        (status, Json(message)).into_response()
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

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn gettable(s: &Silence) -> GettableSilence {
    GettableSilence {
        id: s.id.clone(),
        status: SilenceStatus {
            state: s.state.as_str(),
        },
        updated_at: time(s.updated_at),
        comment: s.comment.clone(),
        created_by: s.created_by.clone(),
        ends_at: time(s.ends_at),
        starts_at: time(s.starts_at),
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
