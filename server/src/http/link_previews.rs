//! Link previews: OpenGraph tags (title, description, a drawn panel as the image) added to the
//! dashboard and public-link pages, so a pasted link previews in chat tools. Only those pages
//! pass through this layer, and absolute URLs start with the configured external URL, never
//! with the request's `Host` header. A dashboard page's image asks for the same access as the
//! dashboard; a public link's image is as open as the link.

use super::{params::Params, AppState};
use crate::dashboards::{self, links};
use axum::{
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Which page a request is for.
enum Page {
    Dashboard(String),
    Public(String),
}

impl Page {
    fn of(path: &str) -> Option<Self> {
        let one_segment = |s: &str| !s.is_empty() && !s.contains('/');
        if let Some(uid) = path.strip_prefix("/d/").filter(|s| one_segment(s)) {
            return Some(Self::Dashboard(uid.to_string()));
        }
        path.strip_prefix("/public/")
            .filter(|s| one_segment(s))
            .map(|t| Self::Public(t.to_string()))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The middleware: renders the page, then writes the tags into its `<head>`.
pub async fn add_link_preview(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let page = Page::of(request.uri().path());
    let query = request.uri().query().map(str::to_owned);
    let response = next.run(request).await;
    let Some(page) = page else {
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
    let dashboard = match &page {
        Page::Public(token) => links::open_public_link(&state.pool, token).await.ok(),
        Page::Dashboard(uid) => dashboards::get(&state.pool, uid)
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
    let params = Params::new(query, &[]);
    let mut image_query: Vec<(String, String)> = params
        .0
        .iter()
        .filter(|(k, _)| k == "from" || k == "to" || k.starts_with("var-"))
        .cloned()
        .collect();
    image_query.push(("width".into(), "1200".into()));
    image_query.push(("height".into(), "630".into()));
    let image_path = match &page {
        Page::Public(t) => format!("/api/public/{t}/panels/preview.png"),
        Page::Dashboard(uid) => format!("/api/dashboards/{uid}/panels/preview.png"),
    };
    let image = format!(
        "{}{image_path}{}",
        state.info.external_url,
        app::format::query_string(image_query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dashboard_and_public_pages_get_previews() {
        assert!(matches!(Page::of("/d/abc"), Some(Page::Dashboard(u)) if u == "abc"));
        assert!(matches!(Page::of("/public/tok"), Some(Page::Public(t)) if t == "tok"));
        assert!(Page::of("/d/abc/extra").is_none());
        assert!(Page::of("/d/").is_none());
        assert!(Page::of("/api/v1/write").is_none());
        assert!(Page::of("/dashboards").is_none());
    }
}
