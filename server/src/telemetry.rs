//! How the portal reports on itself: JSON logs through `tracing`, and the middleware that gives
//! every request an id, joins the caller's W3C trace (`traceparent`), logs the request and
//! counts it in the metrics.

use crate::{config::LogFormat, portal_metrics::PortalMetrics};
use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use std::time::Instant;
use tracing::{info_span, Instrument};
use tracing_subscriber::{fmt, EnvFilter};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// W3C Trace Context level 2: tells the caller which trace and span answered it.
pub const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

/// Installs the global subscriber; a second call (tests) changes nothing.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A request's place in a distributed trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    /// This request's own span.
    pub span_id: String,
    /// The caller's span, when the caller sent `traceparent`.
    pub parent_span_id: Option<String>,
    pub sampled: bool,
}

impl TraceContext {
    /// Continues the caller's trace when `traceparent` is valid, else starts a new one.
    pub fn from_traceparent(header: Option<&str>) -> Self {
        if let Some((trace_id, parent, flags)) = header.and_then(parse_traceparent) {
            return Self {
                trace_id,
                span_id: random_hex(8),
                parent_span_id: Some(parent),
                sampled: flags & 1 == 1,
            };
        }
        Self {
            trace_id: random_hex(16),
            span_id: random_hex(8),
            parent_span_id: None,
            sampled: true,
        }
    }

    /// The `traceparent` (and `traceresponse`) value that names this request's span.
    pub fn header_value(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }
}

/// Parses `version-traceid-parentid-flags` as the W3C Trace Context recommendation defines it.
fn parse_traceparent(value: &str) -> Option<(String, String, u8)> {
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !lower_hex(version, 2)
        || version == "ff"
        || !lower_hex(trace_id, 32)
        || !lower_hex(parent, 16)
        || !lower_hex(flags, 2)
    {
        return None;
    }
    // Version 00 has exactly four fields; later versions may append more.
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if trace_id.bytes().all(|b| b == b'0') || parent.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((
        trace_id.to_string(),
        parent.to_string(),
        u8::from_str_radix(flags, 16).ok()?,
    ))
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    loop {
        rand::rng().fill_bytes(&mut buf);
        if buf.iter().any(|b| *b != 0) {
            return buf.iter().map(|b| format!("{b:02x}")).collect();
        }
    }
}

/// Keeps a caller's request id when it is short printable ASCII, else makes one.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Routes whose every request would drown the log; they are still counted.
fn is_quiet(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics") || route.starts_with("/pkg/")
}

/// The request middleware: id, trace context, span, log line and metrics.
pub async fn observe(
    State(metrics): State<PortalMetrics>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| {
            if request.uri().path().starts_with("/pkg/") {
                "/pkg/{*path}".into()
            } else {
                "other".into()
            }
        });
    let request_id = request_id(&request);
    let trace = TraceContext::from_traceparent(
        request
            .headers()
            .get(&TRACEPARENT)
            .and_then(|v| v.to_str().ok()),
    );
    let span = info_span!(
        "request",
        %method,
        route = %route,
        path = %request.uri().path(),
        request_id = %request_id,
        trace_id = %trace.trace_id,
        span_id = %trace.span_id,
        parent_span_id = trace.parent_span_id.as_deref().unwrap_or(""),
    );
    request.extensions_mut().insert(trace.clone());

    metrics.in_flight().inc();
    let mut response = next.run(request).instrument(span.clone()).await;
    metrics.in_flight().dec();

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.observe_request(&method, &route, status, elapsed.as_secs_f64());
    span.in_scope(|| {
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(status, duration_ms, "request failed");
        } else if is_quiet(&route) {
            tracing::debug!(status, duration_ms, "request finished");
        } else {
            tracing::info!(status, duration_ms, "request finished");
        }
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    if let Ok(value) = HeaderValue::from_str(&trace.header_value()) {
        headers.insert(TRACERESPONSE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_is_continued() {
        let ctx = TraceContext::from_traceparent(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(
            ctx.span_id, "00f067aa0ba902b7",
            "the request gets a span of its own"
        );
        assert!(ctx.sampled);
        assert!(ctx
            .header_value()
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "garbage",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        ] {
            let ctx = TraceContext::from_traceparent(Some(bad));
            assert_eq!(ctx.parent_span_id, None, "{bad}");
            assert_eq!(ctx.trace_id.len(), 32);
            assert_ne!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
        }
    }

    #[test]
    fn future_versions_may_carry_more_fields() {
        let ctx = TraceContext::from_traceparent(Some(
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-the-future-holds",
        ));
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(!ctx.sampled);
    }
}
