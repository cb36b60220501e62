//! The one authentication layer: who a request acts as (a session cookie, an API token as a
//! bearer or basic credential, or a user named by a trusted proxy), and whether that may use
//! the route it matched. Every route has one decision in [`ROUTES`] (pages: [`page_access`]);
//! a route without one is refused, so forgetting a decision fails closed, and the route ×
//! role matrix test fails too. State-changing requests made with a cookie must come from the
//! portal's own pages (Origin check on top of SameSite), and every change is audited with the
//! state of what it changed before and after.

use super::{AppState, SelfRouter};
use crate::admission::OWNER;
use crate::{
    accounts::{in_networks, FolderAccess, Principal},
    audit::{Audit, Event},
    error::ApiError,
};
use app::api::accounts::{FolderKind, Permission, Role, Scope};
use axum::{
    body::Body,
    extract::{
        connect_info::ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State,
    },
    http::{header, request::Parts, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use base64::Engine;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use tower::ServiceExt;

/// What a route asks of whoever calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, sign-in, public links, signed images, the UI's files.
    Open,
    /// `/metrics`: open unless `PORTAL_METRICS_AUTH` asks for `Read`.
    PortalMetrics,
    /// A page of the UI: anyone signed in; others are sent to the sign-in page.
    Page,
    /// Who am I and my password: a person, signed in or named by a proxy; no token.
    SignedIn,
    /// A person's own marks (stars, short links): any account, an admin token.
    Personal,
    /// Sending data: a token with the ingest scope, or an Editor.
    Ingest,
    /// Reading data, dashboards, rules, alerts and silences: any account, a read token.
    Read,
    /// Changing dashboards, rules and silences: an Editor.
    Edit,
    /// Users, tokens, contact points, notification policy, the audit log: an Admin.
    Admin,
    /// Alertmanager's API, read: any account, a read or alertmanager token.
    AlertsRead,
    /// Alertmanager's API, silences: an Editor or an alertmanager token.
    AlertsWrite,
    /// Alerts sent by Prometheus and other tools: an Editor, an alertmanager or ingest token.
    AlertsSend,
}

use Access::*;

/// Every API route's decision: method, route as the router spells it, access.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Open),
    ("GET", "/readyz", Open),
    ("GET", "/metrics", PortalMetrics),
    ("GET", "/pkg/{*path}", Open),
    ("GET", "/api/public/{token}/dashboard", Open),
    ("GET", "/api/public/{token}/variables/{name}/options", Open),
    (
        "GET",
        "/api/public/{token}/panels/{id}/targets/{index}/query_range",
        Open,
    ),
    ("GET", "/api/public/{token}/panels/{file}", Open),
    ("GET", "/api/alerting/images/{file}", Open),
    ("POST", "/api/auth/sign-in", Open),
    ("POST", "/api/auth/sign-out", Open),
    ("*", "/api/{*rest}", Open),
    ("GET", "/s/{code}", Page),
    // Who am I, and what is mine.
    ("GET", "/api/auth/me", SignedIn),
    ("PUT", "/api/auth/password", SignedIn),
    ("PUT", "/api/dashboards/{uid}/star", Personal),
    ("DELETE", "/api/dashboards/{uid}/star", Personal),
    ("POST", "/api/short-links", Personal),
    // Data in.
    ("POST", "/api/v1/write", Ingest),
    ("POST", "/v1/metrics", Ingest),
    ("POST", "/v1/logs", Ingest),
    ("POST", "/loki/api/v1/push", Ingest),
    ("POST", "/api/logs/lines", Ingest),
    // Reading.
    ("GET", "/api/portal/status", Read),
    ("GET", "/api/logs/search", Read),
    ("GET", "/api/logs/histogram", Read),
    ("GET", "/api/logs/facets", Read),
    ("GET", "/api/logs/context", Read),
    ("GET", "/api/logs/export", Read),
    ("GET", "/api/logs/scrubbing", Read),
    ("GET", "/api/logs/tail", Read),
    ("GET", "/api/logs/errors", Read),
    ("GET", "/api/logs/patterns", Read),
    ("GET", "/api/logs/saved-searches", Read),
    ("GET", "/api/logs/saved-searches/{id}", Read),
    ("POST", "/api/logs/saved-searches", Edit),
    ("DELETE", "/api/logs/saved-searches/{id}", Edit),
    ("GET", "/api/logs/archives", Read),
    ("GET", "/api/logs/archives/{name}", Read),
    ("GET", "/api/logs/errors/{fingerprint}", Read),
    ("PUT", "/api/logs/errors/{fingerprint}", Edit),
    ("GET", "/loki/api/v1/tail", Read),
    ("GET", "/loki/api/v1/query", Read),
    ("POST", "/loki/api/v1/query", Read),
    ("GET", "/loki/api/v1/query_range", Read),
    ("POST", "/loki/api/v1/query_range", Read),
    ("GET", "/loki/api/v1/labels", Read),
    ("POST", "/loki/api/v1/labels", Read),
    ("GET", "/loki/api/v1/label/{name}/values", Read),
    ("GET", "/loki/api/v1/series", Read),
    ("POST", "/loki/api/v1/series", Read),
    ("GET", "/loki/api/v1/index/stats", Read),
    ("GET", "/loki/api/v1/status/buildinfo", Read),
    ("GET", "/api/v1/query", Read),
    ("POST", "/api/v1/query", Read),
    ("GET", "/api/v1/query_range", Read),
    ("POST", "/api/v1/query_range", Read),
    ("GET", "/api/v1/series", Read),
    ("POST", "/api/v1/series", Read),
    ("GET", "/api/v1/labels", Read),
    ("POST", "/api/v1/labels", Read),
    ("GET", "/api/v1/label/{name}/values", Read),
    ("GET", "/api/v1/metadata", Read),
    ("GET", "/api/v1/status/buildinfo", Read),
    ("GET", "/api/v1/rules", Read),
    ("GET", "/api/v1/alerts", Read),
    ("GET", "/api/dashboards", Read),
    ("GET", "/api/dashboards/{uid}", Read),
    ("GET", "/api/dashboards/{uid}/export", Read),
    ("GET", "/api/dashboards/{uid}/panels/{file}", Read),
    ("GET", "/api/dashboards/{uid}/versions", Read),
    ("GET", "/api/dashboards/{uid}/versions/{version}", Read),
    ("GET", "/api/dashboards/{uid}/diff", Read),
    ("GET", "/api/dashboards/{uid}/public-links", Read),
    ("POST", "/api/variables/options", Read),
    ("GET", "/api/preferences/home", Read),
    ("GET", "/api/alerting/rules", Read),
    ("GET", "/api/alerting/rules/{uid}", Read),
    ("GET", "/api/alerting/rules/{uid}/history", Read),
    ("POST", "/api/alerting/preview", Read),
    ("GET", "/api/alerting/groups", Read),
    ("GET", "/api/alerting/alerts", Read),
    ("GET", "/api/alerting/export", Read),
    ("GET", "/api/alerting/contact-points", Read),
    ("GET", "/api/alerting/contact-points/{name}", Read),
    ("GET", "/api/alerting/policy", Read),
    ("POST", "/api/alerting/policy/route", Read),
    ("GET", "/api/alerting/notifications", Read),
    ("GET", "/api/alerting/silences", Read),
    ("GET", "/api/alerting/silences/{id}", Read),
    ("POST", "/api/alerting/silences/preview", Read),
    ("POST", "/api/alerting/silences/matching", Read),
    ("POST", "/api/alerting/silences/occurrences", Read),
    ("GET", "/api/alerting/time-zones", Read),
    ("GET", "/api/alerting/inhibit-rules", Read),
    // Changing dashboards, rules and silences.
    ("POST", "/api/dashboards", Edit),
    ("POST", "/api/dashboards/import", Edit),
    ("PUT", "/api/dashboards/{uid}", Edit),
    ("DELETE", "/api/dashboards/{uid}", Edit),
    (
        "POST",
        "/api/dashboards/{uid}/versions/{version}/restore",
        Edit,
    ),
    ("POST", "/api/dashboards/{uid}/public-links", Edit),
    ("DELETE", "/api/dashboards/{uid}/public-links/{id}", Edit),
    ("PUT", "/api/preferences/home", Edit),
    ("POST", "/api/alerting/rules", Edit),
    ("PUT", "/api/alerting/rules/{uid}", Edit),
    ("DELETE", "/api/alerting/rules/{uid}", Edit),
    ("POST", "/api/alerting/rules/{uid}/pause", Edit),
    ("POST", "/api/alerting/rules/{uid}/resume", Edit),
    ("PUT", "/api/alerting/groups", Edit),
    ("DELETE", "/api/alerting/groups/{folder}/{name}", Edit),
    ("POST", "/api/alerting/import", Edit),
    ("POST", "/api/alerting/silences", Edit),
    ("PUT", "/api/alerting/silences/{id}", Edit),
    ("DELETE", "/api/alerting/silences/{id}", Edit),
    ("PUT", "/api/alerting/inhibit-rules", Edit),
    // Administration.
    ("POST", "/api/alerting/contact-points", Admin),
    ("POST", "/api/alerting/contact-points/test", Admin),
    ("PUT", "/api/alerting/contact-points/{name}", Admin),
    ("DELETE", "/api/alerting/contact-points/{name}", Admin),
    ("POST", "/api/alerting/contact-points/{name}/test", Admin),
    ("PUT", "/api/alerting/policy", Admin),
    ("GET", "/api/auth/users", Admin),
    ("POST", "/api/auth/users", Admin),
    ("GET", "/api/auth/users/{id}", Admin),
    ("PUT", "/api/auth/users/{id}", Admin),
    ("DELETE", "/api/auth/users/{id}", Admin),
    ("GET", "/api/auth/tokens", Admin),
    ("POST", "/api/auth/tokens", Admin),
    ("DELETE", "/api/auth/tokens/{id}", Admin),
    ("GET", "/api/audit", Admin),
    ("GET", "/api/auth/teams", Admin),
    ("POST", "/api/auth/teams", Admin),
    ("PUT", "/api/auth/teams/{id}", Admin),
    ("DELETE", "/api/auth/teams/{id}", Admin),
    ("GET", "/api/auth/folders", Admin),
    ("GET", "/api/auth/folders/{kind}/{folder}", Admin),
    ("PUT", "/api/auth/folders/{kind}/{folder}", Admin),
    // Alertmanager's API.
    ("GET", "/api/v2/status", AlertsRead),
    ("GET", "/api/v2/receivers", AlertsRead),
    ("GET", "/api/v2/alerts", AlertsRead),
    ("GET", "/api/v2/alerts/groups", AlertsRead),
    ("GET", "/api/v2/silences", AlertsRead),
    ("GET", "/api/v2/silence/{id}", AlertsRead),
    ("POST", "/api/v2/alerts", AlertsSend),
    ("POST", "/api/v2/silences", AlertsWrite),
    ("DELETE", "/api/v2/silence/{id}", AlertsWrite),
];

