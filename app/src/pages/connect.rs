//! Connect a source: for each way in, the configuration to paste, with this portal's URL and a
//! fresh ingest token, and the series arriving as they come.

use crate::api::{
    accounts::{CreateToken, Role, Scope},
    endpoints,
    prometheus::QueryData,
};
use crate::components::{page_header::PageHeader, session::use_session, url_state::use_tick};
use leptos::prelude::*;

/// What stands for the token until one is made.
const NO_TOKEN: &str = "<ingest token>";

/// The configuration snippets, each with its title and what it is for.
pub fn snippets(base: &str, token: &str) -> Vec<(&'static str, &'static str, String)> {
    vec![
        (
            "Prometheus remote_write",
            "In prometheus.yml: Prometheus sends every sample it scrapes.",
            format!(
                "remote_write:\n  - url: {base}/api/v1/write\n    authorization:\n      credentials: {token}\n"
            ),
        ),
        (
            "OpenTelemetry SDK",
            "Environment of any OpenTelemetry SDK (Python, Go, Java, Node…) exporting metrics over OTLP/HTTP.",
            format!(
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT={base}/v1/metrics\nOTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf\nOTEL_EXPORTER_OTLP_METRICS_HEADERS=Authorization=Bearer%20{token}\n"
            ),
        ),
        (
            "OpenTelemetry SDK: logs",
            "Environment of any OpenTelemetry SDK exporting logs over OTLP/HTTP (with Python's logging handler, Java's appenders, Node's winston or pino instrumentation…).",
            format!(
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT={base}/v1/logs\nOTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf\nOTEL_EXPORTER_OTLP_LOGS_HEADERS=Authorization=Bearer%20{token}\n"
            ),
        ),
        (
            "OpenTelemetry Collector",
            "In the Collector's configuration: an otlphttp exporter added to the metrics and logs pipelines.",
            format!(
                "exporters:\n  otlphttp/portal:\n    metrics_endpoint: {base}/v1/metrics\n    logs_endpoint: {base}/v1/logs\n    headers:\n      Authorization: \"Bearer {token}\"\n\nservice:\n  pipelines:\n    metrics:\n      exporters: [otlphttp/portal]\n    logs:\n      exporters: [otlphttp/portal]\n"
            ),
        ),
        (
            "Promtail",
            "In Promtail's configuration: the portal takes Loki's push API.",
            format!("clients:\n  - url: {base}/loki/api/v1/push\n    bearer_token: {token}\n"),
        ),
        (
            "Grafana Alloy",
            "In Alloy's configuration: a loki.write component the log pipelines forward to.",
            format!(
                "loki.write \"portal\" {{\n  endpoint {{\n    url          = \"{base}/loki/api/v1/push\"\n    bearer_token = \"{token}\"\n  }}\n}}\n"
            ),
        ),
        (
            "Vector",
            "In Vector's configuration: a loki sink (name your own source in inputs).",
            format!(
                "[sinks.portal]\ntype = \"loki\"\ninputs = [\"my_logs\"]\nendpoint = \"{base}\"\nencoding.codec = \"json\"\nlabels.service_name = \"my-service\"\nauth.strategy = \"bearer\"\nauth.token = \"{token}\"\n"
            ),
        ),
        {
            let (tls, host, port) = host_and_port(base);
            (
                "Fluent Bit",
                "In Fluent Bit's configuration: the loki output.",
                format!(
                    "[OUTPUT]\n    Name          loki\n    Match         *\n    Host          {host}\n    Port          {port}\n    Tls           {tls}\n    Bearer_token  {token}\n    Labels        service_name=my-service\n    Line_format   json\n"
                ),
            )
        },
        (
            "A scrape job",
            "In the portal's own configuration file (--config): the portal scrapes targets in the Prometheus text format; no token is needed.",
            "[[scrape]]\njob = \"my-service\"\ntargets = [\"127.0.0.1:9100\"]\ninterval = \"15s\"\n".to_string(),
        ),
    ]
}

/// Whether a base URL uses TLS, and its host and port (the scheme's default when not given).
fn host_and_port(base: &str) -> (&'static str, String, u16) {
    let (tls, rest) = match base.strip_prefix("https://") {
        Some(rest) => ("on", rest),
        None => ("off", base.strip_prefix("http://").unwrap_or(base)),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let default = if tls == "on" { 443 } else { 80 };
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (tls, host.to_string(), port.parse().unwrap_or(default))
        }
        _ => (tls, authority.to_string(), default),
    }
}

