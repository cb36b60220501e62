//! Silences over the portal's API: list (by state and matcher), create, read, change, expire,
//! and the preview of what a silence would mute.

use super::{
    params::{json_body, Params},
    AppState,
};
use crate::{alerting::Alerting, error::ApiError};
use app::api::{
    alerting::{parse_matchers, RouteQuery},
    silences::{SaveSilence, Silence, SilencePreview, SilencePreviewRequest, SilenceState},
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
    body: Bytes,
) -> Result<Json<SilencePreview>, ApiError> {
    let request: SilencePreviewRequest = json_body(&body)?;
    Ok(Json(alerting.silence_preview(&request.matchers).await?))
}

/// The silences (running or upcoming) that could mute alerts with these labels.
async fn matching(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<Json<Vec<Silence>>, ApiError> {
    let request: RouteQuery = json_body(&body)?;
    Ok(Json(alerting.silences_for(&request.labels).await?))
}