/// The decision for a route the router matched.
pub fn decision(method: &Method, route: &str) -> Option<Access> {
    ROUTES
        .iter()
        .find(|(m, r, _)| *r == route && (*m == "*" || *m == method.as_str()))
        .map(|(_, _, access)| *access)
}

/// The decision for a page of the UI: the sign-in page and public links are open.
pub fn page_access(path: &str) -> Access {
    if path == "/sign-in" || path.starts_with("/public/") {
        Open
    } else {
        Page
    }
}

impl Access {
    /// Whether `who` may use a route with this decision.
    pub fn allows(self, who: &Principal, metrics_auth: bool) -> bool {
        let person = |role: Role| who.account().is_some_and(|a| a.role >= role);
        match self {
            Open => true,
            PortalMetrics => !metrics_auth || Read.allows(who, metrics_auth),
            Page => !matches!(who, Principal::Anonymous),
            SignedIn => who.account().is_some(),
            Personal => who.account().is_some() || who.has_scope(Scope::Admin),
            Ingest => person(Role::Editor) || who.has_scope(Scope::Ingest),
            Read => person(Role::Viewer) || who.has_scope(Scope::Read),
            Edit => who.has_role(Role::Editor),
            Admin => who.has_role(Role::Admin),
            AlertsRead => {
                person(Role::Viewer)
                    || who.has_scope(Scope::Read)
                    || who.has_scope(Scope::Alertmanager)
            }
            AlertsWrite => person(Role::Editor) || who.has_scope(Scope::Alertmanager),
            AlertsSend => {
                person(Role::Editor)
                    || who.has_scope(Scope::Alertmanager)
                    || who.has_scope(Scope::Ingest)
            }
        }
    }

