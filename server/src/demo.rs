//! The demo generator: a small fleet of LLM agents whose telemetry reaches the portal through
//! the same protocols real senders use, with an API token as they do: Prometheus remote-write
//! for task counters, durations and queues, OTLP/HTTP for per-agent memory, tool calls, LLM tokens and cost. Traffic follows
//! a daily curve with bursts; now and then an agent degrades and fails with one error type for
//! a while. The agents also log what they do (task start and finish, tool calls, failures with
//! stack traces, each task's lines sharing a trace id): half through OTLP/HTTP logs, half
//! through Loki's push API as JSON lines. On first start it back-fills the last hours so charts
//! and searches have history at once.

use crate::{
    ingest::{
        remote_write::{self, MetadataEntry},
        IncomingSeries,
    },
    labels::SeriesKey,
    otlp::resource::kv,
};
use opentelemetry_proto::tonic::{
    collector::{logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest},
    common::v1::{any_value, AnyValue, KeyValue},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    metrics::v1::{
        metric::Data, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint,
        ResourceMetrics, ScopeMetrics, Sum,
    },
    resource::v1::Resource,
};
use prost::Message;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::{collections::BTreeMap, time::Duration};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often the fleet reports, as a scraper would.
pub const STEP: Duration = Duration::from_secs(15);
/// How much history a first start writes.
pub const BACKFILL: chrono::Duration = chrono::Duration::hours(6);

const AGENTS: [(&str, &str); 8] = [
    ("planner-1", "planner"),
    ("planner-2", "planner"),
    ("researcher-1", "researcher"),
    ("researcher-2", "researcher"),
    ("researcher-3", "researcher"),
    ("coder-1", "coder"),
    ("coder-2", "coder"),
    ("reviewer-1", "reviewer"),
];
const QUEUES: [&str; 4] = ["planning", "research", "coding", "review"];
const ERROR_TYPES: [&str; 4] = ["timeout", "rate_limited", "tool_error", "llm_error"];
const TOOLS: [&str; 4] = ["web_search", "code_exec", "file_read", "vector_db"];
const BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// One agent's running totals.
#[derive(Default)]
struct Agent {
    successes: f64,
    failures: BTreeMap<&'static str, f64>,
    /// Per status: cumulative bucket counts, sum, count.
    durations: BTreeMap<&'static str, ([f64; BUCKETS.len()], f64, f64)>,
    memory: f64,
    tool_calls: BTreeMap<&'static str, f64>,
    prompt_tokens: f64,
    completion_tokens: f64,
    cost: f64,
    /// Until when (ms) the agent is degraded, and with which error.
    degraded: Option<(i64, &'static str)>,
}

/// The simulated fleet.
pub struct Fleet {
    rng: StdRng,
    agents: Vec<Agent>,
    queues: [f64; QUEUES.len()],
    /// Until when (ms) a traffic burst lasts.
    burst_until: i64,
}

/// What one step produced, ready for the protocols.
pub struct Step {
    pub remote_write: Vec<IncomingSeries>,
    pub otlp: ExportMetricsServiceRequest,
    pub logs: Vec<DemoLog>,
}

/// One line an agent logs.
#[derive(Clone, Debug)]
pub struct DemoLog {
    pub time_ns: i64,
    pub agent: usize,
    /// OTLP severity number.
    pub severity: u8,
    pub body: String,
    pub attributes: Vec<(&'static str, String)>,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

/// What a failure of each error type says, and the frames it is thrown from.
fn failure_of(error: &str, tool: &str) -> (&'static str, String, &'static str) {
    match error {
        "timeout" => (
            "TimeoutError",
            "LLM call exceeded its 60 s deadline".into(),
            "agents/llm.py\", line 88, in complete\n    return await asyncio.wait_for(call, 60)",
        ),
        "rate_limited" => (
            "RateLimitError",
            "429 Too Many Requests from the model provider".into(),
            "agents/llm.py\", line 102, in complete\n    response.raise_for_status()",
        ),
        "tool_error" => (
            "ToolError",
            format!("{tool} exited with status 1"),
            "agents/tools.py\", line 57, in run\n    raise ToolError(f\"{name} exited with status {code}\")",
        ),
        _ => (
            "ValueError",
            "model output is not valid JSON".into(),
            "agents/parse.py\", line 31, in parse_plan\n    return json.loads(text)",
        ),
    }
}

impl Fleet {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            agents: AGENTS
                .iter()
                .map(|_| Agent {
                    memory: 400e6,
                    ..Default::default()
                })
                .collect(),
            queues: [5.0; QUEUES.len()],
            burst_until: 0,
        }
    }

