//! The one router: the health and metrics endpoints, the JSON API, and the server-rendered UI,
//! behind the shared layers (request observation, compression, body limit, timeout, JSON error
//! bodies, panic recovery).

pub mod access;
mod admission;
mod alerting;
mod alertmanager;
pub mod assets;
mod auth;
mod dashboards;
pub mod error;
mod health;
mod link_previews;
mod logs;
mod loki;
mod otlp;
mod panel_images;
pub mod params;
mod portal_metrics;
mod preferences;
mod prometheus;
mod public_links;
mod short_links;
mod silences;
mod state;
mod status;
mod versions;
mod write;

pub use assets::AssetCache;
pub use state::{AppState, RuntimeInfo, SelfRouter};

use crate::{error::ApiError, telemetry};
use axum::{
    extract::{DefaultBodyLimit, Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::any,
    Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::any::Any;
use tower_http::{
    catch_panic::CatchPanicLayer, compression::CompressionLayer, limit::RequestBodyLimitLayer,
    timeout::TimeoutLayer,
};

/// The routes anyone may use: liveness and readiness, what a public link opens, and the UI's
/// static files (each still has its decision, `Open`, in [`access::ROUTES`]).
fn open_routes() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(public_links::open_router())
        .merge(panel_images::public_router())
        .merge(alerting::public_router())
        .merge(assets::router())
}

/// The API, behind the access layer with the open routes.
fn api_routes() -> Router<AppState> {
    Router::new()
        .merge(portal_metrics::router())
        .merge(status::router())
        .merge(write::router())
        .merge(otlp::router())
        .merge(logs::router())
        .merge(loki::router())
        .merge(prometheus::router())
        .merge(dashboards::router())
        .merge(versions::router())
        .merge(preferences::router())
        .merge(short_links::router())
        .merge(public_links::router())
        .merge(panel_images::router())
        .merge(alerting::router())
        .merge(silences::router())
        .merge(alertmanager::router())
        .merge(auth::router())
        .route("/api/{*rest}", any(api_not_found))
}

/// The server-rendered pages; the dashboard and public-link pages get link-preview tags.
fn page_routes(state: &AppState) -> Router<AppState> {
    let leptos_options = state.leptos_options.clone();
    let (previewed, plain): (Vec<_>, Vec<_>) = generate_route_list(app::App)
        .into_iter()
        .partition(|route| route.path().starts_with("/d/") || route.path().starts_with("/public/"));
    let shell = move || app::shell(leptos_options.clone());
    let previews = Router::new()
        .leptos_routes(state, previewed, shell.clone())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            link_previews::add_link_preview,
        ));
    Router::new()
        .leptos_routes(state, plain, shell)
        .merge(previews)
        .route_layer(middleware::from_fn_with_state(state.clone(), access::pages))
}

/// Builds the whole application router, and what must be kept while it serves (the audit
/// layer's handle on it).
pub fn router(state: AppState) -> (Router, std::sync::Arc<Router>) {
    let body_limit = usize::try_from(state.info.body_limit).unwrap_or(usize::MAX);
    let guarded = Router::new()
        .merge(open_routes())
        .merge(api_routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::authorize,
        ));
    let self_router = state.self_router.clone();
    let router = Router::new()
        .merge(guarded)
        .merge(page_routes(&state))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        // Layers run outside-in from the last one added.
        .layer(RequestBodyLimitLayer::new(body_limit))
        // The limit above applies to every route; axum's own 2 MB default would undercut it.
        .layer(DefaultBodyLimit::disable())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.info.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.info.body_limit,
            json_error_bodies,
        ))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            telemetry::observe,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state);
    let keep = self_router.serve(&router);
    (router, keep)
}

async fn api_not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no API endpoint at {}", request.uri().path()))
}

/// Gives the error answers of the layers and of axum itself (413, 405, 503 on timeout, plain
/// 404) the JSON body every API error has. HTML pages and JSON answers pass untouched.
async fn json_error_bodies(
    State(body_limit): State<u64>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json")
        || content_type.starts_with("text/html")
        || response.extensions().get::<error::Shaped>().is_some()
    {
        return response;
    }
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let mut response = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge { limit: body_limit }.into_response(),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::MethodNotAllowed("method not allowed for this endpoint".into())
                .into_response()
        }
        StatusCode::NOT_FOUND => ApiError::not_found("not found").into_response(),
        StatusCode::SERVICE_UNAVAILABLE => {
            ApiError::unavailable("the request took too long; try again", 1).into_response()
        }
        other => {
            let reason = other.canonical_reason().unwrap_or("bad request");
            (
                other,
                axum::Json(ApiError::bad_request("request", reason).body()),
            )
                .into_response()
        }
    };
    if let Some(value) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}