    /// What a refused caller is told it needs.
    fn needs(self) -> &'static str {
        match self {
            Open | PortalMetrics | Read | Page => "any account or a token with the read scope",
            SignedIn => "a signed-in account",
            Personal => "a signed-in account or an admin token",
            Ingest => "a token with the ingest scope, or the editor role",
            Edit => "the editor role",
            Admin => "the admin role",
            AlertsRead => "any account or a token with the read or alertmanager scope",
            AlertsWrite => "the editor role or a token with the alertmanager scope",
            AlertsSend => "the editor role or a token with the alertmanager or ingest scope",
        }
    }

    /// Whether a request with this decision and method changes something worth auditing.
    fn audited(self, method: &Method) -> bool {
        method != Method::GET
            && method != Method::HEAD
            && matches!(self, SignedIn | Personal | Edit | Admin | AlertsWrite)
    }
}

/// How the credentials came. A browser sends a cookie, Basic credentials it has once been given,
/// and (through the proxy in front of the portal) the trusted proxy's user header on its own,
/// with requests any other site makes it send: those requests get the cross-site check. A
/// bearer token is only ever sent by a program that was handed it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Nothing,
    Cookie,
    Basic,
    Bearer,
    Proxy,
    /// The audit layer's own reads.
    Internal,
}

