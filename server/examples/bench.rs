//! Benchmarks against a running portal or Prometheus on loopback (see `bench/compare.sh`).
//!
//! ```text
//! bench ingest  URL SERIES SAMPLES_PER_REQUEST SENDERS SECONDS   remote-write throughput
//! bench load    URL SERIES HOURS [DAYS_BACK]                      write HOURS of 15 s data
//! bench query   URL QUERY RANGE STEP RUNS                          query_range latency
//! bench overload URL SERIES SAMPLES_PER_REQUEST RATE SECONDS       open-loop overload
//! ```
//! `overload` starts RATE write requests a second whatever the answers (an open loop, as a
//! fleet of senders behaves), each retried after its `Retry-After` (at most 5 s) until it lands
//! or SECONDS and 30 s more have passed, like Prometheus' remote-write queue; it reports the
//! acknowledged samples a second, the answers by status, the slowest answer, the portal's
//! largest resident memory (its `/metrics`), and whether every acknowledged sample is stored.
//! `ingest` counts only acknowledged samples (2xx); each sender owns its own series and
//! sends them in time order, so an in-order receiver such as Prometheus accepts every one.
//! `load` writes `agent_task_success_total{agent_id, instance, job="query"}` for SERIES series
//! (100 agents × SERIES/100 instances) ending DAYS_BACK days ago (default 0 = now).
//! `query` reports the median and 90th percentile of RUNS range queries ending now.
//! `BENCH_TOKEN`, when set, goes with every request as `Authorization: Bearer`.

use server::{
    ingest::{remote_write::encode, IncomingSeries},
    labels::SeriesKey,
};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    sync::Arc,
    time::{Duration, Instant},
};

/// An HTTP client that sends `BENCH_TOKEN`, when set, as a bearer credential (the portal asks
/// every sender for a token; Prometheus ignores it).
fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(token) = std::env::var("BENCH_TOKEN") {
        let value = format!("Bearer {token}")
            .parse()
            .expect("BENCH_TOKEN as a header value");
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

fn loopback(url: &str) {
    assert!(
        url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost"),
        "the benchmark only targets loopback"
    );
}

/// What one remote-write request got: its status (0 when no answer came), the `Retry-After` it
/// asked for (seconds), and what went wrong.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    error: Option<String>,
}

impl Answer {
    /// Whether the receiver asks for the request again later (429, 503), as Prometheus' queue
    /// retries them.
    fn retryable(&self) -> bool {
        matches!(self.status, 429 | 503)
    }

    /// How long to wait before sending again: the receiver's `Retry-After`, at most 5 s.
    fn wait(&self) -> Duration {
        Duration::from_secs(self.retry_after.unwrap_or(1).min(5))
    }
}

async fn send(client: &reqwest::Client, url: &str, body: axum::body::Bytes) -> Answer {
    let sent = client
        .post(url)
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    match sent {
        Err(e) => Answer {
            status: 0,
            retry_after: None,
            error: Some(e.to_string()),
        },
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let error = if status.is_success() {
                None
            } else {
                Some(format!(
                    "{status}: {}",
                    response.text().await.unwrap_or_default()
                ))
            };
            Answer {
                status: status.as_u16(),
                retry_after,
                error,
            }
        }
    }
}

