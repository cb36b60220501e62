//! The dashboards API: list/search, get, create, update (optimistic concurrency), delete,
//! export/import (the portal's JSON or Grafana's), versions, diffs and restores, stars, the home
//! dashboard, variable options, panel images, short links, and public links with the read-only
//! endpoints they open.

use super::prometheus::{pair, parse_step, range_series, Params, PromError};
use crate::{
    dashboards::{
        self, grafana,
        query::{
            panel_series, requested_selection, resolve_selection, run_target, variable_options,
            Selection,
        },
        Origin,
    },
    error::ApiError,
    render,
    startup::AppState,
    store::dashboards as db,
};
use app::api::{
    dashboard::{
        Change, CreatePublicLink, CreateShortLink, Dashboard, DashboardRecord, DashboardSummary,
        ImportReport, Panel, PublicLink, ResolveVariable, SaveDashboard, ShortLink,
        VariableOptions, VersionSummary,
    },
    prometheus::{PromResponse, QueryData},
};
use app::chart::Line;
use app::panel_draw::PanelData;
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post, put},
    Json, Router,
};
use chrono::Utc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/dashboards", get(list).post(create))
        .route("/api/dashboards/import", post(import))
        .route(
            "/api/dashboards/{uid}",
            get(fetch).put(update).delete(remove),
        )
        .route("/api/dashboards/{uid}/export", get(export))
        .route("/api/dashboards/{uid}/versions", get(versions))
        .route("/api/dashboards/{uid}/versions/{version}", get(version))
        .route(
            "/api/dashboards/{uid}/versions/{version}/restore",
            post(restore),
        )
        .route("/api/dashboards/{uid}/diff", get(diff))
        .route("/api/dashboards/{uid}/star", put(star).delete(unstar))
        .route("/api/dashboards/{uid}/panels/{file}", get(render_panel))
        .route(
            "/api/dashboards/{uid}/public-links",
            get(list_public).post(create_public),
        )
        .route(
            "/api/dashboards/{uid}/public-links/{token}",
            axum::routing::delete(revoke_public),
        )
        .route("/api/preferences/home", get(get_home).put(set_home))
        .route("/api/variables/options", post(options))
        .route("/api/short-links", post(create_short))
        .route("/s/{code}", get(follow_short))
        .route("/api/public/{token}/dashboard", get(public_dashboard))
        .route(
            "/api/public/{token}/variables/{name}/options",
            get(public_options),
        )
        .route(
            "/api/public/{token}/panels/{id}/targets/{index}/query_range",
            get(public_query),
        )
        .route("/api/public/{token}/panels/{file}", get(public_render))
}

/// Who made a change: the `X-Portal-User` header, else "anonymous".
fn author(headers: &HeaderMap) -> String {
    headers
        .get("x-portal-user")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(100).collect::<String>())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "anonymous".into())
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("body", format!("not a valid request: {e}")))
}

async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<DashboardSummary>>, ApiError> {
    let params = Params::new(query, &[]);
    let tags: Vec<String> = params
        .0
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.clone())
        .collect();
    let starred = match params.get("starred") {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "starred",
                format!("must be true or false, not \"{other}\""),
            ))
        }
    };
    let filter = db::ListFilter {
        query: params.get("query").filter(|q| !q.trim().is_empty()),
        tags: &tags,
        folder: params.get("folder"),
        starred,
    };
    Ok(Json(dashboards::list(&state.pool, &filter).await?))
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SaveDashboard = json_body(&body)?;
    let by = author(&headers);
    let record = dashboards::save(
        &state.pool,
        request,
        Origin {
            by: &by,
            file: None,
        },
    )
    .await?;
    let status = if record.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(
            header::LOCATION,
            format!("/api/dashboards/{}", record.dashboard.uid),
        )],
        Json(record),
    )
        .into_response())
}