    /// Advances the fleet by one step ending at `t` (ms) and reports its state.
    pub fn step(&mut self, t: i64) -> Step {
        let hour = (t / 3_600_000 % 24) as f64;
        // Busier in the (UTC) afternoon, quiet at night.
        let daily = 1.0 + 0.6 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin();
        if self.burst_until < t && self.rng.random_bool(0.004) {
            self.burst_until = t + self.rng.random_range(3..12) * 60_000;
        }
        let burst = if self.burst_until >= t { 3.5 } else { 1.0 };
        let mut series = Vec::new();
        let mut memory_points = Vec::new();
        let mut token_points = Vec::new();
        let mut cost_points = Vec::new();
        let mut logs = Vec::new();
        for (i, &(id, kind)) in AGENTS.iter().enumerate() {
            let agent = &mut self.agents[i];
            if agent.degraded.is_none_or(|(until, _)| until < t) {
                agent.degraded = None;
                if self.rng.random_bool(0.002) {
                    let error = ERROR_TYPES[self.rng.random_range(0..ERROR_TYPES.len())];
                    agent.degraded = Some((t + self.rng.random_range(5..20) * 60_000, error));
                }
            }
            let base = match kind {
                "planner" => 1.2,
                "researcher" => 0.8,
                "coder" => 0.5,
                _ => 0.7,
            };
            let tasks = poisson(&mut self.rng, base * daily * burst);
            let failure_rate = if agent.degraded.is_some() { 0.45 } else { 0.04 };
            for _ in 0..tasks {
                let task_id = format!("t-{:06}", self.rng.random_range(0..1_000_000));
                let trace_id: [u8; 16] = self.rng.random();
                let started_ns =
                    (t - self.rng.random_range(0..STEP.as_millis() as i64)) * 1_000_000;
                let failed = self.rng.random_bool(failure_rate);
                let median: f64 = match kind {
                    "coder" => 12.0,
                    "researcher" => 6.0,
                    "planner" => 1.5,
                    _ => 3.0,
                };
                let spread: f64 = self.rng.random_range(-1.0..1.0);
                let mut seconds = median * (spread * 0.9).exp() * burst.sqrt();
                let mut failed_with = None;
                let status = if failed {
                    let error = match agent.degraded {
                        Some((_, e)) if self.rng.random_bool(0.8) => e,
                        _ => ERROR_TYPES[self.rng.random_range(0..ERROR_TYPES.len())],
                    };
                    if error == "timeout" {
                        seconds = 60.0 + self.rng.random_range(0.0..30.0);
                    }
                    *agent.failures.entry(error).or_default() += 1.0;
                    failed_with = Some(error);
                    "failure"
                } else {
                    agent.successes += 1.0;
                    "success"
                };
                let (buckets, sum, count) = agent.durations.entry(status).or_default();
                for (b, bound) in buckets.iter_mut().zip(BUCKETS) {
                    if seconds <= bound {
                        *b += 1.0;
                    }
                }
                *sum += seconds;
                *count += 1.0;
                let calls = self.rng.random_range(1..6);
                let mut log =
                    |rng: &mut StdRng,
                     at: i64,
                     severity: u8,
                     body: String,
                     attributes: Vec<(&'static str, String)>| {
                        let mut a =
                            vec![("agent.id", id.to_string()), ("task.id", task_id.clone())];
                        a.extend(attributes);
                        logs.push(DemoLog {
                            time_ns: at,
                            agent: i,
                            severity,
                            body,
                            attributes: a,
                            trace_id,
                            span_id: rng.random(),
                        });
                    };
                log(
                    &mut self.rng,
                    started_ns,
                    9,
                    format!("task {task_id} started"),
                    vec![("queue", kind.to_string())],
                );
                let mut last_tool = TOOLS[0];
                for call in 0..calls {
                    let tool = TOOLS[self.rng.random_range(0..TOOLS.len())];
                    last_tool = tool;
                    *agent.tool_calls.entry(tool).or_default() += 1.0;
                    let ms = self.rng.random_range(20..3000);
                    log(
                        &mut self.rng,
                        started_ns + (call as i64 + 1) * 1_000_000_000,
                        if ms > 2500 { 13 } else { 5 },
                        format!("tool {tool} returned in {ms} ms"),
                        vec![("tool", tool.to_string()), ("duration_ms", ms.to_string())],
                    );
                }
                let prompt = self.rng.random_range(800.0..6000.0_f64).round();
                let completion = self.rng.random_range(100.0..1500.0_f64).round();
                agent.prompt_tokens += prompt;
                agent.completion_tokens += completion;
                let cost = prompt * 3e-6 + completion * 15e-6;
                agent.cost += cost;
                let end_ns = started_ns + (seconds * 1e9) as i64;
                if let Some(error) = failed_with {
                    let (kind_name, message, frame) = failure_of(error, last_tool);
                    let stack = format!(
                        "Traceback (most recent call last):\n  File \"agents/runner.py\", line 142, in run_task\n    result = await agent.step(task)\n  File \"{frame}\n{kind_name}: {message}"
                    );
                    log(
                        &mut self.rng,
                        end_ns,
                        17,
                        format!("task {task_id} failed: {kind_name}: {message}"),
                        vec![
                            ("error.type", error.to_string()),
                            ("exception.type", kind_name.to_string()),
                            ("exception.message", message),
                            ("exception.stacktrace", stack),
                        ],
                    );
                } else {
                    log(
                        &mut self.rng,
                        end_ns,
                        9,
                        format!("task {task_id} finished in {seconds:.1} s"),
                        vec![
                            (
                                "duration_ms",
                                ((seconds * 1000.0).round() as i64).to_string(),
                            ),
                            ("tokens", (prompt + completion).to_string()),
                            ("cost_usd", format!("{cost:.5}")),
                        ],
                    );
                }
            }
            // Memory creeps up with work and drops when the agent's context is trimmed.
            agent.memory += f64::from(tasks) * 2e6 + self.rng.random_range(-1e6..1.5e6);
            if agent.memory > 1.2e9 || self.rng.random_bool(0.003) {
                agent.memory = 350e6 + self.rng.random_range(0.0..50e6);
            }

            series.push(sample(
                "agent_task_success_total",
                &agent_labels(id, kind, &[]),
                t,
                agent.successes,
            ));
            for error in ERROR_TYPES {
                let n = agent.failures.get(error).copied().unwrap_or(0.0);
                series.push(sample(
                    "agent_task_failure_total",
                    &agent_labels(id, kind, &[("error_type", error)]),
                    t,
                    n,
                ));
            }
            for status in ["success", "failure"] {
                let (buckets, sum, count) =
                    agent.durations.get(status).copied().unwrap_or_default();
                for (bound, n) in BUCKETS.iter().zip(buckets) {
                    let le = bound.to_string();
                    let l = agent_labels(id, kind, &[("status", status), ("le", &le)]);
                    series.push(sample("agent_task_duration_seconds_bucket", &l, t, n));
                }
                let l = agent_labels(id, kind, &[("status", status), ("le", "+Inf")]);
                series.push(sample("agent_task_duration_seconds_bucket", &l, t, count));
                let l = agent_labels(id, kind, &[("status", status)]);
                series.push(sample("agent_task_duration_seconds_sum", &l, t, sum));
                series.push(sample("agent_task_duration_seconds_count", &l, t, count));
            }
            for tool in TOOLS {
                let n = agent.tool_calls.get(tool).copied().unwrap_or(0.0);
                series.push(sample(
                    "agent_tool_calls_total",
                    &agent_labels(id, kind, &[("tool", tool)]),
                    t,
                    n,
                ));
            }
            let attrs = vec![kv("agent.id", id), kv("agent.type", kind)];
            let model = if kind == "coder" { "large" } else { "small" };
            memory_points.push(point(t, agent.memory, attrs.clone()));
            for (direction, n) in [
                ("prompt", agent.prompt_tokens),
                ("completion", agent.completion_tokens),
            ] {
                let mut a = attrs.clone();
                a.extend([kv("model", model), kv("direction", direction)]);
                token_points.push(point(t, n, a));
            }
            let mut a = attrs;
            a.push(kv("model", model));
            cost_points.push(point(t, agent.cost, a));
        }
        for (q, name) in QUEUES.iter().enumerate() {
            let drift: f64 = self.rng.random_range(-3.0..3.2) + (burst - 1.0) * 4.0;
            self.queues[q] = (self.queues[q] + drift).clamp(0.0, 400.0);
            if burst == 1.0 {
                self.queues[q] *= 0.97;
            }
            series.push(sample(
                "agent_queue_depth",
                &[("queue_name", name)],
                t,
                self.queues[q].round(),
            ));
            // Waiting time follows depth: each queue drains a few tasks a second.
            let drain_per_second = 2.0 + q as f64;
            series.push(sample(
                "agent_queue_wait_seconds",
                &[("queue_name", name)],
                t,
                (self.queues[q] / drain_per_second * 100.0).round() / 100.0,
            ));
        }
        logs.sort_by_key(|l| l.time_ns);
        Step {
            remote_write: series,
            otlp: otlp_request(memory_points, token_points, cost_points),
            logs,
        }
    }
}

/// What the remote-written metrics are, sent with the first request.
pub fn metadata() -> Vec<MetadataEntry> {
    let entry = |metric: &str, kind, help: &str| MetadataEntry {
        metric: metric.into(),
        kind,
        help: help.into(),
        unit: String::new(),
    };
    vec![
        entry(
            "agent_task_success_total",
            "counter",
            "Tasks an agent finished successfully",
        ),
        entry(
            "agent_task_failure_total",
            "counter",
            "Tasks an agent failed, by error type",
        ),
        entry(
            "agent_task_duration_seconds",
            "histogram",
            "How long agent tasks take, by outcome",
        ),
        entry(
            "agent_tool_calls_total",
            "counter",
            "Tool calls agents made, by tool",
        ),
        entry("agent_queue_depth", "gauge", "Tasks waiting in each queue"),
        entry(
            "agent_queue_wait_seconds",
            "gauge",
            "How long a task entering each queue waits before an agent takes it",
        ),
    ]
}

fn agent_labels<'a>(
    id: &'a str,
    kind: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut l = vec![("agent_id", id), ("agent_type", kind)];
    l.extend_from_slice(extra);
    l
}