#[component]
pub fn ConnectPage() -> impl IntoView {
    let session = use_session();
    let token = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let base = RwSignal::new(String::from("http://127.0.0.1:3000"));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| base.set(window().location().origin().unwrap_or_default()));
    let make = move |_| {
        let request = CreateToken {
            name: format!("ingest {}", chrono::Utc::now().format("%Y-%m-%d %H:%M")),
            scopes: vec![Scope::Ingest],
            expires_at: None,
        };
        leptos::task::spawn_local(async move {
            match endpoints::create_token(&request).await {
                Ok(made) => {
                    error.set(None);
                    token.set(Some(made.secret));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <PageHeader title="Connect a source" subtitle="Send metrics and logs with the tools you already run"/>
        <section class="card">
            <h2 class="card-title">"1. A token"</h2>
            <p>"Senders authenticate with an API token with the "<code>"ingest"</code>" scope, sent as a bearer token (or as the password of basic auth)."</p>
            <Show when=move || session.can(Role::Admin)
                fallback=|| view! { <p class="muted">"Only an admin makes tokens: ask one for an ingest token, then put it where the snippets say "<code>{NO_TOKEN}</code>"."</p> }>
                <button type="button" class="button button-primary" on:click=make>"Make an ingest token"</button>
            </Show>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            {move || token.get().map(|t| view! {
                <div class="token-secret" role="status">
                    <p>"The token is in the snippets below; it is shown this once."</p>
                    <code class="token-value">{t}</code>
                </div>
            })}
        </section>
        <section class="card">
            <h2 class="card-title">"2. The configuration"</h2>
            {move || {
                let t = token.get().unwrap_or_else(|| NO_TOKEN.to_string());
                snippets(&base.get(), &t).into_iter().map(|(title, text, code)| view! {
                    <div class="snippet">
                        <h3 class="snippet-title">{title}</h3>
                        <p class="muted">{text}</p>
                        <pre class="code snippet-code">{code}</pre>
                    </div>
                }).collect_view()
            }}
        </section>
        <ArrivingSeries/>
    }
}

/// The series that arrived in the last five minutes, by job, every three seconds.
#[component]
fn ArrivingSeries() -> impl IntoView {
    let tick = use_tick(3);
    let counts = LocalResource::new(move || {
        tick.track();
        async move {
            endpoints::instant_query(
                "count by (job) ({__name__=~\".+\", job!=\"portal\"})",
                chrono::Utc::now().timestamp_millis(),
            )
            .await
        }
    });
    view! {
        <section class="card" aria-live="polite">
            <h2 class="card-title">"3. The first series"</h2>
            {move || match counts.get() {
                None => view! { <p class="muted">"Waiting for data…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text">{e}</p> }.into_any(),
                Some(Ok(QueryData::Vector(v))) if !v.is_empty() => view! {
                    <ul class="arrived">
                        {v.into_iter().map(|s| {
                            let job = s.metric.get("job").cloned().unwrap_or_else(|| "(no job)".into());
                            view! { <li><strong>{job}</strong>": "{s.value.1}" series"</li> }
                        }).collect_view()}
                    </ul>
                    <p><a href="/explore/metrics">"Explore them"</a></p>
                }.into_any(),
                Some(Ok(_)) => view! { <p class="muted">"No series yet: once a sender uses the configuration above, its series show here within seconds."</p> }.into_any(),
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{host_and_port, snippets};

    #[test]
    fn hosts_and_ports_of_base_urls() {
        assert_eq!(
            host_and_port("http://127.0.0.1:3000"),
            ("off", "127.0.0.1".into(), 3000)
        );
        assert_eq!(
            host_and_port("https://portal.example.com"),
            ("on", "portal.example.com".into(), 443)
        );
        assert_eq!(
            host_and_port("http://[::1]:3000/"),
            ("off", "[::1]".into(), 3000)
        );
    }

    #[test]
    fn every_snippet_names_this_portal_and_the_token_where_one_is_needed() {
        for (title, _, code) in snippets("https://portal.example.com", "pt_abc") {
            match title {
                "A scrape job" => {}
                "Fluent Bit" => assert!(
                    code.contains("portal.example.com")
                        && code.contains("443")
                        && code.contains("on"),
                    "{code}"
                ),
                _ => assert!(code.contains("https://portal.example.com"), "{title}"),
            }
            if title != "A scrape job" {
                assert!(code.contains("pt_abc"), "{title}");
            }
        }
    }
}