async fn update(
    State(state): State<AppState>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DashboardRecord>, ApiError> {
    let mut request: SaveDashboard = json_body(&body)?;
    if request.dashboard.uid.is_empty() {
        request.dashboard.uid = uid.clone();
    } else if request.dashboard.uid != uid {
        return Err(ApiError::invalid(
            "dashboard.uid",
            format!(
                "\"{}\" does not match the URL's \"{uid}\"",
                request.dashboard.uid
            ),
        ));
    }
    if request.version.is_none() && !request.overwrite {
        return Err(ApiError::invalid(
            "version",
            "give the version you edited (or overwrite: true)",
        ));
    }
    let by = author(&headers);
    Ok(Json(
        dashboards::save(
            &state.pool,
            request,
            Origin {
                by: &by,
                file: None,
            },
        )
        .await?,
    ))
}

async fn fetch(
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<Json<DashboardRecord>, ApiError> {
    Ok(Json(dashboards::get(&state.pool, &uid).await?))
}

async fn remove(
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    let record = dashboards::get(&state.pool, &uid).await?;
    if record.provisioned {
        return Err(ApiError::Conflict(format!(
            "dashboard \"{uid}\" is provisioned from a file; remove the file instead"
        )));
    }
    db::delete_dashboard(&state.pool, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn export(
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    let record = dashboards::get(&state.pool, &uid).await?;
    let body = serde_json::to_string_pretty(&record.dashboard)
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{uid}.json\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Imports the portal's JSON or Grafana's (`{"dashboard": …}` too); `?overwrite=true` replaces
/// a dashboard with the same uid, `?folder=` files it.
async fn import(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::new(query, &[]);
    let overwrite = params.get("overwrite") == Some("true");
    let value: serde_json::Value = json_body(&body)?;
    let (mut dashboard, skipped) = if grafana::looks_like_grafana(&value) {
        grafana::convert(&value).map_err(|e| ApiError::invalid("dashboard", e))?
    } else {
        let inner = value.get("dashboard").cloned().unwrap_or(value);
        let d: Dashboard = serde_json::from_value(inner)
            .map_err(|e| ApiError::bad_request("dashboard", e.to_string()))?;
        (d, Vec::new())
    };
    if let Some(folder) = params.get("folder") {
        dashboard.folder = folder.to_string();
    }
    let by = author(&headers);
    let panels_imported = dashboard
        .panels
        .iter()
        .filter(|p| p.kind != app::api::dashboard::PanelKind::Row)
        .count();
    let record = dashboards::save(
        &state.pool,
        SaveDashboard {
            dashboard,
            version: None,
            message: "Imported".into(),
            overwrite,
        },
        Origin {
            by: &by,
            file: None,
        },
    )
    .await?;
    let report = ImportReport {
        uid: record.dashboard.uid.clone(),
        version: record.version,
        title: record.dashboard.title.clone(),
        panels_imported,
        skipped,
    };
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

async fn versions(
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<Json<Vec<VersionSummary>>, ApiError> {
    Ok(Json(dashboards::versions(&state.pool, &uid).await?))
}

async fn version(
    State(state): State<AppState>,
    Path((uid, version)): Path<(String, i32)>,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(dashboards::version(&state.pool, &uid, version).await?))
}

async fn restore(
    State(state): State<AppState>,
    Path((uid, version)): Path<(String, i32)>,
    headers: HeaderMap,
) -> Result<Json<DashboardRecord>, ApiError> {
    let by = author(&headers);
    Ok(Json(
        dashboards::restore(&state.pool, &uid, version, &by).await?,
    ))
}

/// `?from=<version>&to=<version>` (`to` defaults to the latest).
async fn diff(
    State(state): State<AppState>,
    Path(uid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Change>>, ApiError> {
    let params = Params::new(query, &[]);
    let number = |key: &'static str| -> Result<Option<i32>, ApiError> {
        params
            .get(key)
            .map(|v| {
                v.parse::<i32>().map_err(|_| {
                    ApiError::bad_request(key, format!("\"{v}\" is not a version number"))
                })
            })
            .transpose()
    };
    let from = number("from")?
        .ok_or_else(|| ApiError::bad_request("from", "give the version to compare from"))?;
    let to = match number("to")? {
        Some(v) => v,
        None => dashboards::get(&state.pool, &uid).await?.version,
    };
    let before = serde_json::to_value(dashboards::version(&state.pool, &uid, from).await?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let after = serde_json::to_value(dashboards::version(&state.pool, &uid, to).await?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(dashboards::diff(&before, &after)))
}

async fn star(
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_star(&state, &uid, true).await
}

async fn unstar(
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_star(&state, &uid, false).await
}

async fn set_star(state: &AppState, uid: &str, starred: bool) -> Result<StatusCode, ApiError> {
    if db::set_starred(&state.pool, uid, starred).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no dashboard \"{uid}\"")))
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Home {
    uid: Option<String>,
}

async fn get_home(State(state): State<AppState>) -> Result<Json<Home>, ApiError> {
    Ok(Json(Home {
        uid: dashboards::home_uid(&state.pool).await?,
    }))
}

async fn set_home(State(state): State<AppState>, body: Bytes) -> Result<Json<Home>, ApiError> {
    let home: Home = json_body(&body)?;
    if let Some(uid) = &home.uid {
        dashboards::get(&state.pool, uid)
            .await
            .map_err(|_| ApiError::invalid("uid", format!("no dashboard \"{uid}\"")))?;
    }
    db::upsert_preference(
        &state.pool,
        dashboards::HOME_KEY,
        &serde_json::json!(home.uid),
    )
    .await?;
    Ok(Json(home))
}

async fn options(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<VariableOptions>, ApiError> {
    let request: ResolveVariable = json_body(&body)?;
    let values = variable_options(&state, &request.variable, &request.values)
        .await
        .map_err(|e| match e {
            ApiError::Invalid {
                field,
                message,
                status,
            } => ApiError::Invalid {
                field: format!("variable.{field}"),
                message,
                status,
            },
            other => other,
        })?;
    Ok(Json(VariableOptions { values }))
}

/// The time range, size and theme of an image request.
struct ImageRequest {
    range: (i64, i64, i64),
    size: (u32, u32),
    dark: bool,
    requested: Selection,
}

fn image_request(query: Option<String>) -> Result<ImageRequest, ApiError> {
    let params = Params::new(query, &[]);
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
        Some(s) => parse_step(s).map_err(|e| ApiError::bad_request("step", e))?,
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
        range: (from, to, step),
        size,
        dark,
        requested: requested_selection(&params.0),
    })
}

/// `<panel id>.png` or `<panel id>.svg`; `preview.png` is the first panel that queries.
fn image_file(dashboard: &Dashboard, file: &str) -> Result<(Panel, bool), ApiError> {
    let (stem, png) = match (file.strip_suffix(".png"), file.strip_suffix(".svg")) {
        (Some(stem), _) => (stem, true),
        (_, Some(stem)) => (stem, false),
        _ => {
            return Err(ApiError::not_found(format!(
                "no image \"{file}\"; ask for <panel id>.png or .svg"
            )))
        }
    };
    let panel = if stem == "preview" {
        dashboard.panels.iter().find(|p| p.kind.queries())
    } else {
        let id: u32 = stem
            .parse()
            .map_err(|_| ApiError::not_found(format!("\"{stem}\" is not a panel id")))?;
        dashboard.panel(id)
    };
    let panel = panel.ok_or_else(|| {
        ApiError::not_found(format!(
            "dashboard \"{}\" has no panel \"{stem}\"",
            dashboard.uid
        ))
    })?;
    Ok((panel.clone(), png))
}

async fn draw_image(
    state: &AppState,
    dashboard: &Dashboard,
    file: &str,
    query: Option<String>,
    strict: bool,
) -> Result<Response, ApiError> {
    let (panel, png) = image_file(dashboard, file)?;
    let request = image_request(query)?;
    let selection = resolve_selection(state, dashboard, &request.requested, strict).await?;
    let series = if panel.kind.queries() {
        panel_series(state, &panel, &selection, request.range).await?
    } else {
        Vec::new()
    };
    let data = PanelData {
        lines: series
            .into_iter()
            .enumerate()
            .map(|(i, s)| Line {
                label: s.name,
                color: i,
                points: s.points,
            })
            .collect(),
        from: request.range.0,
        to: request.range.1,
        step: request.range.2,
    };
    let (size, dark) = (request.size, request.dark);
    let title = app::dashboard::interpolate_text(&panel.title, &selection);
    let drawn = tokio::task::spawn_blocking(move || {
        let title = Some(title.as_str());
        if png {
            render::png(&panel, title, &data, size, dark).map(|b| ("image/png", b))
        } else {
            render::svg(&panel, title, &data, size, dark).map(|s| ("image/svg+xml", s.into_bytes()))
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("drawing the panel failed: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, drawn.0),
            (header::CACHE_CONTROL, "private, max-age=10"),
        ],
        drawn.1,
    )
        .into_response())
}

/// `GET /api/dashboards/{uid}/panels/{id}.png|.svg?from&to&width&height&theme&var-<name>`.
async fn render_panel(
    State(state): State<AppState>,
    Path((uid, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let record = dashboards::get(&state.pool, &uid).await?;
    draw_image(&state, &record.dashboard, &file, query, false).await
}

async fn create_short(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<ShortLink>, ApiError> {
    let request: CreateShortLink = json_body(&body)?;
    let path = request.path.trim();
    if !path.starts_with('/')
        || path.starts_with("//")
        || path.len() > 8000
        || path.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "path",
            "must be a path on this portal starting with a single '/', at most 8,000 characters",
        ));
    }
    let code = db::upsert_short_link(&state.pool, &dashboards::random_code(8), path).await?;
    Ok(Json(ShortLink {
        url: format!("/s/{code}"),
        code,
        path: path.to_string(),
    }))
}

async fn follow_short(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Redirect, ApiError> {
    let path = db::use_short_link(&state.pool, &code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no short link \"{code}\"")))?;
    Ok(Redirect::to(&path))
}

fn public_link(row: db::PublicLinkRow) -> PublicLink {
    PublicLink {
        url: format!("/public/{}", row.token),
        token: row.token,
        dashboard_uid: row.dashboard_uid,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked: row.revoked_at.is_some(),
    }
}

async fn list_public(
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<Json<Vec<PublicLink>>, ApiError> {
    dashboards::get(&state.pool, &uid).await?;
    let rows = db::select_public_links(&state.pool, &uid).await?;
    Ok(Json(rows.into_iter().map(public_link).collect()))
}

async fn create_public(
    State(state): State<AppState>,
    Path(uid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CreatePublicLink = if body.is_empty() {
        CreatePublicLink { expires_at: None }
    } else {
        json_body(&body)?
    };
    if request.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    dashboards::get(&state.pool, &uid).await?;
    // 32 characters of a 57-letter alphabet: about 187 bits, not guessable.
    let row = db::insert_public_link(
        &state.pool,
        &dashboards::random_code(32),
        &uid,
        request.expires_at,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(public_link(row))).into_response())
}

async fn revoke_public(
    State(state): State<AppState>,
    Path((uid, token)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if db::revoke_public_link(&state.pool, &uid, &token).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "dashboard \"{uid}\" has no such public link"
        )))
    }
}

/// The dashboard a public link opens, if the link is live; every failure reads the same, so a
/// token reveals nothing about other tokens or dashboards.
async fn public(state: &AppState, token: &str) -> Result<Dashboard, ApiError> {
    let gone =
        || ApiError::not_found("this public link does not exist, was revoked or has expired");
    let row = db::select_public_link(&state.pool, token)
        .await?
        .ok_or_else(gone)?;
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(gone());
    }
    Ok(dashboards::get(&state.pool, &row.dashboard_uid)
        .await
        .map_err(|_| gone())?
        .dashboard)
}

async fn public_dashboard(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(public(&state, &token).await?))
}

/// The options of one variable of a public dashboard, given the others (`var-<name>`), which
/// must themselves be options.
async fn public_options(
    State(state): State<AppState>,
    Path((token, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<VariableOptions>, ApiError> {
    let dashboard = public(&state, &token).await?;
    let params = Params::new(query, &[]);
    let index = dashboard
        .variables
        .iter()
        .position(|v| v.name == name)
        .ok_or_else(|| ApiError::not_found(format!("the dashboard has no variable \"{name}\"")))?;
    // Only the variables before this one can be used by its query.
    let mut before = dashboard.clone();
    before.variables.truncate(index);
    let selection =
        resolve_selection(&state, &before, &requested_selection(&params.0), true).await?;
    let values = variable_options(&state, &dashboard.variables[index], &selection).await?;
    Ok(Json(VariableOptions { values }))
}

/// Runs one stored query of a public dashboard: only the variables' values come from the caller,
/// and each must be one of the variable's options, so a public link queries nothing else.
async fn public_query(
    State(state): State<AppState>,
    Path((token, id, index)): Path<(String, u32, usize)>,
    RawQuery(query): RawQuery,
) -> Result<Json<PromResponse<QueryData>>, PromError> {
    let dashboard = public(&state, &token).await?;
    let panel = dashboard
        .panel(id)
        .ok_or_else(|| ApiError::not_found(format!("the dashboard has no panel {id}")))?;
    let params = Params::new(query, &[]);
    let (start, end, step) = params.range()?;
    let selection =
        resolve_selection(&state, &dashboard, &requested_selection(&params.0), true).await?;
    let series = run_target(&state, panel, index, &selection, (start, end, step)).await?;
    let data = if panel.targets[index].instant {
        QueryData::Vector(
            series
                .into_iter()
                .map(|s| app::api::prometheus::InstantSample {
                    metric: super::prometheus::series_labels(s.labels),
                    value: pair(end, s.points.first().map_or(f64::NAN, |p| p.1)),
                })
                .collect(),
        )
    } else {
        QueryData::Matrix(series.into_iter().map(range_series).collect())
    };
    Ok(Json(PromResponse::success(data)))
}

async fn public_render(
    State(state): State<AppState>,
    Path((token, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let dashboard = public(&state, &token).await?;
    draw_image(&state, &dashboard, &file, query, true).await
}

/// Adds OpenGraph tags (title, description, a rendered panel as the image) to dashboard pages,
/// so a pasted link previews in chat tools; other responses pass untouched.
pub async fn open_graph(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_owned);
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let target = if let Some(uid) = path.strip_prefix("/d/") {
        Some((uid.to_string(), None))
    } else {
        path.strip_prefix("/public/")
            .map(|token| (String::new(), Some(token.to_string())))
    };
    let response = next.run(request).await;
    let Some((uid, token)) =
        target.filter(|(u, t)| !u.contains('/') && t.as_deref().is_none_or(|t| !t.contains('/')))
    else {
        return response;
    };
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if response.status() != StatusCode::OK || !is_html {
        return response;
    }
    let dashboard = match &token {
        Some(t) => public(&state, t).await.ok(),
        None => dashboards::get(&state.pool, &uid)
            .await
            .ok()
            .map(|r| r.dashboard),
    };
    let Some(dashboard) = dashboard else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be read",
        )
            .into_response();
    };
    let html = String::from_utf8_lossy(&bytes);
    let origin = host.map(|h| format!("http://{h}")).unwrap_or_default();
    let params = Params::new(query, &[]);
    let mut image_query: Vec<(String, String)> = params
        .0
        .iter()
        .filter(|(k, _)| k == "from" || k == "to" || k.starts_with("var-"))
        .cloned()
        .collect();
    image_query.push(("width".into(), "1200".into()));
    image_query.push(("height".into(), "630".into()));
    let image_path = match &token {
        Some(t) => format!("/api/public/{t}/panels/preview.png"),
        None => format!("/api/dashboards/{uid}/panels/preview.png"),
    };
    let image = format!(
        "{origin}{image_path}{}",
        app::components::url_state::query_string(
            image_query.iter().map(|(k, v)| (k.as_str(), v.as_str()))
        )
    );
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut tags = format!(
        "<meta property=\"og:type\" content=\"website\"/><meta property=\"og:title\" content=\"{}\"/><meta property=\"og:image\" content=\"{}\"/><meta property=\"og:image:width\" content=\"1200\"/><meta property=\"og:image:height\" content=\"630\"/><meta name=\"twitter:card\" content=\"summary_large_image\"/>",
        escape(&dashboard.title),
        escape(&image)
    );
    if !dashboard.description.is_empty() {
        tags.push_str(&format!(
            "<meta property=\"og:description\" content=\"{}\"/>",
            escape(&dashboard.description)
        ));
    }
    let html = html.replacen("</head>", &format!("{tags}</head>"), 1);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(html))
}
