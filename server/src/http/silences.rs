//! Silences over the portal's API: list (by state and matcher), create, read, change, expire,
//! and the preview of what a silence would mute.

use super::{
    access::Folders,
    params::{json_body, Params},
    AppState,
};
use crate::{
    alerting::{schedule::Compiled, Alerting},
    error::ApiError,
};
use app::api::{
    alerting::{parse_matchers, RouteQuery},
    silences::{
        InhibitRule, OccurrencesRequest, SaveSilence, Silence, SilencePreview,
        SilencePreviewRequest, SilenceState, Window,
    },
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/alerting/silences", get(list).post(create))
        .route("/api/alerting/silences/preview", post(preview))
        .route("/api/alerting/silences/matching", post(matching))
        .route("/api/alerting/silences/occurrences", post(occurrences))
        .route("/api/alerting/time-zones", get(time_zones))
        .route(
            "/api/alerting/inhibit-rules",
            get(inhibit_rules).put(put_inhibit_rules),
        )
        .route(
            "/api/alerting/silences/{id}",
            get(read).put(update).delete(expire),
        )
}

async fn list(
    State(alerting): State<Alerting>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Silence>>, ApiError> {
    let params = Params::new(query, &[]);
    let state = match params.get("state").filter(|s| !s.is_empty()) {
        None => None,
        Some("active") => Some(SilenceState::Active),
        Some("pending") => Some(SilenceState::Pending),
        Some("expired") => Some(SilenceState::Expired),
        Some(_) => {
            return Err(ApiError::bad_request(
                "state",
                "must be active, pending or expired",
            ))
        }
    };
    let mut filters = Vec::new();
    for f in params.all("matcher") {
        filters.extend(parse_matchers(f).map_err(|e| ApiError::bad_request("matcher", e))?);
    }
    let created_by = params.get("created_by").filter(|c| !c.is_empty());
    Ok(Json(
        alerting
            .silences(true)
            .await?
            .into_iter()
            .filter(|s| state.is_none_or(|st| s.state == st))
            .filter(|s| filters.iter().all(|f| s.matchers.contains(f)))
            .filter(|s| created_by.is_none_or(|c| s.created_by == c))
            .collect(),
    ))
}

async fn create(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    let mut request: SaveSilence = json_body(&body)?;
    request.id = String::new();
    let id = alerting.save_silence(request).await?;
    Ok((StatusCode::CREATED, Json(alerting.silence(&id).await?)))
}

async fn read(
    State(alerting): State<Alerting>,
    Path(id): Path<String>,
) -> Result<Json<Silence>, ApiError> {
    Ok(Json(alerting.silence(&id).await?))
}

/// Changes a silence; the answer's id is a new one when the change could not be made in place
/// (as Alertmanager does: the old one is expired).
async fn update(
    State(alerting): State<Alerting>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Silence>, ApiError> {
    let mut request: SaveSilence = json_body(&body)?;
    request.id = id;
    let id = alerting.save_silence(request).await?;
    Ok(Json(alerting.silence(&id).await?))
}

async fn expire(
    State(alerting): State<Alerting>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    alerting.expire_silence(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn preview(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    body: Bytes,
) -> Result<Json<SilencePreview>, ApiError> {
    let request: SilencePreviewRequest = json_body(&body)?;
    Ok(Json(
        alerting
            .silence_preview(&request.matchers, &folders)
            .await?,
    ))
}

/// The silences (running or upcoming) that could mute alerts with these labels.
async fn matching(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<Json<Vec<Silence>>, ApiError> {
    let request: RouteQuery = json_body(&body)?;
    Ok(Json(alerting.silences_for(&request.labels).await?))
}

/// The next windows of a schedule, for the form to show before it is saved.
async fn occurrences(body: Bytes) -> Result<Json<Vec<Window>>, ApiError> {
    let request: OccurrencesRequest = json_body(&body)?;
    if !(1..=50).contains(&request.count) {
        return Err(ApiError::invalid("count", "1 to 50"));
    }
    let compiled = Compiled::new(&request.schedule, "schedule")?;
    Ok(Json(compiled.next(chrono::Utc::now(), request.count)))
}

/// The time zones a schedule may name (IANA names).
async fn time_zones() -> Json<Vec<&'static str>> {
    Json(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect())
}

async fn inhibit_rules(
    State(alerting): State<Alerting>,
) -> Result<Json<Vec<InhibitRule>>, ApiError> {
    Ok(Json(alerting.inhibit_rules().await?))
}

/// Replaces the inhibition rules with the list sent (checked whole: nothing changes on a
/// refusal).
async fn put_inhibit_rules(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<Json<Vec<InhibitRule>>, ApiError> {
    let rules: Vec<InhibitRule> = json_body(&body)?;
    alerting.put_inhibit_rules(rules).await?;
    Ok(Json(alerting.inhibit_rules().await?))
}