fn sample(metric: &str, labels: &[(&str, &str)], t: i64, value: f64) -> IncomingSeries {
    let mut l: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.push(("instance".into(), "demo".into()));
    l.push(("job".into(), "agents".into()));
    l.sort();
    IncomingSeries {
        key: SeriesKey {
            metric: metric.into(),
            labels: l,
        },
        samples: vec![(t, value)],
    }
}

fn point(t: i64, value: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        time_unix_nano: t as u64 * 1_000_000,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn otlp_request(
    memory: Vec<NumberDataPoint>,
    tokens: Vec<NumberDataPoint>,
    cost: Vec<NumberDataPoint>,
) -> ExportMetricsServiceRequest {
    let counter = |name: &str, unit: &str, description: &str, data_points| Metric {
        name: name.into(),
        unit: unit.into(),
        description: description.into(),
        data: Some(Data::Sum(Sum {
            data_points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let metrics = vec![
        Metric {
            name: "agent.memory.usage".into(),
            unit: "By".into(),
            description: "Resident memory of each agent".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: memory,
            })),
            ..Default::default()
        },
        counter(
            "llm.tokens",
            "{token}",
            "LLM tokens used, by direction",
            tokens,
        ),
        counter("llm.cost", "usd", "LLM spend in US dollars", cost),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "agents"),
                    kv("service.instance.id", "demo"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A Poisson-distributed count with mean `lambda` (Knuth's method; small means only).
fn poisson(rng: &mut StdRng, lambda: f64) -> u32 {
    let limit = (-lambda).exp();
    let mut product: f64 = rng.random();
    let mut n = 0;
    while product > limit && n < 1000 {
        product *= rng.random::<f64>();
        n += 1;
    }
    n
}

/// Sends a step's data to the portal at `base` (e.g. `http://127.0.0.1:3000`).
async fn send(
    client: &reqwest::Client,
    base: &str,
    steps: &[Step],
    first: bool,
) -> Result<(), String> {
    let mut merged: BTreeMap<SeriesKey, Vec<(i64, f64)>> = BTreeMap::new();
    for step in steps {
        for s in &step.remote_write {
            merged.entry(s.key.clone()).or_default().extend(&s.samples);
        }
    }
    let series: Vec<IncomingSeries> = merged
        .into_iter()
        .map(|(key, samples)| IncomingSeries { key, samples })
        .collect();
    let metadata = if first { metadata() } else { Vec::new() };
    let response = client
        .post(format!("{base}/api/v1/write"))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(remote_write::encode(&series, &metadata))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!(
            "remote write answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        ));
    }
    let mut otlp = ExportMetricsServiceRequest::default();
    for step in steps {
        otlp.resource_metrics
            .extend(step.otlp.resource_metrics.iter().cloned());
    }
    let response = client
        .post(format!("{base}/v1/metrics"))
        .header("content-type", "application/x-protobuf")
        .body(otlp.encode_to_vec())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!(
            "OTLP answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        ));
    }
    send_logs(client, base, steps).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The even agents' lines as OTLP logs (one resource per agent), the odd agents' as a Loki
/// push of JSON lines with the trace ids as structured metadata.
fn logs_requests(logs: &[&DemoLog]) -> (ExportLogsServiceRequest, serde_json::Value) {
    let mut otlp: BTreeMap<usize, Vec<LogRecord>> = BTreeMap::new();
    let mut loki: BTreeMap<usize, Vec<serde_json::Value>> = BTreeMap::new();
    for l in logs {
        if l.agent % 2 == 0 {
            otlp.entry(l.agent).or_default().push(LogRecord {
                time_unix_nano: l.time_ns as u64,
                observed_time_unix_nano: l.time_ns as u64,
                severity_number: i32::from(l.severity),
                severity_text: app::api::logs::level_name(l.severity).to_uppercase(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(l.body.clone())),
                }),
                attributes: l.attributes.iter().map(|(k, v)| kv(k, v)).collect(),
                trace_id: l.trace_id.to_vec(),
                span_id: l.span_id.to_vec(),
                ..Default::default()
            });
        } else {
            let mut line = serde_json::Map::new();
            line.insert(
                "level".into(),
                app::api::logs::level_name(l.severity).into(),
            );
            line.insert("msg".into(), l.body.clone().into());
            for (k, v) in &l.attributes {
                line.insert(k.replace('.', "_"), v.clone().into());
            }
            loki.entry(l.agent).or_default().push(serde_json::json!([
                l.time_ns.to_string(),
                serde_json::Value::Object(line).to_string(),
                {"trace_id": hex(&l.trace_id), "span_id": hex(&l.span_id)},
            ]));
        }
    }
    let otlp = ExportLogsServiceRequest {
        resource_logs: otlp
            .into_iter()
            .map(|(agent, log_records)| ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", "agents"),
                        kv("service.instance.id", AGENTS[agent].0),
                        kv("agent.type", AGENTS[agent].1),
                    ],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    let loki = serde_json::json!({"streams": loki.into_iter().map(|(agent, values)| serde_json::json!({
        "stream": {"service_name": "agents", "agent_id": AGENTS[agent].0, "agent_type": AGENTS[agent].1},
        "values": values,
    })).collect::<Vec<_>>()});
    (otlp, loki)
}

async fn send_logs(client: &reqwest::Client, base: &str, steps: &[Step]) -> Result<(), String> {
    let logs: Vec<&DemoLog> = steps.iter().flat_map(|s| &s.logs).collect();
    if logs.is_empty() {
        return Ok(());
    }
    let (otlp, loki) = logs_requests(&logs);
    for (url, request) in [
        (
            format!("{base}/v1/logs"),
            client
                .post(format!("{base}/v1/logs"))
                .header("content-type", "application/x-protobuf")
                .body(otlp.encode_to_vec()),
        ),
        (
            format!("{base}/loki/api/v1/push"),
            client.post(format!("{base}/loki/api/v1/push")).json(&loki),
        ),
    ] {
        let response = request.send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!(
                "{url} answered {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Whether the portal already holds demo data (so a restart does not back-fill twice).
async fn has_history(client: &reqwest::Client, base: &str) -> bool {
    let url = format!(
        "{base}/api/v1/query?query=count(agent_task_success_total%7Bjob%3D%22agents%22%7D)"
    );
    match client.get(url).send().await {
        Ok(r) => r.json::<serde_json::Value>().await.is_ok_and(|b| {
            b["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        }),
        Err(_) => false,
    }
}

/// Feeds the portal at `base` until `stop` is cancelled: history first, then a step every 15 s.
/// It authenticates as any sender does, with an API token (`ingest` and `read` scopes).
pub async fn run(base: String, token: String, stop: CancellationToken) {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(value) = format!("Bearer {token}").parse() {
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap_or_default();
    let mut fleet = Fleet::new(rand::random());
    let step_ms = STEP.as_millis() as i64;
    let now = chrono::Utc::now().timestamp_millis() / step_ms * step_ms;
    let mut first = true;
    if !has_history(&client, &base).await {
        let start = now - BACKFILL.num_milliseconds();
        let mut steps = Vec::new();
        let mut t = start;
        while t < now {
            steps.push(fleet.step(t));
            t += step_ms;
            // Half an hour per request keeps each request well under the body limit.
            if steps.len() == 120 || t >= now {
                if let Err(e) = send(&client, &base, &steps, first).await {
                    warn!(error = %e, "demo back-fill failed");
                    break;
                }
                first = false;
                steps.clear();
            }
        }
        info!(hours = BACKFILL.num_hours(), "demo history written");
    }
    let mut ticker = tokio::time::interval(STEP);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => break,
        }
        let t = chrono::Utc::now().timestamp_millis();
        let step = fleet.step(t);
        if let Err(e) = send(&client, &base, &[step], first).await {
            warn!(error = %e, "demo data not sent");
        } else {
            first = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_log_their_tasks_with_trace_ids_and_stack_traces() {
        let mut fleet = Fleet::new(11);
        let steps: Vec<Step> = (0..400)
            .map(|i| fleet.step(1_700_000_000_000 + i * 15_000))
            .collect();
        let logs: Vec<&DemoLog> = steps.iter().flat_map(|s| &s.logs).collect();
        assert!(logs.len() > 1000);
        let failures: Vec<&&DemoLog> = logs.iter().filter(|l| l.severity == 17).collect();
        assert!(!failures.is_empty());
        for f in &failures {
            let stack = f
                .attributes
                .iter()
                .find(|(k, _)| *k == "exception.stacktrace")
                .map(|(_, v)| v.as_str())
                .unwrap();
            assert!(
                stack.starts_with("Traceback (most recent call last):"),
                "{stack}"
            );
            // The task's other lines share its trace id.
            assert!(logs
                .iter()
                .any(|l| l.trace_id == f.trace_id && l.body.ends_with("started")));
        }
        let (otlp, loki) = logs_requests(&logs);
        let otlp_lines: usize = otlp
            .resource_logs
            .iter()
            .map(|r| r.scope_logs[0].log_records.len())
            .sum();
        let loki_lines: usize = loki["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["values"].as_array().unwrap().len())
            .sum();
        assert_eq!(otlp_lines + loki_lines, logs.len());
        assert!(otlp_lines > 0 && loki_lines > 0);
        assert_eq!(loki["streams"][0]["stream"]["service_name"], "agents");
    }

    #[test]
    fn counters_only_grow_and_buckets_are_cumulative() {
        let mut fleet = Fleet::new(7);
        let mut last: BTreeMap<String, f64> = BTreeMap::new();
        for i in 0..400 {
            let step = fleet.step(1_700_000_000_000 + i * 15_000);
            for s in &step.remote_write {
                let name = s.key.to_string();
                let v = s.samples[0].1;
                if s.key.metric.ends_with("_total") || s.key.metric.ends_with("_bucket") {
                    assert!(
                        v >= last.get(&name).copied().unwrap_or(0.0),
                        "{name} went down"
                    );
                }
                last.insert(name, v);
            }
        }
        let total: f64 = last
            .iter()
            .filter(|(k, _)| k.starts_with("agent_task_success_total"))
            .map(|(_, v)| v)
            .sum();
        let failures: f64 = last
            .iter()
            .filter(|(k, _)| k.starts_with("agent_task_failure_total"))
            .map(|(_, v)| v)
            .sum();
        assert!(
            total > 1000.0 && failures > 10.0,
            "{total} successes, {failures} failures"
        );
        let inf = last
            .iter()
            .find(|(k, _)| {
                k.contains("planner-1") && k.contains("le=\"+Inf\"") && k.contains("success")
            })
            .unwrap();
        let le_120 = last
            .iter()
            .find(|(k, _)| {
                k.contains("planner-1") && k.contains("le=\"120\"") && k.contains("success")
            })
            .unwrap();
        assert!(inf.1 >= le_120.1);
    }
}