impl Via {
    /// Whether a browser attaches this credential by itself, cross-site requests included.
    fn browser_borne(self) -> bool {
        matches!(self, Via::Cookie | Via::Basic | Via::Proxy)
    }
}

/// Longest `Authorization` header looked at; longer ones get 431.
pub const MAX_AUTHORIZATION_BYTES: usize = 4_096;

/// The name of the session cookie: set by sign-in, read here.
pub const COOKIE: &str = "portal_session";

/// The session secret a request carries in its cookie.
pub fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The address a request came from.
pub fn peer(request_extensions: &axum::http::Extensions) -> Option<IpAddr> {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// A request made by the audit layer itself (the state before a change), acting as the
/// principal it carries.
#[derive(Clone)]
struct Internal(Principal);

/// Who `parts` acts as, and how it said so.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<(Principal, Via), Response> {
    if let Some(Internal(principal)) = parts.extensions.get::<Internal>() {
        return Ok((principal.clone(), Via::Internal));
    }
    let unauthorized = |message: &str| unauthorized(message).into_response();
    if let Some(proxy) = &state.info.auth_proxy {
        if let Some(value) = parts.headers.get(&proxy.header) {
            let trusted = peer(&parts.extensions).is_some_and(|ip| in_networks(ip, &proxy.trusted));
            if trusted {
                let login = value
                    .to_str()
                    .map_err(|_| unauthorized("the proxy's user header is not text"))?;
                let account = state
                    .accounts
                    .proxy_account(login, proxy.role)
                    .await
                    .map_err(unchecked)?;
                return Ok((Principal::User(account), Via::Proxy));
            }
            tracing::warn!(peer = ?peer(&parts.extensions), "a user header from an address that is not a trusted proxy was ignored");
        }
    }
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        if value.len() > MAX_AUTHORIZATION_BYTES {
            return Err((
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Json(
                    ApiError::bad_request(
                        "authorization",
                        format!("longer than {MAX_AUTHORIZATION_BYTES} bytes"),
                    )
                    .body(),
                ),
            )
                .into_response());
        }
        let text = value.to_str().unwrap_or("");
        let (secret, via) = token_secret(text).ok_or_else(|| {
            unauthorized("the Authorization header is neither \"Bearer <token>\" nor Basic with the token as password")
        })?;
        let token = state
            .accounts
            .token(&secret)
            .await
            .map_err(unchecked)?
            .ok_or_else(|| unauthorized("the token is unknown, revoked or expired"))?;
        return Ok((Principal::Token(token), via));
    }
    if let Some(secret) = session_secret(&parts.headers) {
        if let Some(account) = state.accounts.session(&secret).await.map_err(unchecked)? {
            return Ok((Principal::User(account), Via::Cookie));
        }
    }
    Ok((Principal::Anonymous, Via::Nothing))
}

/// The token in `Bearer <token>`, or the password (else the user name) of `Basic`, as
/// Prometheus' `basic_auth`, Promtail and amtool send it; with the scheme it came in.
fn token_secret(authorization: &str) -> Option<(String, Via)> {
    let (scheme, rest) = authorization.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some((rest.to_string(), Via::Bearer)).filter(|(s, _)| !s.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':').unwrap_or((&text, ""));
        let secret = if password.is_empty() { user } else { password };
        return Some((secret.to_string(), Via::Basic)).filter(|(s, _)| !s.is_empty());
    }
    None
}