/// One request, not retried.
async fn post(
    client: &reqwest::Client,
    url: &str,
    series: &[IncomingSeries],
) -> Result<(), String> {
    match send(client, url, encode(series, &[]).into()).await.error {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// A request retried after each 429 or 503 for up to ten minutes, as Prometheus retries: a
/// back-fill meets the portal's head limit until the compactor catches up.
async fn post_until_stored(
    client: &reqwest::Client,
    url: &str,
    series: &[IncomingSeries],
) -> Result<(), String> {
    let body: axum::body::Bytes = encode(series, &[]).into();
    let give_up = Instant::now() + Duration::from_secs(600);
    loop {
        let answer = send(client, url, body.clone()).await;
        match answer.error {
            None => return Ok(()),
            Some(_) if answer.retryable() && Instant::now() < give_up => {
                tokio::time::sleep(answer.wait()).await;
            }
            Some(e) => return Err(e),
        }
    }
}

/// How far apart the samples of an ingest run are.
const SPACING_MS: i64 = 1;

/// Where the timestamps of an ingest run start: two minutes back, a millisecond apart, so that
/// a run of millions of samples a second stays near the present as live traffic does, within
/// the 10 minutes ahead both receivers take and in a block too recent to compact. (Runs that
/// started an hour back wrote, in 50 minutes of every two hours, into a block old enough for
/// the portal's compactor to take during the run: a back-fill racing compaction, not live
/// ingest.)
fn live_start() -> i64 {
    chrono::Utc::now().timestamp_millis() - 120_000
}

async fn ingest(args: &[String]) {
    let url = args[0].clone();
    loopback(&url);
    let series: usize = args[1].parse().expect("SERIES");
    let per_request: usize = args[2].parse().expect("SAMPLES_PER_REQUEST");
    let senders: usize = args[3].parse().expect("SENDERS");
    let seconds: u64 = args[4].parse().expect("SECONDS");
    let samples = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start_ms = live_start();
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|sender| {
            // Series of their own per request size, so runs never overlap in time.
            let batch = per_request.to_string();
            let keys: Vec<SeriesKey> = (0..series)
                .filter(|i| i % senders == sender)
                .map(|i| {
                    let agent = format!("agent-{i:05}");
                    SeriesKey::from_pairs([
                        ("__name__", "bench_ingest_total"),
                        ("agent_id", agent.as_str()),
                        ("batch", batch.as_str()),
                        ("job", "ingest"),
                    ])
                    .unwrap()
                })
                .collect();
            let per_series = (per_request / keys.len().max(1)).max(1);
            let (samples, failures, first_error, client, url) = (
                samples.clone(),
                failures.clone(),
                first_error.clone(),
                client.clone(),
                url.clone(),
            );
            tokio::spawn(async move {
                let mut tick = 0i64;
                while Instant::now() < deadline {
                    let batch: Vec<IncomingSeries> = keys
                        .iter()
                        .map(|key| IncomingSeries {
                            key: key.clone(),
                            samples: (0..per_series as i64)
                                .map(|k| (start_ms + (tick + k) * SPACING_MS, (tick + k) as f64))
                                .collect(),
                        })
                        .collect();
                    tick += per_series as i64;
                    match post(&client, &url, &batch).await {
                        Ok(()) => {
                            samples.fetch_add((keys.len() * per_series) as u64, Ordering::Relaxed);
                        }
                        Err(e) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            first_error.lock().unwrap().get_or_insert(e);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("sender task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = samples.load(Ordering::Relaxed);
    let first = first_error.lock().unwrap().clone();
    println!(
        "ingest {url}: {:.0} samples/s ({total} samples in {elapsed:.1}s; {series} series, ~{per_request} samples a request, {senders} senders; {} failed requests{})",
        total as f64 / elapsed,
        failures.load(Ordering::Relaxed),
        first.map(|e| format!(", first: {e}")).unwrap_or_default(),
    );
}

async fn load(args: &[String]) {
    let url = args[0].clone();
    loopback(&url);
    let series: usize = args[1].parse().expect("SERIES");
    let hours: i64 = args[2].parse().expect("HOURS");
    let days_back: i64 = args.get(3).map_or(0, |d| d.parse().expect("DAYS_BACK"));
    let step = 15_000i64;
    let end = (chrono::Utc::now().timestamp_millis() - days_back * 86_400_000) / step * step;
    let start = end - hours * 3_600_000;
    let keys: Vec<SeriesKey> = (0..series)
        .map(|i| {
            let agent = format!("agent-{:03}", i % 100);
            let instance = format!("worker-{}", i / 100);
            SeriesKey::from_pairs([
                ("__name__", "agent_task_success_total"),
                ("agent_id", agent.as_str()),
                ("instance", instance.as_str()),
                ("job", "query"),
            ])
            .unwrap()
        })
        .collect();
    let client = client();
    let started = Instant::now();
    // An hour of 250 series per request, oldest first; two requests in flight.
    let mut total = 0u64;
    let mut hour_start = start;
    let mut inflight = Vec::new();
    while hour_start < end {
        let hour_end = (hour_start + 3_600_000).min(end);
        for (c, chunk) in keys.chunks(250).enumerate() {
            let batch: Vec<IncomingSeries> = chunk
                .iter()
                .enumerate()
                .map(|(n, key)| {
                    let n = (c * 250 + n) as i64;
                    IncomingSeries {
                        key: key.clone(),
                        samples: (hour_start..hour_end)
                            .step_by(step as usize)
                            // A counter that grows by 1–3 a scrape, different for each series.
                            .map(|t| {
                                let k = (t - start) / step;
                                (t, (k * 2 + (k * 7 + n) % 3) as f64)
                            })
                            .collect(),
                    }
                })
                .collect();
            total += batch.iter().map(|s| s.samples.len() as u64).sum::<u64>();
            let (client, url) = (client.clone(), url.clone());
            inflight.push(tokio::spawn(async move {
                post_until_stored(&client, &url, &batch).await
            }));
            if inflight.len() >= 2 {
                inflight.remove(0).await.unwrap().expect("load request");
            }
        }
        hour_start = hour_end;
    }
    for task in inflight {
        task.await.unwrap().expect("load request");
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "load {url}: {total} samples ({series} series, {hours} h ending {days_back} d ago) in {elapsed:.1}s, {:.0} samples/s",
        total as f64 / elapsed
    );
}

async fn query(args: &[String]) {
    let base = args[0].trim_end_matches('/').to_string();
    loopback(&base);
    let promql = args[1].clone();
    let range_s: i64 = app::time::parse_duration(&args[2])
        .expect("RANGE")
        .num_seconds();
    let step = args[3].clone();
    let runs: usize = args[4].parse().expect("RUNS");
    let client = client();
    let mut times = Vec::with_capacity(runs);
    let mut series = 0;
    let mut points = 0;
    for _ in 0..runs {
        let end = chrono::Utc::now().timestamp();
        let form = [
            ("query", promql.clone()),
            ("start", (end - range_s).to_string()),
            ("end", end.to_string()),
            ("step", step.clone()),
        ];
        let started = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/query_range"))
            .form(&form)
            .send()
            .await
            .expect("query");
        let body: serde_json::Value = response.json().await.expect("JSON answer");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(body["status"], "success", "{body}");
        let result = body["data"]["result"].as_array().expect("a matrix");
        series = result.len();
        points = result
            .iter()
            .map(|s| s["values"].as_array().map_or(0, Vec::len))
            .sum();
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "query {base}: median {:.1} ms, p90 {:.1} ms, min {:.1} ms over {runs} runs ({series} series, {points} points): {promql} over {} at step {step}",
        pct(0.5),
        pct(0.9),
        times[0],
        args[2],
    );
}

/// What one overload run saw.
#[derive(Default)]
struct OverloadCounts {
    acknowledged: AtomicU64,
    by_status: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
    slowest_ms: AtomicU64,
    given_up: AtomicU64,
}

async fn overload(args: &[String]) {
    let base = args[0].trim_end_matches('/').to_string();
    loopback(&base);
    let series: usize = args[1].parse().expect("SERIES");
    let per_request: usize = args[2].parse().expect("SAMPLES_PER_REQUEST");
    let rate: f64 = args[3].parse().expect("RATE");
    let seconds: u64 = args[4].parse().expect("SECONDS");
    assert!(
        seconds <= 120 && rate <= 20_000.0,
        "bounded: at most 120 s and 20,000 requests a second"
    );
    let per_series = (per_request / series.max(1)).max(1) as i64;
    let keys: Arc<Vec<SeriesKey>> = Arc::new(
        (0..series)
            .map(|i| {
                let agent = format!("agent-{i:05}");
                SeriesKey::from_pairs([
                    ("__name__", "bench_overload_total"),
                    ("agent_id", agent.as_str()),
                ])
                .unwrap()
            })
            .collect(),
    );
    let client = client();
    let counts = Arc::new(OverloadCounts::default());
    let start_ms = live_start();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let give_up = deadline + Duration::from_secs(30);
    // The portal's resident memory, every half second.
    let largest_rss = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (client, base, largest) = (client.clone(), base.clone(), largest_rss.clone());
        tokio::spawn(async move {
            loop {
                if let Ok(r) = client.get(format!("{base}/metrics")).send().await {
                    let text = r.text().await.unwrap_or_default();
                    if let Some(v) = text
                        .lines()
                        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
                        .and_then(|v| v.trim().parse::<f64>().ok())
                    {
                        largest.fetch_max(v as u64, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let mut requests = Vec::new();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut next = Instant::now();
    let mut k = 0i64;
    while Instant::now() < deadline {
        let (client, base, keys, counts) =
            (client.clone(), base.clone(), keys.clone(), counts.clone());
        let first_tick = k * per_series;
        requests.push(tokio::spawn(async move {
            let batch: Vec<IncomingSeries> = keys
                .iter()
                .map(|key| IncomingSeries {
                    key: key.clone(),
                    samples: (0..per_series)
                        .map(|j| {
                            (
                                start_ms + (first_tick + j) * SPACING_MS,
                                (first_tick + j) as f64,
                            )
                        })
                        .collect(),
                })
                .collect();
            let body: axum::body::Bytes = encode(&batch, &[]).into();
            let url = format!("{base}/api/v1/write");
            loop {
                let sent = Instant::now();
                let answer = send(&client, &url, body.clone()).await;
                counts
                    .slowest_ms
                    .fetch_max(sent.elapsed().as_millis() as u64, Ordering::Relaxed);
                *counts
                    .by_status
                    .lock()
                    .unwrap()
                    .entry(answer.status)
                    .or_default() += 1;
                if answer.error.is_none() {
                    counts
                        .acknowledged
                        .fetch_add((keys.len() as i64 * per_series) as u64, Ordering::Relaxed);
                    return;
                }
                let wait = answer.wait();
                if Instant::now() + wait > give_up {
                    counts.given_up.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                tokio::time::sleep(wait).await;
            }
        }));
        k += 1;
        next += interval;
        tokio::time::sleep_until(next.into()).await;
    }
    for request in requests {
        request.await.expect("request task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    watcher.abort();
    let acknowledged = counts.acknowledged.load(Ordering::Relaxed);
    let response = client
        .post(format!("{base}/api/v1/query"))
        .form(&[("query", "sum(count_over_time(bench_overload_total[3h]))")])
        .send()
        .await
        .expect("the count query is answered");
    let body: serde_json::Value = response.json().await.expect("JSON answer");
    let stored: u64 = body["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    println!(
        "overload {base}: offered {:.0} samples/s ({rate} requests/s of {} samples for {seconds}s); acknowledged {:.0} samples/s over {elapsed:.1}s; answers by status {:?}; slowest {} ms; {} requests given up; largest resident memory {} MiB; stored {stored} of {acknowledged} acknowledged samples{}",
        rate * (keys.len() as i64 * per_series) as f64,
        keys.len() as i64 * per_series,
        acknowledged as f64 / elapsed,
        counts.by_status.lock().unwrap(),
        counts.slowest_ms.load(Ordering::Relaxed),
        counts.given_up.load(Ordering::Relaxed),
        largest_rss.load(Ordering::Relaxed) >> 20,
        if stored >= acknowledged { "" } else { ": ACKNOWLEDGED SAMPLES LOST" },
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ingest") if args.len() == 6 => ingest(&args[1..]).await,
        Some("load") if args.len() >= 4 => load(&args[1..]).await,
        Some("query") if args.len() == 6 => query(&args[1..]).await,
        Some("overload") if args.len() == 6 => overload(&args[1..]).await,
        _ => {
            eprintln!("usage: bench ingest URL SERIES SAMPLES_PER_REQUEST SENDERS SECONDS | load URL SERIES HOURS [DAYS_BACK] | query URL QUERY RANGE STEP RUNS | overload URL SERIES SAMPLES_PER_REQUEST RATE SECONDS");
            std::process::exit(2);
        }
    }
}
