//! Panel images: `GET /api/dashboards/{uid}/panels/{id}.png|.svg` and the same under a public
//! link, with `from`, `to`, `step`, `width`, `height`, `theme` and `var-<name>` parameters. The
//! drawing itself is the domain's (`dashboards::image`).

use super::{params::Params, AppState};
use crate::{
    dashboards::{
        self,
        image::{draw_panel, parse_file_name, Image, ImageRequest},
        links,
        query::requested_selection,
    },
    error::ApiError,
    query::{QueryRange, QueryService},
    render,
};
use axum::{
    extract::{Path, RawQuery, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use chrono::Utc;
use sqlx::PgPool;

/// The images of dashboards (behind authentication once accounts exist).
pub fn router() -> Router<AppState> {
    Router::new().route("/api/dashboards/{uid}/panels/{file}", get(get_panel_image))
}

/// The images of public links (open).
pub fn public_router() -> Router<AppState> {
    Router::new().route(
        "/api/public/{token}/panels/{file}",
        get(get_public_panel_image),
    )
}

/// Reads the time range, size, theme and variables of an image request.
pub fn image_request(params: &Params) -> Result<ImageRequest, ApiError> {
    let now = Utc::now();
    let range = app::time::TimeRange::parse(
        params.get("from").unwrap_or("now-6h"),
        params.get("to").unwrap_or("now"),
        now,
    )
    .map_err(|e| ApiError::bad_request(e.field, e.message))?;
    let (from, to) = range.resolve(now);
    let side = |key: &'static str, default: u32| -> Result<u32, ApiError> {
        match params.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (16..=render::MAX_SIDE).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(
                    key,
                    format!(
                        "must be a whole number of pixels from 16 to {}",
                        render::MAX_SIDE
                    ),
                )),
            },
        }
    };
    let size = (side("width", 800)?, side("height", 300)?);
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    let step = match params.get("step") {
        Some(s) => super::params::parse_step(s).map_err(|e| ApiError::bad_request("step", e))?,
        None => app::time::auto_step_ms(to - from, size.0),
    };
    let dark = match params.get("theme") {
        None | Some("light") => false,
        Some("dark") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "theme",
                format!("must be light or dark, not \"{other}\""),
            ))
        }
    };
    Ok(ImageRequest {
        range: QueryRange::new(from, to, step)?,
        size,
        dark,
        requested: requested_selection(&params.0),
    })
}

fn image_response(image: Image) -> Response {
    (
        [
            (header::CONTENT_TYPE, image.format.content_type()),
            (header::CACHE_CONTROL, "private, max-age=10"),
        ],
        image.bytes,
    )
        .into_response()
}

async fn get_panel_image(
    State(pool): State<PgPool>,
    State(queries): State<QueryService>,
    Path((uid, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let record = dashboards::get(&pool, &uid).await?;
    let (panel, format) = parse_file_name(&file)?;
    let request = image_request(&Params::new(query, &[]))?;
    let image = draw_panel(&queries, &record.dashboard, panel, format, &request, false).await?;
    Ok(image_response(image))
}

async fn get_public_panel_image(
    State(pool): State<PgPool>,
    State(queries): State<QueryService>,
    Path((token, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let dashboard = links::open_public_link(&pool, &token).await?;
    let (panel, format) = parse_file_name(&file)?;
    let request = image_request(&Params::new(query, &[]))?;
    let image = draw_panel(&queries, &dashboard, panel, format, &request, true).await?;
    Ok(image_response(image))
}