/// Credentials that cannot be checked (the database does not answer) get 503, not 500.
fn unchecked(error: ApiError) -> Response {
    match error {
        ApiError::Internal(e) => {
            tracing::warn!(error = %e, "credentials could not be checked");
            ApiError::unavailable(
                "credentials cannot be checked now: the database does not answer",
                5,
            )
            .into_response()
        }
        other => other.into_response(),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::Unauthorized(message.to_string()).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer realm=\"portal\""),
    );
    response
}

/// Whether a browser request comes from the portal's own pages: its Origin (or, without one,
/// its Fetch metadata) names this host or the external URL.
pub fn same_origin(headers: &HeaderMap, external_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Browsers send Origin with every cross-site POST, PUT and DELETE; without one, only
        // Fetch metadata can still say the request came from elsewhere.
        return headers
            .get("sec-fetch-site")
            .is_none_or(|v| v == "same-origin" || v == "none");
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let host_of = |url: &str| {
        url.split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or("").to_ascii_lowercase())
    };
    let Some(origin_host) = host_of(origin) else {
        return false; // "null" and the like
    };
    let request_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    request_host.as_deref() == Some(origin_host.as_str())
        || host_of(external_url).as_deref() == Some(origin_host.as_str())
}

/// `GET path` on the portal's own router as `who`, when the route has a GET and it answers JSON:
/// the state of a thing before and after a change, for the audit.
async fn snapshot(router: &SelfRouter, path: &str, who: &Principal) -> Option<Value> {
    let router = router.get()?;
    let mut request = Request::get(path).body(Body::empty()).ok()?;
    request.extensions_mut().insert(Internal(who.clone()));
    let response = router.oneshot(request).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    json_of(response.into_body()).await
}

async fn json_of(body: Body) -> Option<Value> {
    match read_bounded(body, MAX_READ_BYTES).await {
        Read::Whole(bytes) => serde_json::from_slice(&bytes).ok(),
        Read::TooLarge(_) => Some(too_large()),
        Read::Failed(_) => None,
    }
}

/// The most of an answer read to record it; the audit keeps at most a quarter of that.
const MAX_READ_BYTES: usize = crate::audit::MAX_SNAPSHOT_BYTES * 4;

/// What the audit records for a side of a change it does not read whole.
fn too_large() -> Value {
    Value::String(format!(
        "(more than {MAX_READ_BYTES} bytes of JSON, too large to record)"
    ))
}

/// A body read up to a limit: whole, or given back unread as a body that still answers every
/// byte (those already read, then the rest) so the client gets the real answer.
enum Read {
    Whole(axum::body::Bytes),
    TooLarge(Body),
    Failed(Body),
}

async fn read_bounded(body: Body, limit: usize) -> Read {
    use futures_util::{stream, StreamExt};
    let mut data = body.into_data_stream();
    let mut read = Vec::new();
    while let Some(chunk) = data.next().await {
        match chunk {
            Ok(bytes) => {
                read.extend_from_slice(&bytes);
                if read.len() > limit {
                    let head = stream::iter([Ok::<_, axum::Error>(axum::body::Bytes::from(read))]);
                    return Read::TooLarge(Body::from_stream(head.chain(data)));
                }
            }
            Err(e) => {
                let head = stream::iter([Ok(axum::body::Bytes::from(read)), Err(e)]);
                return Read::Failed(Body::from_stream(head));
            }
        }
    }
    Read::Whole(read.into())
}

/// Who a request acts as, for handlers: the principal the authentication layer found.
pub struct Actor(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<Principal>()
                .map_or_else(|| "anonymous".into(), Principal::name),
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Principal>()
            .cloned()
            .unwrap_or(Principal::Anonymous))
    }
}

/// The layer in front of every API route.
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let access = match route.as_deref() {
        Some(route) => decision(request.method(), route),
        None => None,
    };
    let Some(access) = access else {
        // A method the route does not have (or one added without a decision: the matrix test
        // catches those) is refused as axum would, with the methods it has.
        let allowed: Vec<&str> = ROUTES
            .iter()
            .filter(|(_, r, _)| Some(*r) == route.as_deref())
            .map(|(m, _, _)| *m)
            .collect();
        let mut response =
            ApiError::MethodNotAllowed("method not allowed for this endpoint".into())
                .into_response();
        if let Ok(value) = allowed.join(", ").parse() {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return response;
    };
    guard(state, access, request, next).await
}

/// The layer in front of the UI's pages.
pub async fn pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let access = page_access(request.uri().path());
    guard(state, access, request, next).await
}

async fn guard(state: AppState, access: Access, request: Request, next: Next) -> Response {
    if access == Open && request.uri().path() != "/api/auth/sign-in" {
        // Anonymous visitors (public links) share query slots by address.
        let owner = peer(request.extensions())
            .map_or_else(|| "anonymous".to_string(), |ip| format!("address:{ip}"));
        return OWNER.scope(owner, next.run(request)).await;
    }
    let (mut parts, body) = request.into_parts();
    let (principal, via) = match authenticate(&parts, &state).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    // Sign-in is checked too: a forged sign-in would put the victim in the forger's account.
    let cookie_like = via.browser_borne() || (access == Open && via == Via::Nothing);
    if unsafe_method && cookie_like && !same_origin(&parts.headers, &state.info.external_url) {
        return ApiError::Forbidden(format!(
            "cross-site request refused: state-changing requests with {} come from the portal's own pages",
            match via {
                Via::Basic => "Basic credentials",
                Via::Proxy => "the proxy's user header",
                _ => "a session",
            }
        ))
        .into_response();
    }
    if !access.allows(&principal, state.info.metrics_auth) {
        return match (&principal, access) {
            (Principal::Anonymous, Page) => {
                let target = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                Redirect::to(&format!(
                    "/sign-in?next={}",
                    form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
                ))
                .into_response()
            }
            (Principal::Anonymous, _) => unauthorized("sign in, or send an API token"),
            (who, _) => ApiError::Forbidden(format!(
                "{} cannot do this: it needs {}",
                who.name(),
                access.needs()
            ))
            .into_response(),
        };
    }
    if let Err(response) = check_folder(&state, access, &principal, &mut parts).await {
        return response;
    }
    parts.extensions.insert(principal.clone());
    let request = Request::from_parts(parts, body);
    // Queries made for this request count against the principal's fair share.
    let owner = principal.name();
    if !access.audited(request.method()) || matches!(principal, Principal::Anonymous) {
        return OWNER.scope(owner, next.run(request)).await;
    }
    OWNER
        .scope(owner, audited(state, access, principal, request, next))
        .await
}

/// The folder a route's dashboard, rule or group is in, when the route names one that exists.
async fn folder_of_route(
    state: &AppState,
    parts: &mut Parts,
) -> Result<Option<(FolderKind, String)>, ApiError> {
    let Some(route) = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
    else {
        return Ok(None);
    };
    let params = match RawPathParams::from_request_parts(parts, state).await {
        Ok(params) => params,
        Err(_) => return Ok(None),
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    };
    let (kind, uid) = if route.starts_with("/api/dashboards/{uid}") {
        (FolderKind::Dashboards, param("uid"))
    } else if route.starts_with("/api/alerting/rules/{uid}") {
        (FolderKind::Rules, param("uid"))
    } else if route == "/api/alerting/groups/{folder}/{name}" {
        return Ok(param("folder").map(|f| (FolderKind::Rules, f)));
    } else {
        return Ok(None);
    };
    let Some(uid) = uid else {
        return Ok(None);
    };
    Ok(state
        .accounts
        .folder_of(kind, &uid)
        .await?
        .map(|folder| (kind, folder)))
}

/// Refuses a request about a dashboard, rule or group in a folder the principal may not see
/// (reads) or change (writes).
async fn check_folder(
    state: &AppState,
    access: Access,
    principal: &Principal,
    parts: &mut Parts,
) -> Result<(), Response> {
    let need = match access {
        Read | Personal | AlertsRead => Permission::View,
        Edit => Permission::Edit,
        _ => return Ok(()),
    };
    let Some((kind, folder)) = folder_of_route(state, parts).await.map_err(unchecked)? else {
        return Ok(());
    };
    let folders = state
        .accounts
        .folder_access(principal)
        .await
        .map_err(unchecked)?;
    folders
        .check(kind, &folder, need)
        .map_err(IntoResponse::into_response)
}

/// What the principal may do in which folder, for handlers that list or file things.
pub struct Folders(pub FolderAccess);

impl FromRequestParts<AppState> for Folders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let who = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .unwrap_or(Principal::Anonymous);
        Ok(Self(state.accounts.folder_access(&who).await?))
    }
}

/// Runs a change and records it with the state of its target before and after.
async fn audited(
    state: AppState,
    access: Access,
    principal: Principal,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_string());
    let address = peer(request.extensions())
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let readable =
        decision(&Method::GET, &route).is_some() && !matches!(access, SignedIn | Personal);
    let before = if readable && method != Method::POST {
        snapshot(&state.self_router, &path, &principal).await
    } else {
        None
    };
    let response = next.run(request).await;
    let status = response.status();
    let (response, after) = if !status.is_success() || method == Method::DELETE {
        (response, None)
    } else if is_json(response.headers()) {
        // The change is made: whatever its answer, the client gets it as it is.
        let (parts, body) = response.into_parts();
        match read_bounded(body, MAX_READ_BYTES).await {
            Read::Whole(bytes) => {
                let after = serde_json::from_slice(&bytes).ok();
                (Response::from_parts(parts, Body::from(bytes)), after)
            }
            Read::TooLarge(body) => (Response::from_parts(parts, body), Some(too_large())),
            Read::Failed(body) => (Response::from_parts(parts, body), None),
        }
    } else if readable {
        let after = snapshot(&state.self_router, &path, &principal).await;
        (response, after)
    } else {
        (response, None)
    };
    let audit: &Audit = &state.audit;
    audit
        .record(Event {
            actor: &principal.name(),
            address: &address,
            action: &format!("{method} {route}"),
            target: &path,
            outcome: status.as_u16(),
            before,
            after,
        })
        .await;
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_as_bearer_or_basic() {
        let secret = |text: &str| token_secret(text).map(|(s, _)| s);
        assert_eq!(secret("Bearer pt_abc").as_deref(), Some("pt_abc"));
        assert_eq!(secret("bearer  pt_abc ").as_deref(), Some("pt_abc"));
        assert_eq!(
            token_secret("Bearer pt_abc").map(|(_, via)| via),
            Some(Via::Bearer)
        );
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert_eq!(secret(&basic("prometheus:pt_x")).as_deref(), Some("pt_x"));
        assert_eq!(secret(&basic("pt_y:")).as_deref(), Some("pt_y"));
        assert_eq!(
            token_secret(&basic("pt_y:")).map(|(_, via)| via),
            Some(Via::Basic)
        );
        assert!(Via::Basic.browser_borne() && Via::Proxy.browser_borne());
        assert!(!Via::Bearer.browser_borne() && !Via::Internal.browser_borne());
        assert_eq!(token_secret("Basic !!!"), None);
        assert_eq!(token_secret("Digest abc"), None);
        assert_eq!(token_secret("Bearer"), None);
    }

    #[test]
    fn only_the_portals_own_pages_pass_the_origin_check() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let external = "https://portal.example.com";
        let own = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(same_origin(&own, external));
        let proxied = headers(&[
            ("host", "10.0.0.5:3000"),
            ("origin", "https://portal.example.com"),
        ]);
        assert!(same_origin(&proxied, external));
        let evil = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!same_origin(&evil, external));
        let null = headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]);
        assert!(!same_origin(&null, external));
        let cross = headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")]);
        assert!(!same_origin(&cross, external));
        assert!(
            same_origin(&headers(&[("host", "127.0.0.1:3000")]), external),
            "curl"
        );
    }

    #[test]
    fn every_role_reads_and_only_the_right_ones_change() {
        let account = |role| {
            Principal::User(app::api::accounts::Account {
                id: 1,
                login: "x".into(),
                name: String::new(),
                role,
                created_at: chrono::Utc::now(),
            })
        };
        let (viewer, editor, admin) = (
            account(Role::Viewer),
            account(Role::Editor),
            account(Role::Admin),
        );
        assert!(Read.allows(&viewer, false) && !Edit.allows(&viewer, false));
        assert!(Edit.allows(&editor, false) && !Admin.allows(&editor, false));
        assert!(Admin.allows(&admin, false));
        assert!(PortalMetrics.allows(&Principal::Anonymous, false));
        assert!(!PortalMetrics.allows(&Principal::Anonymous, true));
        assert!(!Page.allows(&Principal::Anonymous, false));
    }
}
